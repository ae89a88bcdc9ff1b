//! The core's decision tables: every step, every outcome, no I/O.

use super::mfa::{Factor, Step as MfaStep};
use super::*;

fn confirmed() -> Account {
    Account {
        enabled: true,
        status: Status::Confirmed,
        temporary_password_expired: false,
    }
}

fn context(account: Account, device: Device, mfa: MfaStep) -> Facts {
    Facts {
        hosted: false,
        context: Some(Context {
            account,
            device,
            mfa,
            risk_mfa: Some(MfaStep::Challenge(crate::machine::mfa::Factor::Email)),
        }),
        risk: Verdict::Allow,
    }
}

fn tracked(named: Option<(&str, bool)>) -> Device {
    Device {
        tracked: true,
        named: named.map(|(key, remembered)| NamedDevice {
            key: key.to_owned(),
            remembered,
        }),
    }
}

/// Runs the core from `step` as the runtime would, with `facts` already read, and
/// returns every effect up to the one that answers.
fn run(mut step: Step, facts: &Facts) -> Vec<Effect> {
    let mut effects = Vec::new();
    for _ in 0..16 {
        let decision = decide(&step, facts);
        effects.extend(decision.effects);
        match decision.next {
            Some(next) => step = next,
            None => return effects,
        }
    }
    panic!("the core did not answer: {effects:?}");
}

/// The effects after the seams, which every completed sign-in passes through.
fn answer(effects: &[Effect]) -> &Effect {
    effects.last().expect("an answer")
}

const SEAMS_BEFORE_TOKENS: [Effect; 2] = [
    Effect::InvokeTrigger(Trigger::PostAuthentication),
    Effect::InvokeTrigger(Trigger::PreTokenGeneration),
];

#[test]
fn the_account_table() {
    let expired = Account {
        status: Status::ForceChangePassword,
        temporary_password_expired: true,
        ..confirmed()
    };
    let cases = [
        (
            Account {
                enabled: false,
                ..confirmed()
            },
            Effect::Refuse(Refusal::Disabled),
        ),
        // Disabled wins over every status.
        (
            Account {
                enabled: false,
                status: Status::Unconfirmed,
                ..confirmed()
            },
            Effect::Refuse(Refusal::Disabled),
        ),
        (
            Account {
                status: Status::Unconfirmed,
                ..confirmed()
            },
            Effect::Refuse(Refusal::NotConfirmed),
        ),
        (
            Account {
                status: Status::ResetRequired,
                ..confirmed()
            },
            Effect::Refuse(Refusal::ResetRequired),
        ),
        (
            Account {
                status: Status::ForceChangePassword,
                ..confirmed()
            },
            Effect::NewPasswordChallenge,
        ),
        (expired, Effect::Refuse(Refusal::TemporaryPasswordExpired)),
        (confirmed(), Effect::IssueTokens(TokenDevice::None)),
        (
            Account {
                status: Status::Other,
                ..confirmed()
            },
            Effect::IssueTokens(TokenDevice::None),
        ),
    ];
    for (account, expected) in cases {
        let facts = context(account, Device::default(), MfaStep::None);
        let effects = run(Step::Proven(FirstFactor::Password), &facts);
        assert_eq!(answer(&effects), &expected, "{account:?}");
        // A refused sign-in reaches neither the post-authentication trigger nor tokens.
        let completes = matches!(expected, Effect::IssueTokens(_));
        assert_eq!(
            effects.contains(&Effect::InvokeTrigger(Trigger::PostAuthentication)),
            completes,
            "{account:?}"
        );
    }
}

