//! Where codes go and in which message, and sending them.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::UserPoolSettings;

use crate::context::{Flows, code_error};
use crate::sender::{self, Medium};
use crate::triggers::Caller;

/// What a message is for: its `kind` (as the outbox and senders name it) and the
/// custom message trigger's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Purpose {
    pub kind: &'static str,
    pub source: &'static str,
}

impl Purpose {
    /// The custom message trigger's source, and whether the message is an invitation.
    pub(crate) fn trigger(self) -> (&'static str, bool) {
        (self.source, self == ADMIN_CREATE_USER)
    }
}

pub(crate) const SIGN_UP: Purpose = Purpose {
    kind: "SignUp",
    source: "CustomMessage_SignUp",
};
pub(crate) const RESEND_CODE: Purpose = Purpose {
    kind: "ResendCode",
    source: "CustomMessage_ResendCode",
};
pub(crate) const FORGOT_PASSWORD: Purpose = Purpose {
    kind: "ForgotPassword",
    source: "CustomMessage_ForgotPassword",
};
pub(crate) const ADMIN_RESET_PASSWORD: Purpose = Purpose {
    kind: "AdminResetUserPassword",
    source: "CustomMessage_ForgotPassword",
};
pub(crate) const UPDATE_ATTRIBUTE: Purpose = Purpose {
    kind: "VerifyUserAttribute",
    source: "CustomMessage_UpdateUserAttribute",
};
pub(crate) const VERIFY_ATTRIBUTE: Purpose = Purpose {
    kind: "VerifyUserAttribute",
    source: "CustomMessage_VerifyUserAttribute",
};
pub(crate) const AUTHENTICATION: Purpose = Purpose {
    kind: "Authentication",
    source: "CustomMessage_Authentication",
};
pub(crate) const ADMIN_CREATE_USER: Purpose = Purpose {
    kind: "AdminCreateUser",
    source: "CustomMessage_AdminCreateUser",
};

/// Cognito's default verification message.
pub(crate) const DEFAULT_CODE_MESSAGE: &str = "Your verification code is {####}. ";

/// Where a pool sends a user's confirmation code: the phone number if the pool verifies
/// phone numbers and the user has one, else the email address likewise.
pub(crate) fn verification_target(
    pool: &portcullis_proto::events::v1::UserPoolSettings,
    user: &dir::User,
) -> Option<(Medium, &'static str, String)> {
    let value = |name: &str| {
        user.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.clone())
    };
    let verifies = |name: &str| pool.auto_verified_attributes.iter().any(|a| a == name);
    if verifies("phone_number")
        && let Some(phone) = value("phone_number")
    {
        return Some((Medium::Sms, "phone_number", phone));
    }
    if verifies("email")
        && let Some(email) = value("email")
    {
        return Some((Medium::Email, "email", email));
    }
    None
}

/// Where a password-reset code goes: the first mechanism of the pool's
/// `AccountRecoverySetting` (by priority) the user can receive it on — a verified phone
/// number or a verified email address. Without a setting, a verified phone number is
/// preferred over a verified email (Cognito's legacy order); `admin_only` means none.
pub(crate) fn recovery_target(
    pool: &portcullis_proto::events::v1::UserPoolSettings,
    user: &dir::User,
) -> Option<(Medium, &'static str, String)> {
    let value = |name: &str| {
        user.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.clone())
    };
    let verified = |name: &str| value(&format!("{name}_verified")).as_deref() == Some("true");
    let mut mechanisms: Vec<(u32, String)> = pool
        .account_recovery_setting
        .as_ref()
        .map(|s| {
            s.recovery_mechanisms
                .iter()
                .map(|m| (m.priority, m.name.clone()))
                .collect()
        })
        .unwrap_or_default();
    if mechanisms.is_empty() {
        mechanisms = vec![
            (1, "verified_phone_number".into()),
            (2, "verified_email".into()),
        ];
    }
    mechanisms.sort();
    for (_, name) in mechanisms {
        let target = match name.as_str() {
            "verified_phone_number" => ("phone_number", Medium::Sms),
            "verified_email" => ("email", Medium::Email),
            _ => return None,
        };
        if verified(target.0)
            && let Some(destination) = value(target.0)
        {
            return Some((target.1, target.0, destination));
        }
    }
    None
}

