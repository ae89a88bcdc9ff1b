//! `portcullis serve <service>`: one service per process, on NATS JetStream (event log
//! and key/value buckets) and Redis (ephemeral state).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use portcullis_config::Config;
use portcullis_ephemeral::redis_store::RedisStore;
use portcullis_eventlog::jetstream::{JetStreamConfig, JetStreamStore};
use portcullis_eventlog::{KeyValue, KvError, LogError};
use portcullis_types::SystemClock;
use tokio::net::TcpListener;

use crate::Service;

fn need<'a>(value: &'a Option<String>, what: &str) -> anyhow::Result<&'a str> {
    value
        .as_deref()
        .with_context(|| format!("{what} is required to serve this service"))
}

async fn jetstream(config: &Config) -> anyhow::Result<JetStreamStore> {
    let url = need(
        &config.nats_url,
        "nats_url (--nats-url or PORTCULLIS_NATS_URL)",
    )?;
    let cfg = JetStreamConfig {
        url: url.to_owned(),
        replicas: config.nats_replicas,
        ..JetStreamConfig::default()
    };
    patiently("connecting to NATS JetStream", is_log_unavailable, || {
        JetStreamStore::connect(cfg.clone())
    })
    .await
}

/// How long a service keeps retrying JetStream while it starts. Right after a cluster
/// starts (meta leader election, R3 streams created by every service at once on a busy
/// machine) requests can time out; a replica should wait for the cluster, not exit.
const STARTUP_PATIENCE: Duration = Duration::from_secs(60);

fn is_log_unavailable(err: &LogError) -> bool {
    matches!(err, LogError::Unavailable(_))
}

fn is_kv_unavailable(err: &KvError) -> bool {
    matches!(err, KvError::Unavailable(_))
}

/// Runs `attempt` until it succeeds, fails for a reason `retryable` rejects, or
/// [`STARTUP_PATIENCE`] runs out.
async fn patiently<T, E, F>(
    what: &str,
    retryable: fn(&E) -> bool,
    mut attempt: impl FnMut() -> F,
) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
    F: Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + STARTUP_PATIENCE;
    let mut pause = Duration::from_millis(200);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if retryable(&err) && tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %err, "{what} failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(err) => return Err(anyhow::Error::new(err).context(what.to_owned())),
        }
    }
}

/// Opens (creating it if needed) a key/value bucket, retrying while JetStream is
/// unavailable at startup.
async fn bucket(store: &JetStreamStore, name: &str) -> anyhow::Result<Arc<dyn KeyValue>> {
    patiently(
        &format!("opening the {name} bucket"),
        is_kv_unavailable,
        || store.bucket(name),
    )
    .await
}

async fn redis(config: &Config) -> anyhow::Result<RedisStore> {
    let url = need(
        &config.redis_url,
        "redis_url (--redis-url or PORTCULLIS_REDIS_URL)",
    )?;
    Ok(RedisStore::connect(url, "portcullis:").await?)
}

