//! The identity providers of user pools as the API uses them: checks the pool and the
//! details, seals the secrets, and runs the pool's [`PoolProviders`] aggregate.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use portcullis_aggregate::{AggregateStore, CommandMeta};
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::{KeyValue, StreamId};
use portcullis_outbound::Fetcher;
use portcullis_proto::directory::v1::{self as dir, DirectoryLink};
use portcullis_proto::events::v1::IdentityProvider;
use portcullis_runtime::GrpcChannel as Channel;

use crate::details::{self, Checked};
use crate::oauth::{self, OAuth, Pending};
use crate::provider::{PoolProviders, ProviderCommand, ProviderState, duplicate};

/// `ListIdentityProviders`' largest and default page.
const MAX_RESULTS: u32 = 60;

pub struct Providers {
    pub store: AggregateStore,
    pub oauth: OAuth,
    /// Sealed: providers' secret details, by `<pool>/<secret ref>`.
    pub secrets: Arc<dyn KeyValue>,
    pub directory: DirectoryLink<Channel>,
    pub fetcher: Fetcher,
    /// How old metadata fetched from a `MetadataURL` may get (see
    /// [`Providers::with_fresh_metadata`]).
    pub metadata_refresh: std::time::Duration,
}

/// A provider with its secret details, as Describe shows it.
pub struct Described {
    pub pool_id: String,
    pub state: ProviderState,
    pub details: HashMap<String, String>,
}

/// `CreateIdentityProvider`'s members.
pub struct NewProvider<'a> {
    pub name: &'a str,
    pub provider_type: &'a str,
    pub details: &'a HashMap<String, String>,
    /// `None`: the type's default mapping.
    pub attribute_mapping: Option<&'a HashMap<String, String>>,
    pub idp_identifiers: &'a [String],
}

pub struct Update {
    pub details: Option<HashMap<String, String>>,
    pub attribute_mapping: Option<HashMap<String, String>>,
    pub idp_identifiers: Option<Vec<String>>,
}

fn stream(pool_id: &str) -> Result<StreamId, ApiError> {
    AggregateStore::stream::<PoolProviders>(pool_id, pool_id)
}

fn secret_key(pool_id: &str, secret_ref: &str) -> String {
    format!("{pool_id}/{secret_ref}")
}

fn store_error(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "identity provider secrets unavailable");
    ApiError::new(ErrorCode::InternalErrorException, "Internal error")
}

/// `ProviderNameTypeV2` (names of new providers): 1 to 32 characters, none of them a
/// separator, no `_` first or last.
fn check_new_name(name: &str) -> Result<(), ApiError> {
    let chars: Vec<char> = name.chars().collect();
    let separator = |c: &char| c.is_whitespace() || c.is_control();
    let valid = (3..=32).contains(&chars.len())
        && !chars.iter().any(separator)
        && chars.first() != Some(&'_')
        && chars.last() != Some(&'_');
    if valid {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{name}' at 'providerName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^_\\p{{Z}}][\\p{{L}}\\p{{M}}\\p{{S}}\\p{{N}}\\p{{P}}][^_\\p{{Z}}]+"
    )))
}

/// `IdpIdentifiersListType`: at most 50, each 1 to 40 of `[\w\s+=.@-]`.
fn check_identifiers(identifiers: &[String]) -> Result<(), ApiError> {
    if identifiers.len() > 50 {
        return Err(ApiError::invalid_parameter(
            "1 validation error detected: Value at 'idpIdentifiers' failed to satisfy constraint: Member must have length less than or equal to 50",
        ));
    }
    for identifier in identifiers {
        let valid = (1..=40).contains(&identifier.chars().count())
            && identifier
                .chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_+=.@-".contains(c));
        if !valid {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{identifier}' at 'idpIdentifiers' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w\\s+=.@-]+"
            )));
        }
    }
    Ok(())
}

impl Providers {
    /// The pool's attribute names, or the pool's `ResourceNotFoundException`.
    async fn pool_attributes(&self, pool_id: &str) -> Result<Vec<String>, ApiError> {
        let pool = self
            .directory
            .clone()
            .describe_user_pool(dir::DescribeUserPoolRequest {
                pool_id: pool_id.to_owned(),
            })
            .await
            .map_err(ApiError::from)?
            .into_inner();
        Ok(pool
            .settings
            .map(|s| s.schema.into_iter().map(|a| a.name).collect())
            .unwrap_or_default())
    }

