//! Which MFA step a sign-in takes, as Cognito decides it: a pure function of the pool's
//! MFA configuration and the user's factors, tested as a decision table.

use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::UserPoolSettings;

pub const SMS_MFA: &str = "SMS_MFA";
pub const EMAIL_OTP: &str = "EMAIL_OTP";
pub const SOFTWARE_TOKEN_MFA: &str = "SOFTWARE_TOKEN_MFA";
pub const SELECT_MFA_TYPE: &str = "SELECT_MFA_TYPE";
pub const MFA_SETUP: &str = "MFA_SETUP";

/// An MFA factor; its name is the challenge that asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Sms,
    SoftwareToken,
    Email,
}

impl Factor {
    pub const ALL: [Factor; 3] = [Factor::Sms, Factor::SoftwareToken, Factor::Email];

    pub fn name(self) -> &'static str {
        match self {
            Factor::Sms => SMS_MFA,
            Factor::SoftwareToken => SOFTWARE_TOKEN_MFA,
            Factor::Email => EMAIL_OTP,
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Factor::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The pool side: `MfaConfiguration` and which factors the pool has turned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolMfa {
    /// OFF, ON or OPTIONAL.
    pub mode: Mode,
    pub sms: bool,
    pub software_token: bool,
    pub email: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    On,
    Optional,
}

impl PoolMfa {
    pub fn of(settings: &UserPoolSettings) -> Self {
        Self {
            mode: match settings.mfa_configuration.as_str() {
                "ON" => Mode::On,
                "OPTIONAL" => Mode::Optional,
                _ => Mode::Off,
            },
            sms: settings.sms_configuration.is_some(),
            software_token: settings
                .software_token_mfa_configuration
                .as_ref()
                .is_some_and(|t| t.enabled),
            email: settings.email_mfa_configuration.is_some(),
        }
    }

    fn has(&self, factor: Factor) -> bool {
        match factor {
            Factor::Sms => self.sms,
            Factor::SoftwareToken => self.software_token,
            Factor::Email => self.email,
        }
    }
}

/// The user side: factors turned on and what the user can receive codes on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserMfa {
    pub enabled: Vec<Factor>,
    pub preferred: Option<Factor>,
    pub phone_number: bool,
    pub phone_number_verified: bool,
    pub email: bool,
    pub email_verified: bool,
    pub software_token_verified: bool,
}

impl UserMfa {
    pub fn of(user: &dir::User) -> Self {
        let attribute = |name: &str| user.attributes.iter().any(|a| a.name == name);
        let verified = |name: &str| {
            user.attributes
                .iter()
                .any(|a| a.name == name && a.value == "true")
        };
        let mut enabled: Vec<Factor> = user
            .mfa_enabled
            .iter()
            .filter_map(|f| Factor::parse(f))
            .collect();
        // The legacy MFAOptions (SetUserSettings) turn SMS MFA on.
        if user.mfa_options.iter().any(|o| o.delivery_medium == "SMS")
            && !enabled.contains(&Factor::Sms)
        {
            enabled.push(Factor::Sms);
        }
        Self {
            enabled,
            preferred: Factor::parse(&user.preferred_mfa),
            phone_number: attribute("phone_number"),
            phone_number_verified: verified("phone_number_verified"),
            email: attribute("email"),
            email_verified: verified("email_verified"),
            software_token_verified: user.software_token_verified,
        }
    }

    fn can_use(&self, factor: Factor) -> bool {
        match factor {
            Factor::Sms => self.phone_number,
            Factor::Email => self.email,
            Factor::SoftwareToken => self.software_token_verified,
        }
    }
}

/// What the sign-in does after the first factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Straight to tokens.
    None,
    /// SMS_MFA, EMAIL_OTP or SOFTWARE_TOKEN_MFA.
    Challenge(Factor),
    /// SELECT_MFA_TYPE with MFAS_CAN_CHOOSE.
    Select(Vec<Factor>),
    /// MFA_SETUP with MFAS_CAN_SETUP.
    Setup(Vec<Factor>),
}

