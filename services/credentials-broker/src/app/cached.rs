//! What a credentials request reads of identity pools and IAM on every call — the
//! pool's configuration, the roles it hands out, the providers it trusts — kept in a
//! cache that follows the log (`portcullis_eventlog::cache`): dropped when an identity
//! pool or IAM changes, and never older than a write acknowledged before the request.

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_errors::ApiError;
use portcullis_eventlog::cache::{LogCache, Watch};

use super::{OidcProviderInfo, RoleDirectory, RoleInfo};

/// The records that change what the broker caches: identity pools and IAM (whole
/// scopes), and the users whose tokens `ServerSideTokenCheck` checks (one stream each;
/// a user pool's own record drops its users, as its deletion must).
pub const WATCH: Watch = Watch {
    scope_kinds: &[
        "identitypool",
        "role",
        "oidcprovider",
        "samlprovider",
        "pool",
    ],
    stream_kinds: portcullis_types::USER_KINDS,
};

/// The scope of IAM's streams (roles and providers are account-wide).
const IAM_SCOPE: &str = crate::iam::SCOPE;

/// A [`RoleDirectory`] that asks the one it wraps once per change.
pub struct CachedRoles {
    inner: Arc<dyn RoleDirectory>,
    cache: LogCache,
}

impl CachedRoles {
    pub fn new(inner: Arc<dyn RoleDirectory>, cache: LogCache) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl RoleDirectory for CachedRoles {
    async fn role(&self, arn: &str) -> Result<Option<RoleInfo>, ApiError> {
        self.cache
            .get(&format!("role/{arn}"), || async {
                Ok((IAM_SCOPE.to_owned(), self.inner.role(arn).await?))
            })
            .await
    }

    async fn oidc_provider(&self, arn: &str) -> Result<Option<OidcProviderInfo>, ApiError> {
        self.cache
            .get(&format!("oidc/{arn}"), || async {
                Ok((IAM_SCOPE.to_owned(), self.inner.oidc_provider(arn).await?))
            })
            .await
    }

    async fn saml_provider(&self, arn: &str) -> Result<Option<String>, ApiError> {
        self.cache
            .get(&format!("saml/{arn}"), || async {
                Ok((IAM_SCOPE.to_owned(), self.inner.saml_provider(arn).await?))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use portcullis_aggregate::Aggregate;

    #[test]
    fn the_kinds_watched_are_the_aggregates() {
        let scopes = [
            crate::domain::identity_pool::IdentityPool::KIND,
            crate::iam::role::Role::KIND,
            crate::iam::providers::OidcProvider::KIND,
            crate::iam::providers::SamlProvider::KIND,
            portcullis_types::POOL_CONFIGURATION_KINDS[0],
        ];
        assert_eq!(super::WATCH.scope_kinds, scopes);
        assert_eq!(scopes[4], "pool");
    }
}