#[test]
fn the_device_and_mfa_table() {
    let sms = MfaStep::Challenge(Factor::Sms);
    let mfa_challenge = |device: DeviceStep| Effect::MfaChallenge {
        step: MfaStep::Challenge(Factor::Sms),
        device,
    };
    let known = |key: &str, skips_mfa: bool| DeviceStep {
        skips_mfa,
        known_device: Some(key.to_owned()),
        tracks_devices: true,
    };
    let new = DeviceStep {
        tracks_devices: true,
        ..DeviceStep::default()
    };
    let cases = [
        // No tracking, no MFA: tokens without a device.
        (
            Device::default(),
            MfaStep::None,
            Effect::IssueTokens(TokenDevice::None),
        ),
        // Tracking ignores a device the pool does not track: the runtime names none.
        (
            tracked(None),
            MfaStep::None,
            Effect::IssueTokens(TokenDevice::New),
        ),
        (
            Device::default(),
            sms.clone(),
            mfa_challenge(DeviceStep::default()),
        ),
        (tracked(None), sms.clone(), mfa_challenge(new)),
        // A remembered device skips MFA, then proves itself.
        (
            tracked(Some(("dev-1", true))),
            sms.clone(),
            Effect::DeviceChallenge {
                device_key: "dev-1".into(),
            },
        ),
        // A tracked device that is not remembered does MFA first; the challenge carries it.
        (
            tracked(Some(("dev-2", false))),
            sms.clone(),
            mfa_challenge(known("dev-2", false)),
        ),
        (
            tracked(Some(("dev-2", false))),
            MfaStep::None,
            Effect::DeviceChallenge {
                device_key: "dev-2".into(),
            },
        ),
        (
            Device::default(),
            MfaStep::Select(vec![Factor::Sms, Factor::Email]),
            Effect::MfaChallenge {
                step: MfaStep::Select(vec![Factor::Sms, Factor::Email]),
                device: DeviceStep::default(),
            },
        ),
        (
            Device::default(),
            MfaStep::Setup(vec![Factor::SoftwareToken]),
            Effect::MfaChallenge {
                step: MfaStep::Setup(vec![Factor::SoftwareToken]),
                device: DeviceStep::default(),
            },
        ),
    ];
    for (device, mfa, expected) in cases {
        let facts = context(confirmed(), device.clone(), mfa.clone());
        let effects = run(Step::Proven(FirstFactor::Srp), &facts);
        assert_eq!(answer(&effects), &expected, "{device:?} {mfa:?}");
    }
}

#[test]
fn every_first_factor_enters_at_the_same_point() {
    let facts = context(confirmed(), tracked(None), MfaStep::None);
    let reference = run(Step::Proven(FirstFactor::Password), &facts);
    assert_eq!(
        reference,
        [
            vec![Effect::AssessRisk],
            SEAMS_BEFORE_TOKENS.to_vec(),
            vec![Effect::IssueTokens(TokenDevice::New)]
        ]
        .concat()
    );
    for factor in [
        FirstFactor::Srp,
        FirstFactor::Passkey,
        FirstFactor::OneTimeCode,
        FirstFactor::NewPassword,
        FirstFactor::External,
    ] {
        assert_eq!(run(Step::Proven(factor), &facts), reference, "{factor:?}");
    }
}

#[test]
fn the_context_is_read_once_when_a_step_first_needs_it() {
    let unread = Facts::default();
    let decision = decide(&Step::Proven(FirstFactor::Password), &unread);
    assert_eq!(decision.effects, [Effect::AssessRisk]);
    for step in [
        Step::Account,
        Step::Device,
        Step::Mfa(DeviceStep::default()),
    ] {
        let decision = decide(&step, &unread);
        assert_eq!(decision.effects, [Effect::LoadContext], "{step:?}");
        assert_eq!(decision.next, Some(step));
    }
    // Steps resumed from a session need no context.
    let skipping = DeviceStep {
        skips_mfa: true,
        known_device: Some("dev".into()),
        tracks_devices: true,
    };
    assert_eq!(
        decide(&Step::Mfa(skipping.clone()), &unread).next,
        Some(Step::AfterMfa(skipping.clone()))
    );
    assert_eq!(
        run(Step::AfterMfa(skipping), &unread),
        [Effect::DeviceChallenge {
            device_key: "dev".into()
        }]
    );
    assert_eq!(
        run(Step::AfterMfa(DeviceStep::default()), &unread),
        [
            SEAMS_BEFORE_TOKENS.to_vec(),
            vec![Effect::IssueTokens(TokenDevice::None)]
        ]
        .concat()
    );
    assert_eq!(
        answer(&run(
            Step::Tokens(TokenDevice::Proven("dev".into())),
            &unread
        )),
        &Effect::IssueTokens(TokenDevice::Proven("dev".into()))
    );
}

