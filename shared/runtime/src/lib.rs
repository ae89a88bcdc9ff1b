//! What every service process shares: serving gRPC (with the standard health service)
//! on an already-bound listener until a shutdown future resolves, waiting for SIGTERM or
//! Ctrl-C, and connecting to peers.
//!
//! Taking a bound listener rather than an address is what lets tests bind port 0 and
//! learn the port before the server starts. A service served here is also reachable by
//! the other services of the process without a socket (`local`).

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Endpoint, Server};
use tonic_health::server::HealthReporter;

pub use local::Link;
pub use peer::PeerKey;
pub use tonic::service::Routes;

mod local;
mod peer;
mod propagation;

/// A channel to a peer service that carries the caller's trace context and the
/// deployment's peer key along; in this process when the peer serves here.
pub type GrpcChannel = InterceptedService<Link, Outgoing>;

/// What every outgoing call carries: the trace context and the peer key.
#[derive(Clone, Debug)]
pub struct Outgoing {
    peer: PeerKey,
}

impl tonic::service::Interceptor for Outgoing {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let mut request =
            tonic::service::Interceptor::call(&mut propagation::InjectTraceContext, request)?;
        self.peer.attach(request.metadata_mut());
        Ok(request)
    }
}

/// Serves `routes` plus `grpc.health.v1.Health` on `listener`, to callers that present
/// `peer`, until `shutdown` resolves, then lets in-flight calls finish.
///
/// `ready` is called with the health reporter before serving, so the service can mark
/// itself serving (or not) by name.
pub async fn serve_grpc(
    listener: TcpListener,
    routes: Routes,
    service_name: &'static str,
    peer: PeerKey,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    mark_serving(&reporter, service_name).await;
    let routes = routes.add_service(health);
    let addr = listener.local_addr()?;
    // Callers in this process reach the service without the socket, through the same
    // peer-key check.
    let in_process = tower::Layer::layer(&peer::RequirePeer::new(peer.clone()), routes.clone());
    let _registration = local::register(
        &addr.to_string(),
        tower::util::BoxCloneSyncService::new(in_process),
    );
    tracing::info!(service = service_name, %addr, "grpc serving");
    Server::builder()
        .trace_fn(|request| {
            let span = tracing::info_span!("grpc", path = %request.uri().path());
            propagation::continue_trace(&span, request.headers());
            span
        })
        .layer(peer::RequirePeer::new(peer))
        .add_routes(routes)
        // TCP_NODELAY: without it a reply larger than one segment (a page of users)
        // waits ~40 ms for the peer's delayed ACK.
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await?;
    tracing::info!(service = service_name, "grpc stopped");
    Ok(())
}

async fn mark_serving(reporter: &HealthReporter, service_name: &str) {
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    reporter
        .set_service_status(service_name, tonic_health::ServingStatus::Serving)
        .await;
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}

/// A lazily connecting channel to a peer service; calls fail fast while it is down and
/// succeed again once it is back.
pub fn channel(address: &str, peer: &PeerKey) -> anyhow::Result<GrpcChannel> {
    let uri = if address.starts_with("http://") || address.starts_with("https://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let channel = Endpoint::from_shared(uri)?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(InterceptedService::new(
        Link::new(address, channel),
        Outgoing { peer: peer.clone() },
    ))
}
