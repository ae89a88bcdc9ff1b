//! A resource server of a pool: an identifier and the custom scopes
//! (`<identifier>/<scope name>`) app clients may be allowed.

use portcullis_proto::events::v1::{
    ResourceServerCreated, ResourceServerDeleted, ResourceServerScope, ResourceServerUpdated,
};

use super::{Aggregate, ApiError, Ctx, ErrorCode, Event};

#[derive(Debug, Default, Clone)]
pub struct ResourceServer {
    pub state: Option<ResourceServerState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServerState {
    pub pool_id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<ResourceServerScope>,
}

pub enum ResourceServerCommand {
    Create {
        pool_id: String,
        identifier: String,
        name: String,
        scopes: Vec<ResourceServerScope>,
    },
    /// Replaces the name and the scopes.
    Update {
        name: String,
        scopes: Vec<ResourceServerScope>,
    },
    Delete,
}

/// Cognito's quota of scopes per resource server.
pub const MAX_SCOPES: usize = 100;

pub fn resource_server_not_found() -> ApiError {
    ApiError::not_found("Resource server does not exist.")
}

impl ResourceServerState {
    /// The scopes as app clients name them.
    pub fn full_scopes(&self) -> impl Iterator<Item = String> + '_ {
        self.scopes
            .iter()
            .map(|s| format!("{}/{}", self.identifier, s.scope_name))
    }
}

impl Aggregate for ResourceServer {
    const KIND: &'static str = "resourceserver";
    type Command = ResourceServerCommand;

    fn decide(&self, command: &ResourceServerCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match (command, &self.state) {
            (
                ResourceServerCommand::Create {
                    pool_id,
                    identifier,
                    name,
                    scopes,
                },
                None,
            ) => {
                validate_identifier(identifier)?;
                validate_name(name)?;
                validate_scopes(scopes)?;
                Ok(vec![Event::ResourceServerCreated(ResourceServerCreated {
                    pool_id: pool_id.clone(),
                    identifier: identifier.clone(),
                    name: name.clone(),
                    scopes: scopes.clone(),
                })])
            }
            (ResourceServerCommand::Create { identifier, .. }, Some(state)) => {
                Err(ApiError::invalid_parameter(format!(
                    "{identifier} already exists in user pool {}.",
                    state.pool_id
                )))
            }
            (ResourceServerCommand::Update { name, scopes }, Some(state)) => {
                validate_name(name)?;
                validate_scopes(scopes)?;
                Ok(vec![Event::ResourceServerUpdated(ResourceServerUpdated {
                    pool_id: state.pool_id.clone(),
                    identifier: state.identifier.clone(),
                    name: name.clone(),
                    scopes: scopes.clone(),
                })])
            }
            (ResourceServerCommand::Delete, Some(state)) => {
                Ok(vec![Event::ResourceServerDeleted(ResourceServerDeleted {
                    pool_id: state.pool_id.clone(),
                    identifier: state.identifier.clone(),
                })])
            }
            (_, None) => Err(resource_server_not_found()),
        }
    }

    fn evolve(&mut self, event: &Event, _at_ms: i64) {
        match event {
            Event::ResourceServerCreated(created) => {
                self.state = Some(ResourceServerState {
                    pool_id: created.pool_id.clone(),
                    identifier: created.identifier.clone(),
                    name: created.name.clone(),
                    scopes: created.scopes.clone(),
                });
            }
            Event::ResourceServerUpdated(updated) => {
                if let Some(state) = &mut self.state {
                    state.name = updated.name.clone();
                    state.scopes = updated.scopes.clone();
                }
            }
            Event::ResourceServerDeleted(_) => self.state = None,
            _ => {}
        }
    }
}

fn pattern_error(value: &str, member: &str, pattern: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    ))
}

/// `[\x21\x23-\x5B\x5D-\x7E]+`, 1 to 256: printable ASCII without space, `"` and `\`.
pub fn validate_identifier(identifier: &str) -> Result<(), ApiError> {
    let valid = (1..=256).contains(&identifier.len())
        && identifier
            .bytes()
            .all(|b| (0x21..=0x7E).contains(&b) && b != b'"' && b != b'\\');
    if valid {
        Ok(())
    } else {
        Err(pattern_error(
            identifier,
            "identifier",
            "[\\x21\\x23-\\x5B\\x5D-\\x7E]+",
        ))
    }
}

