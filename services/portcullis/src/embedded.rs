//! `portcullis up`: every service in one process, on the embedded backends (a redb
//! event log and key/value store in the data directory, in-process ephemeral store).
//! The services talk gRPC to each other as in a cluster; since they serve in this
//! process, their calls go to each other's routes without a socket
//! (`portcullis_runtime::Link`).

use std::sync::Arc;

use anyhow::Context;
use portcullis_config::Config;
use portcullis_ephemeral::FileStore;
use portcullis_eventlog::EventLog;
use portcullis_eventlog::embedded::EmbeddedStore;
use portcullis_types::SystemClock;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::secrets;

async fn loopback() -> anyhow::Result<TcpListener> {
    Ok(TcpListener::bind("127.0.0.1:0").await?)
}

/// Resolves when `stop` flips to true.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

pub async fn up(config: Config) -> anyhow::Result<()> {
    secrets::secure_data_dir(&config.data_dir)?;
    let configured = config
        .admin_access_key_id
        .clone()
        .zip(config.admin_secret_access_key.clone());
    let (admin, generated) = secrets::admin_credentials(&config.data_dir, configured)?;
    let master_hex = secrets::master_key(&config.data_dir, config.master_key.as_deref())?;
    let (master_key, credentials_key) = secrets::keys_from_hex(&master_hex)?;
    let sender = crate::delivery::sender(&config).await?;
    let triggers = crate::triggers::invoker(&config).await?;
    // Made now and never written anywhere: only this process can call its services'
    // loopback ports.
    let peer = portcullis_runtime::PeerKey::random()?;

    let store = EmbeddedStore::open(&config.data_dir.join("portcullis.redb"))
        .await
        .context("opening the event log")?;
    let log: Arc<dyn EventLog> = Arc::new(store.clone());
    let clock = Arc::new(SystemClock);
    // Sessions, codes and refresh tokens outlive a restart, as on Redis with persistence.
    let ephemeral = Arc::new(
        FileStore::open(&config.data_dir.join("ephemeral.redb"))
            .await
            .context("opening the ephemeral store")?,
    );

    let http = TcpListener::bind(config.http)
        .await
        .with_context(|| format!("binding {}", config.http))?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", http.local_addr().map_or(config.http, |a| a)));

    let directory = portcullis_directory::Application::build(
        loopback().await?,
        portcullis_directory::Deps {
            log: log.clone(),
            claims: store.bucket("claims"),
            secrets: secrets::sealed(
                store.bucket("client-secrets"),
                &master_hex,
                "client-secrets",
            )?,
            import_files: store.bucket("import-files"),
            imported_passwords: secrets::sealed(
                store.bucket("imported-passwords"),
                &master_hex,
                "imported-passwords",
            )?,
            clock: clock.clone(),
            projection_path: config.data_dir.join("directory-projection.redb"),
            relay: None,
            peer: peer.clone(),
        },
    )
    .await?;
    let token = portcullis_token::Application::build(
        loopback().await?,
        portcullis_token::Deps {
            keys: store.bucket("signing-keys"),
            master_key,
            refresh_tokens: ephemeral.clone(),
            issuer_base: public_url.clone(),
            clock: clock.clone(),
            peer: peer.clone(),
        },
    )
    .await?;
    let directory_addr = format!("127.0.0.1:{}", directory.port());
    let token_addr = format!("127.0.0.1:{}", token.port());
    let federation = portcullis_federation::Application::build(
        loopback().await?,
        portcullis_federation::Deps {
            log: log.clone(),
            clock: clock.clone(),
            secrets: secrets::sealed(
                store.bucket("identity-provider-secrets"),
                &master_hex,
                "identity-provider-secrets",
            )?,
            directory: directory_addr.clone(),
            outbound: crate::outbound_policy(&config)?,
            metadata_refresh: config.outbound.metadata_refresh(),
            social: config.social.clone(),
            ephemeral: ephemeral.clone(),
            peer: peer.clone(),
        },
    )
    .await?;
    let authn = portcullis_authn_flow::Application::build(
        loopback().await?,
        portcullis_authn_flow::Deps {
            log: log.clone(),
            directory: directory_addr.clone(),
            token: token_addr.clone(),
            federation: format!("127.0.0.1:{}", federation.port()),
            credentials: secrets::sealed(store.bucket("credentials"), &master_hex, "credentials")?,
            imported_passwords: secrets::sealed(
                store.bucket("imported-passwords"),
                &master_hex,
                "imported-passwords",
            )?,
            clock: clock.clone(),
            hash_threads: None,
            ephemeral: ephemeral.clone(),
            sender,
            peer: peer.clone(),
            triggers,
            breached: crate::breached_passwords(&config)?,
            geo: crate::ip_geolocation(&config)?,
            public_base_url: public_url.clone(),
        },
    )
    .await?;
    let credentials = portcullis_credentials_broker::Application::build(
        loopback().await?,
        portcullis_credentials_broker::Deps {
            log: log.clone(),
            links: store.bucket("identity-links"),
            clock: clock.clone(),
            projection_path: config.data_dir.join("credentials-projection.redb"),
            directory: directory_addr.clone(),
            token: token_addr.clone(),
            credentials_key,
            roles: Arc::new(portcullis_credentials_broker::iam::Roles::new(
                portcullis_aggregate::AggregateStore::new(log.clone(), clock.clone()),
            )),
            federation: format!("127.0.0.1:{}", federation.port()),
            ephemeral: ephemeral.clone(),
            peer: peer.clone(),
        },
    )
    .await?;
    let gateway = portcullis_gateway::Application::build(
        http,
        portcullis_gateway::Deps {
            log: log.clone(),
            directory: directory_addr,
            authn: format!("127.0.0.1:{}", authn.port()),
            token: token_addr,
            credentials: format!("127.0.0.1:{}", credentials.port()),
            federation: format!("127.0.0.1:{}", federation.port()),
            admin_credentials: [(admin.access_key_id.clone(), admin.secret_access_key.clone())]
                .into(),
            default_region: config.region.clone(),
            public_base_url: public_url.clone(),
            peer,
            trusted_proxies: config.trusted_proxies()?,
        },
    )
    .await?;

    if generated {
        println!(
            "admin credentials (generated, stored in {}):",
            config.data_dir.display()
        );
        println!("  AWS_ACCESS_KEY_ID={}", admin.access_key_id);
        println!("  AWS_SECRET_ACCESS_KEY={}", admin.secret_access_key);
    }
    println!(
        "portcullis listening on {public_url} (data in {})",
        config.data_dir.display()
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(directory.run_until_stopped(stopped(stop_rx.clone())));
    tasks.spawn(token.run_until_stopped(stopped(stop_rx.clone())));
    tasks.spawn(authn.run_until_stopped(stopped(stop_rx.clone())));
    tasks.spawn(federation.run_until_stopped(stopped(stop_rx.clone())));
    tasks.spawn(credentials.run_until_stopped(stopped(stop_rx.clone())));
    tasks.spawn(gateway.run_until_stopped(stopped(stop_rx)));

    let outcome = tokio::select! {
        () = portcullis_runtime::shutdown_signal() => Ok(()),
        Some(result) = tasks.join_next() => match result {
            Ok(Ok(())) => Err(anyhow::anyhow!("a service stopped unexpectedly")),
            Ok(Err(err)) => Err(err),
            Err(err) => Err(err.into()),
        },
    };
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    outcome
}
