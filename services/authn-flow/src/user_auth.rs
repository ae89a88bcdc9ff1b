//! `USER_AUTH`, choice-based sign-in: the client names a user and either states the
//! first factor it wants (`PREFERRED_CHALLENGE`) or is answered with `SELECT_CHALLENGE`
//! and the `AvailableChallenges` to pick from. The factors a user may use are those the
//! pool's sign-in policy allows and the user has: `PASSWORD` and `PASSWORD_SRP` for a
//! user with a password, `WEB_AUTHN` for one with a passkey, `EMAIL_OTP` / `SMS_OTP`
//! for one with a verified email address / phone number. The chosen factor then runs as its own flow does
//! (`USER_PASSWORD_AUTH`, `USER_SRP_AUTH`), under the client's `ALLOW_USER_AUTH`.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;

use crate::auth_session::{Session, invalid_session};
use crate::context::{ClientInfo, Flows, kv_error};
use crate::credential::Credential;
use crate::machine::mfa::Factor;
use crate::passkeys::{WEB_AUTHN, relying_party};
use crate::passwords::credential_key;

pub const SELECT_CHALLENGE: &str = "SELECT_CHALLENGE";

/// Every first factor of `USER_AUTH`, as the model names them.
const FIRST_FACTORS: [&str; 5] = [
    "PASSWORD",
    "PASSWORD_SRP",
    "EMAIL_OTP",
    "SMS_OTP",
    "WEB_AUTHN",
];

fn flow_not_enabled() -> ApiError {
    ApiError::invalid_parameter("USER_AUTH flow not enabled for this client")
}

/// What a user has for the first factors of `USER_AUTH`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Factors {
    pub password: bool,
    pub passkeys: bool,
    pub verified_email: bool,
    pub verified_phone: bool,
}

/// The first factors a user may choose from, given the pool's allowed first factors.
/// One-time codes are not offered while the pool requires MFA.
pub(crate) fn available(allowed: &[String], has: Factors, mfa_required: bool) -> Vec<String> {
    let allows = |factor: &str| allowed.iter().any(|f| f == factor);
    let mut out = Vec::new();
    if has.password && allows("PASSWORD") {
        out.extend(["PASSWORD".to_owned(), "PASSWORD_SRP".to_owned()]);
    }
    if has.passkeys && allows(WEB_AUTHN) {
        out.push(WEB_AUTHN.to_owned());
    }
    if !mfa_required && has.verified_email && allows("EMAIL_OTP") {
        out.push("EMAIL_OTP".to_owned());
    }
    if !mfa_required && has.verified_phone && allows("SMS_OTP") {
        out.push("SMS_OTP".to_owned());
    }
    out
}

