//! Black-box: `portcullis up` as a user runs it, driven by boto3.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use portcullis_testkit::http_get;
use portcullis_testkit::smtp::SmtpServer;
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

fn start(data_dir: &Path, port: u16) -> Running {
    start_with(data_dir, port, &[])
}

fn start_with(data_dir: &Path, port: u16, env: &[(&str, &str)]) -> Running {
    spawn_up(data_dir, port, env, "warn", Stdio::inherit(), None)
}

/// `portcullis up --config <config>`.
fn start_configured(data_dir: &Path, port: u16, config: &Path) -> Running {
    spawn_up(data_dir, port, &[], "warn", Stdio::inherit(), Some(config))
}

/// `portcullis up` with its log (stderr, at `filter`) written to `log`.
fn start_logging(data_dir: &Path, port: u16, log: &Path, filter: &str) -> Running {
    let stderr = std::fs::File::create(log).unwrap();
    spawn_up(data_dir, port, &[], filter, Stdio::from(stderr), None)
}

/// Starts `command` (a stand-in server) and waits until it accepts connections on `port`.
// A plain test thread, not an async runtime: sleeping between polls blocks nothing.
#[allow(clippy::disallowed_methods)]
fn serve_until_dropped(command: &mut Command, port: u16) -> Running {
    let running = Running(command.spawn().expect("start a stand-in server"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the stand-in server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    running
}

// A plain test thread, not an async runtime: sleeping between polls blocks nothing.
#[allow(clippy::disallowed_methods)]
fn spawn_up(
    data_dir: &Path,
    port: u16,
    env: &[(&str, &str)],
    filter: &str,
    stderr: Stdio,
    config: Option<&Path>,
) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let child = command
        .args(["up", "--data-dir"])
        .arg(data_dir)
        .args(["--http", &format!("127.0.0.1:{port}"), "--log", filter])
        .env("PORTCULLIS_ADMIN_ACCESS_KEY_ID", ACCESS_KEY)
        .env("PORTCULLIS_ADMIN_SECRET_ACCESS_KEY", SECRET_KEY)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(stderr)
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
    python_with(script, args, &[])
}

/// [`python`] with more environment variables.
fn python_with(script: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new("python3")
        .arg(script)
        .args(args)
        .envs(env.iter().copied())
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

#[test]
fn identity_pools_issue_credentials_that_the_decision_point_honours() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(
        &e2e("identity_pools.py"),
        &[&format!("http://127.0.0.1:{port}")],
    );
}

#[test]
fn identity_pools_verify_social_logins_against_local_stand_ins() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let stand_in = portcullis_testkit::free_port();
    let base = format!("http://127.0.0.1:{stand_in}");
    let endpoints = [
        (
            "PORTCULLIS_SOCIAL_GOOGLE_JWKS_URL",
            format!("{base}/google/certs"),
        ),
        (
            "PORTCULLIS_SOCIAL_APPLE_JWKS_URL",
            format!("{base}/apple/keys"),
        ),
        (
            "PORTCULLIS_SOCIAL_FACEBOOK_GRAPH_URL",
            format!("{base}/facebook"),
        ),
        ("PORTCULLIS_SOCIAL_AMAZON_API_URL", format!("{base}/amazon")),
        (
            "PORTCULLIS_SOCIAL_TWITTER_API_URL",
            format!("{base}/twitter"),
        ),
    ];
    let mut env: Vec<(&str, &str)> = endpoints.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The stand-ins listen on loopback, which outbound fetches reach only when allowed.
    env.push(("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.0/8"));
    let _server = start_with(data.path(), port, &env);
    python(
        &e2e("social_logins.py"),
        &[&format!("http://127.0.0.1:{port}"), &stand_in.to_string()],
    );
}