pub async fn serve(service: Service, config: Config) -> anyhow::Result<()> {
    crate::secrets::secure_data_dir(&config.data_dir)?;
    let peer = portcullis_runtime::PeerKey::from_hex(need(
        &config.peer_secret,
        "peer_secret (PORTCULLIS_PEER_SECRET)",
    )?)
    .context("peer_secret (PORTCULLIS_PEER_SECRET)")?;
    let clock = Arc::new(SystemClock);
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let shutdown = portcullis_runtime::shutdown_signal();
    match service {
        Service::Directory => {
            let store = jetstream(&config).await?;
            let deps = portcullis_directory::Deps {
                log: Arc::new(store.clone()),
                claims: bucket(&store, "claims").await?,
                secrets: crate::secrets::sealed(
                    bucket(&store, "client-secrets").await?,
                    need(&config.master_key, "master_key (PORTCULLIS_MASTER_KEY)")?,
                    "client-secrets",
                )?,
                import_files: bucket(&store, "import-files").await?,
                imported_passwords: crate::secrets::sealed(
                    bucket(&store, "imported-passwords").await?,
                    need(&config.master_key, "master_key (PORTCULLIS_MASTER_KEY)")?,
                    "imported-passwords",
                )?,
                clock,
                projection_path: config.data_dir.join("directory-projection.redb"),
                relay: Some(portcullis_directory::relay::Relay {
                    publisher: patiently("creating the event stream", is_log_unavailable, || {
                        store.event_publisher()
                    })
                    .await?,
                    cursor: bucket(&store, "relay").await?,
                }),
                peer: peer.clone(),
            };
            let app = portcullis_directory::Application::build(listener, deps).await?;
            announce("directory", app.port());
            app.run_until_stopped(shutdown).await
        }
        Service::AuthnFlow => {
            let store = jetstream(&config).await?;
            let sender = crate::delivery::sender(&config).await?;
            let triggers = crate::triggers::invoker(&config).await?;
            let deps = portcullis_authn_flow::Deps {
                log: Arc::new(store.clone()),
                directory: need(&config.directory_addr, "directory_addr")?.to_owned(),
                token: need(&config.token_addr, "token_addr")?.to_owned(),
                federation: need(&config.federation_addr, "federation_addr")?.to_owned(),
                credentials: crate::secrets::sealed(
                    bucket(&store, "credentials").await?,
                    need(&config.master_key, "master_key (PORTCULLIS_MASTER_KEY)")?,
                    "credentials",
                )?,
                imported_passwords: crate::secrets::sealed(
                    bucket(&store, "imported-passwords").await?,
                    need(&config.master_key, "master_key (PORTCULLIS_MASTER_KEY)")?,
                    "imported-passwords",
                )?,
                clock,
                hash_threads: None,
                ephemeral: Arc::new(redis(&config).await?),
                sender,
                peer: peer.clone(),
                triggers,
                breached: crate::breached_passwords(&config)?,
                geo: crate::ip_geolocation(&config)?,
                public_base_url: config.public_base_url(),
            };
            let app = portcullis_authn_flow::Application::build(listener, deps).await?;
            announce("authn-flow", app.port());
            app.run_until_stopped(shutdown).await
        }
        Service::Token => {
            let store = jetstream(&config).await?;
            let master = need(&config.master_key, "master_key (PORTCULLIS_MASTER_KEY)")?;
            let deps = portcullis_token::Deps {
                keys: bucket(&store, "signing-keys").await?,
                master_key: crate::secrets::keys_from_hex(master)?.0,
                refresh_tokens: Arc::new(redis(&config).await?),
                issuer_base: config.public_base_url(),
                clock,
                peer: peer.clone(),
            };
            let app = portcullis_token::Application::build(listener, deps).await?;
            announce("token", app.port());
            app.run_until_stopped(shutdown).await
        }
        Service::Federation => {
            let store = jetstream(&config).await?;
            let deps = portcullis_federation::Deps {
                log: Arc::new(store.clone()),
                clock,
                secrets: crate::secrets::sealed(
                    bucket(&store, "identity-provider-secrets").await?,
                    need(&config.master_key, "master_key (PORTCULLIS_MASTER_KEY)")?,
                    "identity-provider-secrets",
                )?,
                directory: need(&config.directory_addr, "directory_addr")?.to_owned(),
                outbound: crate::outbound_policy(&config)?,
                metadata_refresh: config.outbound.metadata_refresh(),
                social: config.social.clone(),
                ephemeral: Arc::new(redis(&config).await?),
                peer: peer.clone(),
            };
            let app = portcullis_federation::Application::build(listener, deps).await?;
            announce("federation", app.port());
            app.run_until_stopped(shutdown).await
        }
        Service::CredentialsBroker => {
            let store = jetstream(&config).await?;
            let master = need(&config.master_key, "master_key (PORTCULLIS_MASTER_KEY)")?;
            let (_, credentials_key) = crate::secrets::keys_from_hex(master)?;
            let log: Arc<dyn portcullis_eventlog::EventLog> = Arc::new(store.clone());
            let roles = portcullis_credentials_broker::iam::Roles::new(
                portcullis_aggregate::AggregateStore::new(log.clone(), clock.clone()),
            );
            let deps = portcullis_credentials_broker::Deps {
                log,
                links: bucket(&store, "identity-links").await?,
                clock,
                projection_path: config.data_dir.join("credentials-projection.redb"),
                directory: need(&config.directory_addr, "directory_addr")?.to_owned(),
                token: need(&config.token_addr, "token_addr")?.to_owned(),
                credentials_key,
                roles: Arc::new(roles),
                federation: need(&config.federation_addr, "federation_addr")?.to_owned(),
                ephemeral: Arc::new(redis(&config).await?),
                peer: peer.clone(),
            };
            let app = portcullis_credentials_broker::Application::build(listener, deps).await?;
            announce("credentials-broker", app.port());
            app.run_until_stopped(shutdown).await
        }
        Service::Gateway => {
            drop(listener);
            let http = TcpListener::bind(config.http)
                .await
                .with_context(|| format!("binding {}", config.http))?;
            let access = need(
                &config.admin_access_key_id,
                "admin_access_key_id (PORTCULLIS_ADMIN_ACCESS_KEY_ID)",
            )?;
            let secret = need(&config.admin_secret_access_key, "admin_secret_access_key")?;
            let deps = portcullis_gateway::Deps {
                log: Arc::new(jetstream(&config).await?),
                directory: need(&config.directory_addr, "directory_addr")?.to_owned(),
                authn: need(&config.authn_addr, "authn_addr")?.to_owned(),
                token: need(&config.token_addr, "token_addr")?.to_owned(),
                credentials: need(&config.credentials_addr, "credentials_addr")?.to_owned(),
                federation: need(&config.federation_addr, "federation_addr")?.to_owned(),
                admin_credentials: [(access.to_owned(), secret.to_owned())].into(),
                default_region: config.region.clone(),
                public_base_url: config.public_base_url(),
                peer: peer.clone(),
                trusted_proxies: config.trusted_proxies()?,
            };
            let app = portcullis_gateway::Application::build(http, deps).await?;
            announce("gateway", app.port());
            app.run_until_stopped(shutdown).await
        }
    }
}

/// One machine-readable line so scripts can learn the bound port.
fn announce(service: &str, port: u16) {
    println!("{service} listening on 127.0.0.1:{port}");
}
