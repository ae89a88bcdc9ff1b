//! TOTP authenticators: AssociateSoftwareToken hands out a new secret, VerifySoftwareToken
//! proves it with a first code, and sign-in redeems codes (each time step once). The
//! secret lives in the credential store next to the password hash, never in the event
//! log; the log records only that a token was verified (`UserSoftwareTokenVerified`).
//! Both operations work for a signed-in user (the gateway verified the access token)
//! and during an MFA_SETUP challenge (the session), which they re-issue.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::KvError;
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{Actor, actor::Kind};

use crate::auth_session::{Session, invalid_session};
use crate::context::{Flows, kv_error};
use crate::credential::{Credential, Totp};
use crate::lockout::Proof;
use crate::machine::mfa;
use crate::passwords::credential_key;
use crate::totp;

fn no_software_token() -> ApiError {
    ApiError::new(
        ErrorCode::SoftwareTokenMFANotFoundException,
        "Software Token MFA does not exist for the user.",
    )
}

/// Who an AssociateSoftwareToken / VerifySoftwareToken is for.
enum Subject {
    Token {
        pool_id: String,
        sub: String,
    },
    Setup {
        token: String,
        session: Box<Session>,
    },
}

impl Subject {
    fn ids(&self) -> (&str, &str) {
        match self {
            Subject::Token { pool_id, sub } => (pool_id, sub),
            Subject::Setup { session, .. } => (&session.pool_id, &session.sub),
        }
    }
}

impl Flows {
    async fn subject(&self, pool_id: &str, sub: &str, session: &str) -> Result<Subject, ApiError> {
        if !session.is_empty() {
            return Ok(Subject::Setup {
                token: session.to_owned(),
                session: Box::new(self.setup_session(session).await?),
            });
        }
        if sub.is_empty() {
            return Err(ApiError::invalid_parameter(
                "Either AccessToken or Session is required.",
            ));
        }
        Ok(Subject::Token {
            pool_id: pool_id.to_owned(),
            sub: sub.to_owned(),
        })
    }

    /// Changes the user's TOTP state in the credential store (compare-and-set, retried
    /// on a concurrent change); `change` returns what to answer, or `None` for no write.
    async fn update_totp<T>(
        &self,
        pool_id: &str,
        sub: &str,
        mut change: impl FnMut(&mut Totp) -> Result<Option<T>, ApiError>,
    ) -> Result<Option<T>, ApiError> {
        let key = credential_key(pool_id, sub);
        for _ in 0..5 {
            let entry = self.credentials.get(&key).await.map_err(kv_error)?;
            let Some((mut credential, revision)) =
                entry.and_then(|e| Credential::decode(&e.value).map(|c| (c, e.revision)))
            else {
                return Err(no_software_token());
            };
            let mut totp = credential.totp.clone().unwrap_or_default();
            let Some(answer) = change(&mut totp)? else {
                return Ok(None);
            };
            credential.totp = Some(totp);
            match self
                .credentials
                .update(&key, credential.encode(), revision)
                .await
            {
                Ok(_) => return Ok(Some(answer)),
                Err(KvError::Conflict) => continue,
                Err(err) => return Err(kv_error(err)),
            }
        }
        Err(ApiError::new(
            ErrorCode::ConcurrentModificationException,
            "The credential changed concurrently, retry.",
        ))
    }

    pub async fn associate_software_token(
        &self,
        req: pb::AssociateSoftwareTokenRequest,
    ) -> Result<pb::AssociateSoftwareTokenResponse, ApiError> {
        let subject = self.subject(&req.pool_id, &req.sub, &req.session).await?;
        let (pool_id, sub) = subject.ids();
        let secret = totp::new_secret().ok_or_else(ApiError::internal)?;
        self.update_totp(pool_id, sub, |t| {
            t.pending = Some(secret.clone());
            Ok(Some(()))
        })
        .await?;
        let session = match &subject {
            Subject::Token { .. } => String::new(),
            Subject::Setup { session, .. } => self.reopen_setup(session, "associated").await?,
        };
        Ok(pb::AssociateSoftwareTokenResponse {
            secret_code: secret,
            session,
        })
    }

