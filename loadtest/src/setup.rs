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
/// The one scope the client_credentials client may ask for (`<resource server>/<scope>`).
pub const MACHINE_SCOPE: &str = "loadtest/read";
/// Seeding is a prelude, not the measurement: enough parallelism to be quick without
/// queueing so much argon2 work that the server sheds it.
const SEED_CONCURRENCY: usize = 4;

/// The pool and app client the run targets.
#[derive(Debug, Clone)]
pub struct Target {
    pub pool_id: String,
    pub client_id: String,
    /// The pool's domain endpoints and a machine client, for the OAuth 2.0 grants.
    pub oauth: Option<OAuth>,
    /// An identity pool trusting the user pool, for the identity-pool scenarios.
    pub identity: Option<IdentityTarget>,
}

/// What the identity-pool scenarios use.
#[derive(Debug, Clone)]
pub struct IdentityTarget {
    pub identity_pool_id: String,
    /// The user pool's provider name in `Logins`.
    pub provider: String,
}

/// What the token-endpoint scenarios use.
#[derive(Debug, Clone)]
pub struct OAuth {
    /// `/domain/<prefix>/oauth2/token`, relative to the server URL.
    pub token_path: String,
    pub machine_id: String,
    pub machine_secret: String,
}

/// Creates a pool and an app client allowing password, SRP and refresh-token sign-in
/// (and the code grant); with `oauth`, also a domain, a resource server and a
/// client_credentials client.
///
/// # Errors
/// When an admin call fails (bad credentials, server down).
/// A pool (with `lambda_config`, if given, and threat protection in the given mode) and
/// its app client, and with `oauth` a domain and a machine client.
pub async fn create_target(
    api: &Api,
    oauth: bool,
    lambda_config: Option<Value>,
    threat_protection: Option<&str>,
) -> anyhow::Result<Target> {
    // Also the domain's prefix, which must be unique: runs may start within a second.
    let name = format!(
        "loadtest-{}",
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    );
    let mut request = json!({ "PoolName": name });
    if let Some(config) = lambda_config {
        request["LambdaConfig"] = config;
    }
    if let Some(mode) = threat_protection {
        request["UserPoolTier"] = json!("PLUS");
        request["UserPoolAddOns"] = json!({ "AdvancedSecurityMode": mode });
    }
    let pool = api
        .call_signed("CreateUserPool", &request)
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
        "AllowedOAuthFlowsUserPoolClient": true,
        "AllowedOAuthFlows": ["code"],
        "AllowedOAuthScopes": ["openid", "email"],
        "CallbackURLs": ["https://app.example.com/callback"],
        "SupportedIdentityProviders": ["COGNITO"],
    });
    let client = api
        .call_signed("CreateUserPoolClient", &body)
        .await
        .context("CreateUserPoolClient")?;
    let client_id = string_at(&client, "/UserPoolClient/ClientId")
        .context("CreateUserPoolClient: no ClientId")?;
    let oauth = if oauth {
        Some(create_oauth(api, &pool_id, &name).await?)
    } else {
        None
    };
    Ok(Target {
        pool_id,
        client_id,
        oauth,
        identity: None,
    })
}

