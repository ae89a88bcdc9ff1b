//! Identity pools: create, describe, update, delete, list; roles and role mappings;
//! principal tag maps; tags by ARN.

use std::collections::HashMap;

use portcullis_aggregate::CommandMeta;
use portcullis_errors::ApiError;
use portcullis_proto::events::v1::{IdentityPoolSettings, RoleMapping};
use portcullis_types::ACCOUNT_ID;

use super::{Broker, check_max_results};
use crate::domain::identity_pool::{PoolCommand, PoolState};
use crate::domain::validate::length;
use crate::projection::PoolEntry;
use crate::roles::DEFAULT_TAG_MAP;

pub fn pool_arn(pool_id: &str) -> String {
    let region = pool_id.split(':').next().unwrap_or_default();
    format!("arn:aws:cognito-identity:{region}:{ACCOUNT_ID}:identitypool/{pool_id}")
}

/// The identity pool an ARN names; anything else is not found.
fn pool_of_arn(arn: &str) -> Result<String, ApiError> {
    length(arn, "resourceArn", 20, 2048)?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        [
            "arn",
            "aws",
            "cognito-identity",
            region,
            ACCOUNT_ID,
            resource,
        ] => match resource.strip_prefix("identitypool/") {
            Some(pool_id) if pool_id.starts_with(&format!("{region}:")) => Ok(pool_id.to_owned()),
            _ => Err(ApiError::not_found(format!("Resource {arn} not found."))),
        },
        _ => Err(ApiError::invalid_parameter(format!("Invalid ARN: {arn}"))),
    }
}

impl Broker {
    pub async fn create_pool(
        &self,
        region: &str,
        settings: IdentityPoolSettings,
        tags: HashMap<String, String>,
        meta: &CommandMeta,
    ) -> Result<PoolState, ApiError> {
        let id = format!("{region}:{}", uuid::Uuid::new_v4());
        let command = PoolCommand::Create {
            id: id.clone(),
            settings,
            tags,
        };
        self.execute_pool(&id, command, meta).await
    }

    pub async fn update_pool(
        &self,
        pool_id: &str,
        settings: IdentityPoolSettings,
        tags: Option<HashMap<String, String>>,
        meta: &CommandMeta,
    ) -> Result<PoolState, ApiError> {
        self.execute_pool(pool_id, PoolCommand::Update { settings, tags }, meta)
            .await
    }

    pub async fn delete_pool(&self, pool_id: &str, meta: &CommandMeta) -> Result<(), ApiError> {
        let stream = Self::pool_stream(pool_id)?;
        self.pool(pool_id).await?;
        let done = self
            .store
            .execute::<crate::domain::identity_pool::IdentityPool>(
                &stream,
                &PoolCommand::Delete,
                meta,
            )
            .await?;
        self.projection.wait_for(done.position).await
    }

    /// The region's pools by id; the token is the last id returned.
    pub async fn list_pools(
        &self,
        region: &str,
        max_results: u32,
        next_token: Option<String>,
    ) -> Result<(Vec<PoolEntry>, Option<String>), ApiError> {
        check_max_results(max_results)?;
        self.wait_for_log().await?;
        let limit = max_results as usize;
        let mut pools = self.projection.pools(region, next_token, limit + 1).await?;
        let next = portcullis_types::cut_page(&mut pools, limit, |p| p.id.clone());
        Ok((pools, next))
    }

    pub async fn set_roles(
        &self,
        pool_id: &str,
        roles: HashMap<String, String>,
        role_mappings: HashMap<String, RoleMapping>,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let pool = self.pool(pool_id).await?;
        for provider in role_mappings.keys() {
            // A user pool's mapping is keyed `<provider name>:<app client id>`.
            let user_pool_client = pool.settings.cognito_identity_providers.iter().any(|p| {
                provider == &p.provider_name
                    || *provider == format!("{}:{}", p.provider_name, p.client_id)
            });
            let known = user_pool_client
                || pool
                    .settings
                    .supported_login_providers
                    .contains_key(provider)
                || pool
                    .settings
                    .open_id_connect_provider_arns
                    .iter()
                    .any(|arn| arn.ends_with(&format!("/{provider}")))
                || pool
                    .settings
                    .saml_provider_arns
                    .iter()
                    .any(|a| a == provider);
            if !known {
                return Err(ApiError::invalid_parameter(format!(
                    "Role mapping provider {provider} is not a provider of this identity pool."
                )));
            }
        }
        let command = PoolCommand::SetRoles {
            roles,
            role_mappings,
        };
        self.execute_pool(pool_id, command, meta).await?;
        Ok(())
    }

    /// The tag map of a provider: `(use defaults, tag -> claim)`; the defaults when
    /// `UseDefaults` is set.
    pub fn tag_map(pool: &PoolState, provider: &str) -> (bool, HashMap<String, String>) {
        match pool.tag_maps.get(provider) {
            Some((true, _)) => (
                true,
                DEFAULT_TAG_MAP
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            Some((false, tags)) => (false, tags.clone()),
            None => (false, HashMap::new()),
        }
    }

    pub async fn set_tag_map(
        &self,
        pool_id: &str,
        provider: &str,
        use_defaults: bool,
        tags: HashMap<String, String>,
        meta: &CommandMeta,
    ) -> Result<(bool, HashMap<String, String>), ApiError> {
        let command = PoolCommand::SetTagMap {
            provider: provider.to_owned(),
            use_defaults,
            tags,
        };
        let pool = self.execute_pool(pool_id, command, meta).await?;
        Ok(Self::tag_map(&pool, provider))
    }

    pub async fn tag_pool(
        &self,
        arn: &str,
        tags: HashMap<String, String>,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let pool_id = pool_of_arn(arn)?;
        self.execute_pool(&pool_id, PoolCommand::Tag(tags), meta)
            .await?;
        Ok(())
    }

    pub async fn untag_pool(
        &self,
        arn: &str,
        keys: Vec<String>,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let pool_id = pool_of_arn(arn)?;
        self.execute_pool(&pool_id, PoolCommand::Untag(keys), meta)
            .await?;
        Ok(())
    }

    pub async fn pool_tags(&self, arn: &str) -> Result<HashMap<String, String>, ApiError> {
        let pool_id = pool_of_arn(arn)?;
        Ok(self.pool(&pool_id).await?.tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_pools_of_their_region() {
        let id = "us-east-1:0b8b3b3c-1111-2222-3333-444455556666";
        assert_eq!(pool_of_arn(&pool_arn(id)).unwrap(), id);
        assert!(
            pool_of_arn("arn:aws:cognito-identity:eu-west-1:000000000000:identitypool/us-east-1:x")
                .is_err()
        );
        assert!(pool_of_arn("not an arn at all, but long").is_err());
    }
}
