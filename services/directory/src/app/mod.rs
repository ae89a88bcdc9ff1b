//! Command and query handlers: load -> decide -> append, and the reads the other
//! services need. Transport-free; `grpc.rs` adapts it.

mod auth_events;
mod brandings;
pub mod claims;
mod clients;
mod csv;
mod devices;
pub mod domains;
pub mod federated;
pub mod groups;
pub mod imports;
mod membership;
mod names;
mod pools;
mod resource_servers;
mod risk_configurations;
pub mod store;
mod ui_customizations;
mod users;
mod waf;

use std::sync::Arc;

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::{KeyValue, KvError};
use portcullis_proto::events::v1::{Attribute, UserPoolSettings};
use portcullis_types::{PoolId, Region, Username};

use crate::domain::pool::{Pool, PoolCommand, PoolState};
use crate::domain::user::{User, UserCommand, UserState, UserStatus};
use crate::projections::{PoolSummary, Projection};
use claims::Claims;
pub use pools::pool_arn;
pub use store::{AggregateStore, CommandMeta};

/// Everything the directory's handlers need.
#[derive(Clone)]
pub struct Directory {
    store: AggregateStore,
    claims: Claims,
    secrets: Arc<dyn KeyValue>,
    projection: Projection,
    imports: imports::ImportFiles,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ApiError::internal())?;
    Ok(bytes)
}

fn pool_not_found(pool_id: &str) -> ApiError {
    ApiError::not_found(format!("User pool {pool_id} does not exist."))
}

/// The `Limit` of the paged lists: at most 60 (0 means the default page).
fn check_limit(limit: u32) -> Result<(), ApiError> {
    if limit > 60 {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 60"
        )));
    }
    Ok(())
}

/// A `MaxResults` of 1 to `most`.
fn check_max_results(max_results: u32, most: u32) -> Result<(), ApiError> {
    if (1..=most).contains(&max_results) {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value {} than or equal to {}",
        if max_results < 1 { "greater" } else { "less" },
        if max_results < 1 { 1 } else { most },
    )))
}

fn user_not_found() -> ApiError {
    ApiError::new(ErrorCode::UserNotFoundException, "User does not exist.")
}

impl Directory {
    pub fn new(
        store: AggregateStore,
        claims: Claims,
        secrets: Arc<dyn KeyValue>,
        projection: Projection,
        import_files: imports::ImportFiles,
    ) -> Self {
        Self {
            store,
            claims,
            secrets,
            projection,
            imports: import_files,
        }
    }

    pub async fn create_pool(
        &self,
        region: &Region,
        settings: UserPoolSettings,
        meta: &CommandMeta,
    ) -> Result<(PoolState, u64), ApiError> {
        let id = PoolId::generate(region, &random_bytes::<16>()?);
        let stream = AggregateStore::stream::<Pool>(id.as_str(), id.as_str())?;
        let command = PoolCommand::Create {
            id: id.to_string(),
            settings,
        };
        let done = self.store.execute::<Pool>(&stream, &command, meta).await?;
        self.projection.wait_for(done.position).await?;
        let state = done.aggregate.state.ok_or_else(ApiError::internal)?;
        Ok((state, 0))
    }

    /// The pool and its estimated number of users.
    pub async fn pool(&self, pool_id: &str) -> Result<(PoolState, u64), ApiError> {
        let id = PoolId::parse(pool_id).map_err(|e| ApiError::invalid_parameter(e.0))?;
        let stream = AggregateStore::stream::<Pool>(id.as_str(), id.as_str())?;
        let loaded = self.store.load::<Pool>(&stream).await?;
        let state = loaded
            .aggregate
            .state
            .ok_or_else(|| pool_not_found(pool_id))?;
        let users = self.projection.user_count(pool_id).await?;
        Ok((state, users))
    }

    /// Whether the pool exists, without counting its users.
    async fn pool_exists(&self, pool_id: &str) -> Result<(), ApiError> {
        let id = PoolId::parse(pool_id).map_err(|e| ApiError::invalid_parameter(e.0))?;
        let stream = AggregateStore::stream::<Pool>(id.as_str(), id.as_str())?;
        let loaded = self.store.load::<Pool>(&stream).await?;
        match loaded.aggregate.state {
            Some(_) => Ok(()),
            None => Err(pool_not_found(pool_id)),
        }
    }

    /// Pools of a region; sees every write acknowledged anywhere before the call.
    pub async fn list_pools(
        &self,
        region: &str,
        max_results: u32,
        next_token: Option<String>,
    ) -> Result<(Vec<PoolSummary>, Option<String>), ApiError> {
        check_max_results(max_results, 60)?;
        self.wait_for_log().await?;
        let limit = max_results as usize;
        let mut pools = self.projection.pools(region, next_token, limit + 1).await?;
        let next = portcullis_types::cut_page(&mut pools, limit, |p| p.id.clone());
        Ok((pools, next))
    }

