//! A pool's domains: at most one prefix domain (`auth`, served as
//! `auth.<the server's host>`) and one custom domain (`auth.example.com`, with a
//! certificate). Uniqueness across pools is a claim (`app/domains.rs`); this aggregate
//! holds the per-pool rules.

use portcullis_proto::events::v1::{
    UserPoolDomain, UserPoolDomainCreated, UserPoolDomainDeleted, UserPoolDomainUpdated,
};

use super::{Aggregate, ApiError, Ctx, Event};

/// The domains of one pool.
#[derive(Debug, Default, Clone)]
pub struct PoolDomains {
    pub prefix: Option<DomainState>,
    pub custom: Option<DomainState>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DomainState {
    pub domain: UserPoolDomain,
    /// Changes since creation, starting at 1.
    pub version: u64,
}

pub enum DomainCommand {
    /// A custom domain when `certificate_arn` is given.
    Create {
        pool_id: String,
        domain: String,
        certificate_arn: Option<String>,
        security_policy: String,
        managed_login_version: Option<i32>,
    },
    /// Members given as `None` keep their values.
    Update {
        domain: String,
        certificate_arn: Option<String>,
        security_policy: Option<String>,
        managed_login_version: Option<i32>,
    },
    Delete {
        domain: String,
    },
}

/// Words Cognito refuses inside a prefix.
const RESERVED: &[&str] = &["aws", "amazon", "cognito"];
const SECURITY_POLICIES: &[&str] = &["TLS_V1", "TLS_V1_2_2021", "TLS_V1_3_2025"];

pub fn no_such_domain() -> ApiError {
    ApiError::invalid_parameter("No such domain or user pool exists.")
}

impl PoolDomains {
    pub fn get(&self, domain: &str) -> Option<&DomainState> {
        [&self.prefix, &self.custom]
            .into_iter()
            .flatten()
            .find(|d| d.domain.domain == domain)
    }

    pub fn is_empty(&self) -> bool {
        self.prefix.is_none() && self.custom.is_none()
    }

    fn slot(&mut self, custom: bool) -> &mut Option<DomainState> {
        if custom {
            &mut self.custom
        } else {
            &mut self.prefix
        }
    }
}

impl Aggregate for PoolDomains {
    const KIND: &'static str = "domains";
    type Command = DomainCommand;

    fn decide(&self, command: &DomainCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match command {
            DomainCommand::Create {
                pool_id,
                domain,
                certificate_arn,
                security_policy,
                managed_login_version,
            } => {
                let custom = certificate_arn.is_some();
                validate_domain(domain, custom)?;
                if let Some(arn) = certificate_arn {
                    validate_certificate_arn(arn)?;
                }
                validate_security_policy(security_policy)?;
                validate_managed_login_version(*managed_login_version)?;
                let taken = if custom { &self.custom } else { &self.prefix };
                if taken.is_some() {
                    return Err(ApiError::invalid_parameter(
                        "User pool already has a domain configured.",
                    ));
                }
                Ok(vec![Event::UserPoolDomainCreated(UserPoolDomainCreated {
                    domain: Some(UserPoolDomain {
                        pool_id: pool_id.clone(),
                        domain: domain.clone(),
                        custom,
                        certificate_arn: certificate_arn.clone().unwrap_or_default(),
                        security_policy: security_policy.clone(),
                        managed_login_version: managed_login_version.unwrap_or(1),
                    }),
                })])
            }
            DomainCommand::Update {
                domain,
                certificate_arn,
                security_policy,
                managed_login_version,
            } => {
                let current = self.get(domain).ok_or_else(no_such_domain)?;
                let mut next = current.domain.clone();
                if let Some(arn) = certificate_arn {
                    if !next.custom {
                        return Err(ApiError::invalid_parameter(
                            "CustomDomainConfig can only be given for a custom domain.",
                        ));
                    }
                    validate_certificate_arn(arn)?;
                    next.certificate_arn = arn.clone();
                }
                if let Some(policy) = security_policy {
                    validate_security_policy(policy)?;
                    next.security_policy = policy.clone();
                }
                validate_managed_login_version(*managed_login_version)?;
                if let Some(version) = managed_login_version {
                    next.managed_login_version = *version;
                }
                Ok(vec![Event::UserPoolDomainUpdated(UserPoolDomainUpdated {
                    domain: Some(next),
                })])
            }
            DomainCommand::Delete { domain } => {
                let current = self.get(domain).ok_or_else(no_such_domain)?;
                Ok(vec![Event::UserPoolDomainDeleted(UserPoolDomainDeleted {
                    pool_id: current.domain.pool_id.clone(),
                    domain: domain.clone(),
                })])
            }
        }
    }

