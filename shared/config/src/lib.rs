//! Layered, typed configuration: defaults, then a TOML file, then `PORTCULLIS_*`
//! environment variables, then command-line flags (applied by the binary). Validated
//! before any port is bound, then passed explicitly to each service.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

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
    /// Administrator access key id for signed (SigV4) operations.
    pub admin_access_key_id: Option<String>,
    /// Administrator secret access key.
    pub admin_secret_access_key: Option<String>,
    /// 32-byte master key (hex) sealing signing keys at rest. Generated into the data
    /// directory on the embedded default; required for a clustered token service.
    pub master_key: Option<String>,
    /// Log filter (`info`, `portcullis_directory=debug`, ...).
    pub log: String,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// OTLP/HTTP endpoint to export traces to (e.g. `http://127.0.0.1:4318`); off when
    /// unset.
    pub otlp_endpoint: Option<String>,
}

/// The settings `PORTCULLIS_*` variables may set. Other `PORTCULLIS_*` variables (a test
/// harness's, say) are not configuration and are left alone.
const FIELDS: &[&str] = &[
    "data_dir",
    "http",
    "listen",
    "region",
    "public_url",
    "nats_url",
    "nats_replicas",
    "redis_url",
    "directory_addr",
    "authn_addr",
    "token_addr",
    "admin_access_key_id",
    "admin_secret_access_key",
    "master_key",
    "log",
    "log_format",
    "otlp_endpoint",
];

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            http: SocketAddr::from(([127, 0, 0, 1], 9229)),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: "us-east-1".into(),
            public_url: None,
            nats_url: None,
            nats_replicas: 1,
            redis_url: None,
            directory_addr: None,
            authn_addr: None,
            token_addr: None,
            admin_access_key_id: None,
            admin_secret_access_key: None,
            master_key: None,
            log: "info".into(),
            log_format: "text".into(),
            otlp_endpoint: None,
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
    /// Defaults, then `file` (if given), then `PORTCULLIS_*` variables, then `overrides`
    /// (the flags the user actually passed, serialised).
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Config = figment
            .merge(Env::prefixed("PORTCULLIS_").only(FIELDS))
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
        Ok(())
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

    #[test]
    fn every_field_can_come_from_the_environment() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let mut names: Vec<&str> = defaults
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut fields = FIELDS.to_vec();
        names.sort_unstable();
        fields.sort_unstable();
        assert_eq!(names, fields);
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
