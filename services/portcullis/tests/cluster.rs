//! Black-box: the local cluster (`deploy/local-cluster.sh`) as a user brings it up — a
//! 3-node JetStream cluster, Redis, two replicas of every service, each its own
//! `portcullis serve` process — driven through boto3.
//!
//! Needs what `.ci/test` installs: nats-server >= 2.12.3 (`PORTCULLIS_NATS_SERVER` or on
//! `PATH`), redis-server, python3 with boto3 and PyJWT, curl.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use portcullis_testkit::http_get;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "PCAKCLUSTERTEST1";
const SECRET_KEY: &str = "cluster-test-secret-access-key";
/// How long `local-cluster.sh up` may take (it has its own, shorter, deadline).
const UP_TIMEOUT: Duration = Duration::from_secs(100);
const DOWN_TIMEOUT: Duration = Duration::from_secs(40);
const SPINE_TIMEOUT: Duration = Duration::from_secs(90);
/// The whole fault workload: sign-ups, faults, recovery (including the directory's 30 s
/// grace period before an orphaned name claim may be taken over), verification.
const FAULTS_TIMEOUT: Duration = Duration::from_secs(120);
const USERS: usize = 150;
/// Faults are injected once this many sign-ups are acknowledged.
const KILL_AFTER_ACKS: usize = 50;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn script() -> PathBuf {
    repo().join("deploy/local-cluster.sh")
}

fn e2e(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(script)
}

/// This test is synchronous (no async runtime to block), so a plain sleep is right.
#[allow(clippy::disallowed_methods)]
fn pause(duration: Duration) {
    std::thread::sleep(duration);
}

