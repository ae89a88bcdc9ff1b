//! Layered, typed configuration: defaults, then a TOML file, then `PORTCULLIS_*`
//! environment variables, then command-line flags (applied by the binary). Validated
//! before any port is bound, then passed explicitly to each service.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

mod delivery;
mod lambda;
mod social;

pub use delivery::{
    Delivery, EmailDelivery, NatsDelivery, SmsDelivery, SmtpDelivery, SmtpTls, WebhookDelivery,
};
pub use lambda::{Lambda, LambdaFunction, LambdaTransport};
pub use social::SocialEndpoints;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where embedded data (event log, read models, generated keys) is kept.
    pub data_dir: PathBuf,
    /// Address of the HTTP edge (Cognito API, OIDC documents, health).
    pub http: SocketAddr,
    /// gRPC listen address of a service run alone (`portcullis serve`).
    pub listen: SocketAddr,
    /// Region used when a request does not name one.
    pub region: String,
    /// Public base URL of the gateway, the base of every issuer; defaults to
    /// `http://<http>`.
    pub public_url: Option<String>,
    /// Comma-separated CIDRs of the proxies in front of the gateway whose
    /// `X-Forwarded-For` names the client (threat protection and web ACLs judge that
    /// address). Empty: the connection's peer is the client.
    pub trusted_proxies: String,
    /// NATS server URL(s), comma separated; set for a cluster.
    pub nats_url: Option<String>,
    /// JetStream replicas of the event log and key/value buckets (3 in a cluster).
    pub nats_replicas: usize,
    /// Redis URL for sessions and other short-lived state; set for a cluster.
    pub redis_url: Option<String>,
    /// Address of a directory service (or its load balancer).
    pub directory_addr: Option<String>,
    /// Address of an authn-flow service.
    pub authn_addr: Option<String>,
    /// Address of a token service.
    pub token_addr: Option<String>,
    /// Address of a credentials-broker service.
    pub credentials_addr: Option<String>,
    /// Address of a federation service.
    pub federation_addr: Option<String>,
    /// Administrator access key id for signed (SigV4) operations.
    pub admin_access_key_id: Option<String>,
    /// Administrator secret access key.
    pub admin_secret_access_key: Option<String>,
    /// 32-byte master key (hex) sealing signing keys at rest. Generated into the data
    /// directory on the embedded default; required for a clustered token service.
    pub master_key: Option<String>,
    /// Secret (hex, at least 32 bytes) every service process of a cluster shares; a
    /// service refuses gRPC calls that do not present it. Required for `serve`; `up`
    /// makes its own at start.
    pub peer_secret: Option<String>,
    /// Log filter (`info`, `portcullis_directory=debug`, ...).
    pub log: String,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// OTLP/HTTP endpoint to export traces to (e.g. `http://127.0.0.1:4318`); off when
    /// unset.
    pub otlp_endpoint: Option<String>,
    /// How codes and invitations reach users (`[delivery]` in the file,
    /// `PORTCULLIS_DELIVERY_*` in the environment).
    pub delivery: Delivery,
    /// Where identity pools verify social providers' tokens (`[social]` in the file,
    /// `PORTCULLIS_SOCIAL_*` in the environment).
    pub social: SocialEndpoints,
    /// How the pools' triggers are called (`[lambda]` in the file, `PORTCULLIS_LAMBDA_*`
    /// in the environment).
    pub lambda: Lambda,
    /// Where the servers may fetch from on an identity provider's behalf (`[outbound]`
    /// in the file, `PORTCULLIS_OUTBOUND_*` in the environment).
    pub outbound: Outbound,
    /// Threat protection's inputs (`[threat_protection]` in the file,
    /// `PORTCULLIS_THREAT_PROTECTION_*` in the environment).
    pub threat_protection: ThreatProtection,
}

/// What threat protection needs from the operator.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ThreatProtection {
    /// A breached-password corpus in the Pwned Passwords format (or an index made from
    /// one); empty: compromised credentials are not detected. A text file is indexed
    /// into `<file>.index` at start when that index is missing or older.
    pub breached_passwords: String,
    /// A city-level IP geolocation database in the MaxMind DB format (GeoLite2 City and
    /// the like); empty: sign-ins have no city or country, and impossible travel is
    /// not detected.
    pub ip_geolocation: String,
}

