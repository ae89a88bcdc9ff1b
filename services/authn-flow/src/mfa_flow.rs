//! The MFA step of a sign-in: after the first factor, the core decides (see
//! [`crate::machine::mfa::decide`]) whether the user answers SMS_MFA, EMAIL_OTP,
//! SOFTWARE_TOKEN_MFA, SELECT_MFA_TYPE or MFA_SETUP, and `mfa_challenge` opens it;
//! `answer_mfa` checks the answer and `finish_mfa` resumes the core after MFA.
//!
//! Every code check runs under the user's lockout (`guarded`). A wrong code answers
//! CodeMismatchException and leaves the session usable for [`MAX_WRONG_ANSWERS`] - 1
//! more tries within its validity; a right answer spends it. SMS and email codes are
//! single-use and expire after three minutes; a TOTP code is accepted once.

use std::collections::HashMap;
use std::time::Duration;

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::UserPoolSettings;

use crate::auth_session::{Session, invalid_session};
use crate::codes::CodeError;
use crate::context::{ClientInfo, Flows, code_error};
use crate::lockout::Proof;
use crate::machine::mfa::{self, Factor, Step};
use crate::machine::{DeviceStep, FirstFactor, Step as SignInStep};
use crate::sender::Medium;

/// SMS and email MFA codes are valid for three minutes, as in Cognito.
pub const CODE_VALIDITY: Duration = Duration::from_secs(180);
/// Wrong answers a session takes before it is spent.
pub const MAX_WRONG_ANSWERS: u32 = 3;
const DEFAULT_SMS_MESSAGE: &str = "Your authentication code is {####}. ";
const DEFAULT_EMAIL_SUBJECT: &str = "Your sign-in code";

pub(crate) fn code_mismatch() -> ApiError {
    ApiError::new(
        ErrorCode::CodeMismatchException,
        "Invalid code or auth state for the user.",
    )
}

fn mfa_code_key(pool_id: &str, sub: &str) -> String {
    format!("mfa/{pool_id}/{sub}")
}

/// The `USER_AUTH` first factor of a code by SMS.
pub const SMS_OTP: &str = "SMS_OTP";
/// The step of a code challenge that is a first factor, not MFA.
const FIRST_FACTOR: &str = "first-factor";

impl Flows {
    /// A one-time code as the first factor of `USER_AUTH`: sent, and its challenge
    /// opened. The session keeps the client's `DEVICE_KEY` for the steps after it.
    pub(crate) async fn otp_first_factor(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        factor: Factor,
        device_key: &str,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let pool = self.pool(&user.pool_id).await?.settings.unwrap_or_default();
        self.factor_challenge(client, user, &pool, factor, device_key.to_owned(), true)
            .await
    }

    /// The MFA challenge the core decided on. Its session carries `device`, for the
    /// steps after MFA.
    pub(crate) async fn mfa_challenge(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        pool: &UserPoolSettings,
        step: &Step,
        device: &DeviceStep,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let carried = serde_json::to_string(device).map_err(|_| ApiError::internal())?;
        let parameters = |extra: Vec<(&str, String)>| {
            let mut p = HashMap::from([("USER_ID_FOR_SRP".to_owned(), user.username.clone())]);
            p.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
            p
        };
        Ok(match step {
            Step::None => {
                tracing::error!("an MFA challenge without a factor");
                return Err(ApiError::internal());
            }
            Step::Challenge(factor) => {
                self.factor_challenge(client, user, pool, *factor, carried, false)
                    .await?
            }
            Step::Select(factors) => {
                let params = parameters(vec![("MFAS_CAN_CHOOSE", mfa::factor_list(factors))]);
                let names: Vec<&str> = factors.iter().map(|f| f.name()).collect();
                let token = self
                    .open_step_session(client, user, mfa::SELECT_MFA_TYPE, names.join(","), carried)
                    .await?;
                challenge_response(mfa::SELECT_MFA_TYPE, token, params)
            }
            Step::Setup(factors) => {
                let params = parameters(vec![("MFAS_CAN_SETUP", mfa::factor_list(factors))]);
                let token = self
                    .open_step_session(client, user, mfa::MFA_SETUP, String::new(), carried)
                    .await?;
                challenge_response(mfa::MFA_SETUP, token, params)
            }
        })
    }

