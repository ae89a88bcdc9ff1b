//! The `portcullis.credentials.v1.Credentials` service over the [`Broker`].

use portcullis_aggregate::CommandMeta;
use portcullis_errors::ApiError;
use portcullis_proto::credentials::v1 as pb;
use portcullis_proto::credentials::v1::credentials_server::Credentials;
use portcullis_proto::events::v1::{Actor, actor::Kind};
use tonic::{Request, Response, Status};

use std::collections::HashMap;

use portcullis_policy::Decision;

use crate::app::{Broker, Proof};
use crate::credentials::Credentials as Minted;
use crate::domain::identity::IdentityState;
use crate::domain::identity_pool::PoolState;

pub struct CredentialsService {
    broker: Broker,
}

impl CredentialsService {
    pub fn new(broker: Broker) -> Self {
        Self { broker }
    }
}

pub(crate) fn meta(caller: Option<&pb::Caller>) -> CommandMeta {
    let caller = caller.cloned().unwrap_or_default();
    let actor = caller.actor.unwrap_or(Actor {
        kind: Kind::System as i32,
        id: String::new(),
    });
    CommandMeta::new(actor, &caller.correlation_id)
}

fn region(caller: Option<&pb::Caller>, fallback_id: &str) -> String {
    caller
        .map(|c| c.region.clone())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| fallback_id.split(':').next().unwrap_or_default().to_owned())
}

fn pool_out(pool: PoolState) -> pb::IdentityPool {
    pb::IdentityPool {
        identity_pool_id: pool.id,
        settings: Some(pool.settings),
        tags: pool.tags,
    }
}

fn identity_out(identity: &IdentityState) -> pb::IdentityDescription {
    pb::IdentityDescription {
        identity_id: identity.id.clone(),
        logins: identity.providers(),
        creation_date_ms: identity.created_ms,
        last_modified_date_ms: identity.modified_ms,
    }
}

fn credentials_out(c: Minted) -> pb::IssuedCredentials {
    pb::IssuedCredentials {
        access_key_id: c.access_key_id,
        secret_key: c.secret_access_key,
        session_token: c.session_token,
        expiration: c.expires_ms / 1_000,
    }
}

pub(crate) fn none_if_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

pub(crate) type Answer<T> = Result<Response<T>, Status>;

