//! The group aggregate (its settings only; membership belongs to users).

use portcullis_proto::events::v1::{GroupCreated, GroupDeleted, GroupUpdated};

use super::{Aggregate, ApiError, Ctx, ErrorCode, Event};

#[derive(Debug, Default, Clone)]
pub struct Group {
    pub state: Option<GroupState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    pub pool_id: String,
    pub name: String,
    pub description: String,
    pub role_arn: String,
    pub precedence: Option<u32>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

pub enum GroupCommand {
    Create {
        pool_id: String,
        name: String,
        description: String,
        role_arn: String,
        precedence: Option<u32>,
    },
    /// Members given as `None` keep their current values.
    Update {
        description: Option<String>,
        role_arn: Option<String>,
        precedence: Option<u32>,
    },
    Delete,
}

pub fn group_not_found() -> ApiError {
    ApiError::not_found("Group not found.")
}

impl Aggregate for Group {
    const KIND: &'static str = "group";
    type Command = GroupCommand;

    fn decide(&self, command: &GroupCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match (command, &self.state) {
            (
                GroupCommand::Create {
                    pool_id,
                    name,
                    description,
                    role_arn,
                    precedence,
                },
                None,
            ) => {
                validate_name(name)?;
                validate_description(description)?;
                validate_role_arn(role_arn)?;
                Ok(vec![Event::GroupCreated(GroupCreated {
                    pool_id: pool_id.clone(),
                    group_name: name.clone(),
                    description: description.clone(),
                    role_arn: role_arn.clone(),
                    precedence: *precedence,
                })])
            }
            (GroupCommand::Create { name, .. }, Some(_)) => Err(ApiError::new(
                ErrorCode::GroupExistsException,
                format!("A group with the name {name} already exists."),
            )),
            (
                GroupCommand::Update {
                    description,
                    role_arn,
                    precedence,
                },
                Some(state),
            ) => {
                let description = description.clone().unwrap_or(state.description.clone());
                let role_arn = role_arn.clone().unwrap_or(state.role_arn.clone());
                validate_description(&description)?;
                validate_role_arn(&role_arn)?;
                Ok(vec![Event::GroupUpdated(GroupUpdated {
                    pool_id: state.pool_id.clone(),
                    group_name: state.name.clone(),
                    description,
                    role_arn,
                    precedence: precedence.or(state.precedence),
                })])
            }
            (GroupCommand::Delete, Some(state)) => Ok(vec![Event::GroupDeleted(GroupDeleted {
                pool_id: state.pool_id.clone(),
                group_name: state.name.clone(),
            })]),
            (_, None) => Err(group_not_found()),
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        match event {
            Event::GroupCreated(created) => {
                self.state = Some(GroupState {
                    pool_id: created.pool_id.clone(),
                    name: created.group_name.clone(),
                    description: created.description.clone(),
                    role_arn: created.role_arn.clone(),
                    precedence: created.precedence,
                    created_ms: at_ms,
                    modified_ms: at_ms,
                });
            }
            Event::GroupUpdated(updated) => {
                if let Some(state) = &mut self.state {
                    state.description = updated.description.clone();
                    state.role_arn = updated.role_arn.clone();
                    state.precedence = updated.precedence;
                    state.modified_ms = at_ms;
                }
            }
            Event::GroupDeleted(_) => self.state = None,
            _ => {}
        }
    }
}

/// Cognito's `GroupNameType`: 1 to 128 letters, marks, symbols, numbers or punctuation
/// (no whitespace or control characters).
pub fn validate_name(name: &str) -> Result<(), ApiError> {
    let len = name.chars().count();
    let valid =
        (1..=128).contains(&len) && name.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{name}' at 'groupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{L}}\\p{{M}}\\p{{S}}\\p{{N}}\\p{{P}}]+"
        )))
    }
}

fn validate_description(description: &str) -> Result<(), ApiError> {
    if description.chars().count() > 2048 {
        return Err(ApiError::invalid_parameter(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 2048",
        ));
    }
    Ok(())
}

