//! Multi-factor authentication settings: the pool's factors (`SetUserPoolMfaConfig`)
//! and a user's factors and preference (`SetUserMFAPreference`). Pure functions the
//! pool and user aggregates decide with; the factors themselves (TOTP secrets, codes)
//! live in authn-flow.

use portcullis_proto::directory::v1::{MfaSetting, SetUserPoolMfaConfigRequest};
use portcullis_proto::events::v1::{
    UserMfaPreferenceChanged, UserPoolMfaConfigured, UserPoolSettings,
};

use super::ApiError;
use super::ErrorCode;
use super::pool_settings::check_sms_message;

pub const SMS_MFA: &str = "SMS_MFA";
pub const SOFTWARE_TOKEN_MFA: &str = "SOFTWARE_TOKEN_MFA";
pub const EMAIL_OTP: &str = "EMAIL_OTP";

/// The pool's MFA configuration after `SetUserPoolMfaConfig`. Members left out keep
/// their value, except `EmailMfaConfiguration`, whose absence turns email MFA off (it
/// has no `Enabled` flag). SMS MFA is on while the pool has an SMS configuration.
pub fn configure(
    pool_id: &str,
    current: &UserPoolSettings,
    req: &SetUserPoolMfaConfigRequest,
) -> Result<UserPoolMfaConfigured, ApiError> {
    let mfa_configuration = if req.mfa_configuration.is_empty() {
        current.mfa_configuration.clone()
    } else {
        req.mfa_configuration.clone()
    };
    if !matches!(mfa_configuration.as_str(), "OFF" | "ON" | "OPTIONAL") {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{mfa_configuration}' at 'mfaConfiguration' failed to satisfy constraint: Member must satisfy enum value set: [OFF, ON, OPTIONAL]"
        )));
    }
    let mut sms_authentication_message = current.sms_authentication_message.clone();
    let mut sms_configuration = current.sms_configuration.clone();
    if let Some(sms) = &req.sms {
        check_sms_message(
            &sms.sms_authentication_message,
            "smsMfaConfiguration.smsAuthenticationMessage",
        )?;
        sms_authentication_message.clone_from(&sms.sms_authentication_message);
        if let Some(configuration) = &sms.sms_configuration {
            super::pool_settings::validate_sms_configuration(configuration)?;
            sms_configuration = Some(configuration.clone());
        }
        if sms_configuration.is_none() {
            return Err(ApiError::invalid_parameter(
                "SMS configuration is required to turn on SMS MFA.",
            ));
        }
    }
    let software_token_mfa_configuration = req
        .software_token
        .or(current.software_token_mfa_configuration);
    let email_mfa_configuration = req.email.clone();
    if let Some(email) = &email_mfa_configuration {
        if current.user_pool_tier == "LITE" {
            return Err(ApiError::new(
                ErrorCode::FeatureUnavailableInTierException,
                "Email MFA is not available in the LITE tier. Upgrade the user pool to the ESSENTIALS or PLUS tier.",
            ));
        }
        let developer = current
            .email_configuration
            .as_ref()
            .is_some_and(|c| c.email_sending_account == "DEVELOPER");
        if !developer {
            return Err(ApiError::invalid_parameter(
                "Email MFA requires a user pool email configuration with EmailSendingAccount DEVELOPER.",
            ));
        }
        check_email_mfa(email)?;
    }
    let web_authn_configuration = match &req.web_authn {
        Some(w) => Some(check_web_authn(w.clone())?),
        None => current.web_authn_configuration.clone(),
    };
    let configured = UserPoolMfaConfigured {
        pool_id: pool_id.to_owned(),
        mfa_configuration,
        sms_authentication_message,
        sms_configuration,
        software_token_mfa_configuration,
        email_mfa_configuration,
        web_authn_configuration,
    };
    let any_factor = configured.sms_configuration.is_some()
        || configured
            .software_token_mfa_configuration
            .as_ref()
            .is_some_and(|t| t.enabled)
        || configured.email_mfa_configuration.is_some();
    if configured.mfa_configuration != "OFF" && !any_factor {
        return Err(ApiError::invalid_parameter(
            "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration.",
        ));
    }
    let configures_a_factor = req.software_token.as_ref().is_some_and(|t| t.enabled)
        || req.email.is_some()
        || req.sms.is_some();
    if configured.mfa_configuration == "OFF" && configures_a_factor {
        return Err(ApiError::invalid_parameter(
            "Invalid MFA configuration given, can't turn off MFA and configure an MFA together.",
        ));
    }
    Ok(configured)
}