/// The pool's triggers, served by a stand-in of the Lambda Invoke API that checks every
/// call's signature with botocore.
#[test]
fn triggers_run_with_cognitos_events_and_errors() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let lambda = portcullis_testkit::free_port();
    let endpoint = format!("http://127.0.0.1:{lambda}");
    let (key, secret) = ("AKIDLAMBDAINVOKER", "lambda-invoke-secret");
    let env = [
        ("PORTCULLIS_LAMBDA_ENDPOINT", endpoint.as_str()),
        ("PORTCULLIS_LAMBDA_ACCESS_KEY_ID", key),
        ("PORTCULLIS_LAMBDA_SECRET_ACCESS_KEY", secret),
    ];
    let _server = start_with(data.path(), port, &env);
    python(
        &e2e("triggers.py"),
        &[
            &format!("http://127.0.0.1:{port}"),
            &lambda.to_string(),
            key,
            secret,
            data.path().join("outbox.jsonl").to_str().unwrap(),
        ],
    );
}

/// Custom email and SMS senders get every code encrypted as the AWS Encryption SDK
/// encrypts it, and decrypt it with that SDK: under a raw AES key, then with data keys
/// from a KMS stand-in.
#[test]
fn custom_senders_get_codes_the_encryption_sdk_decrypts() {
    let code_key = "q2V5LWZvci1jdXN0b20tc2VuZGVyLWNvZGVzLTAwMDE=";
    let (key, secret) = ("AKIDKMSCALLER", "kms-caller-secret");
    for mode in ["raw", "kms"] {
        let data = tempfile::tempdir().unwrap();
        let port = portcullis_testkit::free_port();
        let lambda = portcullis_testkit::free_port();
        let kms = portcullis_testkit::free_port();
        let lambda_endpoint = format!("http://127.0.0.1:{lambda}");
        let kms_endpoint = format!("http://127.0.0.1:{kms}/");
        let mut env = vec![("PORTCULLIS_LAMBDA_ENDPOINT", lambda_endpoint.as_str())];
        let keys = if mode == "raw" {
            env.push(("PORTCULLIS_LAMBDA_CODE_KEY", code_key));
            code_key.to_owned()
        } else {
            env.extend([
                ("PORTCULLIS_LAMBDA_KMS_ENDPOINT", kms_endpoint.as_str()),
                ("PORTCULLIS_LAMBDA_ACCESS_KEY_ID", key),
                ("PORTCULLIS_LAMBDA_SECRET_ACCESS_KEY", secret),
            ]);
            format!("{key}:{secret}")
        };
        let _server = start_with(data.path(), port, &env);
        python(
            &e2e("custom_senders.py"),
            &[
                &format!("http://127.0.0.1:{port}"),
                &lambda.to_string(),
                mode,
                &kms.to_string(),
                &keys,
                data.path().join("outbox.jsonl").to_str().unwrap(),
            ],
        );
    }
}

/// Users with password hashes from other systems (set one by one, or imported by a CSV
/// job) sign in with their passwords, then with SRP once that sign-in has rehashed them.
#[test]
fn imported_password_hashes_sign_in_and_are_rehashed() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    let out = python(
        &e2e("password_import.py"),
        &[&format!("http://127.0.0.1:{port}")],
    );
    assert!(out.contains("ok - import jobs:"), "{out}");
}

/// The self-hosted transports, as a configuration file routes them: a signed webhook by
/// default, NATS request/reply for one function.
#[test]
fn triggers_reach_functions_behind_a_signed_webhook_and_nats() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let nats = runtime
        .block_on(portcullis_testkit::nats::NatsServer::start())
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let hook = portcullis_testkit::free_port();
    let secret = "whsec_dHJpZ2dlcnMtd2ViaG9vay1zZWNyZXQtZm9yLXRlc3Rz";
    let config = files.path().join("portcullis.toml");
    let function = "arn:aws:lambda:us-east-1:123456789012:function:post-confirmation";
    std::fs::write(
        &config,
        format!(
            "[lambda]\ntransport = \"webhook\"\n\
             webhook_url = \"http://127.0.0.1:{hook}/functions\"\n\
             webhook_secret = \"{secret}\"\nnats_url = \"{}\"\n\
             [lambda.functions.\"{function}\"]\ntransport = \"nats\"\n\
             nats_subject = \"functions.post-confirmation\"\n",
            nats.url
        ),
    )
    .unwrap();
    let _server = start_configured(data.path(), port, &config);
    python(
        &e2e("trigger_transports.py"),
        &[
            &format!("http://127.0.0.1:{port}"),
            &hook.to_string(),
            secret,
            &nats.url,
        ],
    );
}

