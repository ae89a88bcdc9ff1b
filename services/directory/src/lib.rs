//! The directory service: the only writer of user pools, app clients and users, which
//! it keeps as event-sourced aggregates in the event log.

pub mod app;
pub mod domain;
pub mod grpc;
mod grpc_config;
pub mod projections;
pub mod relay;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use portcullis_eventlog::{EventLog, KeyValue};
use portcullis_proto::directory::v1::LocalDirectory;
use portcullis_proto::directory::v1::directory_server::DirectoryServer;
use portcullis_types::Clock;
use tokio::net::TcpListener;

use app::{AggregateStore, Directory, claims::Claims};

/// How old a name claim without a user must be before another sign-up may take it over.
const ORPHAN_CLAIM_GRACE_MS: i64 = 30_000;

/// What the directory needs from its environment.
pub struct Deps {
    pub log: Arc<dyn EventLog>,
    /// Bucket of unique-name claims.
    pub claims: Arc<dyn KeyValue>,
    /// Bucket of app client secrets (kept out of the event log).
    pub secrets: Arc<dyn KeyValue>,
    /// Bucket of user import files and their upload tokens (personal data, kept out of
    /// the event log).
    pub import_files: Arc<dyn KeyValue>,
    /// Bucket of password hashes imported with users (read by authn-flow at the user's
    /// first sign-in).
    pub imported_passwords: Arc<dyn KeyValue>,
    pub clock: Arc<dyn Clock>,
    /// Where this replica keeps its read models.
    pub projection_path: PathBuf,
    /// Publishes events to NATS subjects (cluster); `None` on the embedded default,
    /// whose subscribers follow the log.
    pub relay: Option<relay::Relay>,
    /// The deployment's peer key: callers must present it, and calls to peers carry it.
    pub peer: portcullis_runtime::PeerKey,
}

pub struct Application {
    listener: TcpListener,
    directory: Directory,
    peer: portcullis_runtime::PeerKey,
}

impl Application {
    pub async fn build(listener: TcpListener, deps: Deps) -> anyhow::Result<Self> {
        let store = AggregateStore::new(deps.log.clone(), deps.clock);
        let claims = Claims::new(deps.claims, store.clone(), ORPHAN_CLAIM_GRACE_MS);
        let projection = projections::Projection::start(&deps.projection_path, deps.log.clone())?;
        if let Some(events) = deps.relay {
            relay::start(deps.log, events);
        }
        // The read model's path names this replica: its lease holder name for imports.
        let replica = deps.projection_path.display().to_string();
        let imports =
            app::imports::ImportFiles::new(deps.import_files, deps.imported_passwords, &replica);
        let directory = Directory::new(store, claims, deps.secrets, projection, imports);
        let resuming = directory.clone();
        // Resumes what a previous process left running, then keeps looking for jobs
        // whose runner (another replica) died.
        tokio::spawn(async move {
            loop {
                if let Err(err) = resuming.resume_imports().await {
                    tracing::error!(error = %err, "could not resume user import jobs");
                }
                tokio::time::sleep(app::imports::ORPHAN_SCAN).await;
            }
        });
        Ok(Self {
            listener,
            directory,
            peer: deps.peer,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let service = Arc::new(grpc::DirectoryService::new(self.directory));
        // Callers in this process call the implementation itself (`portcullis_proto::local`).
        let _local = portcullis_proto::local::register::<LocalDirectory>(
            &self.listener.local_addr()?.to_string(),
            service.clone(),
        );
        let routes = portcullis_runtime::Routes::new(DirectoryServer::from_arc(service));
        portcullis_runtime::serve_grpc(
            self.listener,
            routes,
            "portcullis.directory.v1.Directory",
            self.peer,
            shutdown,
        )
        .await
    }
}