/// An IAM role that trusts the identity pool for guests and users alike and allows
/// `demo:*` on `arn:demo:::public/*`, and an identity pool whose roles are it.
///
/// # Errors
/// When an admin call fails.
pub async fn create_identity_target(api: &Api, target: &Target) -> anyhow::Result<IdentityTarget> {
    let region = target.pool_id.split('_').next().unwrap_or("us-east-1");
    let provider = format!("cognito-idp.{region}.amazonaws.com/{}", target.pool_id);
    let pool = json!({
        "IdentityPoolName": "loadtest",
        "AllowUnauthenticatedIdentities": true,
        "CognitoIdentityProviders": [{ "ProviderName": provider, "ClientId": target.client_id }],
    });
    let pool = api
        .identity("CreateIdentityPool", &pool, true)
        .await
        .context("CreateIdentityPool")?;
    let identity_pool_id =
        string_at(&pool, "/IdentityPoolId").context("CreateIdentityPool: no IdentityPoolId")?;
    let role = format!("loadtest-{}", target.pool_id.replace('_', "-"));
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": identity_pool_id}},
    }]})
    .to_string();
    let permissions = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Public", "Effect": "Allow", "Action": "demo:*", "Resource": "arn:demo:::public/*"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "demo:Delete", "Resource": "*"},
    ]})
    .to_string();
    api.iam(&[
        ("Action", "CreateRole"),
        ("Version", "2010-05-08"),
        ("RoleName", &role),
        ("AssumeRolePolicyDocument", &trust),
    ])
    .await
    .context("IAM CreateRole")?;
    api.iam(&[
        ("Action", "PutRolePolicy"),
        ("Version", "2010-05-08"),
        ("RoleName", &role),
        ("PolicyName", "public"),
        ("PolicyDocument", &permissions),
    ])
    .await
    .context("IAM PutRolePolicy")?;
    let arn = format!("arn:aws:iam::000000000000:role/{role}");
    let roles = json!({
        "IdentityPoolId": identity_pool_id,
        "Roles": { "authenticated": arn, "unauthenticated": arn },
    });
    api.identity("SetIdentityPoolRoles", &roles, true)
        .await
        .context("SetIdentityPoolRoles")?;
    Ok(IdentityTarget {
        identity_pool_id,
        provider,
    })
}

async fn create_oauth(api: &Api, pool_id: &str, name: &str) -> anyhow::Result<OAuth> {
    let domain = json!({ "UserPoolId": pool_id, "Domain": name });
    api.call_signed("CreateUserPoolDomain", &domain)
        .await
        .context("CreateUserPoolDomain")?;
    let server = json!({
        "UserPoolId": pool_id,
        "Identifier": "loadtest",
        "Name": "loadtest",
        "Scopes": [{ "ScopeName": "read", "ScopeDescription": "read" }],
    });
    api.call_signed("CreateResourceServer", &server)
        .await
        .context("CreateResourceServer")?;
    let machine = json!({
        "UserPoolId": pool_id,
        "ClientName": "machine",
        "GenerateSecret": true,
        "AllowedOAuthFlowsUserPoolClient": true,
        "AllowedOAuthFlows": ["client_credentials"],
        "AllowedOAuthScopes": [MACHINE_SCOPE],
    });
    let machine = api
        .call_signed("CreateUserPoolClient", &machine)
        .await
        .context("CreateUserPoolClient (machine)")?;
    Ok(OAuth {
        token_path: format!("/domain/{name}/oauth2/token"),
        machine_id: string_at(&machine, "/UserPoolClient/ClientId")
            .context("machine client: no ClientId")?,
        machine_secret: string_at(&machine, "/UserPoolClient/ClientSecret")
            .context("machine client: no ClientSecret")?,
    })
}

/// Signs up and confirms `count` users named `seed-<i>`; returns the names that made it.
///
/// # Errors
/// When not a single user could be created (a partial failure only warns).
/// Associates the pool with a web ACL that blocks this machine's loopback addresses (an
/// IP set rule), so every unsigned call to the pool is refused at the edge.
///
/// # Errors
/// When a WAF or admin call fails.
pub async fn block_with_web_acl(api: &Api, target: &Target) -> anyhow::Result<()> {
    let name = format!(
        "loadtest-{}",
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    );
    let set = api
        .waf(
            "CreateIPSet",
            &json!({"Name": name, "Scope": "REGIONAL", "IPAddressVersion": "IPV4",
                    "Addresses": ["127.0.0.0/8"]}),
        )
        .await
        .context("CreateIPSet")?;
    let set_arn = string_at(&set, "/Summary/ARN").context("CreateIPSet: no ARN")?;
    let visibility = json!({"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false,
                            "MetricName": "loadtest"});
    let acl = api
        .waf(
            "CreateWebACL",
            &json!({"Name": name, "Scope": "REGIONAL", "DefaultAction": {"Allow": {}},
                    "VisibilityConfig": visibility,
                    "Rules": [{"Name": "loopback", "Priority": 0, "Action": {"Block": {}},
                               "Statement": {"IPSetReferenceStatement": {"ARN": set_arn}},
                               "VisibilityConfig": visibility}]}),
        )
        .await
        .context("CreateWebACL")?;
    let acl_arn = string_at(&acl, "/Summary/ARN").context("CreateWebACL: no ARN")?;
    let pool = api
        .call_signed("DescribeUserPool", &json!({"UserPoolId": target.pool_id}))
        .await
        .context("DescribeUserPool")?;
    let pool_arn = string_at(&pool, "/UserPool/Arn").context("DescribeUserPool: no Arn")?;
    api.waf(
        "AssociateWebACL",
        &json!({"WebACLArn": acl_arn, "ResourceArn": pool_arn}),
    )
    .await
    .context("AssociateWebACL")?;
    Ok(())
}

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