    async fn load(&self, pool_id: &str) -> Result<PoolProviders, ApiError> {
        Ok(self
            .store
            .load::<PoolProviders>(&stream(pool_id)?)
            .await?
            .aggregate)
    }

    async fn seal(
        &self,
        pool_id: &str,
        secret: &BTreeMap<String, String>,
    ) -> Result<String, ApiError> {
        if secret.is_empty() {
            return Ok(String::new());
        }
        let secret_ref = uuid::Uuid::new_v4().simple().to_string();
        let value = serde_json::to_vec(secret).map_err(store_error)?;
        self.secrets
            .create(&secret_key(pool_id, &secret_ref), Bytes::from(value))
            .await
            .map_err(store_error)?;
        Ok(secret_ref)
    }

    /// Removes a sealed secret no provider names any more; a failure leaves an orphan
    /// that nothing reads, so it is only logged.
    async fn forget(&self, pool_id: &str, secret_ref: &str) {
        if secret_ref.is_empty() {
            return;
        }
        let key = secret_key(pool_id, secret_ref);
        let removed = match self.secrets.get(&key).await {
            Ok(Some(entry)) => self.secrets.delete(&key, entry.revision).await,
            Ok(None) => Ok(()),
            Err(err) => Err(err),
        };
        if let Err(err) = removed {
            tracing::warn!(error = %err, "an identity provider's old secret was not removed");
        }
    }

    async fn unseal(
        &self,
        pool_id: &str,
        secret_ref: &str,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        if secret_ref.is_empty() {
            return Ok(BTreeMap::new());
        }
        let entry = self
            .secrets
            .get(&secret_key(pool_id, secret_ref))
            .await
            .map_err(store_error)?
            .ok_or_else(|| store_error("a provider's sealed secret is missing"))?;
        serde_json::from_slice(&entry.value).map_err(store_error)
    }

    /// Notes when a provider's metadata document was fetched (see
    /// [`details::METADATA_FETCHED`]).
    fn stamp_metadata(&self, public: &mut BTreeMap<String, String>) {
        if public.contains_key(details::METADATA_DOCUMENT) {
            public.insert(
                details::METADATA_FETCHED.to_owned(),
                self.store.now_ms().to_string(),
            );
        }
    }

