//! Read models folded from the log into a local redb file: the list of pools, user
//! counts per pool, each pool's app clients and groups, and the users with their filter
//! index (`users.rs`). The cursor (last applied log position) is written in the same
//! transaction as the read-model change, so a restart resumes exactly where it left off
//! and never applies a record twice or skips one.
//!
//! Every replica keeps its own copy. A replica that just wrote waits for its projection
//! to reach its append's position; a query that must see other replicas' writes first
//! reads the log's last position and waits for that.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use portcullis_errors::ApiError;
use portcullis_eventlog::projection;
use portcullis_eventlog::{EventLog, StoredRecord};
use portcullis_proto::events::v1::{Batch, envelope::Payload};
use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

mod auth_events;
mod config;
mod users;
mod waf;
pub use auth_events::RETENTION_MS as AUTH_EVENT_RETENTION_MS;
pub use config::DomainEntry;
pub use users::{UserFilter, UserPage};
pub use waf::WafEntry;

const POOLS: TableDefinition<&str, &[u8]> = TableDefinition::new("pools");
const USER_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("user_counts");
/// App clients by `<pool>/<client id>`.
const CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("clients");
/// Groups by `<pool>/<group name>`.
const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("groups");
/// User import jobs by `<pool>/<creation time, 16 digits>/<job id>`, in creation order.
const IMPORT_JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("import_jobs");
const CURSOR_KEY: &str = "directory";
/// The read models' layout; a file with another version is rebuilt from the log.
const VERSION: u64 = 6;
/// How long a query waits for the projection to catch up before answering unavailable.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PoolSummary {
    pub id: String,
    pub name: String,
    pub created_ms: i64,
    pub modified_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientSummary {
    pub pool_id: String,
    pub client_id: String,
    pub name: String,
}

/// A user import job of a pool; its state is the job aggregate's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportJobEntry {
    pub pool_id: String,
    pub job_id: String,
    /// The key after `<pool>/`: the pagination token of the next page.
    pub sort_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupSummary {
    pub pool_id: String,
    pub name: String,
    pub description: String,
    pub role_arn: String,
    pub precedence: Option<u32>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

fn pool_key(pool_id: &str, id: &str) -> String {
    format!("{pool_id}/{id}")
}

#[derive(Clone)]
pub struct Projection {
    db: Arc<Database>,
    applied: projection::Applied,
}

fn db_error(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "projection store failure");
    ApiError::internal()
}

impl Projection {
    /// Opens (or creates) the read model at `path` and starts folding the log into it
    /// from its cursor on.
    pub fn start(path: &Path, log: Arc<dyn EventLog>) -> anyhow::Result<Self> {
        let (db, cursor) = projection::open_read_model(path, CURSOR_KEY, VERSION, |txn| {
            for table in config::TABLES {
                txn.open_table(table)?;
            }
            txn.open_table(POOLS)?;
            txn.open_table(USER_COUNTS)?;
            txn.open_table(users::USERS)?;
            txn.open_table(users::USER_INDEX)?;
            txn.open_table(CLIENTS)?;
            txn.open_table(GROUPS)?;
            txn.open_table(IMPORT_JOBS)?;
            txn.open_table(auth_events::AUTH_EVENTS)?;
            txn.open_table(auth_events::AUTH_EVENT_IDS)?;
            txn.open_table(waf::WAF_RESOURCES)?;
            txn.open_table(waf::WAF_ASSOCIATIONS)?;
            Ok(())
        })?;
        let store = db.clone();
        let applied = projection::spawn_redb(log, store, CURSOR_KEY, cursor, apply);
        Ok(Self { db, applied })
    }

    /// Waits until every record up to `position` is applied.
    pub async fn wait_for(&self, position: u64) -> Result<(), ApiError> {
        self.applied
            .wait_for(position, CATCH_UP_TIMEOUT)
            .await
            .map_err(|behind| {
                tracing::warn!(position = behind.0, "projection did not catch up in time");
                ApiError::unavailable()
            })
    }

