//! Nothing panics on any input: catalogs and topologies mangled at random still produce
//! diagnostics (or a plan), never a crash — also YAML heavy with anchors and aliases (within
//! and far past the alias limits), and catalog roots holding FIFOs, sockets, devices,
//! directories and symlink loops where catalogs and topologies are expected. Every run has a
//! deadline, so a hang fails instead of stalling the suite.

mod common;

use std::path::Path;
use std::time::Duration;

use labcert::diag::Diagnostics;
use labcert::plan::Target;
use proptest::prelude::*;

/// Applies edits at character positions: delete a run, or insert text from a list of
/// catalog-ish fragments that tend to produce interesting mistakes.
fn mangle(text: &str, edits: &[(usize, usize, usize)]) -> String {
    const BITS: &[&str] = &[
        "{{",
        "}}",
        "[",
        "]",
        "{",
        "}",
        ":",
        "\"",
        "'",
        "\n",
        "  ",
        "-",
        "needs: [x]",
        "{{ vars.",
        "#",
        "=",
        ",",
        "\u{e9}",
        "\t",
        "&a ",
        "*a",
        "&b [*a, *a, *a]",
        "<<: *a",
        "*nowhere",
        "!!str ",
    ];
    let mut chars: Vec<char> = text.chars().collect();
    for &(pos, len, bit) in edits {
        let at = pos % (chars.len() + 1);
        if bit % 3 == 0 {
            let end = (at + len % 8).min(chars.len());
            chars.drain(at..end);
        } else {
            let ins: Vec<char> = BITS[bit % BITS.len()].chars().collect();
            chars.splice(at..at, ins);
        }
    }
    chars.into_iter().collect()
}

fn run_all(dir: &Path, catalog: &str, topology: &str, ext: &str) {
    std::fs::create_dir_all(dir.join("topologies")).unwrap();
    std::fs::write(dir.join(format!("lab.{ext}")), catalog).unwrap();
    std::fs::write(dir.join(format!("topologies/lab.{ext}")), topology).unwrap();
    within_deadline(dir);
}

/// [`run_dir`] on another thread; a run that outlives the deadline fails the test (a FIFO
/// opened for reading would block forever).
fn within_deadline(dir: &Path) {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = dir.to_path_buf();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| run_dir(&owned));
        let _ = tx.send(r.is_ok());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(true) => {}
        Ok(false) => panic!("labcert panicked on {}", dir.display()),
        Err(_) => panic!("labcert still running after 30 s on {}", dir.display()),
    }
}

/// Validates, plans and renders everything under `dir` (the catalog root).
fn run_dir(dir: &Path) {
    let mut diags = Diagnostics::default();
    let _ = labcert::validate::load_set(&[dir.to_path_buf()], dir, true, &mut diags);
    let args = Target {
        topology: "lab".into(),
        providers: vec![],
        environment: None,
        vars: vec![],
        vars_files: vec![],
        bound: Default::default(),
    };
    if let Some((plan, _)) = labcert::plan::command::plan(&args, dir, &mut diags) {
        let _ = labcert::plan::render::text(&plan);
        let _ = labcert::plan::render::mermaid(&plan);
    }
    for d in diags.sorted() {
        let _ = labcert::diag::render(&d);
    }
}

fn fixture(path: &str) -> String {
    std::fs::read_to_string(common::root().join(path)).unwrap()
}

/// The YAML fixture with `depth` anchored var defaults, each a list of `width` aliases of
/// earlier ones (`width^depth` nodes once expanded: from a few to far past the limit), the
/// last one used as a check's `for_each` when `use_it`.
fn aliased(depth: usize, width: usize, picks: &[usize], use_it: bool) -> String {
    let mut vars = String::from("vars:\n  l0: { type: list, default: &l0 [lol, lol] }\n");
    for i in 1..depth {
        let items: Vec<String> = (0..width)
            .map(|k| format!("*l{}", picks[(i + k) % picks.len()] % i))
            .collect();
        vars.push_str(&format!(
            "  l{i}: {{ type: list, default: &l{i} [{}] }}\n",
            items.join(", ")
        ));
    }
    let mut cat = fixture("fixtures/plan/yaml/lab.yaml").replacen("vars:\n", &vars, 1);
    if use_it {
        cat = cat.replacen(
            "for_each: \"{{ vars.nodes }}\"",
            &format!("for_each: *l{}", depth - 1),
            1,
        );
    }
    cat
}

