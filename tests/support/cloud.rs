//! Live fixtures for the cloud catalogs (`catalogs/aws.toml`, `azure.yaml`, `oci.toml`), used by
//! tests/certify_cloud.rs.
//!
//! Every lab lives in a network namespace made for it ([`Netns`]) that has nothing but its own
//! loopback: labcert, `moto_server`, the fake CLIs and the "guest" sshd all run inside it, and
//! only 127.0.0.1 is ever used. The reachability catalog's probes that a `--providers` run
//! brings along (public DNS names, the cloud APIs, documentation addresses) fail at once in
//! there instead of leaving the machine.
//!
//! * AWS: `moto_server` (from `target/cloud-venv`, made by `scripts/cloud-fixtures.sh`) seeded
//!   through boto3 with the demo lab ([`AWS_SEED`]), the real AWS CLI v1 pointed at it, and
//!   `tests/fixtures-bin/aws` in front of it for what moto lacks (EC2 Service Quotas, CpuOptions).
//!   [`Lab::start_moto_iam`] makes moto check IAM (signatures and the certifier role's policy)
//!   on every request after the seed's first three, as AWS does.
//! * Azure, OCI: `tests/fixtures-bin/az` and `oci` answer from a JSON state: [`azure_state`]
//!   and [`oci_state`] build the healthy demo lab, the tests break it.
//! * The test instance: a private sshd on 127.0.0.1:22 of the namespace ([`Guest`]) whose
//!   logins run in a directory of fakes: `hostname`, `cloud-init status` and `curl` for the
//!   instance metadata service ([`GUEST_TOOL`]); they never touch the network.
//!
//! The lab values (names, CIDRs, ids) come from `catalogs/topologies/demo.yaml` ([`demo_vars`]);
//! ids the cloud chooses (moto's VPC, subnet, instance…) and the test keys are passed as
//! `--var` overrides.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::manifest::assert_valid;
use super::netlab::from_vars::binding_vars;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/cloud-venv`, made by `scripts/cloud-fixtures.sh`.
pub fn venv() -> PathBuf {
    root().join("target/cloud-venv")
}

/// The venv's `moto_server`, `aws` and `python`; fails the test, naming the script that makes
/// them, when one is missing.
pub fn require_venv() -> PathBuf {
    let v = venv();
    for tool in ["moto_server", "aws", "python"] {
        let path = v.join("bin").join(tool);
        assert!(
            path.exists(),
            "{} is missing: run scripts/cloud-fixtures.sh (it creates target/cloud-venv with \
             moto[server] and awscli from PyPI; scripts/test.sh runs it)",
            path.display()
        );
    }
    v
}

/// A Python 3 for the fake CLIs and the guest tools: the venv's, else `python3` on PATH.
pub fn python3() -> PathBuf {
    let in_venv = venv().join("bin/python3");
    if in_venv.exists() {
        return in_venv;
    }
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("python3"))
            .find(|p| p.exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "no python3: the fake az/oci CLIs need one; run scripts/cloud-fixtures.sh \
             (it installs python3 and makes target/cloud-venv)"
        )
    })
}

/// `tests/fixtures-bin`: the `aws` shim and the fake `az` and `oci`.
pub fn fixtures_bin() -> PathBuf {
    root().join("tests/fixtures-bin")
}

/// `name` from the system directories (a test's PATH may lack the sbin ones), else as is.
fn tool(name: &str) -> String {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|dir| format!("{dir}/{name}"))
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| name.to_string())
}

fn run(c: &mut Command) -> String {
    let o = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    assert!(
        o.status.success(),
        "{c:?} failed ({}):\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn write_json(path: &Path, value: &Value) {
    write(path, &serde_json::to_string_pretty(value).unwrap());
}

fn executable(path: &Path, text: &str) {
    write(path, text);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

// ---- the namespace ------------------------------------------------------------------------

static MADE: AtomicU32 = AtomicU32::new(0);

/// A network namespace with only its loopback up; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Netns {
        remove_stale_namespaces();
        let name = format!(
            "lcc-{}-{}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::SeqCst)
        );
        run(Command::new(tool("ip")).args(["netns", "add", &name]));
        let ns = Netns { name };
        run(Command::new(tool("ip")).args(["-n", &ns.name, "link", "set", "lo", "up"]));
        ns
    }

    /// `program` run inside the namespace (`ip netns exec` execs it: its PID is the program's).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(tool("ip"));
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Whether something accepts on 127.0.0.1:`port` inside the namespace.
    pub fn accepts(&self, port: u16) -> bool {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let f = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: setns with a valid namespace fd changes only this short-lived thread.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let to = SocketAddr::from(([127, 0, 0, 1], port));
            TcpStream::connect_timeout(&to, Duration::from_millis(200)).is_ok()
        })
        .join()
        .unwrap()
    }

    /// Waits until `daemon` accepts on `port`; fails with its log if it dies or takes too long.
    pub fn wait_for(&self, daemon: &mut Daemon, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.accepts(port) {
                return;
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!(
                    "{} exited ({status}) before accepting on port {port}:\n{}",
                    daemon.what,
                    daemon.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} does not accept on port {port} after 30 s:\n{}",
                daemon.what,
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Netns {
    /// Kills whatever still runs in the namespace (an sshd's sessions, a labcert a failed
    /// assertion left behind), deletes it and its `/etc/netns` files.
    fn drop(&mut self) {
        if let Ok(o) = Command::new(tool("ip"))
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<libc::pid_t>() {
                    // SAFETY: SIGKILL to a process inside this test's own namespace.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = Command::new(tool("ip"))
            .args(["netns", "del", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.name));
    }
}

/// Deletes `lcc-<pid>-<n>` namespaces whose test process is gone (killed before its drop).
fn remove_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((pid, n)) = name
            .strip_prefix("lcc-")
            .and_then(|rest| rest.split_once('-'))
        else {
            continue;
        };
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if numeric(pid) && numeric(n) && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new(tool("ip"))
                .args(["netns", "del", &name])
                .output();
        }
    }
}

/// A server started for a lab; killed by its PID (and reaped) on drop.
pub struct Daemon {
    child: Child,
    what: String,
    pub log: PathBuf,
}

impl Daemon {
    fn spawn(what: &str, mut c: Command, log: PathBuf) -> Daemon {
        let out = File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = c
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Daemon {
            child,
            what: what.to_string(),
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the lab ------------------------------------------------------------------------------

/// One lab: a namespace, a temp dir, the runner's SSH key, and the servers started for it.
/// Fields drop in order: servers first, then the namespace, then the files.
pub struct Lab {
    pub moto: Option<Daemon>,
    pub guest: Option<Guest>,
    pub ns: Netns,
    pub dir: tempfile::TempDir,
    /// The runner's private key (`ssh_identity`) and its public line (`ssh_pubkey`).
    pub identity: PathBuf,
    pub pubkey: String,
    /// moto was started by [`Lab::start_moto_iam`]: it checks every request against IAM.
    pub aws_iam: bool,
}

/// What one `labcert certify` run left.
pub struct Run {
    pub manifest: Value,
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
    pub took: Duration,
    /// CPU time (user + system) of labcert and every probe it ran. Exact when the test is
    /// the only one in its process (nextest); under `cargo test` other tests' children count.
    pub cpu: Duration,
}

/// CPU time of this process's children that have been waited for.
pub fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut r) };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(r.ru_utime) + t(r.ru_stime)
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

impl Lab {
    pub fn new() -> Lab {
        for needed in ["/usr/sbin/sshd", &tool("ip")] {
            assert!(
                Path::new(needed).exists(),
                "{needed} is missing: run scripts/test.sh, which installs the test dependencies \
                 (openssh-server, iproute2)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("labcert-cloud-")
            .tempdir()
            .unwrap();
        let identity = dir.path().join("id_ed25519");
        keygen(&identity);
        let pubkey = std::fs::read_to_string(dir.path().join("id_ed25519.pub"))
            .unwrap()
            .trim()
            .to_string();
        Lab {
            moto: None,
            guest: None,
            ns: Netns::new(),
            dir,
            identity,
            pubkey,
            aws_iam: false,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the test instance's sshd (see [`Guest`]).
    pub fn start_guest(&mut self, state: &Value) {
        self.guest = Some(Guest::start(&self.ns, self.dir.path(), &self.pubkey, state));
    }

    /// The `--var`s that point a catalog's guest probes at [`Guest`], and its key at ours.
    pub fn guest_vars(&self, catalog: &str) -> Vec<(String, String)> {
        let guest = self.guest.as_ref().expect("start_guest first");
        let mut vars = vec![
            var(catalog, "ssh_user", &guest.user),
            var(
                catalog,
                "ssh_identity",
                &self.identity.display().to_string(),
            ),
            var(
                catalog,
                "known_hosts",
                &guest.known_hosts.display().to_string(),
            ),
            var(catalog, "ssh_pubkey", &self.pubkey),
        ];
        // Only the catalogs with a key repair (aws, azure) declare it.
        if demo_vars(catalog).contains_key("ssh_pubkey_file") {
            let file = self.path("id_ed25519.pub");
            vars.push(var(catalog, "ssh_pubkey_file", &file.display().to_string()));
        }
        vars
    }

    /// Changes the guest's state (what its `hostname`, `cloud-init` and `curl` answer) for the
    /// next logins; the sshd keeps running.
    pub fn update_guest(&self, change: impl FnOnce(&mut Value)) {
        assert!(self.guest.is_some(), "start_guest first");
        let path = self.dir.path().join("guest/state.json");
        let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .expect("the guest state is JSON");
        change(&mut state);
        write_json(&path, &state);
    }

    /// A known_hosts that pins another host key for the guest's address: what the runner
    /// holds once the instance was replaced (or something else answers there).
    pub fn stale_known_hosts(&self) -> PathBuf {
        let key = self.path("stale_host_key");
        if !key.exists() {
            keygen(&key);
        }
        let public = std::fs::read_to_string(self.path("stale_host_key.pub")).unwrap();
        let fields: Vec<&str> = public.split_whitespace().take(2).collect();
        let path = self.path("stale_known_hosts");
        write(&path, &format!("127.0.0.1 {}\n", fields.join(" ")));
        path
    }

    /// `labcert --catalogs catalogs certify --topology demo --live --providers <provider>`,
    /// inside the namespace, with only `env` (and a PATH that starts with the fakes) in its
    /// environment. Fails the test if it runs longer than `limit`.
    pub fn certify(
        &self,
        provider: &str,
        vars: &[(String, String)],
        env: &[(String, String)],
    ) -> Run {
        self.certify_with(provider, vars, env, &[])
    }

    /// [`Lab::certify`] with `extra` arguments after the `--var`s (e.g. `--record DIR`).
    pub fn certify_with(
        &self,
        provider: &str,
        vars: &[(String, String)],
        env: &[(String, String)],
        extra: &[String],
    ) -> Run {
        let out = self.path(&format!("manifest-{provider}.json"));
        let _ = std::fs::remove_file(&out);
        let mut c = self.ns.command(env!("CARGO_BIN_EXE_labcert"));
        c.current_dir(root())
            .args([
                "--catalogs",
                "catalogs",
                "certify",
                "--environment",
                "cloud-test",
            ])
            .args([
                "--topology",
                "demo",
                "--live",
                "--providers",
                provider,
                "--out",
            ])
            .arg(&out);
        for (name, value) in vars {
            c.arg("--var").arg(format!("{name}={value}"));
        }
        c.args(extra);
        c.env_clear()
            .env("PATH", test_path())
            .env("HOME", self.dir.path())
            .env("LANG", "C.UTF-8")
            .envs(env.iter().map(|(k, v)| (k, v)))
            // scripts/coverage.sh collects every manifest through this.
            .envs(std::env::var_os("LABCERT_COVERAGE_DIR").map(|d| ("LABCERT_COVERAGE_DIR", d)))
            .stdin(Stdio::null())
            .stdout(File::create(self.path("certify.stdout")).unwrap())
            .stderr(File::create(self.path("certify.stderr")).unwrap());
        let cpu_before = children_cpu();
        let started = Instant::now();
        let mut child = c.spawn().expect("run labcert");
        let limit = Duration::from_secs(240);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "labcert certify --providers {provider} still running after {limit:?} \
                     (a polled check that never passes?):\n{}",
                    std::fs::read_to_string(self.path("certify.stderr")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = started.elapsed();
        let cpu = children_cpu().saturating_sub(cpu_before);
        let stdout = std::fs::read_to_string(self.path("certify.stdout")).unwrap_or_default();
        let stderr = std::fs::read_to_string(self.path("certify.stderr")).unwrap_or_default();
        let text = std::fs::read_to_string(&out).unwrap_or_else(|e| {
            panic!("no manifest ({e}); labcert exited {status}:\n{stdout}\n{stderr}")
        });
        let manifest: Value = serde_json::from_str(&text).expect("the manifest is JSON");
        assert_valid(&manifest);
        Run {
            manifest,
            stdout,
            stderr,
            code: status.code().unwrap_or(-1),
            took,
            cpu,
        }
    }
}

/// `tests/fixtures-bin`, the venv's bin (when there is one), then this process's PATH.
pub fn test_path() -> std::ffi::OsString {
    let mut dirs = vec![fixtures_bin()];
    if venv().join("bin").exists() {
        dirs.push(venv().join("bin"));
    }
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs).unwrap()
}

/// `catalog.name=value`, as `--var` takes it.
pub fn var(catalog: &str, name: &str, value: &str) -> (String, String) {
    (format!("{catalog}.{name}"), value.to_string())
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "labcert@runner",
            "-f",
        ])
        .arg(path));
}

// ---- the guest ----------------------------------------------------------------------------

/// The test instance: a private sshd on 127.0.0.1:22 inside the lab's namespace. Each login
/// runs its command with `PATH` holding only the guest fakes (`hostname`, `cloud-init`, `curl`,
/// all [`GUEST_TOOL`]) and the system directories; the fakes answer from a JSON state:
///
/// `{"hostname": …, "cloud_init": {status JSON}, "imds": {"kind": "aws"|"azure"|"oci", …}}`
pub struct Guest {
    pub daemon: Daemon,
    pub user: String,
    pub known_hosts: PathBuf,
}

impl Guest {
    fn start(ns: &Netns, dir: &Path, pubkey: &str, state: &Value) -> Guest {
        let g = dir.join("guest");
        let bin = g.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let state_file = g.join("state.json");
        write_json(&state_file, state);
        let tool_path = bin.join("guest-tool");
        executable(
            &tool_path,
            &format!("#!{}\n{GUEST_TOOL}", python3().display()),
        );
        for name in ["hostname", "cloud-init", "curl"] {
            std::os::unix::fs::symlink("guest-tool", bin.join(name)).unwrap();
        }
        let host_key = g.join("host_ed25519_key");
        keygen(&host_key);
        let forced = format!(
            "exec env -i PATH={}:/usr/bin:/bin LABCERT_GUEST_STATE={} HOME=/ /bin/sh -c \\\"$SSH_ORIGINAL_COMMAND\\\"",
            bin.display(),
            state_file.display()
        );
        write(
            &g.join("authorized_keys"),
            &format!(
                "command=\"{forced}\",no-port-forwarding,no-agent-forwarding,no-X11-forwarding {pubkey}\n"
            ),
        );
        let config = g.join("sshd_config");
        write(
            &config,
            &format!(
                "Port 22\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nUseDNS no\n\
                 SetEnv SHLVL=1\nMaxStartups 200:30:400\nMaxSessions 200\nLogLevel VERBOSE\n",
                d = g.display()
            ),
        );
        // sshd's compiled-in privilege separation directory; it dies without it.
        run(Command::new("install").args(["-d", "-m", "0755", "/run/sshd"]));
        let mut c = ns.command("/usr/sbin/sshd");
        c.args(["-D", "-e", "-f"]).arg(&config);
        let mut daemon = Daemon::spawn("the guest sshd", c, g.join("sshd.log"));
        ns.wait_for(&mut daemon, 22);
        let host_pub = std::fs::read_to_string(g.join("host_ed25519_key.pub")).unwrap();
        let key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        let known_hosts = g.join("known_hosts");
        write(&known_hosts, &format!("127.0.0.1 {}\n", key.join(" ")));
        let user = run(Command::new("id").arg("-un")).trim().to_string();
        Guest {
            daemon,
            user,
            known_hosts,
        }
    }
}

/// cloud-init's `status --format json` of a clean boot (cloud-init issue #5903's shape).
pub fn cloud_init_done(datasource: &str) -> Value {
    json!({
        "boot_status_code": "enabled-by-generator",
        "datasource": datasource,
        "detail": format!("DataSource{}", datasource),
        "errors": [],
        "extended_status": "done",
        "init": {"errors": [], "finished": 1748736005.1, "recoverable_errors": {}, "start": 1748736001.2},
        "last_update": "Sun, 01 Jun 2025 00:00:10 +0000",
        "recoverable_errors": {},
        "stage": null,
        "status": "done"
    })
}

/// The guest's fake `hostname`, `cloud-init` and `curl` (dispatched on the name it is run
/// by), answering from `$LABCERT_GUEST_STATE`. `curl` knows only the instance metadata
/// service at 169.254.169.254 (AWS IMDSv2, Azure IMDS, OCI IMDS v2) and never opens a socket:
/// any other URL, or the metadata service when the state says `"imds": {"unreachable": true}`
/// (a firewall in the guest), fails like an unreachable host (exit 7).
pub const GUEST_TOOL: &str = r###"
import json, os, sys
from urllib.parse import urlparse, parse_qs

state = json.load(open(os.environ["LABCERT_GUEST_STATE"], encoding="utf-8"))
name = os.path.basename(sys.argv[0])
args = sys.argv[1:]

if name == "hostname":
    print(state["hostname"])
    sys.exit(0)

if name == "cloud-init":
    if args[:1] != ["status"]:
        sys.stderr.write("usage: cloud-init [-h] [--version] [--debug] [--force] ...\n")
        sys.exit(2)
    status = state["cloud_init"]
    if "--format" in args and args[args.index("--format") + 1] == "json":
        print(json.dumps(status, indent=1))
    else:
        print("status: " + status["status"])
    sys.exit({"done": 0, "error": 1, "degraded done": 2}.get(status["status"], 0))

# curl
method, headers, url, fail, i = "GET", {}, None, False, 0
while i < len(args):
    a = args[i]
    if a in ("-X", "--request"):
        method = args[i + 1]; i += 2; continue
    if a in ("-H", "--header"):
        k, _, v = args[i + 1].partition(":"); headers[k.strip().lower()] = v.strip(); i += 2; continue
    if a == "--noproxy":
        i += 2; continue
    if a.startswith("-") and not a.startswith("--"):
        fail = fail or "f" in a[1:]
        i += 1; continue
    if a in ("--fail", "--silent"):
        fail = fail or a == "--fail"; i += 1; continue
    url = a; i += 1

def reply(status, body):
    if status >= 400 and fail:
        sys.exit(22)
    sys.stdout.write(body)
    sys.exit(0)

u = urlparse(url or "")
if u.hostname != "169.254.169.254":
    sys.stderr.write(f"curl: (7) Failed to connect to {u.hostname} port 80: Connection refused\n")
    sys.exit(7)
imds = state["imds"]
if imds.get("unreachable"):
    # A firewall inside the guest rejects the link-local address.
    sys.exit(7)
kind = imds["kind"]
if kind == "aws":
    if u.path == "/latest/api/token":
        if method != "PUT" or "x-aws-ec2-metadata-token-ttl-seconds" not in headers:
            reply(400, "")
        reply(200, imds["token"])
    if imds.get("tokens_required", True) and headers.get("x-aws-ec2-metadata-token") != imds["token"]:
        reply(401, "")
    prefix = "/latest/meta-data/"
    key = u.path[len(prefix):] if u.path.startswith(prefix) else None
    if key in imds.get("meta-data", {}):
        reply(200, imds["meta-data"][key])
    reply(404, "")
if kind == "azure":
    if headers.get("metadata") != "true":
        reply(400, json.dumps({"error": "Bad request. Required metadata header not specified"}))
    if u.path == "/metadata/instance" and "api-version" in parse_qs(u.query):
        reply(200, json.dumps(imds["instance"]))
    reply(404, "")
if kind == "oci":
    if u.path.startswith("/opc/v2/"):
        if headers.get("authorization") != "Bearer Oracle":
            reply(401, "")
        if u.path.rstrip("/") == "/opc/v2/instance":
            reply(200, json.dumps(imds["instance"], indent=2))
    if u.path.startswith("/opc/v1/") and not imds.get("legacy_disabled", True):
        reply(200, json.dumps(imds["instance"], indent=2))
    reply(404, "")
reply(404, "")
"###;

// ---- the demo topology --------------------------------------------------------------------

/// `catalogs/topologies/demo.yaml`.
pub fn demo_topology() -> PathBuf {
    root().join("catalogs/topologies/demo.yaml")
}

/// The vars `catalogs/topologies/demo.yaml` binds for `catalog`.
pub fn demo_vars(catalog: &str) -> Map<String, Value> {
    binding_vars(&demo_topology(), catalog)
        .unwrap_or_else(|| panic!("the demo topology does not bind {catalog}"))
}

/// The topology files in `catalogs/topologies`.
fn topologies() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("catalogs/topologies"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "yaml" || x == "yml" || x == "toml")
        })
        .collect();
    paths.sort();
    paths
}

/// `vars[name]` as a string.
pub fn s(vars: &Map<String, Value>, name: &str) -> String {
    match &vars[name] {
        Value::String(s) => s.clone(),
        Value::Null => panic!("the demo topology has no {name}"),
        other => other.to_string(),
    }
}

// ---- AWS ----------------------------------------------------------------------------------

/// The base AMI of every topology that binds the aws catalog (the demo's, the example lab's),
/// as `MOTO_AMIS_PATH` loads them into every account and region (moto's own ~1,300 AMIs are
/// then left out).
fn lab_amis() -> Value {
    let mut amis: Vec<Value> = Vec::new();
    for path in topologies() {
        let Some(v) = binding_vars(&path, "aws") else {
            continue;
        };
        let ami = lab_ami(&v);
        if !amis.iter().any(|a| a["ami_id"] == ami["ami_id"]) {
            amis.push(ami);
        }
    }
    Value::Array(amis)
}

/// A lab's base AMI (`ami`, `architecture`, its `image-sha256` tag).
fn lab_ami(v: &Map<String, Value>) -> Value {
    json!({
        "ami_id": s(v, "ami"),
        "name": "labcert-ubuntu-2404-cert",
        "description": "labcert certification image (Ubuntu 24.04)",
        "owner_id": s(v, "account"),
        "public": false,
        "virtualization_type": "hvm",
        "architecture": s(v, "architecture"),
        "state": "available",
        "platform": null,
        "image_type": "machine",
        "hypervisor": "xen",
        "root_device_name": "/dev/sda1",
        "root_device_type": "ebs",
        "sriov": "simple",
        "boot_mode": "uefi",
        "tags": {"image-sha256": s(v, "image_sha256"), "qual:owner": s(v, "owner_tag")}
    })
}

/// What can be wrong with the AWS lab (besides credentials).
#[derive(Debug, Clone, Default)]
pub struct AwsFaults {
    /// Seeding faults (see [`AWS_SEED`]): `sg-no-runner-ssh`, `ami-deregistered`,
    /// `keypair-deleted`, `instance-run-tag-missing`, `foreign-run-resource`, `orphan-eip`,
    /// `lt-imdsv1`, `no-default-route`, `public-ip-flipped`, `vpc-dns-off`,
    /// `instance-no-userdata`.
    pub seed: Vec<&'static str>,
    /// EC2 L-1216C47A (default 32 vCPUs).
    pub vcpu_quota: Option<f64>,
    /// IAM actions (`ec2:DescribeInstances`) the certifier role is explicitly denied; moto
    /// enforces them only when started by [`Lab::start_moto_iam`].
    pub deny: Vec<&'static str>,
}

/// A seeded AWS lab: `--var`s for the ids moto chose and the environment for the AWS CLI.
pub struct AwsLab {
    pub ids: Value,
    pub vars: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
}

const MOTO_PORT: u16 = 5000;

/// Requests [`AWS_SEED`] makes before it has credentials of its own (create_user,
/// put_user_policy, create_access_key): moto's `INITIAL_NO_AUTH_ACTION_COUNT` for
/// [`Lab::start_moto_iam`].
const SEED_BOOTSTRAP_ACTIONS: u32 = 3;

impl Lab {
    /// Starts moto_server in the namespace (`auth`: with `INITIAL_NO_AUTH_ACTION_COUNT=0`, so
    /// it checks credentials as AWS does).
    pub fn start_moto(&mut self, auth: bool) {
        self.spawn_moto(auth.then_some("0"));
    }

    /// Starts moto_server checking every request but the seed's first three (which create
    /// the seed's own IAM user and key) against IAM, as AWS does: signatures, and the
    /// policies of the principal (the certifier role's, with [`AwsFaults::deny`]).
    pub fn start_moto_iam(&mut self) {
        self.spawn_moto(Some(&SEED_BOOTSTRAP_ACTIONS.to_string()));
        self.aws_iam = true;
    }

    fn spawn_moto(&mut self, no_auth_actions: Option<&str>) {
        let venv = require_venv();
        let amis = self.path("amis.json");
        write_json(&amis, &lab_amis());
        let mut c = self.ns.command(venv.join("bin/moto_server"));
        c.args(["-H", "127.0.0.1", "-p", &MOTO_PORT.to_string()])
            .env("MOTO_AMIS_PATH", &amis);
        if let Some(count) = no_auth_actions {
            c.env("INITIAL_NO_AUTH_ACTION_COUNT", count);
        }
        let mut d = Daemon::spawn("moto_server", c, self.path("moto.log"));
        self.ns.wait_for(&mut d, MOTO_PORT);
        self.moto = Some(d);
    }

    /// The AWS CLI environment: moto's endpoint, the `labcert` profile from files in the temp
    /// dir, and the shim's state and call log.
    fn aws_env(
        &self,
        v: &Map<String, Value>,
        credentials: &Value,
        shim_state: &Value,
    ) -> Vec<(String, String)> {
        let profile = s(v, "profile");
        let aws = self.path("aws");
        std::fs::create_dir_all(&aws).unwrap();
        write(
            &aws.join("config"),
            &format!(
                "[profile {profile}]\nregion = {}\noutput = json\n",
                s(v, "region")
            ),
        );
        let mut creds = format!("[{profile}]\n");
        for (k, value) in credentials.as_object().unwrap() {
            let _ = writeln!(creds, "{k} = {}", value.as_str().unwrap());
        }
        write(&aws.join("credentials"), &creds);
        write_json(&aws.join("shim.json"), shim_state);
        let p = |name: &str| aws.join(name).display().to_string();
        vec![
            (
                "AWS_ENDPOINT_URL".into(),
                format!("http://127.0.0.1:{MOTO_PORT}"),
            ),
            ("AWS_DEFAULT_REGION".into(), s(v, "region")),
            ("AWS_CONFIG_FILE".into(), p("config")),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), p("credentials")),
            // No instance-metadata credential lookups, ever.
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            (
                "LABCERT_REAL_AWS".into(),
                venv().join("bin/aws").display().to_string(),
            ),
            ("LABCERT_FAKE_AWS_STATE".into(), p("shim.json")),
            ("LABCERT_FAKE_AWS_LOG".into(), p("calls.log")),
        ]
    }

    /// Seeds the running moto with the demo lab (broken as `faults` say), starts the guest
    /// with the instance's identity, and returns what `certify` needs.
    pub fn seed_aws(&mut self, faults: &AwsFaults) -> AwsLab {
        self.seed_aws_for(&demo_topology(), faults)
    }

    /// [`Lab::seed_aws`] with the lab the topology file `topology` binds the aws catalog to
    /// (its account, region, zone, image, names and CIDRs). A lab in an account other than
    /// moto's default is seeded and certified through roles assumed in that account (moto
    /// keeps each account's resources apart by the credentials' account); that needs moto
    /// not checking IAM.
    pub fn seed_aws_for(&mut self, topology: &Path, faults: &AwsFaults) -> AwsLab {
        let venv = require_venv();
        assert!(
            faults.deny.is_empty() || self.aws_iam,
            "AwsFaults::deny needs moto started by start_moto_iam (it enforces IAM then only)"
        );
        let v = binding_vars(topology, "aws")
            .unwrap_or_else(|| panic!("{} does not bind aws", topology.display()));
        // The instance's private address: .21 of the test subnet (the demo's reachability
        // endpoint, 10.40.1.21).
        let subnet = s(&v, "subnet_cidr");
        let network: std::net::Ipv4Addr = subnet
            .split('/')
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("subnet_cidr {subnet:?} is not an IPv4 CIDR"));
        let private_ip = std::net::Ipv4Addr::from(u32::from(network) + 21).to_string();
        let spec = json!({
            "region": s(&v, "region"), "az": s(&v, "az"), "account": s(&v, "account"),
            "role": s(&v, "role"), "vpc_cidr": s(&v, "vpc_cidr"),
            "subnet_cidr": s(&v, "subnet_cidr"), "pve_cidr": s(&v, "pve_cidr"),
            "runner_cidr": s(&v, "runner_cidr"), "key_name": s(&v, "key_name"),
            "ssh_pubkey": self.pubkey, "launch_template": s(&v, "launch_template"),
            "instance_type": s(&v, "instance_type"), "ami": s(&v, "ami"),
            "hostname": s(&v, "hostname"), "run_id": s(&v, "run_id"),
            "owner_tag": s(&v, "owner_tag"), "map_public_ip": v["map_public_ip"],
            // The demo reachability endpoint's private address; the public one is the
            // namespace's loopback, where the guest listens.
            "private_ip": private_ip, "public_ip": "127.0.0.1",
            "faults": faults.seed,
            "deny": faults.deny,
            "iam_enforced": self.aws_iam,
        });
        let spec_file = self.path("aws-spec.json");
        write_json(&spec_file, &spec);
        let script = self.path("seed_aws.py");
        write(&script, AWS_SEED);
        let stdout = run(self
            .ns
            .command(venv.join("bin/python"))
            .arg(&script)
            .arg(&spec_file)
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", self.dir.path())
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{MOTO_PORT}"))
            .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            )
            .env("AWS_DEFAULT_REGION", s(&v, "region"))
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true"));
        let ids: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("seed_aws.py printed no JSON ({e}):\n{stdout}"));
        let shim = json!({
            "account": s(&v, "account"),
            "quotas": {"ec2/L-1216C47A": faults.vcpu_quota.unwrap_or(32.0)},
            "cpu_options": ids["cpu_options"],
        });
        let env = self.aws_env(&v, &ids["credentials"], &shim);
        let instance_id = ids["instance_id"].as_str().unwrap().to_string();
        self.start_guest(&json!({
            "hostname": s(&v, "hostname"),
            "cloud_init": cloud_init_done("Ec2"),
            "imds": {
                "kind": "aws",
                "token": "AQAEAFx-labcert-imds-token==",
                "tokens_required": true,
                "meta-data": {
                    "instance-id": instance_id,
                    "local-ipv4": private_ip,
                    "public-ipv4": "127.0.0.1",
                    "hostname": s(&v, "hostname"),
                }
            }
        }));
        let mut vars: Vec<(String, String)> = [
            "vpc_id",
            "subnet_id",
            "security_group_id",
            "instance_id",
            "internet_gateway_id",
        ]
        .iter()
        .map(|k| var("aws", k, ids[*k].as_str().unwrap()))
        .collect();
        vars.extend(self.guest_vars("aws"));
        AwsLab { ids, vars, env }
    }

    /// The AWS environment with credentials moto (started with `auth`) rejects.
    pub fn aws_env_bad_credentials(&self) -> Vec<(String, String)> {
        let creds = json!({
            "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        });
        self.aws_env(&demo_vars("aws"), &creds, &json!({}))
    }

    /// Every AWS CLI call of the run, as the shim logged them.
    pub fn aws_calls(&self) -> Vec<Vec<String>> {
        calls(&self.path("aws/calls.log"))
    }
}

fn calls(path: &Path) -> Vec<Vec<String>> {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        f.read_to_string(&mut text).unwrap();
    }
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a logged call is a JSON array"))
        .collect()
}

/// Seeds moto_server (`AWS_ENDPOINT_URL`) through boto3 with the demo lab as the aws catalog
/// expects it: VPC with DNS hostnames, subnet in the zone (public IPs on launch), route table
/// with an IGW default route and a VGW route to the PVE lab, security group (SSH from the
/// runner and the PVE lab, all from itself), the runner's key pair, the launch template
/// (IMDSv2, user-data, owner tag), the certification instance (run + owner tags, IMDSv2) with
/// an Elastic IP tagged with the run, and the certifier role. moto's default VPC has no IGW or
/// default route (research §2.3), hence a VPC of our own. `faults` in the spec break it on
/// purpose, `deny` takes actions from the role. With `iam_enforced` (moto checking IAM after
/// its first three requests) it first makes a seed user with a key of its own. Prints the ids
/// moto chose (and the region's default VPC), the instance type's CPU options and an
/// assumed-role session's credentials.
pub const AWS_SEED: &str = r###"
import base64, json, os, socket, sys, time
from urllib.parse import urlparse

import boto3

spec = json.load(open(sys.argv[1], encoding="utf-8"))
faults = set(spec.get("faults", []))
known = {"sg-no-runner-ssh", "ami-deregistered", "keypair-deleted", "instance-run-tag-missing",
         "foreign-run-resource", "orphan-eip", "lt-imdsv1", "no-default-route",
         "public-ip-flipped", "vpc-dns-off", "instance-no-userdata"}
if faults - known:
    sys.exit(f"unknown faults: {sorted(faults - known)}")

url = urlparse(os.environ["AWS_ENDPOINT_URL"])
deadline = time.monotonic() + 30
while True:
    try:
        socket.create_connection((url.hostname, url.port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"moto_server at {url.geturl()} is not answering")
        time.sleep(0.05)

region = spec["region"]
session = boto3.Session(region_name=region)
if spec.get("iam_enforced"):
    # moto lets exactly these three requests through unchecked (INITIAL_NO_AUTH_ACTION_COUNT):
    # a seed user allowed everything, and its key for every request after them.
    iam = session.client("iam")
    iam.create_user(UserName="labcert-seed")
    iam.put_user_policy(UserName="labcert-seed", PolicyName="seed", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="labcert-seed")["AccessKey"]
    session = boto3.Session(region_name=region, aws_access_key_id=key["AccessKeyId"],
                            aws_secret_access_key=key["SecretAccessKey"])
sts = session.client("sts")
if sts.get_caller_identity()["Account"] != spec["account"]:
    # The lab's account is not moto's default: seed it as a role assumed there (moto puts
    # what a request makes in the account of its credentials).
    if spec.get("iam_enforced"):
        sys.exit("a lab in another account needs moto not checking IAM")
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{spec['account']}:role/labcert-seed",
                        RoleSessionName="seed")["Credentials"]
    session = boto3.Session(region_name=region, aws_access_key_id=c["AccessKeyId"],
                            aws_secret_access_key=c["SecretAccessKey"],
                            aws_session_token=c["SessionToken"])
    sts = session.client("sts")
ec2 = session.client("ec2")
iam = session.client("iam")

def tags(*pairs):
    return [{"Key": k, "Value": v} for k, v in pairs]

owner = ("qual:owner", spec["owner_tag"])
run = ("qual:run-id", spec["run_id"])

vpc = ec2.create_vpc(CidrBlock=spec["vpc_cidr"], TagSpecifications=[
    {"ResourceType": "vpc", "Tags": tags(("Name", "labcert-lab"), owner)}])["Vpc"]["VpcId"]
ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": "vpc-dns-off" not in faults})
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=spec["subnet_cidr"],
                           AvailabilityZone=spec["az"])["Subnet"]["SubnetId"]
map_public = bool(spec["map_public_ip"]) != ("public-ip-flipped" in faults)
ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": map_public})
igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
ec2.attach_vpn_gateway(VpnGatewayId=vgw, VpcId=vpc)
rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
if "no-default-route" not in faults:
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
ec2.create_route(RouteTableId=rtb, DestinationCidrBlock=spec["pve_cidr"], GatewayId=vgw)
ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)

sg = ec2.create_security_group(GroupName="labcert-cert", Description="labcert test instances",
                               VpcId=vpc)["GroupId"]
ssh_from = [spec["pve_cidr"]] if "sg-no-runner-ssh" in faults else [spec["runner_cidr"], spec["pve_cidr"]]
ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
     "IpRanges": [{"CidrIp": c, "Description": "ssh"} for c in ssh_from]},
    {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg, "Description": "east/west"}]},
])

ec2.import_key_pair(KeyName=spec["key_name"], PublicKeyMaterial=spec["ssh_pubkey"].encode(),
                    TagSpecifications=[{"ResourceType": "key-pair", "Tags": tags(owner)}])

user_data = f"#cloud-config\nhostname: {spec['hostname']}\n"
ec2.create_launch_template(LaunchTemplateName=spec["launch_template"], LaunchTemplateData={
    "ImageId": spec["ami"],
    "InstanceType": spec["instance_type"],
    "KeyName": spec["key_name"],
    "SecurityGroupIds": [sg],
    "MetadataOptions": {"HttpTokens": "optional" if "lt-imdsv1" in faults else "required",
                        "HttpEndpoint": "enabled"},
    "UserData": base64.b64encode(user_data.encode()).decode(),
    "TagSpecifications": [{"ResourceType": "instance", "Tags": tags(owner)}],
})

instance_tags = [("Name", spec["hostname"]), owner]
if "instance-run-tag-missing" not in faults:
    instance_tags.append(run)
launch = {"UserData": user_data,
          "LaunchTemplate": {"LaunchTemplateName": spec["launch_template"], "Version": "$Default"}}
if "instance-no-userdata" in faults:
    # Launched by hand, not from the template (whose user-data moto would copy).
    launch = {}
instance = ec2.run_instances(
    ImageId=spec["ami"], InstanceType=spec["instance_type"], MinCount=1, MaxCount=1,
    KeyName=spec["key_name"], SubnetId=subnet, SecurityGroupIds=[sg],
    PrivateIpAddress=spec["private_ip"],
    MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
    TagSpecifications=[{"ResourceType": "instance", "Tags": tags(*instance_tags)}],
    **launch,
)["Instances"][0]["InstanceId"]

# The run's public address: an Elastic IP with a fixed address, on the instance.
eip = ec2.allocate_address(Domain="vpc", Address=spec["public_ip"], TagSpecifications=[
    {"ResourceType": "elastic-ip", "Tags": tags(run, owner)}])["AllocationId"]
ec2.associate_address(AllocationId=eip, InstanceId=instance)

if "orphan-eip" in faults:
    ec2.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": tags(run, owner)}])
if "foreign-run-resource" in faults:
    # Carries this run's id but another owner: teardown must not take it silently.
    ec2.create_volume(AvailabilityZone=spec["az"], Size=8, TagSpecifications=[
        {"ResourceType": "volume", "Tags": tags(run, ("qual:owner", "someone-else"))}])
if "ami-deregistered" in faults:
    ec2.deregister_image(ImageId=spec["ami"])
if "keypair-deleted" in faults:
    ec2.delete_key_pair(KeyName=spec["key_name"])

itype = ec2.describe_instance_types(InstanceTypes=[spec["instance_type"]])["InstanceTypes"][0]

# The role labcert certifies as: everything allowed but the actions the spec denies (moto
# enforces them when it checks IAM), assumable by whoever seeds.
statements = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
if spec.get("deny"):
    statements.append({"Effect": "Deny", "Action": spec["deny"], "Resource": "*"})
iam.create_role(RoleName=spec["role"], AssumeRolePolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": sts.get_caller_identity()["Arn"]}}]}))
iam.put_role_policy(RoleName=spec["role"], PolicyName="labcert-certify", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": statements}))
creds = sts.assume_role(RoleArn=f"arn:aws:iam::{spec['account']}:role/{spec['role']}",
                        RoleSessionName="labcert")["Credentials"]
print(json.dumps({
    "vpc_id": vpc, "subnet_id": subnet, "security_group_id": sg, "instance_id": instance,
    "default_vpc_id": ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"],
    "internet_gateway_id": igw, "route_table_id": rtb, "eip_allocation_id": eip,
    "cpu_options": {spec["instance_type"]: {
        "CoreCount": itype["VCpuInfo"]["DefaultCores"],
        "ThreadsPerCore": itype["VCpuInfo"]["DefaultThreadsPerCore"]}},
    "credentials": {"aws_access_key_id": creds["AccessKeyId"],
                    "aws_secret_access_key": creds["SecretAccessKey"],
                    "aws_session_token": creds["SessionToken"]},
}))
"###;

// ---- Azure --------------------------------------------------------------------------------

/// What a `certify` of one cloud needs besides the lab: its `--var`s and environment.
pub type Inputs = (Vec<(String, String)>, Vec<(String, String)>);

/// The demo Azure lab: a guest for its VM (its state changed by `guest`) and the fake `az`'s
/// state (changed by `mutate`); returns the lab and what `certify --providers azure` needs.
pub fn azure_lab(mutate: impl FnOnce(&mut Value), guest: impl FnOnce(&mut Value)) -> (Lab, Inputs) {
    python3();
    let mut lab = Lab::new();
    let mut v = demo_vars("azure");
    v.insert("ssh_pubkey".into(), json!(lab.pubkey.clone()));
    let mut guest_state = json!({
        "hostname": s(&v, "hostname"),
        "cloud_init": cloud_init_done("Azure"),
        "imds": {"kind": "azure", "instance": azure_imds(&v)},
    });
    guest(&mut guest_state);
    lab.start_guest(&guest_state);
    let mut state = azure_state(&v, &lab.path("az-calls.log"));
    mutate(&mut state);
    let state_file = lab.path("az-state.json");
    std::fs::write(&state_file, state.to_string()).unwrap();
    // `az deployment group validate --template-file` reads the file locally.
    let template = lab.path("cert-vm.bicep");
    std::fs::write(&template, "param runId string\n").unwrap();
    let mut vars = lab.guest_vars("azure");
    vars.push(var(
        "azure",
        "template_file",
        &template.display().to_string(),
    ));
    let env = vec![(
        "LABCERT_FAKE_AZ_STATE".to_string(),
        state_file.display().to_string(),
    )];
    (lab, (vars, env))
}

/// The demo OCI lab: a guest for its instance (its state changed by `guest`) and the fake
/// `oci`'s state (changed by `mutate`); returns the lab and what `certify --providers oci`
/// needs.
pub fn oci_lab(mutate: impl FnOnce(&mut Value), guest: impl FnOnce(&mut Value)) -> (Lab, Inputs) {
    python3();
    let mut lab = Lab::new();
    let mut v = demo_vars("oci");
    v.insert("ssh_pubkey".into(), json!(lab.pubkey.clone()));
    let mut guest_state = json!({
        "hostname": s(&v, "hostname"),
        "cloud_init": cloud_init_done("oracle"),
        "imds": {"kind": "oci", "legacy_disabled": true, "instance": oci_imds(&v)},
    });
    guest(&mut guest_state);
    lab.start_guest(&guest_state);
    let mut state = oci_state(&v, &lab.path("oci-calls.log"));
    mutate(&mut state);
    let state_file = lab.path("oci-state.json");
    std::fs::write(&state_file, state.to_string()).unwrap();
    let config = oci_config(
        lab.dir.path(),
        &s(&v, "profile"),
        &s(&v, "tenancy_id"),
        &s(&v, "region"),
    );
    let mut vars = lab.guest_vars("oci");
    vars.push(var("oci", "config_file", &config.display().to_string()));
    let env = vec![(
        "LABCERT_FAKE_OCI_STATE".to_string(),
        state_file.display().to_string(),
    )];
    (lab, (vars, env))
}

/// The healthy demo Azure lab, as `tests/fixtures-bin/az` reads it (`calls`: where the fake
/// logs each argv). The public IP's address is 127.0.0.1, where [`Guest`] listens.
pub fn azure_state(v: &Map<String, Value>, calls: &Path) -> Value {
    let sub = s(v, "subscription");
    let rg = s(v, "resource_group");
    let loc = s(v, "location");
    let run_id = s(v, "run_id");
    let owner = s(v, "owner_tag");
    let arm = |rest: &str| format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{rest}");
    let run_tags = json!({"qual-run-id": run_id, "qual-owner": owner});
    let nsg_id = arm(&format!(
        "Microsoft.Network/networkSecurityGroups/{}",
        s(v, "nsg")
    ));
    let rt_id = arm(&format!(
        "Microsoft.Network/routeTables/{}",
        s(v, "route_table")
    ));
    let vnet_id = arm(&format!(
        "Microsoft.Network/virtualNetworks/{}",
        s(v, "vnet")
    ));
    let subnet_id = format!("{vnet_id}/subnets/{}", s(v, "subnet"));
    let nic_id = arm(&format!(
        "Microsoft.Network/networkInterfaces/{}",
        s(v, "nic")
    ));
    let pip_id = arm(&format!(
        "Microsoft.Network/publicIPAddresses/{}",
        s(v, "public_ip")
    ));
    let vm_id = arm(&format!(
        "Microsoft.Compute/virtualMachines/{}",
        s(v, "vm_name")
    ));
    let rule = |name: &str, priority: u32, access: &str, source: &str, port: &str| {
        json!({
            "access": access, "description": null, "destinationAddressPrefix": "*",
            "destinationAddressPrefixes": [], "destinationPortRange": port,
            "destinationPortRanges": [], "direction": "Inbound", "etag": "W/\"1\"",
            "id": format!("{nsg_id}/securityRules/{name}"), "name": name, "priority": priority,
            "protocol": "Tcp", "provisioningState": "Succeeded", "resourceGroup": rg,
            "sourceAddressPrefix": source, "sourceAddressPrefixes": [], "sourcePortRange": "*",
            "sourcePortRanges": [], "type": "Microsoft.Network/networkSecurityGroups/securityRules"
        })
    };
    let default_rule = |name: &str, priority: u32, access: &str, source: &str, dest: &str| {
        json!({
            "access": access, "description": format!("{name} default rule"),
            "destinationAddressPrefix": dest, "destinationAddressPrefixes": [],
            "destinationPortRange": "*", "destinationPortRanges": [], "direction": "Inbound",
            "etag": "W/\"1\"", "id": format!("{nsg_id}/defaultSecurityRules/{name}"),
            "name": name, "priority": priority, "protocol": "*", "provisioningState": "Succeeded",
            "resourceGroup": rg, "sourceAddressPrefix": source, "sourceAddressPrefixes": [],
            "sourcePortRange": "*", "sourcePortRanges": [],
            "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules"
        })
    };
    let usage = |value: &str, name: &str, current: u32, limit: u32| {
        // `az vm list-usage` prints the numbers as strings (transform_vm_usage_list).
        json!({"currentValue": current.to_string(), "limit": limit.to_string(), "localName": name,
               "name": {"localizedValue": name, "value": value}})
    };
    let route = |prefix: &str, hop: &str, ip: Option<&str>, source: &str| {
        json!({"addressPrefix": [prefix], "disableBgpRoutePropagation": false, "name": null,
               "nextHopIpAddress": ip.map(|i| vec![i]).unwrap_or_default(), "nextHopType": hop,
               "source": source, "state": "Active"})
    };
    json!({
        "calls": calls,
        "logged_in": true,
        "account": {
            "environmentName": "AzureCloud", "homeTenantId": s(v, "tenant"), "id": sub,
            "isDefault": true, "managedByTenants": [], "name": "labcert-demo",
            "state": "Enabled", "tenantDefaultDomain": "labcertdemo.onmicrosoft.com",
            "tenantDisplayName": "labcert demo", "tenantId": s(v, "tenant"),
            "user": {"name": s(v, "client_id"), "type": "servicePrincipal"}
        },
        "access_token": {
            "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.bGFiY2VydA",
            "expiresOn": "2099-01-01 00:59:59.000000", "expires_on": 4070912399u64,
            "tokenType": "Bearer"
        },
        "providers": {
            "Microsoft.Compute": {"id": format!("/subscriptions/{sub}/providers/Microsoft.Compute"),
                "namespace": "Microsoft.Compute", "registrationPolicy": "RegistrationRequired",
                "registrationState": "Registered", "resourceTypes": []},
            "Microsoft.Network": {"id": format!("/subscriptions/{sub}/providers/Microsoft.Network"),
                "namespace": "Microsoft.Network", "registrationPolicy": "RegistrationRequired",
                "registrationState": "Registered", "resourceTypes": []}
        },
        "skus": [{
            "apiVersions": null, "capabilities": [
                {"name": "vCPUs", "value": "2"}, {"name": "MemoryGB", "value": "8"}],
            "capacity": null, "costs": null, "family": s(v, "vm_family"), "kind": null,
            "locationInfo": [{"location": loc, "zoneDetails": [], "zones": ["1", "2", "3"]}],
            "locations": [loc], "name": s(v, "vm_size"), "resourceType": "virtualMachines",
            "restrictions": [], "size": s(v, "vm_size").trim_start_matches("Standard_"), "tier": "Standard"
        }],
        "usages": {loc.clone(): [
            usage("availabilitySets", "Availability Sets", 0, 2500),
            usage("cores", "Total Regional vCPUs", 2, 20),
            usage("virtualMachines", "Virtual Machines", 1, 25000),
            usage(&s(v, "vm_family"), "Standard DSv5 Family vCPUs", 2, 10)
        ]},
        "groups": [{
            "id": format!("/subscriptions/{sub}/resourceGroups/{rg}"), "location": loc,
            "managedBy": null, "name": rg, "properties": {"provisioningState": "Succeeded"},
            "tags": run_tags, "type": "Microsoft.Resources/resourceGroups"
        }],
        "resources": [
            {
                "id": arm(&format!("Microsoft.Compute/galleries/{}/images/{}/versions/{}",
                    s(v, "gallery"), s(v, "image_definition"), s(v, "image_version"))),
                "location": loc,
                "name": format!("{}/{}/{}", s(v, "gallery"), s(v, "image_definition"), s(v, "image_version")),
                "provisioningState": "Succeeded",
                "publishingProfile": {"excludeFromLatest": false, "publishedDate": "2025-06-01T00:00:00+00:00",
                    "replicaCount": 1, "storageAccountType": "Standard_LRS",
                    "targetRegions": [{"name": s(v, "location_display"), "regionalReplicaCount": 1,
                                       "storageAccountType": "Standard_LRS"}]},
                "resourceGroup": rg, "storageProfile": {"osDiskImage": {"hostCaching": "ReadWrite", "sizeInGb": 30}},
                "tags": {"image-sha256": s(v, "image_sha256"), "qual-owner": owner},
                "type": "Microsoft.Compute/galleries/images/versions"
            },
            {
                "id": arm(&format!("Microsoft.Compute/sshPublicKeys/{}", s(v, "sshkey_name"))),
                "location": loc, "name": s(v, "sshkey_name"), "publicKey": s(v, "ssh_pubkey"),
                "resourceGroup": rg.to_uppercase(), "tags": {"qual-owner": owner},
                "type": "Microsoft.Compute/sshPublicKeys"
            },
            {
                "addressSpace": {"addressPrefixes": [s(v, "vnet_cidr")]}, "id": vnet_id,
                "location": loc, "name": s(v, "vnet"), "provisioningState": "Succeeded",
                "resourceGroup": rg, "tags": {"qual-owner": owner},
                "subnets": [{
                    "addressPrefix": s(v, "subnet_cidr"), "defaultOutboundAccess": false,
                    "etag": "W/\"1\"", "id": subnet_id, "name": s(v, "subnet"),
                    "natGateway": {"id": arm("Microsoft.Network/natGateways/nat-labcert"), "resourceGroup": rg},
                    "networkSecurityGroup": {"id": nsg_id, "resourceGroup": rg},
                    "routeTable": {"id": rt_id, "resourceGroup": rg},
                    "privateEndpointNetworkPolicies": "Disabled", "provisioningState": "Succeeded",
                    "resourceGroup": rg, "type": "Microsoft.Network/virtualNetworks/subnets"
                }],
                "type": "Microsoft.Network/virtualNetworks"
            },
            {
                "defaultSecurityRules": [
                    default_rule("AllowVnetInBound", 65000, "Allow", "VirtualNetwork", "VirtualNetwork"),
                    default_rule("AllowAzureLoadBalancerInBound", 65001, "Allow", "AzureLoadBalancer", "*"),
                    default_rule("DenyAllInBound", 65500, "Deny", "*", "*")
                ],
                "id": nsg_id, "location": loc, "name": s(v, "nsg"), "provisioningState": "Succeeded",
                "resourceGroup": rg, "tags": {"qual-owner": owner},
                "securityRules": [
                    rule("labcert-ssh-runner", 1000, "Allow", &s(v, "runner_cidr"), "22"),
                    rule("labcert-ssh-pve", 1010, "Allow", &s(v, "pve_cidr"), "22")
                ],
                "subnets": [{"id": subnet_id, "resourceGroup": rg}],
                "type": "Microsoft.Network/networkSecurityGroups"
            },
            {
                "id": nic_id, "location": loc, "name": s(v, "nic"), "provisioningState": "Succeeded",
                "ipConfigurations": [{"id": format!("{nic_id}/ipConfigurations/ipconfig1"), "name": "ipconfig1",
                    "primary": true, "privateIPAddress": "10.50.1.4", "privateIPAllocationMethod": "Dynamic",
                    "publicIPAddress": {"id": pip_id, "resourceGroup": rg},
                    "subnet": {"id": subnet_id, "resourceGroup": rg}}],
                "networkSecurityGroup": null, "primary": true, "resourceGroup": rg,
                "tags": run_tags, "type": "Microsoft.Network/networkInterfaces",
                "virtualMachine": {"id": vm_id, "resourceGroup": rg}
            },
            {
                "id": pip_id, "idleTimeoutInMinutes": 4,
                // Where the guest sshd listens, inside the lab's namespace.
                "ipAddress": "127.0.0.1",
                "ipConfiguration": {"id": format!("{nic_id}/ipConfigurations/ipconfig1"), "resourceGroup": rg},
                "location": loc, "name": s(v, "public_ip"), "provisioningState": "Succeeded",
                "publicIPAddressVersion": "IPv4", "publicIPAllocationMethod": "Static",
                "resourceGroup": rg, "sku": {"name": "Standard", "tier": "Regional"},
                "tags": run_tags, "type": "Microsoft.Network/publicIPAddresses", "zones": ["1"]
            },
            {
                "hardwareProfile": {"vmSize": s(v, "vm_size")}, "id": vm_id, "location": loc,
                "name": s(v, "vm_name"),
                "networkProfile": {"networkInterfaces": [{"id": nic_id, "primary": true, "resourceGroup": rg}]},
                "osProfile": {"adminUsername": s(v, "ssh_user"), "allowExtensionOperations": true,
                    "computerName": s(v, "hostname"), "customData": null,
                    "linuxConfiguration": {"disablePasswordAuthentication": true,
                        "ssh": {"publicKeys": [{"keyData": s(v, "ssh_pubkey"),
                            "path": format!("/home/{}/.ssh/authorized_keys", s(v, "ssh_user"))}]}},
                    "secrets": []},
                "provisioningState": "Succeeded", "resourceGroup": rg.to_uppercase(),
                "storageProfile": {"imageReference": {"id": arm(&format!(
                    "Microsoft.Compute/galleries/{}/images/{}/versions/{}",
                    s(v, "gallery"), s(v, "image_definition"), s(v, "image_version")))}},
                "tags": run_tags, "type": "Microsoft.Compute/virtualMachines", "zones": ["1"]
            }
        ],
        "instance_views": {s(v, "vm_name"): {
            "computerName": s(v, "hostname"), "osName": "ubuntu", "osVersion": "24.04",
            "statuses": [
                {"code": "ProvisioningState/succeeded", "displayStatus": "Provisioning succeeded",
                 "level": "Info", "time": "2025-06-01T00:00:00+00:00"},
                {"code": "PowerState/running", "displayStatus": "VM running", "level": "Info"}
            ],
            "vmAgent": {"statuses": [{"code": "ProvisioningState/succeeded", "displayStatus": "Ready"}],
                        "vmAgentVersion": "2.13.1.1"}
        }},
        "effective_routes": {s(v, "nic"): [
            route(&s(v, "vnet_cidr"), "VnetLocal", None, "Default"),
            route(&s(v, "pve_cidr"), "VirtualAppliance", Some(&s(v, "nva_ip")), "User"),
            route("0.0.0.0/0", "Internet", None, "Default"),
            route("10.0.0.0/8", "None", None, "Default")
        ]}
    })
}

/// What the Azure guest's IMDS answers (api-version 2021-02-01 shape). A Standard-SKU public
/// IP is not shown there: `publicIpAddress` is empty (MicrosoftDocs/azure-docs#44314).
pub fn azure_imds(v: &Map<String, Value>) -> Value {
    json!({
        "compute": {
            "azEnvironment": "AzurePublicCloud", "location": s(v, "location"),
            "name": s(v, "vm_name"), "osType": "Linux",
            "osProfile": {"adminUsername": s(v, "ssh_user"), "computerName": s(v, "hostname"),
                          "disablePasswordAuthentication": "true"},
            "resourceGroupName": s(v, "resource_group"), "subscriptionId": s(v, "subscription"),
            "tags": format!("qual-owner:{};qual-run-id:{}", s(v, "owner_tag"), s(v, "run_id")),
            "tagsList": [{"name": "qual-owner", "value": s(v, "owner_tag")},
                         {"name": "qual-run-id", "value": s(v, "run_id")}],
            "vmId": "7c0a1d3e-0000-4000-8000-000000000001", "vmSize": s(v, "vm_size"), "zone": "1"
        },
        "network": {"interface": [{
            "ipv4": {"ipAddress": [{"privateIpAddress": "10.50.1.4", "publicIpAddress": ""}],
                     "subnet": [{"address": "10.50.1.0", "prefix": "24"}]},
            "ipv6": {"ipAddress": []},
            "macAddress": "000D3A2B4C5D"
        }]}
    })
}

// ---- OCI ----------------------------------------------------------------------------------

/// The healthy demo OCI lab, as `tests/fixtures-bin/oci` reads it.
pub fn oci_state(v: &Map<String, Value>, calls: &Path) -> Value {
    let tenancy = s(v, "tenancy_id");
    let comp = s(v, "compartment_id");
    let ad = s(v, "availability_domain");
    let region = s(v, "region");
    let image = s(v, "image_id");
    let vcn = s(v, "vcn_id");
    let subnet = s(v, "subnet_id");
    let rt = s(v, "route_table_id");
    let nsg = s(v, "nsg_id");
    let instance = s(v, "instance_id");
    let ic = s(v, "instance_configuration_id");
    let igw = format!(
        "ocid1.internetgateway.oc1.{region}.aaaaaaaademoigw0000000000000000000000000000000000"
    );
    let drg =
        format!("ocid1.drg.oc1.{region}.aaaaaaaademodrg0000000000000000000000000000000000000");
    let tags = json!({"qual-run-id": s(v, "run_id"), "qual-owner": s(v, "owner_tag")});
    let created = "2025-06-01T00:00:00.000000+00:00";
    let user_data = "I2Nsb3VkLWNvbmZpZwpob3N0bmFtZTogY2VydC1vY2ktYQo="; // #cloud-config hostname
    let nsg_rule = |source: &str, id: &str| {
        json!({
            "description": "ssh", "destination": null, "destination-type": null,
            "direction": "INGRESS", "icmp-options": null, "id": id, "is-stateless": false,
            "is-valid": true, "protocol": "6", "source": source, "source-type": "CIDR_BLOCK",
            "tcp-options": {"destination-port-range": {"max": 22, "min": 22}, "source-port-range": null},
            "time-created": created, "udp-options": null
        })
    };
    let route = |dest: &str, entity: &str| {
        json!({"cidr-block": null, "description": null, "destination": dest,
               "destination-type": "CIDR_BLOCK", "network-entity-id": entity, "route-type": "STATIC"})
    };
    json!({
        "calls": calls,
        "tenancies": {tenancy.clone(): {
            "defined-tags": {}, "description": "labcert demo tenancy", "freeform-tags": {},
            "home-region-key": s(v, "home_region_key"), "id": tenancy, "name": s(v, "tenancy_name"),
            "upi-idcs-compatibility-layer-endpoint": null
        }},
        "region_subscriptions": {tenancy.clone(): [
            {"is-home-region": true, "region-key": s(v, "home_region_key"), "region-name": region, "status": "READY"}
        ]},
        "compartments": {comp.clone(): {
            "compartment-id": tenancy, "defined-tags": {}, "description": "labcert lab",
            "freeform-tags": {}, "id": comp, "inactive-status": null, "is-accessible": true,
            "lifecycle-state": "ACTIVE", "name": s(v, "compartment_name"), "time-created": created
        }},
        "availability": [{
            "compartment-id": tenancy, "service-name": "compute", "limit-name": s(v, "limit_name"),
            "availability-domain": ad,
            "data": {"available": 46, "effective-quota-value": null, "fractional-availability": 46.0,
                     "fractional-usage": 4.0, "used": 4}
        }],
        "images": {image.clone(): {
            "agent-features": null, "base-image-id": null, "billable-size-in-gbs": 3,
            "compartment-id": comp, "create-image-allowed": true, "defined-tags": {},
            "display-name": "labcert-ubuntu-2404-cert", "freeform-tags": {"image-sha256": s(v, "image_sha256")},
            "id": image, "launch-mode": "PARAVIRTUALIZED", "lifecycle-state": "AVAILABLE",
            "listing-type": null, "operating-system": s(v, "image_os"),
            "operating-system-version": s(v, "image_os_version"), "size-in-mbs": 47694,
            "time-created": created
        }},
        "shapes": [{
            "compartment-id": comp, "availability-domain": ad, "image-id": image,
            "data": [
                {"baseline-ocpu-utilizations": ["BASELINE_1_8", "BASELINE_1_2", "BASELINE_1_1"],
                 "billing-type": "PAID", "gpus": 0, "is-flexible": true, "is-live-migration-supported": true,
                 "local-disks": 0, "max-vnic-attachments": 24, "memory-in-gbs": 16.0,
                 "memory-options": {"default-per-ocpu-in-gbs": 16.0, "max-in-gbs": 1024.0, "max-per-ocpu-in-gbs": 64.0,
                                    "min-in-gbs": 1.0, "min-per-ocpu-in-gbs": 1.0},
                 "ocpu-options": {"max": 64.0, "max-per-numa-node": 64.0, "min": 1.0},
                 "ocpus": 1.0, "processor-description": "2.55 GHz AMD EPYC\u{2122} 7J13 (Milan)",
                 "shape": s(v, "shape")},
                {"billing-type": "PAID", "is-flexible": false, "memory-in-gbs": 16.0,
                 "ocpu-options": null, "ocpus": 1.0, "shape": "VM.Standard2.1"}
            ]
        }],
        "instance_configurations": {ic.clone(): {
            "compartment-id": comp, "deferred-fields": null, "defined-tags": {},
            "display-name": "labcert-cert", "freeform-tags": {"qual-owner": s(v, "owner_tag")}, "id": ic,
            "instance-details": {
                "block-volumes": null, "instance-type": "compute",
                "launch-details": {
                    "availability-domain": ad, "compartment-id": comp,
                    "create-vnic-details": {"assign-public-ip": true, "nsg-ids": [nsg], "subnet-id": subnet},
                    "display-name": null, "freeform-tags": {"qual-owner": s(v, "owner_tag")},
                    "instance-options": {"are-legacy-imds-endpoints-disabled": true},
                    "metadata": {"ssh_authorized_keys": s(v, "ssh_pubkey"), "user_data": user_data},
                    "shape": s(v, "shape"),
                    "shape-config": {"memory-in-gbs": 16.0, "ocpus": 1.0},
                    "source-details": {"boot-volume-size-in-gbs": null, "image-id": image, "source-type": "image"}
                },
                "secondary-vnics": null
            },
            "time-created": created
        }},
        "vcns": {vcn.clone(): {
            "byoipv6-cidr-blocks": null, "cidr-block": s(v, "vcn_cidr"), "cidr-blocks": [s(v, "vcn_cidr")],
            "compartment-id": comp, "default-dhcp-options-id": "ocid1.dhcpoptions.oc1..demo",
            "default-route-table-id": rt, "default-security-list-id": "ocid1.securitylist.oc1..demo",
            "display-name": "vcn-labcert", "dns-label": "labcert", "freeform-tags": {"qual-owner": s(v, "owner_tag")},
            "id": vcn, "lifecycle-state": "AVAILABLE", "time-created": created, "vcn-domain-name": "labcert.oraclevcn.com"
        }},
        "subnets": {subnet.clone(): {
            "availability-domain": null, "cidr-block": s(v, "subnet_cidr"), "compartment-id": comp,
            "display-name": "snet-cert", "dns-label": "cert", "freeform-tags": {"qual-owner": s(v, "owner_tag")},
            "id": subnet, "lifecycle-state": "AVAILABLE",
            "prohibit-internet-ingress": !v["public"].as_bool().unwrap_or(true),
            "prohibit-public-ip-on-vnic": !v["public"].as_bool().unwrap_or(true),
            "route-table-id": rt, "security-list-ids": ["ocid1.securitylist.oc1..demo"],
            "subnet-domain-name": "cert.labcert.oraclevcn.com", "time-created": created,
            "vcn-id": vcn, "virtual-router-ip": "10.60.1.1", "virtual-router-mac": "00:00:17:AB:CD:EF"
        }},
        "route_tables": {rt.clone(): {
            "compartment-id": comp, "display-name": "rt-cert", "freeform-tags": {}, "id": rt,
            "lifecycle-state": "AVAILABLE",
            "route-rules": [route("0.0.0.0/0", &igw), route(&s(v, "pve_cidr"), &drg)],
            "time-created": created, "vcn-id": vcn
        }},
        "internet_gateways": [{
            "compartment-id": comp, "display-name": "igw-labcert", "freeform-tags": {}, "id": igw,
            "is-enabled": true, "lifecycle-state": "AVAILABLE", "route-table-id": null,
            "time-created": created, "vcn-id": vcn
        }],
        "nsg_rules": {nsg.clone(): [
            nsg_rule(&s(v, "runner_cidr"), "04ABEC"),
            nsg_rule(&s(v, "pve_cidr"), "9B1C22")
        ]},
        "instances": {instance.clone(): {
            "availability-domain": ad, "compartment-id": comp, "defined-tags": {},
            "display-name": s(v, "hostname"), "fault-domain": "FAULT-DOMAIN-1", "freeform-tags": tags,
            "id": instance, "image-id": image,
            "instance-options": {"are-legacy-imds-endpoints-disabled": true},
            "launch-mode": "PARAVIRTUALIZED", "lifecycle-state": "RUNNING",
            "metadata": {"ssh_authorized_keys": s(v, "ssh_pubkey"), "user_data": user_data},
            "region": region, "shape": s(v, "shape"),
            "shape-config": {"memory-in-gbs": 16.0, "ocpus": 1.0, "vcpus": 2},
            "source-details": {"image-id": image, "source-type": "image"},
            "time-created": created
        }},
        "vnics": {instance.clone(): [{
            "availability-domain": ad, "compartment-id": comp, "display-name": s(v, "hostname"),
            "freeform-tags": {}, "hostname-label": s(v, "hostname"),
            "id": format!("ocid1.vnic.oc1.{region}.aaaaaaaademovnic0000000000000000000000000000000"),
            "is-primary": true, "lifecycle-state": "AVAILABLE", "mac-address": "02:00:17:00:00:10",
            "nsg-ids": [nsg], "private-ip": "10.60.1.10",
            // Where the guest sshd listens, inside the lab's namespace.
            "public-ip": "127.0.0.1",
            "skip-source-dest-check": false, "subnet-id": subnet, "time-created": created, "vlan-id": null
        }]}
    })
}

/// What the OCI guest's IMDS v2 answers for /opc/v2/instance/.
pub fn oci_imds(v: &Map<String, Value>) -> Value {
    json!({
        "availabilityDomain": s(v, "availability_domain"), "compartmentId": s(v, "compartment_id"),
        "displayName": s(v, "hostname"), "hostname": s(v, "hostname"), "id": s(v, "instance_id"),
        "image": s(v, "image_id"), "region": "eu-frankfurt-1", "canonicalRegionName": s(v, "region"),
        "shape": s(v, "shape"), "state": "Running",
        "freeformTags": {"qual-run-id": s(v, "run_id"), "qual-owner": s(v, "owner_tag")},
        "metadata": {"ssh_authorized_keys": s(v, "ssh_pubkey")}
    })
}

/// An OCI CLI config file with a profile and a (throw-away) API key file.
pub fn oci_config(dir: &Path, profile: &str, tenancy: &str, region: &str) -> PathBuf {
    let d = dir.join("oci");
    std::fs::create_dir_all(&d).unwrap();
    let key = d.join("api_key.pem");
    write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nnot a real key: the fake oci never signs\n-----END PRIVATE KEY-----\n",
    );
    let config = d.join("config");
    write(
        &config,
        &format!(
            "[{profile}]\nuser=ocid1.user.oc1..aaaaaaaademouser\nfingerprint=12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0\n\
             key_file={}\ntenancy={tenancy}\nregion={region}\n",
            key.display()
        ),
    );
    config
}

// ---- judging manifests --------------------------------------------------------------------

/// `(status, reason, message)` of every check of `catalog` in the manifest, by id.
pub fn statuses(m: &Value, catalog: &str) -> BTreeMap<String, (String, String, String)> {
    let prefix = format!("{catalog}.");
    m["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["checks"].as_array().into_iter().flatten())
        .filter_map(|c| {
            let id = c["id"].as_str()?;
            id.starts_with(&prefix).then(|| {
                let text = |k: &str| c[k].as_str().unwrap_or("").to_string();
                (
                    id.to_string(),
                    (text("status"), text("reason"), text("message")),
                )
            })
        })
        .collect()
}

/// Asserts every check of `catalog` is `pass` except those in `expected`: `(id, want)` where
/// `id` may end in `*` (a prefix) and `want` is `status` or `status/reason`. Later entries win.
/// Fails with the whole table.
pub fn assert_statuses(m: &Value, catalog: &str, expected: &[(&str, &str)]) {
    let got = statuses(m, catalog);
    assert!(
        !got.is_empty(),
        "no {catalog}.* checks in the manifest:\n{m:#}"
    );
    for (id, _) in expected {
        let known = got.keys().any(|k| match id.strip_suffix('*') {
            Some(p) => k.starts_with(p),
            None => k == id,
        });
        assert!(known, "no check {id} among {:?}", got.keys());
    }
    let mut table = String::new();
    let mut wrong = 0;
    for (id, (status, reason, message)) in &got {
        let want = expected
            .iter()
            .rev()
            .find(|(pattern, _)| match pattern.strip_suffix('*') {
                Some(p) => id.starts_with(p),
                None => id == pattern,
            })
            .map(|(_, w)| *w)
            .unwrap_or("pass");
        let ok = match want.split_once('/') {
            Some((st, re)) => status == st && reason == re,
            None => status == want,
        };
        if !ok {
            wrong += 1;
        }
        let _ = writeln!(
            table,
            "{} {id:<44} {status:<8} {reason:<28} want {want:<22} {}",
            if ok { " " } else { "✗" },
            message.chars().take(90).collect::<String>()
        );
    }
    assert_eq!(wrong, 0, "{wrong} {catalog} checks differ:\n{table}");
}
