//! Real servers on loopback for the tests: OpenSSH's sshd with internal-sftp
//! (its own host key, a client key, a known_hosts file) and moto in S3 server
//! mode. Each starts once per test process, on a free port, under a guard
//! shell that kills it when the test process exits (its stdin closes).
//! A missing server fails the test; it never skips it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Keeps guard shells' stdin open for the life of the test process.
static GUARDS: Mutex<Vec<(Child, ChildStdin)>> = Mutex::new(Vec::new());

/// Runs `program args` in the background until this process exits.
fn spawn_guarded(program: &Path, args: &[String], log: &Path) {
    let script = r#""$@" & pid=$!; read -r _; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null"#;
    let log = std::fs::File::create(log).unwrap();
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg("guard")
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let stdin = child.stdin.take().unwrap();
    GUARDS.lock().unwrap().push((child, stdin));
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not start on port {port}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn find(candidates: &[PathBuf], name: &str, hint: &str) -> PathBuf {
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not installed ({hint}); the tests need it and never skip: run `bash .ci/run`"))
}

/// A running sshd and what a client needs to reach it.
pub struct Sftp {
    pub port: u16,
    pub user: String,
    pub client_key: PathBuf,
    pub known_hosts: PathBuf,
    /// The server's own folder; tests make per-test roots inside it.
    pub dir: PathBuf,
}

pub fn sftp() -> &'static Sftp {
    static SFTP: OnceLock<Sftp> = OnceLock::new();
    SFTP.get_or_init(|| {
        let sshd = find(&[PathBuf::from("/usr/sbin/sshd")], "OpenSSH's sshd", "Debian package openssh-server");
        let dir = std::env::temp_dir().join(format!("s321d-sshd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::create_dir_all("/run/sshd");
        let keygen = |name: &str| {
            let path = dir.join(name);
            let _ = std::fs::remove_file(&path);
            let ok = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&path).status().unwrap().success();
            assert!(ok, "ssh-keygen failed");
            path
        };
        let host_key = keygen("host_key");
        let client_key = keygen("client_key");
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin yes\nStrictModes no\nUsePAM no\n\
             Subsystem sftp internal-sftp\n",
            host_key.display(),
            dir.join("sshd.pid").display(),
            dir.join("authorized_keys").display()
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let log = dir.join("sshd.log");
        spawn_guarded(&sshd, &["-D".into(), "-e".into(), "-f".into(), dir.join("sshd_config").display().to_string()], &log);
        wait_for_port(port, "sshd", &log);
        let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
        let mut parts = host_pub.split_whitespace();
        let (alg, key) = (parts.next().unwrap(), parts.next().unwrap());
        let known_hosts = dir.join("known_hosts");
        std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {alg} {key}\n")).unwrap();
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| {
            String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_owned()
        });
        Sftp { port, user, client_key, known_hosts, dir }
    })
}

/// A running moto S3 server.
pub struct S3 {
    pub endpoint: String,
    pub port: u16,
}

pub fn s3() -> &'static S3 {
    static S3: OnceLock<S3> = OnceLock::new();
    S3.get_or_init(|| {
        let home = std::env::var("HOME").unwrap_or_default();
        let mut candidates = Vec::new();
        if let Ok(p) = std::env::var("S321D_MOTO_SERVER") {
            candidates.push(PathBuf::from(p));
        }
        candidates.push(PathBuf::from(&home).join(".cache/s321d-venv/bin/moto_server"));
        if let Some(paths) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&paths).map(|p| p.join("moto_server")));
        }
        let moto = find(&candidates, "moto_server", "pip install 'moto[server]'");
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("s321d-moto-{}-{port}.log", std::process::id()));
        spawn_guarded(
            &moto,
            &[
                "-H".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ],
            &log,
        );
        wait_for_port(port, "moto_server", &log);
        S3 {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
        }
    })
}

