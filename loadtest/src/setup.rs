//! Creating the pool, app client and seed users a run needs.
//!
//! Each run gets a fresh pool so sign-up names never collide with an earlier run and
//! sign-in measures a known number of users.

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::api::Api;

/// Satisfies Cognito's default password policy (length, cases, digit, symbol).
pub const PASSWORD: &str = "Passw0rd!";
/// Seeding is a prelude, not the measurement: enough parallelism to be quick without
/// queueing so much argon2 work that the server sheds it.
const SEED_CONCURRENCY: usize = 4;

/// The pool and app client the run targets.
#[derive(Debug, Clone)]
pub struct Target {
    pub pool_id: String,
    pub client_id: String,
}

/// Creates a pool and an app client allowing password, SRP and refresh-token sign-in.
///
/// # Errors
/// When either admin call fails (bad credentials, server down).
pub async fn create_target(api: &Api) -> anyhow::Result<Target> {
    let name = format!(
        "loadtest-{}",
        time::OffsetDateTime::now_utc().unix_timestamp()
    );
    let pool = api
        .call_signed("CreateUserPool", &json!({ "PoolName": name }))
        .await
        .context("CreateUserPool")?;
    let pool_id = string_at(&pool, "/UserPool/Id").context("CreateUserPool: no UserPool.Id")?;
    let body = json!({
        "UserPoolId": pool_id,
        "ClientName": "loadtest",
        "ExplicitAuthFlows": [
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
        ],
    });
    let client = api
        .call_signed("CreateUserPoolClient", &body)
        .await
        .context("CreateUserPoolClient")?;
    let client_id = string_at(&client, "/UserPoolClient/ClientId")
        .context("CreateUserPoolClient: no ClientId")?;
    Ok(Target { pool_id, client_id })
}

/// Signs up and confirms `count` users named `seed-<i>`; returns the names that made it.
///
/// # Errors
/// When not a single user could be created (a partial failure only warns).
pub async fn seed_users(api: &Api, target: &Target, count: usize) -> anyhow::Result<Vec<String>> {
    let results: Vec<_> = futures::stream::iter(0..count)
        .map(|i| seed_one(api, target, format!("seed-{i}")))
        .buffer_unordered(SEED_CONCURRENCY)
        .collect()
        .await;
    let mut users = Vec::with_capacity(count);
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(name) => users.push(name),
            Err(error) => failures.push(error),
        }
    }
    if let Some(first) = failures.first() {
        eprintln!(
            "warning: {} of {count} seed users failed, first: {first:#}",
            failures.len()
        );
    }
    if users.is_empty() && count > 0 {
        bail!("no seed user could be created");
    }
    users.sort();
    Ok(users)
}

async fn seed_one(api: &Api, target: &Target, name: String) -> anyhow::Result<String> {
    api.call("SignUp", &sign_up_body(&target.client_id, &name))
        .await
        .with_context(|| format!("SignUp {name}"))?;
    let confirm = json!({ "UserPoolId": target.pool_id, "Username": name });
    api.call_signed("AdminConfirmSignUp", &confirm)
        .await
        .with_context(|| format!("AdminConfirmSignUp {name}"))?;
    Ok(name)
}

/// The `SignUp` request used both for seeding and for the sign-up scenario.
#[must_use]
pub fn sign_up_body(client_id: &str, name: &str) -> Value {
    json!({
        "ClientId": client_id,
        "Username": name,
        "Password": PASSWORD,
        "UserAttributes": [{ "Name": "email", "Value": format!("{name}@example.com") }],
    })
}

fn string_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}