#[test]
fn identity_pools_take_saml_responses_signed_by_the_identity_provider() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(
        &e2e("saml_logins.py"),
        &[&format!("http://127.0.0.1:{port}")],
    );
}

#[test]
fn domains_resource_servers_and_ui_customization_work_through_boto3() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(&e2e("domains.py"), &[&format!("http://127.0.0.1:{port}")]);
}

#[test]
fn codes_go_out_by_smtp_and_sign_up_fails_when_the_mail_server_is_down() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let smtp = runtime.block_on(SmtpServer::start()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let smtp_port = smtp.port.to_string();
    let _server = start_with(
        data.path(),
        port,
        &[
            ("PORTCULLIS_DELIVERY_EMAIL", "smtp"),
            ("PORTCULLIS_DELIVERY_SMTP_HOST", "127.0.0.1"),
            ("PORTCULLIS_DELIVERY_SMTP_PORT", &smtp_port),
            ("PORTCULLIS_DELIVERY_SMTP_TLS", "none"),
            (
                "PORTCULLIS_DELIVERY_SMTP_FROM",
                "Portcullis <no-reply@example.com>",
            ),
            ("PORTCULLIS_DELIVERY_TIMEOUT_SECS", "5"),
        ],
    );
    let script = e2e("delivery.py");
    let ids = python(&script, &[&url, "setup"]);
    let client = ids
        .split_whitespace()
        .nth(1)
        .expect("setup prints the client id");

    python(&script, &[&url, "signup", client, "kim"]);
    let mail = smtp.messages().pop().expect("the code was emailed");
    assert_eq!(mail.rcpt_tos, ["kim@example.com"]);
    assert!(
        mail.data
            .contains("From: Portcullis <no-reply@example.com>"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("Subject: Your verification code"),
        "{}",
        mail.data
    );
    let code = mail
        .data
        .split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 6)
        .expect("a six-digit code in the body");
    python(&script, &[&url, "confirm", client, "kim", code]);
    assert!(
        !data.path().join("outbox.jsonl").exists(),
        "email went to the mail server, not the outbox"
    );

    drop(smtp);
    python(&script, &[&url, "signup-fails", client, "lee"]);
}

#[test]
fn users_are_imported_from_a_csv_file_through_boto3() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    let outbox = data.path().join("outbox.jsonl");
    python(
        &e2e("imports.py"),
        &[
            &format!("http://127.0.0.1:{port}"),
            outbox.to_str().unwrap(),
        ],
    );
}

#[test]
fn a_user_import_resumes_after_the_process_is_killed() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let n = "6000";
    let server = start(data.path(), port);
    let out = python(&e2e("import_resume.py"), &[&url, "start", n]);
    drop(server); // SIGKILL, mid-import
    let ids: Vec<&str> = out.split_whitespace().collect();
    let _server = start(data.path(), port);
    python(
        &e2e("import_resume.py"),
        &[&url, "finish", ids[0], ids[1], n],
    );
}

#[test]
fn pycognito_signs_in_with_user_srp_auth() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(&e2e("srp.py"), &[&format!("http://127.0.0.1:{port}")]);
}

#[test]
fn user_auth_offers_a_choice_of_first_factors() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    let outbox = data.path().join("outbox.jsonl");
    python(
        &e2e("user_auth.py"),
        &[
            &format!("http://127.0.0.1:{port}"),
            outbox.to_str().unwrap(),
        ],
    );
}

#[test]
fn unknown_users_get_the_same_answers_in_about_the_same_time() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(
        &e2e("enumeration.py"),
        &[&format!("http://127.0.0.1:{port}")],
    );
}

