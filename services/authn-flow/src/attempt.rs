//! A sign-in's auth event in the making (`AdminListUserAuthEvents`). Each request of a
//! sign-in — the first factor, then each challenge answered — gathers what it checked
//! and what threat protection found in its [`Attempt`], and records it once, when it
//! answers (`auth_events.rs`), as a `UserAuthEventRecorded` carrying the sign-in's event
//! id. A challenge's session carries the id and the step to the answer, so the
//! directory's read model folds the records into one event. Nothing secret is gathered.
//! This module uses no other of the crate: the lockout, the sessions and the client
//! info all hold or fill an attempt.

use std::sync::Mutex;

use portcullis_proto::events::v1::{
    AuthEventChallenge, AuthEventContext, AuthEventRisk, UserAuthEventRecorded,
};

#[derive(Debug, Default)]
pub(crate) struct Attempt(Mutex<State>);

#[derive(Debug, Default, Clone)]
struct State {
    event_id: Option<String>,
    step: u32,
    sub: String,
    username: String,
    challenges: Vec<AuthEventChallenge>,
    risk: Option<AuthEventRisk>,
    context: Option<AuthEventContext>,
    feedback_token_sha256: String,
    /// Failed checks of the user just before this request's check (the lockout's
    /// count), for the failure-velocity signal.
    prior_failures: u32,
    /// The password of this request was found in the breached-password corpus.
    breached: Option<bool>,
    /// A check failed (a user's or a name's that matches no user).
    failed: bool,
    /// When this request made its first check.
    started_ms: i64,
    /// An event that checks nothing (a sign-up, a code asked for) is to be recorded.
    noted: bool,
}

impl Attempt {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The sign-in's event id, chosen on first use.
    pub(crate) fn event_id(&self) -> String {
        self.state()
            .event_id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone()
    }

    /// This request's place in the sign-in.
    pub(crate) fn step(&self) -> u32 {
        self.state().step
    }

    /// Continues the sign-in a challenge's session belongs to (`event_id`, opened by
    /// the request at `step`).
    pub(crate) fn resume(&self, event_id: &str, step: u32) {
        if event_id.is_empty() {
            return;
        }
        let mut state = self.state();
        state.event_id = Some(event_id.to_owned());
        state.step = step + 1;
    }

    /// A check (`challenge`: Password, Mfa, Passkey or Device) and its outcome, of the
    /// user `sub`, or of a name that matches no user (`None`: counted as a failure
    /// from the address, not an event of anyone).
    pub(crate) fn checked(
        &self,
        sub: Option<&str>,
        challenge: &str,
        passed: bool,
        prior_failures: u32,
        now_ms: i64,
    ) {
        let mut state = self.state();
        state.failed |= !passed;
        if state.started_ms == 0 {
            state.started_ms = now_ms;
        }
        let Some(sub) = sub else {
            return;
        };
        sub.clone_into(&mut state.sub);
        state.prior_failures = prior_failures;
        state.challenges.push(AuthEventChallenge {
            name: challenge.to_owned(),
            success: passed,
        });
    }

    /// Marks the request as an event of its own although it checked nothing.
    pub(crate) fn note(&self, now_ms: i64) {
        let mut state = self.state();
        state.noted = true;
        state.started_ms = now_ms;
    }

    pub(crate) fn named(&self, sub: &str, username: &str) {
        let mut state = self.state();
        sub.clone_into(&mut state.sub);
        username.clone_into(&mut state.username);
    }

    pub(crate) fn failed(&self) -> bool {
        self.state().failed
    }

    pub(crate) fn prior_failures(&self) -> u32 {
        self.state().prior_failures
    }

    pub(crate) fn set_breached(&self, breached: bool) {
        self.state().breached = Some(breached);
    }

    pub(crate) fn breached(&self) -> Option<bool> {
        self.state().breached
    }

    pub(crate) fn set_context(&self, context: AuthEventContext) {
        self.state().context = Some(context);
    }

    pub(crate) fn context(&self) -> Option<AuthEventContext> {
        self.state().context.clone()
    }

    pub(crate) fn assessed(&self, risk: AuthEventRisk, feedback_token_sha256: String) {
        let mut state = self.state();
        state.risk = Some(risk);
        state.feedback_token_sha256 = feedback_token_sha256;
    }

    /// The record of what was gathered (emptying the attempt), or `None` when the
    /// request checked no user's secret and judged no sign-in.
    pub(crate) fn take_record(
        &self,
        event_type: &str,
        event_response: &str,
        client_id: &str,
    ) -> Option<UserAuthEventRecorded> {
        let event_id = self.event_id();
        let state = std::mem::take(&mut *self.state());
        let empty = state.challenges.is_empty() && state.risk.is_none() && !state.noted;
        if state.sub.is_empty() || empty {
            return None;
        }
        Some(UserAuthEventRecorded {
            sub: state.sub,
            username: state.username,
            event_type: event_type.to_owned(),
            event_response: event_response.to_owned(),
            event_id,
            step: state.step,
            challenges: state.challenges,
            risk: state.risk,
            context: state.context,
            client_id: client_id.to_owned(),
            feedback_token_sha256: state.feedback_token_sha256,
            started_ms: state.started_ms,
            ..Default::default()
        })
    }
}
