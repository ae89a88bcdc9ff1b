//! Every role and provider of the account, in memory, folded from the log with the
//! aggregates' own `evolve`: what the listings read.
//!
//! IAM's entities are few (an account has at most 1000 roles), so the index is rebuilt
//! from the log when the process starts rather than kept on disk. Lists wait until it has
//! applied the log's last position, so they see every write acknowledged before them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use portcullis_aggregate::{Aggregate, log_error};
use portcullis_errors::ApiError;
use portcullis_eventlog::projection::{self, Applied};
use portcullis_eventlog::{EventLog, StoredRecord};
use portcullis_proto::events::v1::Batch;
use prost::Message;

use super::SCOPE;
use super::providers::{OidcProvider, OidcProviderState, SamlProvider, SamlProviderState};
use super::role::{Role, RoleState};

/// How long a list waits for the index to catch up with the log.
const CATCH_UP: Duration = Duration::from_secs(5);

/// The aggregates of the `iam` scope by stream id.
#[derive(Default)]
pub struct Catalog {
    roles: BTreeMap<String, Role>,
    oidc: BTreeMap<String, OidcProvider>,
    saml: BTreeMap<String, SamlProvider>,
}

impl Catalog {
    fn fold<A: Aggregate>(map: &mut BTreeMap<String, A>, key: String, batch: &Batch) {
        let aggregate = map.entry(key.clone()).or_default();
        for envelope in &batch.events {
            if let Some(event) = &envelope.payload {
                aggregate.evolve(event, envelope.time_ms);
            }
        }
    }

    /// Applies records of any stream; those outside the `iam` scope are skipped.
    pub fn apply(&mut self, record: &StoredRecord) {
        if record.stream.scope() != SCOPE {
            return;
        }
        let batch = match Batch::decode(record.data.as_ref()) {
            Ok(batch) => batch,
            Err(err) => {
                tracing::error!(position = record.position, error = %err, "undecodable iam record skipped");
                return;
            }
        };
        let key = record.stream.to_string();
        match record.stream.kind() {
            Role::KIND => Self::fold(&mut self.roles, key, &batch),
            OidcProvider::KIND => Self::fold(&mut self.oidc, key, &batch),
            SamlProvider::KIND => Self::fold(&mut self.saml, key, &batch),
            _ => {}
        }
    }

    /// Live roles, ordered by name without regard to case.
    pub fn roles(&self) -> Vec<RoleState> {
        let mut roles: Vec<RoleState> = self
            .roles
            .values()
            .filter_map(|r| r.state.clone())
            .collect();
        roles.sort_by_key(|r| r.name.to_lowercase());
        roles
    }

    pub fn oidc_providers(&self) -> Vec<OidcProviderState> {
        let mut all: Vec<_> = self.oidc.values().filter_map(|p| p.state.clone()).collect();
        all.sort_by(|a, b| a.arn.cmp(&b.arn));
        all
    }

    pub fn saml_providers(&self) -> Vec<SamlProviderState> {
        let mut all: Vec<_> = self.saml.values().filter_map(|p| p.state.clone()).collect();
        all.sort_by(|a, b| a.arn.cmp(&b.arn));
        all
    }
}

pub struct Index {
    log: Arc<dyn EventLog>,
    catalog: Arc<Mutex<Catalog>>,
    applied: Applied,
}

impl Index {
    /// Follows the log from its start. Needs a Tokio runtime.
    pub fn start(log: Arc<dyn EventLog>) -> Self {
        let catalog = Arc::new(Mutex::new(Catalog::default()));
        let target = catalog.clone();
        let applied = projection::spawn(log.clone(), 0, move |records: &[StoredRecord]| {
            let mut catalog = target.lock().unwrap_or_else(PoisonError::into_inner);
            for record in records {
                catalog.apply(record);
            }
            Ok::<u64, std::convert::Infallible>(records.last().map_or(0, |r| r.position))
        });
        Self {
            log,
            catalog,
            applied,
        }
    }

    /// Reads the catalog once it holds every write acknowledged before the call.
    pub async fn read<T>(&self, read: impl FnOnce(&Catalog) -> T) -> Result<T, ApiError> {
        let last = self.log.last_position().await.map_err(log_error)?;
        self.applied.wait_for(last, CATCH_UP).await.map_err(|err| {
            tracing::warn!(error = %err, "iam index behind the log");
            ApiError::unavailable()
        })?;
        let catalog = self.catalog.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(read(&catalog))
    }
}
