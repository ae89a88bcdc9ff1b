//! IAM's operations on roles and providers: load or execute one aggregate, or read the
//! index for listings.

use std::collections::HashMap;

use portcullis_aggregate::CommandMeta;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::events::v1::{
    IamOpenIdConnectProviderCreated, IamRoleCreated, IamSamlProviderCreated,
};

use super::index::Catalog;
use super::providers::{
    OidcCommand, OidcProvider, OidcProviderState, SamlCommand, SamlProvider, SamlProviderState,
    oidc_not_found, oidc_provider_arn, saml_not_found, saml_provider_arn,
};
use super::role::{
    DEFAULT_MAX_SESSION_DURATION, Role, RoleCommand, RoleState, role_arn, role_not_found,
    role_policy_not_found,
};
use super::store::{OidcProviders, Roles, SamlProviders, role_stream};
use super::validate;

/// IAM's quota of roles per account.
pub const MAX_ROLES: usize = 1000;

/// A role as identity pools and the decision point use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDef {
    pub arn: String,
    pub name: String,
    pub role_id: String,
    pub trust_policy: String,
    /// Inline policies as (name, document).
    pub policies: Vec<(String, String)>,
    pub max_session_duration: u32,
}

impl From<RoleState> for RoleDef {
    fn from(role: RoleState) -> Self {
        Self {
            arn: role.arn,
            name: role.name,
            role_id: role.role_id,
            trust_policy: role.trust_policy,
            policies: role.policies.into_iter().collect(),
            max_session_duration: role.max_session_duration,
        }
    }
}

/// What `CreateRole` takes.
#[derive(Debug, Clone, Default)]
pub struct RoleInput {
    pub name: String,
    pub path: Option<String>,
    pub trust_policy: String,
    pub description: String,
    pub max_session_duration: Option<u32>,
    pub tags: HashMap<String, String>,
}

/// One page of a listing; `marker` is set when more follow (`IsTruncated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub marker: Option<String>,
}

/// `MaxItems` is 1 to 1000, 100 when left out.
fn max_items(max: Option<u32>) -> Result<usize, ApiError> {
    match max {
        None => Ok(100),
        Some(n @ 1..=1000) => Ok(n as usize),
        Some(n) => Err(validate::validation_error(format!(
            "1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"
        ))),
    }
}

/// Pages `items` (sorted by `key`) after the item whose key is `marker`.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    marker: Option<&str>,
    max: Option<u32>,
) -> Result<Page<T>, ApiError> {
    let limit = max_items(max)?;
    let after = match marker {
        Some(m) => Some(
            hex::decode(m)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| validate::validation_error("Invalid Marker."))?,
        ),
        None => None,
    };
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|item| after.as_ref().is_none_or(|a| key(item) > *a))
        .collect();
    let marker = (rest.len() > limit).then(|| {
        rest.truncate(limit);
        rest.last().map(|last| hex::encode(key(last)))
    });
    Ok(Page {
        items: rest,
        marker: marker.flatten(),
    })
}

/// `AROA` and 17 random uppercase letters and digits.
fn new_role_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let random = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    let suffix: String = random
        .iter()
        .flat_map(|u| u.as_bytes().iter().copied())
        .take(17)
        .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
        .collect();
    format!("AROA{suffix}")
}

impl Roles {
    async fn execute(
        &self,
        name: &str,
        command: RoleCommand,
        meta: &CommandMeta,
    ) -> Result<Option<RoleState>, ApiError> {
        validate::name(name, "roleName", 64)?;
        let stream = role_stream(name)?;
        let done = self
            .shared
            .store
            .execute::<Role>(&stream, &command, meta)
            .await?;
        Ok(done.aggregate.state)
    }

    pub async fn create_role(
        &self,
        input: RoleInput,
        meta: &CommandMeta,
    ) -> Result<RoleState, ApiError> {
        validate::name(&input.name, "roleName", 64)?;
        let count = self.shared.read(|c| c.roles().len()).await?;
        if count >= MAX_ROLES {
            return Err(ApiError::new(
                ErrorCode::LimitExceeded,
                format!("Cannot exceed quota for RolesPerAccount: {MAX_ROLES}"),
            ));
        }
        let path = input.path.unwrap_or_else(|| "/".to_owned());
        let command = RoleCommand::Create(IamRoleCreated {
            arn: role_arn(&self.shared.account, &path, &input.name),
            role_id: new_role_id(),
            role_name: input.name.clone(),
            path,
            assume_role_policy_document: input.trust_policy,
            description: input.description,
            max_session_duration: input
                .max_session_duration
                .unwrap_or(DEFAULT_MAX_SESSION_DURATION),
            tags: input.tags,
        });
        self.execute(&input.name, command, meta)
            .await?
            .ok_or_else(ApiError::internal)
    }

    pub async fn role_named(&self, name: &str) -> Result<RoleState, ApiError> {
        validate::name(name, "roleName", 64)?;
        let loaded = self.shared.store.load::<Role>(&role_stream(name)?).await?;
        loaded.aggregate.state.ok_or_else(|| role_not_found(name))
    }

    /// Roles whose path starts with `path_prefix`, by name.
    pub async fn list_roles(
        &self,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max: Option<u32>,
    ) -> Result<Page<RoleState>, ApiError> {
        let prefix = path_prefix.unwrap_or("/");
        validate::length(prefix, "pathPrefix", 1, 512)?;
        let roles = self.shared.read(Catalog::roles).await?;
        let matching = roles
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect();
        page(matching, |r| r.name.to_lowercase(), marker, max)
    }