    /// Opens the challenge of one factor, sending its code for SMS and email.
    async fn factor_challenge(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        pool: &UserPoolSettings,
        factor: Factor,
        carried: String,
        first_factor: bool,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        // As a USER_AUTH first factor the challenge is named after the one-time code
        // (SMS_OTP, EMAIL_OTP), and a right answer goes on to the steps after it.
        let (name, step) = match (first_factor, factor) {
            (true, Factor::Sms) => (SMS_OTP, FIRST_FACTOR),
            (true, _) => (factor.name(), FIRST_FACTOR),
            (false, _) => (factor.name(), ""),
        };
        let mut params = HashMap::from([("USER_ID_FOR_SRP".to_owned(), user.username.clone())]);
        let target = |name: &'static str, medium: Medium| {
            user.attributes
                .iter()
                .find(|a| a.name == name)
                .map(|a| (medium, name, a.value.clone()))
                .ok_or_else(|| ApiError::invalid_parameter(format!("User has no {name}.")))
        };
        let template = match factor {
            Factor::SoftwareToken => None,
            Factor::Sms => Some((
                target("phone_number", Medium::Sms)?,
                (
                    non_empty(&pool.sms_authentication_message, DEFAULT_SMS_MESSAGE),
                    None,
                ),
            )),
            Factor::Email => {
                let email = pool.email_mfa_configuration.clone().unwrap_or_default();
                Some((
                    target("email", Medium::Email)?,
                    (
                        non_empty(&email.message, crate::delivery::DEFAULT_CODE_MESSAGE),
                        Some(non_empty(&email.subject, DEFAULT_EMAIL_SUBJECT)),
                    ),
                ))
            }
        };
        if let Some((target, template)) = template {
            let key = mfa_code_key(&user.pool_id, &user.sub);
            let details = self
                .send_code_with(
                    user,
                    target,
                    crate::delivery::AUTHENTICATION,
                    (&key, CODE_VALIDITY),
                    template,
                    &crate::triggers::Caller::of(client),
                )
                .await
                .map_err(crate::context::too_many_requests)?;
            params.insert(
                "CODE_DELIVERY_DELIVERY_MEDIUM".into(),
                details.delivery_medium,
            );
            params.insert("CODE_DELIVERY_DESTINATION".into(), details.destination);
        }
        let token = self
            .open_step_session(client, user, name, step.to_owned(), carried)
            .await?;
        Ok(challenge_response(name, token, params))
    }

    /// RespondToAuthChallenge for SMS_MFA, EMAIL_OTP, SOFTWARE_TOKEN_MFA,
    /// SELECT_MFA_TYPE and MFA_SETUP.
    pub(crate) async fn answer_mfa(
        &self,
        client: &ClientInfo,
        req: &pb::RespondToAuthChallengeRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let responses = &req.challenge_responses;
        let required = |name: &str| crate::context::required_param(responses, name);
        let username = required("USERNAME")?;
        let session = self
            .take_any_session(&req.session)
            .await?
            .ok_or_else(invalid_session)?;
        if session.challenge != req.challenge_name || !session.answerable_by(client) {
            return Err(invalid_session());
        }
        client.attempt.resume(&session.event_id, session.event_step);
        let user = self
            .user_by_name(&session.pool_id, username)
            .await?
            .filter(|u| u.sub == session.sub)
            .ok_or_else(invalid_session)?;
        client.check_secret_hash(
            &[username, &user.username],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        match req.challenge_name.as_str() {
            mfa::SELECT_MFA_TYPE => {
                let answer = required("ANSWER")?;
                let offered = session.step.split(',').any(|f| f == answer);
                let Some(factor) = Factor::parse(answer).filter(|_| offered) else {
                    return Err(ApiError::invalid_parameter(format!(
                        "Invalid value for ANSWER: {answer}"
                    )));
                };
                let pool = self.pool(&user.pool_id).await?.settings.unwrap_or_default();
                self.factor_challenge(client, &user, &pool, factor, session.data, false)
                    .await
            }
            mfa::MFA_SETUP => {
                if session.step != "verified" {
                    return Err(invalid_session());
                }
                self.finish_mfa(client, &user, &session.data).await
            }
            name => {
                let (factor, member) = match name {
                    SMS_OTP => (Factor::Sms, "SMS_OTP_CODE"),
                    _ => {
                        let factor = Factor::parse(name).ok_or_else(invalid_session)?;
                        let member = match factor {
                            Factor::Sms => "SMS_MFA_CODE",
                            Factor::Email => "EMAIL_OTP_CODE",
                            Factor::SoftwareToken => "SOFTWARE_TOKEN_MFA_CODE",
                        };
                        (factor, member)
                    }
                };
                let code = required(member)?;
                if self.check_factor(client, &user, factor, code).await? {
                    if session.step == FIRST_FACTOR {
                        let device_key = Some(session.data.as_str()).filter(|d| !d.is_empty());
                        return self
                            .signed_in(client, &user, FirstFactor::OneTimeCode, device_key)
                            .await;
                    }
                    return self.finish_mfa(client, &user, &session.data).await;
                }
                self.retry_session(&req.session, session, MAX_WRONG_ANSWERS)
                    .await?;
                Err(code_mismatch())
            }
        }
    }

    /// Whether `code` is the user's current code for `factor`, under the lockout.
    async fn check_factor(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        factor: Factor,
        code: &str,
    ) -> Result<bool, ApiError> {
        let check = async {
            match factor {
                Factor::SoftwareToken => self.redeem_totp(&user.pool_id, &user.sub, code).await,
                Factor::Sms | Factor::Email => {
                    let key = mfa_code_key(&user.pool_id, &user.sub);
                    match self.codes.redeem(&key, code).await {
                        Ok(_) => Ok(true),
                        Err(CodeError::Mismatch) => Ok(false),
                        Err(CodeError::Expired | CodeError::TooManyAttempts) => {
                            Err(invalid_session())
                        }
                        Err(other) => Err(code_error(other)),
                    }
                }
            }
        };
        self.guarded(&client.attempt, &user.pool_id, &user.sub, Proof::Mfa, check)
            .await
    }

    /// The sign-in after a correct MFA answer: the device step the session carried
    /// (a known device proves itself, a new one is issued), then tokens.
    pub(crate) async fn finish_mfa(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        carried: &str,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let device: DeviceStep = serde_json::from_str(carried).map_err(|_| invalid_session())?;
        self.advance(client, user, SignInStep::AfterMfa(device), None, None)
            .await
    }

    /// A session of an MFA_SETUP challenge, for AssociateSoftwareToken and
    /// VerifySoftwareToken.
    pub(crate) async fn setup_session(&self, token: &str) -> Result<Session, ApiError> {
        self.take_any_session(token)
            .await?
            .filter(|s| s.challenge == mfa::MFA_SETUP)
            .ok_or_else(invalid_session)
    }
}

fn non_empty(value: &str, default: &str) -> String {
    if value.is_empty() {
        default.to_owned()
    } else {
        value.to_owned()
    }
}

fn challenge_response(
    name: &str,
    session: String,
    parameters: HashMap<String, String>,
) -> pb::InitiateAuthResponse {
    pb::InitiateAuthResponse {
        challenge_name: name.to_owned(),
        session,
        challenge_parameters: parameters,
        ..Default::default()
    }
}
