//! The `portcullis.credentials.v1.Iam` service over [`Roles`] and the providers.

use portcullis_errors::ApiError;
use portcullis_proto::credentials::v1 as pb;
use portcullis_proto::credentials::v1::iam_server::Iam;
use tonic::Request;

use super::providers::{OidcProviderState, SamlProviderState};
use super::role::RoleState;
use super::{OidcProviders, RoleInput, Roles, SamlProviders};
use crate::grpc::{Answer, meta, none_if_empty, ok};

pub struct IamService {
    roles: Roles,
    oidc: OidcProviders,
    saml: SamlProviders,
}

impl IamService {
    pub fn new(roles: Roles) -> Self {
        Self {
            oidc: roles.oidc_providers(),
            saml: roles.saml_providers(),
            roles,
        }
    }
}

fn some_u32(n: u32) -> Option<u32> {
    (n != 0).then_some(n)
}

fn role_out(role: RoleState) -> pb::Role {
    pb::Role {
        role_name: role.name,
        role_id: role.role_id,
        path: role.path,
        arn: role.arn,
        assume_role_policy_document: role.trust_policy,
        description: role.description,
        max_session_duration: role.max_session_duration,
        tags: role.tags,
        create_date_ms: role.created_ms,
    }
}

fn oidc_out(p: OidcProviderState) -> pb::OpenIdConnectProvider {
    pb::OpenIdConnectProvider {
        url: p.url.strip_prefix("https://").unwrap_or(&p.url).to_owned(),
        arn: p.arn,
        client_ids: p.client_ids,
        thumbprints: p.thumbprints,
        tags: p.tags,
        create_date_ms: p.created_ms,
    }
}

fn saml_out(p: SamlProviderState) -> pb::SamlProvider {
    pb::SamlProvider {
        arn: p.arn,
        name: p.name,
        saml_metadata_document: p.metadata_document,
        tags: p.tags,
        create_date_ms: p.created_ms,
    }
}

fn empty(value: Result<(), ApiError>) -> Answer<pb::Empty> {
    ok(value.map(|()| pb::Empty {}))
}

#[tonic::async_trait]
impl Iam for IamService {
    async fn create_role(&self, req: Request<pb::CreateRoleRequest>) -> Answer<pb::Role> {
        let req = req.into_inner();
        let input = RoleInput {
            name: req.role_name,
            path: none_if_empty(&req.path).map(str::to_owned),
            trust_policy: req.assume_role_policy_document,
            description: req.description,
            max_session_duration: some_u32(req.max_session_duration),
            tags: req.tags,
        };
        let created = self
            .roles
            .create_role(input, &meta(req.caller.as_ref()))
            .await;
        ok(created.map(role_out))
    }

    async fn get_role(&self, req: Request<pb::RoleName>) -> Answer<pb::Role> {
        ok(self
            .roles
            .role_named(&req.into_inner().role_name)
            .await
            .map(role_out))
    }

    async fn list_roles(
        &self,
        req: Request<pb::ListRolesRequest>,
    ) -> Answer<pb::ListRolesResponse> {
        let req = req.into_inner();
        let page = self
            .roles
            .list_roles(
                none_if_empty(&req.path_prefix),
                none_if_empty(&req.marker),
                some_u32(req.max_items),
            )
            .await;
        ok(page.map(|page| pb::ListRolesResponse {
            roles: page.items.into_iter().map(role_out).collect(),
            marker: page.marker.unwrap_or_default(),
        }))
    }

    async fn delete_role(&self, req: Request<pb::RoleName>) -> Answer<pb::Empty> {
        let req = req.into_inner();
        empty(
            self.roles
                .delete_role(&req.role_name, &meta(req.caller.as_ref()))
                .await,
        )
    }

    async fn update_assume_role_policy(
        &self,
        req: Request<pb::UpdateAssumeRolePolicyRequest>,
    ) -> Answer<pb::Empty> {
        let req = req.into_inner();
        let meta = meta(req.caller.as_ref());
        empty(
            self.roles
                .update_trust_policy(&req.role_name, req.policy_document, &meta)
                .await,
        )
    }