impl Flows {
    pub(crate) async fn user_auth(
        &self,
        client: &ClientInfo,
        req: &pb::InitiateAuthRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        if !client.allows("ALLOW_USER_AUTH") {
            return Err(flow_not_enabled());
        }
        let param = |name: &str| req.auth_parameters.get(name).map(String::as_str);
        let username = param("USERNAME")
            .ok_or_else(|| ApiError::invalid_parameter("Missing required parameter USERNAME"))?;
        let preferred = param("PREFERRED_CHALLENGE").filter(|p| !p.is_empty());
        if let Some(p) = preferred
            && !FIRST_FACTORS.contains(&p)
        {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid value for PREFERRED_CHALLENGE: {p}"
            )));
        }
        let user = self.user_by_name(client.pool_id(), username).await?;
        let internal = user.as_ref().map_or(username, |u| u.username.as_str());
        client.check_secret_hash(&[username, internal], param("SECRET_HASH"))?;
        let available = self.available_for(client, user.as_ref()).await?;
        match preferred {
            Some(choice) if available.iter().any(|a| a == choice) => {
                self.first_factor(client, req, user.as_ref(), choice).await
            }
            _ => {
                self.select_challenge(client, user.as_ref(), internal, available)
                    .await
            }
        }
    }

    /// What the user may sign in with. A name that matches nobody gets what a user with
    /// a password gets when the client hides which users exist.
    async fn available_for(
        &self,
        client: &ClientInfo,
        user: Option<&dir::User>,
    ) -> Result<Vec<String>, ApiError> {
        let full = self.pool(client.pool_id()).await?;
        let pool = full.settings.clone().unwrap_or_default();
        let allowed = pool
            .sign_in_policy
            .as_ref()
            .map(|p| p.allowed_first_auth_factors.clone())
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| vec!["PASSWORD".to_owned()]);
        let has_passkeys = match (user, relying_party(&full)) {
            (Some(user), Ok(rp)) => self.has_passkeys(user, &rp.id).await?,
            _ => false,
        };
        let verified = |name: &str| {
            user.is_some_and(|u| {
                u.attributes
                    .iter()
                    .any(|a| a.name == name && a.value == "true")
            })
        };
        let has_password = match user {
            None if client.hides_user_existence() => true,
            None => {
                return Err(ApiError::new(
                    ErrorCode::UserNotFoundException,
                    "User does not exist.",
                ));
            }
            Some(user) => {
                let key = credential_key(&user.pool_id, &user.sub);
                self.credentials
                    .get(&key)
                    .await
                    .map_err(kv_error)?
                    .and_then(|entry| Credential::decode(&entry.value))
                    .is_some_and(|credential| credential.has_password())
                    || user.status == "RESET_REQUIRED"
            }
        };
        let has = Factors {
            password: has_password,
            passkeys: has_passkeys,
            verified_email: verified("email_verified"),
            verified_phone: verified("phone_number_verified"),
        };
        Ok(available(&allowed, has, pool.mfa_configuration == "ON"))
    }

    async fn select_challenge(
        &self,
        client: &ClientInfo,
        user: Option<&dir::User>,
        username: &str,
        available: Vec<String>,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let session = Session {
            challenge: SELECT_CHALLENGE.to_owned(),
            pool_id: client.pool_id().to_owned(),
            client_id: client.client.client_id.clone(),
            sub: user.map(|u| u.sub.clone()).unwrap_or_default(),
            username: username.to_owned(),
            data: String::new(),
            device_key: String::new(),
            step: String::new(),
            attempts: 0,
            expires_ms: 0,
            hosted: client.hosted,
            event_id: String::new(),
            event_step: 0,
        };
        let token = self.open_session(client, &session).await?;
        Ok(pb::InitiateAuthResponse {
            challenge_name: SELECT_CHALLENGE.to_owned(),
            session: token,
            challenge_parameters: std::collections::HashMap::new(),
            available_challenges: available,
            ..Default::default()
        })
    }

    /// Runs the chosen first factor with the parameters in `req`.
    async fn first_factor(
        &self,
        client: &ClientInfo,
        req: &pb::InitiateAuthRequest,
        user: Option<&dir::User>,
        choice: &str,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        match (choice, user) {
            (WEB_AUTHN, Some(user)) => {
                if req.auth_parameters.contains_key("CREDENTIAL") {
                    return Err(ApiError::invalid_parameter(
                        "Ask for the WEB_AUTHN challenge first (without CREDENTIAL), then answer it",
                    ));
                }
                self.web_authn_challenge(client, user).await
            }
            ("PASSWORD", _) => {
                self.password_auth(client, req, "ALLOW_USER_AUTH", "USER_AUTH", None)
                    .await
            }
            ("PASSWORD_SRP", _) => self.srp_start(client, req).await,
            ("EMAIL_OTP" | "SMS_OTP", Some(user)) => {
                let factor = if choice == "EMAIL_OTP" {
                    Factor::Email
                } else {
                    Factor::Sms
                };
                let device_key = req
                    .auth_parameters
                    .get("DEVICE_KEY")
                    .map_or("", String::as_str);
                // Anyone who knows a user name can ask for this code: count it against
                // the client too, not only against the user.
                self.codes
                    .admit_client(&client.client.client_id)
                    .await
                    .map_err(|e| {
                        crate::context::too_many_requests(crate::context::code_error(e))
                    })?;
                self.otp_first_factor(client, user, factor, device_key)
                    .await
            }
            (other, _) => Err(ApiError::invalid_parameter(format!(
                "Unsupported challenge: {other}"
            ))),
        }
    }

    /// The answer to `SELECT_CHALLENGE` (`ANSWER` names the factor), or a factor answered
    /// directly under that session (`ChallengeName` `PASSWORD` or `PASSWORD_SRP`).
    pub(crate) async fn select_challenge_answer(
        &self,
        client: &ClientInfo,
        req: &pb::RespondToAuthChallengeRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        if !client.allows("ALLOW_USER_AUTH") {
            return Err(flow_not_enabled());
        }
        let responses = &req.challenge_responses;
        let username = responses
            .get("USERNAME")
            .ok_or_else(|| ApiError::invalid_parameter("Missing required parameter USERNAME"))?;
        let choice = if req.challenge_name == SELECT_CHALLENGE {
            responses
                .get("ANSWER")
                .ok_or_else(|| ApiError::invalid_parameter("Missing required parameter ANSWER"))?
                .as_str()
        } else {
            req.challenge_name.as_str()
        };
        // The session is spent by this answer, right or wrong.
        let session = self
            .take_session(&req.session, SELECT_CHALLENGE, client)
            .await?;
        let user = self.user_by_name(&session.pool_id, username).await?;
        let same = match &user {
            Some(user) => user.sub == session.sub,
            None => session.sub.is_empty() && session.username == *username,
        };
        if !same {
            return Err(invalid_session());
        }
        let available = self.available_for(client, user.as_ref()).await?;
        if !available.iter().any(|a| a == choice) {
            return Err(ApiError::invalid_parameter(format!(
                "The challenge {choice} is not available for this user"
            )));
        }
        let as_initiate = pb::InitiateAuthRequest {
            caller_context: req.caller_context.clone(),
            region: req.region.clone(),
            auth_flow: "USER_AUTH".into(),
            auth_parameters: responses.clone(),
            client_id: req.client_id.clone(),
            admin_pool_id: req.admin_pool_id.clone(),
            correlation_id: req.correlation_id.clone(),
            hosted: client.hosted,
        };
        self.first_factor(client, &as_initiate, user.as_ref(), choice)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::{Factors, available};

    #[test]
    fn users_choose_among_the_factors_the_pool_allows_and_they_have() {
        let allowed = |f: &[&str]| f.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let all = allowed(&["PASSWORD", "WEB_AUTHN", "EMAIL_OTP", "SMS_OTP"]);
        let everything = Factors {
            password: true,
            passkeys: true,
            verified_email: true,
            verified_phone: true,
        };
        assert_eq!(
            available(&all, everything, false),
            [
                "PASSWORD",
                "PASSWORD_SRP",
                "WEB_AUTHN",
                "EMAIL_OTP",
                "SMS_OTP"
            ]
        );
        // Codes are not a first factor while the pool requires MFA.
        assert_eq!(
            available(&all, everything, true),
            ["PASSWORD", "PASSWORD_SRP", "WEB_AUTHN"]
        );
        let password_only = Factors {
            password: true,
            ..Factors::default()
        };
        assert_eq!(
            available(&all, password_only, false),
            ["PASSWORD", "PASSWORD_SRP"]
        );
        assert!(available(&allowed(&["EMAIL_OTP"]), password_only, false).is_empty());
        assert!(available(&allowed(&["PASSWORD"]), Factors::default(), false).is_empty());
    }
}
