//! Threat protection's risk configuration (`SetRiskConfiguration`) of a pool (`ALL`) or
//! of one app client: what compromised credentials and each account-takeover risk level
//! lead to, the notification emails, and the IP ranges always blocked or never assessed.

use portcullis_errors::ErrorCode;
use portcullis_proto::events::v1::{
    AccountTakeoverAction, RiskConfiguration, RiskConfigurationSet, RiskNotifyEmail,
};

use super::pool_settings::{check_arn, check_enum, check_length, check_list_enum, invalid};
use super::{Aggregate, ApiError, Ctx, Event};

/// The client id under which a pool's own configuration is kept.
pub const ALL: &str = "ALL";
/// The most CIDR blocks in each exception list.
const MAX_RANGES: usize = 200;

#[derive(Debug, Default, Clone)]
pub struct RiskConfigurationAggregate {
    pub state: Option<RiskState>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RiskState {
    pub pool_id: String,
    pub client_id: String,
    /// `None` once reset (the pool's defaults, or a client inheriting the pool's).
    pub configuration: Option<RiskConfiguration>,
    pub modified_ms: i64,
}

pub struct SetRisk {
    pub pool_id: String,
    /// [`ALL`] for the pool's.
    pub client_id: String,
    pub configuration: Option<RiskConfiguration>,
}

impl Aggregate for RiskConfigurationAggregate {
    const KIND: &'static str = "riskconfiguration";
    type Command = SetRisk;

    fn decide(&self, command: &SetRisk, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        if let Some(configuration) = &command.configuration {
            validate(configuration)?;
        }
        Ok(vec![Event::RiskConfigurationSet(RiskConfigurationSet {
            pool_id: command.pool_id.clone(),
            client_id: command.client_id.clone(),
            configuration: command.configuration.clone(),
        })])
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        if let Event::RiskConfigurationSet(set) = event {
            self.state = Some(RiskState {
                pool_id: set.pool_id.clone(),
                client_id: set.client_id.clone(),
                configuration: set.configuration.clone(),
                modified_ms: at_ms,
            });
        }
    }
}

/// A configuration with nothing in it is no configuration.
pub fn is_empty(configuration: &RiskConfiguration) -> bool {
    configuration.compromised_credentials.is_none()
        && configuration.account_takeover.is_none()
        && configuration.exceptions.is_none()
}

/// Cognito's checks of each member, with AWS's validation messages.
pub fn validate(configuration: &RiskConfiguration) -> Result<(), ApiError> {
    if let Some(compromised) = &configuration.compromised_credentials {
        check_list_enum(
            &compromised.event_filter,
            &["SIGN_IN", "PASSWORD_CHANGE", "SIGN_UP"],
            "compromisedCredentialsRiskConfiguration.eventFilter",
        )?;
        check_enum(
            &compromised.event_action,
            &["BLOCK", "NO_ACTION"],
            "compromisedCredentialsRiskConfiguration.actions.eventAction",
        )?;
    }
    if let Some(takeover) = &configuration.account_takeover {
        let levels = [
            ("lowAction", &takeover.low),
            ("mediumAction", &takeover.medium),
            ("highAction", &takeover.high),
        ];
        for (name, action) in levels {
            if let Some(AccountTakeoverAction { event_action, .. }) = action {
                check_enum(
                    event_action,
                    &["BLOCK", "MFA_IF_CONFIGURED", "MFA_REQUIRED", "NO_ACTION"],
                    &format!("accountTakeoverRiskConfiguration.actions.{name}.eventAction"),
                )?;
            }
        }
        let notifies = levels
            .iter()
            .any(|(_, action)| action.as_ref().is_some_and(|a| a.notify));
        match &takeover.notify {
            Some(notify) => {
                let member = "accountTakeoverRiskConfiguration.notifyConfiguration";
                check_length(&notify.from, 0, 131_072, &format!("{member}.from"))?;
                check_length(&notify.reply_to, 0, 131_072, &format!("{member}.replyTo"))?;
                if notify.source_arn.is_empty() {
                    return Err(ApiError::invalid_parameter(format!(
                        "1 validation error detected: Value null at '{member}.sourceArn' failed to satisfy constraint: Member must not be null"
                    )));
                }
                check_arn(&notify.source_arn, &format!("{member}.sourceArn"))?;
                let emails = [
                    ("blockEmail", &notify.block_email),
                    ("noActionEmail", &notify.no_action_email),
                    ("mfaEmail", &notify.mfa_email),
                ];
                for (name, email) in emails {
                    if let Some(email) = email {
                        check_email(email, &format!("{member}.{name}"))?;
                    }
                }
            }
            None if notifies => {
                return Err(ApiError::invalid_parameter(
                    "NotifyConfiguration is required when an account takeover action notifies the user.",
                ));
            }
            None => {}
        }
    }
    if let Some(exceptions) = &configuration.exceptions {
        let lists = [
            ("blockedIPRangeList", &exceptions.blocked_ip_ranges),
            ("skippedIPRangeList", &exceptions.skipped_ip_ranges),
        ];
        for (name, ranges) in lists {
            let member = format!("riskExceptionConfiguration.{name}");
            if ranges.len() > MAX_RANGES {
                return Err(invalid(
                    format!("[{}]", ranges.join(", ")),
                    &member,
                    &format!("Member must have length less than or equal to {MAX_RANGES}"),
                ));
            }
            if let Some(bad) = ranges.iter().find(|range| !is_cidr(range)) {
                return Err(ApiError::invalid_parameter(format!(
                    "{bad} in {name} is not a valid CIDR block."
                )));
            }
        }
    }
    Ok(())
}

fn check_email(email: &RiskNotifyEmail, member: &str) -> Result<(), ApiError> {
    if email.subject.is_empty() {
        return Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value null at '{member}.subject' failed to satisfy constraint: Member must not be null"
        )));
    }
    check_length(&email.subject, 1, 140, &format!("{member}.subject"))?;
    check_length(&email.html_body, 6, 20_000, &format!("{member}.htmlBody"))?;
    check_length(&email.text_body, 6, 20_000, &format!("{member}.textBody"))
}

