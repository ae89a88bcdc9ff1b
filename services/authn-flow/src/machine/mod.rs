//! The sign-in core: what a sign-in does next, decided without I/O.
//!
//! A sign-in is a walk through [`Step`]s. At each one, [`decide`] looks at what is known
//! about the sign-in ([`Facts`]) and answers with a [`Decision`]: the effects to carry
//! out, in order, and the step to go on to. Effects are data; the runtime
//! (the `sign_in` module) carries them out and comes back with the next step. The steps
//! follow the first factor:
//!
//! 1. [`Step::Proven`]: a first factor was proven — a password, an SRP proof, a passkey,
//!    a one-time code, a new password — or an external identity was accepted (a
//!    federated sign-in enters here, as a password success does). Risk is assessed.
//! 2. [`Step::Account`]: the account's state (disabled, unconfirmed, reset required, a
//!    temporary password) may end the sign-in or turn it into a challenge.
//! 3. [`Step::Device`]: the device the client names is judged (remembered devices skip
//!    MFA).
//! 4. [`Step::Mfa`]: the MFA challenge the pool and user call for, if any; its answer
//!    resumes at [`Step::AfterMfa`], carrying the device judgement in its session.
//! 5. [`Step::AfterMfa`]: a tracked device proves itself (`DEVICE_SRP_AUTH`); its
//!    answer resumes at [`Step::Tokens`] for that device.
//! 6. [`Step::Tokens`]: tokens (with a new device where the pool tracks them), or a
//!    browser session for the hosted UI.
//!
//! Triggers are effects decided where Cognito runs them: the runtime invokes the pool's
//! function (the `triggers` module), except pre token generation, which runs where the
//! tokens' claims are built. Risk assessment (threat protection, the `risk` module) sets
//! the verdict the later steps read: a block ends the sign-in at the account step, MFA
//! makes the MFA step challenge even where the pool would not.

pub mod mfa;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

/// What threat protection decided about a sign-in's risk ([`Effect::AssessRisk`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verdict {
    #[default]
    Allow,
    /// An MFA challenge if the user has a factor, else allow (`MFA_IF_CONFIGURED`) or
    /// block (`MFA_REQUIRED`).
    Mfa {
        required: bool,
    },
    Block,
}

/// How the user proved who they are before the steps of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstFactor {
    Password,
    Srp,
    Passkey,
    /// An SMS or email one-time code as the first factor (`USER_AUTH`).
    OneTimeCode,
    /// A temporary password replaced in the `NEW_PASSWORD_REQUIRED` challenge.
    NewPassword,
    /// An identity another provider vouched for (SAML, OIDC, social).
    External,
    /// Challenges the pool's custom auth triggers posed and judged (`CUSTOM_AUTH`).
    Custom,
}

/// Where a sign-in is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Proven(FirstFactor),
    Account,
    Device,
    Mfa(DeviceStep),
    AfterMfa(DeviceStep),
    Tokens(TokenDevice),
}

/// The device the tokens are issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenDevice {
    None,
    /// A new device, which the user may confirm (the pool tracks devices).
    New,
    /// The tracked device that proved itself.
    Proven(String),
}

/// What the device step decided after the first factor. Serializable, so that a
/// challenge in between (MFA) can carry it to the answer that resumes the sign-in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStep {
    /// The sign-in is on a remembered device: MFA is skipped.
    pub skips_mfa: bool,
    /// A tracked device of the user: it must prove itself (DEVICE_SRP_AUTH).
    pub known_device: Option<String>,
    /// The pool tracks devices: a sign-in without a known one gets a new device.
    pub tracks_devices: bool,
}

/// What is known about a sign-in. `context` is read once, when a step first needs it
/// ([`Effect::LoadContext`]); a sign-in resumed from a challenge's session may never
/// need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Signing in on the hosted UI: a browser session instead of tokens, no devices.
    pub hosted: bool,
    pub context: Option<Context>,
    /// What threat protection decided ([`Effect::AssessRisk`]).
    pub risk: Verdict,
}

