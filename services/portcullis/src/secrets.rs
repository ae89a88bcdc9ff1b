//! Secrets the embedded default generates on first start and keeps in the data
//! directory (mode 0600): the admin credentials and the master key.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
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

/// The configured master key, or the one in the data directory, or a new one: the
/// token service's key and the credentials broker's key derived from it.
pub fn master_key(
    data_dir: &Path,
    configured: Option<&str>,
) -> anyhow::Result<(portcullis_token::MasterKey, [u8; 32])> {
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
    keys_from_hex(&hex)
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
