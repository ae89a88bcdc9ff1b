//! App clients: create, read, update, delete, list, and their secrets.
//!
//! Secret values live in the secrets bucket, never in events: the secret made with the
//! client under `<pool>/<client>`, secrets added later under `<pool>/<client>/<id>`.
//! A value is stored before the event that makes it current is appended, so a loaded
//! client always finds its secrets; a value whose event never made it is unreachable.

use bytes::Bytes;
use portcullis_errors::ApiError;
use portcullis_proto::events::v1::{UserPoolClientSettings, UserPoolSettings};
use portcullis_types::{ClientId, PoolId, generate_client_secret};

use super::{AggregateStore, CommandMeta, Directory, kv_error, random_bytes};
use crate::domain::client::{Client, ClientCommand, ClientState, SecretInfo, client_not_found};
use crate::projections::ClientSummary;

fn secret_key(pool_id: &str, client_id: &str, secret: &SecretInfo) -> String {
    if secret.initial {
        format!("{pool_id}/{client_id}")
    } else {
        format!("{pool_id}/{client_id}/{}", secret.id)
    }
}

fn new_secret_id(client_id: &str) -> Result<String, ApiError> {
    Ok(format!(
        "{client_id}--{}",
        hex::encode(random_bytes::<8>()?)
    ))
}

/// Cognito's `ClientSecretType`: 24 to 64 word characters or `+`. The value is
/// sensitive, so the message does not repeat it.
fn validate_custom_secret(secret: &str) -> Result<(), ApiError> {
    let valid = (24..=64).contains(&secret.len())
        && secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(
            "1 validation error detected: Value at 'clientSecret' failed to satisfy constraint: Member must have length between 24 and 64 and satisfy regular expression pattern: [\\w+]+",
        ))
    }
}

/// The secret to store for a new secret: the caller's, or a generated one.
fn secret_value(custom: Option<String>) -> Result<String, ApiError> {
    match custom {
        Some(secret) => {
            validate_custom_secret(&secret)?;
            Ok(secret)
        }
        None => Ok(generate_client_secret(&random_bytes::<64>()?)),
    }
}

/// Cognito's quota of app clients per user pool.
pub const MAX_CLIENTS_PER_POOL: usize = 1_000;

impl Directory {
    async fn pool_settings(&self, pool_id: &str) -> Result<Box<UserPoolSettings>, ApiError> {
        Ok(Box::new(self.pool(pool_id).await?.0.settings))
    }

    fn client_stream(
        pool_id: &str,
        client_id: &str,
    ) -> Result<portcullis_eventlog::StreamId, ApiError> {
        let id = ClientId::parse(client_id).map_err(|e| ApiError::invalid_parameter(e.0))?;
        let pool = PoolId::parse(pool_id).map_err(|e| ApiError::invalid_parameter(e.0))?;
        AggregateStore::stream::<Client>(pool.as_str(), id.as_str())
    }

    /// Creates a client; with `generate_secret` (or a caller's `custom_secret`) it is
    /// confidential. Returns the client and its secret values.
    pub async fn create_client(
        &self,
        pool_id: &str,
        settings: UserPoolClientSettings,
        generate_secret: bool,
        custom_secret: Option<String>,
        meta: &CommandMeta,
    ) -> Result<(ClientState, Vec<String>), ApiError> {
        let pool = self.pool_settings(pool_id).await?;
        self.wait_for_log().await?;
        if self
            .projection
            .clients(pool_id, None, MAX_CLIENTS_PER_POOL)
            .await?
            .len()
            >= MAX_CLIENTS_PER_POOL
        {
            return Err(ApiError::new(
                portcullis_errors::ErrorCode::LimitExceededException,
                format!("A user pool can have at most {MAX_CLIENTS_PER_POOL} app clients."),
            ));
        }
        let secret = if generate_secret || custom_secret.is_some() {
            Some(secret_value(custom_secret)?)
        } else {
            None
        };
        let mut client_id = ClientId::generate(&random_bytes::<32>()?);
        while !self
            .claims
            .register_client(client_id.as_str(), pool_id)
            .await?
        {
            client_id = ClientId::generate(&random_bytes::<32>()?);
        }
        let secret_id = match &secret {
            Some(value) => {
                let info = SecretInfo {
                    id: new_secret_id(client_id.as_str())?,
                    created_ms: 0,
                    initial: true,
                };
                self.secrets
                    .create(
                        &secret_key(pool_id, client_id.as_str(), &info),
                        Bytes::from(value.clone()),
                    )
                    .await
                    .map_err(kv_error)?;
                Some(info.id)
            }
            None => None,
        };
        let stream = AggregateStore::stream::<Client>(pool_id, client_id.as_str())?;
        let command = ClientCommand::Create {
            pool_id: pool_id.to_owned(),
            client_id: client_id.to_string(),
            pool,
            settings,
            secret_id,
            custom_scopes: self.custom_scopes(pool_id).await?,
            identity_providers: self.identity_providers(pool_id).await?,
        };
        let done = self
            .store
            .execute::<Client>(&stream, &command, meta)
            .await?;
        let state = done.aggregate.state.ok_or_else(ApiError::internal)?;
        self.projection.wait_for(done.position).await?;
        Ok((state, secret.into_iter().collect()))
    }

