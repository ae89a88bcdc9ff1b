//! An identity of an identity pool: a guest, or the person behind one or more logins
//! (a provider and who the user is there). Which login leads to which identity is kept
//! as a unique claim besides the log; the identity's stream records what it holds.

use portcullis_proto::events::v1::{
    IdentityCreated, IdentityDeleted, IdentityLoginLinked, IdentityLoginUnlinked,
};

use super::{Aggregate, ApiError, Ctx, ErrorCode, Event};

/// The most logins one identity may hold (Cognito's `Logins` map holds 10).
pub const MAX_LOGINS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Login {
    pub provider: String,
    /// The developer user identifier, or the hex SHA-256 of the subject.
    pub key: String,
}

#[derive(Debug, Default, Clone)]
pub struct Identity {
    pub state: Option<IdentityState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityState {
    pub id: String,
    pub pool_id: String,
    pub logins: Vec<Login>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

pub enum IdentityCommand {
    /// Creates the identity with these logins (none for a guest).
    Create {
        id: String,
        pool_id: String,
        logins: Vec<Login>,
    },
    Link(Vec<Login>),
    Unlink(Vec<Login>),
    Delete,
}

pub fn identity_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Identity '{id}' not found."))
}

impl IdentityState {
    pub fn is_authenticated(&self) -> bool {
        !self.logins.is_empty()
    }

    /// The provider names of the linked logins, each once, in link order.
    pub fn providers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for login in &self.logins {
            if !out.contains(&login.provider) {
                out.push(login.provider.clone());
            }
        }
        out
    }

    pub fn holds(&self, login: &Login) -> bool {
        self.logins.contains(login)
    }
}

fn linked(id: &str, login: &Login) -> Event {
    Event::IdentityLoginLinked(IdentityLoginLinked {
        identity_id: id.to_owned(),
        provider: login.provider.clone(),
        login_key: login.key.clone(),
    })
}

impl Aggregate for Identity {
    const KIND: &'static str = "identity";
    type Command = IdentityCommand;

    fn decide(&self, command: &IdentityCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        match (command, &self.state) {
            (
                IdentityCommand::Create {
                    id,
                    pool_id,
                    logins,
                },
                None,
            ) => {
                let mut events = vec![Event::IdentityCreated(IdentityCreated {
                    identity_id: id.clone(),
                    identity_pool_id: pool_id.clone(),
                })];
                events.extend(logins.iter().map(|login| linked(id, login)));
                Ok(events)
            }
            // A retried create (the claim was written, the first append's answer lost):
            // link what is missing.
            (IdentityCommand::Create { logins, .. }, Some(state))
            | (IdentityCommand::Link(logins), Some(state)) => {
                let new: Vec<&Login> = logins.iter().filter(|l| !state.holds(l)).collect();
                if state.logins.len() + new.len() > MAX_LOGINS {
                    return Err(ApiError::new(
                        ErrorCode::LimitExceededException,
                        format!("An identity can have at most {MAX_LOGINS} logins."),
                    ));
                }
                Ok(new
                    .into_iter()
                    .map(|login| linked(&state.id, login))
                    .collect())
            }
            (IdentityCommand::Unlink(logins), Some(state)) => Ok(logins
                .iter()
                .filter(|l| state.holds(l))
                .map(|login| {
                    Event::IdentityLoginUnlinked(IdentityLoginUnlinked {
                        identity_id: state.id.clone(),
                        provider: login.provider.clone(),
                        login_key: login.key.clone(),
                    })
                })
                .collect()),
            (IdentityCommand::Delete, Some(state)) => {
                Ok(vec![Event::IdentityDeleted(IdentityDeleted {
                    identity_id: state.id.clone(),
                })])
            }
            (_, None) => Err(ApiError::not_found("Identity not found.")),
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        match event {
            Event::IdentityCreated(created) => {
                self.state = Some(IdentityState {
                    id: created.identity_id.clone(),
                    pool_id: created.identity_pool_id.clone(),
                    logins: Vec::new(),
                    created_ms: at_ms,
                    modified_ms: at_ms,
                });
            }
            Event::IdentityLoginLinked(e) => {
                if let Some(state) = &mut self.state {
                    state.logins.push(Login {
                        provider: e.provider.clone(),
                        key: e.login_key.clone(),
                    });
                    state.modified_ms = at_ms;
                }
            }
            Event::IdentityLoginUnlinked(e) => {
                if let Some(state) = &mut self.state {
                    state
                        .logins
                        .retain(|l| !(l.provider == e.provider && l.key == e.login_key));
                    state.modified_ms = at_ms;
                }
            }
            Event::IdentityDeleted(_) => self.state = None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given;

    const CTX: Ctx = Ctx { now_ms: 1 };

    fn login(provider: &str, key: &str) -> Login {
        Login {
            provider: provider.into(),
            key: key.into(),
        }
    }

    fn create(logins: Vec<Login>) -> Vec<Event> {
        Identity::default()
            .decide(
                &IdentityCommand::Create {
                    id: "us-east-1:1".into(),
                    pool_id: "us-east-1:2".into(),
                    logins,
                },
                &CTX,
            )
            .unwrap()
    }

    #[test]
    fn a_guest_has_no_logins_and_a_login_makes_it_authenticated() {
        let mut events = create(Vec::new());
        let guest: Identity = given(&events);
        assert!(!guest.state.as_ref().unwrap().is_authenticated());
        events.extend(
            guest
                .decide(&IdentityCommand::Link(vec![login("dev", "alice")]), &CTX)
                .unwrap(),
        );
        let user: Identity = given(&events);
        assert_eq!(user.state.unwrap().providers(), vec!["dev".to_owned()]);
    }

    #[test]
    fn linking_a_held_login_again_changes_nothing() {
        let events = create(vec![login("dev", "alice")]);
        let identity: Identity = given(&events);
        let again = identity
            .decide(&IdentityCommand::Link(vec![login("dev", "alice")]), &CTX)
            .unwrap();
        assert!(again.is_empty());
        let retried_create = identity
            .decide(
                &IdentityCommand::Create {
                    id: "us-east-1:1".into(),
                    pool_id: "us-east-1:2".into(),
                    logins: vec![login("dev", "alice"), login("dev", "bob")],
                },
                &CTX,
            )
            .unwrap();
        assert_eq!(retried_create.len(), 1, "only the missing login is linked");
    }

    #[test]
    fn unlinking_removes_only_held_logins_and_the_limit_holds() {
        let logins: Vec<Login> = (0..MAX_LOGINS)
            .map(|i| login("dev", &i.to_string()))
            .collect();
        let mut events = create(logins);
        let identity: Identity = given(&events);
        let err = identity
            .decide(&IdentityCommand::Link(vec![login("dev", "one more")]), &CTX)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::LimitExceededException);
        let unlink = identity
            .decide(
                &IdentityCommand::Unlink(vec![login("dev", "0"), login("dev", "absent")]),
                &CTX,
            )
            .unwrap();
        assert_eq!(unlink.len(), 1);
        events.extend(unlink);
        let identity: Identity = given(&events);
        assert_eq!(identity.state.unwrap().logins.len(), MAX_LOGINS - 1);
    }

    #[test]
    fn a_deleted_identity_is_gone() {
        let mut events = create(Vec::new());
        let identity: Identity = given(&events);
        events.extend(identity.decide(&IdentityCommand::Delete, &CTX).unwrap());
        let identity: Identity = given(&events);
        assert!(identity.state.is_none());
        assert!(identity.decide(&IdentityCommand::Delete, &CTX).is_err());
    }
}