/// The pool's verification message for a medium and, for email, its subject (Cognito's
/// defaults where the pool sets none).
pub(crate) fn verification_message(
    pool: &portcullis_proto::events::v1::UserPoolSettings,
    channel: Medium,
) -> (String, Option<String>) {
    let template = pool
        .verification_message_template
        .clone()
        .unwrap_or_default();
    let or = |value: String, default: &str| {
        if value.is_empty() {
            default.to_owned()
        } else {
            value
        }
    };
    match channel {
        Medium::Sms => (or(template.sms_message, DEFAULT_CODE_MESSAGE), None),
        Medium::Email => (
            or(template.email_message, DEFAULT_CODE_MESSAGE),
            Some(or(template.email_subject, "Your verification code")),
        ),
    }
}

/// What `CodeDeliveryDetails` says of a message sent to `destination`.
pub(crate) fn delivery_details(
    medium: Medium,
    attribute: &str,
    destination: &str,
) -> pb::CodeDeliveryDetails {
    pb::CodeDeliveryDetails {
        destination: sender::mask(medium, destination),
        delivery_medium: medium.medium().to_owned(),
        attribute_name: attribute.to_owned(),
    }
}

/// Plausible details for a user who does not exist, where the pool hides existence.
pub(crate) fn decoy_delivery(medium: Medium, username: &str) -> pb::CodeDeliveryDetails {
    match medium {
        Medium::Sms => delivery_details(medium, "phone_number", "+10000000000"),
        Medium::Email => delivery_details(medium, "email", &format!("{username}@example.com")),
    }
}

pub(crate) fn forgot_code_key(pool_id: &str, sub: &str) -> String {
    format!("forgot/{pool_id}/{sub}")
}

pub(crate) fn signup_code_key(pool_id: &str, sub: &str) -> String {
    format!("signup/{pool_id}/{sub}")
}

impl Flows {
    /// Issues a code under `key`, sends it to `target` in the pool's verification
    /// message (or the custom message trigger's) and says where it went.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send_code(
        &self,
        pool: &UserPoolSettings,
        user: &dir::User,
        (channel, attribute, destination): (Medium, &'static str, String),
        purpose: Purpose,
        key: &str,
        validity: std::time::Duration,
        caller: &Caller<'_>,
    ) -> Result<pb::CodeDeliveryDetails, ApiError> {
        let template = verification_message(pool, channel);
        self.send_code_with(
            user,
            (channel, attribute, destination),
            purpose,
            (key, validity),
            template,
            caller,
        )
        .await
    }

    /// Issues a code under `key` and sends it with `text` (`{####}` is the code) and,
    /// for email, `subject` — or with the custom message trigger's text and subject.
    pub(crate) async fn send_code_with(
        &self,
        user: &dir::User,
        (channel, attribute, destination): (Medium, &'static str, String),
        purpose: Purpose,
        (key, validity): (&str, std::time::Duration),
        template: (String, Option<String>),
        caller: &Caller<'_>,
    ) -> Result<pb::CodeDeliveryDetails, ApiError> {
        let started = std::time::Instant::now();
        let config = self.lambda_config(&user.pool_id).await?;
        if let Some(trigger) = Flows::custom_sender(&config, channel) {
            let code = self
                .codes
                .issue(key, attribute, validity)
                .await
                .map_err(code_error)?;
            self.send_with_custom_sender(&config, trigger, purpose.source, user, caller, &code)
                .await?;
            self.delivery_time.record(started.elapsed());
            return Ok(delivery_details(channel, attribute, &destination));
        }
        let (text, subject) = self
            .custom_message(&config, user, purpose.trigger(), caller, channel, template)
            .await?;
        let kind = purpose.kind;
        let code = self
            .codes
            .issue(key, attribute, validity)
            .await
            .map_err(code_error)?;
        let message = sender::Message {
            channel,
            destination: destination.clone(),
            pool_id: user.pool_id.clone(),
            username: user.username.clone(),
            kind,
            message: text
                .replace("{####}", &code)
                .replace("{username}", &user.username),
            code: Some(code),
            subject,
        };
        self.sender.send(&message).await.map_err(|err| {
            tracing::error!(error = %err, "could not deliver a confirmation code");
            ApiError::new(
                ErrorCode::CodeDeliveryFailureException,
                "Unable to deliver the message.",
            )
        })?;
        self.delivery_time.record(started.elapsed());
        Ok(delivery_details(channel, attribute, &destination))
    }
}
