//! Users who sign in through a pool's identity provider: created on their first
//! sign-in as `<ProviderName>_<subject>`, `EXTERNAL_PROVIDER`, with the `identities`
//! attribute and in the automatic `<pool>_<ProviderName>` group; their mapped
//! attributes brought up to date on every sign-in.
//!
//! A provider's user can instead be linked to an existing user
//! (`AdminLinkProviderForUser`): the link is an entry of that user's `identities`
//! (`primary: false`), found at sign-in through a claim
//! `<pool>/link/<provider>/<attribute>/<hex of the value>` naming the user's sub. The
//! user's entry is the truth: a claim whose user is gone or no longer has the entry
//! links nobody.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::events::v1::Attribute;
use serde_json::{Value, json};

use super::claims::OwnedClaim;
use super::groups::NewGroup;
use super::{CommandMeta, Directory};
use crate::domain::user::{UserState, UserStatus, Writer};

/// The attribute naming a provider's user by its subject.
pub const SUBJECT: &str = "Cognito_Subject";
/// Cognito's limit of identities linked to one user.
pub const MAX_LINKS: usize = 5;

/// A provider's user as `AdminLinkProviderForUser` names it.
pub struct ProviderUser {
    pub provider_name: String,
    pub provider_type: String,
    /// `Cognito_Subject`, or an attribute whose value identifies the user.
    pub attribute: String,
    pub value: String,
}

fn link_key(pool_id: &str, provider: &str, attribute: &str, value: &str) -> String {
    format!(
        "{pool_id}/link/{}/{}/{}",
        hex::encode(provider),
        hex::encode(attribute),
        hex::encode(value)
    )
}

