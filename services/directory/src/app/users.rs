//! User operations beyond creation and sign-in: attributes, verification, password
//! status, settings and listing.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::events::v1::{Attribute, MfaOption};

use super::claims::{ClaimOutcome, name_key};
use super::{AggregateStore, CommandMeta, Directory, claimed_names, user_not_found};
use crate::domain::user::{User, UserCommand, UserState, Writer};
use crate::projections::{UserFilter, UserPage};

impl Directory {
    /// Runs a command on an existing user, found by sub.
    async fn on_user(
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

    /// Sets attributes. Where an email or phone number is the user name, a new value is
    /// claimed before the change and the old one released after it, so two users never
    /// sign in with the same name.
    pub async fn update_user_attributes(
        &self,
        pool_id: &str,
        sub: &str,
        attributes: Vec<Attribute>,
        writer: Writer,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        let before = self.user_by_sub(pool_id, sub).await?;
        let mut held = Vec::new();
        for attribute in &attributes {
            if !pool.settings.username_attributes.contains(&attribute.name)
                || before.attribute(&attribute.name) == Some(attribute.value.as_str())
            {
                continue;
            }
            let Ok(name) = portcullis_types::Username::parse(&attribute.value) else {
                continue; // the domain refuses the value with the schema's message
            };
            let key = name_key(pool_id, &super::unique_name(&pool.settings, &name));
            match self.claims.claim(pool_id, &key, sub).await? {
                ClaimOutcome::Held(claim) => held.push(claim),
                ClaimOutcome::Taken => {
                    for claim in held {
                        self.claims.release(claim).await;
                    }
                    return Err(ApiError::new(
                        ErrorCode::AliasExistsException,
                        format!(
                            "An account with the given {} already exists.",
                            attribute.name
                        ),
                    ));
                }
            }
        }
        let command = UserCommand::UpdateAttributes {
            pool: Box::new(pool.settings.clone()),
            attributes,
            writer,
        };
        let after = match self.on_user(pool_id, sub, &command, meta).await {
            Ok(after) => after,
            Err(err) => {
                for claim in held {
                    self.claims.release(claim).await;
                }
                return Err(err);
            }
        };
        self.release_stale_names(&pool.settings, &before, &after)
            .await?;
        Ok(after)
    }

    /// Frees the names `before` held that `after` no longer does.
    async fn release_stale_names(
        &self,
        settings: &portcullis_proto::events::v1::UserPoolSettings,
        before: &UserState,
        after: &UserState,
    ) -> Result<(), ApiError> {
        let kept = claimed_names(settings, after);
        for name in claimed_names(settings, before) {
            if !kept.contains(&name) {
                self.claims
                    .release_owned(&name_key(&before.pool_id, &name), &before.sub)
                    .await?;
            }
        }
        Ok(())
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
        self.on_user(pool_id, sub, &UserCommand::VerifyAttribute { name }, meta)
            .await
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
        if limit > 60 {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 60"
            )));
        }
        let filter = UserFilter::parse(filter)?;
        let last = self
            .store
            .log()
            .last_position()
            .await
            .map_err(super::store::log_error)?;
        self.projection.wait_for(last).await?;
        let limit = if limit == 0 { 60 } else { limit as usize };
        self.projection.users(pool_id, &filter, limit, token).await
    }
}
