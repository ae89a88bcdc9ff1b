//! Calls between services of one process without a socket.
//!
//! Every service that [`crate::serve_grpc`] serves is also entered in the registry of
//! this process (`portcullis_proto::local`), under the address it listens on. A
//! [`Link`] to that address then hands each call straight to the service's routes: no
//! TCP, no HTTP/2 framing, the same peer-key check and trace context as over the
//! network. Calls between services go through the generated `<Service>Link`s, which
//! call the implementation itself and skip even this; what remains on this path is
//! what uses a plain channel (health checks, streams). In a cluster the registry holds
//! only the process's own service and calls to peers go over the network.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use portcullis_proto::local::{Registration, key, lookup};
use tonic::body::Body;
use tonic::transport::Channel;
use tower::Service;
use tower::util::BoxCloneSyncService;

/// A service's routes behind its peer-key check, as registered.
pub(crate) type LocalService =
    BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// Enters `service` under `address` (in the registry of `portcullis_proto::local`, as
/// the routes of that address) until the returned guard is dropped.
pub(crate) fn register(address: &str, service: LocalService) -> Registration {
    portcullis_proto::local::register::<LocalService>(address, Arc::new(service))
}

/// A connection to a peer service: in this process when it serves here (looked up on
/// every call, so the peer may start after the link is made), else over the network.
#[derive(Clone)]
pub struct Link {
    key: Arc<str>,
    remote: Channel,
    /// Chosen by `poll_ready` for the `call` that follows it.
    ready: Option<LocalService>,
}

impl Link {
    pub(crate) fn new(address: &str, remote: Channel) -> Self {
        Self {
            key: key(address).into(),
            remote,
            ready: None,
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<http::Request<Body>> for Link {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.ready.is_none() {
            self.ready = lookup::<LocalService>(&self.key).map(|routes| (*routes).clone());
        }
        match self.ready.as_mut() {
            // The routes are always ready (their error type is Infallible).
            Some(local) => local.poll_ready(cx).map(|_| Ok(())),
            None => self.remote.poll_ready(cx),
        }
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match self.ready.take() {
            Some(mut local) => {
                let span = tracing::info_span!("grpc", path = %request.uri().path());
                crate::propagation::continue_trace(&span, request.headers());
                let answer = local.call(request);
                Box::pin(tracing::Instrument::instrument(
                    async move {
                        match answer.await {
                            Ok(response) => Ok(response),
                            Err(never) => match never {},
                        }
                    },
                    span,
                ))
            }
            None => Box::pin(self.remote.call(request)),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic_health::ServingStatus;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    use super::*;
    use crate::PeerKey;
    use crate::peer::RequirePeer;

    fn check() -> HealthCheckRequest {
        HealthCheckRequest {
            service: String::new(),
        }
    }

    #[tokio::test]
    async fn a_service_of_this_process_is_called_without_a_socket_behind_its_peer_check() {
        let key = PeerKey::random().unwrap();
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("", ServingStatus::Serving)
            .await;
        let routes = tonic::service::Routes::new(health);
        let checked = tower::Layer::layer(&RequirePeer::new(key.clone()), routes);
        // Nothing listens on port 1: only the in-process path can answer.
        let address = "127.0.0.1:1";
        let registration = register(address, BoxCloneSyncService::new(checked));

        let mut client = HealthClient::new(crate::channel(address, &key).unwrap());
        let answer = client.check(check()).await.unwrap().into_inner();
        assert_eq!(answer.status, ServingStatus::Serving as i32);
        // The scheme does not matter; the peer key does.
        let with_scheme = crate::channel("http://127.0.0.1:1", &key).unwrap();
        assert!(HealthClient::new(with_scheme).check(check()).await.is_ok());
        let stranger = crate::channel(address, &PeerKey::random().unwrap()).unwrap();
        let refused = HealthClient::new(stranger)
            .check(check())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);

        // Once the service stops, calls take the network, where nobody answers.
        drop(registration);
        let gone = client.check(check()).await.unwrap_err();
        assert_eq!(gone.code(), tonic::Code::Unavailable);
    }
}
