//! Secrets the embedded default generates on first start and keeps in the data
//! directory (mode 0600): the admin credentials and the master key; and the modes of
//! the data directory itself, which holds them and every store.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use portcullis_eventlog::KeyValue;
use portcullis_eventlog::sealed::{SealedBucket, SealingKey};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone)]
pub struct AdminCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

fn random_string(alphabet: &[u8], len: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no randomness available"))?;
    Ok(bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect())
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// The configured credentials, or the ones stored in the data directory, or new ones
/// (stored, and returned with `true` so the caller prints them once).
pub fn admin_credentials(
    data_dir: &Path,
    configured: Option<(String, String)>,
) -> anyhow::Result<(AdminCredentials, bool)> {
    if let Some((access_key_id, secret_access_key)) = configured {
        return Ok((
            AdminCredentials {
                access_key_id,
                secret_access_key,
            },
            false,
        ));
    }
    let path = data_dir.join("admin-credentials.json");
    if path.exists() {
        let stored: AdminCredentials =
            serde_json::from_slice(&fs::read(&path)?).context("reading admin credentials")?;
        return Ok((stored, false));
    }
    let credentials = AdminCredentials {
        access_key_id: format!(
            "PCAK{}",
            random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)?
        ),
        secret_access_key: random_string(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            40,
        )?,
    };
    write_private(&path, &serde_json::to_vec_pretty(&credentials)?)?;
    Ok((credentials, true))
}

/// The configured master key, or the one in the data directory, or a new one (hex);
/// every other key is derived from it.
pub fn master_key(data_dir: &Path, configured: Option<&str>) -> anyhow::Result<String> {
    let hex = match configured {
        Some(hex) => hex.to_owned(),
        None => {
            let path = data_dir.join("master.key");
            if !path.exists() {
                let mut bytes = [0u8; 32];
                aws_lc_rs::rand::fill(&mut bytes)
                    .map_err(|_| anyhow::anyhow!("no randomness available"))?;
                write_private(&path, hex::encode(bytes).as_bytes())?;
            }
            fs::read_to_string(&path)?.trim().to_owned()
        }
    };
    Ok(hex)
}

/// The token service's master key and the credentials broker's key (an HMAC of a label
/// under the master key, so neither key is used for the other's purpose).
pub fn keys_from_hex(hex: &str) -> anyhow::Result<(portcullis_token::MasterKey, [u8; 32])> {
    let master = portcullis_token::MasterKey::from_hex(hex)
        .map_err(|e| anyhow::anyhow!("master key: {e}"))?;
    let raw = hex::decode(hex).map_err(|e| anyhow::anyhow!("master key: {e}"))?;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &raw);
    let tag = aws_lc_rs::hmac::sign(&key, b"portcullis credentials-broker key");
    let mut derived = [0u8; 32];
    derived.copy_from_slice(tag.as_ref());
    Ok((master, derived))
}

/// The directory's app-client secrets bucket ("client-secrets"), authn-flow's
/// credential store ("credentials": password hashes, SRP verifiers, TOTP secrets) and
/// the password hashes imported with users ("imported-passwords"), sealed under keys
/// derived from the master key for each purpose.
pub fn sealed(
    bucket: Arc<dyn KeyValue>,
    master_hex: &str,
    purpose: &str,
) -> anyhow::Result<Arc<dyn KeyValue>> {
    let raw = hex::decode(master_hex.trim()).map_err(|e| anyhow::anyhow!("master key: {e}"))?;
    anyhow::ensure!(
        raw.len() == 32,
        "master key must be 32 bytes (64 hex digits)"
    );
    let key = SealingKey::derive(&raw, purpose)?;
    Ok(SealedBucket::wrap(bucket, key))
}

/// Creates the data directory owner-only (0700) and makes everything already in it
/// owner-only (directories 0700, files 0600), warning with the path and the old mode
/// for each one it had to fix: the stores hold password hashes and SRP verifiers, the
/// directory the master key.
pub fn secure_data_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    restrict(dir)
}

#[cfg(unix)]
fn restrict(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // Not following links: a link's target may be outside the data directory.
    let meta = fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode() & 0o7777;
    // Only what others may do is taken away: a file its owner made read-only stays so.
    let wanted = mode & 0o700;
    if mode != wanted {
        tracing::warn!(
            path = %path.display(),
            old_mode = %format!("{mode:o}"),
            new_mode = %format!("{wanted:o}"),
            "data directory entry was accessible to others; restricting it to its owner"
        );
        fs::set_permissions(path, fs::Permissions::from_mode(wanted))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
            restrict(&entry?.path())?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn the_data_directory_is_made_owner_only_and_read_only_files_stay_so() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        secure_data_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700, "a new data directory");
        fs::create_dir(dir.join("sub")).unwrap();
        for (name, old) in [("a.redb", 0o644), ("sub/b", 0o666), ("key", 0o400)] {
            fs::write(dir.join(name), "x").unwrap();
            fs::set_permissions(dir.join(name), fs::Permissions::from_mode(old)).unwrap();
        }
        for path in [&dir, &dir.join("sub")] {
            fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        secure_data_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("sub")), 0o700);
        assert_eq!(mode(&dir.join("a.redb")), 0o600);
        assert_eq!(mode(&dir.join("sub/b")), 0o600);
        assert_eq!(mode(&dir.join("key")), 0o400);
    }

    #[test]
    fn stores_are_sealed_under_a_32_byte_master_key_only() {
        let store_dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let store = runtime
            .block_on(portcullis_eventlog::embedded::EmbeddedStore::open(
                &store_dir.path().join("s.redb"),
            ))
            .unwrap();
        assert!(sealed(store.bucket("b"), "abcd", "b").is_err());
        assert!(sealed(store.bucket("b"), &"ab".repeat(32), "b").is_ok());
    }
}
