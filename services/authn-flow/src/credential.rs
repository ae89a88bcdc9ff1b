//! What the credential store keeps per user: the current password's argon2id hash and,
//! for `PasswordHistorySize`, the hashes of earlier passwords (newest first). Stored as
//! JSON; a bare PHC string (how credentials were first stored) reads as a credential
//! without history. `srp` is the SRP salt and verifier of the current password
//! (`USER_SRP_AUTH`); credentials written before SRP lack it until the next password
//! sign-in or change.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Cognito's largest `PasswordHistorySize`.
pub const MAX_HISTORY: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub hash: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srp: Option<crate::srp::Verifier>,
    /// The user's TOTP authenticator; kept across password changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<Totp>,
}

/// A TOTP authenticator: kept here, next to the password hash, never in the event log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totp {
    /// The verified authenticator's secret (base32); `None` until one is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The secret AssociateSoftwareToken handed out, which replaces `secret` once
    /// VerifySoftwareToken proves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// The last time step a code was accepted for: no code is accepted twice.
    #[serde(default)]
    pub last_step: i64,
}

impl Credential {
    pub fn new(hash: String) -> Self {
        Self {
            hash,
            history: Vec::new(),
            srp: None,
            totp: None,
        }
    }

    pub fn with_srp(self, srp: Option<crate::srp::Verifier>) -> Self {
        Self { srp, ..self }
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.first() == Some(&b'{') {
            serde_json::from_slice(bytes).ok()
        } else {
            std::str::from_utf8(bytes)
                .ok()
                .map(|h| Self::new(h.to_owned()))
        }
    }

    pub fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// The credential after a change to `hash`: the current hash joins the history (and
    /// the SRP verifier of the old password goes).
    pub fn replaced_by(&self, hash: String) -> Self {
        let mut history = Vec::with_capacity(MAX_HISTORY);
        if self.has_password() {
            history.push(self.hash.clone());
        }
        history.extend(
            self.history
                .iter()
                .take(MAX_HISTORY - history.len())
                .cloned(),
        );
        Self {
            hash,
            history,
            srp: None,
            totp: self.totp.clone(),
        }
    }

    /// The hashes a new password must not match under a history of `size` passwords:
    /// the current one and the `size - 1` before it.
    pub fn recent(&self, size: usize) -> Vec<String> {
        if size == 0 {
            return Vec::new();
        }
        std::iter::once(self.hash.clone())
            .filter(|hash| !hash.is_empty())
            .chain(self.history.iter().take(size - 1).cloned())
            .collect()
    }

    /// Whether the user has a password; not after an administrator removed it
    /// ([`Credential::without_password`]), when the TOTP authenticator and the history
    /// stay.
    pub fn has_password(&self) -> bool {
        !self.hash.is_empty()
    }

    /// The credential with no password (and so no SRP verifier): no password matches.
    pub fn without_password(&self) -> Self {
        self.replaced_by(String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_phc_string_reads_as_a_credential_without_history() {
        let credential = Credential::decode(b"$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA").unwrap();
        assert!(credential.history.is_empty());
        assert!(credential.hash.starts_with("$argon2id$"));
    }

    #[test]
    fn a_record_without_srp_reads_and_a_change_drops_the_old_verifier() {
        let old = Credential::decode(br#"{"hash":"h0","history":["h-1"]}"#).unwrap();
        assert_eq!(old.srp, None);
        let srp = crate::srp::Verifier {
            salt: "ab".into(),
            verifier: "cd".into(),
        };
        let with = old.with_srp(Some(srp.clone()));
        assert_eq!(Credential::decode(&with.encode()).unwrap().srp, Some(srp));
        assert_eq!(with.replaced_by("h1".into()).srp, None);
    }

    #[test]
    fn a_removed_password_keeps_the_authenticator_and_the_history() {
        let mut credential = Credential::new("h0".into()).replaced_by("h1".into());
        credential.srp = Some(crate::srp::Verifier {
            salt: "ab".into(),
            verifier: "cd".into(),
        });
        credential.totp = Some(Totp::default());
        let removed = credential.without_password();
        assert!(!removed.has_password());
        assert_eq!(removed.srp, None);
        assert_eq!(removed.totp, credential.totp);
        assert_eq!(removed.recent(3), ["h1", "h0"]);
        let decoded = Credential::decode(&removed.encode()).unwrap();
        assert!(!decoded.has_password());
        // A new password after it: the history holds no empty hash.
        let again = removed.replaced_by("h2".into());
        assert!(again.has_password());
        assert_eq!(again.recent(4), ["h2", "h1", "h0"]);
    }

    #[test]
    fn history_keeps_the_newest_hashes_first_and_is_bounded() {
        let mut credential = Credential::new("h0".into());
        for i in 1..=30 {
            credential = credential.replaced_by(format!("h{i}"));
        }
        assert_eq!(credential.hash, "h30");
        assert_eq!(credential.history.len(), MAX_HISTORY);
        assert_eq!(credential.history[0], "h29");
        assert_eq!(credential.recent(3), ["h30", "h29", "h28"]);
        assert!(credential.recent(0).is_empty());
        let decoded = Credential::decode(&credential.encode()).unwrap();
        assert_eq!(decoded, credential);
    }
}
