//! Identities: which identity a set of logins is (GetId), linking and unlinking logins,
//! merging identities that turn out to be one person, describing, listing and deleting.
//!
//! A login leads to one identity: the link is a unique claim (`link/<pool>/<hash>` ->
//! identity id) taken before the identity's stream records it. A crash between the two
//! leaves a claim whose identity lacks the login; the next GetId with that login finds
//! the claim and records the link then, so nothing is lost or doubled.

use std::collections::{BTreeSet, HashMap};

use aws_lc_rs::digest;
use bytes::Bytes;
use portcullis_aggregate::CommandMeta;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::KvError;

use super::{Broker, check_max_results};
use crate::domain::identity::{Identity, IdentityCommand, IdentityState, Login};
use crate::domain::identity_pool::PoolState;
use crate::domain::validate::{length, region_id, scope};
use crate::logins::{IdentityTokens, Verified};
use crate::projection::IdentityEntry;

/// Rounds of claim-then-link before a GetId that keeps losing races gives up.
const MAX_ROUNDS: usize = 4;

fn kv_error(err: KvError) -> ApiError {
    tracing::error!(error = %err, "login claims unavailable");
    ApiError::unavailable()
}

fn link_key(pool_id: &str, login: &Login) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(login.provider.as_bytes());
    ctx.update(b"\n");
    ctx.update(login.key.as_bytes());
    format!("link/{}/{}", scope(pool_id), hex::encode(ctx.finish()))
}

pub fn no_guests() -> ApiError {
    ApiError::not_authorized("Unauthenticated access is not supported for this identity pool.")
}

pub fn logins_do_not_match() -> ApiError {
    ApiError::not_authorized(
        "Logins don't match. Please include at least one valid login for this identity or identity pool.",
    )
}

impl Broker {
    /// The identity a login is linked to, with the claim's revision.
    pub(super) async fn linked(
        &self,
        pool_id: &str,
        login: &Login,
    ) -> Result<Option<(String, u64)>, ApiError> {
        let entry = self
            .links
            .get(&link_key(pool_id, login))
            .await
            .map_err(kv_error)?;
        Ok(entry.map(|e| (String::from_utf8_lossy(&e.value).into_owned(), e.revision)))
    }

    async fn execute_identity(
        &self,
        identity_id: &str,
        command: IdentityCommand,
        meta: &CommandMeta,
    ) -> Result<Option<IdentityState>, ApiError> {
        let stream = Self::identity_stream(identity_id)?;
        let done = self
            .store
            .execute::<Identity>(&stream, &command, meta)
            .await?;
        self.projection.wait_for(done.position).await?;
        Ok(done.aggregate.state)
    }

