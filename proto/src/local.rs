//! Services of this process by the address they listen on, so that a link
//! (`<Service>Link`, generated beside each client) calls the implementation directly:
//! no socket, no HTTP/2, no protobuf encoding. In `portcullis up` every service runs in
//! one process and every call between them takes this path; in a cluster a process
//! holds only its own service, and calls to peers go over the network.
//!
//! A caller in this process is trusted as the process itself: the peer-key check that
//! guards the network path does not apply, and the call runs in the caller's task and
//! trace span.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// By address, then by the kind of service (a link's trait object, a channel's routes):
/// a lookup borrows the address, so the per-call path allocates nothing.
type Entries = HashMap<String, HashMap<TypeId, Box<dyn Any + Send + Sync>>>;

static REGISTRY: LazyLock<RwLock<Entries>> = LazyLock::new(RwLock::default);

/// The key an address is registered under: `host:port`, without a scheme.
pub fn key(address: &str) -> String {
    address
        .strip_prefix("http://")
        .or_else(|| address.strip_prefix("https://"))
        .unwrap_or(address)
        .trim_end_matches('/')
        .to_owned()
}

/// Enters `service` (a `Local<Service>` trait object) under `address` until the
/// returned guard is dropped.
#[must_use = "the service is registered only while the guard lives"]
pub fn register<S: ?Sized + Send + Sync + 'static>(address: &str, service: Arc<S>) -> Registration {
    let (address, kind) = (key(address), TypeId::of::<S>());
    REGISTRY
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(address.clone())
        .or_default()
        .insert(kind, Box::new(service));
    Registration { address, kind }
}

/// The service of kind `S` registered under `address` (a key), if any.
pub fn lookup<S: ?Sized + Send + Sync + 'static>(address: &str) -> Option<Arc<S>> {
    REGISTRY
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(address)?
        .get(&TypeId::of::<S>())?
        .downcast_ref::<Arc<S>>()
        .cloned()
}

/// Removes a registration when dropped.
pub struct Registration {
    address: String,
    kind: TypeId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut registry = REGISTRY
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(kinds) = registry.get_mut(&self.address) {
            kinds.remove(&self.kind);
            if kinds.is_empty() {
                registry.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;
    use crate::federation::v1::federation_server::Federation;
    use crate::federation::v1::{
        self as pb, FederationLink, GetServiceInfoRequest, LocalFederation, ServiceInfo,
    };

    type Answer<T> = Result<tonic::Response<T>, tonic::Status>;

    fn not_here<T>() -> Answer<T> {
        Err(tonic::Status::unimplemented("not in this fake"))
    }

    struct Fake;

    #[tonic::async_trait]
    impl Federation for Fake {
        async fn get_service_info(
            &self,
            _request: tonic::Request<GetServiceInfoRequest>,
        ) -> Result<tonic::Response<ServiceInfo>, tonic::Status> {
            Ok(tonic::Response::new(ServiceInfo {
                version: "in this process".into(),
                capabilities: Vec::new(),
            }))
        }

        async fn create_identity_provider(
            &self,
            _request: tonic::Request<pb::CreateIdentityProviderRequest>,
        ) -> Answer<pb::IdentityProvider> {
            not_here()
        }

        async fn update_identity_provider(
            &self,
            _request: tonic::Request<pb::UpdateIdentityProviderRequest>,
        ) -> Answer<pb::IdentityProvider> {
            not_here()
        }

        async fn describe_identity_provider(
            &self,
            _request: tonic::Request<pb::ProviderRef>,
        ) -> Answer<pb::IdentityProvider> {
            not_here()
        }

        async fn delete_identity_provider(
            &self,
            _request: tonic::Request<pb::ProviderRef>,
        ) -> Answer<pb::Empty> {
            not_here()
        }

        async fn list_identity_providers(
            &self,
            _request: tonic::Request<pb::ListIdentityProvidersRequest>,
        ) -> Answer<pb::ListIdentityProvidersResponse> {
            not_here()
        }

        async fn get_identity_provider_by_identifier(
            &self,
            _request: tonic::Request<pb::IdentifierRef>,
        ) -> Answer<pb::IdentityProvider> {
            not_here()
        }

        async fn start_sign_in(
            &self,
            _request: tonic::Request<pb::StartSignInRequest>,
        ) -> Answer<pb::StartSignInResponse> {
            not_here()
        }

        async fn complete_sign_in(
            &self,
            _request: tonic::Request<pb::CompleteSignInRequest>,
        ) -> Answer<pb::CompleteSignInResponse> {
            not_here()
        }

        async fn verify_login(
            &self,
            _request: tonic::Request<pb::VerifyLoginRequest>,
        ) -> Answer<pb::VerifiedLogin> {
            not_here()
        }

        async fn start_logout(
            &self,
            _request: tonic::Request<pb::StartLogoutRequest>,
        ) -> Answer<pb::StartLogoutResponse> {
            not_here()
        }

        async fn complete_logout(
            &self,
            _request: tonic::Request<pb::CompleteLogoutRequest>,
        ) -> Answer<pb::CompleteLogoutResponse> {
            not_here()
        }

        async fn receive_logout(
            &self,
            _request: tonic::Request<pb::ReceiveLogoutRequest>,
        ) -> Answer<pb::ReceiveLogoutResponse> {
            not_here()
        }

        async fn service_provider_metadata(
            &self,
            _request: tonic::Request<pb::ServiceProviderMetadataRequest>,
        ) -> Answer<pb::ServiceProviderMetadataResponse> {
            not_here()
        }
    }

    #[tokio::test]
    async fn a_link_calls_the_implementation_registered_in_this_process_else_the_network() {
        // Nothing listens on port 1: only the implementation itself can answer.
        let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
        let mut link = FederationLink::connect(channel, "http://127.0.0.1:1/");
        let registration = register::<LocalFederation>("127.0.0.1:1", Arc::new(Fake));
        let answer = link
            .get_service_info(GetServiceInfoRequest {})
            .await
            .unwrap();
        assert_eq!(answer.into_inner().version, "in this process");

        // Another kind of entry at the same address stays when this one goes.
        let other = register::<u32>("127.0.0.1:1", Arc::new(5));
        // Once it is gone, the link takes the network, where nobody answers.
        drop(registration);
        assert_eq!(lookup::<u32>("127.0.0.1:1").as_deref(), Some(&5));
        assert!(lookup::<LocalFederation>("127.0.0.1:1").is_none());
        let refused = link
            .get_service_info(GetServiceInfoRequest {})
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unavailable);
        drop(other);
        assert!(lookup::<u32>("127.0.0.1:1").is_none());
    }
}