    /// Pools whose id starts with `<region>_`, ordered by id, after `after` (exclusive).
    pub async fn pools(
        &self,
        region: &str,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<PoolSummary>, ApiError> {
        let db = self.db.clone();
        let prefix = format!("{region}_");
        tokio::task::spawn_blocking(move || {
            let table = db
                .begin_read()
                .map_err(db_error)?
                .open_table(POOLS)
                .map_err(db_error)?;
            let start = after.unwrap_or_else(|| prefix.clone());
            let mut out = Vec::new();
            for item in table.range(start.as_str()..).map_err(db_error)? {
                let (key, value) = item.map_err(db_error)?;
                if !key.value().starts_with(&prefix) || out.len() >= limit {
                    break;
                }
                if key.value() == start {
                    continue;
                }
                out.push(serde_json::from_slice(value.value()).map_err(db_error)?);
            }
            Ok(out)
        })
        .await
        .map_err(db_error)?
    }

    /// A page of a pool's users matching `filter`, after the pagination token.
    pub async fn users(
        &self,
        pool_id: &str,
        filter: &UserFilter,
        limit: usize,
        token: Option<String>,
    ) -> Result<UserPage, ApiError> {
        let (db, pool_id, filter) = (self.db.clone(), pool_id.to_owned(), filter.clone());
        tokio::task::spawn_blocking(move || users::page(&db, &pool_id, &filter, limit, token))
            .await
            .map_err(db_error)?
    }

    /// A pool's app clients ordered by id, after `after` (exclusive).
    pub async fn clients(
        &self,
        pool_id: &str,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<ClientSummary>, ApiError> {
        self.in_pool(CLIENTS, pool_id, after, limit).await
    }

    /// A pool's groups ordered by name, after `after` (exclusive).
    pub async fn groups(
        &self,
        pool_id: &str,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<GroupSummary>, ApiError> {
        self.in_pool(GROUPS, pool_id, after, limit).await
    }

    /// A pool's resource servers ordered by identifier, after `after` (exclusive).
    pub async fn resource_servers(
        &self,
        pool_id: &str,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<crate::domain::resource_server::ResourceServerState>, ApiError> {
        let entries: Vec<config::ServerEntry> = self
            .in_pool(config::RESOURCE_SERVERS, pool_id, after, limit)
            .await?;
        Ok(entries.into_iter().map(Into::into).collect())
    }

    /// The domain serving `host` (lower case), as this replica has applied the log.
    ///
    /// One key read, done on the calling thread: every hosted page and token request
    /// asks it, and a redb read costs less than the blocking pool's two thread
    /// hand-offs (see `EmbeddedStore::read_now`).
    pub async fn resolve_domain(&self, host: &str) -> Result<Option<DomainEntry>, ApiError> {
        config::resolve_domain(&self.db, host)
    }

    /// The app client a managed login branding belongs to.
    pub async fn branding_client(
        &self,
        pool_id: &str,
        branding_id: &str,
    ) -> Result<Option<String>, ApiError> {
        let (db, key) = (self.db.clone(), pool_key(pool_id, branding_id));
        tokio::task::spawn_blocking(move || config::branding_client(&db, &key))
            .await
            .map_err(db_error)?
    }

    /// The UI customization of `<pool>/<client id or ALL>`, with its logo if asked.
    pub async fn ui_customization(
        &self,
        pool_id: &str,
        client_id: &str,
        with_image: bool,
    ) -> Result<Option<crate::domain::ui_customization::UiCustomizationState>, ApiError> {
        let (db, key) = (self.db.clone(), pool_key(pool_id, client_id));
        tokio::task::spawn_blocking(move || config::ui_customization(&db, &key, with_image))
            .await
            .map_err(db_error)?
    }

    /// A pool's user import jobs in creation order, after `after` (exclusive).
    pub async fn import_jobs(
        &self,
        pool_id: &str,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<ImportJobEntry>, ApiError> {
        self.in_pool(IMPORT_JOBS, pool_id, after, limit).await
    }

    /// Every user import job of every pool.
    pub async fn all_import_jobs(&self) -> Result<Vec<ImportJobEntry>, ApiError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let table = db
                .begin_read()
                .map_err(db_error)?
                .open_table(IMPORT_JOBS)
                .map_err(db_error)?;
            let mut out = Vec::new();
            for item in table.iter().map_err(db_error)? {
                let (_, value) = item.map_err(db_error)?;
                out.push(serde_json::from_slice(value.value()).map_err(db_error)?);
            }
            Ok(out)
        })
        .await
        .map_err(db_error)?
    }

    async fn in_pool<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        pool_id: &str,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<T>, ApiError> {
        let db = self.db.clone();
        let prefix = pool_key(pool_id, "");
        tokio::task::spawn_blocking(move || {
            projection::page(&db, table, &prefix, after.as_deref(), limit).map_err(db_error)
        })
        .await
        .map_err(db_error)?
    }

    /// A page of the user's auth events, newest first, and the next page's token.
    pub async fn auth_events(
        &self,
        pool_id: &str,
        sub: &str,
        limit: usize,
        token: Option<String>,
        now_ms: i64,
    ) -> Result<
        (
            Vec<portcullis_proto::directory::v1::AuthEvent>,
            Option<String>,
        ),
        ApiError,
    > {
        let (db, pool_id, sub) = (self.db.clone(), pool_id.to_owned(), sub.to_owned());
        tokio::task::spawn_blocking(move || {
            auth_events::page(&db, &pool_id, &sub, limit, token.as_deref(), now_ms)
        })
        .await
        .map_err(db_error)?
    }

    /// One of the user's auth events, with the SHA-256 (hex) of its feedback token.
    pub async fn auth_event(
        &self,
        pool_id: &str,
        sub: &str,
        event_id: &str,
    ) -> Result<Option<(portcullis_proto::directory::v1::AuthEvent, String)>, ApiError> {
        let (db, pool_id, sub, event_id) = (
            self.db.clone(),
            pool_id.to_owned(),
            sub.to_owned(),
            event_id.to_owned(),
        );
        tokio::task::spawn_blocking(move || auth_events::get(&db, &pool_id, &sub, &event_id))
            .await
            .map_err(db_error)?
    }

    /// A region's IP sets or web ACLs by name, after `after` (exclusive).
    pub async fn waf_resources(
        &self,
        region: &str,
        kind: &str,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<WafEntry>, ApiError> {
        let (db, region, kind) = (self.db.clone(), region.to_owned(), kind.to_owned());
        tokio::task::spawn_blocking(move || waf::list(&db, &region, &kind, after.as_deref(), limit))
            .await
            .map_err(db_error)?
    }

    /// Whether a pool is associated with the web ACL `id`.
    pub async fn web_acl_in_use(&self, id: &str) -> Result<bool, ApiError> {
        let (db, id) = (self.db.clone(), id.to_owned());
        tokio::task::spawn_blocking(move || waf::has_associations(&db, &id))
            .await
            .map_err(db_error)?
    }

    pub async fn user_count(&self, pool_id: &str) -> Result<u64, ApiError> {
        let db = self.db.clone();
        let pool_id = pool_id.to_owned();
        tokio::task::spawn_blocking(move || {
            let table = db
                .begin_read()
                .map_err(db_error)?
                .open_table(USER_COUNTS)
                .map_err(db_error)?;
            Ok(table
                .get(pool_id.as_str())
                .map_err(db_error)?
                .map_or(0, |v| v.value()))
        })
        .await
        .map_err(db_error)?
    }
}

/// Records a change to a listed pool: its modification time and perhaps a new name.
fn touch_pool(
    pools: &mut redb::Table<&str, &[u8]>,
    pool_id: &str,
    name: Option<String>,
    at_ms: i64,
) -> Result<(), redb::Error> {
    let current = pools
        .get(pool_id)?
        .and_then(|v| serde_json::from_slice::<PoolSummary>(v.value()).ok());
    let Some(mut summary) = current else {
        return Ok(());
    };
    if let Some(name) = name {
        summary.name = name;
    }
    summary.modified_ms = at_ms;
    let bytes = serde_json::to_vec(&summary).unwrap_or_default();
    pools.insert(pool_id, bytes.as_slice())?;
    Ok(())
}

/// Applies records in one transaction with the cursor; returns the new cursor.
#[tracing::instrument(name = "projection_batch", skip_all, fields(records = records.len()))]
fn apply(txn: &WriteTransaction, records: &[StoredRecord]) -> Result<(), redb::Error> {
    {
        let mut pools = txn.open_table(POOLS)?;
        let mut counts = txn.open_table(USER_COUNTS)?;
        let mut user_rows = txn.open_table(users::USERS)?;
        let mut user_index = txn.open_table(users::USER_INDEX)?;
        let mut clients = txn.open_table(CLIENTS)?;
        let mut groups = txn.open_table(GROUPS)?;
        let mut import_jobs = txn.open_table(IMPORT_JOBS)?;
        let mut changed = users::Changed::default();
        for record in records {
            let position = record.position;
            let Ok(batch) = Batch::decode(record.data.as_ref()) else {
                tracing::error!(position, "undecodable record skipped by projection");
                continue;
            };
            for envelope in batch.events {
                if let (Some(payload), Some((pool_id, sub))) =
                    (&envelope.payload, user_stream(&envelope.stream))
                {
                    if matches!(payload, Payload::UserDeleted(_)) {
                        auth_events::forget_user(txn, pool_id, sub)?;
                    }
                    changed.apply(&user_rows, pool_id, sub, payload, envelope.time_ms)?;
                    continue;
                }
                if let Some((pool_id, record_id)) = auth_event_stream(&envelope.stream) {
                    match &envelope.payload {
                        Some(Payload::UserAuthEventRecorded(recorded)) => {
                            auth_events::record(
                                txn,
                                pool_id,
                                record_id,
                                recorded,
                                envelope.time_ms,
                            )?;
                        }
                        Some(Payload::UserAuthEventFeedbackGiven(given)) => {
                            auth_events::feedback(txn, pool_id, given, envelope.time_ms)?;
                        }
                        _ => {}
                    }
                    continue;
                }
                match envelope.payload {
                    Some(Payload::UserPoolCreated(created)) => {
                        let summary = PoolSummary {
                            id: created.pool_id.clone(),
                            name: created.settings.map(|s| s.pool_name).unwrap_or_default(),
                            created_ms: envelope.time_ms,
                            modified_ms: envelope.time_ms,
                        };
                        let bytes = serde_json::to_vec(&summary).unwrap_or_default();
                        pools.insert(created.pool_id.as_str(), bytes.as_slice())?;
                    }
                    Some(Payload::UserPoolUpdated(updated)) => {
                        let id = updated.pool_id.as_str();
                        let name = updated.settings.map(|s| s.pool_name);
                        touch_pool(&mut pools, id, name, envelope.time_ms)?;
                    }
                    Some(Payload::CustomAttributesAdded(added)) => {
                        touch_pool(&mut pools, &added.pool_id, None, envelope.time_ms)?;
                    }
                    Some(Payload::UserImportJobCreated(created)) => {
                        let sort_key = format!("{:016}/{}", envelope.time_ms, created.job_id);
                        let entry = ImportJobEntry {
                            pool_id: created.pool_id.clone(),
                            job_id: created.job_id,
                            sort_key: sort_key.clone(),
                        };
                        let bytes = serde_json::to_vec(&entry).unwrap_or_default();
                        let key = pool_key(&created.pool_id, &sort_key);
                        import_jobs.insert(key.as_str(), bytes.as_slice())?;
                    }
                    Some(Payload::UserPoolDeleted(deleted)) => {
                        // The pool's users counted before its count goes.
                        changed.write(&mut user_rows, &mut user_index, &mut counts)?;
                        pools.remove(deleted.pool_id.as_str())?;
                        counts.remove(deleted.pool_id.as_str())?;
                        auth_events::forget_pool(txn, &deleted.pool_id)?;
                        let none = portcullis_proto::events::v1::WebAclAssociationSet {
                            pool_id: deleted.pool_id.clone(),
                            ..Default::default()
                        };
                        waf::associated(txn, &none)?;
                    }
                    Some(Payload::WafResourceWritten(written)) => waf::written(txn, &written)?,
                    Some(Payload::WafResourceDeleted(deleted)) => waf::deleted(txn, &deleted)?,
                    Some(Payload::WebAclAssociationSet(set)) => waf::associated(txn, &set)?,
                    Some(payload) => {
                        apply_client(&mut clients, &payload)?;
                        apply_group(&mut groups, &payload, envelope.time_ms)?;
                        config::apply(txn, &payload, envelope.time_ms)?;
                    }
                    None => {}
                }
            }
        }
        changed.write(&mut user_rows, &mut user_index, &mut counts)?;
    }
    Ok(())
}

/// `(pool, sub)` of a user stream id (`<pool>/user/<sub>`).
fn user_stream(stream: &str) -> Option<(&str, &str)> {
    let mut parts = stream.splitn(3, '/');
    let (pool, kind, id) = (parts.next()?, parts.next()?, parts.next()?);
    (kind == "user").then_some((pool, id))
}

/// `(pool, record id)` of an auth event record's stream id (`<pool>/authevent/<id>`).
fn auth_event_stream(stream: &str) -> Option<(&str, &str)> {
    let mut parts = stream.splitn(3, '/');
    let (pool, kind, id) = (parts.next()?, parts.next()?, parts.next()?);
    (kind == "authevent").then_some((pool, id))
}

type Table<'t> = redb::Table<'t, &'static str, &'static [u8]>;

fn apply_client(clients: &mut Table<'_>, payload: &Payload) -> Result<(), redb::Error> {
    let (pool_id, client_id, settings) = match payload {
        Payload::UserPoolClientCreated(e) => (&e.pool_id, &e.client_id, &e.settings),
        Payload::UserPoolClientUpdated(e) => (&e.pool_id, &e.client_id, &e.settings),
        Payload::UserPoolClientDeleted(e) => {
            clients.remove(pool_key(&e.pool_id, &e.client_id).as_str())?;
            return Ok(());
        }
        _ => return Ok(()),
    };
    let summary = ClientSummary {
        pool_id: pool_id.clone(),
        client_id: client_id.clone(),
        name: settings
            .as_ref()
            .map(|s| s.client_name.clone())
            .unwrap_or_default(),
    };
    let bytes = serde_json::to_vec(&summary).unwrap_or_default();
    clients.insert(pool_key(pool_id, client_id).as_str(), bytes.as_slice())?;
    Ok(())
}

fn apply_group(groups: &mut Table<'_>, payload: &Payload, at_ms: i64) -> Result<(), redb::Error> {
    let summary = match payload {
        Payload::GroupCreated(e) => GroupSummary {
            pool_id: e.pool_id.clone(),
            name: e.group_name.clone(),
            description: e.description.clone(),
            role_arn: e.role_arn.clone(),
            precedence: e.precedence,
            created_ms: at_ms,
            modified_ms: at_ms,
        },
        Payload::GroupUpdated(e) => {
            let key = pool_key(&e.pool_id, &e.group_name);
            let created_ms = groups
                .get(key.as_str())?
                .and_then(|v| serde_json::from_slice::<GroupSummary>(v.value()).ok())
                .map_or(at_ms, |g| g.created_ms);
            GroupSummary {
                pool_id: e.pool_id.clone(),
                name: e.group_name.clone(),
                description: e.description.clone(),
                role_arn: e.role_arn.clone(),
                precedence: e.precedence,
                created_ms,
                modified_ms: at_ms,
            }
        }
        Payload::GroupDeleted(e) => {
            groups.remove(pool_key(&e.pool_id, &e.group_name).as_str())?;
            return Ok(());
        }
        _ => return Ok(()),
    };
    let bytes = serde_json::to_vec(&summary).unwrap_or_default();
    groups.insert(
        pool_key(&summary.pool_id, &summary.name).as_str(),
        bytes.as_slice(),
    )?;
    Ok(())
}
