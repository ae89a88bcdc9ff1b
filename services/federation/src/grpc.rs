//! The `portcullis.federation.v1.Federation` service over [`Providers`].

use std::sync::Arc;

use portcullis_aggregate::CommandMeta;
use portcullis_errors::ApiError;
use portcullis_proto::directory::v1::Caller;
use portcullis_proto::events::v1::{Actor, actor::Kind};
use portcullis_proto::federation::v1 as pb;
use portcullis_proto::federation::v1::federation_server::Federation;
use tonic::{Request, Response, Status};

use crate::providers::{Described, NewProvider, Providers, Update};

type Answer<T> = Result<Response<T>, Status>;

fn ok<T>(value: Result<T, ApiError>) -> Answer<T> {
    value.map(Response::new).map_err(Status::from)
}

fn meta(caller: Option<Caller>) -> CommandMeta {
    let caller = caller.unwrap_or_default();
    let actor = caller.actor.unwrap_or(Actor {
        kind: Kind::System as i32,
        id: String::new(),
    });
    CommandMeta::new(actor, &caller.correlation_id)
}

fn provider_out(described: Described) -> pb::IdentityProvider {
    let provider = described.state.provider;
    pb::IdentityProvider {
        user_pool_id: described.pool_id,
        provider_name: provider.provider_name,
        provider_type: provider.provider_type,
        provider_details: described.details,
        attribute_mapping: provider.attribute_mapping,
        idp_identifiers: provider.idp_identifiers,
        creation_date_ms: described.state.created_ms,
        last_modified_date_ms: described.state.modified_ms,
    }
}

pub struct Service {
    pub providers: Arc<Providers>,
    pub logins: Arc<crate::logins::Social>,
}