#[test]
fn devices_are_issued_confirmed_proven_listed_and_forgotten() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(&e2e("devices.py"), &[&format!("http://127.0.0.1:{port}")]);
}

/// amazon-cognito-identity-js (installed by `.ci/test` with `npm ci` in tests/node).
#[test]
fn amazon_cognito_identity_js_remembers_a_device_and_signs_in_with_it() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = start(data.path(), port);
    let setup = python(&e2e("devices_node_setup.py"), &[&url]);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    assert!(
        dir.join("node_modules/amazon-cognito-identity-js").is_dir(),
        "run `npm ci` in {} (.ci/test does)",
        dir.display()
    );
    let output = Command::new("node")
        .arg("devices.js")
        .args([&url, setup.trim()])
        .current_dir(&dir)
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "devices.js failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("node devices ok"));
}

#[test]
fn mfa_challenges_totp_sms_and_email() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    let outbox = data.path().join("outbox.jsonl");
    python(
        &e2e("mfa.py"),
        &[
            &format!("http://127.0.0.1:{port}"),
            outbox.to_str().unwrap(),
        ],
    );
}

#[test]
fn passkeys_register_and_sign_in_with_a_software_authenticator() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(&e2e("passkeys.py"), &[&format!("http://127.0.0.1:{port}")]);
}

#[test]
fn failed_sign_ins_lock_the_user_even_in_parallel() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(&e2e("lockout.py"), &[&format!("http://127.0.0.1:{port}")]);
}

#[test]
fn sessions_are_refreshed_rotated_revoked_and_signed_out_and_stay_so_after_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let state = data.path().join("sessions.json");
    let state = state.to_str().unwrap();

    let server = start(data.path(), port);
    python(&e2e("sessions.py"), &[&url, state, "setup"]);
    drop(server);

    let _server = start(data.path(), port);
    python(&e2e("sessions.py"), &[&url, state, "after-restart"]);
}

#[test]
fn oauth_code_flow_hosted_sign_in_and_token_endpoint() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    let outbox = data.path().join("outbox.jsonl");
    python(
        &e2e("oauth.py"),
        &[
            &format!("http://127.0.0.1:{port}"),
            outbox.to_str().unwrap(),
        ],
    );
}

// OIDC relying party and browser (issue 5).