pub fn decide(pool: &PoolMfa, user: &UserMfa) -> Step {
    if pool.mode == Mode::Off {
        return Step::None;
    }
    let usable: Vec<Factor> = Factor::ALL
        .into_iter()
        .filter(|f| pool.has(*f) && user.enabled.contains(f) && user.can_use(*f))
        .collect();
    match usable.as_slice() {
        [] if pool.mode == Mode::Optional => Step::None,
        // MFA is required and the user has set up nothing: a verified phone number or
        // email address is used as it is; otherwise the user sets up a factor.
        [] if pool.sms && user.phone_number_verified => Step::Challenge(Factor::Sms),
        [] if pool.email && user.email_verified => Step::Challenge(Factor::Email),
        [] => Step::Setup(Factor::ALL.into_iter().filter(|f| pool.has(*f)).collect()),
        [only] => Step::Challenge(*only),
        several => match user.preferred.filter(|p| several.contains(p)) {
            Some(preferred) => Step::Challenge(preferred),
            None => Step::Select(several.to_vec()),
        },
    }
}

/// The challenge a sign-in gets when its risk calls for MFA: as if the pool required MFA,
/// with the factors it turned on; `None` when the user has no factor to answer with
/// (they would have to set one up).
pub fn for_risk(pool: &PoolMfa, user: &UserMfa) -> Option<Step> {
    let required = PoolMfa {
        mode: Mode::On,
        ..*pool
    };
    match decide(&required, user) {
        Step::Setup(_) | Step::None => None,
        step => Some(step),
    }
}

/// `["SMS_MFA","SOFTWARE_TOKEN_MFA"]`, as MFAS_CAN_CHOOSE / MFAS_CAN_SETUP carry them.
pub fn factor_list(factors: &[Factor]) -> String {
    serde_json::to_string(&factors.iter().map(|f| f.name()).collect::<Vec<_>>()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Factor::{Email, Sms, SoftwareToken};

    fn pool(mode: Mode, sms: bool, software_token: bool, email: bool) -> PoolMfa {
        PoolMfa {
            mode,
            sms,
            software_token,
            email,
        }
    }

    fn user(enabled: &[Factor], preferred: Option<Factor>) -> UserMfa {
        UserMfa {
            enabled: enabled.to_vec(),
            preferred,
            phone_number: true,
            email: true,
            software_token_verified: true,
            ..Default::default()
        }
    }

    #[test]
    fn the_decision_table() {
        let all = pool(Mode::On, true, true, true);
        let optional = pool(Mode::Optional, true, true, true);
        let off = pool(Mode::Off, true, true, true);
        let verified_phone = UserMfa {
            phone_number_verified: true,
            ..user(&[], None)
        };
        let rows: Vec<(PoolMfa, UserMfa, Step)> = vec![
            (off, user(&[SoftwareToken], None), Step::None),
            (optional, user(&[], None), Step::None),
            (
                optional,
                user(&[SoftwareToken], None),
                Step::Challenge(SoftwareToken),
            ),
            (all, user(&[Sms], None), Step::Challenge(Sms)),
            (all, user(&[Email], None), Step::Challenge(Email)),
            (
                all,
                user(&[Sms, SoftwareToken], None),
                Step::Select(vec![Sms, SoftwareToken]),
            ),
            (
                optional,
                user(&[Sms, SoftwareToken, Email], Some(Email)),
                Step::Challenge(Email),
            ),
            // A preference for a factor the pool turned off does not count.
            (
                pool(Mode::On, true, false, true),
                user(&[Sms, SoftwareToken, Email], Some(SoftwareToken)),
                Step::Select(vec![Sms, Email]),
            ),
            (
                pool(Mode::On, false, true, false),
                user(&[], None),
                Step::Setup(vec![SoftwareToken]),
            ),
            (all, verified_phone.clone(), Step::Challenge(Sms)),
            (optional, verified_phone, Step::None),
            (
                pool(Mode::On, false, true, false),
                UserMfa {
                    software_token_verified: false,
                    ..user(&[SoftwareToken], None)
                },
                Step::Setup(vec![SoftwareToken]),
            ),
        ];
        for (i, (pool, user, expected)) in rows.into_iter().enumerate() {
            assert_eq!(decide(&pool, &user), expected, "row {i}");
        }
    }

    #[test]
    fn factor_lists_are_json_arrays_of_names() {
        assert_eq!(
            factor_list(&[Sms, SoftwareToken]),
            r#"["SMS_MFA","SOFTWARE_TOKEN_MFA"]"#
        );
    }
}
