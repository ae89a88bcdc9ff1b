//! How a pool's triggers (the Lambda ARNs of its `LambdaConfig`) are called: `[lambda]`.
//!
//! Every function is reached through one of three transports carrying the same event
//! payloads: the AWS Lambda Invoke API (the default; AWS itself, LocalStack, the Lambda
//! runtime interface emulator, `cargo lambda watch`), a signed webhook, or NATS
//! request/reply. `transport` and its settings apply to every function;
//! `[lambda.functions."<arn>"]` overrides them for one function.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// How a function is reached.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LambdaTransport {
    /// `POST <endpoint>/2015-03-31/functions/<arn>/invocations`, SigV4-signed.
    #[default]
    Lambda,
    /// `POST <webhook_url>`, signed as Standard Webhooks signs (HMAC-SHA256).
    Webhook,
    /// A NATS request on `<nats_subject_prefix>.<function name>`.
    Nats,
}

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Lambda {
    /// The transport of every function not listed in `functions` (`lambda` by default).
    pub transport: LambdaTransport,
    /// The Lambda API's base URL; defaults to `https://lambda.<region>.amazonaws.com` for
    /// the region of each function's ARN.
    pub endpoint: Option<String>,
    /// Credentials the Invoke calls are signed with; unsigned calls when unset (a local
    /// emulator does not check them).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// URL the webhook transport posts every event to.
    pub webhook_url: Option<String>,
    /// The webhook signing secret, `whsec_<base64>` as Standard Webhooks writes it.
    pub webhook_secret: Option<String>,
    /// NATS server URL(s) of the NATS transport; defaults to `nats_url`.
    pub nats_url: Option<String>,
    /// Subjects of the NATS transport: `<prefix>.<function name>`.
    pub nats_subject_prefix: String,
    /// Per-function transports, by function ARN.
    pub functions: BTreeMap<String, LambdaFunction>,
    /// The AES-256 key (base64 of 32 bytes) a raw AES keyring wraps the codes given to
    /// custom sender functions with; the key name is the pool's `KMSKeyID`.
    pub code_key: Option<String>,
    /// The raw AES keyring's key namespace (its provider ID).
    pub code_key_namespace: String,
    /// A KMS-compatible service whose `GenerateDataKey` makes the codes' data keys for
    /// the pool's `KMSKeyID` instead (signed with the credentials above).
    pub kms_endpoint: Option<String>,
}

/// One function's transport, overriding the defaults of `[lambda]`.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LambdaFunction {
    pub transport: LambdaTransport,
    /// The Lambda API base URL for this function.
    pub endpoint: Option<String>,
    /// The function name put in the Invoke path, for emulators that serve a function by
    /// its short name (`cargo lambda watch`); the ARN by default.
    pub function_name: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    /// The full NATS subject of this function.
    pub nats_subject: Option<String>,
}

impl Lambda {
    /// `code_key` decoded, when it is a 256-bit key.
    pub fn code_key_bytes(&self) -> Option<[u8; 32]> {
        use base64::Engine as _;
        let key = self.code_key.as_deref()?;
        base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .ok()?
            .try_into()
            .ok()
    }

    pub(crate) fn defaults() -> Self {
        Self {
            nats_subject_prefix: "portcullis.triggers".into(),
            code_key_namespace: "portcullis".into(),
            ..Self::default()
        }
    }

    pub(crate) fn validate(&self, nats_url: Option<&str>) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return invalid(
                "set both lambda.access_key_id and lambda.secret_access_key, or neither".into(),
            );
        }
        let http = |url: &str| url.starts_with("http://") || url.starts_with("https://");
        if let Some(endpoint) = &self.endpoint
            && !http(endpoint)
        {
            return invalid("lambda.endpoint must be an http(s) URL".into());
        }
        if let Some(endpoint) = &self.kms_endpoint
            && !http(endpoint)
        {
            return invalid("lambda.kms_endpoint must be an http(s) URL".into());
        }
        if self.code_key.is_some() && self.kms_endpoint.is_some() {
            return invalid("set lambda.code_key or lambda.kms_endpoint, not both".into());
        }
        if self.code_key.is_some() && self.code_key_bytes().is_none() {
            return invalid("lambda.code_key must be the base64 of 32 bytes".into());
        }
        if self.code_key_namespace.is_empty() {
            return invalid("lambda.code_key_namespace must not be empty".into());
        }
        let secret_ok = |secret: Option<&str>| {
            secret
                .and_then(|s| s.strip_prefix("whsec_"))
                .is_some_and(|s| !s.is_empty())
        };
        let check = |name: &str,
                     transport: LambdaTransport,
                     url: Option<&str>,
                     secret: Option<&str>|
         -> Result<(), ConfigError> {
            match transport {
                LambdaTransport::Lambda => Ok(()),
                LambdaTransport::Webhook if !url.is_some_and(http) => invalid(format!(
                    "{name} uses the webhook transport: it needs an http(s) webhook_url"
                )),
                LambdaTransport::Webhook if !secret_ok(secret) => invalid(format!(
                    "{name} uses the webhook transport: it needs webhook_secret = \"whsec_<base64>\""
                )),
                LambdaTransport::Webhook => Ok(()),
                LambdaTransport::Nats if self.nats_url.as_deref().or(nats_url).is_none() => {
                    invalid(format!(
                        "{name} uses the nats transport: set lambda.nats_url or nats_url"
                    ))
                }
                LambdaTransport::Nats => Ok(()),
            }
        };
        check(
            "lambda",
            self.transport,
            self.webhook_url.as_deref(),
            self.webhook_secret.as_deref(),
        )?;
        for (arn, function) in &self.functions {
            if !arn.starts_with("arn:") {
                return invalid(format!("lambda.functions: {arn:?} is not an ARN"));
            }
            if let Some(endpoint) = &function.endpoint
                && !http(endpoint)
            {
                return invalid(format!(
                    "lambda.functions.{arn:?}.endpoint must be an http(s) URL"
                ));
            }
            check(
                &format!("lambda.functions.{arn:?}"),
                function.transport,
                function
                    .webhook_url
                    .as_deref()
                    .or(self.webhook_url.as_deref()),
                function
                    .webhook_secret
                    .as_deref()
                    .or(self.webhook_secret.as_deref()),
            )?;
        }
        Ok(())
    }
}

/// Secrets never reach a log line.
impl std::fmt::Debug for Lambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lambda")
            .field("transport", &self.transport)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("session_token", &redacted(&self.session_token))
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &redacted(&self.webhook_secret))
            .field("nats_url", &self.nats_url)
            .field("nats_subject_prefix", &self.nats_subject_prefix)
            .field("functions", &self.functions)
            .field("code_key", &redacted(&self.code_key))
            .field("code_key_namespace", &self.code_key_namespace)
            .field("kms_endpoint", &self.kms_endpoint)
            .finish()
    }
}

impl std::fmt::Debug for LambdaFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaFunction")
            .field("transport", &self.transport)
            .field("endpoint", &self.endpoint)
            .field("function_name", &self.function_name)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &redacted(&self.webhook_secret))
            .field("nats_subject", &self.nats_subject)
            .finish()
    }
}

fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}
