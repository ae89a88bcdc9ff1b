//! The user aggregate.

use portcullis_proto::events::v1::{
    Attribute, MfaOption, UserAddedToGroup, UserAttributeUpdatePending, UserAttributesDeleted,
    UserAttributesUpdated, UserConfirmed, UserDeleted, UserDisabled, UserEnabled,
    UserPasswordChanged, UserPasswordResetRequired, UserPoolSettings, UserRemovedFromGroup,
    UserSessionRevoked, UserSettingsChanged, UserSignedOut, UserSignedUp,
};
use portcullis_types::{Email, PhoneNumber};

use super::device::{self, DeviceCommand, DeviceState};
use super::{Aggregate, ApiError, Ctx, ErrorCode, Event};

/// Cognito's quota of groups a user can belong to.
pub const MAX_GROUPS_PER_USER: usize = 100;

#[derive(Debug, Default, Clone)]
pub struct User {
    pub state: Option<UserState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Unconfirmed,
    Confirmed,
    ForceChangePassword,
    ResetRequired,
    ExternalProvider,
}

impl UserStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            UserStatus::Unconfirmed => "UNCONFIRMED",
            UserStatus::Confirmed => "CONFIRMED",
            UserStatus::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            UserStatus::ResetRequired => "RESET_REQUIRED",
            UserStatus::ExternalProvider => "EXTERNAL_PROVIDER",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "UNCONFIRMED" => UserStatus::Unconfirmed,
            "CONFIRMED" => UserStatus::Confirmed,
            "FORCE_CHANGE_PASSWORD" => UserStatus::ForceChangePassword,
            "RESET_REQUIRED" => UserStatus::ResetRequired,
            "EXTERNAL_PROVIDER" => UserStatus::ExternalProvider,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct UserState {
    pub pool_id: String,
    pub sub: String,
    pub username: String,
    pub attributes: Vec<Attribute>,
    pub status: UserStatus,
    pub enabled: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// When the current password was set (a temporary password expires from here).
    pub password_set_ms: i64,
    /// Group names, in the order the user joined them.
    pub groups: Vec<String>,
    pub mfa_options: Vec<MfaOption>,
    /// New values waiting for verification (`AttributesRequireVerificationBeforeUpdate`).
    pub pending: Vec<Attribute>,
    /// Sessions started before this instant are signed out (0: never signed out).
    pub signed_out_ms: i64,
    /// Revoked sessions (`origin_jti`) and when each would have expired anyway.
    pub revoked_sessions: Vec<(String, i64)>,
    /// Tracked devices, in the order they were confirmed.
    pub devices: Vec<DeviceState>,
    /// MFA factors turned on (SMS_MFA, SOFTWARE_TOKEN_MFA, EMAIL_OTP).
    pub mfa_enabled: Vec<String>,
    /// One of `mfa_enabled`, or empty.
    pub preferred_mfa: String,
    pub software_token_verified: bool,
}

impl UserState {
    fn set_attribute(&mut self, name: &str, value: &str) {
        match self.attributes.iter_mut().find(|a| a.name == name) {
            Some(existing) => value.clone_into(&mut existing.value),
            None => self.attributes.push(Attribute {
                name: name.to_owned(),
                value: value.to_owned(),
            }),
        }
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }
}

/// Who changes a user's attributes: an administrator may set verification flags and
/// developer-only attributes, the user may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Admin,
    User,
}

pub enum UserCommand {
    /// Creates the user. `pool` is the pool's settings at the time of the command, so
    /// the decision is checked against the schema the pool has.
    SignUp {
        pool_id: String,
        pool: Box<UserPoolSettings>,
        sub: String,
        username: String,
        attributes: Vec<Attribute>,
        /// UNCONFIRMED or CONFIRMED for a sign-up, FORCE_CHANGE_PASSWORD for a user an
        /// administrator created with a temporary password.
        status: UserStatus,
    },
    /// Confirms the user: by an administrator, or with a code sent to
    /// `verified_attribute`, which the code then proves too.
    Confirm {
        verified_attribute: Option<String>,
    },
    /// Records a password change made by authn-flow (which owns credentials), and the
    /// status it leads to.
    RecordPasswordChange {
        method: String,
        status: Option<UserStatus>,
    },
    /// An administrator requires a new password (status RESET_REQUIRED).
    RequirePasswordReset,
    UpdateAttributes {
        pool: Box<UserPoolSettings>,
        attributes: Vec<Attribute>,
        writer: Writer,
    },
    DeleteAttributes {
        pool: Box<UserPoolSettings>,
        names: Vec<String>,
        writer: Writer,
    },
    /// A code sent to `email` or `phone_number` was redeemed: the attribute is verified.
    VerifyAttribute {
        name: String,
    },
    AddToGroup(String),
    RemoveFromGroup(String),
    SetSettings(Vec<MfaOption>),
    /// SetUserMFAPreference: each factor given is turned on or off (absent: unchanged).
    SetMfaPreference {
        sms: Option<portcullis_proto::directory::v1::MfaSetting>,
        software_token: Option<portcullis_proto::directory::v1::MfaSetting>,
        email: Option<portcullis_proto::directory::v1::MfaSetting>,
    },
    /// authn-flow verified a TOTP authenticator; `enable` also turns SOFTWARE_TOKEN_MFA
    /// on (an MFA_SETUP challenge), preferred when nothing else is.
    RecordSoftwareTokenVerified {
        friendly_device_name: String,
        enable: bool,
    },
    /// Global sign-out (`origin_jti` None) or the revocation of one session, remembered
    /// until `expires_ms`.
    RevokeSessions {
        origin_jti: Option<String>,
        expires_ms: i64,
        reason: String,
    },
    /// Enables or disables sign-in; setting the state the user already has is a no-op.
    SetEnabled(bool),
    Delete,
    /// Confirms, updates, forgets or records a sign-in of one of the user's devices.
    Device(DeviceCommand),
}

impl Aggregate for User {
    const KIND: &'static str = "user";
    type Command = UserCommand;

