//! Managed login branding: one style per app client, in the client's branding stream
//! (`<pool>/branding/<client id>`), found by its id through the read model.

use portcullis_errors::ApiError;
use portcullis_eventlog::StreamId;
use portcullis_proto::events::v1::ManagedLoginBranding;

use super::{AggregateStore, CommandMeta, Directory};
use crate::domain::branding::{Branding, BrandingCommand, BrandingState, branding_not_found};

fn branding_stream(pool_id: &str, client_id: &str) -> Result<StreamId, ApiError> {
    AggregateStore::stream::<Branding>(pool_id, client_id)
}

impl Directory {
    /// Creates the client's style under a new id.
    pub async fn create_branding(
        &self,
        mut branding: ManagedLoginBranding,
        meta: &CommandMeta,
    ) -> Result<BrandingState, ApiError> {
        self.client(&branding.pool_id, &branding.client_id).await?;
        branding.branding_id = uuid::Uuid::new_v4().to_string();
        let stream = branding_stream(&branding.pool_id, &branding.client_id)?;
        self.execute_branding(&stream, BrandingCommand::Create(branding), meta)
            .await
    }

    /// The client a branding belongs to; sees every write acknowledged anywhere.
    async fn branding_client(&self, pool_id: &str, branding_id: &str) -> Result<String, ApiError> {
        self.pool_exists(pool_id).await?;
        self.wait_for_log().await?;
        self.projection
            .branding_client(pool_id, branding_id)
            .await?
            .ok_or_else(branding_not_found)
    }

    /// A branding by its id, or by its client's id when `branding_id` is empty.
    pub async fn branding(
        &self,
        pool_id: &str,
        branding_id: &str,
        client_id: &str,
    ) -> Result<BrandingState, ApiError> {
        let client_id = if branding_id.is_empty() {
            self.client(pool_id, client_id).await?;
            client_id.to_owned()
        } else {
            self.branding_client(pool_id, branding_id).await?
        };
        let stream = branding_stream(pool_id, &client_id)?;
        let loaded = self.store.load::<Branding>(&stream).await?;
        loaded.aggregate.state.ok_or_else(branding_not_found)
    }

    /// Updates or deletes the branding `branding_id`.
    pub async fn change_branding(
        &self,
        pool_id: &str,
        branding_id: &str,
        command: BrandingCommand,
        meta: &CommandMeta,
    ) -> Result<Option<BrandingState>, ApiError> {
        let client_id = self.branding_client(pool_id, branding_id).await?;
        let stream = branding_stream(pool_id, &client_id)?;
        let done = self
            .store
            .execute::<Branding>(&stream, &command, meta)
            .await?;
        self.projection.wait_for(done.position).await?;
        Ok(done.aggregate.state)
    }

    async fn execute_branding(
        &self,
        stream: &StreamId,
        command: BrandingCommand,
        meta: &CommandMeta,
    ) -> Result<BrandingState, ApiError> {
        let done = self
            .store
            .execute::<Branding>(stream, &command, meta)
            .await?;
        self.projection.wait_for(done.position).await?;
        done.aggregate.state.ok_or_else(ApiError::internal)
    }
}
