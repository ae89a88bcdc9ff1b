//! Password credentials: the stored hash and SRP verifier, kept out of the event log.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::KvError;
use portcullis_proto::directory::v1 as dir;

use crate::context::{Flows, kv_error, pool_error};
use crate::credential::Credential;
use crate::password::{self};

pub(crate) fn credential_key(pool_id: &str, sub: &str) -> String {
    format!("{pool_id}/{sub}")
}

impl Flows {
    /// The current password hash of a user, or a dummy one (so a missing credential
    /// costs the same verification and never matches).
    pub(crate) async fn current_hash(&self, pool_id: &str, sub: &str) -> Result<String, ApiError> {
        let stored = self
            .credentials
            .get(&credential_key(pool_id, sub))
            .await
            .map_err(kv_error)?;
        Ok(stored
            .and_then(|e| Credential::decode(&e.value))
            .map_or_else(|| password::dummy_hash().to_owned(), |c| c.hash))
    }

    /// Replaces the user's password, refusing one of the last `history` passwords
    /// (`PasswordHistorySize`); compare-and-set against the credential it read.
    pub(crate) async fn replace_password(
        &self,
        user: &dir::User,
        password: String,
        history: u32,
    ) -> Result<(), ApiError> {
        let key = credential_key(&user.pool_id, &user.sub);
        let current = self.credentials.get(&key).await.map_err(kv_error)?;
        let credential = current.as_ref().and_then(|e| Credential::decode(&e.value));
        if let Some(credential) = &credential {
            for used in credential.recent(history as usize) {
                if self
                    .hasher
                    .verify(password.clone(), used)
                    .await
                    .map_err(pool_error)?
                {
                    return Err(ApiError::new(
                        ErrorCode::InvalidPasswordException,
                        "Password has previously been used",
                    ));
                }
            }
        }
        let hash = self
            .hasher
            .hash(password.clone())
            .await
            .map_err(pool_error)?;
        let srp = self
            .srp_verifier(&user.pool_id, &user.username, password)
            .await?;
        let next = match credential {
            Some(credential) => credential.replaced_by(hash),
            None => Credential::new(hash),
        }
        .with_srp(Some(srp));
        let written = match current {
            Some(entry) => {
                self.credentials
                    .update(&key, next.encode(), entry.revision)
                    .await
            }
            None => self.credentials.create(&key, next.encode()).await,
        };
        written.map(drop).map_err(|err| match err {
            KvError::Conflict => ApiError::new(
                ErrorCode::ConcurrentModificationException,
                "The password was changed concurrently, retry the request.",
            ),
            other => kv_error(other),
        })
    }

    /// A new SRP salt and verifier for `password` (one 3072-bit exponentiation, off the
    /// async threads).
    pub(crate) async fn srp_verifier(
        &self,
        pool_id: &str,
        username: &str,
        password: String,
    ) -> Result<crate::srp::Verifier, ApiError> {
        let (pool_id, username) = (pool_id.to_owned(), username.to_owned());
        tokio::task::spawn_blocking(move || {
            crate::srp::new_verifier(&pool_id, &username, &password)
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(ApiError::internal)
    }

    /// Adds the SRP verifier to a credential written before the user's internal name was
    /// known (sign-up, AdminCreateUser) or before SRP existed. Best effort: without it the
    /// user can still sign in with the password, and that sign-in adds it.
    pub(crate) async fn add_srp(
        &self,
        user: &dir::User,
        password: String,
        credential: Credential,
        revision: u64,
    ) {
        let key = credential_key(&user.pool_id, &user.sub);
        let written = match self
            .srp_verifier(&user.pool_id, &user.username, password)
            .await
        {
            Ok(srp) => {
                let next = credential.with_srp(Some(srp));
                self.credentials
                    .update(&key, next.encode(), revision)
                    .await
                    .map(drop)
                    .map_err(|err| err.to_string())
            }
            Err(err) => Err(err.message),
        };
        if let Err(error) = written {
            tracing::warn!(%error, "could not store an srp verifier");
        }
    }
}