    fn decide(&self, command: &UserCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match command {
            UserCommand::SignUp {
                pool_id,
                pool,
                sub,
                username,
                attributes,
                status,
            } => {
                if self.state.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::UsernameExistsException,
                        "User already exists",
                    ));
                }
                // Only an administrator creating a user may set developer-only attributes.
                let writer = if *status == UserStatus::ForceChangePassword {
                    Writer::Admin
                } else {
                    Writer::User
                };
                let federated = *status == UserStatus::ExternalProvider;
                let attributes = sign_up_attributes(
                    pool,
                    (!federated).then_some(username.as_str()),
                    &canonical_attributes(pool, attributes),
                    writer,
                )?;
                // With an email or phone number as user name, the internal name is the
                // sub; a federated user keeps its `<Provider>_<subject>`.
                let internal = if pool.username_attributes.is_empty() || federated {
                    username.clone()
                } else {
                    sub.clone()
                };
                let origin = if *status == UserStatus::ForceChangePassword {
                    "ADMIN_CREATE"
                } else {
                    "SIGN_UP"
                };
                Ok(vec![Event::UserSignedUp(UserSignedUp {
                    pool_id: pool_id.clone(),
                    sub: sub.clone(),
                    username: internal,
                    attributes,
                    status: status.as_str().into(),
                    origin: origin.into(),
                })])
            }
            UserCommand::Device(command) => device::decide(&self.existing()?.devices, command),
            UserCommand::SetEnabled(enabled) => {
                let state = self.existing()?;
                Ok(match (state.enabled, enabled) {
                    (true, false) => vec![Event::UserDisabled(UserDisabled {})],
                    (false, true) => vec![Event::UserEnabled(UserEnabled {})],
                    _ => Vec::new(),
                })
            }
            UserCommand::Delete => {
                self.existing()?;
                Ok(vec![Event::UserDeleted(UserDeleted {})])
            }
            UserCommand::RecordPasswordChange { method, status } => {
                let state = self.existing()?;
                // Replacing a forgotten or reset password leaves an unconfirmed user
                // unconfirmed; from RESET_REQUIRED it confirms the user again.
                let status = match status {
                    Some(status) => Some(*status),
                    None if state.status == UserStatus::ResetRequired => {
                        Some(UserStatus::Confirmed)
                    }
                    None => None,
                };
                Ok(vec![Event::UserPasswordChanged(UserPasswordChanged {
                    method: method.clone(),
                    status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                })])
            }
            UserCommand::RequirePasswordReset => {
                let state = self.existing()?;
                if state.status == UserStatus::ExternalProvider {
                    return Err(ApiError::not_authorized(
                        "Password reset is not allowed for users of an external provider.",
                    ));
                }
                Ok(vec![Event::UserPasswordResetRequired(
                    UserPasswordResetRequired {},
                )])
            }
            UserCommand::Confirm { verified_attribute } => {
                let state = self.existing()?;
                if state.status != UserStatus::Unconfirmed {
                    return Err(ApiError::not_authorized(format!(
                        "User cannot be confirmed. Current status is {}",
                        state.status.as_str()
                    )));
                }
                if let Some(name) = verified_attribute
                    && !matches!(name.as_str(), "email" | "phone_number")
                {
                    return Err(ApiError::invalid_parameter(format!(
                        "{name} cannot be verified."
                    )));
                }
                Ok(vec![Event::UserConfirmed(UserConfirmed {
                    method: if verified_attribute.is_some() {
                        "CODE"
                    } else {
                        "ADMIN"
                    }
                    .into(),
                    verified_attribute: verified_attribute.clone().unwrap_or_default(),
                })])
            }
            UserCommand::UpdateAttributes {
                pool,
                attributes,
                writer,
            } => {
                let state = self.existing()?;
                let attributes = &canonical_attributes(pool, attributes);
                let changed = attribute_updates(pool, state, attributes, *writer)?;
                let (mut pending, now): (Vec<Attribute>, Vec<Attribute>) = changed
                    .into_iter()
                    .partition(|a| held_for_verification(pool, state, attributes, *writer, a));
                // The current value stays verified; the flag changes when the new one is.
                pending.retain(|a| !a.name.ends_with("_verified"));
                let mut events = Vec::new();
                if !now.is_empty() {
                    events.push(Event::UserAttributesUpdated(UserAttributesUpdated {
                        attributes: now,
                    }));
                }
                if !pending.is_empty() {
                    events.push(Event::UserAttributeUpdatePending(
                        UserAttributeUpdatePending {
                            attributes: pending,
                        },
                    ));
                }
                Ok(events)
            }
            UserCommand::DeleteAttributes {
                pool,
                names,
                writer,
            } => {
                let state = self.existing()?;
                let names: Vec<String> = names.iter().map(|n| canonical(pool, n)).collect();
                let names = attribute_deletions(pool, state, &names, *writer)?;
                Ok(if names.is_empty() {
                    Vec::new()
                } else {
                    vec![Event::UserAttributesDeleted(UserAttributesDeleted {
                        names,
                    })]
                })
            }
            UserCommand::VerifyAttribute { name } => {
                let state = self.existing()?;
                if !matches!(name.as_str(), "email" | "phone_number") {
                    return Err(ApiError::invalid_parameter(format!(
                        "{name} cannot be verified."
                    )));
                }
                let flag = format!("{name}_verified");
                // A pending new value is what the code was sent to: it takes effect now.
                if let Some(pending) = state.pending.iter().find(|p| p.name == *name) {
                    return Ok(vec![Event::UserAttributesUpdated(UserAttributesUpdated {
                        attributes: vec![
                            pending.clone(),
                            Attribute {
                                name: flag,
                                value: "true".into(),
                            },
                        ],
                    })]);
                }
                if state.attribute(&flag) == Some("true") {
                    return Ok(Vec::new());
                }
                Ok(vec![Event::UserAttributesUpdated(UserAttributesUpdated {
                    attributes: vec![Attribute {
                        name: flag,
                        value: "true".into(),
                    }],
                })])
            }
            UserCommand::AddToGroup(group) => {
                let state = self.existing()?;
                Ok(if state.groups.contains(group) {
                    Vec::new()
                } else if state.groups.len() >= MAX_GROUPS_PER_USER {
                    return Err(ApiError::new(
                        ErrorCode::LimitExceededException,
                        format!("A user can be a member of at most {MAX_GROUPS_PER_USER} groups."),
                    ));
                } else {
                    vec![Event::UserAddedToGroup(UserAddedToGroup {
                        group_name: group.clone(),
                    })]
                })
            }
            UserCommand::RemoveFromGroup(group) => {
                let state = self.existing()?;
                Ok(if state.groups.contains(group) {
                    vec![Event::UserRemovedFromGroup(UserRemovedFromGroup {
                        group_name: group.clone(),
                    })]
                } else {
                    Vec::new()
                })
            }
            UserCommand::RevokeSessions {
                origin_jti,
                expires_ms,
                reason,
            } => {
                let state = self.existing()?;
                Ok(match origin_jti {
                    None => vec![Event::UserSignedOut(UserSignedOut {})],
                    Some(jti) if state.revoked_sessions.iter().any(|(j, _)| j == jti) => Vec::new(),
                    Some(jti) => vec![Event::UserSessionRevoked(UserSessionRevoked {
                        origin_jti: jti.clone(),
                        expires_ms: *expires_ms,
                        reason: reason.clone(),
                    })],
                })
            }
            UserCommand::SetMfaPreference {
                sms,
                software_token,
                email,
            } => {
                let state = self.existing()?;
                let reach = super::mfa::Reachability {
                    phone_number: state.attribute("phone_number").is_some(),
                    email: state.attribute("email").is_some(),
                    software_token_verified: state.software_token_verified,
                };
                let changed = super::mfa::preference(
                    &state.mfa_enabled,
                    &state.preferred_mfa,
                    &reach,
                    [
                        (super::mfa::SMS_MFA, sms.as_ref()),
                        (super::mfa::SOFTWARE_TOKEN_MFA, software_token.as_ref()),
                        (super::mfa::EMAIL_OTP, email.as_ref()),
                    ],
                )?;
                Ok(changed
                    .map(Event::UserMfaPreferenceChanged)
                    .into_iter()
                    .collect())
            }
            UserCommand::RecordSoftwareTokenVerified {
                friendly_device_name,
                enable,
            } => {
                let state = self.existing()?;
                let mut events = vec![Event::UserSoftwareTokenVerified(
                    portcullis_proto::events::v1::UserSoftwareTokenVerified {
                        friendly_device_name: friendly_device_name.clone(),
                    },
                )];
                if *enable {
                    let reach = super::mfa::Reachability {
                        phone_number: true,
                        email: true,
                        software_token_verified: true,
                    };
                    let setting = portcullis_proto::directory::v1::MfaSetting {
                        enabled: true,
                        preferred: state.preferred_mfa.is_empty(),
                    };
                    let changed = super::mfa::preference(
                        &state.mfa_enabled,
                        &state.preferred_mfa,
                        &reach,
                        [
                            (super::mfa::SMS_MFA, None),
                            (super::mfa::SOFTWARE_TOKEN_MFA, Some(&setting)),
                            (super::mfa::EMAIL_OTP, None),
                        ],
                    )?;
                    events.extend(changed.map(Event::UserMfaPreferenceChanged));
                }
                Ok(events)
            }
            UserCommand::SetSettings(options) => {
                self.existing()?;
                for option in options {
                    if !matches!(option.delivery_medium.as_str(), "SMS" | "EMAIL") {
                        return Err(ApiError::invalid_parameter(format!(
                            "1 validation error detected: Value '{}' at 'mFAOptions.1.member.deliveryMedium' failed to satisfy constraint: Member must satisfy enum value set: [SMS, EMAIL]",
                            option.delivery_medium
                        )));
                    }
                    if option.attribute_name != "phone_number" {
                        return Err(ApiError::invalid_parameter(
                            "Only phone_number attribute is supported for SMS MFA.",
                        ));
                    }
                }
                Ok(vec![Event::UserSettingsChanged(UserSettingsChanged {
                    mfa_options: options.clone(),
                })])
            }
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        if let Event::UserSignedUp(e) = event {
            self.state = Some(UserState {
                pool_id: e.pool_id.clone(),
                sub: e.sub.clone(),
                username: e.username.clone(),
                attributes: e.attributes.clone(),
                status: UserStatus::parse(&e.status).unwrap_or(UserStatus::Unconfirmed),
                enabled: true,
                created_ms: at_ms,
                modified_ms: at_ms,
                password_set_ms: at_ms,
                groups: Vec::new(),
                mfa_options: Vec::new(),
                pending: Vec::new(),
                signed_out_ms: 0,
                revoked_sessions: Vec::new(),
                devices: Vec::new(),
                mfa_enabled: Vec::new(),
                preferred_mfa: String::new(),
                software_token_verified: false,
            });
            return;
        }
        if let Event::UserDeleted(_) = event {
            self.state = None;
            return;
        }
        let Some(state) = &mut self.state else {
            return;
        };
        // Devices are not the user's record either.
        if device::evolve(&mut state.devices, event, at_ms) {
            return;
        }
        // Signing out is not a change to the user's record (no new last-modified date).
        match event {
            Event::UserSignedOut(_) => {
                state.signed_out_ms = state.signed_out_ms.max(at_ms);
                return;
            }
            Event::UserSessionRevoked(e) => {
                state
                    .revoked_sessions
                    .retain(|(_, expires)| *expires > at_ms);
                state
                    .revoked_sessions
                    .push((e.origin_jti.clone(), e.expires_ms));
                return;
            }
            _ => {}
        }
        match event {
            Event::UserConfirmed(e) => {
                state.status = UserStatus::Confirmed;
                if !e.verified_attribute.is_empty() {
                    state.set_attribute(&format!("{}_verified", e.verified_attribute), "true");
                }
            }
            Event::UserPasswordChanged(e) => {
                if let Some(status) = UserStatus::parse(&e.status) {
                    state.status = status;
                }
                state.password_set_ms = at_ms;
            }
            Event::UserPasswordResetRequired(_) => state.status = UserStatus::ResetRequired,
            // Disabling a user revokes every token issued before it, as a global
            // sign-out does: enabling them again does not bring those tokens back.
            Event::UserDisabled(_) => {
                state.enabled = false;
                state.signed_out_ms = state.signed_out_ms.max(at_ms);
            }
            Event::UserEnabled(_) => state.enabled = true,
            Event::UserAttributesUpdated(e) => {
                for attribute in &e.attributes {
                    state.set_attribute(&attribute.name, &attribute.value);
                    state.pending.retain(|p| p.name != attribute.name);
                }
            }
            Event::UserAttributeUpdatePending(e) => {
                for attribute in &e.attributes {
                    state.pending.retain(|p| p.name != attribute.name);
                    state.pending.push(attribute.clone());
                }
            }
            Event::UserAttributesDeleted(e) => {
                state.attributes.retain(|a| !e.names.contains(&a.name));
            }
            Event::UserAddedToGroup(e) => state.groups.push(e.group_name.clone()),
            Event::UserRemovedFromGroup(e) => state.groups.retain(|g| *g != e.group_name),
            Event::UserSettingsChanged(e) => state.mfa_options = e.mfa_options.clone(),
            Event::UserMfaPreferenceChanged(e) => {
                state.mfa_enabled.clone_from(&e.enabled);
                state.preferred_mfa.clone_from(&e.preferred);
            }
            Event::UserSoftwareTokenVerified(_) => state.software_token_verified = true,
            _ => return,
        }
        state.modified_ms = at_ms;
    }
}