/// Fetches made for identity providers (metadata, discovery, keys, token and user
/// endpoints) reach public addresses only, and the networks listed here.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Outbound {
    /// Comma-separated CIDRs outbound fetches may reach besides public addresses, e.g.
    /// `127.0.0.0/8` for a provider on this machine. Empty: public addresses only.
    pub allow: String,
    /// How old (seconds) a SAML provider's metadata fetched from its `MetadataURL` may
    /// get before a sign-in through it fetches it again. Six hours when unset.
    pub metadata_refresh_secs: Option<u64>,
}

impl Outbound {
    /// Six hours, as Cognito refreshes metadata.
    pub const DEFAULT_METADATA_REFRESH_SECS: u64 = 6 * 60 * 60;

    pub fn metadata_refresh(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.metadata_refresh_secs
                .unwrap_or(Self::DEFAULT_METADATA_REFRESH_SECS),
        )
    }
}

/// The settings `PORTCULLIS_*` variables may set. Other `PORTCULLIS_*` variables (a test
/// harness's, say) are not configuration and are left alone.
const FIELDS: &[&str] = &[
    "data_dir",
    "http",
    "listen",
    "region",
    "public_url",
    "trusted_proxies",
    "nats_url",
    "nats_replicas",
    "redis_url",
    "directory_addr",
    "authn_addr",
    "token_addr",
    "credentials_addr",
    "federation_addr",
    "admin_access_key_id",
    "admin_secret_access_key",
    "master_key",
    "peer_secret",
    "log",
    "log_format",
    "otlp_endpoint",
];

/// The nested settings `PORTCULLIS_*` variables may set, as dotted paths; the variable
/// is the path with `_` for `.` (`delivery.smtp.host` is `PORTCULLIS_DELIVERY_SMTP_HOST`).
const NESTED_FIELDS: &[&str] = &[
    "delivery.email",
    "delivery.sms",
    "delivery.timeout_secs",
    "delivery.smtp.host",
    "delivery.smtp.port",
    "delivery.smtp.tls",
    "delivery.smtp.username",
    "delivery.smtp.password",
    "delivery.smtp.from",
    "delivery.webhook.url",
    "delivery.webhook.bearer_token",
    "delivery.nats.url",
    "delivery.nats.subject",
    "delivery.nats.jetstream",
    "social.google_jwks_url",
    "social.apple_jwks_url",
    "social.facebook_graph_url",
    "social.amazon_api_url",
    "social.twitter_api_url",
    "lambda.transport",
    "lambda.endpoint",
    "lambda.access_key_id",
    "lambda.secret_access_key",
    "lambda.session_token",
    "lambda.webhook_url",
    "lambda.webhook_secret",
    "lambda.nats_url",
    "lambda.nats_subject_prefix",
    "lambda.code_key",
    "lambda.code_key_namespace",
    "lambda.kms_endpoint",
    "outbound.allow",
    "outbound.metadata_refresh_secs",
    "threat_protection.breached_passwords",
    "threat_protection.ip_geolocation",
];

/// Settings read from the environment as written, never parsed as numbers or booleans.
const RAW_STRING_FIELDS: &[&str] = &[
    "admin_access_key_id",
    "admin_secret_access_key",
    "master_key",
    "peer_secret",
    "delivery.smtp.username",
    "delivery.smtp.password",
    "delivery.webhook.bearer_token",
    "lambda.access_key_id",
    "lambda.secret_access_key",
    "lambda.session_token",
    "lambda.webhook_secret",
    "lambda.code_key",
    "outbound.allow",
    "threat_protection.breached_passwords",
    "threat_protection.ip_geolocation",
];

/// The `PORTCULLIS_*` variables that are configuration, as (path, value).
struct Variables(Vec<(String, Value)>);