/// An IPv4 or IPv6 address with a prefix length (`192.0.2.0/24`, `2001:db8::/32`).
pub fn is_cidr(range: &str) -> bool {
    let Some((address, prefix)) = range.split_once('/') else {
        return false;
    };
    let Ok(address) = address.parse::<std::net::IpAddr>() else {
        return false;
    };
    let longest = if address.is_ipv4() { 32 } else { 128 };
    !prefix.is_empty()
        && prefix.chars().all(|c| c.is_ascii_digit())
        && prefix.parse::<u8>().is_ok_and(|p| p <= longest)
}

/// Threat protection must be on (`UserPoolAddOns.AdvancedSecurityMode` `AUDIT` or
/// `ENFORCED`) for a pool to have a risk configuration.
/// [`require_add_on`] for a pool's settings.
pub fn require_add_on_in(
    settings: &portcullis_proto::events::v1::UserPoolSettings,
) -> Result<(), ApiError> {
    let mode = settings
        .user_pool_add_ons
        .as_ref()
        .map(|a| a.advanced_security_mode.as_str())
        .unwrap_or_default();
    require_add_on(mode)
}

pub fn require_add_on(advanced_security_mode: &str) -> Result<(), ApiError> {
    if matches!(advanced_security_mode, "AUDIT" | "ENFORCED") {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::UserPoolAddOnNotEnabledException,
        "Threat protection is not enabled for this user pool: set UserPoolAddOns.AdvancedSecurityMode to AUDIT or ENFORCED.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_proto::events::v1::{
        AccountTakeoverRisk, CompromisedCredentialsRisk, RiskExceptions, RiskNotifyConfiguration,
    };

    fn takeover(notify: Option<RiskNotifyConfiguration>) -> RiskConfiguration {
        RiskConfiguration {
            account_takeover: Some(AccountTakeoverRisk {
                notify,
                high: Some(AccountTakeoverAction {
                    notify: true,
                    event_action: "BLOCK".into(),
                }),
                ..AccountTakeoverRisk::default()
            }),
            ..RiskConfiguration::default()
        }
    }

    #[test]
    fn members_are_checked_as_cognito_checks_them() {
        let compromised = RiskConfiguration {
            compromised_credentials: Some(CompromisedCredentialsRisk {
                event_filter: vec!["SIGN_IN".into(), "LOG_IN".into()],
                event_action: "BLOCK".into(),
            }),
            ..RiskConfiguration::default()
        };
        let err = validate(&compromised).unwrap_err();
        assert!(err.message.contains("eventFilter"), "{}", err.message);

        let err = validate(&takeover(None)).unwrap_err();
        assert!(
            err.message.contains("NotifyConfiguration is required"),
            "{}",
            err.message
        );
        let notify = RiskNotifyConfiguration {
            source_arn: "arn:aws:ses:us-east-1:123456789012:identity/example.com".into(),
            from: "security@example.com".into(),
            block_email: Some(RiskNotifyEmail {
                subject: "Blocked".into(),
                html_body: "<p>We blocked a sign-in.</p>".into(),
                text_body: "We blocked a sign-in.".into(),
            }),
            ..RiskNotifyConfiguration::default()
        };
        validate(&takeover(Some(notify.clone()))).unwrap();
        let short = RiskNotifyConfiguration {
            block_email: Some(RiskNotifyEmail {
                subject: "Blocked".into(),
                text_body: "Hi".into(),
                ..RiskNotifyEmail::default()
            }),
            ..notify.clone()
        };
        let err = validate(&takeover(Some(short))).unwrap_err();
        assert!(
            err.message.contains("blockEmail.textBody"),
            "{}",
            err.message
        );
        let no_arn = RiskNotifyConfiguration {
            source_arn: String::new(),
            ..notify
        };
        assert!(validate(&takeover(Some(no_arn))).is_err());

        let ranges = RiskConfiguration {
            exceptions: Some(RiskExceptions {
                blocked_ip_ranges: vec!["192.0.2.0/24".into(), "2001:db8::/32".into()],
                skipped_ip_ranges: vec!["10.0.0.1".into()],
            }),
            ..RiskConfiguration::default()
        };
        let err = validate(&ranges).unwrap_err();
        assert_eq!(
            err.message,
            "10.0.0.1 in skippedIPRangeList is not a valid CIDR block."
        );
    }

    #[test]
    fn cidr_blocks_need_an_address_and_a_prefix_that_fits_it() {
        for good in ["0.0.0.0/0", "192.0.2.7/32", "::/0", "2001:db8::/128"] {
            assert!(is_cidr(good), "{good}");
        }
        for bad in [
            "192.0.2.0/33",
            "2001:db8::/129",
            "192.0.2.0/",
            "/24",
            "x/8",
            "1.2.3.4/+8",
        ] {
            assert!(!is_cidr(bad), "{bad}");
        }
    }

    #[test]
    fn only_a_pool_with_threat_protection_on_has_a_risk_configuration() {
        assert!(require_add_on("AUDIT").is_ok());
        assert!(require_add_on("ENFORCED").is_ok());
        for off in ["OFF", ""] {
            assert_eq!(
                require_add_on(off).unwrap_err().code,
                ErrorCode::UserPoolAddOnNotEnabledException
            );
        }
    }
}
