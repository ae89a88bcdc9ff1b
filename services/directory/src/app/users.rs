//! User operations beyond creation and sign-in: attributes, verification, password
//! status, settings and listing.

use portcullis_errors::ApiError;
use portcullis_proto::events::v1::{Attribute, MfaOption};

use super::{AggregateStore, CommandMeta, Directory, check_limit, user_not_found};
use crate::domain::user::{User, UserCommand, UserState, Writer};
use crate::projections::{UserFilter, UserPage};

impl Directory {
    /// Runs a command on an existing user, found by sub.
    pub(crate) async fn on_user(
        &self,
        pool_id: &str,
        sub: &str,
        command: &UserCommand,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let stream = AggregateStore::stream::<User>(pool_id, sub).map_err(|_| user_not_found())?;
        let done = self.store.execute::<User>(&stream, command, meta).await?;
        done.aggregate.state.ok_or_else(user_not_found)
    }

    /// Sets attributes, keeping user names and aliases unique.
    pub async fn update_user_attributes(
        &self,
        pool_id: &str,
        sub: &str,
        attributes: Vec<Attribute>,
        writer: Writer,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        let command = UserCommand::UpdateAttributes {
            pool: Box::new(pool.settings.clone()),
            attributes,
            writer,
        };
        self.execute_named(pool_id, sub, &pool.settings, &command, false, meta)
            .await?
            .ok_or_else(user_not_found)
    }

    pub async fn delete_user_attributes(
        &self,
        pool_id: &str,
        sub: &str,
        names: Vec<String>,
        writer: Writer,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        let command = UserCommand::DeleteAttributes {
            pool: Box::new(pool.settings),
            names,
            writer,
        };
        self.on_user(pool_id, sub, &command, meta).await
    }

    pub async fn verify_user_attribute(
        &self,
        pool_id: &str,
        sub: &str,
        name: String,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        let command = UserCommand::VerifyAttribute { name };
        self.execute_named(pool_id, sub, &pool.settings, &command, false, meta)
            .await?
            .ok_or_else(user_not_found)
    }

    pub async fn require_password_reset(
        &self,
        pool_id: &str,
        sub: &str,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        self.on_user(pool_id, sub, &UserCommand::RequirePasswordReset, meta)
            .await
    }

    pub async fn set_user_settings(
        &self,
        pool_id: &str,
        sub: &str,
        options: Vec<MfaOption>,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        self.on_user(pool_id, sub, &UserCommand::SetSettings(options), meta)
            .await
    }

    /// Signs the user out of every session (`origin_jti` None) or revokes one session,
    /// remembered until `expires_ms`.
    pub async fn revoke_sessions(
        &self,
        pool_id: &str,
        sub: &str,
        origin_jti: Option<String>,
        expires_ms: i64,
        reason: String,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let command = UserCommand::RevokeSessions {
            origin_jti,
            expires_ms,
            reason,
        };
        self.on_user(pool_id, sub, &command, meta).await
    }

    /// A page of the pool's users, from the read model, after every write acknowledged
    /// anywhere before the call.
    pub async fn list_users(
        &self,
        pool_id: &str,
        filter: &str,
        limit: u32,
        token: Option<String>,
    ) -> Result<UserPage, ApiError> {
        self.pool(pool_id).await?;
        check_limit(limit)?;
        let filter = UserFilter::parse(filter)?;
        self.wait_for_log().await?;
        let limit = if limit == 0 { 60 } else { limit as usize };
        self.projection.users(pool_id, &filter, limit, token).await
    }
}