    fn evolve(&mut self, event: &Event, _at_ms: i64) {
        match event {
            Event::UserPoolDomainCreated(UserPoolDomainCreated {
                domain: Some(domain),
            }) => {
                *self.slot(domain.custom) = Some(DomainState {
                    domain: domain.clone(),
                    version: 1,
                });
            }
            Event::UserPoolDomainUpdated(UserPoolDomainUpdated {
                domain: Some(domain),
            }) => {
                if let Some(state) = self.slot(domain.custom) {
                    state.domain = domain.clone();
                    state.version += 1;
                }
            }
            Event::UserPoolDomainDeleted(deleted) => {
                for slot in [&mut self.prefix, &mut self.custom] {
                    if slot
                        .as_ref()
                        .is_some_and(|d| d.domain.domain == deleted.domain)
                    {
                        *slot = None;
                    }
                }
            }
            _ => {}
        }
    }
}

/// A prefix is Cognito's `DomainType`; a custom domain is a host name of at least two
/// labels, each of letters, digits and hyphens.
pub fn validate_domain(domain: &str, custom: bool) -> Result<(), ApiError> {
    if custom {
        let labels: Vec<&str> = domain.split('.').collect();
        let valid =
            domain.len() <= 253 && labels.len() >= 2 && labels.iter().all(|l| is_label(l, true));
        if !valid {
            return Err(ApiError::invalid_parameter(format!(
                "{domain} is not a valid custom domain name."
            )));
        }
        return Ok(());
    }
    if !is_label(domain, false) {
        return Err(ApiError::invalid_parameter(
            "The domain name contains an invalid character. Domain names can only contain lower-case letters, numbers, and hyphens. Please enter a different name that follows this format: ^[a-z0-9](?:[a-z0-9\\-]{0,61}[a-z0-9])?$",
        ));
    }
    if let Some(word) = RESERVED.iter().find(|w| domain.contains(*w)) {
        return Err(ApiError::invalid_parameter(format!(
            "Domain cannot contain reserved word: {word}"
        )));
    }
    Ok(())
}

/// `^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$`; host names of custom domains may also
/// have capitals.
fn is_label(label: &str, any_case: bool) -> bool {
    let ok = |c: char| {
        c.is_ascii_digit() || c.is_ascii_lowercase() || (any_case && c.is_ascii_uppercase())
    };
    let (Some(first), Some(last)) = (label.chars().next(), label.chars().last()) else {
        return false;
    };
    label.len() <= 63 && ok(first) && ok(last) && label.chars().all(|c| ok(c) || c == '-')
}

fn validate_certificate_arn(arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let valid = (20..=2048).contains(&arn.len())
        && parts.len() >= 6
        && parts[0] == "arn"
        && parts[4].chars().all(|c| c.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{arn}' at 'customDomainConfig.certificateArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:[\\w+=/,.@-]+:[\\w+=/,.@-]+:([\\w+=/,.@-]*)?:[0-9]+:[\\w+=/,.@-]+(:[\\w+=/,.@-]+)?(:[\\w+=/,.@-]+)?"
        )))
    }
}

fn validate_security_policy(policy: &str) -> Result<(), ApiError> {
    if policy.is_empty() || SECURITY_POLICIES.contains(&policy) {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{policy}' at 'customDomainConfig.securityPolicy' failed to satisfy constraint: Member must satisfy enum value set: [TLS_V1, TLS_V1_2_2021, TLS_V1_3_2025]"
    )))
}

