//! [`Roles`], [`OidcProviders`] and [`SamlProviders`]: the IAM store as the rest of
//! Portcullis uses it. They share one store and one lazily started index.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use aws_lc_rs::digest::{SHA256, digest};
use portcullis_aggregate::{Aggregate, AggregateStore, CommandMeta};
use portcullis_errors::ApiError;
use portcullis_eventlog::StreamId;
use portcullis_types::ACCOUNT_ID;

use super::SCOPE;
use super::index::{Catalog, Index};
use super::providers::{OidcProvider, SamlProvider};
use super::role::Role;
use crate::app::{OidcProviderInfo, RoleDirectory, RoleInfo};

pub(super) struct Shared {
    pub store: AggregateStore,
    pub account: String,
    index: OnceLock<Index>,
}

impl Shared {
    /// Reads the index, starting it on first use (so that a `Roles` only asked for single
    /// roles never follows the log).
    pub async fn read<T>(&self, read: impl FnOnce(&Catalog) -> T) -> Result<T, ApiError> {
        let index = self
            .index
            .get_or_init(|| Index::start(self.store.log().clone()));
        index.read(read).await
    }

    /// A provider's aggregate, by ARN.
    pub async fn provider<A: Aggregate>(&self, arn: &str) -> Result<A, ApiError> {
        let stream = provider_stream::<A>(arn)?;
        Ok(self.store.load::<A>(&stream).await?.aggregate)
    }

    pub async fn execute_provider<A: Aggregate>(
        &self,
        arn: &str,
        command: &A::Command,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let stream = provider_stream::<A>(arn)?;
        self.store
            .execute::<A>(&stream, command, meta)
            .await
            .map(drop)
    }
}

/// Role names are unique without regard to case: the stream is keyed on the lowercased
/// name.
pub(super) fn role_stream(name: &str) -> Result<StreamId, ApiError> {
    AggregateStore::stream::<Role>(SCOPE, &hex::encode(name.to_lowercase()))
}

/// Providers are keyed on a digest of their ARN (a URL can be longer than a stream id).
fn provider_stream<A: Aggregate>(arn: &str) -> Result<StreamId, ApiError> {
    let key = hex::encode(digest(&SHA256, arn.as_bytes()));
    AggregateStore::stream::<A>(SCOPE, &key)
}

/// The IAM roles of the account.
#[derive(Clone)]
pub struct Roles {
    pub(super) shared: Arc<Shared>,
}

impl Roles {
    pub fn new(store: AggregateStore) -> Self {
        Self::with_account(store, ACCOUNT_ID)
    }

    /// Roles whose ARNs name `account`.
    pub fn with_account(store: AggregateStore, account: &str) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                account: account.to_owned(),
                index: OnceLock::new(),
            }),
        }
    }

    pub fn oidc_providers(&self) -> OidcProviders {
        OidcProviders {
            shared: self.shared.clone(),
        }
    }

    pub fn saml_providers(&self) -> SamlProviders {
        SamlProviders {
            shared: self.shared.clone(),
        }
    }

    /// The role an ARN names, if it exists (ARN compared exactly).
    pub async fn get_by_arn(&self, arn: &str) -> Result<Option<super::RoleDef>, ApiError> {
        let Some((_, name)) = arn.rsplit_once('/') else {
            return Ok(None);
        };
        if !arn.starts_with("arn:aws:iam::") || name.is_empty() || name.len() > 64 {
            return Ok(None);
        }
        let stream = role_stream(name)?;
        let role = self.shared.store.load::<Role>(&stream).await?.aggregate;
        Ok(role
            .state
            .filter(|r| r.arn == arn)
            .map(super::RoleDef::from))
    }
}

#[async_trait]
impl RoleDirectory for Roles {
    async fn role(&self, arn: &str) -> Result<Option<RoleInfo>, ApiError> {
        Ok(self.get_by_arn(arn).await?.map(|role| RoleInfo {
            arn: role.arn,
            role_id: role.role_id,
            trust_policy: role.trust_policy,
            policies: role.policies,
            max_session_duration: role.max_session_duration,
        }))
    }

    async fn oidc_provider(&self, arn: &str) -> Result<Option<OidcProviderInfo>, ApiError> {
        let provider = self.oidc_providers().get_by_arn(arn).await?;
        Ok(provider.map(|p| OidcProviderInfo {
            url: p.url,
            client_ids: p.client_ids,
        }))
    }

    async fn saml_provider(&self, arn: &str) -> Result<Option<String>, ApiError> {
        let provider = self.saml_providers().get_by_arn(arn).await?;
        Ok(provider.map(|p| p.metadata_document))
    }
}

/// An OpenID Connect provider as identity pools use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProviderDef {
    pub arn: String,
    pub url: String,
    pub client_ids: Vec<String>,
}

#[derive(Clone)]
pub struct OidcProviders {
    pub(super) shared: Arc<Shared>,
}

impl OidcProviders {
    pub fn new(store: AggregateStore) -> Self {
        Roles::new(store).oidc_providers()
    }

    pub async fn get_by_arn(&self, arn: &str) -> Result<Option<OidcProviderDef>, ApiError> {
        let provider = self.shared.provider::<OidcProvider>(arn).await?;
        Ok(provider
            .state
            .filter(|p| p.arn == arn)
            .map(|p| OidcProviderDef {
                arn: p.arn,
                url: p.url,
                client_ids: p.client_ids,
            }))
    }
}

/// A SAML provider as identity pools use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlProviderDef {
    pub arn: String,
    pub name: String,
    pub metadata_document: String,
}

#[derive(Clone)]
pub struct SamlProviders {
    pub(super) shared: Arc<Shared>,
}

impl SamlProviders {
    pub fn new(store: AggregateStore) -> Self {
        Roles::new(store).saml_providers()
    }

    pub async fn get_by_arn(&self, arn: &str) -> Result<Option<SamlProviderDef>, ApiError> {
        let provider = self.shared.provider::<SamlProvider>(arn).await?;
        Ok(provider
            .state
            .filter(|p| p.arn == arn)
            .map(|p| SamlProviderDef {
                arn: p.arn,
                name: p.name,
                metadata_document: p.metadata_document,
            }))
    }
}