/// The user, the pool and the device, as the steps after the first factor see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub account: Account,
    pub device: Device,
    pub mfa: mfa::Step,
    /// The MFA challenge a risky sign-in gets, if the user has a factor (see
    /// [`mfa::for_risk`]).
    pub risk_mfa: Option<mfa::Step>,
}

/// The account's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub enabled: bool,
    pub status: Status,
    /// A temporary password older than the pool's `TemporaryPasswordValidityDays`.
    pub temporary_password_expired: bool,
}

/// `UserStatus`, as far as signing in cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Confirmed,
    Unconfirmed,
    ResetRequired,
    ForceChangePassword,
    /// Any other status (EXTERNAL_PROVIDER, ...): nothing stops the sign-in.
    Other,
}

impl Status {
    pub fn parse(status: &str) -> Self {
        match status {
            "CONFIRMED" => Self::Confirmed,
            "UNCONFIRMED" => Self::Unconfirmed,
            "RESET_REQUIRED" => Self::ResetRequired,
            "FORCE_CHANGE_PASSWORD" => Self::ForceChangePassword,
            _ => Self::Other,
        }
    }
}

/// The pool's device tracking and the device the client named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    /// The pool has a `DeviceConfiguration`.
    pub tracked: bool,
    /// The client named one of the user's tracked devices.
    pub named: Option<NamedDevice>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedDevice {
    pub key: String,
    pub remembered: bool,
}

/// Lambda-style triggers, at the points where Cognito invokes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    PreSignUp,
    UserMigration,
    PreAuthentication,
    DefineAuthChallenge,
    PostAuthentication,
    PreTokenGeneration,
}

/// Why a sign-in ends without tokens after its first factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Threat protection blocked the sign-in.
    Risk,
    Disabled,
    NotConfirmed,
    ResetRequired,
    TemporaryPasswordExpired,
}

/// Something the runtime does for the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Read the sign-in's [`Context`] (one read) and decide the step again.
    LoadContext,
    /// Invoke the pool's function for the trigger, if it has one; its refusal ends the
    /// sign-in.
    InvokeTrigger(Trigger),
    /// Judge the sign-in's risk (threat protection), setting [`Facts::risk`].
    AssessRisk,
    /// End the sign-in with an error.
    Refuse(Refusal),
    /// Answer with `NEW_PASSWORD_REQUIRED`.
    NewPasswordChallenge,
    /// Answer with the MFA challenge, its session carrying the device judgement to
    /// [`Step::AfterMfa`].
    MfaChallenge { step: mfa::Step, device: DeviceStep },
    /// Answer with `DEVICE_SRP_AUTH` for the device.
    DeviceChallenge { device_key: String },
    /// Answer with tokens for the device.
    IssueTokens(TokenDevice),
    /// Answer the hosted UI with a browser session.
    OpenBrowserSession,
}

/// What [`decide`] answers: effects in order, then the next step (none when an effect
/// answered the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub effects: Vec<Effect>,
    pub next: Option<Step>,
}

impl Decision {
    fn go(next: Step) -> Self {
        Self {
            effects: Vec::new(),
            next: Some(next),
        }
    }

    fn then(effects: Vec<Effect>, next: Step) -> Self {
        Self {
            effects,
            next: Some(next),
        }
    }

    fn end(effects: Vec<Effect>) -> Self {
        Self {
            effects,
            next: None,
        }
    }

    /// Read the context, then decide `step` again.
    fn load(step: &Step) -> Self {
        Self::then(vec![Effect::LoadContext], step.clone())
    }
}

/// The effects at the start of a sign-in by user name, before the first factor is
/// checked: the user migration trigger when no such user exists, else the
/// pre-authentication trigger.
pub fn begin(user_exists: bool) -> Vec<Effect> {
    if user_exists {
        vec![Effect::InvokeTrigger(Trigger::PreAuthentication)]
    } else {
        vec![Effect::InvokeTrigger(Trigger::UserMigration)]
    }
}