fn check_email_mfa(
    email: &portcullis_proto::events::v1::EmailMfaConfiguration,
) -> Result<(), ApiError> {
    let message_len = email.message.chars().count();
    if !email.message.is_empty() {
        if !(6..=20_000).contains(&message_len) {
            return Err(ApiError::invalid_parameter(
                "1 validation error detected: Value at 'emailMfaConfiguration.message' failed to satisfy constraint: Member must have length between 6 and 20000",
            ));
        }
        if !email.message.contains("{####}") {
            return Err(ApiError::invalid_parameter(
                "The email MFA message must contain the {####} placeholder.",
            ));
        }
    }
    if email.subject.chars().count() > 140 {
        return Err(ApiError::invalid_parameter(
            "1 validation error detected: Value at 'emailMfaConfiguration.subject' failed to satisfy constraint: Member must have length less than or equal to 140",
        ));
    }
    Ok(())
}

fn check_web_authn(
    mut w: portcullis_proto::events::v1::WebAuthnConfiguration,
) -> Result<portcullis_proto::events::v1::WebAuthnConfiguration, ApiError> {
    if w.user_verification.is_empty() {
        "preferred".clone_into(&mut w.user_verification);
    }
    if !matches!(w.user_verification.as_str(), "required" | "preferred") {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at 'webAuthnConfiguration.userVerification' failed to satisfy constraint: Member must satisfy enum value set: [required, preferred]",
            w.user_verification
        )));
    }
    if !w.factor_configuration.is_empty()
        && !matches!(
            w.factor_configuration.as_str(),
            "SINGLE_FACTOR" | "MULTI_FACTOR_WITH_USER_VERIFICATION"
        )
    {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at 'webAuthnConfiguration.factorConfiguration' failed to satisfy constraint: Member must satisfy enum value set: [SINGLE_FACTOR, MULTI_FACTOR_WITH_USER_VERIFICATION]",
            w.factor_configuration
        )));
    }
    if w.relying_party_id.chars().count() > 127 {
        return Err(ApiError::invalid_parameter(
            "1 validation error detected: Value at 'webAuthnConfiguration.relyingPartyId' failed to satisfy constraint: Member must have length less than or equal to 127",
        ));
    }
    Ok(w)
}

/// Folds a `UserPoolMfaConfigured` into the pool's settings.
pub fn apply(settings: &mut UserPoolSettings, e: &UserPoolMfaConfigured) {
    settings.mfa_configuration.clone_from(&e.mfa_configuration);
    settings
        .sms_authentication_message
        .clone_from(&e.sms_authentication_message);
    settings.sms_configuration.clone_from(&e.sms_configuration);
    settings
        .software_token_mfa_configuration
        .clone_from(&e.software_token_mfa_configuration);
    settings
        .email_mfa_configuration
        .clone_from(&e.email_mfa_configuration);
    settings
        .web_authn_configuration
        .clone_from(&e.web_authn_configuration);
}

/// What a user can receive a factor on.
pub struct Reachability {
    pub phone_number: bool,
    pub email: bool,
    pub software_token_verified: bool,
}