/// A second moto S3 server that checks every request's signature against
/// its (empty) IAM user list, so any access key is refused with 403
/// `InvalidAccessKeyId`, as AWS refuses a wrong key.
pub fn s3_refusing_keys() -> &'static S3 {
    static S3: OnceLock<S3> = OnceLock::new();
    S3.get_or_init(|| {
        let home = std::env::var("HOME").unwrap_or_default();
        let mut candidates = Vec::new();
        if let Ok(p) = std::env::var("S321D_MOTO_SERVER") {
            candidates.push(PathBuf::from(p));
        }
        candidates.push(PathBuf::from(&home).join(".cache/s321d-venv/bin/moto_server"));
        if let Some(paths) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&paths).map(|p| p.join("moto_server")));
        }
        let moto = find(&candidates, "moto_server", "pip install 'moto[server]'");
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("s321d-moto-auth-{}-{port}.log", std::process::id()));
        let args = vec![
            "INITIAL_NO_AUTH_ACTION_COUNT=0".to_owned(),
            moto.display().to_string(),
            "-H".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        spawn_guarded(Path::new("/usr/bin/env"), &args, &log);
        wait_for_port(port, "moto_server (auth)", &log);
        S3 {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
        }
    })
}

impl S3 {
    /// Creates a bucket (plain HTTP PUT; moto needs no signature for it).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = http("PUT", self.port, &format!("/{bucket}"), "");
        assert!(
            status == 200 || status == 409,
            "creating bucket {bucket}: {status} {body}"
        );
    }
}

/// A minimal HTTP/1.1 request on loopback: (status, body).
pub fn http(method: &str, port: u16, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect to port {port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    // Chunked bodies (axum streams) carry hex sizes; tests only search the text.
    (status, body)
}

/// A running aiosmtpd (Debian's python3-aiosmtpd) that stores every message it
/// accepts in a Maildir. Each call starts a fresh server on its own port.
pub struct Smtp {
    pub port: u16,
    /// The Maildir; messages land in `new/`.
    pub maildir: PathBuf,
}

fn aiosmtpd_python() -> PathBuf {
    let python = PathBuf::from("/usr/bin/python3");
    let ok = python.is_file()
        && Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "aiosmtpd is not installed (Debian package python3-aiosmtpd); the tests need it and never skip: run `bash .ci/run`"
    );
    python
}

impl Smtp {
    /// Starts a server on a free port.
    pub fn start(dir: &Path) -> Smtp {
        Smtp::start_on(free_port(), dir)
    }

    /// Starts a server on `port`, storing into `dir/maildir-PORT`.
    pub fn start_on(port: u16, dir: &Path) -> Smtp {
        Smtp::start_with(port, dir, &[])
    }

    /// Starts a server with extra aiosmtpd options (`--tlscert`, `--smtpscert`...).
    pub fn start_with(port: u16, dir: &Path, extra: &[String]) -> Smtp {
        let python = aiosmtpd_python();
        // aiosmtpd creates the Maildir (new/, cur/, tmp/) if it does not exist.
        let maildir = dir.join(format!("maildir-{port}"));
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.join(format!("aiosmtpd-{port}.log"));
        let mut args: Vec<String> = vec![
            "-m".into(),
            "aiosmtpd".into(),
            "-n".into(),
            "-l".into(),
            format!("127.0.0.1:{port}"),
        ];
        args.extend(extra.iter().cloned());
        args.extend([
            "-c".into(),
            "aiosmtpd.handlers.Mailbox".into(),
            maildir.display().to_string(),
        ]);
        spawn_guarded(&python, &args, &log);
        wait_for_port(port, "aiosmtpd", &log);
        Smtp { port, maildir }
    }

    /// The messages received so far (raw bytes), oldest first.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| {
                (
                    e.metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH),
                    e.path(),
                )
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| std::fs::read(p).unwrap())
            .collect()
    }

    /// Waits until at least `n` messages arrived.
    pub fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} message(s) at the SMTP server; got {}",
                m.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