impl User {
    pub fn existing(&self) -> Result<&UserState, ApiError> {
        self.state
            .as_ref()
            .ok_or_else(|| ApiError::new(ErrorCode::UserNotFoundException, "User does not exist."))
    }
}

fn schema_error(name: &str, problem: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "Attributes did not conform to the schema: {name}: {problem}"
    ))
}

/// The verification flag of an attribute that has one.
fn verification_flag(name: &str) -> Option<&'static str> {
    match name {
        "email" => Some("email_verified"),
        "phone_number" => Some("phone_number_verified"),
        _ => None,
    }
}

/// The name an attribute is stored under: developer-only attributes as
/// `dev:custom:<name>` (Cognito's spelling), whichever way a request names them.
fn canonical(pool: &UserPoolSettings, name: &str) -> String {
    let schema_name = name.strip_prefix("dev:").unwrap_or(name);
    match pool.schema.iter().find(|s| s.name == schema_name) {
        Some(def) if def.developer_only_attribute => format!("dev:{}", def.name),
        Some(def) => def.name.clone(),
        None => name.to_owned(),
    }
}

fn canonical_attributes(pool: &UserPoolSettings, given: &[Attribute]) -> Vec<Attribute> {
    given
        .iter()
        .map(|a| Attribute {
            name: canonical(pool, &a.name),
            value: a.value.clone(),
        })
        .collect()
}