/// Runs `node <script> <setup JSON> <args>` in tests/node and fails on a non-zero exit.
fn node_script(script: &str, setup: &str, args: &[&Path], env: &[(&str, &Path)]) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    assert!(
        dir.join("node_modules/openid-client").is_dir()
            && dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in {} (.ci/test does)",
        dir.display()
    );
    let output = Command::new("node")
        .arg(script)
        .arg(setup.trim())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(&dir)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn openid_client_runs_the_code_flow_with_pkce_userinfo_refresh_revocation_and_introspection() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    // The pool's pre token generation function, behind a signed webhook.
    let hook = portcullis_testkit::free_port();
    let secret = "whsec_b2lkYy1wcmUtdG9rZW4tZnVuY3Rpb24tc2VjcmV0";
    let _function = serve_until_dropped(
        Command::new("python3")
            .arg(e2e("pre_token_webhook.py"))
            .args([&hook.to_string(), secret]),
        hook,
    );
    let hook_url = format!("http://127.0.0.1:{hook}/");
    let env = [
        ("PORTCULLIS_LAMBDA_TRANSPORT", "webhook"),
        ("PORTCULLIS_LAMBDA_WEBHOOK_URL", hook_url.as_str()),
        ("PORTCULLIS_LAMBDA_WEBHOOK_SECRET", secret),
    ];
    let _server = start_with(data.path(), port, &env);
    let setup = python_with(
        &e2e("oidc_node_setup.py"),
        &[&url, "https://app.example.com/callback"],
        &[(
            "PRE_TOKEN_ARN",
            "arn:aws:lambda:us-east-1:123456789012:function:pre-token",
        )],
    );
    assert!(setup.contains(r#""pre_token": true"#), "{setup}");
    let stdout = node_script("oidc.mjs", &setup, &[], &[]);
    assert!(stdout.contains("node oidc ok"), "{stdout}");
}

/// Whether Debian's chromium, which the browser tests drive, is missing (said so).
fn chromium_missing() -> bool {
    const CHROMIUM: &str = "/usr/bin/chromium";
    let missing = !Path::new(CHROMIUM).exists();
    if missing {
        println!(
            "SKIPPED: {CHROMIUM} is missing (Debian's chromium package; .ci/test installs it)"
        );
    }
    missing
}

#[test]
fn a_real_browser_signs_up_confirms_and_signs_in_with_totp_on_the_hosted_pages() {
    if chromium_missing() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = start(data.path(), port);
    let callback = format!(
        "http://localhost:{}/callback",
        portcullis_testkit::free_port()
    );
    let setup = python(&e2e("oidc_node_setup.py"), &[&url, &callback]);
    // Screenshots: $PORTCULLIS_TEST_OUTPUT, else test-output/hosted-ui in the target dir.
    let output = std::env::var_os("PORTCULLIS_TEST_OUTPUT").map_or_else(
        || {
            Path::new(env!("CARGO_BIN_EXE_portcullis"))
                .ancestors()
                .nth(2)
                .unwrap()
                .join("test-output/hosted-ui")
        },
        PathBuf::from,
    );
    let outbox = data.path().join("outbox.jsonl");
    let stdout = node_script(
        "browser.mjs",
        &setup,
        &[&outbox],
        &[("PORTCULLIS_TEST_OUTPUT", &output)],
    );
    assert!(stdout.contains("node browser ok"), "{stdout}");
    println!("{stdout}");
}

#[test]
fn iam_roles_and_providers_work_through_boto3_iam_and_sts() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(&e2e("iam.py"), &[&format!("http://127.0.0.1:{port}")]);
}

#[test]
fn policy_variables_forwarded_paths_and_signatures_hold_against_an_attacker() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    python(
        &e2e("security_policy.py"),
        &[&format!("http://127.0.0.1:{port}")],
    );
}

#[test]
fn codes_are_limited_per_user_and_asking_again_buys_no_guesses() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    let outbox = data.path().join("outbox.jsonl");
    python(
        &e2e("security_codes.py"),
        &[
            &format!("http://127.0.0.1:{port}"),
            outbox.to_str().unwrap(),
        ],
    );
}

/// Every entry under `dir` (itself included) with its permission bits.
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = vec![(
        dir.to_owned(),
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o7777,
    )];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(modes(&path));
        } else {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
            out.push((path, mode));
        }
    }
    out
}

fn assert_owner_only(dir: &Path) {
    let entries = modes(dir);
    assert!(
        entries.len() > 3,
        "the data directory is nearly empty: {entries:?}"
    );
    for (path, mode) in entries {
        let wanted = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, wanted, "{} has mode {mode:o}", path.display());
    }
}

type Bucket = std::sync::Arc<dyn portcullis_eventlog::KeyValue>;

