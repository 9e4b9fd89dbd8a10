//! Real servers the source tests talk to, started on 127.0.0.1 with temporary folders and stopped
//! on drop: the CNCF distribution registry (Debian's `docker-registry`), plain or with htpasswd
//! basic auth or token auth.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::missing;

/// A program on PATH, or `None` after saying the test is skipped (a failure when `flag` is required).
pub fn tool(name: &str, flag: &str, package: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file());
    if found.is_none() {
        missing(flag, &format!("{name} is not installed (Debian package {package})"));
    }
    found
}

/// A free TCP port on loopback (bound and released: a server started right after gets it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// How the registry authenticates.
pub enum Auth {
    None,
    /// htpasswd basic auth with this user and password.
    Basic(&'static str, &'static str),
    /// Token auth: the registry sends clients to `realm`, trusting tokens signed by `cert`.
    Token {
        realm: String,
        service: String,
        issuer: String,
        cert: PathBuf,
    },
}

/// A running registry.
pub struct Registry {
    pub port: u16,
    child: Child,
    pub dir: tempfile::TempDir,
    config: PathBuf,
}

impl Registry {
    /// Start one, or `None` when docker-registry is missing (and not required).
    pub fn start(auth: Auth) -> Option<Registry> {
        let binary = tool("docker-registry", "REGISTRY", "docker-registry")?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let auth_yaml = match &auth {
            Auth::None => String::new(),
            Auth::Basic(user, password) => {
                let htpasswd = dir.path().join("htpasswd");
                let hashed = bcrypt_line(user, password)?;
                std::fs::write(&htpasswd, hashed).unwrap();
                format!("auth:\n  htpasswd:\n    realm: test\n    path: {}\n", htpasswd.display())
            }
            Auth::Token { realm, service, issuer, cert } => format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                cert.display()
            ),
        };
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth_yaml}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = spawn_registry(&binary, &config);
        let registry = Registry { port, child, dir, config };
        registry.wait_ready();
        Some(registry)
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: localhost\r\n\r\n");
                let mut head = [0u8; 12];
                if s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the registry on port {} did not start", self.port);
    }

    /// Stop it (the data stays, for a restart).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        let binary = tool("docker-registry", "REGISTRY", "docker-registry").unwrap();
        self.child = spawn_registry(&binary, &self.config);
        self.wait_ready();
    }

    /// Where the registry keeps the blob with this digest.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir.path().join(format!("data/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }

    /// Push with skopeo (`src` in skopeo's syntax) to `name` here.
    pub fn push(&self, src: &str, name: &str, extra: &[&str]) -> bool {
        let Some(skopeo) = tool("skopeo", "SKOPEO", "skopeo") else { return false };
        let dest = format!("docker://{}/{name}", self.host());
        let out = Command::new(skopeo)
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .args(extra)
            .args([src, &dest])
            .output()
            .unwrap();
        assert!(out.status.success(), "skopeo copy {src} {dest}: {}", String::from_utf8_lossy(&out.stderr));
        true
    }
}