/// Things that are not regular files, put where the loader looks for catalogs and topologies.
#[derive(Debug, Clone, Copy)]
enum Special {
    Fifo,
    Socket,
    DevNull,
    DevZero,
    Directory,
    LoopToItself,
    LoopPair,
    Dangling,
}

const SPECIALS: [Special; 8] = [
    Special::Fifo,
    Special::Socket,
    Special::DevNull,
    Special::DevZero,
    Special::Directory,
    Special::LoopToItself,
    Special::LoopPair,
    Special::Dangling,
];

/// Where a special file goes: over the catalog, over the topology, or beside them.
const PLACES: [&str; 5] = [
    "lab.yaml",
    "topologies/lab.yaml",
    "extra.yaml",
    "sub/deeper/x.toml",
    "topologies/other.toml",
];

fn make_special(path: &Path, kind: Special) {
    use std::os::unix::fs::symlink;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_dir_all(path);
    match kind {
        Special::Fifo => {
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: `c` is a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
        }
        Special::Socket => {
            // The listener is dropped at once; the socket file stays.
            std::os::unix::net::UnixListener::bind(path).unwrap();
        }
        Special::DevNull => symlink("/dev/null", path).unwrap(),
        Special::DevZero => symlink("/dev/zero", path).unwrap(),
        Special::Directory => std::fs::create_dir_all(path.join("inner.yaml")).unwrap(),
        Special::LoopToItself => symlink(path, path).unwrap(),
        Special::LoopPair => {
            let other = path.with_extension("pair");
            let _ = std::fs::remove_file(&other);
            symlink(&other, path).unwrap();
            symlink(path, &other).unwrap();
        }
        Special::Dangling => symlink(path.with_extension("gone"), path).unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn mangled_yaml_never_panics(edits in proptest::collection::vec((0usize..4000, 0usize..16, 0usize..64), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let cat = mangle(&fixture("fixtures/plan/yaml/lab.yaml"), &edits);
        run_all(dir.path(), &cat, &fixture("fixtures/plan/yaml/topologies/lab.yaml"), "yaml");
        let topo = mangle(&fixture("fixtures/plan/yaml/topologies/lab.yaml"), &edits);
        run_all(dir.path(), &fixture("fixtures/plan/yaml/lab.yaml"), &topo, "yaml");
    }

    #[test]
    fn alias_heavy_yaml_never_panics(
        depth in 1usize..48,
        width in 1usize..9,
        picks in proptest::collection::vec(0usize..1000, 1..8),
        use_it: bool,
        edits in proptest::collection::vec((0usize..4000, 0usize..16, 0usize..64), 0..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cat = mangle(&aliased(depth, width, &picks, use_it), &edits);
        run_all(dir.path(), &cat, &fixture("fixtures/plan/yaml/topologies/lab.yaml"), "yaml");
        // The topology's bindings aliased too.
        let topo = fixture("fixtures/plan/yaml/topologies/lab.yaml")
            .replacen("nodes: [pve1, pve2]", "nodes: &n [pve1, pve2]\n      region: *n", 1);
        run_all(dir.path(), &fixture("fixtures/plan/yaml/lab.yaml"), &topo, "yaml");
    }

    #[test]
    fn special_files_in_the_root_never_panic_or_hang(
        put in proptest::collection::vec((0usize..SPECIALS.len(), 0usize..PLACES.len()), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("topologies")).unwrap();
        std::fs::write(d.join("lab.yaml"), fixture("fixtures/plan/yaml/lab.yaml")).unwrap();
        std::fs::write(
            d.join("topologies/lab.yaml"),
            fixture("fixtures/plan/yaml/topologies/lab.yaml"),
        )
        .unwrap();
        for &(kind, place) in &put {
            make_special(&d.join(PLACES[place]), SPECIALS[kind]);
        }
        within_deadline(d);
    }

    #[test]
    fn mangled_toml_never_panics(edits in proptest::collection::vec((0usize..4000, 0usize..16, 0usize..64), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let cat = mangle(&fixture("fixtures/plan/toml/lab.toml"), &edits);
        run_all(dir.path(), &cat, &fixture("fixtures/plan/toml/topologies/lab.toml"), "toml");
    }
}