    /// A SAML provider configured by `MetadataURL` whose document is `metadata_refresh`
    /// old has it fetched again, by one sign-in at a
    /// time: the identity provider may have rotated its keys or moved its services. A
    /// fetch that fails or brings unusable metadata keeps the old document (and is tried
    /// again when the lock lapses: a minute, or the refresh period if shorter); the
    /// sign-in goes on either way.
    async fn with_fresh_metadata(&self, pool_id: &str, state: ProviderState) -> ProviderState {
        let provider = &state.provider;
        let fetched = provider
            .details
            .get(details::METADATA_FETCHED)
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(0);
        let due = provider.provider_type == "SAML"
            && provider.details.contains_key("MetadataURL")
            && self.store.now_ms() - fetched
                >= i64::try_from(self.metadata_refresh.as_millis()).unwrap_or(i64::MAX);
        if !due {
            return state;
        }
        let lock = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!("{pool_id}/{}", provider.provider_name).as_bytes(),
        );
        let first = self
            .oauth
            .ephemeral
            .put_if_absent(
                &format!("federation/metadata-refresh/{}", hex::encode(lock)),
                Bytes::from_static(b"1"),
                self.metadata_refresh
                    .min(std::time::Duration::from_secs(60)),
            )
            .await;
        if !matches!(first, Ok(true)) {
            return state;
        }
        let mut public = match details::refetch_metadata(&provider.details, &self.fetcher).await {
            Ok(public) => public,
            Err(err) => {
                tracing::warn!(
                    provider = provider.provider_name,
                    error = %err.message,
                    "a SAML provider's metadata could not be fetched again; the old document stays"
                );
                return state;
            }
        };
        self.stamp_metadata(&mut public);
        let command = ProviderCommand::Update {
            provider_name: provider.provider_name.clone(),
            provider_type: provider.provider_type.clone(),
            details: Some((public, provider.secret_ref.clone())),
            attribute_mapping: None,
            idp_identifiers: None,
        };
        let actor = portcullis_proto::events::v1::Actor {
            kind: portcullis_proto::events::v1::actor::Kind::System as i32,
            id: String::new(),
        };
        let meta = CommandMeta::new(actor, "");
        let Ok(stream) = stream(pool_id) else {
            return state;
        };
        let name = provider.provider_name.clone();
        match self
            .store
            .execute::<PoolProviders>(&stream, &command, &meta)
            .await
        {
            Ok(executed) => executed.aggregate.get(&name).cloned().unwrap_or(state),
            Err(err) => {
                tracing::warn!(
                    provider = name,
                    error = %err.message,
                    "a SAML provider's refetched metadata was not recorded"
                );
                state
            }
        }
    }

    /// A SAML provider that takes encrypted assertions gets its key pair the first time
    /// (see [`details::ENCRYPTION_KEY`]).
    fn with_encryption_key(
        &self,
        pool_id: &str,
        public: &BTreeMap<String, String>,
        mut secret: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        let encrypted = public
            .get("EncryptedResponses")
            .is_some_and(|v| v == "true");
        if !encrypted || secret.contains_key(details::ENCRYPTION_KEY) {
            return Ok(secret);
        }
        let issued = portcullis_saml::certificate::self_signed(pool_id, self.store.now_ms())
            .map_err(|err| {
                tracing::error!(error = %err, "a provider's encryption key could not be made");
                ApiError::internal()
            })?;
        secret.insert(
            details::ENCRYPTION_KEY.to_owned(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &issued.pkcs8),
        );
        secret.insert(
            details::ENCRYPTION_CERTIFICATE.to_owned(),
            issued.certificate,
        );
        Ok(secret)
    }

    async fn describe_state(
        &self,
        pool_id: &str,
        state: ProviderState,
    ) -> Result<Described, ApiError> {
        let secret = self.unseal(pool_id, &state.provider.secret_ref).await?;
        let details = details::described(&state.provider.details, &secret);
        Ok(Described {
            pool_id: pool_id.to_owned(),
            state,
            details,
        })
    }

    fn check_mapping(
        attributes: &[String],
        mapping: &HashMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        for (key, value) in mapping {
            let known = key == "username" || attributes.iter().any(|a| a == key);
            if !known || key == "sub" || !(1..=32).contains(&key.chars().count()) {
                return Err(ApiError::invalid_parameter(format!(
                    "Invalid attribute mapping. {key} is not a mappable attribute of the user pool."
                )));
            }
            if value.is_empty() {
                return Err(ApiError::invalid_parameter(format!(
                    "Invalid attribute mapping. {key} is mapped to no provider attribute."
                )));
            }
        }
        Ok(mapping.clone().into_iter().collect())
    }

    pub async fn create(
        &self,
        pool_id: &str,
        new: NewProvider<'_>,
        meta: &CommandMeta,
    ) -> Result<Described, ApiError> {
        let NewProvider {
            name,
            provider_type,
            details: given_details,
            attribute_mapping,
            idp_identifiers,
        } = new;
        check_new_name(name)?;
        details::check_type(provider_type)?;
        check_identifiers(idp_identifiers)?;
        let attributes = self.pool_attributes(pool_id).await?;
        details::check_name_for_type(name, provider_type)?;
        let mapping = match attribute_mapping {
            Some(mapping) => Self::check_mapping(&attributes, mapping)?,
            None => details::default_attribute_mapping(provider_type),
        };
        // A name taken is refused before anything is fetched.
        if self.load(pool_id).await?.get(name).is_some() {
            return Err(duplicate(name, pool_id));
        }
        details::refuse_internal(given_details, provider_type)?;
        let Checked { mut public, secret } =
            details::check(provider_type, given_details, &self.fetcher).await?;
        self.stamp_metadata(&mut public);
        let secret = self.with_encryption_key(pool_id, &public, secret)?;
        let secret_ref = self.seal(pool_id, &secret).await?;
        let provider = IdentityProvider {
            provider_name: name.to_owned(),
            provider_type: provider_type.to_owned(),
            details: public.into_iter().collect(),
            attribute_mapping: mapping.into_iter().collect(),
            idp_identifiers: idp_identifiers.to_vec(),
            secret_ref: secret_ref.clone(),
        };
        let executed = self
            .store
            .execute::<PoolProviders>(
                &stream(pool_id)?,
                &ProviderCommand::Create {
                    pool_id: pool_id.to_owned(),
                    provider,
                },
                meta,
            )
            .await;
        let executed = match executed {
            Ok(executed) => executed,
            Err(err) => {
                self.forget(pool_id, &secret_ref).await;
                return Err(err);
            }
        };
        let state = executed
            .aggregate
            .get(name)
            .cloned()
            .ok_or_else(|| store_error("a created provider is missing"))?;
        self.describe_state(pool_id, state).await
    }

    pub async fn update(
        &self,
        pool_id: &str,
        name: &str,
        update: Update,
        meta: &CommandMeta,
    ) -> Result<Described, ApiError> {
        if let Some(identifiers) = &update.idp_identifiers {
            check_identifiers(identifiers)?;
        }
        let attributes = self.pool_attributes(pool_id).await?;
        let current = self
            .load(pool_id)
            .await?
            .get(name)
            .cloned()
            .ok_or_else(|| not_found_in_pool(name, pool_id))?;
        let provider_type = current.provider.provider_type.clone();
        let mapping = update
            .attribute_mapping
            .as_ref()
            .map(|m| Self::check_mapping(&attributes, m))
            .transpose()?;
        let mut new_secret = None;
        let details = match &update.details {
            Some(given) => {
                details::refuse_internal(given, &provider_type)?;
                let Checked { mut public, secret } = details::check(
                    &provider_type,
                    &with_kept_secrets(
                        given,
                        &self.unseal(pool_id, &current.provider.secret_ref).await?,
                    ),
                    &self.fetcher,
                )
                .await?;
                self.stamp_metadata(&mut public);
                let secret = self.with_encryption_key(pool_id, &public, secret)?;
                let secret_ref = self.seal(pool_id, &secret).await?;
                new_secret = Some(secret_ref.clone());
                Some((public, secret_ref))
            }
            None => None,
        };
        let command = ProviderCommand::Update {
            provider_name: name.to_owned(),
            provider_type,
            details,
            attribute_mapping: mapping,
            idp_identifiers: update.idp_identifiers,
        };
        let executed = self
            .store
            .execute::<PoolProviders>(&stream(pool_id)?, &command, meta)
            .await;
        let executed = match executed {
            Ok(executed) => executed,
            Err(err) => {
                if let Some(secret_ref) = &new_secret {
                    self.forget(pool_id, secret_ref).await;
                }
                return Err(if err.code == ErrorCode::ResourceNotFoundException {
                    not_found_in_pool(name, pool_id)
                } else {
                    err
                });
            }
        };
        if new_secret.is_some() {
            self.forget(pool_id, &current.provider.secret_ref).await;
        }
        let state = executed
            .aggregate
            .get(name)
            .cloned()
            .ok_or_else(|| not_found_in_pool(name, pool_id))?;
        self.describe_state(pool_id, state).await
    }

    pub async fn describe(&self, pool_id: &str, name: &str) -> Result<Described, ApiError> {
        self.pool_attributes(pool_id).await?;
        let state = self
            .load(pool_id)
            .await?
            .get(name)
            .cloned()
            .ok_or_else(|| not_found_for_tenant(name, pool_id))?;
        self.describe_state(pool_id, state).await
    }

    pub async fn by_identifier(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<Described, ApiError> {
        check_identifiers(std::slice::from_ref(&identifier.to_owned()))?;
        self.pool_attributes(pool_id).await?;
        let state = self
            .load(pool_id)
            .await?
            .by_identifier(identifier)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ResourceNotFoundException,
                    format!("Identity provider with identifier {identifier} does not exist."),
                )
            })?;
        self.describe_state(pool_id, state).await
    }

    pub async fn delete(
        &self,
        pool_id: &str,
        name: &str,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        self.pool_attributes(pool_id).await?;
        let command = ProviderCommand::Delete {
            provider_name: name.to_owned(),
        };
        let before = self.load(pool_id).await?.get(name).cloned();
        let executed = self
            .store
            .execute::<PoolProviders>(&stream(pool_id)?, &command, meta)
            .await;
        match executed {
            Ok(_) => {
                if let Some(before) = before {
                    self.forget(pool_id, &before.provider.secret_ref).await;
                }
                Ok(())
            }
            Err(err) if err.code == ErrorCode::ResourceNotFoundException => {
                Err(not_found_for_tenant(name, pool_id))
            }
            Err(err) => Err(err),
        }
    }

    /// A page of the pool's providers, by name.
    pub async fn list(
        &self,
        pool_id: &str,
        max_results: u32,
        next_token: Option<&str>,
    ) -> Result<(Vec<ProviderState>, Option<String>), ApiError> {
        if max_results > MAX_RESULTS {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {MAX_RESULTS}"
            )));
        }
        let limit = if max_results == 0 {
            MAX_RESULTS
        } else {
            max_results
        } as usize;
        let after = next_token
            .map(|token| {
                hex::decode(token)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| ApiError::invalid_parameter("Invalid pagination token."))
            })
            .transpose()?;
        self.pool_attributes(pool_id).await?;
        let providers = self.load(pool_id).await?;
        let mut page: Vec<ProviderState> = providers
            .providers
            .iter()
            .filter(|(name, _)| after.as_ref().is_none_or(|a| name.as_str() > a.as_str()))
            .take(limit + 1)
            .map(|(_, state)| state.clone())
            .collect();
        let next = portcullis_types::cut_page(&mut page, limit, |p| {
            hex::encode(p.provider.provider_name.as_bytes())
        });
        Ok((page, next))
    }
}

