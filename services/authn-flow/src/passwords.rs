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
            .filter(Credential::has_password)
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
        self.write_credential(&key, current.map(|e| e.revision), &next)
            .await
    }

    /// Makes an imported hash (bcrypt, scrypt, PBKDF2, argon2: see `portcullis_password_hashes`)
    /// the user's password; the first sign-in with the password replaces it with an
    /// argon2id hash and adds the SRP verifier, which no imported hash can give.
    pub(crate) async fn import_password_hash(
        &self,
        user: &dir::User,
        hash: String,
    ) -> Result<(), ApiError> {
        let key = credential_key(&user.pool_id, &user.sub);
        let current = self.credentials.get(&key).await.map_err(kv_error)?;
        let next = match current.as_ref().and_then(|e| Credential::decode(&e.value)) {
            Some(credential) => credential.replaced_by(hash),
            None => Credential::new(hash),
        };
        self.write_credential(&key, current.map(|e| e.revision), &next)
            .await
    }

    /// Writes `next` over the credential at `revision` (or as the first one).
    async fn write_credential(
        &self,
        key: &str,
        revision: Option<u64>,
        next: &Credential,
    ) -> Result<(), ApiError> {
        let written = match revision {
            Some(revision) => self.credentials.update(key, next.encode(), revision).await,
            None => self.credentials.create(key, next.encode()).await,
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

    /// Creates the user `request` describes, with `password` (if any) as their password:
    /// the credential is stored first, under the new sub nobody else has, and removed if
    /// the directory then refuses the user (if this process dies in between, it is an
    /// unreachable orphan, not a security problem); the SRP verifier follows once the
    /// user's internal name is known.
    pub(crate) async fn create_with_password(
        &self,
        request: dir::CreateUserRequest,
        password: Option<String>,
    ) -> Result<dir::User, ApiError> {
        let Some(password) = password else {
            return Ok(self
                .directory
                .clone()
                .create_user(request)
                .await?
                .into_inner());
        };
        let hash = self
            .hasher
            .hash(password.clone())
            .await
            .map_err(pool_error)?;
        let credential = Credential::new(hash);
        let key = credential_key(&request.pool_id, &request.sub);
        let revision = self
            .credentials
            .create(&key, credential.encode())
            .await
            .map_err(kv_error)?;
        match self.directory.clone().create_user(request).await {
            Ok(user) => {
                let user = user.into_inner();
                self.upgrade_credential(&user, password, credential, Some(revision))
                    .await;
                Ok(user)
            }
            Err(status) => {
                if let Err(err) = self.credentials.delete(&key, revision).await {
                    tracing::warn!(error = %err, "could not remove the credential of a user not created");
                }
                Err(status.into())
            }
        }
    }

    /// Adds the SRP verifier to a credential written before the user's internal name was
    /// known (sign-up, AdminCreateUser), before SRP existed or with an imported hash, and
    /// replaces a hash that is not argon2id with the current parameters (an imported
    /// one) by that. Best effort: without it the user can still sign in with the
    /// password, and that sign-in tries again. `revision` is `None` for a hash the
    /// directory imported with the user, whose credential is then written for the first
    /// time (and the imported entry removed).
    pub(crate) async fn upgrade_credential(
        &self,
        user: &dir::User,
        password: String,
        mut credential: Credential,
        revision: Option<u64>,
    ) {
        let key = credential_key(&user.pool_id, &user.sub);
        if !password::is_current(&credential.hash) {
            match self.hasher.hash(password.clone()).await {
                Ok(hash) => credential.hash = hash,
                Err(error) => tracing::warn!(%error, "could not rehash a password"),
            }
        }
        let written = match self
            .srp_verifier(&user.pool_id, &user.username, password)
            .await
        {
            Ok(srp) => {
                let next = credential.with_srp(Some(srp));
                self.write_credential(&key, revision, &next)
                    .await
                    .map_err(|err| err.message)
            }
            Err(err) => Err(err.message),
        };
        match written {
            Err(error) => tracing::warn!(%error, "could not store an srp verifier"),
            Ok(()) if revision.is_none() => {
                if let Ok(Some(entry)) = self.imported_passwords.get(&key).await
                    && let Err(error) = self.imported_passwords.delete(&key, entry.revision).await
                {
                    tracing::warn!(%error, "could not remove an imported password hash");
                }
            }
            Ok(()) => {}
        }
    }

    /// The user's credential and its revision; for a user the directory imported with a
    /// password hash and who has not signed in since, that hash (no revision: nothing
    /// is written yet).
    /// Removes the user's password and its SRP verifier (the TOTP authenticator and the
    /// password history stay), and an imported hash still waiting for the first sign-in.
    pub(crate) async fn remove_password(&self, user: &dir::User) -> Result<(), ApiError> {
        let key = credential_key(&user.pool_id, &user.sub);
        // Compare-and-set, again when a sign-in upgraded the credential meanwhile.
        while let Some(entry) = self.credentials.get(&key).await.map_err(kv_error)? {
            let Some(credential) = Credential::decode(&entry.value) else {
                break;
            };
            let removed = credential.without_password().encode();
            match self.credentials.update(&key, removed, entry.revision).await {
                Ok(_) => break,
                Err(portcullis_eventlog::KvError::Conflict) => {}
                Err(err) => return Err(kv_error(err)),
            }
        }
        while let Some(entry) = self.imported_passwords.get(&key).await.map_err(kv_error)? {
            match self.imported_passwords.delete(&key, entry.revision).await {
                Ok(()) => break,
                Err(portcullis_eventlog::KvError::Conflict) => {}
                Err(err) => return Err(kv_error(err)),
            }
        }
        Ok(())
    }

    pub(crate) async fn current_credential(
        &self,
        user: &dir::User,
    ) -> Result<Option<(Credential, Option<u64>)>, ApiError> {
        let key = credential_key(&user.pool_id, &user.sub);
        if let Some(entry) = self.credentials.get(&key).await.map_err(kv_error)? {
            return Ok(Credential::decode(&entry.value)
                .filter(Credential::has_password)
                .map(|c| (c, Some(entry.revision))));
        }
        let imported = self.imported_passwords.get(&key).await.map_err(kv_error)?;
        Ok(imported
            .and_then(|entry| String::from_utf8(entry.value.to_vec()).ok())
            .map(|hash| (Credential::new(hash), None)))
    }
}
