//! The credentials-broker service. It serves gRPC health and `GetServiceInfo`, which
//! reports that it offers no capabilities yet; `credentials` is the format of the
//! temporary credentials it will issue.

pub mod credentials;
pub mod roles;

use std::future::Future;

use portcullis_proto::credentials::v1 as pb;
use portcullis_proto::credentials::v1::credentials_server::{Credentials, CredentialsServer};
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

pub struct Application {
    listener: TcpListener,
}

impl Application {
    pub async fn build(listener: TcpListener) -> anyhow::Result<Self> {
        Ok(Self { listener })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let routes = portcullis_runtime::Routes::new(CredentialsServer::new(Service));
        portcullis_runtime::serve_grpc(
            self.listener,
            routes,
            "portcullis.credentials.v1.Credentials",
            shutdown,
        )
        .await
    }
}

struct Service;

#[tonic::async_trait]
impl Credentials for Service {
    async fn get_service_info(
        &self,
        _req: Request<pb::GetServiceInfoRequest>,
    ) -> Result<Response<pb::ServiceInfo>, Status> {
        Ok(Response::new(pb::ServiceInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            capabilities: Vec::new(),
        }))
    }
}
