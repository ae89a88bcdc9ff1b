//! UI customization of the classic hosted UI and threat protection's risk configuration:
//! a pool's (`ALL`) and each app client's, the client's falling back to the pool's.

use portcullis_errors::ApiError;

use super::{AggregateStore, CommandMeta, Directory};
use portcullis_proto::events::v1::RiskConfiguration;

use crate::domain::risk_configuration::{
    self as risk, RiskConfigurationAggregate, RiskState, SetRisk,
};
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

impl Directory {
    /// The pool must exist, the client (when named) too, and threat protection must be
    /// on; the client id under which the configuration is kept.
    async fn risk_subject<'a>(
        &self,
        pool_id: &str,
        client_id: &'a str,
    ) -> Result<&'a str, ApiError> {
        let (pool, _) = self.pool(pool_id).await?;
        let client_id = if client_id.is_empty() {
            risk::ALL
        } else {
            client_id
        };
        if client_id != risk::ALL {
            self.client(pool_id, client_id).await?;
        }
        let mode = pool
            .settings
            .user_pool_add_ons
            .as_ref()
            .map(|a| a.advanced_security_mode.as_str())
            .unwrap_or_default();
        risk::require_add_on(mode)?;
        Ok(client_id)
    }

    /// SetRiskConfiguration: the pool's or a client's configuration replaced; an empty
    /// one removes it.
    pub async fn set_risk_configuration(
        &self,
        pool_id: &str,
        client_id: &str,
        configuration: Option<RiskConfiguration>,
        meta: &CommandMeta,
    ) -> Result<RiskState, ApiError> {
        let client_id = self.risk_subject(pool_id, client_id).await?;
        let stream = AggregateStore::stream::<RiskConfigurationAggregate>(pool_id, client_id)?;
        let command = SetRisk {
            pool_id: pool_id.to_owned(),
            client_id: client_id.to_owned(),
            configuration: configuration.filter(|c| !risk::is_empty(c)),
        };
        let done = self
            .store
            .execute::<RiskConfigurationAggregate>(&stream, &command, meta)
            .await?;
        done.aggregate.state.ok_or_else(ApiError::internal)
    }

    /// DescribeRiskConfiguration: the client's own configuration, else the pool's;
    /// `None` when neither has one.
    pub async fn risk_configuration(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Option<RiskState>, ApiError> {
        let client_id = self.risk_subject(pool_id, client_id).await?;
        let mut candidates = vec![client_id];
        if client_id != risk::ALL {
            candidates.push(risk::ALL);
        }
        for candidate in candidates {
            let stream = AggregateStore::stream::<RiskConfigurationAggregate>(pool_id, candidate)?;
            let loaded = self
                .store
                .load::<RiskConfigurationAggregate>(&stream)
                .await?;
            if let Some(state) = loaded.aggregate.state
                && state.configuration.is_some()
            {
                return Ok(Some(state));
            }
        }
        Ok(None)
    }
}