pub(crate) fn ok<T>(value: Result<T, ApiError>) -> Answer<T> {
    value.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl Credentials for CredentialsService {
    async fn get_service_info(
        &self,
        _req: Request<pb::GetServiceInfoRequest>,
    ) -> Answer<pb::ServiceInfo> {
        ok(Ok(pb::ServiceInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            capabilities: vec![
                "identity-pools".to_owned(),
                "credentials".to_owned(),
                "open-id-tokens".to_owned(),
                "sts".to_owned(),
            ],
        }))
    }

    async fn create_identity_pool(
        &self,
        req: Request<pb::CreateIdentityPoolRequest>,
    ) -> Answer<pb::IdentityPool> {
        let req = req.into_inner();
        let caller = req.caller.as_ref();
        let region = region(caller, "");
        let result = self
            .broker
            .create_pool(
                &region,
                req.settings.unwrap_or_default(),
                req.tags,
                &meta(caller),
            )
            .await;
        ok(result.map(pool_out))
    }

    async fn describe_identity_pool(
        &self,
        req: Request<pb::IdentityPoolRequest>,
    ) -> Answer<pb::IdentityPool> {
        let req = req.into_inner();
        ok(self.broker.pool(&req.identity_pool_id).await.map(pool_out))
    }

    async fn update_identity_pool(
        &self,
        req: Request<pb::UpdateIdentityPoolRequest>,
    ) -> Answer<pb::IdentityPool> {
        let req = req.into_inner();
        let result = self
            .broker
            .update_pool(
                &req.identity_pool_id,
                req.settings.unwrap_or_default(),
                req.tags.map(|t| t.tags),
                &meta(req.caller.as_ref()),
            )
            .await;
        ok(result.map(pool_out))
    }

    async fn delete_identity_pool(
        &self,
        req: Request<pb::IdentityPoolRequest>,
    ) -> Answer<pb::Empty> {
        let req = req.into_inner();
        let result = self
            .broker
            .delete_pool(&req.identity_pool_id, &meta(req.caller.as_ref()))
            .await;
        ok(result.map(|()| pb::Empty {}))
    }

    async fn list_identity_pools(
        &self,
        req: Request<pb::ListIdentityPoolsRequest>,
    ) -> Answer<pb::ListIdentityPoolsResponse> {
        let req = req.into_inner();
        let region = region(req.caller.as_ref(), "");
        let next = none_if_empty(&req.next_token).map(str::to_owned);
        let result = self.broker.list_pools(&region, req.max_results, next).await;
        ok(result.map(|(pools, next)| pb::ListIdentityPoolsResponse {
            identity_pools: pools
                .into_iter()
                .map(|p| pb::IdentityPool {
                    identity_pool_id: p.id,
                    settings: Some(portcullis_proto::events::v1::IdentityPoolSettings {
                        identity_pool_name: p.name,
                        ..Default::default()
                    }),
                    tags: Default::default(),
                })
                .collect(),
            next_token: next.unwrap_or_default(),
        }))
    }

    async fn set_identity_pool_roles(
        &self,
        req: Request<pb::SetIdentityPoolRolesRequest>,
    ) -> Answer<pb::Empty> {
        let req = req.into_inner();
        let result = self
            .broker
            .set_roles(
                &req.identity_pool_id,
                req.roles,
                req.role_mappings,
                &meta(req.caller.as_ref()),
            )
            .await;
        ok(result.map(|()| pb::Empty {}))
    }

    async fn get_identity_pool_roles(
        &self,
        req: Request<pb::IdentityPoolRequest>,
    ) -> Answer<pb::IdentityPoolRoles> {
        let req = req.into_inner();
        ok(self
            .broker
            .pool(&req.identity_pool_id)
            .await
            .map(|pool| pb::IdentityPoolRoles {
                identity_pool_id: pool.id,
                roles: pool.roles,
                role_mappings: pool.role_mappings,
            }))
    }

    async fn set_principal_tag_attribute_map(
        &self,
        req: Request<pb::PrincipalTagMap>,
    ) -> Answer<pb::PrincipalTagMap> {
        let req = req.into_inner();
        let result = self
            .broker
            .set_tag_map(
                &req.identity_pool_id,
                &req.identity_provider_name,
                req.use_defaults,
                req.principal_tags,
                &meta(req.caller.as_ref()),
            )
            .await;
        ok(
            result.map(|(use_defaults, principal_tags)| pb::PrincipalTagMap {
                caller: None,
                identity_pool_id: req.identity_pool_id,
                identity_provider_name: req.identity_provider_name,
                use_defaults,
                principal_tags,
            }),
        )
    }

    async fn get_principal_tag_attribute_map(
        &self,
        req: Request<pb::GetPrincipalTagAttributeMapRequest>,
    ) -> Answer<pb::PrincipalTagMap> {
        let req = req.into_inner();
        let pool = match self.broker.pool(&req.identity_pool_id).await {
            Ok(pool) => pool,
            Err(err) => return Err(err.into()),
        };
        let (use_defaults, principal_tags) = Broker::tag_map(&pool, &req.identity_provider_name);
        ok(Ok(pb::PrincipalTagMap {
            caller: None,
            identity_pool_id: pool.id,
            identity_provider_name: req.identity_provider_name,
            use_defaults,
            principal_tags,
        }))
    }

    async fn tag_identity_pool(
        &self,
        req: Request<pb::TagIdentityPoolRequest>,
    ) -> Answer<pb::Empty> {
        let req = req.into_inner();
        let result = self
            .broker
            .tag_pool(&req.resource_arn, req.tags, &meta(req.caller.as_ref()))
            .await;
        ok(result.map(|()| pb::Empty {}))
    }

    async fn untag_identity_pool(
        &self,
        req: Request<pb::UntagIdentityPoolRequest>,
    ) -> Answer<pb::Empty> {
        let req = req.into_inner();
        let result = self
            .broker
            .untag_pool(&req.resource_arn, req.tag_keys, &meta(req.caller.as_ref()))
            .await;
        ok(result.map(|()| pb::Empty {}))
    }

    async fn list_identity_pool_tags(
        &self,
        req: Request<pb::IdentityPoolArnRequest>,
    ) -> Answer<pb::Tags> {
        let req = req.into_inner();
        ok(self
            .broker
            .pool_tags(&req.resource_arn)
            .await
            .map(|tags| pb::Tags { tags }))
    }

    async fn get_id(&self, req: Request<pb::GetIdRequest>) -> Answer<pb::IdentityIdResponse> {
        let req = req.into_inner();
        let result = self
            .broker
            .get_id(
                &req.identity_pool_id,
                &req.logins,
                &meta(req.caller.as_ref()),
            )
            .await;
        ok(result.map(|identity_id| pb::IdentityIdResponse { identity_id }))
    }

    async fn get_credentials_for_identity(
        &self,
        req: Request<pb::GetCredentialsForIdentityRequest>,
    ) -> Answer<pb::CredentialsResponse> {
        let req = req.into_inner();
        let region = region(req.caller.as_ref(), &req.identity_id);
        let result = self
            .broker
            .credentials_for_identity(
                &req.identity_id,
                &req.logins,
                none_if_empty(&req.custom_role_arn),
                &region,
            )
            .await;
        ok(result.map(|issued| pb::CredentialsResponse {
            identity_id: issued.identity_id,
            credentials: Some(credentials_out(issued.credentials)),
        }))
    }

    async fn get_open_id_token(
        &self,
        req: Request<pb::GetOpenIdTokenRequest>,
    ) -> Answer<pb::OpenIdToken> {
        let req = req.into_inner();
        let result = self
            .broker
            .open_id_token(&req.identity_id, &req.logins)
            .await;
        ok(result.map(|token| pb::OpenIdToken {
            identity_id: req.identity_id,
            token,
        }))
    }

    async fn get_open_id_token_for_developer_identity(
        &self,
        req: Request<pb::GetOpenIdTokenForDeveloperIdentityRequest>,
    ) -> Answer<pb::OpenIdToken> {
        let req = req.into_inner();
        let result = self
            .broker
            .developer_open_id_token(
                &req.identity_pool_id,
                none_if_empty(&req.identity_id),
                &req.logins,
                &req.principal_tags,
                req.token_duration,
                &meta(req.caller.as_ref()),
            )
            .await;
        ok(result.map(|(identity_id, token)| pb::OpenIdToken { identity_id, token }))
    }

    async fn lookup_developer_identity(
        &self,
        req: Request<pb::LookupDeveloperIdentityRequest>,
    ) -> Answer<pb::LookupDeveloperIdentityResponse> {
        let req = req.into_inner();
        let result = self
            .broker
            .lookup_developer_identity(
                &req.identity_pool_id,
                none_if_empty(&req.identity_id),
                none_if_empty(&req.developer_user_identifier),
                req.max_results,
                none_if_empty(&req.next_token),
            )
            .await;
        ok(result.map(
            |(identity_id, users, next)| pb::LookupDeveloperIdentityResponse {
                identity_id,
                developer_user_identifier_list: users,
                next_token: next.unwrap_or_default(),
            },
        ))
    }

    async fn merge_developer_identities(
        &self,
        req: Request<pb::MergeDeveloperIdentitiesRequest>,
    ) -> Answer<pb::IdentityIdResponse> {
        let req = req.into_inner();
        let result = self
            .broker
            .merge_developer_identities(
                &req.identity_pool_id,
                &req.developer_provider_name,
                &req.source_user_identifier,
                &req.destination_user_identifier,
                &meta(req.caller.as_ref()),
            )
            .await;
        ok(result.map(|identity_id| pb::IdentityIdResponse { identity_id }))
    }

    async fn unlink_developer_identity(
        &self,
        req: Request<pb::UnlinkDeveloperIdentityRequest>,
    ) -> Answer<pb::Empty> {
        let req = req.into_inner();
        let result = self
            .broker
            .unlink_developer_identity(
                &req.identity_id,
                &req.identity_pool_id,
                &req.developer_provider_name,
                &req.developer_user_identifier,
                &meta(req.caller.as_ref()),
            )
            .await;
        ok(result.map(|()| pb::Empty {}))
    }

    async fn unlink_identity(&self, req: Request<pb::UnlinkIdentityRequest>) -> Answer<pb::Empty> {
        let req = req.into_inner();
        let result = self
            .broker
            .unlink_identity(
                &req.identity_id,
                &req.logins,
                &req.logins_to_remove,
                &meta(req.caller.as_ref()),
            )
            .await;
        ok(result.map(|()| pb::Empty {}))
    }

    async fn describe_identity(
        &self,
        req: Request<pb::DescribeIdentityRequest>,
    ) -> Answer<pb::IdentityDescription> {
        let req = req.into_inner();
        ok(self
            .broker
            .describe_identity(&req.identity_id)
            .await
            .map(|i| identity_out(&i)))
    }

    async fn list_identities(
        &self,
        req: Request<pb::ListIdentitiesRequest>,
    ) -> Answer<pb::ListIdentitiesResponse> {
        let req = req.into_inner();
        let next = none_if_empty(&req.next_token).map(str::to_owned);
        let result = self
            .broker
            .list_identities(&req.identity_pool_id, req.max_results, next)
            .await;
        ok(result.map(|(identities, next)| pb::ListIdentitiesResponse {
            identity_pool_id: req.identity_pool_id,
            identities: identities
                .into_iter()
                .map(|i| pb::IdentityDescription {
                    identity_id: i.id,
                    logins: i.logins,
                    creation_date_ms: i.created_ms,
                    last_modified_date_ms: i.modified_ms,
                })
                .collect(),
            next_token: next.unwrap_or_default(),
        }))
    }

    async fn delete_identities(
        &self,
        req: Request<pb::DeleteIdentitiesRequest>,
    ) -> Answer<pb::DeleteIdentitiesResponse> {
        let req = req.into_inner();
        let result = self
            .broker
            .delete_identities(&req.identity_ids, &meta(req.caller.as_ref()))
            .await;
        ok(result.map(|unprocessed| pb::DeleteIdentitiesResponse {
            unprocessed: unprocessed
                .into_iter()
                .map(|(identity_id, code)| pb::UnprocessedIdentityId {
                    identity_id,
                    error_code: code.to_owned(),
                })
                .collect(),
        }))
    }

    async fn assume_role_with_web_identity(
        &self,
        req: Request<pb::AssumeRoleWithWebIdentityRequest>,
    ) -> Answer<pb::AssumeRoleWithWebIdentityResponse> {
        let req = req.into_inner();
        let region = region(req.caller.as_ref(), "");
        let result = self
            .broker
            .assume_role_with_web_identity(
                &req.role_arn,
                &req.role_session_name,
                &req.web_identity_token,
                (req.duration_seconds != 0).then_some(req.duration_seconds),
                none_if_empty(&req.policy),
                &region,
            )
            .await;
        ok(result.map(|assumed| pb::AssumeRoleWithWebIdentityResponse {
            credentials: Some(credentials_out(assumed.credentials)),
            subject_from_web_identity_token: assumed.subject,
            assumed_role_id: assumed.assumed_role_id,
            assumed_role_arn: assumed.assumed_role_arn,
            provider: assumed.provider,
            audience: assumed.audience,
        }))
    }

    async fn get_open_id_keys(
        &self,
        _req: Request<pb::GetOpenIdKeysRequest>,
    ) -> Answer<pb::OpenIdKeys> {
        let jwks = self.broker.jwks().await;
        ok(jwks.map(|jwks| pb::OpenIdKeys { jwks }))
    }

    async fn authorize(&self, req: Request<pb::AuthorizeRequest>) -> Answer<pb::AuthorizeResponse> {
        let req = req.into_inner();
        let headers: Vec<(String, String)>;
        let proof = match &req.proof {
            Some(pb::authorize_request::Proof::Signed(signed)) => {
                headers = signed
                    .headers
                    .iter()
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect();
                Proof::Signed {
                    method: &signed.method,
                    path: &signed.path,
                    query: &signed.query,
                    headers: &headers,
                    body: (!signed.body_absent).then_some(signed.body.as_slice()),
                }
            }
            Some(pb::authorize_request::Proof::Credentials(c)) => Proof::Presented {
                access_key_id: &c.access_key_id,
                secret_access_key: &c.secret_access_key,
                session_token: &c.session_token,
                region: &c.region,
            },
            None => {
                return Err(ApiError::not_authorized("No credentials were presented.").into());
            }
        };
        let context: HashMap<String, Vec<String>> = req
            .context
            .into_iter()
            .map(|(k, v)| (k, v.values))
            .collect();
        let decided = self
            .broker
            .authorize(&proof, &req.action, &req.resource, &context)
            .await;
        ok(decided.map(|d| {
            let (decision, statement) = match d.decision {
                Decision::Allow { sid, .. } => ("Allow", sid),
                Decision::ExplicitDeny { sid, .. } => ("ExplicitDeny", sid),
                Decision::ImplicitDeny => ("ImplicitDeny", String::new()),
            };
            pb::AuthorizeResponse {
                allowed: decision == "Allow",
                decision: decision.to_owned(),
                policy: d.policy,
                statement,
                identity_id: d.grant.identity_id,
                identity_pool_id: d.grant.identity_pool_id,
                role_arn: d.grant.role_arn,
            }
        }))
    }
}