#[tonic::async_trait]
impl Federation for Service {
    async fn get_service_info(
        &self,
        _req: Request<pb::GetServiceInfoRequest>,
    ) -> Answer<pb::ServiceInfo> {
        Ok(Response::new(pb::ServiceInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            capabilities: vec!["identity-providers".to_owned()],
        }))
    }

    async fn create_identity_provider(
        &self,
        req: Request<pb::CreateIdentityProviderRequest>,
    ) -> Answer<pb::IdentityProvider> {
        let req = req.into_inner();
        let mapping = req.attribute_mapping.map(|m| m.entries);
        let created = self
            .providers
            .create(
                &req.user_pool_id,
                NewProvider {
                    name: &req.provider_name,
                    provider_type: &req.provider_type,
                    details: &req.provider_details,
                    attribute_mapping: mapping.as_ref(),
                    idp_identifiers: &req.idp_identifiers,
                },
                &meta(req.caller),
            )
            .await;
        ok(created.map(provider_out))
    }

    async fn update_identity_provider(
        &self,
        req: Request<pb::UpdateIdentityProviderRequest>,
    ) -> Answer<pb::IdentityProvider> {
        let req = req.into_inner();
        let update = Update {
            details: req.provider_details.map(|m| m.entries),
            attribute_mapping: req.attribute_mapping.map(|m| m.entries),
            idp_identifiers: req.idp_identifiers.map(|s| s.values),
        };
        let updated = self
            .providers
            .update(
                &req.user_pool_id,
                &req.provider_name,
                update,
                &meta(req.caller),
            )
            .await;
        ok(updated.map(provider_out))
    }

    async fn describe_identity_provider(
        &self,
        req: Request<pb::ProviderRef>,
    ) -> Answer<pb::IdentityProvider> {
        let req = req.into_inner();
        let described = self
            .providers
            .describe(&req.user_pool_id, &req.provider_name)
            .await;
        ok(described.map(provider_out))
    }

    async fn delete_identity_provider(&self, req: Request<pb::ProviderRef>) -> Answer<pb::Empty> {
        let req = req.into_inner();
        let deleted = self
            .providers
            .delete(&req.user_pool_id, &req.provider_name, &meta(req.caller))
            .await;
        ok(deleted.map(|()| pb::Empty {}))
    }

    async fn list_identity_providers(
        &self,
        req: Request<pb::ListIdentityProvidersRequest>,
    ) -> Answer<pb::ListIdentityProvidersResponse> {
        let req = req.into_inner();
        let token = (!req.next_token.is_empty()).then_some(req.next_token.as_str());
        let page = self
            .providers
            .list(&req.user_pool_id, req.max_results, token)
            .await;
        ok(
            page.map(|(providers, next)| pb::ListIdentityProvidersResponse {
                providers: providers
                    .into_iter()
                    .map(|p| pb::ProviderSummary {
                        provider_name: p.provider.provider_name,
                        provider_type: p.provider.provider_type,
                        creation_date_ms: p.created_ms,
                        last_modified_date_ms: p.modified_ms,
                    })
                    .collect(),
                next_token: next.unwrap_or_default(),
            }),
        )
    }

    async fn get_identity_provider_by_identifier(
        &self,
        req: Request<pb::IdentifierRef>,
    ) -> Answer<pb::IdentityProvider> {
        let req = req.into_inner();
        let described = self
            .providers
            .by_identifier(&req.user_pool_id, &req.idp_identifier)
            .await;
        ok(described.map(provider_out))
    }

    async fn start_sign_in(
        &self,
        req: Request<pb::StartSignInRequest>,
    ) -> Answer<pb::StartSignInResponse> {
        let req = req.into_inner();
        let started = self
            .providers
            .start_sign_in(
                &req.user_pool_id,
                &req.provider_name,
                &req.client_id,
                &req.callback_url,
                &req.carried,
            )
            .await;
        ok(started.map(|redirect_url| pb::StartSignInResponse { redirect_url }))
    }

    async fn complete_sign_in(
        &self,
        req: Request<pb::CompleteSignInRequest>,
    ) -> Answer<pb::CompleteSignInResponse> {
        let req = req.into_inner();
        let error =
            (!req.error.is_empty()).then(|| (req.error.clone(), req.error_description.clone()));
        let completed = if req.state.is_empty() && !req.provider_name.is_empty() {
            self.providers
                .complete_unsolicited(
                    &req.user_pool_id,
                    &req.provider_name,
                    &req.client_id,
                    &req.carried,
                    &req.code,
                    &req.callback_url,
                )
                .await
        } else {
            self.providers
                .complete_sign_in(&req.state, &req.code, error, &req.callback_url)
                .await
        };
        ok(completed.map(|done| {
            let mut out = pb::CompleteSignInResponse {
                user_pool_id: done.pool_id,
                provider_name: done.provider_name,
                provider_type: done.provider_type,
                carried: done.carried,
                client_id: done.client_id,
                ..Default::default()
            };
            match done.outcome {
                Ok((identity, attributes)) => {
                    out.subject = identity.subject;
                    out.issuer = identity.issuer;
                    out.attributes = attributes.into_iter().collect();
                    out.claims_json = serde_json::Value::Object(identity.claims).to_string();
                    out.sources_json = serde_json::Value::Object(identity.sources).to_string();
                    out.session_index = identity.session_index;
                }
                Err((error, description)) => {
                    out.error = error;
                    out.error_description = description;
                }
            }
            out
        }))
    }

    async fn verify_login(
        &self,
        req: Request<pb::VerifyLoginRequest>,
    ) -> Answer<pb::VerifiedLogin> {
        use pb::verify_login_request::Kind;
        let req = req.into_inner();
        let verified = match req.kind {
            Some(Kind::Social(social)) => self
                .logins
                .verify(&req.provider, &social.app_id, &req.token)
                .await
                .map(|login| pb::VerifiedLogin {
                    subject: login.subject,
                    claims_json: login.claims.to_string(),
                    ..Default::default()
                }),
            Some(Kind::Oidc(oidc)) => self
                .logins
                .oidc(&req.provider, &oidc.issuer, &oidc.client_ids, &req.token)
                .await
                .map(|login| pb::VerifiedLogin {
                    subject: login.subject,
                    claims_json: login.claims.to_string(),
                    ..Default::default()
                }),
            Some(Kind::Saml(saml)) => crate::logins::verify_saml(
                &req.provider,
                &saml.metadata_document,
                &saml.region,
                &req.token,
            )
            .map(|login| pb::VerifiedLogin {
                subject: login.subject,
                claims_json: login.claims.to_string(),
                spent_key: login.spent_key,
                valid_seconds: login.valid.as_secs(),
            }),
            None => Err(ApiError::invalid_parameter(
                "The login's provider kind is missing.",
            )),
        };
        ok(verified)
    }

    async fn start_logout(
        &self,
        req: Request<pb::StartLogoutRequest>,
    ) -> Answer<pb::StartLogoutResponse> {
        let req = req.into_inner();
        let started = self
            .providers
            .start_logout(
                &req.user_pool_id,
                &req.provider_name,
                &req.name_id,
                &req.session_index,
                &req.callback_url,
                &req.carried,
            )
            .await;
        ok(started.map(|url| pb::StartLogoutResponse {
            redirect_url: url.unwrap_or_default(),
        }))
    }

    async fn service_provider_metadata(
        &self,
        req: Request<pb::ServiceProviderMetadataRequest>,
    ) -> Answer<pb::ServiceProviderMetadataResponse> {
        let req = req.into_inner();
        let xml = self
            .providers
            .service_provider_metadata(&req.user_pool_id, &req.base_url, &req.provider_name)
            .await;
        ok(xml.map(|xml| pb::ServiceProviderMetadataResponse { xml }))
    }

    async fn complete_logout(
        &self,
        req: Request<pb::CompleteLogoutRequest>,
    ) -> Answer<pb::CompleteLogoutResponse> {
        let req = req.into_inner();
        let done = self
            .providers
            .complete_logout(&req.state, &req.saml_response)
            .await;
        ok(done.map(|carried| pb::CompleteLogoutResponse { carried }))
    }

    async fn receive_logout(
        &self,
        req: Request<pb::ReceiveLogoutRequest>,
    ) -> Answer<pb::ReceiveLogoutResponse> {
        let req = req.into_inner();
        let received = self
            .providers
            .receive_logout(&req.user_pool_id, &req.query)
            .await;
        ok(received.map(
            |(provider_name, name_id, redirect_url)| pb::ReceiveLogoutResponse {
                provider_name,
                name_id,
                redirect_url,
            },
        ))
    }
}