/// A sign-in's start and end, as the gRPC API answers them.
pub struct Completed {
    pub pool_id: String,
    pub provider_name: String,
    pub provider_type: String,
    pub carried: String,
    pub client_id: String,
    /// The provider's refusal (`error`, `error_description`), or who signed in.
    pub outcome: Result<(oauth::Identity, BTreeMap<String, String>), (String, String)>,
}

impl Providers {
    /// A provider of the pool with every detail, secrets included, for signing in.
    async fn for_sign_in(
        &self,
        pool_id: &str,
        name: &str,
    ) -> Result<(ProviderState, HashMap<String, String>), ApiError> {
        let state = self
            .load(pool_id)
            .await?
            .get(name)
            .cloned()
            .ok_or_else(|| {
                oauth::refused(&format!("The identity provider {name} does not exist."))
            })?;
        let state = self.with_fresh_metadata(pool_id, state).await;
        let mut all = state.provider.details.clone();
        all.extend(self.unseal(pool_id, &state.provider.secret_ref).await?);
        Ok((state, all))
    }

    pub async fn start_sign_in(
        &self,
        pool_id: &str,
        name: &str,
        client_id: &str,
        callback_url: &str,
        carried: &str,
    ) -> Result<String, ApiError> {
        let (state, details) = self.for_sign_in(pool_id, name).await?;
        let pending = Pending::new(pool_id, name, callback_url, carried, client_id);
        self.oauth
            .start(&state.provider.provider_type, &details, pending, Some(self))
            .await
    }