/// A user's `identities` entries.
fn identity_entries(user: &UserState) -> Vec<Value> {
    user.attribute("identities")
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

fn is_link_of(entry: &Value, provider: &str, value: &str) -> bool {
    entry["providerName"] == provider && entry["userId"] == value && entry["primary"] == false
}

/// Who a provider says signed in.
pub struct FederatedSignIn {
    pub provider_name: String,
    pub provider_type: String,
    /// The ID token's issuer; empty for providers without ID tokens.
    pub issuer: String,
    pub subject: String,
    /// User-pool attributes, by the provider's attribute mapping.
    pub attributes: Vec<Attribute>,
}

/// The `identities` attribute of a user created by a provider: a JSON array, as
/// Cognito writes it.
pub fn identities(sign_in: &FederatedSignIn, now_ms: i64) -> String {
    let issuer = if sign_in.issuer.is_empty() {
        serde_json::Value::Null
    } else {
        json!(sign_in.issuer)
    };
    json!([{
        "userId": sign_in.subject,
        "providerName": sign_in.provider_name,
        "providerType": sign_in.provider_type,
        "issuer": issuer,
        "primary": true,
        "dateCreated": now_ms,
    }])
    .to_string()
}

impl Directory {
    /// The user a federated sign-in names, created or brought up to date.
    /// With `existing_only`, a sign-in that would create the user fails with
    /// `UserNotFoundException` instead (so that pre sign-up can run first).
    pub async fn provision_federated_user(
        &self,
        pool_id: &str,
        sign_in: FederatedSignIn,
        existing_only: bool,
        meta: &CommandMeta,
    ) -> Result<UserState, ApiError> {
        if let Some(user) = self.linked_user(pool_id, &sign_in).await? {
            if !user.enabled {
                return Err(ApiError::new(
                    ErrorCode::NotAuthorizedException,
                    "User is disabled.",
                ));
            }
            return Ok(user);
        }
        let username = format!("{}_{}", sign_in.provider_name, sign_in.subject);
        match self.user_by_name(pool_id, &username).await {
            Ok(user) => {
                if !user.enabled {
                    return Err(ApiError::new(
                        ErrorCode::NotAuthorizedException,
                        "User is disabled.",
                    ));
                }
                let changed: Vec<Attribute> = sign_in
                    .attributes
                    .into_iter()
                    .filter(|a| user.attribute(&a.name) != Some(a.value.as_str()))
                    .collect();
                if changed.is_empty() {
                    return Ok(user);
                }
                self.update_user_attributes(pool_id, &user.sub, changed, Writer::Admin, meta)
                    .await
            }
            Err(err) if err.code == ErrorCode::UserNotFoundException && existing_only => Err(err),
            Err(err) if err.code == ErrorCode::UserNotFoundException => {
                let mut attributes = sign_in.attributes.clone();
                attributes.retain(|a| a.name != "identities");
                attributes.push(Attribute {
                    name: "identities".into(),
                    value: identities(&sign_in, self.store.now_ms()),
                });
                let sub = uuid::Uuid::new_v4().to_string();
                let user = self
                    .create_user(
                        pool_id,
                        &sub,
                        &username,
                        attributes,
                        UserStatus::ExternalProvider,
                        false,
                        meta,
                    )
                    .await?;
                let group = format!("{pool_id}_{}", sign_in.provider_name);
                let created = self
                    .create_group(
                        pool_id,
                        NewGroup {
                            name: group.clone(),
                            description: format!(
                                "Autogenerated group for users who sign in using {}",
                                sign_in.provider_name
                            ),
                            role_arn: String::new(),
                            precedence: None,
                        },
                        // Each further write is a command of its own (the log takes a
                        // repeated command id for a retry).
                        &meta.follow_up(),
                    )
                    .await;
                match created {
                    Ok(_) => {}
                    Err(err) if err.code == ErrorCode::GroupExistsException => {}
                    Err(err) => return Err(err),
                }
                self.add_user_to_group(pool_id, &user.sub, &group, &meta.follow_up())
                    .await
            }
            Err(err) => Err(err),
        }
    }
}

impl Directory {
    /// The user a provider's user was linked to: by its subject, or by one of the
    /// attributes it brings.
    async fn linked_user(
        &self,
        pool_id: &str,
        sign_in: &FederatedSignIn,
    ) -> Result<Option<UserState>, ApiError> {
        let by_subject = std::iter::once((SUBJECT, sign_in.subject.as_str()));
        let by_attribute = sign_in
            .attributes
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_str()));
        for (attribute, value) in by_subject.chain(by_attribute) {
            let key = link_key(pool_id, &sign_in.provider_name, attribute, value);
            let Some(owner) = self.claims.owner(&key).await? else {
                continue;
            };
            match self.user_by_sub(pool_id, &owner).await {
                Ok(user)
                    if identity_entries(&user)
                        .iter()
                        .any(|e| is_link_of(e, &sign_in.provider_name, value)) =>
                {
                    return Ok(Some(user));
                }
                Ok(_) => {}
                Err(err) if err.code == ErrorCode::UserNotFoundException => {}
                Err(err) => return Err(err),
            }
        }
        Ok(None)
    }

    /// AdminLinkProviderForUser: `source` signs in as the user `destination` names.
    pub async fn link_provider_for_user(
        &self,
        pool_id: &str,
        destination: &str,
        source: ProviderUser,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let user = self.user_by_name(pool_id, destination).await?;
        if source.attribute == SUBJECT {
            let federated = format!("{}_{}", source.provider_name, source.value);
            match self.user_by_name(pool_id, &federated).await {
                Ok(_) => {
                    return Err(ApiError::invalid_parameter(
                        "Merging is not currently supported, provide a SourceUser that has not been signed up in order to link",
                    ));
                }
                Err(err) if err.code == ErrorCode::UserNotFoundException => {}
                Err(err) => return Err(err),
            }
        }
        let mut entries = identity_entries(&user);
        if entries
            .iter()
            .any(|e| is_link_of(e, &source.provider_name, &source.value))
        {
            return Err(ApiError::invalid_parameter(
                "SourceUser is already linked to DestinationUser",
            ));
        }
        if entries.iter().filter(|e| e["primary"] == false).count() >= MAX_LINKS {
            return Err(ApiError::new(
                ErrorCode::LimitExceededException,
                format!("A user can be linked to at most {MAX_LINKS} identities."),
            ));
        }
        let key = link_key(
            pool_id,
            &source.provider_name,
            &source.attribute,
            &source.value,
        );
        let held = match self.claims.claim_owned(&key, &user.sub).await? {
            OwnedClaim::Created(held) => Some(held),
            OwnedClaim::Ours => None,
            OwnedClaim::Other { owner, .. } => {
                // Taken over when its owner no longer has the link (deleted, unlinked
                // half way).
                let current = match self.user_by_sub(pool_id, &owner).await {
                    Ok(other) => identity_entries(&other)
                        .iter()
                        .any(|e| is_link_of(e, &source.provider_name, &source.value)),
                    Err(err) if err.code == ErrorCode::UserNotFoundException => false,
                    Err(err) => return Err(err),
                };
                if current {
                    return Err(ApiError::invalid_parameter(
                        "SourceUser is already linked to another user",
                    ));
                }
                self.claims.take_over(&key, &user.sub).await?;
                None
            }
        };
        entries.push(json!({
            "userId": source.value,
            "providerName": source.provider_name,
            "providerType": source.provider_type,
            "issuer": null,
            "primary": false,
            "dateCreated": self.store.now_ms(),
        }));
        let identities = Attribute {
            name: "identities".into(),
            value: Value::Array(entries).to_string(),
        };
        let updated = self
            .update_user_attributes(pool_id, &user.sub, vec![identities], Writer::Admin, meta)
            .await;
        if let Err(err) = updated {
            if let Some(held) = held {
                self.claims.release(held).await;
            }
            return Err(err);
        }
        Ok(())
    }

    /// AdminDisableProviderForUser: a linked provider's user no longer signs in as the
    /// user it was linked to; a provider's own user can no longer sign in.
    pub async fn disable_provider_for_user(
        &self,
        pool_id: &str,
        source: ProviderUser,
        meta: &CommandMeta,
    ) -> Result<(), ApiError> {
        let key = link_key(
            pool_id,
            &source.provider_name,
            &source.attribute,
            &source.value,
        );
        if let Some(owner) = self.claims.owner(&key).await? {
            match self.user_by_sub(pool_id, &owner).await {
                Ok(user) => {
                    let entries = identity_entries(&user);
                    let kept: Vec<Value> = entries
                        .iter()
                        .filter(|e| !is_link_of(e, &source.provider_name, &source.value))
                        .cloned()
                        .collect();
                    if kept.len() != entries.len() {
                        if kept.is_empty() {
                            self.delete_user_attributes(
                                pool_id,
                                &user.sub,
                                vec!["identities".into()],
                                Writer::Admin,
                                meta,
                            )
                            .await?;
                        } else {
                            let identities = Attribute {
                                name: "identities".into(),
                                value: Value::Array(kept).to_string(),
                            };
                            self.update_user_attributes(
                                pool_id,
                                &user.sub,
                                vec![identities],
                                Writer::Admin,
                                meta,
                            )
                            .await?;
                        }
                        self.claims.release_owned(&key, &owner).await?;
                        return Ok(());
                    }
                }
                Err(err) if err.code == ErrorCode::UserNotFoundException => {}
                Err(err) => return Err(err),
            }
            self.claims.release_owned(&key, &owner).await?;
        }
        if source.attribute == SUBJECT {
            let federated = format!("{}_{}", source.provider_name, source.value);
            match self.user_by_name(pool_id, &federated).await {
                Ok(user) if user.status == UserStatus::ExternalProvider => {
                    self.set_user_enabled(pool_id, &federated, false, meta)
                        .await?;
                    return Ok(());
                }
                Ok(_) => {}
                Err(err) if err.code == ErrorCode::UserNotFoundException => {}
                Err(err) => return Err(err),
            }
        }
        Err(ApiError::new(
            ErrorCode::UserNotFoundException,
            "User does not exist.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_a_json_array_as_cognito_writes_it() {
        let sign_in = FederatedSignIn {
            provider_name: "Google".into(),
            provider_type: "Google".into(),
            issuer: String::new(),
            subject: "1234".into(),
            attributes: vec![],
        };
        let value: serde_json::Value =
            serde_json::from_str(&identities(&sign_in, 1_700_000_000_000)).unwrap();
        assert_eq!(
            value,
            json!([{"userId": "1234", "providerName": "Google", "providerType": "Google",
                    "issuer": null, "primary": true, "dateCreated": 1_700_000_000_000_i64}])
        );
    }
}
