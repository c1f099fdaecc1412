//! Hostile input to the loader: alias bombs, symlink loops, FIFOs, device nodes, huge and
//! unreadable files. Each must end promptly with a clear diagnostic, never hang or exhaust memory.
//!
//! Every run has a deadline and is killed past it, so a regression fails instead of hanging.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CATALOG: &str = "catalog: ok\nprovider: reachability\ntitle: ok\ngroups: []\n";

struct Out {
    code: i32,
    stderr: String,
    elapsed: Duration,
}

fn run(cmd: &mut Command) -> Out {
    let deadline = Duration::from_secs(20);
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run labcert");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!(
                "labcert {:?} still running after {deadline:?}",
                cmd.get_args()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    Out {
        code: status.code().unwrap_or(-1),
        stderr: reader.join().unwrap(),
        elapsed,
    }
}

/// `labcert ARGS` in `dir`, with `dir/catalogs` as the catalog root.
fn labcert(dir: &Path, args: &[&str]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labcert"));
    cmd.current_dir(dir)
        .env("LABCERT_CATALOGS", dir.join("catalogs"))
        .env("NO_COLOR", "1")
        .args(args);
    run(&mut cmd)
}

fn root_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("catalogs")).unwrap();
    std::fs::write(d.path().join("catalogs/ok.yaml"), CATALOG).unwrap();
    d
}

/// A ~2 KB "billion laughs": each of 30 levels holds its predecessor 10 times (10^30 nodes).
fn alias_bomb() -> String {
    let mut s = String::from("catalog: bomb\nprovider: reachability\ntitle: bomb\ngroups: []\n");
    s.push_str("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..30 {
        let prev = format!("*l{}", i - 1);
        s.push_str(&format!("l{i}: &l{i} [{}]\n", vec![prev; 10].join(", ")));
    }
    s
}

/// Peak resident set of the largest child this test process has waited for, in bytes.
fn children_max_rss() -> u64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid rusage to fill.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) }, 0);
    u.ru_maxrss as u64 * 1024
}