    pub async fn verify_software_token(
        &self,
        req: pb::VerifySoftwareTokenRequest,
    ) -> Result<pb::VerifySoftwareTokenResponse, ApiError> {
        let subject = self.subject(&req.pool_id, &req.sub, &req.session).await?;
        let (pool_id, sub) = subject.ids();
        let (pool_id, sub) = (pool_id.to_owned(), sub.to_owned());
        let now = self.clock.now_ms() / 1_000;
        let code = req.user_code.clone();
        let check = async {
            let verified = self
                .update_totp(&pool_id, &sub, |t| {
                    let pending = t.pending.clone().ok_or_else(no_software_token)?;
                    let key = totp::base32_decode(&pending).ok_or_else(no_software_token)?;
                    let Some(step) = totp::matching_step(&key, &code, now, 0) else {
                        return Ok(None);
                    };
                    t.secret = Some(pending);
                    t.pending = None;
                    t.last_step = step;
                    Ok(Some(()))
                })
                .await?;
            Ok(verified.is_some())
        };
        // Not part of a sign-in's auth event: the factor is being set up.
        let attempt = crate::attempt::Attempt::default();
        if !self
            .guarded(&attempt, &pool_id, &sub, Proof::Mfa, check)
            .await?
        {
            if let Subject::Setup { token, session } = subject {
                self.retry_session(&token, *session, crate::mfa_flow::MAX_WRONG_ANSWERS)
                    .await?;
            }
            return Err(ApiError::new(
                ErrorCode::EnableSoftwareTokenMFAException,
                "Code mismatch",
            ));
        }
        let setup = matches!(subject, Subject::Setup { .. });
        let request = dir::RecordSoftwareTokenVerifiedRequest {
            caller: Some(dir::Caller {
                region: req.region.clone(),
                actor: Some(Actor {
                    kind: Kind::User as i32,
                    id: sub.clone(),
                }),
                correlation_id: req.correlation_id.clone(),
            }),
            user: Some(dir::UserRef {
                pool_id: pool_id.clone(),
                username: String::new(),
                sub: sub.clone(),
            }),
            friendly_device_name: req.friendly_device_name.clone(),
            enable: setup,
        };
        self.directory
            .clone()
            .record_software_token_verified(request)
            .await?;
        let session = match &subject {
            Subject::Token { .. } => String::new(),
            Subject::Setup { session, .. } => self.reopen_setup(session, "verified").await?,
        };
        Ok(pb::VerifySoftwareTokenResponse {
            status: "SUCCESS".into(),
            session,
        })
    }

    /// A fresh MFA_SETUP session for the next step of the setup.
    async fn reopen_setup(&self, session: &Session, step: &str) -> Result<String, ApiError> {
        let client = self.client_for(&session.client_id, session.hosted).await?;
        let user = self
            .user_by_name(&session.pool_id, &session.username)
            .await?
            .filter(|u| u.sub == session.sub)
            .ok_or_else(invalid_session)?;
        self.open_step_session(
            &client,
            &user,
            mfa::MFA_SETUP,
            step.to_owned(),
            session.data.clone(),
        )
        .await
    }

    /// Checks a sign-in TOTP code and records its time step, so it is not accepted again.
    pub(crate) async fn redeem_totp(
        &self,
        pool_id: &str,
        sub: &str,
        code: &str,
    ) -> Result<bool, ApiError> {
        let now = self.clock.now_ms() / 1_000;
        let redeemed = self
            .update_totp(pool_id, sub, |t| {
                let secret = t.secret.clone().ok_or_else(no_software_token)?;
                let key = totp::base32_decode(&secret).ok_or_else(no_software_token)?;
                let Some(step) = totp::matching_step(&key, code, now, t.last_step) else {
                    return Ok(None);
                };
                t.last_step = step;
                Ok(Some(()))
            })
            .await?;
        Ok(redeemed.is_some())
    }
}
