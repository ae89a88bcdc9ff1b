//! Command and query handlers: load -> decide -> append, and the reads the other
//! services need. Transport-free; `grpc.rs` adapts it.

pub mod claims;
mod clients;
pub mod groups;
pub mod store;

use std::sync::Arc;

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::{KeyValue, KvError};
use portcullis_proto::events::v1::{Attribute, UserPoolSettings};
use portcullis_types::{PoolId, Region, Username};

use crate::domain::pool::{Pool, PoolCommand, PoolState};
use crate::domain::user::{User, UserCommand, UserState};
use crate::projections::{PoolSummary, Projection};
use claims::{ClaimOutcome, Claims, name_key};
pub use store::{AggregateStore, CommandMeta};

/// Everything the directory's handlers need.
#[derive(Clone)]
pub struct Directory {
    store: AggregateStore,
    claims: Claims,
    secrets: Arc<dyn KeyValue>,
    projection: Projection,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ApiError::internal())?;
    Ok(bytes)
}

fn pool_not_found(pool_id: &str) -> ApiError {
    ApiError::not_found(format!("User pool {pool_id} does not exist."))
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
    ) -> Self {
        Self {
            store,
            claims,
            secrets,
            projection,
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

    /// Pools of a region; sees every write acknowledged anywhere before the call.
    pub async fn list_pools(
        &self,
        region: &str,
        max_results: u32,
        next_token: Option<String>,
    ) -> Result<(Vec<PoolSummary>, Option<String>), ApiError> {
        if !(1..=60).contains(&max_results) {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value {} than or equal to {}",
                if max_results < 1 { "greater" } else { "less" },
                if max_results < 1 { 1 } else { 60 },
            )));
        }
        let last = self
            .store
            .log()
            .last_position()
            .await
            .map_err(store::log_error)?;
        self.projection.wait_for(last).await?;
        let limit = max_results as usize;
        let mut pools = self.projection.pools(region, next_token, limit + 1).await?;
        let next = if pools.len() > limit {
            pools.truncate(limit);
            pools.last().map(|p| p.id.clone())
        } else {
            None
        };
        Ok((pools, next))
    }

    /// Creates a user under a sub the caller chose (so it could store credentials first).
    pub async fn create_user(
        &self,
        pool_id: &str,
        sub: &str,
        username: &str,
        attributes: Vec<Attribute>,
        confirmed: bool,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        let name = Username::parse(username).map_err(|e| ApiError::invalid_parameter(e.0))?;
        uuid::Uuid::parse_str(sub).map_err(|_| ApiError::invalid_parameter("Invalid sub."))?;
        let key = name_key(pool_id, &unique_name(&pool.settings, &name));
        let held = match self.claims.claim(pool_id, &key, sub).await? {
            ClaimOutcome::Held(held) => held,
            ClaimOutcome::Taken => return Err(username_exists(&pool.settings)),
        };
        let stream = AggregateStore::stream::<User>(pool_id, sub)?;
        let command = UserCommand::SignUp {
            pool_id: pool_id.to_owned(),
            pool: Box::new(pool.settings),
            sub: sub.to_owned(),
            username: username.to_owned(),
            attributes,
            confirmed,
        };
        match self.store.execute::<User>(&stream, &command, meta).await {
            Ok(done) => done.aggregate.state.ok_or_else(ApiError::internal),
            Err(err) => {
                self.claims.release(held).await;
                Err(err)
            }
        }
    }

    /// Finds a user by the name they sign in with, or by their internal name.
    pub async fn user_by_name(&self, pool_id: &str, username: &str) -> Result<UserState, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        let name = Username::parse(username).map_err(|e| ApiError::invalid_parameter(e.0))?;
        let key = name_key(pool_id, &unique_name(&pool.settings, &name));
        if let Some(sub) = self.claims.owner(&key).await? {
            let user = self.user_by_sub(pool_id, &sub).await?;
            return Ok(user);
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
        let stream = AggregateStore::stream::<User>(pool_id, sub).map_err(|_| user_not_found())?;
        let user = self.store.load::<User>(&stream).await?.aggregate;
        user.state.ok_or_else(user_not_found)
    }

    pub async fn confirm_user(
        &self,
        pool_id: &str,
        username: &str,
        verified_attribute: Option<String>,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let user = self.user_by_name(pool_id, username).await?;
        let stream = AggregateStore::stream::<User>(pool_id, &user.sub)?;
        let done = self
            .store
            .execute::<User>(&stream, &UserCommand::Confirm { verified_attribute }, meta)
            .await?;
        done.aggregate.state.ok_or_else(ApiError::internal)
    }

    pub async fn record_password_change(
        &self,
        pool_id: &str,
        sub: &str,
        method: String,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let stream = AggregateStore::stream::<User>(pool_id, sub).map_err(|_| user_not_found())?;
        let command = UserCommand::RecordPasswordChange { method };
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
        let stream = AggregateStore::stream::<User>(pool_id, &user.sub)?;
        self.store
            .execute::<User>(&stream, &UserCommand::Delete, meta)
            .await?;
        for name in claimed_names(&pool.settings, &user) {
            self.claims
                .release_owned(&name_key(pool_id, &name), &user.sub)
                .await?;
        }
        Ok(())
    }

    pub fn store(&self) -> &AggregateStore {
        &self.store
    }
}

/// The unique form of a sign-in name: case folded unless the pool is case sensitive;
/// email addresses always compare case-insensitively.
fn unique_name(settings: &UserPoolSettings, name: &Username) -> String {
    let is_email =
        settings.username_attributes.iter().any(|a| a == "email") && name.as_str().contains('@');
    name.unique_key(settings.username_case_sensitive && !is_email)
}

/// The unique names a user may hold, derived from their state the same way
/// `create_user` derived the one it claimed: the user name, or in pools where an email
/// or phone number is the user name, those attributes.
fn claimed_names(settings: &UserPoolSettings, user: &UserState) -> Vec<String> {
    let mut names = Vec::new();
    if settings.username_attributes.is_empty() {
        names.push(user.username.clone());
    }
    for attribute in &settings.username_attributes {
        if let Some(value) = user.attribute(attribute) {
            names.push(value.to_owned());
        }
    }
    names
        .into_iter()
        .filter_map(|name| Username::parse(&name).ok())
        .map(|name| unique_name(settings, &name))
        .collect()
}

fn username_exists(settings: &UserPoolSettings) -> ApiError {
    let message = if settings.username_attributes.iter().any(|a| a == "email") {
        "An account with the given email already exists."
    } else if settings
        .username_attributes
        .iter()
        .any(|a| a == "phone_number")
    {
        "An account with the given phone_number already exists."
    } else {
        "User already exists"
    };
    ApiError::new(ErrorCode::UsernameExistsException, message)
}

fn kv_error(err: KvError) -> ApiError {
    tracing::error!(error = %err, "key/value store failure");
    match err {
        KvError::Unavailable(_) => ApiError::unavailable(),
        KvError::Conflict => ApiError::internal(),
    }
}