impl Variables {
    fn from_env(env: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        let variables = env
            .into_iter()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter_map(|(name, value)| {
                // The prefix matches in any case, as figment's `Env` matched it.
                let (prefix, rest) = name.split_at_checked("PORTCULLIS_".len())?;
                let path = env_path(rest).filter(|_| prefix.eq_ignore_ascii_case("PORTCULLIS_"))?;
                // Values are parsed as figment's `Env` does (`2525` is a number, `true`
                // a boolean), except secrets: a password of digits stays a string (and
                // a type error would echo it).
                let value = if RAW_STRING_FIELDS.contains(&path.as_str()) {
                    Value::from(value)
                } else {
                    value.parse().unwrap_or_else(|_| Value::from(value))
                };
                Some((path, value))
            })
            .collect();
        Self(variables)
    }
}

impl Provider for Variables {
    fn metadata(&self) -> Metadata {
        Metadata::named("`PORTCULLIS_` environment variable(s)")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut nested = Figment::new();
        for (path, value) in &self.0 {
            nested = nested.merge(Serialized::default(path, value));
        }
        nested.data()
    }
}

/// The configuration path a `PORTCULLIS_`-stripped variable name sets, if any.
fn env_path(name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    if FIELDS.contains(&name.as_str()) {
        return Some(name);
    }
    NESTED_FIELDS
        .iter()
        .find(|path| path.replace('.', "_") == name)
        .map(|path| (*path).to_owned())
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            http: SocketAddr::from(([127, 0, 0, 1], 9229)),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: "us-east-1".into(),
            public_url: None,
            trusted_proxies: String::new(),
            nats_url: None,
            nats_replicas: 1,
            redis_url: None,
            directory_addr: None,
            authn_addr: None,
            token_addr: None,
            credentials_addr: None,
            federation_addr: None,
            admin_access_key_id: None,
            admin_secret_access_key: None,
            master_key: None,
            peer_secret: None,
            log: "info".into(),
            log_format: "text".into(),
            otlp_endpoint: None,
            delivery: Delivery::default(),
            social: SocialEndpoints::default(),
            lambda: Lambda::defaults(),
            outbound: Outbound::default(),
            threat_protection: ThreatProtection::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// `trusted_proxies`, parsed.
    pub fn trusted_proxies(&self) -> Result<Vec<portcullis_types::cidr::Cidr>, ConfigError> {
        self.trusted_proxies
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(portcullis_types::cidr::Cidr::parse)
            .collect::<Result<_, _>>()
            .map_err(|err| ConfigError::Invalid(format!("trusted_proxies: {err}")))
    }

    /// Defaults, then `file` (if given), then `PORTCULLIS_*` variables, then `overrides`
    /// (the flags the user actually passed, serialised).
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Self, ConfigError> {
        Self::load_with(file, std::env::vars_os(), overrides)
    }

    /// [`Config::load`] with the environment passed in, so tests need not change the
    /// process's.
    pub fn load_with(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (OsString, OsString)>,
        overrides: impl Serialize,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Config = figment
            .merge(Variables::from_env(env))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self
            .region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || self.region.is_empty()
        {
            return Err(ConfigError::Invalid(format!(
                "invalid region {:?}",
                self.region
            )));
        }
        if !(1..=5).contains(&self.nats_replicas) {
            return Err(ConfigError::Invalid(
                "nats_replicas must be between 1 and 5".into(),
            ));
        }
        if self.admin_access_key_id.is_some() != self.admin_secret_access_key.is_some() {
            return Err(ConfigError::Invalid(
                "set both admin_access_key_id and admin_secret_access_key, or neither".into(),
            ));
        }
        if !["text", "json"].contains(&self.log_format.as_str()) {
            return Err(ConfigError::Invalid(
                "log_format must be text or json".into(),
            ));
        }
        self.delivery.validate(self.nats_url.as_deref())?;
        self.lambda.validate(self.nats_url.as_deref())
    }

    /// The base of issuers and OIDC links.
    pub fn public_base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.http))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct NoFlags {}

    #[test]
    fn defaults_are_the_embedded_ones() {
        let config = Config::load(None, NoFlags {}).unwrap();
        assert_eq!(config.http.port(), 9229);
        assert_eq!(config.region, "us-east-1");
        assert_eq!(config.public_base_url(), "http://127.0.0.1:9229");
    }

    #[test]
    fn file_then_flags_override_defaults() {
        let dir = std::env::temp_dir().join(format!("portcullis-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "region = \"eu-west-1\"\nlog = \"debug\"\n").unwrap();
        #[derive(Serialize)]
        struct Flags {
            log: &'static str,
        }
        let config = Config::load(Some(&file), Flags { log: "warn" }).unwrap();
        assert_eq!(config.region, "eu-west-1");
        assert_eq!(config.log, "warn");
    }

    /// Every leaf of the configuration, as a dotted path.
    fn leaves(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
        match value.as_object() {
            Some(map) => {
                for (key, value) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    leaves(&path, value, out);
                }
            }
            None => out.push(prefix.to_owned()),
        }
    }

    #[test]
    fn every_field_can_come_from_the_environment() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let mut names = Vec::new();
        leaves("", &defaults, &mut names);
        let mut fields: Vec<String> = FIELDS
            .iter()
            .chain(NESTED_FIELDS)
            .map(|f| (*f).to_owned())
            .collect();
        names.sort_unstable();
        fields.sort_unstable();
        assert_eq!(names, fields);
        for field in &fields {
            let variable = field.replace('.', "_").to_ascii_uppercase();
            assert_eq!(env_path(&variable).as_ref(), Some(field));
        }
        assert_eq!(
            env_path("NATS_SERVER"),
            None,
            "a harness's variable is not config"
        );
    }

    #[test]
    fn delivery_comes_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[delivery]\nemail = \"smtp\"\nsms = \"nats\"\n\
             [delivery.smtp]\nhost = \"mail.example.com\"\nfrom = \"a@example.com\"\n\
             [delivery.nats]\nurl = \"nats://127.0.0.1:4222\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), NoFlags {}).unwrap();
        assert_eq!(config.delivery.email, EmailDelivery::Smtp);
        assert_eq!(config.delivery.sms, SmsDelivery::Nats);
        assert_eq!(config.delivery.smtp.tls, SmtpTls::Starttls);
        assert!(config.delivery.nats.jetstream);

        let env = [
            ("PORTCULLIS_DELIVERY_EMAIL", "smtp"),
            ("PORTCULLIS_DELIVERY_SMTP_HOST", "mail.example.com"),
            ("PORTCULLIS_DELIVERY_SMTP_PORT", "2525"),
            ("PORTCULLIS_DELIVERY_SMTP_TLS", "tls"),
            (
                "PORTCULLIS_DELIVERY_SMTP_FROM",
                "Portcullis <a@example.com>",
            ),
            ("PORTCULLIS_DELIVERY_SMTP_USERNAME", "mailer"),
            ("PORTCULLIS_DELIVERY_SMTP_PASSWORD", "0123456"),
            ("PORTCULLIS_DELIVERY_TIMEOUT_SECS", "3"),
            ("PORTCULLIS_DELIVERY_NATS_JETSTREAM", "false"),
            ("PORTCULLIS_NATS_SERVER", "/not/config"),
            ("OTHER_DELIVERY_EMAIL", "nonsense"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let config = Config::load_with(None, env, NoFlags {}).unwrap();
        let smtp = &config.delivery.smtp;
        assert_eq!(config.delivery.email, EmailDelivery::Smtp);
        assert_eq!(smtp.port, Some(2525));
        assert_eq!(smtp.tls, SmtpTls::Tls);
        assert_eq!(smtp.password.as_deref(), Some("0123456"));
        assert_eq!(config.delivery.timeout_secs, 3);
        assert!(!config.delivery.nats.jetstream);
        assert!(
            !format!("{config:?}").contains("0123456"),
            "no secret in Debug"
        );
    }

    #[test]
    fn trigger_transports_come_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:migrate";
        std::fs::write(
            &file,
            format!(
                "[lambda]\nendpoint = \"http://127.0.0.1:9001\"\n\
                 [lambda.functions.\"{arn}\"]\ntransport = \"webhook\"\n\
                 webhook_url = \"https://hooks.example.com/migrate\"\n\
                 webhook_secret = \"whsec_c2VjcmV0\"\n"
            ),
        )
        .unwrap();
        let env = [
            ("PORTCULLIS_LAMBDA_ACCESS_KEY_ID", "AKIDLAMBDA"),
            ("PORTCULLIS_LAMBDA_SECRET_ACCESS_KEY", "s3cr3t-lambda"),
            // 32 bytes of 0x07.
            (
                "PORTCULLIS_LAMBDA_CODE_KEY",
                "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
            ),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let config = Config::load_with(Some(&file), env, NoFlags {}).unwrap();
        let lambda = &config.lambda;
        assert_eq!(lambda.transport, LambdaTransport::Lambda);
        assert_eq!(lambda.endpoint.as_deref(), Some("http://127.0.0.1:9001"));
        assert_eq!(lambda.secret_access_key.as_deref(), Some("s3cr3t-lambda"));
        assert_eq!(lambda.nats_subject_prefix, "portcullis.triggers");
        assert_eq!(lambda.functions[arn].transport, LambdaTransport::Webhook);
        assert_eq!(lambda.code_key_bytes(), Some([7u8; 32]));
        assert_eq!(lambda.code_key_namespace, "portcullis");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr3t-lambda") && !debug.contains("whsec_c2VjcmV0"));
        assert!(!debug.contains("BwcHBwcH"));

        let refused = |lambda: Lambda| {
            Config {
                lambda,
                ..Config::default()
            }
            .validate()
            .is_err()
        };
        let webhook = Lambda {
            transport: LambdaTransport::Webhook,
            webhook_url: Some("https://hooks.example.com".into()),
            ..Lambda::defaults()
        };
        assert!(refused(webhook.clone()), "a webhook without a secret");
        assert!(!refused(Lambda {
            webhook_secret: Some("whsec_c2VjcmV0".into()),
            ..webhook
        }));
        assert!(refused(Lambda {
            transport: LambdaTransport::Nats,
            ..Lambda::defaults()
        }));
        assert!(refused(Lambda {
            access_key_id: Some("AKID".into()),
            ..Lambda::defaults()
        }));
        assert!(refused(Lambda {
            code_key: Some("c2hvcnQ=".into()),
            ..Lambda::defaults()
        }));
        assert!(refused(Lambda {
            code_key: lambda.code_key.clone(),
            kms_endpoint: Some("http://127.0.0.1:4599".into()),
            ..Lambda::defaults()
        }));
    }

    #[test]
    fn incomplete_delivery_settings_are_refused_before_start() {
        let refused = |delivery: Delivery| {
            Config {
                delivery,
                ..Config::default()
            }
            .validate()
            .is_err()
        };
        let smtp = Delivery {
            email: EmailDelivery::Smtp,
            ..Delivery::default()
        };
        assert!(refused(smtp.clone()), "smtp without a host");
        let mut with_host = smtp;
        with_host.smtp.host = Some("mail.example.com".into());
        assert!(refused(with_host.clone()), "smtp without a from address");
        with_host.smtp.from = Some("a@example.com".into());
        assert!(!refused(with_host.clone()));
        let mut plain_auth = with_host;
        plain_auth.smtp.tls = SmtpTls::None;
        plain_auth.smtp.username = Some("mailer".into());
        plain_auth.smtp.password = Some("secret".into());
        assert!(refused(plain_auth), "no password over plain text");
        assert!(refused(Delivery {
            sms: SmsDelivery::Webhook,
            ..Delivery::default()
        }));
        assert!(refused(Delivery {
            sms: SmsDelivery::Nats,
            ..Delivery::default()
        }));
        assert!(refused(Delivery {
            timeout_secs: 0,
            ..Delivery::default()
        }));
    }

    #[test]
    fn invalid_values_are_refused_before_start() {
        #[derive(Serialize)]
        struct Flags {
            region: &'static str,
        }
        assert!(
            Config::load(
                None,
                Flags {
                    region: "Not A Region"
                }
            )
            .is_err()
        );
        #[derive(Serialize)]
        struct Half {
            admin_access_key_id: &'static str,
        }
        assert!(
            Config::load(
                None,
                Half {
                    admin_access_key_id: "AKID"
                }
            )
            .is_err()
        );
    }
}
