//! The broker's use cases over its aggregates: identity pools (`pools`), identities and
//! their logins (`identities`), and what they are issued (`issue`).

mod cached;
mod decide;
mod identities;
mod issue;
mod pools;

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_aggregate::{AggregateStore, CommandMeta, log_error};
use portcullis_errors::ApiError;
use portcullis_eventlog::cache::LogCache;
use portcullis_eventlog::{KeyValue, StreamId};
use portcullis_proto::token::v1::TokenLink;
use portcullis_runtime::GrpcChannel as Channel;

use crate::credentials::Minter;
use crate::domain::identity::{Identity, IdentityState, identity_not_found};
use crate::domain::identity_pool::{IdentityPool, PoolState, pool_not_found};
use crate::domain::validate::{region_id, scope};
use crate::logins::Verifier;
use crate::projection::Projection;

pub use cached::{CachedRoles, WATCH};
pub use decide::{Decided, Proof};
pub use issue::{AssumedRole, Issued};
pub use pools::pool_arn;

/// A role as the broker needs it: whom it trusts, what it allows, how long a session may
/// last.
#[derive(Debug, Clone)]
pub struct RoleInfo {
    pub arn: String,
    pub role_id: String,
    /// The trust policy (JSON).
    pub trust_policy: String,
    /// The inline permission policies: (name, JSON document).
    pub policies: Vec<(String, String)>,
    pub max_session_duration: u32,
}

/// An OpenID Connect provider registered in IAM.
#[derive(Debug, Clone)]
pub struct OidcProviderInfo {
    /// The issuer URL (`https://` and the ARN's name).
    pub url: String,
    pub client_ids: Vec<String>,
}

/// Where roles and identity providers are defined (the IAM store).
#[async_trait]
pub trait RoleDirectory: Send + Sync + 'static {
    async fn role(&self, arn: &str) -> Result<Option<RoleInfo>, ApiError>;

    /// The OpenID Connect provider an ARN names.
    async fn oidc_provider(&self, _arn: &str) -> Result<Option<OidcProviderInfo>, ApiError> {
        Ok(None)
    }

    /// The metadata document of the SAML provider an ARN names.
    async fn saml_provider(&self, _arn: &str) -> Result<Option<String>, ApiError> {
        Ok(None)
    }
}

#[derive(Clone)]
pub struct Broker {
    store: AggregateStore,
    /// Login -> identity claims: one identity per login, claimed before the append.
    links: Arc<dyn KeyValue>,
    projection: Projection,
    verifier: Verifier,
    token: TokenLink<Channel>,
    minter: Arc<Minter>,
    roles: Arc<dyn RoleDirectory>,
    /// Identity pools by id (`pool/<id>`), kept until the log records a change.
    cache: LogCache,
}

pub struct Parts {
    pub store: AggregateStore,
    pub links: Arc<dyn KeyValue>,
    pub projection: Projection,
    pub verifier: Verifier,
    pub minter: Arc<Minter>,
    pub roles: Arc<dyn RoleDirectory>,
    pub cache: LogCache,
}

impl Broker {
    pub fn new(parts: Parts) -> Self {
        Self {
            token: parts.verifier.token.clone(),
            store: parts.store,
            links: parts.links,
            projection: parts.projection,
            verifier: parts.verifier,
            minter: parts.minter,
            roles: parts.roles,
            cache: parts.cache,
        }
    }

    pub fn minter(&self) -> &Minter {
        &self.minter
    }

    pub fn roles(&self) -> &Arc<dyn RoleDirectory> {
        &self.roles
    }

    /// The identity pools' signing keys (JWKS document), from the token service, which
    /// keeps them under the name `identity`.
    pub async fn jwks(&self) -> Result<String, ApiError> {
        let request = portcullis_proto::token::v1::GetJwksRequest {
            pool_id: "identity".to_owned(),
        };
        Ok(self
            .token
            .clone()
            .get_jwks(request)
            .await?
            .into_inner()
            .json)
    }

    pub fn now_ms(&self) -> i64 {
        self.store.now_ms()
    }

    fn pool_stream(pool_id: &str) -> Result<StreamId, ApiError> {
        region_id(pool_id, "identityPoolId")?;
        let scope = scope(pool_id);
        AggregateStore::stream::<IdentityPool>(&scope, &scope)
    }

    /// An identity's stream: `<region>/identity/<id scope>`, so that it is found from
    /// the identity id alone.
    fn identity_stream(identity_id: &str) -> Result<StreamId, ApiError> {
        region_id(identity_id, "identityId")?;
        let region = identity_id.split(':').next().unwrap_or_default();
        AggregateStore::stream::<Identity>(region, &scope(identity_id))
    }

    pub async fn pool(&self, pool_id: &str) -> Result<PoolState, ApiError> {
        let stream = Self::pool_stream(pool_id)?;
        self.cache
            .get(&format!("pool/{pool_id}"), || async {
                let loaded = self.store.load::<IdentityPool>(&stream).await?;
                let pool = loaded.aggregate.state;
                let pool = pool.ok_or_else(|| pool_not_found(pool_id))?;
                Ok((stream.scope().to_owned(), pool))
            })
            .await
    }

    pub async fn identity(&self, identity_id: &str) -> Result<IdentityState, ApiError> {
        let stream = Self::identity_stream(identity_id)?;
        let loaded = self.store.load::<Identity>(&stream).await?;
        loaded
            .aggregate
            .state
            .ok_or_else(|| identity_not_found(identity_id))
    }

    /// Waits until the read model holds every write acknowledged anywhere so far.
    async fn wait_for_log(&self) -> Result<(), ApiError> {
        let last = self.store.log().last_position().await.map_err(log_error)?;
        self.projection.wait_for(last).await
    }

    async fn execute_pool(
        &self,
        pool_id: &str,
        command: crate::domain::identity_pool::PoolCommand,
        meta: &CommandMeta,
    ) -> Result<PoolState, ApiError> {
        let stream = Self::pool_stream(pool_id)?;
        if !matches!(
            command,
            crate::domain::identity_pool::PoolCommand::Create { .. }
        ) {
            // Commands on a missing pool answer with the pool's id.
            self.pool(pool_id).await?;
        }
        let done = self
            .store
            .execute::<IdentityPool>(&stream, &command, meta)
            .await?;
        self.projection.wait_for(done.position).await?;
        done.aggregate.state.ok_or_else(|| pool_not_found(pool_id))
    }
}

/// `MaxResults` must be 1 to 60.
fn check_max_results(max_results: u32) -> Result<(), ApiError> {
    let bound = match max_results {
        1..=60 => return Ok(()),
        0 => "greater than or equal to 1",
        _ => "less than or equal to 60",
    };
    Err(ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value {bound}"
    )))
}

/// A role directory with no roles: every role is unknown.
pub struct NoRoles;

#[async_trait]
impl RoleDirectory for NoRoles {
    async fn role(&self, _arn: &str) -> Result<Option<RoleInfo>, ApiError> {
        Ok(None)
    }
}
