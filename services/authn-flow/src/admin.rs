//! Administrators' user operations that touch credentials: creating a user with a
//! temporary password and an invitation, setting and resetting passwords.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;

use crate::codes;
use crate::context::{Flows, policy_error, pool_error};
use crate::delivery::{ADMIN_CREATE_USER, forgot_code_key, recovery_target};
use crate::password::{self, Policy};
use crate::sender::{self, Medium};

/// Cognito's invitation when the pool sets no template.
const DEFAULT_INVITE_EMAIL: &str = "Your username is {username} and temporary password is {####}.";
const DEFAULT_INVITE_SMS: &str = "Your username is {username} and temporary password is {####}.";

fn user_not_found() -> ApiError {
    ApiError::new(ErrorCode::UserNotFoundException, "User does not exist.")
}

/// What an invitation tells the new user: the name to sign in with and the temporary
/// password — none for a migrated user, who keeps the password of the old directory
/// (see [`MIGRATED_PASSWORD`]).
pub(crate) struct Invitation<'a> {
    pub(crate) username: &'a str,
    pub(crate) temporary: Option<&'a str>,
}

/// What a migrated user's welcome shows where the invitation template has the
/// temporary password's `{####}`: a password never goes into a message.
pub(crate) const MIGRATED_PASSWORD: &str = "********";

impl Flows {
    async fn existing_user(&self, pool_id: &str, username: &str) -> Result<dir::User, ApiError> {
        self.user_by_name(pool_id, username)
            .await?
            .ok_or_else(user_not_found)
    }

