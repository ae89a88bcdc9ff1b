//! UI customization of the classic hosted UI: a pool's (`ALL`) and each app client's,
//! the client's falling back to the pool's.

use portcullis_errors::ApiError;

use super::{AggregateStore, CommandMeta, Directory};
use crate::domain::ui_customization::{
    ALL, SetCustomization, UiCustomization, UiCustomizationState,
};

/// Empty and `ALL` both name the pool's customization.
fn client_or_all(client_id: &str) -> &str {
    if client_id.is_empty() { ALL } else { client_id }
}

impl Directory {
    /// Replaces the pool's or a client's CSS and logo. Cognito requires the pool to
    /// have a domain, where the hosted UI is served.
    pub async fn set_ui_customization(
        &self,
        pool_id: &str,
        client_id: &str,
        css: String,
        image: Vec<u8>,
        meta: &CommandMeta,
    ) -> Result<UiCustomizationState, ApiError> {
        self.pool_exists(pool_id).await?;
        let client_id = client_or_all(client_id);
        if client_id != ALL {
            self.client(pool_id, client_id).await?;
        }
        if self.pool_domains(pool_id).await?.is_empty() {
            return Err(ApiError::invalid_parameter(
                "A domain must be associated with this user pool.",
            ));
        }
        let stream = AggregateStore::stream::<UiCustomization>(pool_id, client_id)?;
        let command = SetCustomization {
            pool_id: pool_id.to_owned(),
            client_id: client_id.to_owned(),
            css,
            image,
        };
        let done = self
            .store
            .execute::<UiCustomization>(&stream, &command, meta)
            .await?;
        self.projection.wait_for(done.position).await?;
        done.aggregate.state.ok_or_else(ApiError::internal)
    }

    /// The client's customization, else the pool's; `None` when neither has one.
    /// `cached` answers from this replica's read model as it is (the hosted UI's read
    /// for every page); otherwise writes acknowledged anywhere are waited for.
    pub async fn ui_customization(
        &self,
        pool_id: &str,
        client_id: &str,
        with_image: bool,
        cached: bool,
    ) -> Result<Option<UiCustomizationState>, ApiError> {
        let client_id = client_or_all(client_id);
        if !cached {
            self.pool_exists(pool_id).await?;
            if client_id != ALL {
                self.client(pool_id, client_id).await?;
            }
            self.wait_for_log().await?;
        }
        if let Some(found) = self
            .projection
            .ui_customization(pool_id, client_id, with_image)
            .await?
        {
            return Ok(Some(found));
        }
        if client_id == ALL {
            return Ok(None);
        }
        self.projection
            .ui_customization(pool_id, ALL, with_image)
            .await
    }
}