/// A user's factors after `SetUserMFAPreference`: each setting given turns its factor on
/// or off and may make it the preferred one; settings left out change nothing. `None`
/// when nothing changes.
pub fn preference(
    enabled: &[String],
    preferred: &str,
    reach: &Reachability,
    settings: [(&'static str, Option<&MfaSetting>); 3],
) -> Result<Option<UserMfaPreferenceChanged>, ApiError> {
    let mut next: Vec<String> = enabled.to_vec();
    let mut next_preferred = preferred.to_owned();
    for (factor, setting) in settings {
        let Some(setting) = setting else { continue };
        if setting.enabled {
            let reachable = match factor {
                SMS_MFA => reach.phone_number,
                EMAIL_OTP => reach.email,
                _ => reach.software_token_verified,
            };
            if !reachable {
                return Err(ApiError::invalid_parameter(format!(
                    "User does not have delivery config set to turn on {factor}"
                )));
            }
            if !next.iter().any(|f| f == factor) {
                next.push(factor.to_owned());
            }
            if setting.preferred {
                factor.clone_into(&mut next_preferred);
            } else if next_preferred == factor {
                next_preferred.clear();
            }
        } else {
            next.retain(|f| f != factor);
            if next_preferred == factor {
                next_preferred.clear();
            }
        }
    }
    let order = |f: &String| {
        [SMS_MFA, SOFTWARE_TOKEN_MFA, EMAIL_OTP]
            .iter()
            .position(|o| o == f)
    };
    next.sort_by_key(order);
    if next == enabled && next_preferred == preferred {
        return Ok(None);
    }
    Ok(Some(UserMfaPreferenceChanged {
        enabled: next,
        preferred: next_preferred,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_proto::events::v1::{SmsConfiguration, SoftwareTokenMfaConfiguration};

    fn request(mode: &str) -> SetUserPoolMfaConfigRequest {
        SetUserPoolMfaConfigRequest {
            mfa_configuration: mode.into(),
            ..Default::default()
        }
    }

    #[test]
    fn mfa_on_needs_a_factor_and_off_refuses_one() {
        let pool = UserPoolSettings {
            mfa_configuration: "OFF".into(),
            ..Default::default()
        };
        let err = configure("p", &pool, &request("ON")).unwrap_err();
        assert!(err.message.contains("can't disable all MFAs"));
        let mut totp = request("OFF");
        totp.software_token = Some(SoftwareTokenMfaConfiguration { enabled: true });
        let err = configure("p", &pool, &totp).unwrap_err();
        assert!(err.message.contains("can't turn off MFA and configure"));
        totp.mfa_configuration = "OPTIONAL".into();
        let configured = configure("p", &pool, &totp).unwrap();
        assert_eq!(configured.mfa_configuration, "OPTIONAL");
        let mut folded = pool.clone();
        apply(&mut folded, &configured);
        assert!(folded.software_token_mfa_configuration.unwrap().enabled);
    }

    #[test]
    fn sms_mfa_is_on_with_an_sms_configuration() {
        let pool = UserPoolSettings {
            sms_configuration: Some(SmsConfiguration {
                sns_caller_arn: "arn:aws:iam::123456789012:role/sns".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(configure("p", &pool, &request("ON")).is_ok());
        let email = SetUserPoolMfaConfigRequest {
            mfa_configuration: "ON".into(),
            email: Some(Default::default()),
            ..Default::default()
        };
        assert!(configure("p", &pool, &email).is_err(), "no developer email");
    }

    #[test]
    fn preferences_need_a_delivery_and_prefer_one_factor() {
        let reach = Reachability {
            phone_number: true,
            email: false,
            software_token_verified: false,
        };
        let on = |preferred| MfaSetting {
            enabled: true,
            preferred,
        };
        let err = preference(
            &[],
            "",
            &reach,
            [
                (SMS_MFA, None),
                (SOFTWARE_TOKEN_MFA, Some(&on(true))),
                (EMAIL_OTP, None),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA"
        );
        let changed = preference(
            &[],
            "",
            &reach,
            [
                (SMS_MFA, Some(&on(true))),
                (SOFTWARE_TOKEN_MFA, None),
                (EMAIL_OTP, None),
            ],
        )
        .unwrap()
        .unwrap();
        assert_eq!(changed.enabled, [SMS_MFA]);
        assert_eq!(changed.preferred, SMS_MFA);
        let off = MfaSetting::default();
        let changed = preference(
            &changed.enabled,
            SMS_MFA,
            &reach,
            [
                (SMS_MFA, Some(&off)),
                (SOFTWARE_TOKEN_MFA, None),
                (EMAIL_OTP, None),
            ],
        )
        .unwrap()
        .unwrap();
        assert!(changed.enabled.is_empty() && changed.preferred.is_empty());
        let same = preference(
            &[],
            "",
            &reach,
            [
                (SMS_MFA, None),
                (SOFTWARE_TOKEN_MFA, None),
                (EMAIL_OTP, None),
            ],
        );
        assert_eq!(same.unwrap(), None);
    }
}
