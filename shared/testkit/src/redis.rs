//! Starts redis-server (see crate docs).
//!
//! Each [`RedisServer`] is a private, throw-away instance: its own free loopback port and
//! its own temporary directory. It is never the machine's shared Redis on 6379, so tests
//! cannot see each other's keys or anyone else's. It persists as a cluster's Redis must
//! (`deploy/local-cluster.sh`, docs/cluster.md): every write in the append-only file,
//! fsynced before the answer, so a killed and restarted server keeps what it acknowledged.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep};

/// How long a fresh redis-server may take to answer. Generous because test machines
/// are often busy compiling; a healthy start takes a few milliseconds.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// `free_port` can race with another process grabbing the port; a few fresh ports make
/// that vanishingly unlikely to fail a test.
const START_ATTEMPTS: usize = 3;
const LOG_FILE: &str = "redis-server.log";

/// A running `redis-server`, killed (and reaped) when dropped.
#[derive(Debug)]
pub struct RedisServer {
    /// `redis://127.0.0.1:<port>/`, ready for `redis::Client::open`.
    pub url: String,
    pub port: u16,
    child: Child,
    // Held so the directory lives exactly as long as the server.
    dir: TempDir,
}

impl RedisServer {
    /// Starts a server on a free loopback port and returns once it answers.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("create redis-server temp dir")?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let port = crate::free_port();
            match launch_ready(port, dir.path()).await {
                Ok(child) => {
                    let url = format!("redis://127.0.0.1:{port}/");
                    return Ok(Self {
                        url,
                        port,
                        child,
                        dir,
                    });
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("redis-server never started")))
    }

    /// Kills the server (SIGKILL) and starts a new one on the same port and directory, so
    /// clients can be tested across a restart. Acknowledged writes survive (see above).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        stop(&mut self.child);
        self.child = launch_ready(self.port, self.dir.path()).await?;
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// SIGKILL then reap: blocking in `wait` is fine here because a killed process exits at
/// once, and reaping avoids leaving zombies behind a long test run.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Spawns redis-server on `port` and waits until it answers; kills it again if it never answers.
async fn launch_ready(port: u16, dir: &Path) -> anyhow::Result<Child> {
    let mut child = spawn(port, dir)?;
    match wait_ready(port, &mut child).await {
        Ok(()) => Ok(child),
        Err(error) => {
            stop(&mut child);
            let log = std::fs::read_to_string(dir.join(LOG_FILE)).unwrap_or_default();
            Err(error.context(format!("redis-server on port {port}; output:\n{log}")))
        }
    }
}

fn spawn(port: u16, dir: &Path) -> anyhow::Result<Child> {
    let log = File::create(dir.join(LOG_FILE)).context("create redis-server log file")?;
    let log_err = log.try_clone().context("clone redis-server log file")?;
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ])
        .args(["--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .context("spawn redis-server (is it on PATH?)")
}

/// Polls until the server answers as our child, it exits, or [`READY_TIMEOUT`] passes.
async fn wait_ready(port: u16, child: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().context("poll redis-server")? {
            bail!("redis-server exited early with {status}");
        }
        if answers_as(port, child.id()).await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("redis-server did not answer within {READY_TIMEOUT:?}");
        }
        sleep(POLL_INTERVAL).await;
    }
}

/// Whether the server on `port` is up and is our child. Asking for its process id rather
/// than just PING means a port stolen by another test's server can never pass as ours.
async fn answers_as(port: u16, pid: u32) -> bool {
    let attempt = async {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let mut stream = BufReader::new(stream);
        stream.get_mut().write_all(b"INFO server\r\n").await?;
        // The reply is a bulk string: `$<len>\r\n<len bytes>\r\n`.
        let mut header = String::new();
        stream.read_line(&mut header).await?;
        let Some(len) = header
            .strip_prefix('$')
            .and_then(|n| n.trim().parse::<usize>().ok())
        else {
            return Ok(false); // e.g. `-LOADING`: up but not ready
        };
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await?;
        let needle = format!("process_id:{pid}\r\n");
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&body).contains(&needle))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Ok(true))
    )
}
