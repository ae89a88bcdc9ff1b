//! Threat protection's risk configuration: a pool's (`ALL`) and each app client's, the
//! client's falling back to the pool's.

use portcullis_errors::ApiError;
use portcullis_proto::events::v1::RiskConfiguration;

use super::{AggregateStore, CommandMeta, Directory};
use crate::domain::risk_configuration::{
    self as risk, RiskConfigurationAggregate, RiskState, SetRisk,
};

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
        risk::require_add_on_in(&pool.settings)?;
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