/// The sealed buckets of a data directory: name, raw bucket, the bucket read through
/// the seal.
fn sealed_buckets(data_dir: &Path) -> (tokio::runtime::Runtime, Vec<(String, Bucket, Bucket)>) {
    use portcullis_eventlog::sealed::{SealedBucket, SealingKey};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = runtime
        .block_on(portcullis_eventlog::embedded::EmbeddedStore::open(
            &data_dir.join("portcullis.redb"),
        ))
        .unwrap();
    let master = std::fs::read_to_string(data_dir.join("master.key")).unwrap();
    let master = hex_decode(master.trim());
    let buckets = ["client-secrets", "credentials"]
        .into_iter()
        .map(|name| {
            let raw = store.bucket(name);
            let key = SealingKey::derive(&master, name).unwrap();
            (name.to_owned(), raw.clone(), SealedBucket::wrap(raw, key))
        })
        .collect();
    (runtime, buckets)
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn secrets_at_rest_are_owner_only_sealed_and_values_of_earlier_versions_still_work() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("data"); // created by portcullis, not by the test
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let script = e2e("security_storage.py");
    let data_arg = data.to_str().unwrap();

    let log = parent.path().join("portcullis.log");
    let server = start_logging(&data, port, &log, "debug");
    let out = python(&script, &[&url, data_arg, "setup"]);
    let state_json = out.lines().last().unwrap().to_owned();
    let state: serde_json::Value = serde_json::from_str(&state_json).unwrap();
    assert_owner_only(&data);
    drop(server);
    let text = |key: &str| state[key].as_str().unwrap().to_owned();
    let log = std::fs::read(&log).unwrap();
    assert!(log.len() > 1000, "the debug log is nearly empty");
    for secret in [text("client_secret"), text("totp_secret")] {
        assert!(!contains(&log, secret.as_bytes()), "the log holds a secret");
    }

    // Put the values back in plain text, as an earlier version stored them.
    let keys = [
        format!("{}/{}", text("pool_id"), text("client_id")),
        format!("{}/{}", text("pool_id"), text("sub")),
    ];
    {
        let (runtime, buckets) = sealed_buckets(&data);
        for ((_, raw, sealed), key) in buckets.iter().zip(&keys) {
            runtime.block_on(async {
                let plain = sealed.get(key).await.unwrap().unwrap().value;
                let stored = raw.get(key).await.unwrap().unwrap();
                assert!(stored.value.starts_with(b"\0pcs1"), "{key} is not sealed");
                raw.update(key, plain, stored.revision).await.unwrap();
            });
        }
        let stored = runtime
            .block_on(buckets[0].1.get(&keys[0]))
            .unwrap()
            .unwrap();
        assert_eq!(&stored.value[..], text("client_secret").as_bytes());
    }

    let server = start(&data, port);
    python(&script, &[&url, data_arg, "sign-in", &state_json]);
    drop(server);
    let (runtime, buckets) = sealed_buckets(&data);
    for ((name, raw, _), key) in buckets.iter().zip(&keys) {
        let stored = runtime.block_on(raw.get(key)).unwrap().unwrap().value;
        assert!(
            stored.starts_with(b"\0pcs1"),
            "{name} {key} was not sealed again"
        );
        for secret in [text("client_secret"), text("totp_secret")] {
            assert!(
                !contains(&stored, secret.as_bytes()),
                "{name} {key} holds a secret"
            );
        }
    }
}

#[test]
fn a_data_directory_open_to_others_is_restricted_on_start_and_the_log_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("data");
    let port = portcullis_testkit::free_port();
    drop(start(&data, port));
    // As an earlier version left it, plus a directory an operator added.
    std::fs::create_dir(data.join("backups")).unwrap();
    std::fs::write(data.join("backups/notes.txt"), "kept").unwrap();
    for (path, _) in modes(&data) {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let log = parent.path().join("portcullis.log");
    drop(start_logging(&data, port, &log, "warn"));
    assert_owner_only(&data);
    let log = std::fs::read_to_string(&log).unwrap();
    for path in [data.join("master.key"), data.join("backups/notes.txt")] {
        let line = log
            .lines()
            .find(|l| l.contains(&*path.to_string_lossy()) && l.contains("restricting"))
            .unwrap_or_else(|| panic!("no warning for {}:\n{log}", path.display()));
        assert!(line.contains("WARN") && line.contains("644"), "{line}");
    }
    assert!(
        log.contains("755"),
        "the directory's old mode is not logged:\n{log}"
    );
}

/// Sends a request's head (and none of its body) on a raw connection; the status of an
/// answer that comes without the body being sent.
fn status_without_body(port: u16, head: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = [0u8; 512];
    let n = stream.read(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer[..n]);
    text.split(' ').nth(1)?.parse().ok()
}

