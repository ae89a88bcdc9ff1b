//! Read models of a pool's hosted-UI configuration: domains by host name (resolved on
//! every hosted-UI request), resource servers by `<pool>/<identifier>`, and UI
//! customizations by `<pool>/<client id or ALL>` with their logos kept apart, so a page
//! that only needs the CSS does not read the image.

use std::sync::Arc;

use portcullis_errors::ApiError;
use portcullis_proto::events::v1::{
    ManagedLoginBrandingSet, ResourceServerCreated, ResourceServerScope, ResourceServerUpdated,
    UserPoolDomainCreated, UserPoolDomainUpdated, envelope::Payload,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Table, db_error, pool_key};
use crate::domain::resource_server::ResourceServerState;
use crate::domain::ui_customization::UiCustomizationState;

/// Domains by lower-case name.
pub(super) const DOMAINS: TableDefinition<&str, &[u8]> = TableDefinition::new("domains");
/// Resource servers by `<pool>/<identifier>`.
pub(super) const RESOURCE_SERVERS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("resource_servers");
/// UI customizations (without the logo) by `<pool>/<client id or ALL>`.
pub(super) const UI_CUSTOMIZATIONS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("ui_customizations");
/// Logos by the same key.
pub(super) const UI_IMAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("ui_images");

/// The client of each managed login branding, by `<pool>/<branding id>`.
pub(super) const BRANDINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("brandings");

pub(super) const TABLES: [TableDefinition<&str, &[u8]>; 5] = [
    DOMAINS,
    RESOURCE_SERVERS,
    UI_CUSTOMIZATIONS,
    UI_IMAGES,
    BRANDINGS,
];

/// A domain and the pool it serves.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DomainEntry {
    pub pool_id: String,
    pub domain: String,
    pub custom: bool,
    pub managed_login_version: i32,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ServerEntry {
    pool_id: String,
    identifier: String,
    name: String,
    /// (name, description)
    scopes: Vec<(String, String)>,
}

