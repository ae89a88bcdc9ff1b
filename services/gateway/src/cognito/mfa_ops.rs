//! MFA operations: the pool's MFA configuration, TOTP authenticators, and a user's MFA
//! preference and factors.

use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as authn;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{
    EmailMfaConfiguration, SoftwareTokenMfaConfiguration, UserPoolSettings, WebAuthnConfiguration,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::{UserRef, authorize_user_token, caller, token_user_error};
use super::pool_shapes::{SmsConfigurationType, deep_compact, sms_configuration_out};
use super::shapes::{parse, required};
use super::user_ops::{by_sub, user_caller, user_ref};
use crate::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SmsMfaConfigType {
    sms_authentication_message: Option<String>,
    sms_configuration: Option<SmsConfigurationType>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnabledType {
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EmailMfaConfigType {
    message: Option<String>,
    subject: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WebAuthnConfigurationType {
    relying_party_id: Option<String>,
    user_verification: Option<String>,
    factor_configuration: Option<String>,
}

/// `SmsMfaConfiguration`, `SoftwareTokenMfaConfiguration`, `EmailMfaConfiguration`,
/// `MfaConfiguration` and `WebAuthnConfiguration` of a pool, as
/// GetUserPoolMfaConfig / SetUserPoolMfaConfig return them.
fn mfa_config_out(s: &UserPoolSettings) -> Value {
    let sms = s.sms_configuration.as_ref().map(|c| {
        let mut out = json!({ "SmsConfiguration": sms_configuration_out(c) });
        if !s.sms_authentication_message.is_empty() {
            out["SmsAuthenticationMessage"] = json!(s.sms_authentication_message);
        }
        out
    });
    let email = s.email_mfa_configuration.as_ref().map(|e| {
        let mut out = json!({});
        if !e.message.is_empty() {
            out["Message"] = json!(e.message);
        }
        if !e.subject.is_empty() {
            out["Subject"] = json!(e.subject);
        }
        out
    });
    let web_authn = s.web_authn_configuration.as_ref().map(|w| {
        let mut out = json!({ "UserVerification": w.user_verification });
        if !w.relying_party_id.is_empty() {
            out["RelyingPartyId"] = json!(w.relying_party_id);
        }
        if !w.factor_configuration.is_empty() {
            out["FactorConfiguration"] = json!(w.factor_configuration);
        }
        out
    });
    deep_compact(json!({
        "SmsMfaConfiguration": sms,
        "SoftwareTokenMfaConfiguration": {
            "Enabled": s.software_token_mfa_configuration.as_ref().is_some_and(|t| t.enabled),
        },
        "EmailMfaConfiguration": email,
        "MfaConfiguration": s.mfa_configuration,
        "WebAuthnConfiguration": web_authn,
    }))
}

pub(super) async fn set_user_pool_mfa_config(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        sms_mfa_configuration: Option<SmsMfaConfigType>,
        software_token_mfa_configuration: Option<EnabledType>,
        email_mfa_configuration: Option<EmailMfaConfigType>,
        mfa_configuration: Option<String>,
        web_authn_configuration: Option<WebAuthnConfigurationType>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = dir::SetUserPoolMfaConfigRequest {
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        mfa_configuration: req.mfa_configuration.unwrap_or_default(),
        sms: req.sms_mfa_configuration.map(|s| dir::SmsMfaSettings {
            sms_authentication_message: s.sms_authentication_message.unwrap_or_default(),
            sms_configuration: s.sms_configuration.map(SmsConfigurationType::into_proto),
        }),
        software_token: req.software_token_mfa_configuration.map(|t| {
            SoftwareTokenMfaConfiguration {
                enabled: t.enabled.unwrap_or(false),
            }
        }),
        email: req.email_mfa_configuration.map(|e| EmailMfaConfiguration {
            message: e.message.unwrap_or_default(),
            subject: e.subject.unwrap_or_default(),
        }),
        web_authn: req.web_authn_configuration.map(|w| WebAuthnConfiguration {
            relying_party_id: w.relying_party_id.unwrap_or_default(),
            user_verification: w.user_verification.unwrap_or_default(),
            factor_configuration: w.factor_configuration.unwrap_or_default(),
        }),
    };
    let pool = state
        .directory
        .clone()
        .set_user_pool_mfa_config(request)
        .await?
        .into_inner();
    Ok(mfa_config_out(&pool.settings.unwrap_or_default()))
}

pub(super) async fn get_user_pool_mfa_config(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let pool_id = required(req.user_pool_id, "userPoolId")?;
    let pool = state
        .directory
        .clone()
        .describe_user_pool(dir::DescribeUserPoolRequest { pool_id })
        .await?
        .into_inner();
    Ok(mfa_config_out(&pool.settings.unwrap_or_default()))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TokenOrSession {
    access_token: Option<String>,
    session: Option<String>,
}

/// The signed-in user an access token names, or none when the request carries a session.
async fn token_or_session(
    state: &AppState,
    body: &Value,
) -> Result<(String, String, String), ApiError> {
    let req: TokenOrSession = parse(body.clone())?;
    match (req.access_token, req.session) {
        (Some(_), Some(_)) => Err(ApiError::invalid_parameter(
            "Only one of AccessToken or Session may be given.",
        )),
        (Some(_), None) => {
            let (verified, _) = authorize_user_token(state, body.clone()).await?;
            Ok((verified.pool_id, verified.sub, String::new()))
        }
        (None, Some(session)) => Ok((String::new(), String::new(), session)),
        (None, None) => Err(ApiError::invalid_parameter(
            "Either AccessToken or Session is required.",
        )),
    }
}

pub(super) async fn associate_software_token(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let (pool_id, sub, session) = token_or_session(state, &call.body).await?;
    let request = authn::AssociateSoftwareTokenRequest {
        region: call.region.clone(),
        correlation_id: call.request_id.clone(),
        pool_id,
        sub,
        session,
    };
    let response = state
        .authn
        .clone()
        .associate_software_token(request)
        .await?
        .into_inner();
    Ok(super::shapes::compact(json!({
        "SecretCode": response.secret_code,
        "Session": (!response.session.is_empty()).then_some(response.session),
    })))
}

pub(super) async fn verify_software_token(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_code: Option<String>,
        friendly_device_name: Option<String>,
    }
    let req: Req = parse(call.body.clone())?;
    let user_code = required(req.user_code, "userCode")?;
    if user_code.len() != 6 || !user_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_parameter(
            "1 validation error detected: Value at 'userCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+ and have length 6",
        ));
    }
    let (pool_id, sub, session) = token_or_session(state, &call.body).await?;
    let request = authn::VerifySoftwareTokenRequest {
        region: call.region.clone(),
        correlation_id: call.request_id.clone(),
        pool_id,
        sub,
        session,
        user_code,
        friendly_device_name: req.friendly_device_name.unwrap_or_default(),
    };
    let response = state
        .authn
        .clone()
        .verify_software_token(request)
        .await?
        .into_inner();
    Ok(super::shapes::compact(json!({
        "Status": response.status,
        "Session": (!response.session.is_empty()).then_some(response.session),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MfaSettingsType {
    enabled: Option<bool>,
    preferred_mfa: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PreferenceReq {
    #[serde(rename = "SMSMfaSettings")]
    sms_mfa_settings: Option<MfaSettingsType>,
    software_token_mfa_settings: Option<MfaSettingsType>,
    email_mfa_settings: Option<MfaSettingsType>,
    user_pool_id: Option<String>,
    username: Option<String>,
}

fn setting(s: Option<MfaSettingsType>) -> Option<dir::MfaSetting> {
    s.map(|s| dir::MfaSetting {
        enabled: s.enabled.unwrap_or(false),
        preferred: s.preferred_mfa.unwrap_or(false),
    })
}

pub(super) async fn set_user_mfa_preference(
    state: &AppState,
    call: Call,
    admin: bool,
) -> Result<Value, ApiError> {
    let req: PreferenceReq = parse(call.body.clone())?;
    let (caller, user) = if admin {
        let user = user_ref(UserRef {
            user_pool_id: req.user_pool_id,
            username: req.username,
        })?;
        (caller(&call), user)
    } else {
        let (verified, _) = authorize_user_token(state, call.body.clone()).await?;
        (user_caller(&call, &verified.sub), by_sub(&verified))
    };
    let request = dir::SetUserMfaPreferenceRequest {
        caller: Some(caller),
        user: Some(user),
        sms: setting(req.sms_mfa_settings),
        software_token: setting(req.software_token_mfa_settings),
        email: setting(req.email_mfa_settings),
    };
    let result = state
        .directory
        .clone()
        .set_user_mfa_preference(request)
        .await;
    if admin {
        result?;
    } else {
        result.map_err(token_user_error)?;
    }
    Ok(json!({}))
}

/// `UserMFASettingList` and `PreferredMfaSetting` of a user (the legacy SMS `MFAOptions`
/// count as SMS MFA).
pub(super) fn mfa_settings_out(user: &dir::User) -> (Value, Value) {
    let mut list: Vec<&str> = user.mfa_enabled.iter().map(String::as_str).collect();
    if user.mfa_options.iter().any(|o| o.delivery_medium == "SMS") && !list.contains(&"SMS_MFA") {
        list.insert(0, "SMS_MFA");
    }
    let list = if list.is_empty() {
        Value::Null
    } else {
        json!(list)
    };
    let preferred = if user.preferred_mfa.is_empty() {
        Value::Null
    } else {
        json!(user.preferred_mfa)
    };
    (list, preferred)
}

pub(super) async fn get_user_auth_factors(
    state: &AppState,
    call: Call,
    admin: bool,
) -> Result<Value, ApiError> {
    let user = if admin {
        let req: UserRef = parse(call.body)?;
        let request = dir::GetUserRequest {
            pool_id: required(req.user_pool_id, "userPoolId")?,
            key: Some(dir::get_user_request::Key::Username(required(
                req.username,
                "username",
            )?)),
            client_id: String::new(),
        };
        state
            .directory
            .clone()
            .get_user(request)
            .await?
            .into_inner()
    } else {
        authorize_user_token(state, call.body).await?.1
    };
    let (list, preferred) = mfa_settings_out(&user);
    let mut factors = vec!["PASSWORD"];
    if user.software_token_verified {
        factors.push("SOFTWARE_TOKEN");
    }
    Ok(super::shapes::compact(json!({
        "Username": user.username,
        "PreferredMfaSetting": preferred,
        "UserMFASettingList": list,
        "ConfiguredUserAuthFactors": factors,
    })))
}
