//! The runtime of the sign-in core ([`crate::machine`]): it walks the steps after a
//! first factor, carrying out each decision's effects, until one of them answers the
//! caller.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::UserPoolSettings;

use crate::context::{ClientInfo, Flows, Known, authenticated};
use crate::machine::mfa::{self, PoolMfa, UserMfa};
use crate::machine::{
    self, Account, Context, Device, Effect, Facts, FirstFactor, NamedDevice, Refusal, Status, Step,
    TokenDevice, Trigger,
};
use crate::triggers::TokenSource;

impl Flows {
    /// The steps after a proven first factor. `device_key` is the device the client
    /// named (`DEVICE_KEY`), if any.
    pub(crate) async fn signed_in(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        first_factor: FirstFactor,
        device_key: Option<&str>,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let step = Step::Proven(first_factor);
        Box::pin(self.advance(client, user, step, device_key, None)).await
    }

    /// [`Flows::signed_in`] with the context read before the first factor.
    pub(crate) async fn signed_in_knowing(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        first_factor: FirstFactor,
        device_key: Option<&str>,
        known: Known,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let step = Step::Proven(first_factor);
        Box::pin(self.advance(client, user, step, device_key, Some(known))).await
    }

    /// Runs the core from `step` until an effect answers the caller. `known` is the
    /// context if it was read already.
    pub(crate) async fn advance(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        mut step: Step,
        device_key: Option<&str>,
        mut loaded: Option<Known>,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let mut facts = Facts {
            hosted: client.hosted,
            context: None,
            risk: crate::machine::Verdict::Allow,
        };
        let mut source = match step {
            Step::Proven(FirstFactor::NewPassword) => TokenSource::NewPasswordChallenge,
            _ => TokenSource::Authentication,
        };
        loop {
            let decision = machine::decide(&step, &facts);
            for effect in decision.effects {
                match effect {
                    Effect::LoadContext => {
                        let known = match loaded.take() {
                            Some(known) => known,
                            None => self.load_context(user, device_key).await?,
                        };
                        facts.context = Some(self.context(user, &known));
                        loaded = Some(known);
                    }
                    Effect::InvokeTrigger(Trigger::PostAuthentication) => {
                        let new_device = step == Step::Tokens(TokenDevice::New);
                        self.post_authentication(client, user, new_device).await?;
                    }
                    // Run where the tokens are issued, on the claims it customizes.
                    Effect::InvokeTrigger(Trigger::PreTokenGeneration) => {}
                    Effect::InvokeTrigger(trigger) => {
                        tracing::error!(?trigger, "a trigger the sign-in core does not run");
                        return Err(ApiError::internal());
                    }
                    Effect::AssessRisk => {
                        let fetched;
                        let pool = match loaded.as_ref() {
                            Some(known) => &known.pool,
                            None => {
                                fetched =
                                    self.pool(&user.pool_id).await?.settings.unwrap_or_default();
                                &fetched
                            }
                        };
                        let custom = step == Step::Proven(FirstFactor::Custom);
                        facts.risk = self.assess_risk(client, user, pool, custom).await?;
                    }
                    Effect::Refuse(refusal) => return Err(refused(refusal)),
                    Effect::NewPasswordChallenge => {
                        let pool = pool_of(loaded.as_ref())?;
                        return self.new_password_challenge(client, user, pool).await;
                    }
                    Effect::MfaChallenge { step, device } => {
                        let pool = pool_of(loaded.as_ref())?;
                        return self.mfa_challenge(client, user, pool, &step, &device).await;
                    }
                    Effect::DeviceChallenge { device_key } => {
                        return self.open_device_challenge(client, user, device_key).await;
                    }
                    Effect::IssueTokens(device) => {
                        let groups = loaded.and_then(|known| known.groups);
                        if matches!(device, TokenDevice::Proven(_)) {
                            source = TokenSource::AuthenticateDevice;
                        }
                        return self
                            .issue_for_device(client, user, device, groups, source)
                            .await;
                    }
                    Effect::OpenBrowserSession => return self.open_browser_session(user).await,
                }
            }
            step = decision.next.ok_or_else(|| {
                tracing::error!(?step, "the sign-in core ended a step without an answer");
                ApiError::internal()
            })?;
        }
    }