impl From<ServerEntry> for ResourceServerState {
    fn from(entry: ServerEntry) -> Self {
        Self {
            pool_id: entry.pool_id,
            identifier: entry.identifier,
            name: entry.name,
            scopes: entry
                .scopes
                .into_iter()
                .map(|(scope_name, scope_description)| ResourceServerScope {
                    scope_name,
                    scope_description,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct UiEntry {
    pool_id: String,
    client_id: String,
    css: String,
    image_type: String,
    version: u64,
    created_ms: i64,
    modified_ms: i64,
}

/// Folds one event into the configuration read models.
pub(super) fn apply(
    txn: &WriteTransaction,
    payload: &Payload,
    at_ms: i64,
) -> Result<(), redb::Error> {
    match payload {
        Payload::UserPoolDomainCreated(UserPoolDomainCreated {
            domain: Some(domain),
        })
        | Payload::UserPoolDomainUpdated(UserPoolDomainUpdated {
            domain: Some(domain),
        }) => {
            let entry = DomainEntry {
                pool_id: domain.pool_id.clone(),
                domain: domain.domain.clone(),
                custom: domain.custom,
                managed_login_version: domain.managed_login_version,
            };
            let key = domain.domain.to_ascii_lowercase();
            txn.open_table(DOMAINS)?
                .insert(key.as_str(), json(&entry).as_slice())?;
        }
        Payload::UserPoolDomainDeleted(e) => {
            txn.open_table(DOMAINS)?
                .remove(e.domain.to_ascii_lowercase().as_str())?;
        }
        Payload::ResourceServerCreated(ResourceServerCreated {
            pool_id,
            identifier,
            name,
            scopes,
        })
        | Payload::ResourceServerUpdated(ResourceServerUpdated {
            pool_id,
            identifier,
            name,
            scopes,
        }) => {
            let entry = ServerEntry {
                pool_id: pool_id.clone(),
                identifier: identifier.clone(),
                name: name.clone(),
                scopes: scopes
                    .iter()
                    .map(|s| (s.scope_name.clone(), s.scope_description.clone()))
                    .collect(),
            };
            let key = pool_key(pool_id, identifier);
            txn.open_table(RESOURCE_SERVERS)?
                .insert(key.as_str(), json(&entry).as_slice())?;
        }
        Payload::ResourceServerDeleted(e) => {
            txn.open_table(RESOURCE_SERVERS)?
                .remove(pool_key(&e.pool_id, &e.identifier).as_str())?;
        }
        Payload::UiCustomizationSet(e) => {
            let key = pool_key(&e.pool_id, &e.client_id);
            let mut table: Table<'_> = txn.open_table(UI_CUSTOMIZATIONS)?;
            let previous = table
                .get(key.as_str())?
                .and_then(|v| serde_json::from_slice::<UiEntry>(v.value()).ok());
            let entry = UiEntry {
                pool_id: e.pool_id.clone(),
                client_id: e.client_id.clone(),
                css: e.css.clone(),
                image_type: e.image_type.clone(),
                version: previous.as_ref().map_or(1, |p| p.version + 1),
                created_ms: previous.as_ref().map_or(at_ms, |p| p.created_ms),
                modified_ms: at_ms,
            };
            table.insert(key.as_str(), json(&entry).as_slice())?;
            let mut images = txn.open_table(UI_IMAGES)?;
            if e.image.is_empty() {
                images.remove(key.as_str())?;
            } else {
                images.insert(key.as_str(), e.image.as_slice())?;
            }
        }
        Payload::ManagedLoginBrandingSet(ManagedLoginBrandingSet { branding: Some(b) }) => {
            let key = pool_key(&b.pool_id, &b.branding_id);
            txn.open_table(BRANDINGS)?
                .insert(key.as_str(), b.client_id.as_bytes())?;
        }
        Payload::ManagedLoginBrandingDeleted(e) => {
            txn.open_table(BRANDINGS)?
                .remove(pool_key(&e.pool_id, &e.branding_id).as_str())?;
        }
        _ => {}
    }
    Ok(())
}

/// The client whose branding `key` (`<pool>/<branding id>`) is.
pub(super) fn branding_client(db: &Arc<Database>, key: &str) -> Result<Option<String>, ApiError> {
    read(db, BRANDINGS, key, |bytes| {
        String::from_utf8(bytes.to_vec()).ok()
    })
}

/// An entry's JSON; a failure (never expected for these types) stores an empty value
/// that reads back as absent.
fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn read<T>(
    db: &Arc<Database>,
    table: TableDefinition<'static, &'static str, &'static [u8]>,
    key: &str,
    decode: impl FnOnce(&[u8]) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    let table = db
        .begin_read()
        .map_err(db_error)?
        .open_table(table)
        .map_err(db_error)?;
    Ok(table
        .get(key)
        .map_err(db_error)?
        .and_then(|v| decode(v.value())))
}

/// The domain named `host`, or the prefix domain of its first label.
pub(super) fn resolve_domain(
    db: &Arc<Database>,
    host: &str,
) -> Result<Option<DomainEntry>, ApiError> {
    let decode = |bytes: &[u8]| serde_json::from_slice::<DomainEntry>(bytes).ok();
    if let Some(found) = read(db, DOMAINS, host, decode)? {
        return Ok(Some(found));
    }
    let Some((first, _)) = host.split_once('.') else {
        return Ok(None);
    };
    Ok(read(db, DOMAINS, first, decode)?.filter(|d| !d.custom))
}

pub(super) fn ui_customization(
    db: &Arc<Database>,
    key: &str,
    with_image: bool,
) -> Result<Option<UiCustomizationState>, ApiError> {
    let decode = |bytes: &[u8]| serde_json::from_slice::<UiEntry>(bytes).ok();
    let Some(entry) = read(db, UI_CUSTOMIZATIONS, key, decode)? else {
        return Ok(None);
    };
    let image = if with_image && !entry.image_type.is_empty() {
        read(db, UI_IMAGES, key, |bytes| Some(bytes.to_vec()))?.unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(Some(UiCustomizationState {
        pool_id: entry.pool_id,
        client_id: entry.client_id,
        css: entry.css,
        image,
        image_type: entry.image_type,
        version: entry.version,
        created_ms: entry.created_ms,
        modified_ms: entry.modified_ms,
    }))
}