#[test]
fn an_alias_bomb_is_refused_quickly_in_little_memory() {
    let d = root_dir();
    let bomb = alias_bomb();
    assert!((1500..2600).contains(&bomb.len()), "{}", bomb.len());
    std::fs::write(d.path().join("bomb.yaml"), &bomb).unwrap();
    let out = labcert(d.path(), &["validate", "bomb.yaml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("error[E102]"), "{}", out.stderr);
    assert!(out.stderr.contains("alias"), "{}", out.stderr);
    assert!(
        out.stderr.contains("--> bomb.yaml:"),
        "located: {}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
    let rss = children_max_rss();
    assert!(rss < 200 * 1024 * 1024, "peak RSS {rss} bytes");
}

#[test]
fn aliases_nesting_too_deep_are_refused() {
    let d = root_dir();
    // Each anchor wraps the previous one: 300 levels deep once expanded, from a small file.
    let mut s = String::from("catalog: deep\nprovider: reachability\ntitle: deep\ngroups: []\n");
    s.push_str("d0: &d0 [x]\n");
    for i in 1..300 {
        s.push_str(&format!("d{i}: &d{i} [*d{}]\n", i - 1));
    }
    std::fs::write(d.path().join("deep.yaml"), s).unwrap();
    let out = labcert(d.path(), &["validate", "deep.yaml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("error[E102]"), "{}", out.stderr);
    assert!(out.stderr.contains("--> deep.yaml:"), "{}", out.stderr);
}

#[test]
fn nesting_too_deep_is_refused_without_overflowing_the_stack() {
    let d = root_dir();
    let n = 100_000;
    // Flow style, and block style (`- - - … x`: sequences in sequences).
    for deep in [
        format!("{}{}", "[".repeat(n), "]".repeat(n)),
        format!("\n  {}x", "- ".repeat(n)),
    ] {
        let s =
            format!("catalog: deep\nprovider: reachability\ntitle: deep\ngroups: []\nx: {deep}\n");
        std::fs::write(d.path().join("deep.yaml"), s).unwrap();
        let out = labcert(d.path(), &["validate", "deep.yaml"]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains("error[E102]"), "{}", out.stderr);
        assert!(out.stderr.contains("--> deep.yaml:"), "{}", out.stderr);
    }
}

#[test]
fn a_symlink_loop_in_the_catalog_root_is_walked_once() {
    let d = root_dir();
    let cats = d.path().join("catalogs");
    std::fs::create_dir(cats.join("sub")).unwrap();
    // Two loops: followed naively the walk doubles at every level.
    symlink("..", cats.join("sub/up")).unwrap();
    symlink(".", cats.join("sub/here")).unwrap();
    symlink(&cats, cats.join("sub/root")).unwrap();
    let out = labcert(d.path(), &["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("1 catalog,"), "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

#[test]
fn a_symlinked_catalog_directory_is_still_read() {
    let d = root_dir();
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("two.yaml"), CATALOG.replace("ok", "two")).unwrap();
    symlink(&elsewhere, d.path().join("catalogs/linked")).unwrap();
    let out = labcert(d.path(), &["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("2 catalogs,"), "{}", out.stderr);
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

#[test]
fn a_fifo_named_like_a_catalog_is_skipped_in_a_walk_and_refused_when_named() {
    let d = root_dir();
    mkfifo(&d.path().join("catalogs/pipe.yaml"));
    let out = labcert(d.path(), &["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("1 catalog,"), "{}", out.stderr);

    let out = labcert(d.path(), &["validate", "catalogs/pipe.yaml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("error[E001]"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("catalogs/pipe.yaml: not a regular file (a FIFO)"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_link_to_dev_zero_is_never_read() {
    let d = root_dir();
    symlink("/dev/zero", d.path().join("catalogs/zero.yaml")).unwrap();
    let out = labcert(d.path(), &["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("1 catalog,"), "{}", out.stderr);

    let out = labcert(d.path(), &["validate", "catalogs/zero.yaml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("catalogs/zero.yaml: not a regular file (a character device)"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

#[test]
fn a_file_over_16_mib_is_refused_by_name() {
    let d = root_dir();
    let mut s = String::from(CATALOG);
    let line = format!("# {}\n", "x".repeat(1021));
    while s.len() <= 16 * 1024 * 1024 {
        s.push_str(&line);
    }
    std::fs::write(d.path().join("catalogs/huge.yaml"), s).unwrap();
    let out = labcert(d.path(), &["validate"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("error[E102]"), "{}", out.stderr);
    assert!(
        out.stderr.contains("catalogs/huge.yaml: too large to read"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("16 MiB"), "{}", out.stderr);
}

/// Runs as `nobody` when the tests run as root (root reads anything whatever its mode).
/// `nobody` runs a copy of the binary in `dir` (which the caller makes 0755): the build's
/// own directory may be closed to it, as a clone in a `mktemp -d` directory (0700) is.
fn labcert_unprivileged(dir: &Path, args: &[&str]) -> Out {
    let bin = dir.join("labcert");
    std::fs::copy(env!("CARGO_BIN_EXE_labcert"), &bin).expect("copy the binary");
    chmod(&bin, 0o755);
    let mut cmd = Command::new(&bin);
    cmd.current_dir(dir)
        .env("LABCERT_CATALOGS", dir.join("catalogs"))
        .env("NO_COLOR", "1")
        .args(args);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    run(&mut cmd)
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn an_unreadable_topologies_directory_is_an_error_not_zero_topologies() {
    let d = root_dir();
    chmod(d.path(), 0o755);
    let topo = d.path().join("catalogs/topologies");
    std::fs::create_dir(&topo).unwrap();
    chmod(&topo, 0o000);
    let out = labcert_unprivileged(d.path(), &["validate"]);
    chmod(&topo, 0o755);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("error[E001]"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("catalogs/topologies: permission denied"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unreadable_catalog_says_permission_denied() {
    let d = root_dir();
    chmod(d.path(), 0o755);
    let f = d.path().join("catalogs/ok.yaml");
    chmod(&f, 0o000);
    let out = labcert_unprivileged(d.path(), &["validate"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("catalogs/ok.yaml: permission denied"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_manifest_is_read_up_to_a_cap() {
    let d = root_dir();
    symlink("/dev/zero", d.path().join("m.json")).unwrap();
    let out = labcert(d.path(), &["report", "m.json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("m.json: too large to be a manifest (more than 64 MiB)"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
}

/// The other input files a command reads — `--vars`, `--waivers`, a key — are read the same
/// bounded way: a FIFO is refused at once (within `run`'s guard), never opened to block the run.
#[test]
fn vars_waivers_and_keys_that_are_fifos_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    for (flag, name) in [
        ("--vars", "vars.yaml"),
        ("--waivers", "waivers.yaml"),
        ("--sign", "key"),
    ] {
        let fifo = dir.path().join(name);
        mkfifo(&fifo);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_labcert"));
        cmd.args([
            "--catalogs",
            "fixtures/certify",
            "certify",
            "--environment",
            "lab-a",
        ])
        .args([
            "--topology",
            "healthy",
            "--var",
            "healthy.open_port=1",
            "--out",
        ])
        .arg(&out)
        .arg(flag)
        .arg(&fifo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CI", "true");
        let o = run(&mut cmd);
        assert_eq!(o.code, 2, "{flag}: {}", o.stderr);
        assert!(
            o.stderr.contains("not a regular file"),
            "{flag}: {}",
            o.stderr
        );
        assert!(
            o.stderr.contains(&fifo.display().to_string()),
            "{flag}: {}",
            o.stderr
        );
        assert!(!out.exists(), "{flag}: nothing is certified");
    }
}