/// Looks an attribute up in the pool's schema, for a write by `writer`. Developer-only
/// attributes are named `dev:custom:<name>` and only administrators write them.
fn writable<'a>(
    pool: &'a UserPoolSettings,
    name: &str,
    writer: Writer,
) -> Result<&'a portcullis_proto::events::v1::SchemaAttribute, ApiError> {
    let schema_name = name.strip_prefix("dev:").unwrap_or(name);
    let def = pool
        .schema
        .iter()
        .find(|s| s.name == schema_name)
        .ok_or_else(|| schema_error(name, "Attribute does not exist in the schema."))?;
    if def.developer_only_attribute && writer == Writer::User {
        return Err(ApiError::not_authorized(format!(
            "A client attempted to write unauthorized attribute {name}"
        )));
    }
    if !def.mutable {
        return Err(schema_error(
            name,
            "Attribute cannot be updated. (changing an immutable attribute)",
        ));
    }
    Ok(def)
}

/// The attributes an update actually changes, with the verification flags it implies:
/// a new email or phone number is unverified unless an administrator says otherwise.
fn attribute_updates(
    pool: &UserPoolSettings,
    state: &UserState,
    given: &[Attribute],
    writer: Writer,
) -> Result<Vec<Attribute>, ApiError> {
    let mut seen: Vec<&str> = Vec::with_capacity(given.len());
    for attr in given {
        if seen.contains(&attr.name.as_str()) {
            return Err(ApiError::invalid_parameter(format!(
                "Duplicate attribute: {}",
                attr.name
            )));
        }
        seen.push(&attr.name);
        let def = writable(pool, &attr.name, writer)?;
        if writer == Writer::User && attr.name.ends_with("_verified") {
            return Err(ApiError::not_authorized(format!(
                "A client attempted to write unauthorized attribute {}",
                attr.name
            )));
        }
        validate_value(Some(def), &attr.name, &attr.value)?;
        if pool.username_attributes.contains(&attr.name) && attr.value.is_empty() {
            return Err(schema_error(&attr.name, "The attribute is required"));
        }
        if let Some(def) = pool.schema.iter().find(|s| s.name == attr.name)
            && def.required
            && attr.value.is_empty()
        {
            return Err(schema_error(&attr.name, "The attribute is required"));
        }
    }
    let mut changed: Vec<Attribute> = given
        .iter()
        .filter(|a| state.attribute(&a.name) != Some(a.value.as_str()))
        .cloned()
        .collect();
    for attr in given {
        if let Some(flag) = verification_flag(&attr.name)
            && state.attribute(&attr.name) != Some(attr.value.as_str())
            && !given.iter().any(|a| a.name == flag)
            && state.attribute(flag) != Some("false")
        {
            changed.push(Attribute {
                name: flag.into(),
                value: "false".into(),
            });
        }
    }
    Ok(changed)
}

/// Whether a change to `attribute` waits for verification: the pool requires it for
/// this attribute, the current value is verified, and no administrator marked the new
/// value verified in the same request. The implied `*_verified = false` waits with it.
fn held_for_verification(
    pool: &UserPoolSettings,
    state: &UserState,
    given: &[Attribute],
    writer: Writer,
    attribute: &Attribute,
) -> bool {
    let name = attribute
        .name
        .strip_suffix("_verified")
        .filter(|_| given.iter().all(|g| g.name != attribute.name))
        .unwrap_or(&attribute.name);
    let Some(flag) = verification_flag(name) else {
        return false;
    };
    let required = pool
        .user_attribute_update_settings
        .as_ref()
        .is_some_and(|s| {
            s.attributes_require_verification_before_update
                .iter()
                .any(|a| a == name)
        });
    let admin_verified =
        writer == Writer::Admin && given.iter().any(|g| g.name == flag && g.value == "true");
    required
        && state.attribute(flag) == Some("true")
        && !admin_verified
        && given.iter().any(|g| g.name == name)
}