    pub async fn admin_create_user(
        &self,
        req: pb::AdminCreateUserRequest,
    ) -> Result<dir::User, ApiError> {
        let pool = self.pool(&req.pool_id).await?;
        let settings = pool.settings.clone().unwrap_or_default();
        let policy = Policy::from(&settings.password_policy.unwrap_or_default());
        let mediums = delivery_mediums(&req.desired_delivery_mediums)?;
        let resend = match req.message_action.as_str() {
            "" | "SUPPRESS" => false,
            "RESEND" => true,
            other => {
                return Err(ApiError::invalid_parameter(format!(
                    "1 validation error detected: Value '{other}' at 'messageAction' failed to satisfy constraint: Member must satisfy enum value set: [RESEND, SUPPRESS]"
                )));
            }
        };
        let temporary = if req.temporary_password.is_empty() {
            password::generate_temporary(&policy).map_err(pool_error)?
        } else {
            password::check_policy(&req.temporary_password, &policy).map_err(policy_error)?;
            req.temporary_password.clone()
        };

        // Pre sign-up runs for a new user, before anything is created.
        let mut attributes = req.user_attributes.clone();
        let sub = uuid::Uuid::new_v4().to_string();
        if !resend {
            // Where an email or phone number is the user name, the internal name is the sub.
            let user_name = if settings.username_attributes.is_empty() {
                req.username.as_str()
            } else {
                sub.as_str()
            };
            let answer = self
                .pre_sign_up(
                    &settings.lambda_config.clone().unwrap_or_default(),
                    "PreSignUp_AdminCreateUser",
                    &req.pool_id,
                    user_name,
                    &crate::triggers::Caller::admin(req.caller_context.as_ref()),
                    &req.user_attributes,
                    &req.validation_data,
                )
                .await?;
            answer.verify(&mut attributes);
        }
        let user = if resend {
            let user = self.existing_user(&req.pool_id, &req.username).await?;
            if user.status != "FORCE_CHANGE_PASSWORD" {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedUserStateException,
                    format!(
                        "Resend not possible. {} status is {}",
                        req.username, user.status
                    ),
                ));
            }
            self.replace_password(&user, temporary.clone(), 0).await?;
            self.record_password(&req.caller, &user, "TEMPORARY", "FORCE_CHANGE_PASSWORD")
                .await?
        } else {
            let request = dir::CreateUserRequest {
                caller: req.caller.clone(),
                pool_id: req.pool_id.clone(),
                sub,
                username: req.username.clone(),
                attributes,
                confirmed: false,
                temporary_password: true,
                force_alias_creation: req.force_alias_creation,
            };
            self.create_with_password(request, Some(temporary.clone()))
                .await?
        };
        if req.message_action != "SUPPRESS" {
            let caller = crate::triggers::Caller::admin(req.caller_context.as_ref());
            let invitation = Invitation {
                username: &req.username,
                temporary: Some(&temporary),
            };
            self.send_invitation(&settings, &user, &mediums, invitation, &caller)
                .await?;
        }
        Ok(user)
    }

    /// Sends the invitation with the temporary password over every medium asked for
    /// that the user has an address for.
    pub(crate) async fn send_invitation(
        &self,
        settings: &portcullis_proto::events::v1::UserPoolSettings,
        user: &dir::User,
        mediums: &[Medium],
        Invitation {
            username,
            temporary,
        }: Invitation<'_>,
        caller: &crate::triggers::Caller<'_>,
    ) -> Result<(), ApiError> {
        let shown = temporary.unwrap_or(MIGRATED_PASSWORD);
        let template = settings.invite_message_template.clone().unwrap_or_default();
        let or = |value: &str, default: &str| {
            if value.is_empty() {
                default.to_owned()
            } else {
                value.to_owned()
            }
        };
        let config = self.lambda_config(&user.pool_id).await?;
        for medium in mediums {
            let (attribute, text, subject) = match medium {
                Medium::Email => (
                    "email",
                    or(&template.email_message, DEFAULT_INVITE_EMAIL),
                    Some(or(
                        &template.email_subject,
                        if temporary.is_some() {
                            "Your temporary password"
                        } else {
                            "Welcome"
                        },
                    )),
                ),
                Medium::Sms => (
                    "phone_number",
                    or(&template.sms_message, DEFAULT_INVITE_SMS),
                    None,
                ),
            };
            let Some(destination) = user
                .attributes
                .iter()
                .find(|a| a.name == attribute)
                .map(|a| a.value.clone())
            else {
                continue;
            };
            if let Some(trigger) = Flows::custom_sender(&config, *medium) {
                let source = ADMIN_CREATE_USER.source;
                self.send_with_custom_sender(&config, trigger, source, user, caller, shown)
                    .await?;
                continue;
            }
            let (text, subject) = self
                .custom_message(
                    &config,
                    user,
                    ADMIN_CREATE_USER.trigger(),
                    caller,
                    *medium,
                    (text, subject),
                )
                .await?;
            let message = sender::Message {
                channel: *medium,
                destination,
                pool_id: user.pool_id.clone(),
                username: user.username.clone(),
                kind: if temporary.is_some() {
                    "AdminCreateUser"
                } else {
                    "UserMigration"
                },
                message: text
                    .replace("{username}", username)
                    .replace("{####}", shown),
                code: temporary.map(str::to_owned),
                subject,
            };
            self.sender.send(&message).await.map_err(|err| {
                tracing::error!(error = %err, "could not deliver an invitation");
                ApiError::new(
                    ErrorCode::CodeDeliveryFailureException,
                    "Unable to deliver the message.",
                )
            })?;
        }
        Ok(())
    }

    /// Tells the directory the password changed, and the status that follows.
    pub(crate) async fn record_password(
        &self,
        caller: &Option<dir::Caller>,
        user: &dir::User,
        method: &str,
        status: &str,
    ) -> Result<dir::User, ApiError> {
        let request = dir::RecordPasswordChangeRequest {
            caller: caller.clone(),
            pool_id: user.pool_id.clone(),
            sub: user.sub.clone(),
            method: method.into(),
            status: status.into(),
        };
        Ok(self
            .directory
            .clone()
            .record_password_change(request)
            .await?
            .into_inner())
    }

    pub async fn admin_set_user_password(
        &self,
        req: pb::AdminSetUserPasswordRequest,
    ) -> Result<pb::AdminSetUserPasswordResponse, ApiError> {
        let pool = self.pool(&req.pool_id).await?;
        let user = self.existing_user(&req.pool_id, &req.username).await?;
        let settings = pool.settings.unwrap_or_default();
        let policy = settings.password_policy.unwrap_or_default();
        password::check_policy(&req.password, &Policy::from(&policy)).map_err(policy_error)?;
        self.refuse_breached(
            &req.pool_id,
            &settings,
            "",
            crate::compromised::PasswordEvent::PasswordChange,
            &req.password,
        )
        .await?;
        self.replace_password(&user, req.password, policy.password_history_size)
            .await?;
        self.record_admin_password(&req.caller, &user, req.permanent)
            .await
    }

    /// `AdminSetUserPasswordHash` (Portcullis's own): an existing hash from another
    /// system becomes the user's password, as `AdminSetUserPassword` makes a password
    /// one.
    pub async fn admin_set_user_password_hash(
        &self,
        req: pb::AdminSetUserPasswordHashRequest,
    ) -> Result<pb::AdminSetUserPasswordResponse, ApiError> {
        self.pool(&req.pool_id).await?;
        let user = self.existing_user(&req.pool_id, &req.username).await?;
        let hash = portcullis_password_hashes::normalize(&req.password_hash)
            .filter(|hash| portcullis_password_hashes::accepts(hash))
            .ok_or_else(|| ApiError::invalid_parameter(portcullis_password_hashes::UNSUPPORTED))?;
        self.import_password_hash(&user, hash).await?;
        self.record_admin_password(&req.caller, &user, req.permanent)
            .await
    }

    /// `AdminDisableProviderForUser` for the pool's own users (provider `Cognito`): the
    /// user can no longer sign in with a password. Recorded as a password change of
    /// method `DISABLED` that keeps the user's status.
    pub async fn admin_remove_password(
        &self,
        req: pb::AdminRemovePasswordRequest,
    ) -> Result<pb::AdminSetUserPasswordResponse, ApiError> {
        self.pool(&req.pool_id).await?;
        let user = self.existing_user(&req.pool_id, &req.username).await?;
        if user.status == "EXTERNAL_PROVIDER" {
            return Err(user_not_found());
        }
        self.remove_password(&user).await?;
        let status = user.status.clone();
        self.record_password(&req.caller, &user, "DISABLED", &status)
            .await?;
        Ok(pb::AdminSetUserPasswordResponse {})
    }

    /// Records a password an administrator set: `CONFIRMED` when permanent, else
    /// `FORCE_CHANGE_PASSWORD`.
    async fn record_admin_password(
        &self,
        caller: &Option<dir::Caller>,
        user: &dir::User,
        permanent: bool,
    ) -> Result<pb::AdminSetUserPasswordResponse, ApiError> {
        let (method, status) = if permanent {
            ("ADMIN", "CONFIRMED")
        } else {
            ("TEMPORARY", "FORCE_CHANGE_PASSWORD")
        };
        self.record_password(caller, user, method, status).await?;
        Ok(pb::AdminSetUserPasswordResponse {})
    }

    pub async fn admin_reset_user_password(
        &self,
        req: pb::AdminResetUserPasswordRequest,
    ) -> Result<pb::AdminResetUserPasswordResponse, ApiError> {
        let user = self.existing_user(&req.pool_id, &req.username).await?;
        if !user.enabled {
            return Err(ApiError::not_authorized("User is disabled."));
        }
        let pool = self.pool(&user.pool_id).await?.settings.unwrap_or_default();
        let target = recovery_target(&pool, &user).ok_or_else(|| {
            ApiError::invalid_parameter(
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            )
        })?;
        let request = dir::RequirePasswordResetRequest {
            caller: req.caller.clone(),
            user: Some(dir::UserRef {
                pool_id: user.pool_id.clone(),
                username: String::new(),
                sub: user.sub.clone(),
            }),
        };
        self.directory
            .clone()
            .require_password_reset(request)
            .await?;
        let key = forgot_code_key(&user.pool_id, &user.sub);
        self.send_code(
            &pool,
            &user,
            target,
            crate::delivery::ADMIN_RESET_PASSWORD,
            &key,
            codes::RESET_VALIDITY,
            &crate::triggers::Caller::admin(req.caller_context.as_ref()),
        )
        .await?;
        Ok(pb::AdminResetUserPasswordResponse {})
    }
}

pub(crate) fn delivery_mediums(given: &[String]) -> Result<Vec<Medium>, ApiError> {
    if given.is_empty() {
        return Ok(vec![Medium::Sms]);
    }
    let mut out = Vec::new();
    for medium in given {
        let medium = match medium.as_str() {
            "EMAIL" => Medium::Email,
            "SMS" => Medium::Sms,
            other => {
                return Err(ApiError::invalid_parameter(format!(
                    "1 validation error detected: Value '[{other}]' at 'desiredDeliveryMediums' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [SMS, EMAIL]]"
                )));
            }
        };
        if !out.contains(&medium) {
            out.push(medium);
        }
    }
    Ok(out)
}