    pub async fn complete_sign_in(
        &self,
        state: &str,
        code: &str,
        error: Option<(String, String)>,
        callback_url: &str,
    ) -> Result<Completed, ApiError> {
        let pending = self.oauth.take(state).await?;
        if pending.callback_url != callback_url {
            return Err(oauth::refused("The sign-in came back to another domain."));
        }
        let (provider, details) = self
            .for_sign_in(&pending.pool_id, &pending.provider_name)
            .await?;
        let provider = provider.provider;
        let outcome = match error {
            Some(refusal) => Err(refusal),
            None if provider.provider_type == "SAML" => {
                let idp = crate::saml::metadata(&details, &provider.provider_name)?;
                let decryption = crate::saml::decryption_key(&details, &provider.provider_name)?;
                let identity = self
                    .oauth
                    .finish_saml(
                        &provider.provider_name,
                        (&idp, decryption.as_ref()),
                        &pending.pool_id,
                        &crate::saml::acs_url(&pending.callback_url),
                        Some(&pending.request_id),
                        code,
                    )
                    .await?;
                let attributes =
                    oauth::mapped_attributes(&provider.attribute_mapping, &identity.claims);
                Ok((identity, attributes))
            }
            None => {
                let identity = self
                    .oauth
                    .finish(
                        &provider.provider_name,
                        &provider.provider_type,
                        &details,
                        &provider.attribute_mapping,
                        &pending,
                        code,
                    )
                    .await?;
                let attributes =
                    oauth::mapped_attributes(&provider.attribute_mapping, &identity.claims);
                Ok((identity, attributes))
            }
        };
        Ok(Completed {
            pool_id: pending.pool_id,
            provider_name: provider.provider_name,
            provider_type: provider.provider_type,
            carried: pending.carried,
            client_id: pending.client_id,
            outcome,
        })
    }
}

