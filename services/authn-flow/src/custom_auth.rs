//! `CUSTOM_AUTH`: a sign-in whose challenges the pool's triggers decide. The define auth
//! challenge function reads the challenges so far (the session's rounds) and answers
//! the next one, success or failure; the create auth challenge function makes each
//! `CUSTOM_CHALLENGE` (public parameters for the client, private ones kept in the
//! session); the verify auth challenge response function judges each answer.

use std::collections::HashMap;

use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_triggers::{Trigger, invalid_response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::auth_session::{Session, invalid_session};
use crate::context::{ClientInfo, Flows, incorrect_credentials, required_param};
use crate::machine::FirstFactor;
use crate::triggers::{Caller, flag, is_unknown, unknown_user, user_attributes};

pub(crate) const CUSTOM_CHALLENGE: &str = "CUSTOM_CHALLENGE";

/// The most challenges one sign-in may go through before it fails.
const MAX_ROUNDS: usize = 10;

/// One challenge of the sign-in and how it was answered, as the define auth challenge
/// function reads it (`session` of its request).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Round {
    #[serde(rename = "challengeName")]
    challenge_name: String,
    #[serde(rename = "challengeResult")]
    challenge_result: bool,
    #[serde(rename = "challengeMetadata")]
    challenge_metadata: Option<String>,
}

/// What a `CUSTOM_CHALLENGE` session keeps until it is answered.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Kept {
    rounds: Vec<Round>,
    private: Map<String, Value>,
    metadata: Option<String>,
}

impl Flows {
    /// `InitiateAuth` / `AdminInitiateAuth` with `CUSTOM_AUTH`.
    pub(crate) async fn custom_auth(
        &self,
        client: &ClientInfo,
        req: &pb::InitiateAuthRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        if !client.allows("ALLOW_CUSTOM_AUTH") {
            return Err(ApiError::invalid_parameter(
                "CUSTOM_AUTH flow not enabled for this client",
            ));
        }
        let username = required_param(&req.auth_parameters, "USERNAME")?;
        let config = self.lambda_config(client.pool_id()).await?;
        if Trigger::DefineAuthChallenge.function(&config).is_none() {
            return Err(ApiError::invalid_parameter(
                "Custom auth lambda trigger is not configured for the user pool.",
            ));
        }
        let user = self.user_by_name(client.pool_id(), username).await?;
        let internal = user.as_ref().map_or(username, |u| u.username.as_str());
        let secret_hash = req.auth_parameters.get("SECRET_HASH").map(String::as_str);
        client.check_secret_hash(&[username, internal], secret_hash)?;
        let user = match user {
            Some(user) => {
                self.before_first_factor(client, Some(&user)).await?;
                user
            }
            // The functions run, told `userNotFound: true`, so that their challenges
            // look the same for everyone; no tokens are ever issued.
            None if client.hides_user_existence() => {
                self.before_unknown_first_factor(client, username).await?;
                unknown_user(client.pool_id(), username)
            }
            None => {
                return Err(ApiError::new(
                    portcullis_errors::ErrorCode::UserNotFoundException,
                    "User does not exist.",
                ));
            }
        };
        // With `SRP_A`, the password may be the first challenge (`PASSWORD_VERIFIER`).
        let (rounds, srp) = if req.auth_parameters.contains_key("SRP_A") {
            let srp_a = Round {
                challenge_name: "SRP_A".into(),
                challenge_result: true,
                challenge_metadata: None,
            };
            (vec![srp_a], Some(req))
        } else {
            (Vec::new(), None)
        };
        self.next_challenge(client, &user, rounds, srp).await
    }

    /// A `PASSWORD_VERIFIER` step of a `CUSTOM_AUTH` sign-in was answered with the
    /// right password: the define auth challenge function decides what follows.
    pub(crate) async fn custom_password_proven(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        rounds: &str,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let mut rounds: Vec<Round> = serde_json::from_str(rounds).map_err(|_| invalid_session())?;
        rounds.push(Round {
            challenge_name: "PASSWORD_VERIFIER".into(),
            challenge_result: true,
            challenge_metadata: None,
        });
        self.next_challenge(client, user, rounds, None).await
    }

