//! Black-box: `portcullis up` as a user runs it, driven by boto3.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use portcullis_testkit::http_get;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "PCAKTESTADMIN";
const SECRET_KEY: &str = "test-secret-access-key";

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn e2e(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(script)
}

// A plain test thread, not an async runtime: sleeping between polls blocks nothing.
#[allow(clippy::disallowed_methods)]
fn start(data_dir: &Path, port: u16) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["up", "--data-dir"])
        .arg(data_dir)
        .args(["--http", &format!("127.0.0.1:{port}"), "--log", "warn"])
        .env("PORTCULLIS_ADMIN_ACCESS_KEY_ID", ACCESS_KEY)
        .env("PORTCULLIS_ADMIN_SECRET_ACCESS_KEY", SECRET_KEY)
        .stdout(Stdio::null())
        .spawn()
        .expect("start portcullis up");
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(port, "/health").map(|(status, _)| status) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "portcullis up did not become healthy"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    running
}

fn python(script: &Path, args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(script)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} failed:\n{stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_spine_path_works_through_boto3_and_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");

    let server = start(data.path(), port);
    let out = python(&e2e("spine.py"), &[&url]);
    let state = out
        .lines()
        .last()
        .expect("spine.py prints its state")
        .to_owned();
    let outbox = data.path().join("outbox.jsonl");
    python(&e2e("signup_codes.py"), &[&url, outbox.to_str().unwrap()]);
    drop(server);

    let _server = start(data.path(), port);
    python(&e2e("after_restart.py"), &[&url, &state]);
}

#[test]
fn user_lifecycle_operations_work_through_boto3() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = start(data.path(), port);
    let outbox = data.path().join("outbox.jsonl");
    python(&e2e("users.py"), &[&url, outbox.to_str().unwrap()]);
    python(&e2e("aliases.py"), &[&url, outbox.to_str().unwrap()]);
}

#[test]
fn user_pool_administration_works_through_boto3() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(&e2e("pools.py"), &[&format!("http://127.0.0.1:{port}")]);
}

#[test]
fn app_clients_are_updated_listed_deleted_and_rotate_secrets_through_boto3() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(&e2e("clients.py"), &[&format!("http://127.0.0.1:{port}")]);
}

#[test]
fn groups_are_created_read_updated_listed_and_deleted_through_boto3() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(&e2e("groups.py"), &[&format!("http://127.0.0.1:{port}")]);
}
