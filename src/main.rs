// Planning is allocation-heavy; with glibc's allocator a third of the time went to
// malloc/free bookkeeping. mimalloc took `cargo bench --bench plan` (chain) from a
// 567 ms to a 416 ms median.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Orphans of the commands labcert runs re-parent to labcert, and none outlives it.
    labcert::probe::command::adopt_orphans();
    let code = labcert::run();
    labcert::probe::command::kill_leftovers();
    std::process::exit(code);
}