    pub async fn delete_role(&self, name: &str, meta: &CommandMeta) -> Result<(), ApiError> {
        let command = RoleCommand::Delete {
            role_name: name.to_owned(),
        };
        self.execute(name, command, meta).await.map(drop)
    }

    pub async fn update_trust_policy(
        &self,
        name: &str,
        document: String,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let command = RoleCommand::UpdateTrustPolicy {
            role_name: name.to_owned(),
            document,
        };
        self.execute(name, command, meta).await.map(drop)
    }

    pub async fn put_role_policy(
        &self,
        name: &str,
        policy_name: &str,
        document: String,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let command = RoleCommand::PutPolicy {
            role_name: name.to_owned(),
            policy_name: policy_name.to_owned(),
            document,
        };
        self.execute(name, command, meta).await.map(drop)
    }

    /// `(role name, document)` of one inline policy.
    pub async fn role_policy(
        &self,
        name: &str,
        policy_name: &str,
    ) -> Result<(String, String), ApiError> {
        validate::name(policy_name, "policyName", 128)?;
        let role = self.role_named(name).await?;
        let document = role
            .policies
            .get(policy_name)
            .cloned()
            .ok_or_else(|| role_policy_not_found(policy_name))?;
        Ok((role.name, document))
    }

    pub async fn list_role_policies(
        &self,
        name: &str,
        marker: Option<&str>,
        max: Option<u32>,
    ) -> Result<Page<String>, ApiError> {
        let role = self.role_named(name).await?;
        page(
            role.policies.into_keys().collect(),
            String::clone,
            marker,
            max,
        )
    }

    pub async fn delete_role_policy(
        &self,
        name: &str,
        policy_name: &str,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let command = RoleCommand::DeletePolicy {
            role_name: name.to_owned(),
            policy_name: policy_name.to_owned(),
        };
        self.execute(name, command, meta).await.map(drop)
    }
}

/// An ARN as IAM's provider operations take it.
fn provider_arn<'a>(arn: &'a str, member: &str) -> Result<&'a str, ApiError> {
    validate::length(arn, member, 20, 2048)?;
    Ok(arn)
}

impl OidcProviders {
    pub async fn create(
        &self,
        url: &str,
        client_ids: Vec<String>,
        thumbprints: Vec<String>,
        tags: HashMap<String, String>,
        meta: &CommandMeta,
    ) -> Result<String, ApiError> {
        validate::length(url, "url", 1, 255)?;
        let arn = oidc_provider_arn(&self.shared.account, url);
        let command = OidcCommand::Create(IamOpenIdConnectProviderCreated {
            arn: arn.clone(),
            url: url.to_owned(),
            client_ids,
            thumbprints,
            tags,
        });
        self.shared
            .execute_provider::<OidcProvider>(&arn, &command, meta)
            .await?;
        Ok(arn)
    }

    pub async fn get(&self, arn: &str) -> Result<OidcProviderState, ApiError> {
        let arn = provider_arn(arn, "openIDConnectProviderArn")?;
        let provider = self.shared.provider::<OidcProvider>(arn).await?;
        provider.state.ok_or_else(|| oidc_not_found(arn))
    }

    pub async fn delete(&self, arn: &str, meta: &CommandMeta) -> Result<(), ApiError> {
        let arn = provider_arn(arn, "openIDConnectProviderArn")?;
        let command = OidcCommand::Delete {
            arn: arn.to_owned(),
        };
        self.shared
            .execute_provider::<OidcProvider>(arn, &command, meta)
            .await
    }

    pub async fn list(&self) -> Result<Vec<OidcProviderState>, ApiError> {
        self.shared.read(Catalog::oidc_providers).await
    }
}

impl SamlProviders {
    pub async fn create(
        &self,
        name: &str,
        metadata_document: String,
        tags: HashMap<String, String>,
        meta: &CommandMeta,
    ) -> Result<String, ApiError> {
        validate::length(name, "name", 1, 128)?;
        let arn = saml_provider_arn(&self.shared.account, name);
        let command = SamlCommand::Create(IamSamlProviderCreated {
            arn: arn.clone(),
            name: name.to_owned(),
            metadata_document,
            tags,
        });
        self.shared
            .execute_provider::<SamlProvider>(&arn, &command, meta)
            .await?;
        Ok(arn)
    }

    pub async fn get(&self, arn: &str) -> Result<SamlProviderState, ApiError> {
        let arn = provider_arn(arn, "sAMLProviderArn")?;
        let provider = self.shared.provider::<SamlProvider>(arn).await?;
        provider.state.ok_or_else(|| saml_not_found(arn))
    }

    pub async fn delete(&self, arn: &str, meta: &CommandMeta) -> Result<(), ApiError> {
        let arn = provider_arn(arn, "sAMLProviderArn")?;
        let command = SamlCommand::Delete {
            arn: arn.to_owned(),
        };
        self.shared
            .execute_provider::<SamlProvider>(arn, &command, meta)
            .await
    }

    pub async fn list(&self) -> Result<Vec<SamlProviderState>, ApiError> {
        self.shared.read(Catalog::saml_providers).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_continue_after_their_marker() {
        let names: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let first = page(names.clone(), String::clone, None, Some(2)).unwrap();
        assert_eq!(first.items, ["a", "b"]);
        let marker = first.marker.unwrap();
        let second = page(names.clone(), String::clone, Some(&marker), Some(2)).unwrap();
        assert_eq!(second.items, ["c"]);
        assert!(second.marker.is_none());
        assert!(page(names.clone(), String::clone, Some("zz"), None).is_err());
        assert!(page(names, String::clone, None, Some(0)).is_err());
    }

    #[test]
    fn role_ids_look_like_iams() {
        let id = new_role_id();
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AROA"));
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
    }
}
