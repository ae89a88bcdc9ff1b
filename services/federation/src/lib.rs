//! The federation service: a user pool's SAML, OpenID Connect and social identity
//! providers. Each pool's providers are one event-sourced aggregate
//! ([`provider::PoolProviders`]); their secret details are sealed apart from the log.

pub mod details;
mod grpc;
mod keys;
pub mod logins;
pub mod oauth;
pub mod provider;
pub mod providers;
pub mod saml;

use std::future::Future;
use std::sync::Arc;

use portcullis_aggregate::AggregateStore;
use portcullis_eventlog::{EventLog, KeyValue};
use portcullis_proto::directory::v1::DirectoryLink;
use portcullis_proto::federation::v1::federation_server::FederationServer;
use portcullis_types::Clock;
use tokio::net::TcpListener;

pub struct Deps {
    pub log: Arc<dyn EventLog>,
    pub clock: Arc<dyn Clock>,
    /// Sealed bucket of the providers' secret details (`client_secret`, `private_key`).
    pub secrets: Arc<dyn KeyValue>,
    /// Address of the directory service (pools and their attributes).
    pub directory: String,
    /// What fetches for providers (metadata, discovery, keys, tokens) may reach.
    pub outbound: portcullis_outbound::Policy,
    /// How old a SAML provider's metadata from its `MetadataURL` may get before a
    /// sign-in fetches it again.
    pub metadata_refresh: std::time::Duration,
    /// Where the social providers' keys and APIs are (Google's and Apple's keys for
    /// user pools; every endpoint for identity pools' logins).
    pub social: portcullis_config::SocialEndpoints,
    /// Sign-ins in progress at a provider (shared by every replica).
    pub ephemeral: Arc<dyn portcullis_ephemeral::EphemeralStore>,
    /// The deployment's peer key: callers must present it, and calls to peers carry it.
    pub peer: portcullis_runtime::PeerKey,
}

pub struct Application {
    listener: TcpListener,
    providers: Arc<providers::Providers>,
    logins: Arc<logins::Social>,
    peer: portcullis_runtime::PeerKey,
}

impl Application {
    pub async fn build(listener: TcpListener, deps: Deps) -> anyhow::Result<Self> {
        let fetcher = portcullis_outbound::Fetcher::new(deps.outbound);
        let fetcher_for_logins = fetcher.clone();
        let providers = providers::Providers {
            store: AggregateStore::new(deps.log, deps.clock),
            oauth: oauth::OAuth::new(fetcher.clone(), deps.ephemeral, deps.social.clone()),
            secrets: deps.secrets,
            metadata_refresh: deps.metadata_refresh,
            directory: DirectoryLink::connect(
                portcullis_runtime::channel(&deps.directory, &deps.peer)?,
                &deps.directory,
            ),
            fetcher,
        };
        Ok(Self {
            listener,
            logins: Arc::new(logins::Social::new(deps.social, fetcher_for_logins)),
            providers: Arc::new(providers),
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
        let service = grpc::Service {
            providers: self.providers,
            logins: self.logins,
        };
        let routes = portcullis_runtime::Routes::new(FederationServer::new(service));
        portcullis_runtime::serve_grpc(
            self.listener,
            routes,
            "portcullis.federation.v1.Federation",
            self.peer,
            shutdown,
        )
        .await
    }
}