/// The attributes a deletion removes (with their verification flags), refusing the
/// ones the pool requires or that cannot change.
fn attribute_deletions(
    pool: &UserPoolSettings,
    state: &UserState,
    names: &[String],
    writer: Writer,
) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let def = writable(pool, name, writer)?;
        if def.required || pool.username_attributes.contains(name) {
            return Err(schema_error(name, "The attribute is required"));
        }
        for name in std::iter::once(name.as_str()).chain(verification_flag(name)) {
            if state.attribute(name).is_some() && !out.iter().any(|n| n == name) {
                out.push(name.to_owned());
            }
        }
    }
    Ok(out)
}

/// Checks sign-up attributes against the pool's schema and adds the ones Cognito derives
/// (the email or phone number that is the user name).
/// The attributes of a new user, checked against the pool's schema. `username` is the
/// name the user signs in with, or `None` for a federated user (`<Provider>_<subject>`,
/// never an email or phone number even where those are the user names).
fn sign_up_attributes(
    pool: &UserPoolSettings,
    username: Option<&str>,
    given: &[Attribute],
    writer: Writer,
) -> Result<Vec<Attribute>, ApiError> {
    let mut attributes: Vec<Attribute> = Vec::with_capacity(given.len() + 1);
    for attr in given {
        let schema_name = attr.name.strip_prefix("dev:").unwrap_or(&attr.name);
        let Some(def) = pool.schema.iter().find(|s| s.name == schema_name) else {
            return Err(schema_error(
                &attr.name,
                "Attribute does not exist in the schema.",
            ));
        };
        if def.developer_only_attribute && writer == Writer::User {
            return Err(ApiError::not_authorized(format!(
                "A client attempted to write unauthorized attribute {}",
                attr.name
            )));
        }
        if def.name == "sub" {
            return Err(schema_error(
                "sub",
                "Attribute cannot be updated. (changing an immutable attribute)",
            ));
        }
        if attributes.iter().any(|a| a.name == attr.name) {
            return Err(ApiError::invalid_parameter(format!(
                "Duplicate attribute: {}",
                attr.name
            )));
        }
        validate_value(Some(def), &attr.name, &attr.value)?;
        attributes.push(attr.clone());
    }
    let names: &[String] = if username.is_some() {
        &pool.username_attributes
    } else {
        &[]
    };
    let username = username.unwrap_or_default();
    for name in names {
        let parsed_ok = match name.as_str() {
            "email" => Email::parse(username).is_ok(),
            _ => PhoneNumber::parse(username).is_ok(),
        };
        let wants = if pool.username_attributes.len() == 1 {
            Some(name)
        } else {
            None
        };
        if parsed_ok {
            attributes.retain(|a| &a.name != name);
            attributes.push(Attribute {
                name: name.clone(),
                value: username.to_owned(),
            });
            break;
        } else if let Some(name) = wants {
            let what = if name == "email" {
                "an email"
            } else {
                "a phone number"
            };
            return Err(ApiError::invalid_parameter(format!(
                "Username should be {what}."
            )));
        }
    }
    if !names.is_empty()
        && !names
            .iter()
            .any(|n| attributes.iter().any(|a| &a.name == n))
    {
        return Err(ApiError::invalid_parameter(
            "Username should be either an email or a phone number.",
        ));
    }
    if let Some(missing) = pool
        .schema
        .iter()
        .find(|s| s.required && s.name != "sub" && !attributes.iter().any(|a| a.name == s.name))
    {
        return Err(schema_error(&missing.name, "The attribute is required"));
    }
    Ok(attributes)
}