impl Providers {
    /// A SAML response the provider posted without being asked (IdP-initiated sign-in):
    /// only where the provider's `IDPInit` is `true`; its assertion is taken once.
    pub async fn complete_unsolicited(
        &self,
        pool_id: &str,
        name: &str,
        client_id: &str,
        carried: &str,
        saml_response: &str,
        callback_url: &str,
    ) -> Result<Completed, ApiError> {
        let (provider, details) = self.for_sign_in(pool_id, name).await?;
        let provider = provider.provider;
        let allowed =
            provider.provider_type == "SAML" && details.get("IDPInit").is_some_and(|v| v == "true");
        if !allowed {
            return Err(oauth::refused(&format!(
                "Sign-in started at the identity provider {name} is not allowed."
            )));
        }
        let idp = crate::saml::metadata(&details, name)?;
        let decryption = crate::saml::decryption_key(&details, name)?;
        let identity = self
            .oauth
            .finish_saml(
                name,
                (&idp, decryption.as_ref()),
                pool_id,
                &crate::saml::acs_url(callback_url),
                None,
                saml_response,
            )
            .await?;
        let attributes = oauth::mapped_attributes(&provider.attribute_mapping, &identity.claims);
        Ok(Completed {
            pool_id: pool_id.to_owned(),
            provider_name: provider.provider_name,
            provider_type: provider.provider_type,
            carried: carried.to_owned(),
            client_id: client_id.to_owned(),
            outcome: Ok((identity, attributes)),
        })
    }
}

impl Providers {
    /// Single logout at a SAML provider whose `IDPSignout` is on: the URL to send the
    /// browser to, or `None` when the provider does no single logout.
    #[allow(clippy::too_many_arguments)]
    pub async fn start_logout(
        &self,
        pool_id: &str,
        name: &str,
        name_id: &str,
        session_index: &str,
        callback_url: &str,
        carried: &str,
    ) -> Result<Option<String>, ApiError> {
        let Ok((provider, details)) = self.for_sign_in(pool_id, name).await else {
            return Ok(None);
        };
        let slo = details
            .get("SLORedirectBindingURI")
            .cloned()
            .unwrap_or_default();
        let signs_out = provider.provider.provider_type == "SAML"
            && details.get("IDPSignout").is_some_and(|v| v == "true")
            && !slo.is_empty()
            && !name_id.is_empty();
        if !signs_out {
            return Ok(None);
        }
        let state = oauth::random_token(32)?;
        let mut pending = Pending::new(pool_id, name, callback_url, carried, "");
        pending.request_id = format!("_{}", hex::encode(oauth::random_token(16)?));
        let url = crate::saml::logout_request_url(
            pool_id,
            &slo,
            &pending.request_id,
            name_id,
            session_index,
            &state,
            time::OffsetDateTime::now_utc(),
            self,
        )
        .await?;
        self.oauth.keep(&state, &pending).await?;
        Ok(Some(url))
    }

    /// A `LogoutRequest` a provider sent (the user signed out there): from the pool's
    /// SAML provider whose entity id issued it and whose `IDPSignout` is on, signed by
    /// it. Returns the provider's name, the `NameID` to sign out, and the URL of the
    /// signed answer to send the browser to.
    pub async fn receive_logout(
        &self,
        pool_id: &str,
        query: &str,
    ) -> Result<(String, String, String), ApiError> {
        let refused = |why: &str| {
            tracing::info!(why, "SAML logout request refused");
            oauth::refused("The logout request was refused.")
        };
        // SAML providers need no sealed secrets: their details are all in the log.
        let providers = self.load(pool_id).await?;
        let mut answer = None;
        for state in providers.providers.values() {
            let provider = &state.provider;
            let details = &provider.details;
            let signs_out = details.get("IDPSignout").is_some_and(|v| v == "true");
            let slo = details
                .get("SLORedirectBindingURI")
                .cloned()
                .unwrap_or_default();
            if provider.provider_type != "SAML" || !signs_out || slo.is_empty() {
                continue;
            }
            let Ok(idp) = crate::saml::metadata(details, &provider.provider_name) else {
                continue;
            };
            // Each candidate verifies with its own keys; only the issuer's can pass.
            if let Ok(request) = crate::saml::read_logout_request(query, &idp)
                && request.issuer == idp.entity_id
            {
                answer = Some((provider.provider_name.clone(), slo, request));
                break;
            }
        }
        let Some((name, slo, request)) = answer else {
            return Err(refused("no provider of the pool sent and signed it"));
        };
        let url = crate::saml::logout_response_url(
            pool_id,
            &slo,
            &request.id,
            &request.relay_state,
            time::OffsetDateTime::now_utc(),
            self,
        )
        .await?;
        Ok((name, request.name_id, url))
    }