/// What to do at `step`, knowing `facts`.
pub fn decide(step: &Step, facts: &Facts) -> Decision {
    match step {
        Step::Proven(_) => Decision::then(vec![Effect::AssessRisk], Step::Account),
        Step::Account => {
            if facts.risk == Verdict::Block {
                return Decision::end(vec![Effect::Refuse(Refusal::Risk)]);
            }
            let Some(context) = &facts.context else {
                return Decision::load(step);
            };
            account(&context.account)
        }
        Step::Device => {
            let Some(context) = &facts.context else {
                return Decision::load(step);
            };
            Decision::go(Step::Mfa(device(&context.device)))
        }
        Step::Mfa(device) if matches!(facts.risk, Verdict::Mfa { .. }) => {
            let Some(context) = &facts.context else {
                return Decision::load(step);
            };
            risky_mfa(facts.risk, context, device)
        }
        Step::Mfa(device) => {
            let mfa = if device.skips_mfa {
                &mfa::Step::None
            } else {
                match &facts.context {
                    Some(context) => &context.mfa,
                    None => return Decision::load(step),
                }
            };
            match mfa {
                mfa::Step::None => Decision::go(Step::AfterMfa(device.clone())),
                step => Decision::end(vec![Effect::MfaChallenge {
                    step: step.clone(),
                    device: device.clone(),
                }]),
            }
        }
        Step::AfterMfa(device) => match &device.known_device {
            Some(key) => Decision::end(vec![Effect::DeviceChallenge {
                device_key: key.clone(),
            }]),
            // The hosted UI does not track devices.
            None if device.tracks_devices && !facts.hosted => {
                Decision::go(Step::Tokens(TokenDevice::New))
            }
            None => Decision::go(Step::Tokens(TokenDevice::None)),
        },
        Step::Tokens(device) => {
            let answer = if facts.hosted {
                Effect::OpenBrowserSession
            } else {
                Effect::IssueTokens(device.clone())
            };
            Decision::end(vec![
                Effect::InvokeTrigger(Trigger::PostAuthentication),
                Effect::InvokeTrigger(Trigger::PreTokenGeneration),
                answer,
            ])
        }
    }
}

/// The MFA step of a sign-in whose risk calls for MFA: the challenge the pool asks for
/// anyway, else one with a factor the user has; a user without one is let through
/// (`MFA_IF_CONFIGURED`) or refused (`MFA_REQUIRED`). A remembered device does not skip
/// it.
fn risky_mfa(risk: Verdict, context: &Context, device: &DeviceStep) -> Decision {
    let step = match (&context.mfa, &context.risk_mfa) {
        (mfa::Step::Challenge(_) | mfa::Step::Select(_), _) => Some(context.mfa.clone()),
        (_, Some(step)) => Some(step.clone()),
        (_, None) => None,
    };
    match step {
        Some(step) => Decision::end(vec![Effect::MfaChallenge {
            step,
            device: device.clone(),
        }]),
        None if risk == (Verdict::Mfa { required: true }) => {
            Decision::end(vec![Effect::Refuse(Refusal::Risk)])
        }
        None => Decision::go(Step::AfterMfa(device.clone())),
    }
}

fn account(account: &Account) -> Decision {
    let refuse = |why| Decision::end(vec![Effect::Refuse(why)]);
    if !account.enabled {
        return refuse(Refusal::Disabled);
    }
    match account.status {
        Status::Unconfirmed => refuse(Refusal::NotConfirmed),
        Status::ResetRequired => refuse(Refusal::ResetRequired),
        Status::ForceChangePassword if account.temporary_password_expired => {
            refuse(Refusal::TemporaryPasswordExpired)
        }
        Status::ForceChangePassword => Decision::end(vec![Effect::NewPasswordChallenge]),
        Status::Confirmed | Status::Other => Decision::go(Step::Device),
    }
}

fn device(device: &Device) -> DeviceStep {
    if !device.tracked {
        return DeviceStep::default();
    }
    DeviceStep {
        skips_mfa: device.named.as_ref().is_some_and(|d| d.remembered),
        known_device: device.named.as_ref().map(|d| d.key.clone()),
        tracks_devices: true,
    }
}

/// Whether a temporary password set at `set_ms` is past the pool's validity.
pub fn temporary_password_expired(set_ms: i64, now_ms: i64, days: u32) -> bool {
    let days = if days == 0 { 7 } else { days };
    now_ms - set_ms > i64::from(days) * 86_400_000
}
