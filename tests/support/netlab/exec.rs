//! Running tools in and out of the lab's namespaces, and sockets made inside one.
//!
//! A process joins a namespace through `ip netns exec NS …`, which also bind-mounts
//! `/etc/netns/NS/resolv.conf` over `/etc/resolv.conf` for it. A socket belongs to the
//! namespace of the thread that created it, so [`bind_in`] and [`connect_in`] make theirs in
//! a short-lived thread that joined the namespace; the socket is then usable from anywhere.

use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub use super::procs::{descendants, kill};

/// `name` from the system directories (a test's PATH may lack the sbin ones), else as is.
pub fn tool(name: &str) -> String {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|dir| format!("{dir}/{name}"))
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| name.to_string())
}

/// Runs `cmd args…` with `stdin`; `Ok` holds its stdout, `Err` says what went wrong.
pub fn run(cmd: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run {cmd}: {e} (the lab needs root, iproute2, nftables, dnsmasq and \
                 openssh-server; scripts/test.sh installs them)"
            )
        })?;
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(text.as_bytes())
            .map_err(|e| format!("{cmd}: writing stdin: {e}"))?;
    }
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd} {}: {} {}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// `ip args…`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) {
    run(&tool("ip"), args, None).unwrap_or_else(|e| panic!("{e}"));
}

/// `ip args…`, errors ignored (for teardown).
pub fn ip_quiet(args: &[&str]) {
    let _ = run(&tool("ip"), args, None);
}

/// `argv` inside namespace `ns` (with its `/etc/netns/NS` files), panicking on failure.
pub fn in_ns(ns: &str, argv: &[&str], stdin: Option<&str>) -> String {
    let mut args = vec!["netns", "exec", ns];
    args.extend_from_slice(argv);
    run(&tool("ip"), &args, stdin).unwrap_or_else(|e| panic!("{e}"))
}

/// A command that runs `program args…` inside namespace `ns`; the caller adds the rest.
pub fn command_in(ns: &str, program: &str) -> Command {
    let mut c = Command::new(tool("ip"));
    c.args(["netns", "exec", ns, program]);
    c
}

/// Runs `f` in a new thread that joined namespace `ns`.
fn inside<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns with a valid namespace fd changes only this short-lived thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("namespace thread")
}

/// A TCP listener on `addr` inside namespace `ns`.
pub fn bind_in(ns: &str, addr: SocketAddr) -> TcpListener {
    let what = format!("bind {addr} in {ns}");
    inside(ns, move || TcpListener::bind(addr)).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// A TCP connection to `to`, made from inside namespace `ns`.
pub fn connect_in(ns: &str, to: SocketAddr, wait: Duration) -> std::io::Result<TcpStream> {
    inside(ns, move || TcpStream::connect_timeout(&to, wait))
}

/// A UDP socket on an ephemeral port inside namespace `ns`.
pub fn udp_in(ns: &str) -> UdpSocket {
    inside(ns, || UdpSocket::bind("0.0.0.0:0")).expect("a UDP socket in the namespace")
}

/// The PIDs of the processes in namespace `ns` (`ip netns pids`).
pub fn pids_in(ns: &str) -> Vec<i32> {
    run(&tool("ip"), &["netns", "pids", ns], None)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}