/// Cognito's `ArnType` pattern,
/// `arn:[\w+=/,.@-]+:[\w+=/,.@-]+:([\w+=/,.@-]*)?:[0-9]+:[\w+=/,.@-]+(:[\w+=/,.@-]+)?(:[\w+=/,.@-]+)?`;
/// empty means no role.
fn validate_role_arn(arn: &str) -> Result<(), ApiError> {
    if arn.is_empty() {
        return Ok(());
    }
    let word = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || "+=/,.@-".contains(c))
    };
    let parts: Vec<&str> = arn.split(':').collect();
    let valid = (20..=2048).contains(&arn.len())
        && (6..=8).contains(&parts.len())
        && parts[0] == "arn"
        && parts.iter().skip(1).all(|p| word(p))
        && parts
            .iter()
            .enumerate()
            .all(|(i, p)| i == 3 || !p.is_empty())
        && parts[4].chars().all(|c| c.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{arn}' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:[\\w+=/,.@-]+:[\\w+=/,.@-]+:([\\w+=/,.@-]*)?:[0-9]+:[\\w+=/,.@-]+(:[\\w+=/,.@-]+)?(:[\\w+=/,.@-]+)?"
        )))
    }
}

/// The stream id part for a group name. Names that are already valid id parts are used
/// as they are; any other name (Unicode, punctuation, or one that looks like an escaped
/// name) becomes `_h_` and the hex SHA-256 of the name, so every name maps to one
/// stream and no two names share one.
pub fn stream_key(name: &str) -> String {
    let plain = name.len() <= 128
        && !name.starts_with("_h_")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain && !name.is_empty() {
        return name.to_owned();
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, name.as_bytes());
    format!("_h_{}", hex::encode(digest.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given;

    const CTX: Ctx = Ctx { now_ms: 1 };

    fn create(name: &str) -> GroupCommand {
        GroupCommand::Create {
            pool_id: "us-east-1_abc".into(),
            name: name.into(),
            description: "admins".into(),
            role_arn: "arn:aws:iam::123456789012:role/Admin".into(),
            precedence: Some(1),
        }
    }

    fn then(events: &[Event], command: GroupCommand) -> Result<Vec<Event>, ApiError> {
        given::<Group>(events).decide(&command, &CTX)
    }

    fn existing() -> Vec<Event> {
        then(&[], create("admins")).unwrap()
    }

    #[test]
    fn given_nothing_when_created_then_the_group_exists() {
        let state = given::<Group>(&existing()).state.unwrap();
        assert_eq!(state.name, "admins");
        assert_eq!(state.precedence, Some(1));
        assert_eq!(state.created_ms, 1_000);
    }

    #[test]
    fn given_a_group_when_created_again_then_it_exists() {
        let err = then(&existing(), create("admins")).unwrap_err();
        assert_eq!(err.code, ErrorCode::GroupExistsException);
        assert_eq!(err.message, "A group with the name admins already exists.");
    }

    #[test]
    fn given_a_group_when_updated_then_omitted_members_are_kept() {
        let mut events = existing();
        let update = GroupCommand::Update {
            description: Some("new".into()),
            role_arn: None,
            precedence: None,
        };
        events.extend(then(&events, update).unwrap());
        let state = given::<Group>(&events).state.unwrap();
        assert_eq!(state.description, "new");
        assert_eq!(state.role_arn, "arn:aws:iam::123456789012:role/Admin");
        assert_eq!(state.precedence, Some(1));
    }

    #[test]
    fn given_a_deleted_group_then_it_is_not_found_and_can_be_created_anew() {
        let mut events = existing();
        events.extend(then(&events, GroupCommand::Delete).unwrap());
        assert!(given::<Group>(&events).state.is_none());
        let err = then(&events, GroupCommand::Delete).unwrap_err();
        assert_eq!(err.message, "Group not found.");
        assert!(then(&events, create("admins")).is_ok());
    }

    #[test]
    fn bad_names_and_arns_are_refused() {
        assert!(then(&[], create("has space")).is_err());
        assert!(then(&[], create("")).is_err());
        assert!(then(&[], create("Ünïcode/ok!")).is_ok());
        let bad_arn = GroupCommand::Create {
            pool_id: "p".into(),
            name: "g".into(),
            description: String::new(),
            role_arn: "not-an-arn-at-all-really".into(),
            precedence: None,
        };
        assert!(then(&[], bad_arn).is_err());
    }

    #[test]
    fn stream_keys_are_valid_and_distinct() {
        assert_eq!(stream_key("admins-1"), "admins-1");
        let escaped = stream_key("Ünïcode/ok!");
        assert!(escaped.starts_with("_h_") && escaped.len() == 67);
        assert_ne!(stream_key(&escaped), escaped);
        assert_ne!(stream_key("a b"), stream_key("a  b"));
    }
}