/// One cluster at a time on this machine, across test processes too (nextest runs each
/// test in its own process): two clusters on a small machine would only slow each other
/// past their deadlines.
fn exclusive() -> File {
    let path = std::env::temp_dir().join("portcullis-cluster-test.lock");
    let file = File::create(&path).expect("create the cluster test lock file");
    file.lock().expect("lock the cluster test lock file");
    file
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn describe(&self) -> String {
        format!(
            "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Kills (and reaps) a child process when dropped, if it is still running.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Runs `command` to completion, killing it (and failing) after `limit`.
fn run(command: &mut Command, limit: Duration) -> Finished {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
    let mut child = Reaped(child);
    let stdout = drain(child.0.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.0.stderr.take().expect("stderr is piped"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("poll child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.0.kill();
            let _ = child.0.wait();
            break None;
        }
        pause(Duration::from_millis(50));
    };
    let finished = Finished {
        status: status.unwrap_or_else(|| child.0.wait().expect("reap child")),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    assert!(
        status.is_some(),
        "{command:?} did not finish within {limit:?}\n{}",
        finished.describe()
    );
    finished
}

fn python(script: &Path) -> Command {
    let mut command = Command::new("python3");
    command
        .arg(script)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE");
    command
}

/// A cluster brought up by the script in a temporary state directory; `down` runs when
/// it is dropped, whatever happened in between (including a failed `up`).
struct Cluster {
    state: tempfile::TempDir,
    gateways: Vec<String>,
    /// A private copy of the binary under test: the shared target directory's copy may
    /// be rebuilt by a concurrent `cargo build` while the cluster runs.
    bin: tempfile::TempDir,
    _lock: File,
}

impl Cluster {
    fn command(&self, verb: &str) -> Command {
        let mut command = Command::new("bash");
        command
            .arg(script())
            .arg(verb)
            .arg("--state")
            .arg(self.state.path())
            .env("PORTCULLIS_BIN", self.bin.path().join("portcullis"))
            .env("PORTCULLIS_ADMIN_ACCESS_KEY_ID", ACCESS_KEY)
            .env("PORTCULLIS_ADMIN_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("PORTCULLIS_LOG", "info")
            // The e2e scripts' stand-in identity providers listen on loopback, and a
            // SAML provider's metadata is fetched again after a second.
            .env("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.0/8")
            .env("PORTCULLIS_OUTBOUND_METADATA_REFRESH_SECS", "1")
            // Each authn-flow replica indexes this corpus as it starts (see `up`).
            .env(
                "PORTCULLIS_THREAT_PROTECTION_BREACHED_PASSWORDS",
                self.bin.path().join("pwned.txt"),
            )
            .env(
                "PORTCULLIS_THREAT_PROTECTION_IP_GEOLOCATION",
                self.bin.path().join("geo.mmdb"),
            );
        command
    }

    fn up() -> Self {
        let lock = exclusive();
        let bin = tempfile::tempdir().expect("create a directory for the binary");
        std::fs::copy(
            env!("CARGO_BIN_EXE_portcullis"),
            bin.path().join("portcullis"),
        )
        .expect("copy the portcullis binary");
        // A breached-password corpus: SHA-1 of `Breached!Passw0rd1`.
        std::fs::write(
            bin.path().join("pwned.txt"),
            "139903E49C7CA772AD4D2119DCF176F983884408:12\n",
        )
        .expect("write the breached-password corpus");
        // A city database written with MaxMind's writer (`geo_db.py`).
        let out = run(
            Command::new("python3")
                .arg(e2e("geo_db.py"))
                .arg(bin.path().join("geo.mmdb")),
            SPINE_TIMEOUT,
        );
        assert!(out.status.success(), "geo_db.py failed\n{}", out.describe());
        let mut cluster = Cluster {
            state: tempfile::tempdir().expect("create the state directory"),
            gateways: Vec::new(),
            bin,
            _lock: lock,
        };
        let started = Instant::now();
        let out = run(&mut cluster.command("up"), UP_TIMEOUT);
        assert!(
            out.status.success(),
            "local-cluster.sh up failed\n{}",
            out.describe()
        );
        cluster.gateways = out
            .stdout
            .lines()
            .filter_map(|line| line.strip_prefix("gateway "))
            .map(str::to_owned)
            .collect();
        assert_eq!(
            cluster.gateways.len(),
            2,
            "one `gateway <url>` line per replica expected\n{}",
            out.describe()
        );
        eprintln!(
            "cluster up in {:?}: {:?} (state in {})",
            started.elapsed(),
            cluster.gateways,
            cluster.state.path().display()
        );
        cluster
    }

    fn pid(&self, name: &str) -> u32 {
        let text = std::fs::read_to_string(self.state.path().join("pids").join(name))
            .unwrap_or_else(|e| panic!("pid of {name}: {e}"));
        text.split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad pid file for {name}: {text:?}"))
    }

    fn port(&self, name: &str) -> u16 {
        let text = std::fs::read_to_string(self.state.path().join("ports").join(name))
            .unwrap_or_else(|e| panic!("port of {name}: {e}"));
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("bad port file for {name}: {text:?}"))
    }

    fn alive(&self, name: &str) -> bool {
        // A killed child of nobody here may linger as a zombie: check its state too.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid(name)));
        stat.is_ok_and(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
    }

    fn kill9(&self, name: &str) {
        let pid = self.pid(name);
        let status = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -9 {name} (pid {pid}) failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.alive(name) {
            assert!(
                Instant::now() < deadline,
                "{name} still alive after kill -9"
            );
            pause(Duration::from_millis(20));
        }
    }

    /// The node (`nats-<n>`) leading the event log's stream, as the monitoring endpoint
    /// of a live node reports it; `fallback` if none answers.
    fn log_stream_leader(&self, fallback: &str) -> String {
        for node in ["nats-1", "nats-2", "nats-3"] {
            let port = self.port(&format!("{node}.monitor"));
            let Some((200, body)) = http_get(port, "/jsz?streams=true&accounts=true") else {
                continue;
            };
            let Ok(jsz) = serde_json::from_str::<serde_json::Value>(&body) else {
                continue;
            };
            let streams = jsz["account_details"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|account| account["stream_detail"].as_array().into_iter().flatten());
            for stream in streams {
                if stream["name"] == "PORTCULLIS_LOG"
                    && let Some(leader) = stream["cluster"]["leader"].as_str()
                    && let Some(n) = leader.strip_prefix('n')
                {
                    return format!("nats-{n}");
                }
            }
        }
        fallback.to_owned()
    }

    fn gateway_health(&self, replica: usize) -> Option<u16> {
        http_get(self.port(&format!("gateway-{replica}")), "/health").map(|(status, _)| status)
    }

    /// Copies the logs out of the state directory (which `down` removes), for a failed
    /// test.
    fn keep_logs(&self) {
        let from = self.state.path().join("logs");
        let to = std::env::temp_dir().join(format!(
            "portcullis-cluster-logs-{}-{}",
            std::process::id(),
            self.state
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let Ok(entries) = std::fs::read_dir(&from) else {
            return;
        };
        if std::fs::create_dir_all(&to).is_err() {
            return;
        }
        for entry in entries.flatten() {
            let _ = std::fs::copy(entry.path(), to.join(entry.file_name()));
        }
        eprintln!("cluster logs kept in {}", to.display());
    }

    fn log_tail(&self, name: &str) -> String {
        let log =
            std::fs::read_to_string(self.state.path().join("logs").join(format!("{name}.log")))
                .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.keep_logs();
        }
        let mut command = self.command("down");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn();
        let Ok(child) = child else {
            eprintln!("could not run local-cluster.sh down");
            return;
        };
        let mut child = Reaped(child);
        let deadline = Instant::now() + DOWN_TIMEOUT;
        loop {
            match child.0.try_wait() {
                Ok(Some(status)) => {
                    if !status.success() {
                        eprintln!("local-cluster.sh down exited with {status}");
                    }
                    return;
                }
                Ok(None) if Instant::now() < deadline => pause(Duration::from_millis(50)),
                _ => {
                    eprintln!("local-cluster.sh down did not finish in {DOWN_TIMEOUT:?}");
                    return;
                }
            }
        }
    }
}

/// The spine path (pools, clients, sign-up, sign-in, tokens, refresh) through boto3 with
/// every step going to the other gateway replica than the step before: the sign-in is
/// served by another replica (and another directory, authn-flow and token replica, and
/// another read model) than the sign-up. Then users imported with password hashes.
#[test]
fn the_spine_path_works_across_replicas_of_a_cluster() {
    let cluster = Cluster::up();
    let status = run(&mut cluster.command("status"), Duration::from_secs(30));
    assert!(
        status.status.success(),
        "status after up: {}",
        status.describe()
    );
    let started = Instant::now();
    let out = run(
        python(&e2e("spine.py")).args(&cluster.gateways),
        SPINE_TIMEOUT,
    );
    assert!(out.status.success(), "spine.py failed\n{}", out.describe());
    eprintln!("{}spine.py took {:?}", out.stdout, started.elapsed());
    // Imported password hashes: the directory replica running the import job writes
    // them, an authn-flow replica reads them at the first sign-in.
    let out = run(
        python(&e2e("password_import.py")).arg(&cluster.gateways[0]),
        SPINE_TIMEOUT,
    );
    assert!(
        out.status.success() && out.stdout.contains("ok - import jobs:"),
        "password_import.py failed\n{}",
        out.describe()
    );
    // Identity providers, on the other replicas: the federation service reads and
    // writes the pool's providers in the log.
    let out = run(
        python(&e2e("identity_providers.py")).arg(&cluster.gateways[1]),
        SPINE_TIMEOUT,
    );
    assert!(
        out.status.success() && out.stdout.contains("ok - a deleted provider is gone"),
        "identity_providers.py failed\n{}",
        out.describe()
    );
    // A federated sign-in started at one gateway comes back through the other: its
    // state (federation), the user (directory) and the session (authn-flow) are found
    // by the other replicas.
    let out = run(
        python(&e2e("federation_oidc.py")).args(&cluster.gateways),
        SPINE_TIMEOUT,
    );
    assert!(
        out.status.success() && out.stdout.contains("ok - idp_identifier"),
        "federation_oidc.py failed\n{}",
        out.describe()
    );
    let out = run(
        python(&e2e("federation_saml.py")).arg(&cluster.gateways[1]),
        SPINE_TIMEOUT,
    );
    assert!(
        out.status.success()
            && out.stdout.contains("or unasked for are refused")
            && out.stdout.contains("ok - metadata from a MetadataURL"),
        "federation_saml.py failed\n{}",
        out.describe()
    );
    // Risk configurations, written through one gateway's directory replica: the
    // script's reads after each write see it wherever they land. The compromised-
    // credentials check runs on whichever authn-flow replica a request reaches; both
    // indexed the corpus at start.
    let out = run(
        python(&e2e("risk_configuration.py"))
            .arg(&cluster.gateways[0])
            .env("BREACHED_PASSWORD", "Breached!Passw0rd1"),
        SPINE_TIMEOUT,
    );
    assert!(
        out.status.success()
            && out
                .stdout
                .contains("ok - threat protection needs the Plus plan")
            && out.stdout.contains("ok - AUDIT and OFF do not block"),
        "risk_configuration.py failed\n{}",
        out.describe()
    );
    // Sign-ins judged for risk across replicas: each request of a sign-in may reach
    // another authn-flow replica, the history any directory replica; notifications land
    // in the outbox of whichever authn-flow sent them (the script reads them all).
    let out = run(
        python(&e2e("risk_sign_in.py"))
            .arg(&cluster.gateways[1])
            .arg(cluster.state.path())
            .env("BREACHED_PASSWORD", "Breached!Passw0rd1")
            .env("GEO", "1"),
        SPINE_TIMEOUT,
    );
    assert!(
        out.status.success()
            && out
                .stdout
                .contains("ok - an event marked Invalid no longer vouches for its device")
            && out
                .stdout
                .contains("ok - an untrusted X-Forwarded-For is ignored"),
        "risk_sign_in.py failed\n{}",
        out.describe()
    );
    // A web ACL written through one gateway guards the pool on both; the burst
    // alternates between them, so the rate is counted across replicas.
    let out = run(
        python(&e2e("waf.py"))
            .arg(&cluster.gateways[0])
            .arg(&cluster.gateways[1]),
        Duration::from_secs(180),
    );
    assert!(
        out.status.success()
            && out
                .stdout
                .contains("ok - a rate-based rule blocks a burst and lets the next window through"),
        "waf.py failed\n{}",
        out.describe()
    );
}

/// While sign-ups run, one directory replica and the node leading the log's stream are
/// killed with SIGKILL. Calls that fail are retried on the other gateway. Afterwards every
/// acknowledged sign-up exists with the UserSub it was acknowledged with (nothing lost),
/// and the pool counts exactly as many users as there are distinct user names (nothing
/// signed up twice).
#[test]
fn acknowledged_sign_ups_survive_killing_a_directory_replica_and_a_nats_node() {
    let cluster = Cluster::up();
    let [gateway_1, gateway_2] = [&cluster.gateways[0], &cluster.gateways[1]];
    let started = Instant::now();
    let mut child = Reaped(
        python(&e2e("cluster_faults.py"))
            .args(["--users", &USERS.to_string(), "--verify-url", gateway_2])
            .args([gateway_1, gateway_2])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cluster_faults.py"),
    );
    let stderr = drain(child.0.stderr.take().expect("stderr is piped"));
    let (lines_tx, lines) = mpsc::channel();
    let stdout = BufReader::new(child.0.stdout.take().expect("stdout is piped"));
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = started + FAULTS_TIMEOUT;
    let mut output = Vec::new();
    let mut killed = Vec::new();
    let mut acks_after_faults = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match lines.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "the workload did not finish within {FAULTS_TIMEOUT:?}; its output:\n{}\n\
                 directory-2:\n{}\ngateway-2:\n{}",
                output.join("\n"),
                cluster.log_tail("directory-2"),
                cluster.log_tail("gateway-2"),
            ),
        };
        if let Some(acked) = line
            .strip_prefix("acked ")
            .and_then(|n| n.parse::<usize>().ok())
        {
            if killed.is_empty() && acked >= KILL_AFTER_ACKS {
                let leader = cluster.log_stream_leader("nats-2");
                for name in ["directory-1", leader.as_str()] {
                    cluster.kill9(name);
                    killed.push(name.to_owned());
                }
                eprintln!(
                    "killed {killed:?} with SIGKILL after {acked} acknowledged sign-ups ({:?} in)",
                    started.elapsed()
                );
            } else if !killed.is_empty() {
                acks_after_faults += 1;
            }
        } else {
            output.push(line);
        }
    }
    let status = child.0.wait().expect("wait for cluster_faults.py");
    let stderr = stderr.join().unwrap_or_default();
    assert!(
        status.success(),
        "cluster_faults.py failed ({status})\n{}\n{stderr}",
        output.join("\n")
    );
    assert_eq!(
        killed.len(),
        2,
        "the faults were never injected\n{}",
        output.join("\n")
    );
    assert!(
        acks_after_faults > 0,
        "no sign-up was acknowledged after the faults"
    );

    let summary: serde_json::Value = output
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!(
                "no JSON summary from cluster_faults.py:\n{}",
                output.join("\n")
            )
        });
    eprintln!(
        "{summary} ({acks_after_faults} acknowledged after the faults; {:?} in all)",
        started.elapsed()
    );
    assert_eq!(summary["lost"], 0, "{summary}");
    assert_eq!(summary["duplicates"], 0, "{summary}");
    assert_eq!(
        summary["acked"].as_u64().unwrap_or(0) + summary["ambiguous"].as_u64().unwrap_or(0),
        USERS as u64,
        "every sign-up got a definite answer: {summary}"
    );

    // The killed processes stay dead; everything else is still running, and the
    // gateway whose peers all survived is healthy.
    for name in &killed {
        assert!(!cluster.alive(name), "{name} came back");
    }
    let names = std::fs::read_to_string(cluster.state.path().join("order")).expect("read order");
    for name in names.lines().filter(|n| !killed.iter().any(|k| k == n)) {
        assert!(
            cluster.alive(name),
            "{name} died during the test:\n{}",
            cluster.log_tail(name)
        );
    }
    assert_eq!(cluster.gateway_health(2), Some(200), "gateway-2 /health");
}

/// The IAM subset on a cluster: every operation through one gateway, then writes on one
/// replica read and listed through the other; then identity pools across the replicas.
#[test]
fn iam_and_identity_pools_work_across_replicas_of_a_cluster() {
    let cluster = Cluster::up();
    let out = run(
        python(&e2e("iam.py")).arg(&cluster.gateways[0]),
        SPINE_TIMEOUT,
    );
    assert!(out.status.success(), "iam.py failed\n{}", out.describe());
    let out = run(
        python(&e2e("iam_replicas.py")).args(&cluster.gateways[..2]),
        SPINE_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "iam_replicas.py failed\n{}",
        out.describe()
    );
    let out = run(
        python(&e2e("identity_replicas.py")).args(&cluster.gateways[..2]),
        SPINE_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "identity_replicas.py failed\n{}",
        out.describe()
    );
}

/// Redis holds the lockout counters and code limits in a cluster, so it runs with every
/// write in its append-only file before it answers: a user locked through the gateways
/// stays locked after Redis is killed (SIGKILL) and started again on the same port and
/// directory, and the hour's code limit still holds.
#[test]
fn a_lockout_survives_a_redis_restart() {
    let cluster = Cluster::up();
    let out = run(
        python(&e2e("cluster_lockout.py"))
            .arg("lock")
            .args(&cluster.gateways),
        SPINE_TIMEOUT,
    );
    assert!(out.status.success(), "locking failed\n{}", out.describe());
    let state = out.stdout.lines().last().unwrap_or_default().to_owned();

    // SIGKILL, then the same port, directory and settings `up` used.
    let restarted = run(
        &mut cluster.command("restart-redis"),
        Duration::from_secs(30),
    );
    assert!(
        restarted.status.success(),
        "restart-redis failed\n{}",
        restarted.describe()
    );

    let out = run(
        python(&e2e("cluster_lockout.py"))
            .args(["check", &state])
            .args(&cluster.gateways),
        SPINE_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "the lock did not survive the restart\n{}",
        out.describe()
    );
    eprint!("{}", out.stdout);
}