    /// The identity of `logins` in `pool`: the one they are linked to, or `explicit`, or a
    /// new one; logins not linked yet are linked to it, and identities that other logins
    /// lead to are merged into it.
    pub(super) async fn identity_for(
        &self,
        pool: &PoolState,
        logins: &[Login],
        explicit: Option<&str>,
        meta: &CommandMeta,
    ) -> Result<String, ApiError> {
        'round: for round in 1..=MAX_ROUNDS {
            let mut links = Vec::with_capacity(logins.len());
            for login in logins {
                links.push(self.linked(&pool.id, login).await?);
            }
            let target = explicit
                .map(str::to_owned)
                .or_else(|| links.iter().flatten().map(|(id, _)| id.clone()).next())
                .unwrap_or_else(|| new_identity_id(&pool.id));
            for (login, link) in logins.iter().zip(&links) {
                if link.is_some() {
                    continue;
                }
                let claim = Bytes::from(target.clone().into_bytes());
                match self.links.create(&link_key(&pool.id, login), claim).await {
                    Ok(_) => {}
                    // Another request linked this login meanwhile: start again.
                    Err(KvError::Conflict) => {
                        tracing::debug!(round, "a login was linked concurrently");
                        continue 'round;
                    }
                    Err(err) => return Err(kv_error(err)),
                }
            }
            let create = IdentityCommand::Create {
                id: target.clone(),
                pool_id: pool.id.clone(),
                logins: logins.to_vec(),
            };
            self.execute_identity(&target, create, &meta.follow_up())
                .await?;
            let others: BTreeSet<&String> = links
                .iter()
                .flatten()
                .map(|(id, _)| id)
                .filter(|id| **id != target)
                .collect();
            for other in others {
                self.merge_into(pool, other, &target, meta).await?;
            }
            return Ok(target);
        }
        tracing::warn!("logins were linked concurrently {MAX_ROUNDS} times over");
        Err(ApiError::new(
            ErrorCode::ConcurrentModificationException,
            "Too many concurrent modifications, retry the request.",
        ))
    }

    /// Moves every login of `source` to `target` and deletes `source`.
    async fn merge_into(
        &self,
        pool: &PoolState,
        source: &str,
        target: &str,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let Ok(source_state) = self.identity(source).await else {
            return Ok(());
        };
        if source_state.pool_id != pool.id {
            return Ok(());
        }
        let moved = source_state.logins.clone();
        self.execute_identity(
            target,
            IdentityCommand::Link(moved.clone()),
            &meta.follow_up(),
        )
        .await?;
        for login in &moved {
            if let Some((id, revision)) = self.linked(&pool.id, login).await?
                && id == source
            {
                let value = Bytes::from(target.to_owned().into_bytes());
                match self
                    .links
                    .update(&link_key(&pool.id, login), value, revision)
                    .await
                {
                    Ok(_) | Err(KvError::Conflict) => {}
                    Err(err) => return Err(kv_error(err)),
                }
            }
        }
        self.execute_identity(source, IdentityCommand::Delete, &meta.follow_up())
            .await?;
        Ok(())
    }

    /// Releases the claims of `logins` that still lead to `identity_id`.
    async fn release(
        &self,
        pool_id: &str,
        identity_id: &str,
        logins: &[Login],
    ) -> Result<(), ApiError> {
        for login in logins {
            if let Some((id, revision)) = self.linked(pool_id, login).await?
                && id == identity_id
            {
                match self.links.delete(&link_key(pool_id, login), revision).await {
                    Ok(()) | Err(KvError::Conflict) => {}
                    Err(err) => return Err(kv_error(err)),
                }
            }
        }
        Ok(())
    }

    /// GetId.
    pub async fn get_id(
        &self,
        pool_id: &str,
        logins: &HashMap<String, String>,
        meta: &CommandMeta,
    ) -> Result<String, ApiError> {
        let pool = self.pool(pool_id).await?;
        if logins.is_empty() {
            if !pool.settings.allow_unauthenticated_identities {
                return Err(no_guests());
            }
            let id = new_identity_id(&pool.id);
            let create = IdentityCommand::Create {
                id: id.clone(),
                pool_id: pool.id.clone(),
                logins: Vec::new(),
            };
            self.execute_identity(&id, create, meta).await?;
            return Ok(id);
        }
        let verified = self
            .verifier
            .verify_all(&pool, logins, IdentityTokens::Refused)
            .await?;
        let links: Vec<Login> = verified.into_iter().map(|v| v.login).collect();
        self.identity_for(&pool, &links, None, meta).await
    }

    /// The identity, which must belong to `pool_id`.
    pub(super) async fn identity_in_pool(
        &self,
        identity_id: &str,
        pool_id: &str,
    ) -> Result<IdentityState, ApiError> {
        let identity = self.identity(identity_id).await?;
        if identity.pool_id != pool_id {
            return Err(super::identity_not_found(identity_id));
        }
        Ok(identity)
    }

    /// Checks that verified logins speak for `identity`: an OpenID token of this
    /// service for it, or logins it holds.
    pub(super) fn check_logins_match(
        identity: &IdentityState,
        verified: &[Verified],
    ) -> Result<(), ApiError> {
        let matches = verified.iter().all(|v| match &v.identity_id {
            Some(id) => *id == identity.id,
            None => identity.holds(&v.login),
        });
        if matches {
            Ok(())
        } else {
            Err(logins_do_not_match())
        }
    }

    pub async fn describe_identity(&self, identity_id: &str) -> Result<IdentityState, ApiError> {
        let identity = self.identity(identity_id).await?;
        // An identity of a deleted pool is gone with it.
        self.pool(&identity.pool_id)
            .await
            .map_err(|_| super::identity_not_found(identity_id))?;
        Ok(identity)
    }

    /// A pool's identities by id; the token is the last id returned.
    pub async fn list_identities(
        &self,
        pool_id: &str,
        max_results: u32,
        next_token: Option<String>,
    ) -> Result<(Vec<IdentityEntry>, Option<String>), ApiError> {
        check_max_results(max_results)?;
        self.pool(pool_id).await?;
        self.wait_for_log().await?;
        let limit = max_results as usize;
        let mut identities = self
            .projection
            .identities(pool_id, next_token, limit + 1)
            .await?;
        let next = portcullis_types::cut_page(&mut identities, limit, |i| i.id.clone());
        Ok((identities, next))
    }

    /// DeleteIdentities: the ids that could not be deleted, with why.
    pub async fn delete_identities(
        &self,
        identity_ids: &[String],
        meta: &CommandMeta,
    ) -> Result<Vec<(String, &'static str)>, ApiError> {
        if identity_ids.is_empty() || identity_ids.len() > 60 {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value at 'identityIdsToDelete' failed to satisfy constraint: Member must have length {}",
                if identity_ids.is_empty() {
                    "greater than or equal to 1"
                } else {
                    "less than or equal to 60"
                }
            )));
        }
        for id in identity_ids {
            region_id(id, "identityIdsToDelete")?;
        }
        let mut unprocessed = Vec::new();
        for id in identity_ids {
            let identity = match self.identity(id).await {
                Ok(identity) => identity,
                Err(err) if err.code == ErrorCode::ResourceNotFoundException => continue,
                Err(_) => {
                    unprocessed.push((id.clone(), "INTERNAL_SERVER_ERROR"));
                    continue;
                }
            };
            let deleted = async {
                self.execute_identity(id, IdentityCommand::Delete, &meta.follow_up())
                    .await?;
                self.release(&identity.pool_id, id, &identity.logins).await
            };
            if deleted.await.is_err() {
                unprocessed.push((id.clone(), "INTERNAL_SERVER_ERROR"));
            }
        }
        Ok(unprocessed)
    }

    /// UnlinkIdentity: removes the logins of the named providers from an identity that
    /// the request's logins prove to be the caller's.
    pub async fn unlink_identity(
        &self,
        identity_id: &str,
        logins: &HashMap<String, String>,
        logins_to_remove: &[String],
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let identity = self.identity(identity_id).await?;
        let pool = self.pool(&identity.pool_id).await?;
        if logins.is_empty() {
            return Err(logins_do_not_match());
        }
        let verified = self
            .verifier
            .verify_all(&pool, logins, IdentityTokens::Refused)
            .await?;
        Self::check_logins_match(&identity, &verified)?;
        for provider in logins_to_remove {
            if provider == &pool.settings.developer_provider_name {
                return Err(ApiError::invalid_parameter(
                    "Developer authenticated identities must be unlinked with UnlinkDeveloperIdentity.",
                ));
            }
            if !identity.logins.iter().any(|l| &l.provider == provider) {
                return Err(ApiError::invalid_parameter(format!(
                    "Login {provider} is not linked to identity {identity_id}."
                )));
            }
        }
        let removed: Vec<Login> = identity
            .logins
            .iter()
            .filter(|l| logins_to_remove.contains(&l.provider))
            .cloned()
            .collect();
        self.execute_identity(identity_id, IdentityCommand::Unlink(removed.clone()), meta)
            .await?;
        self.release(&pool.id, identity_id, &removed).await
    }

    fn developer_provider<'a>(pool: &'a PoolState, named: &str) -> Result<&'a str, ApiError> {
        let provider = pool.settings.developer_provider_name.as_str();
        if provider.is_empty() {
            return Err(ApiError::invalid_parameter(
                "This identity pool has no developer provider.",
            ));
        }
        if named != provider {
            return Err(ApiError::invalid_parameter(format!(
                "Developer provider {named} does not match the identity pool's developer provider."
            )));
        }
        Ok(provider)
    }

    fn developer_login(provider: &str, user: &str) -> Result<Login, ApiError> {
        length(user, "developerUserIdentifier", 1, 1024)?;
        Ok(Login {
            provider: provider.to_owned(),
            key: user.to_owned(),
        })
    }

    /// The identity of a developer login, and the developer ids it holds (sorted).
    pub async fn lookup_developer_identity(
        &self,
        pool_id: &str,
        identity_id: Option<&str>,
        developer_user: Option<&str>,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(String, Vec<String>, Option<String>), ApiError> {
        if let Some(max) = max_results {
            check_max_results(max)?;
        }
        let pool = self.pool(pool_id).await?;
        let provider = pool.settings.developer_provider_name.clone();
        let by_user = match developer_user {
            Some(user) if !provider.is_empty() => {
                let login = Self::developer_login(&provider, user)?;
                Some(
                    self.linked(&pool.id, &login)
                        .await?
                        .map(|(id, _)| id)
                        .ok_or_else(|| {
                            ApiError::not_found(format!(
                                "Developer user identifier {user} not found."
                            ))
                        })?,
                )
            }
            Some(user) => {
                return Err(ApiError::not_found(format!(
                    "Developer user identifier {user} not found."
                )));
            }
            None => None,
        };
        let id = match (identity_id, by_user) {
            (Some(given), Some(found)) if given != found => {
                return Err(ApiError::new(
                    ErrorCode::ResourceConflictException,
                    "The developer user identifier is linked to another identity.",
                ));
            }
            (_, Some(found)) => found,
            (Some(given), None) => given.to_owned(),
            (None, None) => {
                return Err(ApiError::invalid_parameter(
                    "Either IdentityId or DeveloperUserIdentifier is required.",
                ));
            }
        };
        let identity = self.identity_in_pool(&id, &pool.id).await?;
        let mut users: Vec<String> = identity
            .logins
            .iter()
            .filter(|l| l.provider == provider)
            .map(|l| l.key.clone())
            .collect();
        users.sort();
        if let Some(after) = next_token {
            users.retain(|u| u.as_str() > after);
        }
        let limit = max_results.unwrap_or(60) as usize;
        let next = portcullis_types::cut_page(&mut users, limit, String::clone);
        Ok((identity.id, users, next))
    }

    /// MergeDeveloperIdentities: the source user's identity joins the destination
    /// user's; returns the destination identity.
    pub async fn merge_developer_identities(
        &self,
        pool_id: &str,
        provider: &str,
        source_user: &str,
        destination_user: &str,
        meta: &CommandMeta,
    ) -> Result<String, ApiError> {
        let pool = self.pool(pool_id).await?;
        let provider = Self::developer_provider(&pool, provider)?;
        let not_found = |user: &str| {
            ApiError::not_found(format!("Developer user identifier {user} not found."))
        };
        let source = Self::developer_login(provider, source_user)?;
        let destination = Self::developer_login(provider, destination_user)?;
        let (source_id, _) = self
            .linked(&pool.id, &source)
            .await?
            .ok_or_else(|| not_found(source_user))?;
        let (destination_id, _) = self
            .linked(&pool.id, &destination)
            .await?
            .ok_or_else(|| not_found(destination_user))?;
        if source_id != destination_id {
            self.merge_into(&pool, &source_id, &destination_id, meta)
                .await?;
        }
        Ok(destination_id)
    }

    pub async fn unlink_developer_identity(
        &self,
        identity_id: &str,
        pool_id: &str,
        provider: &str,
        user: &str,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let pool = self.pool(pool_id).await?;
        let provider = Self::developer_provider(&pool, provider)?;
        let login = Self::developer_login(provider, user)?;
        let identity = self.identity_in_pool(identity_id, &pool.id).await?;
        if !identity.holds(&login) {
            return Err(ApiError::not_found(format!(
                "Developer user identifier {user} is not linked to identity {identity_id}."
            )));
        }
        let removed = vec![login];
        self.execute_identity(identity_id, IdentityCommand::Unlink(removed.clone()), meta)
            .await?;
        self.release(&pool.id, identity_id, &removed).await
    }
}

/// A new identity id in the pool's region.
fn new_identity_id(pool_id: &str) -> String {
    let region = pool_id.split(':').next().unwrap_or_default();
    format!("{region}:{}", uuid::Uuid::new_v4())
}