fn spawn_registry(binary: &Path, config: &Path) -> Child {
    Command::new(binary)
        .args(["serve", config.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An htpasswd line with a bcrypt hash, made by `htpasswd -nbB` (apache2-utils).
fn bcrypt_line(user: &str, password: &str) -> Option<String> {
    let htpasswd = tool("htpasswd", "REGISTRY", "apache2-utils")?;
    let out = Command::new(htpasswd).args(["-nbB", user, password]).output().unwrap();
    assert!(out.status.success());
    Some(String::from_utf8(out.stdout).unwrap())
}

/// Whether the tests run as root (the engines below need it).
pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Wait until `path` is a socket that accepts connections.
fn wait_for_socket(path: &Path, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not start: {}", std::fs::read_to_string(log).unwrap_or_default());
}

/// A daemon of the test's own, stopped (and waited for) on drop.
pub struct Daemon {
    child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl Daemon {
    /// `dockerd` with its data, state and socket in a temporary folder, no networking set up.
    pub fn dockerd() -> Option<Daemon> {
        let binary = tool("dockerd", "DOCKER", "docker.io")?;
        tool("docker", "DOCKER", "docker.io")?;
        if !is_root() {
            missing("DOCKER", "dockerd needs root");
            return None;
        }
        // Short paths: a unix socket path may not pass 108 bytes.
        let dir = tempfile::Builder::new().prefix("ls-dk").tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let log = dir.path().join("log");
        let child = Command::new(binary)
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--iptables=false", "--ip-masq=false", "--bridge=none", "--storage-driver=overlay2"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("err")).unwrap())
            .spawn()
            .unwrap();
        wait_for_socket(&socket, "dockerd", &dir.path().join("err"));
        Some(Daemon { child, dir, socket })
    }

    /// `containerd` with its root, state and socket in a temporary folder.
    pub fn containerd() -> Option<Daemon> {
        let binary = tool("containerd", "CONTAINERD", "containerd")?;
        tool("ctr", "CONTAINERD", "containerd")?;
        if !is_root() {
            missing("CONTAINERD", "containerd needs root");
            return None;
        }
        let dir = tempfile::Builder::new().prefix("ls-ctd").tempdir().unwrap();
        let socket = dir.path().join("containerd.sock");
        let err = dir.path().join("err");
        let child = Command::new(binary)
            .arg("--root")
            .arg(dir.path().join("root"))
            .arg("--state")
            .arg(dir.path().join("state"))
            .arg("--address")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        wait_for_socket(&socket, "containerd", &err);
        Some(Daemon { child, dir, socket })
    }

    /// Podman's API service on a socket of its own, over the storage `storage_conf` names.
    pub fn podman_service(storage_conf: &Path) -> Option<Daemon> {
        let binary = tool("podman", "PODMAN", "podman")?;
        let dir = tempfile::Builder::new().prefix("ls-pm").tempdir().unwrap();
        let socket = dir.path().join("podman.sock");
        let err = dir.path().join("err");
        let child = Command::new(binary)
            .env("CONTAINERS_STORAGE_CONF", storage_conf)
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        wait_for_socket(&socket, "podman system service", &err);
        Some(Daemon { child, dir, socket })
    }

    /// `unix://SOCKET`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM first: dockerd and containerd clean their mounts up on it.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A podman storage of the test's own (overlay, as root) in a temporary folder, so tests never
/// touch the machine's images. Dropping it unmounts what podman mounted there (its overlay
/// driver bind-mounts its folder onto itself and keeps container mounts), then removes it.
pub struct PodmanStorage {
    /// The `storage.conf` to point `CONTAINERS_STORAGE_CONF` at.
    pub conf: PathBuf,
    dir: tempfile::TempDir,
}

impl PodmanStorage {
    /// A fresh storage, or `None` after saying why the test is skipped.
    pub fn new() -> Option<PodmanStorage> {
        tool("podman", "PODMAN", "podman")?;
        if !is_root() {
            missing("PODMAN", "podman's overlay storage needs root here");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("storage.conf");
        std::fs::write(
            &conf,
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                dir.path().join("graph").display(),
                dir.path().join("run").display()
            ),
        )
        .unwrap();
        Some(PodmanStorage { conf, dir })
    }

    /// The `storage.conf` path as text, for environment variables.
    pub fn conf_str(&self) -> &str {
        self.conf.to_str().unwrap()
    }

    /// Run podman on this storage; panics with its stderr when it fails.
    pub fn podman(&self, args: &[&str]) -> String {
        let out = Command::new("podman").args(args).env("CONTAINERS_STORAGE_CONF", &self.conf).output().unwrap();
        assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// How podman's and layerscope's views of a container's writable layer compare.
#[derive(Debug, PartialEq, Eq)]
pub struct WritableView {
    /// Paths added.
    pub added: std::collections::BTreeSet<String>,
    /// Paths changed (content or metadata).
    pub changed: std::collections::BTreeSet<String>,
    /// Paths deleted (the topmost of a deleted subtree).
    pub deleted: std::collections::BTreeSet<String>,
}

impl PodmanStorage {
    /// Load `archive`, create container `name` of `image` and mount it: its merged folder, where
    /// changes go through overlayfs as a running container's would (`podman run` cannot run here).
    pub fn mounted_container(&self, archive: &Path, image: &str, name: &str) -> PathBuf {
        self.podman(&["load", "-q", "-i", archive.to_str().unwrap()]);
        self.podman(&["create", "--name", name, image, "true"]);
        PathBuf::from(self.podman(&["mount", name]))
    }

    /// `podman diff`'s view of container `name`.
    pub fn diff(&self, name: &str) -> WritableView {
        let value: serde_json::Value = serde_json::from_str(&self.podman(&["diff", "--format", "json", name])).unwrap();
        let set = |key: &str| {
            value[key]
                .as_array()
                .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        WritableView { added: set("added"), changed: set("changed"), deleted: set("deleted") }
    }

    /// `podman container inspect --size`: (SizeRw, SizeRootFs).
    pub fn sizes(&self, name: &str) -> (u64, u64) {
        let value: serde_json::Value =
            serde_json::from_str(&self.podman(&["container", "inspect", "--size", name])).unwrap();
        (value[0]["SizeRw"].as_u64().unwrap(), value[0]["SizeRootFs"].as_u64().unwrap())
    }

    /// Environment for layerscope to reach this storage's podman (and nothing else).
    pub fn env(&self) -> Vec<(&str, &str)> {
        vec![("CONTAINERS_STORAGE_CONF", self.conf_str()), ("PATH", super::SYSTEM_PATH)]
    }
}

/// Whether layerscope's view of a writable layer is podman's: the same paths added and deleted,
/// the same files changed; of the folders holding changes, layerscope lists as changed those
/// whose own metadata changed, which podman lists too (podman also lists some folders above a
/// change, not all).
pub fn assert_same_changes(ours: &WritableView, theirs: &WritableView) {
    assert_eq!(ours.added, theirs.added, "added");
    assert_eq!(ours.deleted, theirs.deleted, "deleted");
    let all: Vec<&String> =
        [ours, theirs].iter().flat_map(|v| v.added.iter().chain(&v.changed).chain(&v.deleted)).collect();
    let holds_changes = |p: &String| all.iter().any(|q| q.starts_with(&format!("{p}/")));
    let leaves = |v: &WritableView| -> std::collections::BTreeSet<String> {
        v.changed.iter().filter(|p| !holds_changes(p)).cloned().collect()
    };
    assert_eq!(leaves(ours), leaves(theirs), "changed paths");
    let folders: Vec<&String> = ours.changed.iter().filter(|p| holds_changes(p)).collect();
    assert!(folders.iter().all(|d| theirs.changed.contains(*d)), "changed folders {folders:?} in {theirs:?}");
}

/// layerscope's view of the top layer of `files --changes` output, as `podman diff` lists it:
/// a directory whose metadata changed is changed, a path below a deleted one is not listed.
pub fn writable_view(files_changes: &str) -> WritableView {
    let records: Vec<serde_json::Value> = files_changes.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let removed: std::collections::BTreeSet<String> =
        records.iter().filter(|r| r["change"] == "removed").map(|r| r["path"].as_str().unwrap().to_string()).collect();
    let under_removed = |p: &str| removed.iter().any(|r| p.starts_with(&format!("{r}/")));
    let pick = |changes: &[&str]| {
        records
            .iter()
            .filter(|r| changes.contains(&r["change"].as_str().unwrap()))
            .map(|r| r["path"].as_str().unwrap().to_string())
            .filter(|p| !under_removed(p))
            .collect()
    };
    WritableView { added: pick(&["added"]), changed: pick(&["modified", "metadata_only"]), deleted: pick(&["removed"]) }
}

impl Drop for PodmanStorage {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["unmount", "--all"])
            .env("CONTAINERS_STORAGE_CONF", &self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // Whatever is still mounted below the folder, innermost first.
        let root = self.dir.path().to_path_buf();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<PathBuf> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .map(PathBuf::from)
            .filter(|p| p.starts_with(&root))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for p in points {
            let _ = Command::new("umount").arg("-l").arg(&p).status();
        }
    }
}

/// A token service for the registry's token auth (the distribution registry has none of its
/// own): it hands out JWTs signed with a key made by `openssl`, pull on `public/…` to anyone,
/// everything to `alice:wonderland`. It records the requests it saw.
pub struct TokenService {
    pub port: u16,
    pub cert: PathBuf,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _dir: tempfile::TempDir,
}

/// `alice:wonderland`, base64.
const TOKEN_USER: &str = "YWxpY2U6d29uZGVybGFuZA==";

impl TokenService {
    pub fn start() -> Option<TokenService> {
        let openssl = tool("openssl", "REGISTRY", "openssl")?;
        let dir = tempfile::tempdir().unwrap();
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let out = Command::new(&openssl)
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=layerscope test token"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let der = Command::new(&openssl).args(["x509", "-outform", "DER", "-in"]).arg(&cert).output().unwrap().stdout;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, stopping) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let request = read_request(&mut stream);
                seen.lock().unwrap().push(request.clone());
                let response = token_response(&request, &openssl, &key, &der);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Some(TokenService { port, cert, requests, stop, _dir: dir })
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }
}

impl Drop for TokenService {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The request line and headers of one HTTP request.
fn read_request(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn token_response(request: &str, openssl: &Path, key: &Path, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let query = request.split_whitespace().nth(1).unwrap_or("").split_once('?').map_or("", |(_, q)| q).to_string();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(|v| v.replace("%3A", ":").replace("%2F", "/"))
    };
    let authed = request.lines().any(|l| l.eq_ignore_ascii_case(&format!("authorization: basic {TOKEN_USER}")));
    let mut access = Vec::new();
    for scope in query.split('&').filter_map(|kv| kv.strip_prefix("scope=")) {
        let scope = scope.replace("%3A", ":").replace("%2F", "/").replace("%2C", ",");
        let mut parts = scope.splitn(3, ':');
        let (kind, name, actions) =
            (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let granted: Vec<&str> =
            actions.split(',').filter(|a| authed || (*a == "pull" && name.starts_with("public/"))).collect();
        access.push(serde_json::json!({"type": kind, "name": name, "actions": granted}));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [base64::engine::general_purpose::STANDARD.encode(der)]});
    let claims = serde_json::json!({
        "iss": "layerscope-test", "sub": if authed { "alice" } else { "" },
        "aud": param("service").unwrap_or_default(), "exp": now + 600, "nbf": now - 60, "iat": now,
        "jti": format!("{now}-{}", access.len()), "access": access,
    });
    let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let mut child = Command::new(openssl)
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(signing_input.as_bytes()).unwrap();
    let signature = child.wait_with_output().unwrap().stdout;
    let token = format!("{signing_input}.{}", b64(&signature));
    let body = serde_json::json!({"token": token, "access_token": token, "expires_in": 600}).to_string();
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A proxy in front of a registry that answers the first request for each blob with an error
/// (503, then 429 for the next blob, alternating) and forwards the rest, one request per
/// connection: how a flaky registry or a rate limit looks to a client.
pub struct FlakyProxy {
    pub port: u16,
    /// How many requests it failed.
    pub failed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FlakyProxy {
    pub fn start(upstream: u16) -> FlakyProxy {
        Self::start_with(upstream, false)
    }

    /// Forward everything but blob requests, which it answers never (a stalled download).
    pub fn stalling(upstream: u16) -> FlakyProxy {
        Self::start_with(upstream, true)
    }

    fn start_with(upstream: u16, stall: bool) -> FlakyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let failed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = failed.clone();
        std::thread::spawn(move || {
            let failed_paths = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
            for stream in listener.incoming() {
                let Ok(mut client) = stream else { continue };
                let (failed_paths, counter) = (failed_paths.clone(), counter.clone());
                std::thread::spawn(move || {
                    let head = read_request(&mut client);
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    if stall && path.contains("/blobs/") {
                        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        std::thread::sleep(Duration::from_secs(120));
                        return;
                    }
                    if path.contains("/blobs/") && failed_paths.lock().unwrap().insert(path) {
                        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let status = if n % 2 == 0 { "503 Service Unavailable" } else { "429 Too Many Requests" };
                        let _ = client.write_all(
                            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
                        );
                        return;
                    }
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
                    let mut forwarded: String = head
                        .trim_end()
                        .lines()
                        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                        .map(|l| format!("{l}\r\n"))
                        .collect();
                    forwarded.push_str("Connection: close\r\n\r\n");
                    if server.write_all(forwarded.as_bytes()).is_ok() {
                        let _ = std::io::copy(&mut server, &mut client);
                    }
                });
            }
        });
        FlakyProxy { port, failed }
    }
}
