fn main() {
    std::process::exit(labcert::run());
}
