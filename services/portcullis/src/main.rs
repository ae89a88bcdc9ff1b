//! `portcullis`: every service in one process on embedded backends (`up`), or one
//! service per process for a cluster (`serve <service>`).

mod cluster;
mod delivery;
mod embedded;
mod secrets;
mod triggers;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use portcullis_config::Config;
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "A self-hosted identity platform that speaks Cognito's protocols"
)]
struct Cli {
    /// TOML configuration file; `PORTCULLIS_*` variables and flags override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Flags shared by both commands; only the ones given override the configuration.
#[derive(clap::Args, Serialize, Default)]
struct Flags {
    /// Data directory (embedded log, read models, generated keys).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// HTTP address of the Cognito API and OIDC endpoints.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<SocketAddr>,
    /// Default region.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    /// Public base URL (issuer base); defaults to http://<http>.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    public_url: Option<String>,
    /// Log filter.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<String>,
}

#[derive(clap::Args, Serialize, Default)]
struct ServeFlags {
    /// gRPC listen address.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<SocketAddr>,
    /// NATS URL(s), comma separated.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    nats_url: Option<String>,
    /// JetStream replicas.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    nats_replicas: Option<usize>,
    /// Redis URL.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_url: Option<String>,
    /// Address of the directory service.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    directory_addr: Option<String>,
    /// Address of the authn-flow service.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    authn_addr: Option<String>,
    /// Address of the token service.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    token_addr: Option<String>,
    /// Address of the credentials-broker service.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials_addr: Option<String>,
    /// Address of the federation service.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    federation_addr: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every service in this process on embedded storage. No other server needed.
    Up {
        #[command(flatten)]
        flags: Flags,
    },
    /// Runs one service, for a cluster on NATS JetStream and Redis.
    Serve {
        service: Service,
        #[command(flatten)]
        flags: Flags,
        #[command(flatten)]
        serve: Box<ServeFlags>,
    },
}

#[derive(Clone, Copy, ValueEnum, Debug)]
pub enum Service {
    Directory,
    AuthnFlow,
    Token,
    Federation,
    CredentialsBroker,
    Gateway,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Directory => "directory",
            Service::AuthnFlow => "authn-flow",
            Service::Token => "token",
            Service::Federation => "federation",
            Service::CredentialsBroker => "credentials-broker",
            Service::Gateway => "gateway",
        }
    }
}

/// What fetches for identity providers may reach: public addresses and the networks of
/// `outbound.allow`.
pub(crate) fn outbound_policy(config: &Config) -> anyhow::Result<portcullis_outbound::Policy> {
    portcullis_outbound::Policy::allowing(&config.outbound.allow)
        .map_err(|err| anyhow::anyhow!("outbound.allow (PORTCULLIS_OUTBOUND_ALLOW): {err}"))
}

/// The breached-password corpus the operator named, indexed (see
/// `portcullis_breached::open_or_build`); `None` when none is named.
pub(crate) fn breached_passwords(
    config: &Config,
) -> anyhow::Result<Option<std::sync::Arc<portcullis_breached::Corpus>>> {
    let path = &config.threat_protection.breached_passwords;
    if path.is_empty() {
        return Ok(None);
    }
    let corpus = portcullis_breached::open_or_build(std::path::Path::new(path)).map_err(|err| {
        anyhow::anyhow!(
            "threat_protection.breached_passwords (PORTCULLIS_THREAT_PROTECTION_BREACHED_PASSWORDS): {path}: {err}"
        )
    })?;
    tracing::info!(hashes = corpus.len(), "breached-password corpus ready");
    Ok(Some(std::sync::Arc::new(corpus)))
}

/// The IP geolocation database the operator named; `None` when none is named.
pub(crate) fn ip_geolocation(
    config: &Config,
) -> anyhow::Result<Option<std::sync::Arc<portcullis_geo::Database>>> {
    let path = &config.threat_protection.ip_geolocation;
    if path.is_empty() {
        return Ok(None);
    }
    let database = portcullis_geo::Database::open(std::path::Path::new(path)).map_err(|err| {
        anyhow::anyhow!(
            "threat_protection.ip_geolocation (PORTCULLIS_THREAT_PROTECTION_IP_GEOLOCATION): {path}: {err}"
        )
    })?;
    tracing::info!("IP geolocation database ready");
    Ok(Some(std::sync::Arc::new(database)))
}

fn telemetry(config: &Config, service_name: &str) -> anyhow::Result<portcullis_telemetry::Guard> {
    portcullis_telemetry::init(&portcullis_telemetry::Settings {
        filter: &config.log,
        json: config.log_format == "json",
        otlp_endpoint: config.otlp_endpoint.as_deref(),
        service_name,
    })
}

#[derive(Serialize)]
struct Overrides<'a> {
    #[serde(flatten)]
    flags: &'a Flags,
    #[serde(flatten)]
    serve: &'a ServeFlags,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Up { flags } => {
            let config = Config::load(
                cli.config.as_deref(),
                Overrides {
                    flags: &flags,
                    serve: &ServeFlags::default(),
                },
            )?;
            // Outside the runtime: the OTLP exporter's blocking HTTP client must not be
            // built on an async thread.
            let _telemetry = telemetry(&config, "portcullis")?;
            runtime.block_on(embedded::up(config))
        }
        Command::Serve {
            service,
            flags,
            serve,
        } => {
            let config = Config::load(
                cli.config.as_deref(),
                Overrides {
                    flags: &flags,
                    serve: &serve,
                },
            )?;
            let _telemetry = telemetry(&config, &format!("portcullis-{}", service.name()))?;
            runtime.block_on(cluster::serve(service, config))
        }
    }
}