#[test]
fn the_hosted_ui_gets_a_browser_session_and_no_device() {
    let mut facts = context(confirmed(), tracked(None), MfaStep::None);
    facts.hosted = true;
    let effects = run(Step::Proven(FirstFactor::Password), &facts);
    assert_eq!(answer(&effects), &Effect::OpenBrowserSession);
    // After MFA too: the device judgement carried says the pool tracks devices.
    let after_mfa = Step::AfterMfa(DeviceStep {
        tracks_devices: true,
        ..DeviceStep::default()
    });
    assert_eq!(answer(&run(after_mfa, &facts)), &Effect::OpenBrowserSession);
}

#[test]
fn a_sign_in_by_name_begins_with_the_trigger_cognito_invokes() {
    assert_eq!(
        begin(true),
        [Effect::InvokeTrigger(Trigger::PreAuthentication)]
    );
    assert_eq!(
        begin(false),
        [Effect::InvokeTrigger(Trigger::UserMigration)]
    );
}

#[test]
fn temporary_passwords_expire_after_the_pools_days() {
    let day = 86_400_000;
    assert!(!temporary_password_expired(0, 7 * day, 0));
    assert!(temporary_password_expired(0, 7 * day + 1, 0));
    assert!(!temporary_password_expired(0, 30 * day, 30));
    assert!(temporary_password_expired(0, 2 * day, 1));
}

#[test]
fn the_device_judgement_keeps_its_session_format() {
    // MFA sessions opened before an upgrade carry this JSON: it must still resume.
    let carried = r#"{"skips_mfa":false,"known_device":"eu-west-1_x","tracks_devices":true}"#;
    let device: DeviceStep = serde_json::from_str(carried).unwrap();
    assert_eq!(device.known_device.as_deref(), Some("eu-west-1_x"));
    assert_eq!(serde_json::to_string(&device).unwrap(), carried);
}

#[test]
fn a_risky_sign_in_is_blocked_or_challenged_as_its_verdict_says() {
    let confirmed = Account {
        enabled: true,
        status: Status::Confirmed,
        temporary_password_expired: false,
    };
    let mut facts = context(confirmed, Device::default(), MfaStep::None);
    facts.risk = Verdict::Block;
    assert_eq!(
        decide(&Step::Account, &facts).effects,
        [Effect::Refuse(Refusal::Risk)]
    );
    facts.risk = Verdict::Mfa { required: false };
    let remembered = DeviceStep {
        skips_mfa: true,
        ..DeviceStep::default()
    };
    // A remembered device does not skip a challenge the risk calls for.
    assert_eq!(
        decide(&Step::Mfa(remembered.clone()), &facts).effects,
        [Effect::MfaChallenge {
            step: MfaStep::Challenge(crate::machine::mfa::Factor::Email),
            device: remembered.clone(),
        }]
    );
    // A user with no factor: let through, or refused when MFA is required.
    if let Some(context) = facts.context.as_mut() {
        context.risk_mfa = None;
    }
    assert_eq!(
        decide(&Step::Mfa(remembered.clone()), &facts).next,
        Some(Step::AfterMfa(remembered.clone()))
    );
    facts.risk = Verdict::Mfa { required: true };
    assert_eq!(
        decide(&Step::Mfa(remembered), &facts).effects,
        [Effect::Refuse(Refusal::Risk)]
    );
}
