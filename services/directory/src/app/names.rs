//! The unique names a user holds, as claim keys: the user name (or, where an email or
//! phone number is the user name, those attributes) and the pool's active aliases (a
//! verified email or phone number, a preferred user name). Every command that can
//! change them goes through [`Directory::execute_named`], which claims the names the
//! command will add before appending and frees the ones it removed after.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::events::v1::{Attribute, UserPoolSettings};
use portcullis_types::{Email, PhoneNumber, Username};

use super::claims::{ClaimOutcome, name_key};
use super::{AggregateStore, CommandMeta, Directory, user_not_found};
use crate::domain::user::{User, UserCommand, UserState, UserStatus, Writer};
use crate::domain::{Aggregate, Ctx};

/// The unique form of a sign-in name: case folded unless the pool is case sensitive;
/// email addresses always compare case-insensitively.
pub(super) fn unique_name(settings: &UserPoolSettings, name: &Username) -> String {
    let is_email =
        settings.username_attributes.iter().any(|a| a == "email") && name.as_str().contains('@');
    name.unique_key(settings.username_case_sensitive && !is_email)
}

fn alias_key(pool_id: &str, settings: &UserPoolSettings, attribute: &str, value: &str) -> String {
    let folded = match attribute {
        "email" => value.to_lowercase(),
        "preferred_username" if !settings.username_case_sensitive => value.to_lowercase(),
        _ => value.to_owned(),
    };
    format!("{pool_id}/alias/{attribute}/{folded}")
}

fn is_alias_key(key: &str) -> bool {
    key.contains("/alias/")
}

/// Every claim key `user` holds in a pool with `settings`.
pub(super) fn claimed_keys(settings: &UserPoolSettings, user: &UserState) -> Vec<String> {
    if user.status == UserStatus::ExternalProvider {
        // A federated user is named by its provider and subject only: the address the
        // provider vouches for is never another account's sign-in name or alias.
        return Username::parse(&user.username)
            .ok()
            .map(|name| name_key(&user.pool_id, &unique_name(settings, &name)))
            .into_iter()
            .collect();
    }
    let mut names = Vec::new();
    if settings.username_attributes.is_empty() {
        names.push(user.username.clone());
    }
    for attribute in &settings.username_attributes {
        if let Some(value) = user.attribute(attribute) {
            names.push(value.to_owned());
        }
    }
    let mut keys: Vec<String> = names
        .into_iter()
        .filter_map(|name| Username::parse(&name).ok())
        .map(|name| name_key(&user.pool_id, &unique_name(settings, &name)))
        .collect();
    for attribute in &settings.alias_attributes {
        let active = match attribute.as_str() {
            "email" | "phone_number" => {
                user.attribute(&format!("{attribute}_verified")) == Some("true")
            }
            _ => true,
        };
        if let Some(value) = user
            .attribute(attribute)
            .filter(|v| active && !v.is_empty())
        {
            keys.push(alias_key(&user.pool_id, settings, attribute, value));
        }
    }
    keys
}

/// The claim keys under which `name` may be found, in the order sign-in tries them.
pub(super) fn lookup_keys(
    pool_id: &str,
    settings: &UserPoolSettings,
    name: &Username,
) -> Vec<String> {
    let mut keys = vec![name_key(pool_id, &unique_name(settings, name))];
    for attribute in &settings.alias_attributes {
        let plausible = match attribute.as_str() {
            "email" => Email::parse(name.as_str()).is_ok(),
            "phone_number" => PhoneNumber::parse(name.as_str()).is_ok(),
            _ => true,
        };
        if plausible {
            keys.push(alias_key(pool_id, settings, attribute, name.as_str()));
        }
    }
    keys
}

/// In alias pools a user name may not look like the alias it would shadow.
pub(super) fn check_username_format(
    settings: &UserPoolSettings,
    username: &str,
) -> Result<(), ApiError> {
    let aliases = &settings.alias_attributes;
    if aliases.iter().any(|a| a == "email") && Email::parse(username).is_ok() {
        return Err(ApiError::invalid_parameter(
            "Username cannot be of email format, since user pool is configured for email alias.",
        ));
    }
    if aliases.iter().any(|a| a == "phone_number") && PhoneNumber::parse(username).is_ok() {
        return Err(ApiError::invalid_parameter(
            "Username cannot be of phone number format, since user pool is configured for phone number alias.",
        ));
    }
    Ok(())
}

