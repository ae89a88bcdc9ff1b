//! Resource servers: create, describe, update, delete, list, and the custom scopes they
//! give app clients.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::events::v1::ResourceServerScope;

use super::groups::name_token;
use super::{AggregateStore, CommandMeta, Directory, check_max_results};
use crate::domain::group::stream_key;
use crate::domain::provider_names::ProviderNames;
use crate::domain::resource_server::{
    self, ResourceServer, ResourceServerCommand, ResourceServerState, resource_server_not_found,
};

/// Cognito's quota of resource servers per user pool.
pub const MAX_RESOURCE_SERVERS_PER_POOL: usize = 25;

fn server_stream(
    pool_id: &str,
    identifier: &str,
) -> Result<portcullis_eventlog::StreamId, ApiError> {
    resource_server::validate_identifier(identifier)?;
    AggregateStore::stream::<ResourceServer>(pool_id, &stream_key(identifier))
}

impl Directory {
    async fn execute_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
        command: ResourceServerCommand,
        meta: &CommandMeta,
    ) -> Result<Option<ResourceServerState>, ApiError> {
        self.pool_exists(pool_id).await?;
        let stream = server_stream(pool_id, identifier)?;
        let done = self
            .store
            .execute::<ResourceServer>(&stream, &command, meta)
            .await?;
        self.projection.wait_for(done.position).await?;
        Ok(done.aggregate.state)
    }

    pub async fn create_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
        name: String,
        scopes: Vec<ResourceServerScope>,
        meta: &CommandMeta,
    ) -> Result<ResourceServerState, ApiError> {
        self.pool_exists(pool_id).await?;
        self.wait_for_log().await?;
        let existing = self
            .projection
            .resource_servers(pool_id, None, MAX_RESOURCE_SERVERS_PER_POOL)
            .await?;
        if existing.len() >= MAX_RESOURCE_SERVERS_PER_POOL
            && !existing.iter().any(|s| s.identifier == identifier)
        {
            return Err(ApiError::new(
                ErrorCode::LimitExceededException,
                format!(
                    "A user pool can have at most {MAX_RESOURCE_SERVERS_PER_POOL} resource servers."
                ),
            ));
        }
        let command = ResourceServerCommand::Create {
            pool_id: pool_id.to_owned(),
            identifier: identifier.to_owned(),
            name,
            scopes,
        };
        self.execute_resource_server(pool_id, identifier, command, meta)
            .await?
            .ok_or_else(ApiError::internal)
    }

    pub async fn resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<ResourceServerState, ApiError> {
        self.pool_exists(pool_id).await?;
        let stream = server_stream(pool_id, identifier)?;
        let loaded = self.store.load::<ResourceServer>(&stream).await?;
        loaded.aggregate.state.ok_or_else(resource_server_not_found)
    }

    pub async fn update_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
        name: String,
        scopes: Vec<ResourceServerScope>,
        meta: &CommandMeta,
    ) -> Result<ResourceServerState, ApiError> {
        let command = ResourceServerCommand::Update { name, scopes };
        self.execute_resource_server(pool_id, identifier, command, meta)
            .await?
            .ok_or_else(ApiError::internal)
    }

    pub async fn delete_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let command = ResourceServerCommand::Delete;
        self.execute_resource_server(pool_id, identifier, command, meta)
            .await?;
        Ok(())
    }

    /// A pool's resource servers by identifier; sees every write acknowledged anywhere
    /// before the call. The token is the hex of the last identifier returned.
    pub async fn list_resource_servers(
        &self,
        pool_id: &str,
        max_results: u32,
        next_token: Option<String>,
    ) -> Result<(Vec<ResourceServerState>, Option<String>), ApiError> {
        check_max_results(max_results, 50)?;
        let after = name_token(next_token)?;
        self.pool_exists(pool_id).await?;
        self.wait_for_log().await?;
        let limit = max_results as usize;
        let mut servers = self
            .projection
            .resource_servers(pool_id, after, limit + 1)
            .await?;
        let next = portcullis_types::cut_page(&mut servers, limit, |s| {
            hex::encode(s.identifier.as_bytes())
        });
        Ok((servers, next))
    }

    /// The names of the pool's identity providers, for app clients'
    /// `SupportedIdentityProviders` (the federation service's stream of them).
    pub(super) async fn identity_providers(&self, pool_id: &str) -> Result<Vec<String>, ApiError> {
        let stream = AggregateStore::stream::<ProviderNames>(pool_id, pool_id)?;
        let names = self.store.load::<ProviderNames>(&stream).await?.aggregate;
        Ok(names.names.into_iter().collect())
    }

    /// Every `<identifier>/<scope>` of the pool's resource servers, for app clients'
    /// `AllowedOAuthScopes`.
    pub(super) async fn custom_scopes(&self, pool_id: &str) -> Result<Vec<String>, ApiError> {
        self.wait_for_log().await?;
        let servers = self
            .projection
            .resource_servers(pool_id, None, MAX_RESOURCE_SERVERS_PER_POOL)
            .await?;
        Ok(servers
            .iter()
            .flat_map(ResourceServerState::full_scopes)
            .collect())
    }
}
