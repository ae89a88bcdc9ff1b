//! Starts an SMTP server (Python's aiosmtpd, installed into the test venv by `.ci/test`)
//! that accepts every message and records it, so tests check what a mail server really
//! received.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tempfile::TempDir;
use tokio::net::TcpStream;

use crate::free_port;

/// Records every accepted message as one JSON line; `250` is answered only after the
/// line is written, so an acknowledged message is always in the file.
const RECORDER: &str = r#"
import asyncio, json, sys
from aiosmtpd.smtp import SMTP

port, out = int(sys.argv[1]), sys.argv[2]

class Record:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            f.write(json.dumps({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                                "data": envelope.content.decode("utf-8", "replace")}) + "\n")
        return "250 Message accepted for delivery"

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Record()), "127.0.0.1", port)
    await server.serve_forever()

asyncio.run(main())
"#;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub rcpt_tos: Vec<String>,
    /// Headers and body, as sent.
    pub data: String,
}

/// A plain-text SMTP server on a free loopback port (no TLS, no AUTH). Killed when
/// dropped.
pub struct SmtpServer {
    pub port: u16,
    child: Child,
    dir: TempDir,
}

impl SmtpServer {
    /// Starts the server with `python3` from `PATH` and returns once it accepts
    /// connections.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("create smtp temp dir")?;
        let port = free_port();
        let child = Command::new("python3")
            .args(["-c", RECORDER, &port.to_string()])
            .arg(dir.path().join("received.jsonl"))
            .stdout(Stdio::null())
            .spawn()
            .context("start python3 (aiosmtpd: see .ci/test)")?;
        let mut server = Self { port, child, dir };
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Some(status) = server.child.try_wait()? {
                bail!("the smtp server exited with {status} (is aiosmtpd installed?)");
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the smtp server did not accept connections in time");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok(server)
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("received.jsonl")
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let text = std::fs::read_to_string(self.path()).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|v| Received {
                mail_from: v["mail_from"].as_str().unwrap_or_default().to_owned(),
                rcpt_tos: v["rcpt_tos"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect(),
                data: v["data"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Errors mean the process is already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
