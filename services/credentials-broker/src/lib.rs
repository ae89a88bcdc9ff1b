//! The credentials-broker service: identity pools and their identities (event-sourced),
//! proof of identity from logins, temporary credentials for roles, and OpenID tokens.

pub mod app;
pub mod credentials;
pub mod domain;
pub mod grpc;
pub mod iam;
pub mod logins;
pub mod projection;
pub mod roles;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use portcullis_aggregate::AggregateStore;
use portcullis_ephemeral::EphemeralStore;
use portcullis_eventlog::cache::LogCache;
use portcullis_eventlog::{EventLog, KeyValue};
use portcullis_proto::credentials::v1::credentials_server::CredentialsServer;
use portcullis_proto::credentials::v1::iam_server::IamServer;
use portcullis_proto::credentials::v1::{LocalCredentials, LocalIam};
use portcullis_proto::directory::v1::DirectoryLink;
use portcullis_proto::federation::v1::FederationLink;
use portcullis_proto::token::v1::TokenLink;
use portcullis_types::Clock;
use tokio::net::TcpListener;

use app::{Broker, Parts, RoleDirectory};
use credentials::Minter;

/// What the broker needs from its environment.
pub struct Deps {
    pub log: Arc<dyn EventLog>,
    /// Bucket of login -> identity claims.
    pub links: Arc<dyn KeyValue>,
    pub clock: Arc<dyn Clock>,
    /// Where this replica keeps its read model.
    pub projection_path: PathBuf,
    pub directory: String,
    pub token: String,
    /// The key credentials are sealed and derived with (every replica the same).
    pub credentials_key: [u8; 32],
    pub roles: Arc<dyn RoleDirectory>,
    /// Address of a federation replica, which verifies logins of outside providers.
    pub federation: String,
    /// Shared by every replica: spent SAML assertions.
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// The deployment's peer key: callers must present it, and calls to peers carry it.
    pub peer: portcullis_runtime::PeerKey,
}

pub struct Application {
    listener: TcpListener,
    broker: Broker,
    iam: iam::Roles,
    peer: portcullis_runtime::PeerKey,
}

impl Application {
    pub async fn build(listener: TcpListener, deps: Deps) -> anyhow::Result<Self> {
        let store = AggregateStore::new(deps.log.clone(), deps.clock);
        let cache = LogCache::start(deps.log.clone(), app::WATCH).await?;
        let roles: Arc<dyn app::RoleDirectory> =
            Arc::new(app::CachedRoles::new(deps.roles, cache.clone()));
        let projection = projection::Projection::start(&deps.projection_path, deps.log)?;
        let verifier = logins::Verifier {
            token: TokenLink::connect(
                portcullis_runtime::channel(&deps.token, &deps.peer)?,
                &deps.token,
            ),
            directory: DirectoryLink::connect(
                portcullis_runtime::channel(&deps.directory, &deps.peer)?,
                &deps.directory,
            ),
            federation: FederationLink::connect(
                portcullis_runtime::channel(&deps.federation, &deps.peer)?,
                &deps.federation,
            ),
            providers: roles.clone(),
            spent: deps.ephemeral,
            cache: cache.clone(),
        };
        let minter = Minter::new(&deps.credentials_key)
            .map_err(|e| anyhow::anyhow!("credentials key: {e}"))?;
        let iam = iam::Roles::new(store.clone());
        let broker = Broker::new(Parts {
            store,
            links: deps.links,
            projection,
            verifier,
            minter: Arc::new(minter),
            roles,
            cache,
        });
        Ok(Self {
            listener,
            broker,
            iam,
            peer: deps.peer,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let credentials = Arc::new(grpc::CredentialsService::new(self.broker));
        let iam = Arc::new(iam::grpc::IamService::new(self.iam));
        // Callers in this process call the implementations themselves
        // (`portcullis_proto::local`).
        let address = self.listener.local_addr()?.to_string();
        let _local = (
            portcullis_proto::local::register::<LocalCredentials>(&address, credentials.clone()),
            portcullis_proto::local::register::<LocalIam>(&address, iam.clone()),
        );
        let routes = portcullis_runtime::Routes::new(CredentialsServer::from_arc(credentials))
            .add_service(IamServer::from_arc(iam));
        portcullis_runtime::serve_grpc(
            self.listener,
            routes,
            "portcullis.credentials.v1.Credentials",
            self.peer,
            shutdown,
        )
        .await
    }
}