    /// Creates a user under a sub the caller chose (so it could store credentials first).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_user(
        &self,
        pool_id: &str,
        sub: &str,
        username: &str,
        attributes: Vec<Attribute>,
        status: UserStatus,
        force_alias: bool,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        Username::parse(username).map_err(|e| ApiError::invalid_parameter(e.0))?;
        uuid::Uuid::parse_str(sub).map_err(|_| ApiError::invalid_parameter("Invalid sub."))?;
        names::check_username_format(&pool.settings, username)?;
        let command = UserCommand::SignUp {
            pool_id: pool_id.to_owned(),
            pool: Box::new(pool.settings.clone()),
            sub: sub.to_owned(),
            username: username.to_owned(),
            attributes,
            status,
        };
        self.execute_named(pool_id, sub, &pool.settings, &command, force_alias, meta)
            .await?
            .ok_or_else(ApiError::internal)
    }

    /// Finds a user by the name they sign in with (user name or alias), or by their
    /// internal name.
    pub async fn user_by_name(&self, pool_id: &str, username: &str) -> Result<UserState, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        let name = Username::parse(username).map_err(|e| ApiError::invalid_parameter(e.0))?;
        for key in names::lookup_keys(pool_id, &pool.settings, &name) {
            if let Some(sub) = self.claims.owner(&key).await? {
                // A claim whose owner is gone (or moved on) names nobody.
                match self.user_by_sub(pool_id, &sub).await {
                    Ok(user) if names::claimed_keys(&pool.settings, &user).contains(&key) => {
                        return Ok(user);
                    }
                    Ok(_) => {}
                    Err(err) if err.code == ErrorCode::UserNotFoundException => {}
                    Err(err) => return Err(err),
                }
            }
        }
        // In pools where an email or phone number is the user name, the internal name is
        // the sub, and Cognito accepts it wherever a user name is expected.
        if !pool.settings.username_attributes.is_empty() && uuid::Uuid::parse_str(username).is_ok()
        {
            return self.user_by_sub(pool_id, username).await;
        }
        Err(user_not_found())
    }

    pub async fn user_by_sub(&self, pool_id: &str, sub: &str) -> Result<UserState, ApiError> {
        // The users of a deleted pool are gone with it.
        self.pool_exists(pool_id).await?;
        let stream = AggregateStore::stream::<User>(pool_id, sub).map_err(|_| user_not_found())?;
        let user = self.store.load::<User>(&stream).await?.aggregate;
        user.state.ok_or_else(user_not_found)
    }

    pub async fn confirm_user(
        &self,
        pool_id: &str,
        username: &str,
        verified_attribute: Option<String>,
        force_alias: bool,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        let user = self.user_by_name(pool_id, username).await?;
        let command = UserCommand::Confirm { verified_attribute };
        self.execute_named(
            pool_id,
            &user.sub,
            &pool.settings,
            &command,
            force_alias,
            meta,
        )
        .await?
        .ok_or_else(ApiError::internal)
    }

    pub async fn record_password_change(
        &self,
        pool_id: &str,
        sub: &str,
        method: String,
        status: Option<UserStatus>,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let stream = AggregateStore::stream::<User>(pool_id, sub).map_err(|_| user_not_found())?;
        let command = UserCommand::RecordPasswordChange { method, status };
        let done = self.store.execute::<User>(&stream, &command, meta).await?;
        done.aggregate.state.ok_or_else(ApiError::internal)
    }

    pub async fn set_user_enabled(
        &self,
        pool_id: &str,
        username: &str,
        enabled: bool,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let user = self.user_by_name(pool_id, username).await?;
        let stream = AggregateStore::stream::<User>(pool_id, &user.sub)?;
        let done = self
            .store
            .execute::<User>(&stream, &UserCommand::SetEnabled(enabled), meta)
            .await?;
        done.aggregate.state.ok_or_else(ApiError::internal)
    }

    /// Deletes the user, then frees the names they held. A crash in between leaves
    /// claims whose owner no longer exists, which the next claimant takes over.
    pub async fn delete_user(
        &self,
        pool_id: &str,
        username: &str,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        let user = self.user_by_name(pool_id, username).await?;
        self.execute_named(
            pool_id,
            &user.sub,
            &pool.settings,
            &UserCommand::Delete,
            false,
            meta,
        )
        .await?;
        Ok(())
    }

    /// Waits until the read model has every write acknowledged anywhere before now.
    pub(crate) async fn wait_for_log(&self) -> Result<(), ApiError> {
        let last = self
            .store
            .log()
            .last_position()
            .await
            .map_err(store::log_error)?;
        self.projection.wait_for(last).await
    }

    pub fn store(&self) -> &AggregateStore {
        &self.store
    }
}

fn kv_error(err: KvError) -> ApiError {
    tracing::error!(error = %err, "key/value store failure");
    match err {
        KvError::Unavailable(_) => ApiError::unavailable(),
        KvError::Conflict => ApiError::internal(),
    }
}