#[test]
fn bodies_are_not_read_before_the_caller_is_known_and_are_capped_per_route() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = start(data.path(), port);
    let out = python(
        &e2e("security_storage.py"),
        &[&url, data.path().to_str().unwrap(), "bodies"],
    );
    let state: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let pool_id = state["pool_id"].as_str().unwrap();

    // 90 MB announced and never sent: the answer must come from the headers alone.
    let upload = format!(
        "PUT /import/{pool_id}/import-nosuchjob?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nContent-Length: 94371840\r\n\r\n"
    );
    let status = status_without_body(port, &upload);
    assert!(
        matches!(status, Some(404 | 403)),
        "the upload answered {status:?} (none means it waited for the body)"
    );
    let too_large = format!(
        "PUT /import/{pool_id}/import-nosuchjob?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 104857601\r\n\r\n"
    );
    assert_eq!(status_without_body(port, &too_large), Some(413));
    for (path, length) in [
        ("/oauth2/token", 1_000_000),
        ("/authorize", 1_000_000),
        ("/", 5_000_000),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
        );
        assert_eq!(status_without_body(port, &head), Some(413), "POST {path}");
    }
}

#[test]
fn identity_providers_are_configured_through_boto3() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    // The script's upstream (metadata, discovery) listens on loopback.
    let _server = start_with(
        data.path(),
        port,
        &[("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.0/8")],
    );
    python(
        &e2e("identity_providers.py"),
        &[&format!("http://127.0.0.1:{port}")],
    );
}

#[test]
fn risk_configurations_are_set_and_described_through_boto3() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    // A corpus of two breached passwords (SHA-1 of `Breached!Passw0rd1` and of
    // `password`), indexed by the server at start.
    let corpus = data.path().join("pwned.txt");
    std::fs::write(
        &corpus,
        "139903E49C7CA772AD4D2119DCF176F983884408:12\n\
         5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824\n",
    )
    .unwrap();
    let _server = start_with(
        data.path(),
        port,
        &[(
            "PORTCULLIS_THREAT_PROTECTION_BREACHED_PASSWORDS",
            corpus.to_str().unwrap(),
        )],
    );
    let out = python_with(
        &e2e("risk_configuration.py"),
        &[&format!("http://127.0.0.1:{port}")],
        &[("BREACHED_PASSWORD", "Breached!Passw0rd1")],
    );
    assert!(
        out.contains("ok - threat protection needs the Plus plan"),
        "{out}"
    );
    assert!(out.contains("ok - AUDIT and OFF do not block"), "{out}");
    assert!(
        corpus.with_extension("txt.index").exists(),
        "the corpus was not indexed"
    );
}

#[test]
fn sign_ins_are_judged_for_risk_and_their_history_is_listed() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    // SHA-1 of `Breached!Passw0rd1`.
    let corpus = data.path().join("pwned.txt");
    std::fs::write(&corpus, "139903E49C7CA772AD4D2119DCF176F983884408:12\n").unwrap();
    // A city database written with MaxMind's writer: Paris and Sydney.
    let geo = data.path().join("geo.mmdb");
    python(&e2e("geo_db.py"), &[geo.to_str().unwrap()]);
    let _server = start_with(
        data.path(),
        port,
        &[
            (
                "PORTCULLIS_THREAT_PROTECTION_BREACHED_PASSWORDS",
                corpus.to_str().unwrap(),
            ),
            (
                "PORTCULLIS_THREAT_PROTECTION_IP_GEOLOCATION",
                geo.to_str().unwrap(),
            ),
            // The script stands in for a proxy on loopback (X-Forwarded-For).
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1/32,::1/128"),
        ],
    );
    let out = python_with(
        &e2e("risk_sign_in.py"),
        &[
            &format!("http://127.0.0.1:{port}"),
            data.path().to_str().unwrap(),
        ],
        &[
            ("BREACHED_PASSWORD", "Breached!Passw0rd1"),
            ("TRUSTED_PROXY", "1"),
            ("GEO", "1"),
        ],
    );
    for step in [
        "ok - a new device on a new network is a medium risk",
        "ok - an event marked Invalid no longer vouches for its device",
        "ok - a breached password is blocked at sign-in",
        "ok - behind a trusted proxy, the client X-Forwarded-For names is judged",
        "ok - a sign-in from the other side of the world a minute later is impossible travel",
    ] {
        assert!(out.contains(step), "{step} missing:\n{out}");
    }
}

