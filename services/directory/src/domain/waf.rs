//! AWS WAF's resources in front of user pools: IP sets and web ACLs of a region (one
//! aggregate each, kind [`WafResource::KIND`]), written whole by each create or update
//! under WAF's optimistic lock (`LockToken`), and the web ACL a pool is associated with
//! ([`WebAclAssociation`]). What a web ACL's rules mean is `portcullis-waf`'s; here they
//! are a document kept as written.

use portcullis_proto::events::v1::{WafResourceDeleted, WafResourceWritten, WebAclAssociationSet};

use super::{Aggregate, ApiError, Ctx, ErrorCode, Event};

pub const IP_SET: &str = "ipset";
pub const WEB_ACL: &str = "webacl";

pub fn nonexistent() -> ApiError {
    ApiError::new(
        ErrorCode::WAFNonexistentItemException,
        "AWS WAF couldn\u{2019}t perform the operation because your resource doesn\u{2019}t exist.",
    )
}

pub fn optimistic_lock() -> ApiError {
    ApiError::new(
        ErrorCode::WAFOptimisticLockException,
        "AWS WAF couldn\u{2019}t save your changes because someone changed the resource after you started to edit it. Reapply your changes.",
    )
}

pub fn duplicate() -> ApiError {
    ApiError::new(
        ErrorCode::WAFDuplicateItemException,
        "AWS WAF couldn\u{2019}t perform the operation because some resource in your request is a duplicate of an existing one.",
    )
}

pub fn associated() -> ApiError {
    ApiError::new(
        ErrorCode::WAFAssociatedItemException,
        "AWS WAF couldn\u{2019}t perform the operation because your resource is being used by another resource or it\u{2019}s associated with another resource.",
    )
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WafState {
    pub region: String,
    pub kind: String,
    pub id: String,
    pub name: String,
    pub description: String,
    pub document: String,
    pub lock_token: String,
    pub ip_set_ids: Vec<String>,
}

#[derive(Debug, Default, Clone)]
pub struct WafResource {
    pub state: Option<WafState>,
}

pub enum WafCommand {
    /// Create (`expected_lock` `None`) or replace the resource with `next`.
    Write {
        next: WafState,
        expected_lock: Option<String>,
    },
    Delete {
        name: String,
        expected_lock: String,
    },
}

impl Aggregate for WafResource {
    const KIND: &'static str = "waf";
    type Command = WafCommand;

    fn decide(&self, command: &WafCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match (command, &self.state) {
            (
                WafCommand::Write {
                    next,
                    expected_lock: None,
                },
                None,
            ) => Ok(vec![written(next)]),
            (
                WafCommand::Write {
                    expected_lock: None,
                    ..
                },
                Some(_),
            ) => Err(duplicate()),
            (WafCommand::Write { .. } | WafCommand::Delete { .. }, None) => Err(nonexistent()),
            (
                WafCommand::Write {
                    next,
                    expected_lock: Some(lock),
                },
                Some(current),
            ) => {
                if current.name != next.name {
                    return Err(nonexistent());
                }
                if current.lock_token != *lock {
                    return Err(optimistic_lock());
                }
                Ok(vec![written(next)])
            }
            (
                WafCommand::Delete {
                    name,
                    expected_lock,
                },
                Some(current),
            ) => {
                if current.name != *name {
                    return Err(nonexistent());
                }
                if current.lock_token != *expected_lock {
                    return Err(optimistic_lock());
                }
                Ok(vec![Event::WafResourceDeleted(WafResourceDeleted {
                    region: current.region.clone(),
                    kind: current.kind.clone(),
                    id: current.id.clone(),
                    name: current.name.clone(),
                })])
            }
        }
    }

    fn evolve(&mut self, event: &Event, _at_ms: i64) {
        match event {
            Event::WafResourceWritten(w) => {
                self.state = Some(WafState {
                    region: w.region.clone(),
                    kind: w.kind.clone(),
                    id: w.id.clone(),
                    name: w.name.clone(),
                    description: w.description.clone(),
                    document: w.document.clone(),
                    lock_token: w.lock_token.clone(),
                    ip_set_ids: w.ip_set_ids.clone(),
                });
            }
            Event::WafResourceDeleted(_) => self.state = None,
            _ => {}
        }
    }
}

fn written(next: &WafState) -> Event {
    Event::WafResourceWritten(WafResourceWritten {
        region: next.region.clone(),
        kind: next.kind.clone(),
        id: next.id.clone(),
        name: next.name.clone(),
        description: next.description.clone(),
        document: next.document.clone(),
        lock_token: next.lock_token.clone(),
        ip_set_ids: next.ip_set_ids.clone(),
    })
}

/// The web ACL a user pool is associated with.
#[derive(Debug, Default, Clone)]
pub struct WebAclAssociation {
    pub association: Option<WebAclAssociationSet>,
}

impl Aggregate for WebAclAssociation {
    const KIND: &'static str = "webaclassociation";
    type Command = WebAclAssociationSet;

    fn decide(&self, command: &WebAclAssociationSet, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        Ok(vec![Event::WebAclAssociationSet(command.clone())])
    }

    fn evolve(&mut self, event: &Event, _at_ms: i64) {
        if let Event::WebAclAssociationSet(set) = event {
            self.association = Some(set.clone()).filter(|s| !s.web_acl_id.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given;

    fn state(lock: &str) -> WafState {
        WafState {
            region: "us-east-1".into(),
            kind: IP_SET.into(),
            id: "id-1".into(),
            name: "office".into(),
            description: String::new(),
            document: "{}".into(),
            lock_token: lock.into(),
            ip_set_ids: Vec::new(),
        }
    }

    fn decide(history: &[Event], command: &WafCommand) -> Result<Vec<Event>, ApiError> {
        given::<WafResource>(history).decide(command, &Ctx { now_ms: 1 })
    }

    #[test]
    fn a_change_needs_the_current_lock_token() {
        let create = WafCommand::Write {
            next: state("lock-1"),
            expected_lock: None,
        };
        let history = decide(&[], &create).expect("created");
        assert_eq!(
            decide(&history, &create).unwrap_err().code,
            ErrorCode::WAFDuplicateItemException
        );
        let stale = decide(
            &history,
            &WafCommand::Write {
                next: state("lock-3"),
                expected_lock: Some("lock-0".into()),
            },
        );
        assert_eq!(
            stale.unwrap_err().code,
            ErrorCode::WAFOptimisticLockException
        );
        let fresh = decide(
            &history,
            &WafCommand::Write {
                next: state("lock-2"),
                expected_lock: Some("lock-1".into()),
            },
        );
        assert!(fresh.is_ok());
        let renamed = decide(
            &history,
            &WafCommand::Delete {
                name: "other".into(),
                expected_lock: "lock-1".into(),
            },
        );
        assert_eq!(
            renamed.unwrap_err().code,
            ErrorCode::WAFNonexistentItemException
        );
    }
}
