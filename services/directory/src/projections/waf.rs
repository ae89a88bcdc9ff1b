//! Read models of AWS WAF's resources: each region's IP sets and web ACLs by name (for
//! the lists, unique names, and the IP sets a web ACL uses), and which pools each web
//! ACL is associated with.

use portcullis_errors::ApiError;
use portcullis_proto::events::v1::{WafResourceDeleted, WafResourceWritten, WebAclAssociationSet};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::db_error;

/// Resources by `<region>/<kind>/<name>`.
pub(super) const WAF_RESOURCES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("waf_resources");
/// Associations by `<web ACL id>/<pool>`, and the web ACL of each pool by `pool/<pool>`.
pub(super) const WAF_ASSOCIATIONS: TableDefinition<&str, &str> =
    TableDefinition::new("waf_associations");

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WafEntry {
    pub id: String,
    pub name: String,
    pub description: String,
    pub lock_token: String,
    #[serde(default)]
    pub ip_set_ids: Vec<String>,
}

fn key(region: &str, kind: &str, name: &str) -> String {
    format!("{region}/{kind}/{name}")
}

pub(super) fn written(txn: &WriteTransaction, w: &WafResourceWritten) -> Result<(), redb::Error> {
    let mut table = txn.open_table(WAF_RESOURCES)?;
    let entry = WafEntry {
        id: w.id.clone(),
        name: w.name.clone(),
        description: w.description.clone(),
        lock_token: w.lock_token.clone(),
        ip_set_ids: w.ip_set_ids.clone(),
    };
    let bytes = serde_json::to_vec(&entry).unwrap_or_default();
    table.insert(key(&w.region, &w.kind, &w.name).as_str(), bytes.as_slice())?;
    Ok(())
}

pub(super) fn deleted(txn: &WriteTransaction, d: &WafResourceDeleted) -> Result<(), redb::Error> {
    let mut table = txn.open_table(WAF_RESOURCES)?;
    table.remove(key(&d.region, &d.kind, &d.name).as_str())?;
    Ok(())
}

pub(super) fn associated(
    txn: &WriteTransaction,
    set: &WebAclAssociationSet,
) -> Result<(), redb::Error> {
    let mut table = txn.open_table(WAF_ASSOCIATIONS)?;
    let pool_key = format!("pool/{}", set.pool_id);
    let previous = table.get(pool_key.as_str())?.map(|v| v.value().to_owned());
    if let Some(previous) = previous {
        table.remove(format!("{previous}/{}", set.pool_id).as_str())?;
        table.remove(pool_key.as_str())?;
    }
    if !set.web_acl_id.is_empty() {
        table.insert(format!("{}/{}", set.web_acl_id, set.pool_id).as_str(), "")?;
        table.insert(pool_key.as_str(), set.web_acl_id.as_str())?;
    }
    Ok(())
}

/// A region's resources of `kind`, by name, after `after` (exclusive).
pub(super) fn list(
    db: &Database,
    region: &str,
    kind: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<WafEntry>, ApiError> {
    let table = db
        .begin_read()
        .map_err(db_error)?
        .open_table(WAF_RESOURCES)
        .map_err(db_error)?;
    let prefix = key(region, kind, "");
    let start = after.map_or_else(|| prefix.clone(), |name| key(region, kind, name));
    let mut out = Vec::new();
    for item in table.range(start.as_str()..).map_err(db_error)? {
        let (k, v) = item.map_err(db_error)?;
        if !k.value().starts_with(&prefix) || out.len() >= limit {
            break;
        }
        if after.is_some() && k.value() == start {
            continue;
        }
        out.push(serde_json::from_slice(v.value()).map_err(db_error)?);
    }
    Ok(out)
}

/// Whether any pool is associated with the web ACL `id`.
pub(super) fn has_associations(db: &Database, id: &str) -> Result<bool, ApiError> {
    let table = db
        .begin_read()
        .map_err(db_error)?
        .open_table(WAF_ASSOCIATIONS)
        .map_err(db_error)?;
    let prefix = format!("{id}/");
    let first = table
        .range(prefix.as_str()..)
        .map_err(db_error)?
        .next()
        .transpose()
        .map_err(db_error)?;
    Ok(first.is_some_and(|(k, _)| k.value().starts_with(&prefix)))
}
