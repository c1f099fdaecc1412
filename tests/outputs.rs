//! Outputs first: every file certify will write is checked before anything is probed (a
//! check here leaves a marker file when it runs), a target that is not a regular file is
//! refused and left as it was, and a write that fails at the end is an error (exit 2).

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A catalog root whose checks each touch `MARKER` when probed; `n` checks.
fn lab(dir: &Path, n: usize) -> PathBuf {
    let root = dir.join("catalogs");
    std::fs::create_dir_all(root.join("topologies")).unwrap();
    let marker = dir.join("probed");
    let checks: String = (0..n)
        .map(|i| {
            format!(
                "      - id: c{i}\n        probe: {{ command: {{ argv: [touch, \"{}\"] }} }}\n        expect: [{{ exit: 0 }}]\n",
                marker.display()
            )
        })
        .collect();
    std::fs::write(
        root.join("marker.yaml"),
        format!(
            "catalog: marker\nprovider: reachability\ngroups:\n  - id: g\n    checks:\n{checks}"
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("topologies/t.yaml"),
        "topology: t\ncatalogs:\n  marker: {}\n",
    )
    .unwrap();
    root
}

struct Run {
    code: i32,
    stderr: String,
}

/// `labcert certify` on the marker lab.
fn certify(dir: &Path, root: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_labcert"));
    c.arg("--catalogs")
        .arg(root)
        .args(["certify", "--environment", "e", "--topology", "t"])
        .args(args)
        .current_dir(dir)
        .env("CI", "true");
    let o = c.output().unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn probed(dir: &Path) -> bool {
    dir.join("probed").exists()
}

#[test]
fn an_out_in_a_missing_directory_is_refused_before_any_probe() {
    let dir = tempfile::tempdir().unwrap();
    let root = lab(dir.path(), 1);
    let out = dir.path().join("no/such/dir/m.json");
    let r = certify(dir.path(), &root, &["--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--out"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing probed"), "{}", r.stderr);
    assert!(
        !probed(dir.path()),
        "a check ran before the outputs were checked"
    );
}

/// Each kind of non-regular target, under each output option: refused (exit 2), nothing
/// probed, and the target still what it was.
#[test]
fn a_target_that_is_not_a_regular_file_is_refused_and_left_alone() {
    type Make = fn(&Path);
    type Still = fn(&std::fs::FileType) -> bool;
    let kinds: [(&str, Make, Still); 4] = [
        (
            "a FIFO",
            |p| {
                let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
                // SAFETY: mkfifo only reads the path string.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            },
            |t| t.is_fifo(),
        ),
        (
            "a device node",
            |p| {
                let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
                // The null device's numbers (1, 3), made in the test's own directory.
                let dev = libc::makedev(1, 3);
                // SAFETY: mknod only reads the path string.
                assert_eq!(
                    unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, dev) },
                    0
                );
            },
            |t| t.is_char_device(),
        ),
        (
            "a symlink",
            |p| {
                let target = p.with_extension("target");
                std::fs::write(&target, "keep me").unwrap();
                std::os::unix::fs::symlink(&target, p).unwrap();
            },
            |t| t.is_symlink(),
        ),
        (
            "a directory",
            |p| std::fs::create_dir(p).unwrap(),
            |t| t.is_dir(),
        ),
    ];
    for flag in ["--out", "--junit", "--markdown", "--events"] {
        for (what, make, still) in &kinds {
            let dir = tempfile::tempdir().unwrap();
            let root = lab(dir.path(), 1);
            let target = dir.path().join("target.out");
            make(&target);
            let m = dir.path().join("m.json");
            let mut args = vec!["--out", m.to_str().unwrap()];
            if flag == "--out" {
                args = vec!["--out", target.to_str().unwrap()];
            } else {
                args.extend([flag, target.to_str().unwrap()]);
            }
            let r = certify(dir.path(), &root, &args);
            assert_eq!(r.code, 2, "{flag} {what}: {}", r.stderr);
            assert!(
                r.stderr.contains(flag) && r.stderr.contains(&what[2..]),
                "{flag} {what}: {}",
                r.stderr
            );
            assert!(!probed(dir.path()), "{flag} {what}: probed");
            let t = std::fs::symlink_metadata(&target).unwrap().file_type();
            assert!(still(&t), "{flag} {what}: the target was replaced");
            if *what == "a symlink" {
                let kept = std::fs::read_to_string(target.with_extension("target")).unwrap();
                assert_eq!(kept, "keep me", "{flag}: the symlink's target was written");
            }
        }
    }
}

/// `unshare -m` gives the command its own mount namespace: the read-only and the full
/// tmpfs below exist only for it.
fn in_mount_ns(script: &str) -> Run {
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-ec", script])
        .env("CI", "true")
        .output()
        .unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stderr: format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

#[test]
fn an_out_on_a_read_only_file_system_is_refused_before_any_probe() {
    let dir = tempfile::tempdir().unwrap();
    let root = lab(dir.path(), 1);
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let r = in_mount_ns(&format!(
        "mount -t tmpfs -o ro,size=64k tmpfs {ro}; exec {bin} --catalogs {root} certify \
         --environment e --topology t --out {ro}/m.json",
        ro = ro.display(),
        bin = env!("CARGO_BIN_EXE_labcert"),
        root = root.display()
    ));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    assert!(!probed(dir.path()));
}

#[test]
fn an_events_write_that_fails_mid_run_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = lab(dir.path(), 60);
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    let m = dir.path().join("m.json");
    // 4 KiB of room: the events of 60 checks do not fit.
    let r = in_mount_ns(&format!(
        "mount -t tmpfs -o size=4k tmpfs {full}; exec {bin} --catalogs {root} certify \
         --environment e --topology t --out {m} --events {full}/events.ndjson",
        full = full.display(),
        bin = env!("CARGO_BIN_EXE_labcert"),
        root = root.display(),
        m = m.display()
    ));
    assert!(probed(dir.path()));
    assert!(m.exists(), "the manifest is still written");
    assert_eq!(
        r.code, 2,
        "a failed --events write is an error:\n{}",
        r.stderr
    );
    assert!(r.stderr.contains("error: --events"), "{}", r.stderr);
}