fn validate_managed_login_version(version: Option<i32>) -> Result<(), ApiError> {
    match version {
        None | Some(1) | Some(2) => Ok(()),
        Some(other) => Err(ApiError::invalid_parameter(format!(
            "ManagedLoginVersion {other} is not supported: use 1 (classic hosted UI) or 2 (managed login)."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ErrorCode, given};

    const CTX: Ctx = Ctx { now_ms: 1 };

    fn create(domain: &str, arn: Option<&str>) -> DomainCommand {
        DomainCommand::Create {
            pool_id: "us-east-1_abc".into(),
            domain: domain.into(),
            certificate_arn: arn.map(str::to_owned),
            security_policy: String::new(),
            managed_login_version: None,
        }
    }

    const ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/abc";

    fn then(events: &[Event], command: DomainCommand) -> Result<Vec<Event>, ApiError> {
        given::<PoolDomains>(events).decide(&command, &CTX)
    }

    #[test]
    fn a_pool_has_one_prefix_and_one_custom_domain_at_most() {
        let mut events = then(&[], create("my-app", None)).unwrap();
        events.extend(then(&events, create("auth.example.com", Some(ARN))).unwrap());
        let state = given::<PoolDomains>(&events);
        assert_eq!(
            state.prefix.as_ref().unwrap().domain.managed_login_version,
            1
        );
        assert!(state.custom.as_ref().unwrap().domain.custom);
        for again in [
            create("other", None),
            create("login.example.org", Some(ARN)),
        ] {
            let err = then(&events, again).unwrap_err();
            assert_eq!(err.message, "User pool already has a domain configured.");
        }
    }

    #[test]
    fn prefixes_follow_cognitos_pattern_and_reserved_words() {
        for bad in ["-a", "a-", "UPPER", "a.b", "", &"a".repeat(64)] {
            let err = then(&[], create(bad, None)).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidParameterException, "{bad}");
            assert!(
                err.message
                    .starts_with("The domain name contains an invalid character")
            );
        }
        let err = then(&[], create("my-aws-login", None)).unwrap_err();
        assert_eq!(err.message, "Domain cannot contain reserved word: aws");
        assert!(then(&[], create("a", None)).is_ok());
        assert!(then(&[], create(&"a".repeat(63), None)).is_ok());
    }

    #[test]
    fn custom_domains_need_a_host_name_and_a_certificate_arn() {
        assert!(then(&[], create("localonly", Some(ARN))).is_err());
        assert!(
            then(
                &[],
                create("auth.example.com", Some("not-an-arn-at-all-really"))
            )
            .is_err()
        );
        // A host name without a certificate is taken for a prefix, and refused as one.
        assert!(then(&[], create("auth.example.com", None)).is_err());
    }

    #[test]
    fn updates_keep_what_is_not_given_and_count_versions() {
        let mut events = then(&[], create("auth.example.com", Some(ARN))).unwrap();
        let update = DomainCommand::Update {
            domain: "auth.example.com".into(),
            certificate_arn: None,
            security_policy: None,
            managed_login_version: Some(2),
        };
        events.extend(then(&events, update).unwrap());
        let state = given::<PoolDomains>(&events).custom.unwrap();
        assert_eq!(state.version, 2);
        assert_eq!(state.domain.managed_login_version, 2);
        assert_eq!(state.domain.certificate_arn, ARN);
        let bad = DomainCommand::Update {
            domain: "auth.example.com".into(),
            certificate_arn: None,
            security_policy: None,
            managed_login_version: Some(3),
        };
        assert!(then(&events, bad).is_err());
    }

    #[test]
    fn only_the_pools_own_domain_can_be_deleted_and_then_created_anew() {
        let mut events = then(&[], create("my-app", None)).unwrap();
        let other = DomainCommand::Delete {
            domain: "someone-else".into(),
        };
        assert_eq!(
            then(&events, other).unwrap_err().message,
            "No such domain or user pool exists."
        );
        let delete = DomainCommand::Delete {
            domain: "my-app".into(),
        };
        events.extend(then(&events, delete).unwrap());
        assert!(given::<PoolDomains>(&events).is_empty());
        assert!(then(&events, create("my-app", None)).is_ok());
    }
}