    /// `RespondToAuthChallenge` with `CUSTOM_CHALLENGE`: the answer is judged, then the
    /// define auth challenge function decides what follows.
    pub(crate) async fn custom_challenge_answer(
        &self,
        client: &ClientInfo,
        req: &pb::RespondToAuthChallengeRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let responses = &req.challenge_responses;
        let username = required_param(responses, "USERNAME")?;
        let answer = required_param(responses, "ANSWER")?;
        // The session is spent by this answer, right or wrong.
        let session = self
            .take_session(&req.session, CUSTOM_CHALLENGE, client)
            .await?;
        let user = if session.sub.is_empty() {
            Some(unknown_user(&session.pool_id, &session.username))
                .filter(|_| username == session.username)
        } else {
            self.user_by_name(&session.pool_id, username)
                .await?
                .filter(|u| u.sub == session.sub)
        };
        let user = user.ok_or_else(invalid_session)?;
        client.check_secret_hash(
            &[username, &user.username],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        let kept: Kept = serde_json::from_str(&session.data).map_err(|_| invalid_session())?;
        let caller = Caller::of(client);
        let request = json!({
            "userAttributes": user_attributes(&user),
            "privateChallengeParameters": kept.private,
            "challengeAnswer": answer,
            "clientMetadata": caller.metadata(),
            "userNotFound": is_unknown(&user),
        });
        let source = "VerifyAuthChallengeResponse_Authentication";
        let trigger = Trigger::VerifyAuthChallengeResponse;
        let response = self
            .run_for_user(trigger, source, &user, &caller, |_| {
                (request, json!({"answerCorrect": null}))
            })
            .await?
            .ok_or_else(not_configured)?;
        let correct = flag(&response, "answerCorrect")?;
        let mut rounds = kept.rounds;
        rounds.push(Round {
            challenge_name: CUSTOM_CHALLENGE.into(),
            challenge_result: correct,
            challenge_metadata: kept.metadata,
        });
        self.next_challenge(client, &user, rounds, None).await
    }

    /// Asks the define auth challenge function what follows `rounds`: tokens, a
    /// failure, or another challenge — `PASSWORD_VERIFIER` (the SRP password step, when
    /// the sign-in began with `srp`'s `SRP_A`) or a `CUSTOM_CHALLENGE` (made by the
    /// create auth challenge function).
    async fn next_challenge(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        rounds: Vec<Round>,
        srp: Option<&pb::InitiateAuthRequest>,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        if rounds.len() >= MAX_ROUNDS {
            return Err(incorrect_credentials());
        }
        let caller = Caller::of(client);
        let request = json!({
            "userAttributes": user_attributes(user),
            "session": rounds,
            "clientMetadata": caller.metadata(),
            "userNotFound": is_unknown(user),
        });
        let source = "DefineAuthChallenge_Authentication";
        let unset = json!({"challengeName": null, "issueTokens": null, "failAuthentication": null});
        let decision = self
            .run_for_user(Trigger::DefineAuthChallenge, source, user, &caller, |_| {
                (request, unset)
            })
            .await?
            .ok_or_else(not_configured)?;
        if flag(&decision, "failAuthentication")? {
            return Err(incorrect_credentials());
        }
        if flag(&decision, "issueTokens")? {
            if is_unknown(user) {
                return Err(incorrect_credentials());
            }
            return Box::pin(self.signed_in(client, user, FirstFactor::Custom, None)).await;
        }
        match (decision.get("challengeName").and_then(Value::as_str), srp) {
            (Some(CUSTOM_CHALLENGE), _) => {}
            (Some(crate::srp_flow::PASSWORD_VERIFIER), Some(initiate)) => {
                let rounds = serde_json::to_string(&rounds).map_err(|_| ApiError::internal())?;
                return Box::pin(self.srp_start_within(client, initiate, Some(rounds))).await;
            }
            _ => return Err(invalid_response()),
        }
        let request = json!({
            "userAttributes": user_attributes(user),
            "challengeName": CUSTOM_CHALLENGE,
            "session": rounds,
            "clientMetadata": caller.metadata(),
            "userNotFound": is_unknown(user),
        });
        let source = "CreateAuthChallenge_Authentication";
        let unset = json!({
            "publicChallengeParameters": null,
            "privateChallengeParameters": null,
            "challengeMetadata": null,
        });
        let created = self
            .run_for_user(Trigger::CreateAuthChallenge, source, user, &caller, |_| {
                (request, unset)
            })
            .await?
            .ok_or_else(not_configured)?;
        let mut public = string_map(created.get("publicChallengeParameters"))?;
        public.insert("USERNAME".into(), user.username.clone());
        let private = match created.get("privateChallengeParameters") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(private)) => private.clone(),
            Some(_) => return Err(invalid_response()),
        };
        let metadata = match created.get("challengeMetadata") {
            None | Some(Value::Null) => None,
            Some(Value::String(metadata)) => Some(metadata.clone()),
            Some(_) => return Err(invalid_response()),
        };
        let kept = Kept {
            rounds,
            private,
            metadata,
        };
        let session = Session {
            data: serde_json::to_string(&kept).map_err(|_| ApiError::internal())?,
            ..Session::new(client, user, CUSTOM_CHALLENGE)
        };
        let token = self.open_session(client, &session).await?;
        Ok(pb::InitiateAuthResponse {
            challenge_name: CUSTOM_CHALLENGE.into(),
            session: token,
            challenge_parameters: public,
            ..Default::default()
        })
    }
}

fn not_configured() -> ApiError {
    ApiError::invalid_parameter("Custom auth lambda trigger is not configured for the user pool.")
}

/// Public challenge parameters: strings (numbers and booleans as written).
fn string_map(value: Option<&Value>) -> Result<HashMap<String, String>, ApiError> {
    let Some(Value::Object(map)) = value else {
        return match value {
            None | Some(Value::Null) => Ok(HashMap::new()),
            Some(_) => Err(invalid_response()),
        };
    };
    map.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(invalid_response()),
            };
            Ok((k.clone(), v))
        })
        .collect()
}