    /// The provider's `LogoutResponse`: where the browser goes next.
    pub async fn complete_logout(
        &self,
        state: &str,
        saml_response: &str,
    ) -> Result<String, ApiError> {
        let pending = self.oauth.take(state).await?;
        if let Err(why) = crate::saml::read_logout_response(saml_response, &pending.request_id) {
            tracing::info!(
                provider = pending.provider_name,
                why,
                "SAML logout response refused"
            );
            return Err(oauth::refused(&format!(
                "The identity provider {} returned an invalid answer.",
                pending.provider_name
            )));
        }
        Ok(pending.carried)
    }
}

impl Providers {
    /// The pool's SAML service-provider metadata for a domain (see
    /// [`crate::saml::sp_metadata`]); with `provider_name`, that SAML provider's own view:
    /// its encryption certificate while `EncryptedResponses` is on, and whether its
    /// requests are signed.
    pub async fn service_provider_metadata(
        &self,
        pool_id: &str,
        base_url: &str,
        provider_name: &str,
    ) -> Result<String, ApiError> {
        let signing = self
            .directory
            .clone()
            .get_signing_certificate(dir::GetSigningCertificateRequest {
                pool_id: pool_id.to_owned(),
            })
            .await
            .map_err(ApiError::from)?
            .into_inner()
            .certificate;
        let (mut requests_signed, mut encryption) = (false, None);
        if !provider_name.is_empty() {
            let state = self
                .load(pool_id)
                .await?
                .get(provider_name)
                .cloned()
                .filter(|state| state.provider.provider_type == "SAML")
                .ok_or_else(|| not_found_in_pool(provider_name, pool_id))?;
            let details = &state.provider.details;
            requests_signed = details.contains_key("RequestSigningAlgorithm");
            if details
                .get("EncryptedResponses")
                .is_some_and(|v| v == "true")
            {
                let secret = self.unseal(pool_id, &state.provider.secret_ref).await?;
                encryption = secret.get(details::ENCRYPTION_CERTIFICATE).cloned();
            }
        }
        Ok(crate::saml::sp_metadata(
            pool_id,
            base_url,
            &signing,
            requests_signed,
            encryption.as_deref(),
        ))
    }
}

#[async_trait::async_trait]
impl oauth::RequestSigner for Providers {
    async fn sign(&self, pool_id: &str, data: &[u8]) -> Result<Vec<u8>, ApiError> {
        let signed = self
            .directory
            .clone()
            .sign_with_pool_key(dir::SignWithPoolKeyRequest {
                pool_id: pool_id.to_owned(),
                data: data.to_vec(),
            })
            .await
            .map_err(ApiError::from)?;
        Ok(signed.into_inner().signature)
    }
}

/// An update's details without the secret keep the provider's secret: Describe never
/// shows Apple's private key, so a read-modify-write of the details could not send it.
fn with_kept_secrets(
    given: &HashMap<String, String>,
    secret: &BTreeMap<String, String>,
) -> HashMap<String, String> {
    let mut all = given.clone();
    for (key, value) in secret {
        all.entry(key.clone()).or_insert_with(|| value.clone());
    }
    all
}

fn not_found_in_pool(name: &str, pool_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        format!("Identity provider {name} in User Pool {pool_id} does not exist."),
    )
}

fn not_found_for_tenant(name: &str, pool_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        format!("Identity provider {name} for tenantId {pool_id} does not exist."),
    )
}