    /// Reads the sign-in's context: the pool's settings and the device the client named.
    async fn load_context(
        &self,
        user: &dir::User,
        device_key: Option<&str>,
    ) -> Result<Known, ApiError> {
        let pool = self.pool(&user.pool_id).await?.settings.unwrap_or_default();
        let device = match device_key.filter(|k| !k.is_empty()) {
            Some(key) if pool.device_configuration.is_some() => {
                self.tracked_device(user, key).await?
            }
            _ => None,
        };
        Ok(Known {
            pool,
            device,
            groups: None,
        })
    }

    /// The facts the core decides on, from what was read.
    fn context(&self, user: &dir::User, known: &Known) -> Context {
        let pool = &known.pool;
        let tracked = pool.device_configuration.is_some();
        let named = known
            .device
            .as_ref()
            .filter(|_| tracked)
            .map(|device| NamedDevice {
                remembered: crate::devices::is_remembered(device),
                key: device.device_key.clone(),
            });
        let temporary_validity_days = pool
            .password_policy
            .as_ref()
            .map_or(7, |p| p.temporary_password_validity_days);
        Context {
            account: Account {
                enabled: user.enabled,
                status: Status::parse(&user.status),
                temporary_password_expired: machine::temporary_password_expired(
                    user.password_set_ms,
                    self.clock.now_ms(),
                    temporary_validity_days,
                ),
            },
            device: Device { tracked, named },
            mfa: mfa::decide(&PoolMfa::of(pool), &UserMfa::of(user)),
            risk_mfa: mfa::for_risk(&PoolMfa::of(pool), &UserMfa::of(user)),
        }
    }

    /// The pre authentication trigger for a name that matches no user, where the client
    /// hides which users exist (`userNotFound: true`); with Cognito's legacy answers the
    /// sign-in ends before any trigger.
    pub(crate) async fn before_unknown_first_factor(
        &self,
        client: &ClientInfo,
        user_name: &str,
    ) -> Result<(), ApiError> {
        if !client.hides_user_existence() {
            return Ok(());
        }
        let unknown = crate::triggers::unknown_user(client.pool_id(), user_name);
        self.pre_authentication(client, &unknown).await
    }

    /// The triggers before a first factor given with a user name is checked
    /// ([`machine::begin`]): pre authentication for a user who exists.
    pub(crate) async fn before_first_factor(
        &self,
        client: &ClientInfo,
        user: Option<&dir::User>,
    ) -> Result<(), ApiError> {
        for effect in machine::begin(user.is_some()) {
            match (effect, user) {
                (Effect::InvokeTrigger(Trigger::PreAuthentication), Some(user)) => {
                    self.pre_authentication(client, user).await?;
                }
                // Run by the password flows, which have the password it needs (SRP cannot
                // migrate a user, as in Cognito).
                (Effect::InvokeTrigger(Trigger::UserMigration), None) => {}
                (effect, _) => {
                    tracing::error!(?effect, "an effect the sign-in start does not carry out");
                    return Err(ApiError::internal());
                }
            }
        }
        Ok(())
    }

    async fn issue_for_device(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        device: TokenDevice,
        groups: Option<Vec<dir::Group>>,
        source: TokenSource,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let auth_time = self.clock.now_ms() / 1_000;
        let device_key = match device {
            TokenDevice::None => String::new(),
            TokenDevice::Proven(device_key) => device_key,
            TokenDevice::New => {
                return self
                    .issue_with_new_device(client, user, auth_time, groups, source)
                    .await;
            }
        };
        let tokens = self
            .issue(
                client,
                user,
                auth_time,
                String::new(),
                true,
                &device_key,
                groups,
                source,
            )
            .await?;
        Ok(authenticated(tokens))
    }
}

fn pool_of(loaded: Option<&Known>) -> Result<&UserPoolSettings, ApiError> {
    loaded.map(|l| &l.pool).ok_or_else(|| {
        tracing::error!("the sign-in core answered before reading its context");
        ApiError::internal()
    })
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Risk => ApiError::not_authorized("Unable to login because of security reasons."),
        Refusal::Disabled => ApiError::not_authorized("User is disabled."),
        Refusal::NotConfirmed => ApiError::new(
            ErrorCode::UserNotConfirmedException,
            "User is not confirmed.",
        ),
        Refusal::ResetRequired => ApiError::new(
            ErrorCode::PasswordResetRequiredException,
            "Password reset required for the user",
        ),
        Refusal::TemporaryPasswordExpired => ApiError::not_authorized(
            "Temporary password has expired and must be reset by an administrator.",
        ),
    }
}