/// Checks a value against Cognito's rules for the attribute and its schema entry: the
/// data type, and the string length or number range constraints. An empty value
/// clears an attribute and is only refused where the attribute is required.
fn validate_value(
    def: Option<&portcullis_proto::events::v1::SchemaAttribute>,
    name: &str,
    value: &str,
) -> Result<(), ApiError> {
    match name {
        "email" => {
            return Email::parse(value)
                .map(drop)
                .map_err(|e| ApiError::invalid_parameter(e.0));
        }
        "phone_number" => {
            return PhoneNumber::parse(value)
                .map(drop)
                .map_err(|e| ApiError::invalid_parameter(e.0));
        }
        _ => {}
    }
    if value.chars().count() > 2048 {
        return Err(schema_error(name, "String is too long"));
    }
    let Some(def) = def else {
        return Ok(());
    };
    if value.is_empty() {
        return Ok(());
    }
    match def.attribute_data_type.as_str() {
        "Boolean" if value != "true" && value != "false" => {
            return Err(schema_error(name, "Attribute value must be a boolean."));
        }
        "Number" => {
            let Ok(number) = value.parse::<i64>() else {
                return Err(schema_error(name, "Number must be an integer."));
            };
            let bound = |b: &Option<String>| b.as_deref().and_then(|b| b.parse::<i64>().ok());
            if let Some(limits) = &def.number_attribute_constraints {
                if bound(&limits.min_value).is_some_and(|min| number < min) {
                    return Err(schema_error(name, "Number is too small"));
                }
                if bound(&limits.max_value).is_some_and(|max| number > max) {
                    return Err(schema_error(name, "Number is too large"));
                }
            }
        }
        "String" => {
            let length = value.chars().count();
            let bound = |b: &Option<String>| b.as_deref().and_then(|b| b.parse::<usize>().ok());
            if let Some(limits) = &def.string_attribute_constraints {
                if bound(&limits.min_length).is_some_and(|min| length < min) {
                    return Err(schema_error(name, "String is too short"));
                }
                if bound(&limits.max_length).is_some_and(|max| length > max) {
                    return Err(schema_error(name, "String is too long"));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{given, schema};
    use portcullis_proto::events::v1::SchemaAttribute;

    const CTX: Ctx = Ctx { now_ms: 1 };

    fn pool(username_attributes: &[&str], required: &[&str]) -> UserPoolSettings {
        let requested: Vec<SchemaAttribute> = required
            .iter()
            .map(|n| SchemaAttribute {
                name: (*n).into(),
                attribute_data_type: "String".into(),
                required: true,
                mutable: true,
                ..Default::default()
            })
            .collect();
        UserPoolSettings {
            username_attributes: username_attributes.iter().map(|s| (*s).into()).collect(),
            schema: schema::resolve(&requested).unwrap(),
            ..Default::default()
        }
    }

    fn attr(name: &str, value: &str) -> Attribute {
        Attribute {
            name: name.into(),
            value: value.into(),
        }
    }

    fn sign_up(pool: UserPoolSettings, username: &str, attributes: Vec<Attribute>) -> UserCommand {
        UserCommand::SignUp {
            pool_id: "us-east-1_p".into(),
            pool: Box::new(pool),
            sub: "0b4c3d2e-0000-7000-8000-000000000001".into(),
            username: username.into(),
            attributes,
            status: UserStatus::Unconfirmed,
        }
    }

    #[test]
    fn given_nothing_when_signing_up_then_user_is_unconfirmed() {
        let events = given::<User>(&[])
            .decide(
                &sign_up(
                    pool(&[], &["email"]),
                    "alice",
                    vec![attr("email", "a@example.com")],
                ),
                &CTX,
            )
            .unwrap();
        let user = given::<User>(&events);
        let state = user.state.unwrap();
        assert_eq!(state.username, "alice");
        assert_eq!(state.status, UserStatus::Unconfirmed);
        assert_eq!(state.attribute("email"), Some("a@example.com"));
    }

    #[test]
    fn totp_is_enabled_only_after_a_verified_token_and_mfa_setup_prefers_it() {
        use portcullis_proto::directory::v1::MfaSetting;
        let mut events = given::<User>(&[])
            .decide(&sign_up(pool(&[], &[]), "tom", vec![]), &CTX)
            .unwrap();
        let totp_on = UserCommand::SetMfaPreference {
            sms: None,
            software_token: Some(MfaSetting {
                enabled: true,
                preferred: true,
            }),
            email: None,
        };
        let err = given::<User>(&events).decide(&totp_on, &CTX).unwrap_err();
        assert_eq!(
            err.message,
            "User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA"
        );
        let setup = UserCommand::RecordSoftwareTokenVerified {
            friendly_device_name: "phone".into(),
            enable: true,
        };
        events.extend(given::<User>(&events).decide(&setup, &CTX).unwrap());
        let state = given::<User>(&events).state.unwrap();
        assert!(state.software_token_verified);
        assert_eq!(state.mfa_enabled, ["SOFTWARE_TOKEN_MFA"]);
        assert_eq!(state.preferred_mfa, "SOFTWARE_TOKEN_MFA");
        assert!(
            given::<User>(&events)
                .decide(&totp_on, &CTX)
                .unwrap()
                .is_empty(),
            "no change, no event"
        );
    }

    #[test]
    fn email_as_username_makes_sub_the_internal_name() {
        let events = given::<User>(&[])
            .decide(
                &sign_up(pool(&["email"], &[]), "a@example.com", vec![]),
                &CTX,
            )
            .unwrap();
        let state = given::<User>(&events).state.unwrap();
        assert_eq!(state.username, state.sub);
        assert_eq!(state.attribute("email"), Some("a@example.com"));
        let err = given::<User>(&[])
            .decide(&sign_up(pool(&["email"], &[]), "alice", vec![]), &CTX)
            .unwrap_err();
        assert_eq!(err.message, "Username should be an email.");
    }

    #[test]
    fn a_federated_user_keeps_its_provider_name_where_emails_are_user_names() {
        let UserCommand::SignUp {
            pool_id,
            pool,
            sub,
            attributes,
            ..
        } = sign_up(
            pool(&["email"], &[]),
            "x",
            vec![attr("email", "a@example.com")],
        )
        else {
            unreachable!()
        };
        let command = UserCommand::SignUp {
            pool_id,
            pool,
            sub,
            username: "Google_1234".into(),
            attributes,
            status: UserStatus::ExternalProvider,
        };
        let events = given::<User>(&[]).decide(&command, &CTX).unwrap();
        let state = given::<User>(&events).state.unwrap();
        assert_eq!(state.username, "Google_1234");
        assert_eq!(state.status, UserStatus::ExternalProvider);
        assert_eq!(state.attribute("email"), Some("a@example.com"));
    }

    #[test]
    fn schema_violations_are_refused() {
        let unknown = sign_up(pool(&[], &[]), "bob", vec![attr("custom:nope", "1")]);
        let err = given::<User>(&[]).decide(&unknown, &CTX).unwrap_err();
        assert!(
            err.message
                .contains("Attribute does not exist in the schema.")
        );
        let missing = sign_up(pool(&[], &["email"]), "bob", vec![]);
        let err = given::<User>(&[]).decide(&missing, &CTX).unwrap_err();
        assert_eq!(
            err.message,
            "Attributes did not conform to the schema: email: The attribute is required"
        );
        let bad_email = sign_up(pool(&[], &[]), "bob", vec![attr("email", "nope")]);
        assert!(given::<User>(&[]).decide(&bad_email, &CTX).is_err());
    }

    #[test]
    fn given_confirmed_user_when_confirmed_again_then_not_authorized() {
        let signed = given::<User>(&[])
            .decide(&sign_up(pool(&[], &[]), "carol", vec![]), &CTX)
            .unwrap();
        let mut events = signed.clone();
        events.extend(
            given::<User>(&signed)
                .decide(
                    &UserCommand::Confirm {
                        verified_attribute: None,
                    },
                    &CTX,
                )
                .unwrap(),
        );
        let user = given::<User>(&events);
        assert_eq!(user.state.as_ref().unwrap().status, UserStatus::Confirmed);
        let err = user
            .decide(
                &UserCommand::Confirm {
                    verified_attribute: None,
                },
                &CTX,
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotAuthorizedException);
        assert_eq!(
            err.message,
            "User cannot be confirmed. Current status is CONFIRMED"
        );
    }

    #[test]
    fn confirming_with_an_email_code_verifies_the_email() {
        let signed = given::<User>(&[])
            .decide(
                &sign_up(pool(&[], &[]), "hana", vec![attr("email", "h@example.com")]),
                &CTX,
            )
            .unwrap();
        let confirm = UserCommand::Confirm {
            verified_attribute: Some("email".into()),
        };
        let mut events = signed.clone();
        events.extend(given::<User>(&signed).decide(&confirm, &CTX).unwrap());
        let state = given::<User>(&events).state.unwrap();
        assert_eq!(state.status, UserStatus::Confirmed);
        assert_eq!(state.attribute("email_verified"), Some("true"));
        let bogus = UserCommand::Confirm {
            verified_attribute: Some("name".into()),
        };
        assert!(given::<User>(&signed).decide(&bogus, &CTX).is_err());
    }

    #[test]
    fn a_password_change_is_recorded_without_the_password() {
        let change = UserCommand::RecordPasswordChange {
            method: "FORGOT_PASSWORD".into(),
            status: None,
        };
        let err = given::<User>(&[]).decide(&change, &CTX).unwrap_err();
        assert_eq!(err.code, ErrorCode::UserNotFoundException);
        let signed = given::<User>(&[])
            .decide(&sign_up(pool(&[], &[]), "ivan", vec![]), &CTX)
            .unwrap();
        let events = given::<User>(&signed).decide(&change, &CTX).unwrap();
        let [Event::UserPasswordChanged(changed)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(changed.method, "FORGOT_PASSWORD");
    }

    #[test]
    fn disabling_is_idempotent_and_deleting_leaves_no_user() {
        let mut events = given::<User>(&[])
            .decide(&sign_up(pool(&[], &[]), "jo", vec![]), &CTX)
            .unwrap();
        events.extend(
            given::<User>(&events)
                .decide(&UserCommand::SetEnabled(false), &CTX)
                .unwrap(),
        );
        let user = given::<User>(&events);
        assert!(!user.state.as_ref().unwrap().enabled);
        assert_eq!(
            user.state.as_ref().unwrap().signed_out_ms,
            1_000,
            "disabling revokes the tokens issued before it"
        );
        assert!(
            user.decide(&UserCommand::SetEnabled(false), &CTX)
                .unwrap()
                .is_empty()
        );
        events.extend(user.decide(&UserCommand::Delete, &CTX).unwrap());
        let deleted = given::<User>(&events);
        assert!(deleted.state.is_none());
        let err = deleted.decide(&UserCommand::Delete, &CTX).unwrap_err();
        assert_eq!(err.code, ErrorCode::UserNotFoundException);
    }

    #[test]
    fn confirming_a_missing_user_is_user_not_found() {
        let err = given::<User>(&[])
            .decide(
                &UserCommand::Confirm {
                    verified_attribute: None,
                },
                &CTX,
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UserNotFoundException);
    }

    fn signed_up(attributes: Vec<Attribute>) -> Vec<Event> {
        given::<User>(&[])
            .decide(&sign_up(pool(&[], &[]), "kim", attributes), &CTX)
            .unwrap()
    }

    fn then(mut events: Vec<Event>, command: &UserCommand) -> Vec<Event> {
        let more = given::<User>(&events).decide(command, &CTX).unwrap();
        events.extend(more);
        events
    }

    fn update(attributes: Vec<Attribute>, writer: Writer) -> UserCommand {
        UserCommand::UpdateAttributes {
            pool: Box::new(pool(&[], &[])),
            attributes,
            writer,
        }
    }

    #[test]
    fn a_new_email_is_unverified_unless_an_admin_says_so() {
        let events = signed_up(vec![attr("email", "k@example.com")]);
        let events = then(
            events,
            &UserCommand::VerifyAttribute {
                name: "email".into(),
            },
        );
        let state = given::<User>(&events).state.unwrap();
        assert_eq!(state.attribute("email_verified"), Some("true"));

        let by_user = then(
            events.clone(),
            &update(vec![attr("email", "new@example.com")], Writer::User),
        );
        let state = given::<User>(&by_user).state.unwrap();
        assert_eq!(state.attribute("email"), Some("new@example.com"));
        assert_eq!(state.attribute("email_verified"), Some("false"));

        let by_admin = then(
            events,
            &update(
                vec![
                    attr("email", "new@example.com"),
                    attr("email_verified", "true"),
                ],
                Writer::Admin,
            ),
        );
        let state = given::<User>(&by_admin).state.unwrap();
        assert_eq!(state.attribute("email_verified"), Some("true"));
    }

    #[test]
    fn users_cannot_write_verification_flags_or_immutable_attributes() {
        let user = given::<User>(&signed_up(vec![]));
        let err = user
            .decide(
                &update(vec![attr("email_verified", "true")], Writer::User),
                &CTX,
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotAuthorizedException);
        let err = user
            .decide(&update(vec![attr("sub", "x")], Writer::Admin), &CTX)
            .unwrap_err();
        assert!(err.message.contains("immutable"), "{}", err.message);
        let err = user
            .decide(&update(vec![attr("custom:x", "1")], Writer::Admin), &CTX)
            .unwrap_err();
        assert!(err.message.contains("does not exist in the schema"));
        // Setting a value the user already has records nothing.
        let named = then(
            signed_up(vec![]),
            &update(vec![attr("name", "Kim")], Writer::Admin),
        );
        let again = given::<User>(&named)
            .decide(&update(vec![attr("name", "Kim")], Writer::Admin), &CTX)
            .unwrap();
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn deleting_an_attribute_drops_its_flag_and_required_ones_stay() {
        let events = signed_up(vec![
            attr("email", "k@example.com"),
            attr("email_verified", "true"),
            attr("name", "Kim"),
        ]);
        let delete = |names: &[&str]| UserCommand::DeleteAttributes {
            pool: Box::new(pool(&[], &["name"])),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            writer: Writer::Admin,
        };
        let after = then(events.clone(), &delete(&["email"]));
        let state = given::<User>(&after).state.unwrap();
        assert_eq!(state.attribute("email"), None);
        assert_eq!(state.attribute("email_verified"), None);
        let err = given::<User>(&events)
            .decide(&delete(&["name"]), &CTX)
            .unwrap_err();
        assert!(err.message.contains("required"), "{}", err.message);
        assert!(
            given::<User>(&after)
                .decide(&delete(&["email"]), &CTX)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_reset_password_confirms_again_when_replaced() {
        let events = then(
            signed_up(vec![]),
            &UserCommand::Confirm {
                verified_attribute: None,
            },
        );
        let events = then(events, &UserCommand::RequirePasswordReset);
        assert_eq!(
            given::<User>(&events).state.unwrap().status,
            UserStatus::ResetRequired
        );
        let events = then(
            events,
            &UserCommand::RecordPasswordChange {
                method: "FORGOT_PASSWORD".into(),
                status: None,
            },
        );
        assert_eq!(
            given::<User>(&events).state.unwrap().status,
            UserStatus::Confirmed
        );
    }

    #[test]
    fn group_membership_is_a_set() {
        let events = then(signed_up(vec![]), &UserCommand::AddToGroup("admins".into()));
        let user = given::<User>(&events);
        assert_eq!(user.state.as_ref().unwrap().groups, vec!["admins"]);
        assert!(
            user.decide(&UserCommand::AddToGroup("admins".into()), &CTX)
                .unwrap()
                .is_empty()
        );
        let events = then(events, &UserCommand::RemoveFromGroup("admins".into()));
        assert!(given::<User>(&events).state.unwrap().groups.is_empty());
    }

    #[test]
    fn a_verified_email_changes_only_once_the_new_one_is_verified() {
        let mut strict = pool(&[], &[]);
        strict.user_attribute_update_settings =
            Some(portcullis_proto::events::v1::UserAttributeUpdateSettings {
                attributes_require_verification_before_update: vec!["email".into()],
            });
        let events = signed_up(vec![
            attr("email", "old@example.com"),
            attr("email_verified", "true"),
        ]);
        let change = |writer, extra: Vec<Attribute>| {
            let mut attributes = vec![attr("email", "new@example.com")];
            attributes.extend(extra);
            UserCommand::UpdateAttributes {
                pool: Box::new(strict.clone()),
                attributes,
                writer,
            }
        };
        let held = then(events.clone(), &change(Writer::User, vec![]));
        let state = given::<User>(&held).state.unwrap();
        assert_eq!(state.attribute("email"), Some("old@example.com"));
        assert_eq!(state.attribute("email_verified"), Some("true"));
        assert_eq!(state.pending, vec![attr("email", "new@example.com")]);
        let verified = then(
            held,
            &UserCommand::VerifyAttribute {
                name: "email".into(),
            },
        );
        let state = given::<User>(&verified).state.unwrap();
        assert_eq!(state.attribute("email"), Some("new@example.com"));
        assert_eq!(state.attribute("email_verified"), Some("true"));
        assert!(state.pending.is_empty());
        // An administrator who marks the new value verified changes it at once.
        let direct = then(
            events,
            &change(Writer::Admin, vec![attr("email_verified", "true")]),
        );
        let state = given::<User>(&direct).state.unwrap();
        assert_eq!(state.attribute("email"), Some("new@example.com"));
        assert!(state.pending.is_empty());
    }

    #[test]
    fn a_user_belongs_to_at_most_a_hundred_groups() {
        let mut events = signed_up(vec![]);
        for i in 0..MAX_GROUPS_PER_USER {
            events = then(events, &UserCommand::AddToGroup(format!("g{i}")));
        }
        let err = given::<User>(&events)
            .decide(&UserCommand::AddToGroup("one-more".into()), &CTX)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::LimitExceededException);
    }

    #[test]
    fn values_follow_the_schema_types_and_constraints() {
        let requested = vec![
            SchemaAttribute {
                name: "age".into(),
                attribute_data_type: "Number".into(),
                mutable: true,
                number_attribute_constraints: Some(
                    portcullis_proto::events::v1::NumberConstraints {
                        min_value: Some("0".into()),
                        max_value: Some("150".into()),
                    },
                ),
                ..Default::default()
            },
            SchemaAttribute {
                name: "code".into(),
                attribute_data_type: "String".into(),
                mutable: true,
                string_attribute_constraints: Some(
                    portcullis_proto::events::v1::StringConstraints {
                        min_length: Some("2".into()),
                        max_length: Some("4".into()),
                    },
                ),
                ..Default::default()
            },
            SchemaAttribute {
                name: "vip".into(),
                attribute_data_type: "Boolean".into(),
                mutable: true,
                ..Default::default()
            },
        ];
        let typed = UserPoolSettings {
            schema: schema::resolve(&requested).unwrap(),
            ..Default::default()
        };
        let try_sign_up = |name: &str, value: &str| {
            given::<User>(&[]).decide(
                &sign_up(typed.clone(), "zed", vec![attr(name, value)]),
                &CTX,
            )
        };
        assert!(try_sign_up("custom:age", "42").is_ok());
        for (name, value, problem) in [
            ("custom:age", "forty", "integer"),
            ("custom:age", "151", "too large"),
            ("custom:age", "-1", "too small"),
            ("custom:code", "x", "too short"),
            ("custom:code", "abcde", "too long"),
            ("custom:vip", "yes", "boolean"),
            ("birthdate", "1990", "too short"),
            ("updated_at", "soon", "integer"),
        ] {
            let err = try_sign_up(name, value).unwrap_err();
            assert!(
                err.message.contains(problem),
                "{name}={value}: {}",
                err.message
            );
        }
    }

    #[test]
    fn developer_only_attributes_are_stored_as_dev_and_written_by_administrators_only() {
        let requested = vec![SchemaAttribute {
            name: "secret".into(),
            attribute_data_type: "String".into(),
            developer_only_attribute: true,
            mutable: true,
            ..Default::default()
        }];
        let dev = UserPoolSettings {
            schema: schema::resolve(&requested).unwrap(),
            ..Default::default()
        };
        let err = given::<User>(&[])
            .decide(
                &sign_up(dev.clone(), "al", vec![attr("dev:custom:secret", "x")]),
                &CTX,
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotAuthorizedException);
        let events = given::<User>(&[])
            .decide(&sign_up(dev.clone(), "al", vec![]), &CTX)
            .unwrap();
        let write = |name: &str, writer| UserCommand::UpdateAttributes {
            pool: Box::new(dev.clone()),
            attributes: vec![attr(name, "42")],
            writer,
        };
        let err = given::<User>(&events)
            .decide(&write("dev:custom:secret", Writer::User), &CTX)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotAuthorizedException);
        for name in ["custom:secret", "dev:custom:secret"] {
            let updated = then(events.clone(), &write(name, Writer::Admin));
            let state = given::<User>(&updated).state.unwrap();
            assert_eq!(state.attribute("dev:custom:secret"), Some("42"), "{name}");
            assert_eq!(state.attribute("custom:secret"), None);
        }
    }
}
