//! The broker's read model, folded from the log into a local redb file: the identity
//! pools (for ListIdentityPools) and each pool's identities (for ListIdentities), kept on
//! disk so that a pool of millions of identities is listed without holding it in RAM.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use portcullis_errors::ApiError;
use portcullis_eventlog::{EventLog, StoredRecord, projection};
use portcullis_proto::events::v1::{Batch, envelope::Payload};
use prost::Message;
use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::domain::validate::scope;

/// Identity pools by id.
const POOLS: TableDefinition<&str, &[u8]> = TableDefinition::new("identity_pools");
/// Identities by `<pool scope>/<identity id>`.
const IDENTITIES: TableDefinition<&str, &[u8]> = TableDefinition::new("identities");
/// The pool scope of each identity (its events name the identity only).
const IDENTITY_POOLS: TableDefinition<&str, &str> = TableDefinition::new("identity_pools_of");
const CURSOR_KEY: &str = "credentials";
const VERSION: u64 = 1;
/// How long a query waits for the read model to catch up before answering unavailable.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PoolEntry {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdentityEntry {
    pub id: String,
    /// Provider names of the linked logins, one entry per login.
    pub logins: Vec<String>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

#[derive(Clone)]
pub struct Projection {
    db: Arc<Database>,
    applied: projection::Applied,
}

fn db_error(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "read model failure");
    ApiError::internal()
}

impl Projection {
    pub fn start(path: &Path, log: Arc<dyn EventLog>) -> anyhow::Result<Self> {
        let (db, cursor) = projection::open_read_model(path, CURSOR_KEY, VERSION, |txn| {
            txn.open_table(POOLS)?;
            txn.open_table(IDENTITIES)?;
            txn.open_table(IDENTITY_POOLS)?;
            Ok(())
        })?;
        let store = db.clone();
        let applied = projection::spawn_redb(log, store, CURSOR_KEY, cursor, apply);
        Ok(Self { db, applied })
    }

    pub async fn wait_for(&self, position: u64) -> Result<(), ApiError> {
        self.applied
            .wait_for(position, CATCH_UP_TIMEOUT)
            .await
            .map_err(|behind| {
                tracing::warn!(position = behind.0, "read model did not catch up in time");
                ApiError::unavailable()
            })
    }

    /// Identity pools whose id starts with `<region>:`, by id, after `after`.
    pub async fn pools(
        &self,
        region: &str,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<PoolEntry>, ApiError> {
        let prefix = format!("{region}:");
        // The token is a whole pool id; keys are pool ids too.
        let after = after.map(|a| a.strip_prefix(&prefix).unwrap_or(&a).to_owned());
        self.page(POOLS, prefix, after, limit).await
    }

    /// A pool's identities by id, after `after`.
    pub async fn identities(
        &self,
        pool_id: &str,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<IdentityEntry>, ApiError> {
        self.page(IDENTITIES, format!("{}/", scope(pool_id)), after, limit)
            .await
    }

    async fn page<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        prefix: String,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<T>, ApiError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            projection::page(&db, table, &prefix, after.as_deref(), limit).map_err(db_error)
        })
        .await
        .map_err(db_error)?
    }
}

type Table<'t> = redb::Table<'t, &'static str, &'static [u8]>;

fn apply(txn: &WriteTransaction, records: &[StoredRecord]) -> Result<(), redb::Error> {
    {
        let mut pools = txn.open_table(POOLS)?;
        let mut identities = txn.open_table(IDENTITIES)?;
        let mut pools_of = txn.open_table(IDENTITY_POOLS)?;
        for record in records {
            let position = record.position;
            let Ok(batch) = Batch::decode(record.data.as_ref()) else {
                tracing::error!(position, "undecodable record skipped by read model");
                continue;
            };
            for envelope in batch.events {
                let Some(payload) = &envelope.payload else {
                    continue;
                };
                apply_pool(&mut pools, payload)?;
                if let Payload::IdentityPoolDeleted(e) = payload {
                    // A deleted pool's identities go with it.
                    let prefix = format!("{}/", scope(&e.identity_pool_id));
                    let keys: Vec<String> = identities
                        .range(prefix.as_str()..)?
                        .map_while(|item| {
                            let (key, _) = item.ok()?;
                            let key = key.value().to_owned();
                            key.starts_with(&prefix).then_some(key)
                        })
                        .collect();
                    for key in keys {
                        identities.remove(key.as_str())?;
                    }
                }
                apply_identity(&mut identities, &mut pools_of, payload, envelope.time_ms)?;
            }
        }
    }
    Ok(())
}

fn put<T: Serialize>(table: &mut Table<'_>, key: &str, value: &T) -> Result<(), redb::Error> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    table.insert(key, bytes.as_slice())?;
    Ok(())
}

fn apply_pool(pools: &mut Table<'_>, payload: &Payload) -> Result<(), redb::Error> {
    let (id, settings) = match payload {
        Payload::IdentityPoolCreated(e) => (&e.identity_pool_id, &e.settings),
        Payload::IdentityPoolUpdated(e) => (&e.identity_pool_id, &e.settings),
        Payload::IdentityPoolDeleted(e) => {
            pools.remove(e.identity_pool_id.as_str())?;
            return Ok(());
        }
        _ => return Ok(()),
    };
    let entry = PoolEntry {
        id: id.clone(),
        name: settings
            .as_ref()
            .map(|s| s.identity_pool_name.clone())
            .unwrap_or_default(),
    };
    put(pools, id, &entry)
}

fn apply_identity(
    identities: &mut Table<'_>,
    pools_of: &mut redb::Table<'_, &'static str, &'static str>,
    payload: &Payload,
    at_ms: i64,
) -> Result<(), redb::Error> {
    let (id, change): (&str, Option<(&str, bool)>) = match payload {
        Payload::IdentityCreated(e) => {
            let pool_scope = scope(&e.identity_pool_id);
            pools_of.insert(e.identity_id.as_str(), pool_scope.as_str())?;
            let entry = IdentityEntry {
                id: e.identity_id.clone(),
                logins: Vec::new(),
                created_ms: at_ms,
                modified_ms: at_ms,
            };
            return put(
                identities,
                &format!("{pool_scope}/{}", e.identity_id),
                &entry,
            );
        }
        Payload::IdentityLoginLinked(e) => (&e.identity_id, Some((&e.provider, true))),
        Payload::IdentityLoginUnlinked(e) => (&e.identity_id, Some((&e.provider, false))),
        Payload::IdentityDeleted(e) => (&e.identity_id, None),
        _ => return Ok(()),
    };
    let Some(pool_scope) = pools_of.get(id)?.map(|v| v.value().to_owned()) else {
        return Ok(());
    };
    let key = format!("{pool_scope}/{id}");
    let Some((provider, linked)) = change else {
        identities.remove(key.as_str())?;
        pools_of.remove(id)?;
        return Ok(());
    };
    let current = identities
        .get(key.as_str())?
        .and_then(|v| serde_json::from_slice::<IdentityEntry>(v.value()).ok());
    let Some(mut entry) = current else {
        return Ok(());
    };
    if linked {
        entry.logins.push(provider.to_owned());
    } else if let Some(i) = entry.logins.iter().position(|p| p == provider) {
        entry.logins.remove(i);
    }
    entry.modified_ms = at_ms;
    put(identities, &key, &entry)
}