fn taken(settings: &UserPoolSettings, key: &str) -> ApiError {
    if is_alias_key(key) {
        return ApiError::new(
            ErrorCode::AliasExistsException,
            "An account with the given email already exists.",
        )
        .with_alias_attribute(key);
    }
    let message = if settings.username_attributes.iter().any(|a| a == "email") {
        "An account with the given email already exists."
    } else if settings
        .username_attributes
        .iter()
        .any(|a| a == "phone_number")
    {
        "An account with the given phone_number already exists."
    } else {
        "User already exists"
    };
    ApiError::new(ErrorCode::UsernameExistsException, message)
}

trait AliasMessage {
    fn with_alias_attribute(self, key: &str) -> Self;
}

impl AliasMessage for ApiError {
    /// Names the alias attribute the way Cognito's message does.
    fn with_alias_attribute(mut self, key: &str) -> Self {
        if let Some(attribute) = key.split('/').nth(2) {
            self.message = format!("An account with the given {attribute} already exists.");
        }
        self
    }
}

impl Directory {
    /// Runs `command` on the user stream `<pool>/user/<sub>`, keeping the names the user
    /// holds unique. With `force_alias`, a verified email or phone number another user
    /// holds as an alias moves to this user, and the other user's becomes unverified.
    pub(super) async fn execute_named(
        &self,
        pool_id: &str,
        sub: &str,
        settings: &UserPoolSettings,
        command: &UserCommand,
        force_alias: bool,
        meta: &CommandMeta,
    ) -> Result<Option<UserState>, ApiError> {
        let stream = AggregateStore::stream::<User>(pool_id, sub).map_err(|_| user_not_found())?;
        let before = self.store.load::<User>(&stream).await?.aggregate;
        // What the command would leave, to claim new names before appending. A
        // concurrent change decided differently only leaves a claim to release later
        // (or an orphan the next claimant takes over).
        let ctx = Ctx {
            now_ms: self.store.now_ms(),
        };
        let mut projected = before.clone();
        for event in before.decide(command, &ctx)? {
            projected.evolve(&event, ctx.now_ms);
        }
        let keys = |user: &User| {
            user.state
                .as_ref()
                .map(|s| claimed_keys(settings, s))
                .unwrap_or_default()
        };
        let (old_keys, new_keys) = (keys(&before), keys(&projected));
        let mut held = Vec::new();
        let mut displaced = Vec::new();
        for key in new_keys.iter().filter(|k| !old_keys.contains(k)) {
            match self.claims.claim(pool_id, key, sub).await? {
                ClaimOutcome::Held(claim) => held.push(claim),
                ClaimOutcome::Taken if force_alias && movable(key) => {
                    if let Some(previous) = self.claims.take_over(key, sub).await? {
                        displaced.push((previous, key.clone()));
                    }
                }
                ClaimOutcome::Taken => {
                    for claim in held {
                        self.claims.release(claim).await;
                    }
                    return Err(taken(settings, key));
                }
            }
        }
        let done = match self.store.execute::<User>(&stream, command, meta).await {
            Ok(done) => done,
            Err(err) => {
                for claim in held {
                    self.claims.release(claim).await;
                }
                return Err(err);
            }
        };
        let after = keys(&done.aggregate);
        for key in old_keys.iter().filter(|k| !after.contains(k)) {
            self.claims.release_owned(key, sub).await?;
        }
        for (previous, key) in displaced {
            let attribute = key.split('/').nth(2).unwrap_or_default();
            let unverify = UserCommand::UpdateAttributes {
                pool: Box::new(settings.clone()),
                attributes: vec![Attribute {
                    name: format!("{attribute}_verified"),
                    value: "false".into(),
                }],
                writer: Writer::Admin,
            };
            let stream = AggregateStore::stream::<User>(pool_id, &previous)?;
            if let Err(err) = self
                .store
                .execute::<User>(&stream, &unverify, &meta.follow_up())
                .await
            {
                tracing::warn!(error = %err, "could not unverify a displaced alias");
            }
        }
        Ok(done.aggregate.state)
    }
}

/// Only verified emails and phone numbers move to a new owner when forced.
fn movable(key: &str) -> bool {
    key.contains("/alias/email/") || key.contains("/alias/phone_number/")
}