/// `[\w\s+=,.@-]+`, 1 to 256.
fn validate_name(name: &str) -> Result<(), ApiError> {
    let valid = (1..=256).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(pattern_error(name, "name", "[\\w\\s+=,.@-]+"))
    }
}

/// At most 100 scopes, unique by name; a name is `[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]+`
/// (as the identifier, and no `/`), a description 1 to 256 characters.
fn validate_scopes(scopes: &[ResourceServerScope]) -> Result<(), ApiError> {
    if scopes.len() > MAX_SCOPES {
        return Err(ApiError::invalid_parameter(
            "1 validation error detected: Value at 'scopes' failed to satisfy constraint: Member must have length less than or equal to 100",
        ));
    }
    for (i, scope) in scopes.iter().enumerate() {
        let name = &scope.scope_name;
        let valid = (1..=256).contains(&name.len())
            && name
                .bytes()
                .all(|b| (0x21..=0x7E).contains(&b) && !b"\"/\\".contains(&b));
        if !valid {
            return Err(pattern_error(
                name,
                &format!("scopes.{}.member.scopeName", i + 1),
                "[\\x21\\x23-\\x2E\\x30-\\x5B\\x5D-\\x7E]+",
            ));
        }
        if !(1..=256).contains(&scope.scope_description.chars().count()) {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value at 'scopes.{}.member.scopeDescription' failed to satisfy constraint: Member must have length between 1 and 256",
                i + 1
            )));
        }
        if scopes[..i].iter().any(|s| &s.scope_name == name) {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterException,
                format!("Duplicate scope name {name}."),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given;

    const CTX: Ctx = Ctx { now_ms: 1 };

    fn scope(name: &str) -> ResourceServerScope {
        ResourceServerScope {
            scope_name: name.into(),
            scope_description: format!("{name} things"),
        }
    }

    fn create(identifier: &str, scopes: Vec<ResourceServerScope>) -> ResourceServerCommand {
        ResourceServerCommand::Create {
            pool_id: "us-east-1_abc".into(),
            identifier: identifier.into(),
            name: "My API".into(),
            scopes,
        }
    }

    fn then(events: &[Event], command: ResourceServerCommand) -> Result<Vec<Event>, ApiError> {
        given::<ResourceServer>(events).decide(&command, &CTX)
    }

    #[test]
    fn created_servers_name_their_scopes_under_the_identifier() {
        let events = then(&[], create("https://api.example.com", vec![scope("read")])).unwrap();
        let state = given::<ResourceServer>(&events).state.unwrap();
        assert_eq!(
            state.full_scopes().collect::<Vec<_>>(),
            ["https://api.example.com/read"]
        );
        let err = then(&events, create("https://api.example.com", vec![])).unwrap_err();
        assert_eq!(
            err.message,
            "https://api.example.com already exists in user pool us-east-1_abc."
        );
    }

    #[test]
    fn identifiers_names_and_scopes_are_validated() {
        for bad in ["has space", "quote\"", "back\\slash", ""] {
            assert!(then(&[], create(bad, vec![])).is_err(), "{bad}");
        }
        assert!(then(&[], create("api", vec![scope("a/b")])).is_err());
        assert!(then(&[], create("api", vec![scope("read"), scope("read")])).is_err());
        let too_many = (0..101).map(|i| scope(&format!("s{i}"))).collect();
        assert!(then(&[], create("api", too_many)).is_err());
        let mut empty = scope("read");
        empty.scope_description.clear();
        assert!(then(&[], create("api", vec![empty])).is_err());
        let bad_name = ResourceServerCommand::Create {
            pool_id: "p".into(),
            identifier: "api".into(),
            name: "no/slash".into(),
            scopes: vec![],
        };
        assert!(then(&[], bad_name).is_err());
    }

    #[test]
    fn updates_replace_name_and_scopes_and_deletes_forget_the_server() {
        let mut events = then(&[], create("api", vec![scope("read"), scope("write")])).unwrap();
        let update = ResourceServerCommand::Update {
            name: "Renamed".into(),
            scopes: vec![scope("admin")],
        };
        events.extend(then(&events, update).unwrap());
        let state = given::<ResourceServer>(&events).state.unwrap();
        assert_eq!(state.name, "Renamed");
        assert_eq!(state.full_scopes().collect::<Vec<_>>(), ["api/admin"]);
        events.extend(then(&events, ResourceServerCommand::Delete).unwrap());
        assert!(given::<ResourceServer>(&events).state.is_none());
        assert!(then(&events, ResourceServerCommand::Delete).is_err());
    }
}
