//! The federation service. Its features are later work: for now it exists, serves gRPC
//! health and `GetServiceInfo`, which reports that it offers no capabilities yet.

use std::future::Future;

use portcullis_proto::federation::v1 as pb;
use portcullis_proto::federation::v1::federation_server::{Federation, FederationServer};
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

pub struct Application {
    listener: TcpListener,
    peer: portcullis_runtime::PeerKey,
}

impl Application {
    /// `peer`: the deployment's peer key, which callers must present.
    pub async fn build(
        listener: TcpListener,
        peer: portcullis_runtime::PeerKey,
    ) -> anyhow::Result<Self> {
        Ok(Self { listener, peer })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let routes = portcullis_runtime::Routes::new(FederationServer::new(Service));
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

struct Service;

#[tonic::async_trait]
impl Federation for Service {
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