    /// An app client and its current secret values, primary first. With an empty
    /// `pool_id` the pool is looked up from the client id, as unauthenticated
    /// operations only name the client.
    pub async fn client(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<(ClientState, Vec<String>), ApiError> {
        let state = self.client_state(pool_id, client_id).await?;
        let mut values = Vec::with_capacity(state.secrets.len());
        for secret in &state.secrets {
            let key = secret_key(&state.pool_id, &state.client_id, secret);
            if let Some(entry) = self.secrets.get(&key).await.map_err(kv_error)? {
                values.push(String::from_utf8_lossy(&entry.value).into_owned());
            }
        }
        Ok((state, values))
    }

    pub async fn client_state(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<ClientState, ApiError> {
        ClientId::parse(client_id).map_err(|e| ApiError::invalid_parameter(e.0))?;
        let pool_id = if pool_id.is_empty() {
            self.claims
                .client_pool(client_id)
                .await?
                .ok_or_else(|| client_not_found(client_id))?
        } else {
            pool_id.to_owned()
        };
        // The clients of a deleted pool are gone with it.
        self.pool_exists(&pool_id).await?;
        let stream = Self::client_stream(&pool_id, client_id)?;
        self.store
            .load::<Client>(&stream)
            .await?
            .aggregate
            .state
            .ok_or_else(|| client_not_found(client_id))
    }

    /// Replaces the client's settings (UpdateUserPoolClient: members not given are
    /// reset to their defaults).
    pub async fn update_client(
        &self,
        pool_id: &str,
        client_id: &str,
        settings: UserPoolClientSettings,
        meta: &CommandMeta,
    ) -> Result<(ClientState, Vec<String>), ApiError> {
        let pool = self.pool_settings(pool_id).await?;
        self.client_state(pool_id, client_id).await?;
        let stream = Self::client_stream(pool_id, client_id)?;
        let command = ClientCommand::Update {
            pool,
            settings,
            custom_scopes: self.custom_scopes(pool_id).await?,
            identity_providers: self.identity_providers(pool_id).await?,
        };
        let done = self
            .store
            .execute::<Client>(&stream, &command, meta)
            .await?;
        self.projection.wait_for(done.position).await?;
        self.client(pool_id, client_id).await
    }

    /// Deletes the client, then its secrets and the record of its id. A crash in
    /// between leaves values nothing can reach: the client loads as deleted.
    pub async fn delete_client(
        &self,
        pool_id: &str,
        client_id: &str,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        self.pool(pool_id).await?;
        let before = self.client_state(pool_id, client_id).await?;
        let stream = Self::client_stream(pool_id, client_id)?;
        let done = self
            .store
            .execute::<Client>(&stream, &ClientCommand::Delete, meta)
            .await?;
        for secret in &before.secrets {
            self.forget_secret(&secret_key(pool_id, client_id, secret))
                .await;
        }
        self.claims.unregister_client(client_id).await?;
        self.projection.wait_for(done.position).await
    }

    async fn forget_secret(&self, key: &str) {
        let deleted = match self.secrets.get(key).await {
            Ok(Some(entry)) => self.secrets.delete(key, entry.revision).await,
            Ok(None) => Ok(()),
            Err(err) => Err(err),
        };
        if let Err(err) = deleted {
            // Not fatal: the secret is no longer current, so nothing accepts it.
            tracing::warn!(error = %err, "could not remove a client secret value");
        }
    }

    /// A pool's clients by id; sees every write acknowledged anywhere before the call.
    pub async fn list_clients(
        &self,
        pool_id: &str,
        max_results: u32,
        next_token: Option<String>,
    ) -> Result<(Vec<ClientSummary>, Option<String>), ApiError> {
        super::check_max_results(max_results, 60)?;
        self.pool(pool_id).await?;
        self.wait_for_log().await?;
        let limit = max_results as usize;
        let mut clients = self
            .projection
            .clients(pool_id, next_token, limit + 1)
            .await?;
        let next = portcullis_types::cut_page(&mut clients, limit, |c| c.client_id.clone());
        Ok((clients, next))
    }

    /// Adds a secret (the caller's, or a generated one, whose value is returned).
    pub async fn add_client_secret(
        &self,
        pool_id: &str,
        client_id: &str,
        custom: Option<String>,
        meta: &CommandMeta,
    ) -> Result<(SecretInfo, Option<String>), ApiError> {
        self.pool(pool_id).await?;
        self.client_state(pool_id, client_id).await?;
        let generated = custom.is_none();
        let value = secret_value(custom)?;
        let pending = SecretInfo {
            id: new_secret_id(client_id)?,
            created_ms: 0,
            initial: false,
        };
        let key = secret_key(pool_id, client_id, &pending);
        self.secrets
            .create(&key, Bytes::from(value.clone()))
            .await
            .map_err(kv_error)?;
        let stream = Self::client_stream(pool_id, client_id)?;
        let command = ClientCommand::AddSecret {
            secret_id: pending.id.clone(),
        };
        match self.store.execute::<Client>(&stream, &command, meta).await {
            Ok(done) => {
                let state = done.aggregate.state.ok_or_else(ApiError::internal)?;
                let info = state
                    .secret(&pending.id)
                    .cloned()
                    .ok_or_else(ApiError::internal)?;
                Ok((info, generated.then_some(value)))
            }
            Err(err) => {
                self.forget_secret(&key).await;
                Err(err)
            }
        }
    }

    pub async fn delete_client_secret(
        &self,
        pool_id: &str,
        client_id: &str,
        secret_id: &str,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        self.pool(pool_id).await?;
        let before = self.client_state(pool_id, client_id).await?;
        let stream = Self::client_stream(pool_id, client_id)?;
        let command = ClientCommand::DeleteSecret {
            secret_id: secret_id.to_owned(),
        };
        self.store
            .execute::<Client>(&stream, &command, meta)
            .await?;
        if let Some(secret) = before.secret(secret_id) {
            self.forget_secret(&secret_key(pool_id, client_id, secret))
                .await;
        }
        Ok(())
    }

    pub async fn client_secrets(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Vec<SecretInfo>, ApiError> {
        self.pool(pool_id).await?;
        Ok(self.client_state(pool_id, client_id).await?.secrets)
    }
}