    async fn put_role_policy(&self, req: Request<pb::RolePolicy>) -> Answer<pb::Empty> {
        let req = req.into_inner();
        let meta = meta(req.caller.as_ref());
        empty(
            self.roles
                .put_role_policy(&req.role_name, &req.policy_name, req.policy_document, &meta)
                .await,
        )
    }

    async fn get_role_policy(&self, req: Request<pb::RolePolicyName>) -> Answer<pb::RolePolicy> {
        let req = req.into_inner();
        let found = self
            .roles
            .role_policy(&req.role_name, &req.policy_name)
            .await;
        ok(found.map(|(role_name, policy_document)| pb::RolePolicy {
            caller: None,
            role_name,
            policy_name: req.policy_name,
            policy_document,
        }))
    }

    async fn list_role_policies(
        &self,
        req: Request<pb::ListRolePoliciesRequest>,
    ) -> Answer<pb::ListRolePoliciesResponse> {
        let req = req.into_inner();
        let page = self
            .roles
            .list_role_policies(
                &req.role_name,
                none_if_empty(&req.marker),
                some_u32(req.max_items),
            )
            .await;
        ok(page.map(|page| pb::ListRolePoliciesResponse {
            policy_names: page.items,
            marker: page.marker.unwrap_or_default(),
        }))
    }

    async fn delete_role_policy(&self, req: Request<pb::RolePolicyName>) -> Answer<pb::Empty> {
        let req = req.into_inner();
        let meta = meta(req.caller.as_ref());
        empty(
            self.roles
                .delete_role_policy(&req.role_name, &req.policy_name, &meta)
                .await,
        )
    }

    async fn create_open_id_connect_provider(
        &self,
        req: Request<pb::CreateOpenIdConnectProviderRequest>,
    ) -> Answer<pb::ProviderArn> {
        let req = req.into_inner();
        let meta = meta(req.caller.as_ref());
        let arn = self
            .oidc
            .create(&req.url, req.client_ids, req.thumbprints, req.tags, &meta)
            .await;
        ok(arn.map(|arn| pb::ProviderArn { caller: None, arn }))
    }

    async fn get_open_id_connect_provider(
        &self,
        req: Request<pb::ProviderArn>,
    ) -> Answer<pb::OpenIdConnectProvider> {
        ok(self.oidc.get(&req.into_inner().arn).await.map(oidc_out))
    }

    async fn delete_open_id_connect_provider(
        &self,
        req: Request<pb::ProviderArn>,
    ) -> Answer<pb::Empty> {
        let req = req.into_inner();
        empty(self.oidc.delete(&req.arn, &meta(req.caller.as_ref())).await)
    }

    async fn list_open_id_connect_providers(
        &self,
        _req: Request<pb::ListProvidersRequest>,
    ) -> Answer<pb::ProviderArns> {
        let all = self.oidc.list().await;
        ok(all.map(|all| pb::ProviderArns {
            arns: all.into_iter().map(|p| p.arn).collect(),
        }))
    }

    async fn create_saml_provider(
        &self,
        req: Request<pb::CreateSamlProviderRequest>,
    ) -> Answer<pb::ProviderArn> {
        let req = req.into_inner();
        let meta = meta(req.caller.as_ref());
        let arn = self
            .saml
            .create(&req.name, req.saml_metadata_document, req.tags, &meta)
            .await;
        ok(arn.map(|arn| pb::ProviderArn { caller: None, arn }))
    }

    async fn get_saml_provider(&self, req: Request<pb::ProviderArn>) -> Answer<pb::SamlProvider> {
        ok(self.saml.get(&req.into_inner().arn).await.map(saml_out))
    }

    async fn delete_saml_provider(&self, req: Request<pb::ProviderArn>) -> Answer<pb::Empty> {
        let req = req.into_inner();
        empty(self.saml.delete(&req.arn, &meta(req.caller.as_ref())).await)
    }

    async fn list_saml_providers(
        &self,
        _req: Request<pb::ListProvidersRequest>,
    ) -> Answer<pb::SamlProviders> {
        let all = self.saml.list().await;
        ok(all.map(|all| pb::SamlProviders {
            providers: all.into_iter().map(saml_out).collect(),
        }))
    }
}