#[test]
fn a_web_acl_guards_a_pool_through_boto3() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let _server = start(data.path(), port);
    let out = python(&e2e("waf.py"), &[&format!("http://127.0.0.1:{port}")]);
    for step in [
        "ok - an associated web ACL blocks the IP set's callers; signed calls pass",
        "ok - a URI-path byte match blocks the hosted page it names",
        "ok - a rate-based rule blocks a burst and lets the next window through",
    ] {
        assert!(out.contains(step), "{step} missing:\n{out}");
    }
}

#[test]
fn users_sign_in_through_openid_connect_and_social_providers() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    // The script's stand-in provider listens on loopback, on a port chosen here so
    // that Google's and Apple's keys can be configured before the server starts.
    let upstream = portcullis_testkit::free_port();
    let keys = format!("http://127.0.0.1:{upstream}/jwks");
    // The script's stand-in of the Lambda Invoke API (unsigned: no credentials set).
    let lambda = portcullis_testkit::free_port();
    let _server = start_with(
        data.path(),
        port,
        &[
            ("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.0/8"),
            ("PORTCULLIS_SOCIAL_GOOGLE_JWKS_URL", &keys),
            ("PORTCULLIS_SOCIAL_APPLE_JWKS_URL", &keys),
            (
                "PORTCULLIS_LAMBDA_ENDPOINT",
                &format!("http://127.0.0.1:{lambda}"),
            ),
        ],
    );
    let out = python_with(
        &e2e("federation_oidc.py"),
        &[&format!("http://127.0.0.1:{port}")],
        &[
            ("SOCIAL_UPSTREAM_PORT", &upstream.to_string()),
            ("LAMBDA_PORT", &lambda.to_string()),
        ],
    );
    assert!(out.contains("ok - a pre sign-up refusal"), "{out}");
    assert!(out.contains("ok - SignInWithApple: signed in"), "{out}");
}

#[test]
fn users_sign_in_through_a_saml_provider() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    // Metadata served on loopback, fetched again after a second.
    let _server = start_with(
        data.path(),
        port,
        &[
            ("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.0/8"),
            ("PORTCULLIS_OUTBOUND_METADATA_REFRESH_SECS", "1"),
        ],
    );
    let out = python(
        &e2e("federation_saml.py"),
        &[&format!("http://127.0.0.1:{port}")],
    );
    assert!(out.contains("or unasked for are refused"), "{out}");
    assert!(out.contains("ok - metadata from a MetadataURL"), "{out}");
}

/// A real browser between the app, Portcullis and a real OpenID Connect provider
/// (oidc-provider, with its own sign-in and consent pages); openid-client is the app.
#[test]
fn a_real_browser_signs_in_through_oidc_provider() {
    if chromium_missing() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    // `localhost` may resolve to either loopback address.
    let _server = start_with(
        data.path(),
        port,
        &[("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.0/8,::1/128")],
    );
    let idp = portcullis_testkit::free_port().to_string();
    let callback = format!(
        "http://localhost:{}/callback",
        portcullis_testkit::free_port()
    );
    let setup = python(&e2e("federation_node_setup.py"), &[&url, &callback, &idp]);
    let stdout = node_script("federation_browser.mjs", &setup, &[Path::new(&idp)], &[]);
    assert!(stdout.contains("node federation ok"), "{stdout}");
}

/// A real SAML implementation as the identity provider: samlify reads Portcullis's
/// AuthnRequest and signs the response Portcullis then takes.
#[test]
fn samlify_signs_users_in_as_a_saml_identity_provider() {
    let data = tempfile::tempdir().unwrap();
    let port = portcullis_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = start(data.path(), port);
    let setup = python(&e2e("federation_samlify_setup.py"), &[&url]);
    let stdout = node_script("federation_samlify.mjs", &setup, &[], &[]);
    assert!(stdout.contains("node samlify ok"), "{stdout}");
}
