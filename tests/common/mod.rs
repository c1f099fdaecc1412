//! Running the real binary from the repository root, with output made stable.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `labcert ARGS` in the repository root with an empty catalog root unless one is given.
pub fn labcert(args: &[&str]) -> Out {
    labcert_env(args, &[])
}

/// Like [`labcert`], with extra environment variables.
pub fn labcert_env(args: &[&str], envs: &[(String, String)]) -> Out {
    let empty = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labcert"));
    cmd.current_dir(root())
        .env("LABCERT_CATALOGS", empty.path())
        .env_remove("NO_COLOR")
        .envs(envs.iter().map(|(k, v)| (k, v)));
    cmd.args(args);
    let o = cmd.output().expect("run labcert");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

pub fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

/// A fresh, valid `pass` certification (`DIR/m.json`) of the `fixtures/certify` topology
/// `healthy` for environment `lab-a`; `extra` goes to `certify` (e.g. `--sign KEY`).
pub fn certified_healthy(dir: &Path, extra: &[&str]) -> PathBuf {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let m = dir.join("m.json");
    let var = format!("healthy.open_port={port}");
    let mut args = vec![
        "--catalogs",
        "fixtures/certify",
        "certify",
        "--environment",
        "lab-a",
        "--topology",
        "healthy",
        "--var",
        &var,
        "--out",
        m.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = labcert_env(
        &args,
        &[
            ("LOCAL_TOKEN".into(), "t0k3n-x".into()),
            ("CI".into(), "1".into()),
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    m
}
