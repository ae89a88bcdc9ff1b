//! An IAM role: whom it trusts (the trust policy), what it allows (inline policies), and
//! how long its sessions may last. Pure: ids, ARNs and time come in with the command.

use std::collections::{BTreeMap, HashMap};

use portcullis_proto::events::v1::{
    IamRoleCreated, IamRoleDeleted, IamRolePolicyDeleted, IamRolePolicyPut,
    IamRoleTrustPolicyUpdated,
};

use super::validate;
use crate::domain::{Aggregate, ApiError, Ctx, ErrorCode, Event};

/// IAM's quota on the inline policies of one role, counted without whitespace.
pub const MAX_INLINE_POLICY_SIZE: usize = 10_240;
/// The session length of a role created without one.
pub const DEFAULT_MAX_SESSION_DURATION: u32 = 3600;

#[derive(Debug, Default, Clone)]
pub struct Role {
    pub state: Option<RoleState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleState {
    pub name: String,
    pub role_id: String,
    pub path: String,
    pub arn: String,
    pub trust_policy: String,
    pub description: String,
    pub max_session_duration: u32,
    pub tags: HashMap<String, String>,
    pub created_ms: i64,
    /// Inline policies by name, in IAM's listing order.
    pub policies: BTreeMap<String, String>,
}

pub enum RoleCommand {
    /// Creates the role the event describes (its id and ARN chosen by the caller).
    Create(IamRoleCreated),
    UpdateTrustPolicy {
        role_name: String,
        document: String,
    },
    PutPolicy {
        role_name: String,
        policy_name: String,
        document: String,
    },
    DeletePolicy {
        role_name: String,
        policy_name: String,
    },
    Delete {
        role_name: String,
    },
}

pub fn role_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{name}")
}

pub fn role_not_found(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEntity,
        format!("The role with name {name} cannot be found."),
    )
}

pub fn role_policy_not_found(policy_name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEntity,
        format!("The role policy with name {policy_name} cannot be found."),
    )
}

fn validate_new(role: &IamRoleCreated) -> Result<(), ApiError> {
    validate::name(&role.role_name, "roleName", 64)?;
    validate::path(&role.path)?;
    validate::description(&role.description)?;
    validate::max_session_duration(role.max_session_duration)?;
    validate::tags(&role.tags)?;
    validate::trust_policy(
        &role.assume_role_policy_document,
        "assumeRolePolicyDocument",
    )
}

impl RoleState {
    fn put_policy(&self, policy_name: &str, document: &str) -> Result<Vec<Event>, ApiError> {
        validate::name(policy_name, "policyName", 128)?;
        validate::permission_policy(document)?;
        if self
            .policies
            .get(policy_name)
            .is_some_and(|d| d == document)
        {
            return Ok(vec![]);
        }
        let others: usize = self
            .policies
            .iter()
            .filter(|(name, _)| name.as_str() != policy_name)
            .map(|(_, d)| validate::policy_size(d))
            .sum();
        if others + validate::policy_size(document) > MAX_INLINE_POLICY_SIZE {
            return Err(ApiError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "Maximum policy size of {MAX_INLINE_POLICY_SIZE} bytes exceeded for role {}",
                    self.name
                ),
            ));
        }
        Ok(vec![Event::IamRolePolicyPut(IamRolePolicyPut {
            role_name: self.name.clone(),
            policy_name: policy_name.to_owned(),
            policy_document: document.to_owned(),
        })])
    }
}

impl Aggregate for Role {
    const KIND: &'static str = "role";
    type Command = RoleCommand;

    fn decide(&self, command: &RoleCommand, _ctx: &Ctx) -> Result<Vec<Event>, ApiError> {
        let state = match (command, &self.state) {
            (RoleCommand::Create(role), None) => {
                validate_new(role)?;
                return Ok(vec![Event::IamRoleCreated(role.clone())]);
            }
            (RoleCommand::Create(role), Some(_)) => {
                return Err(ApiError::new(
                    ErrorCode::EntityAlreadyExists,
                    format!("Role with name {} already exists.", role.role_name),
                ));
            }
            (
                RoleCommand::UpdateTrustPolicy { role_name, .. }
                | RoleCommand::PutPolicy { role_name, .. }
                | RoleCommand::DeletePolicy { role_name, .. }
                | RoleCommand::Delete { role_name },
                None,
            ) => return Err(role_not_found(role_name)),
            (_, Some(state)) => state,
        };
        match command {
            RoleCommand::Create(_) => Ok(vec![]),
            RoleCommand::UpdateTrustPolicy { document, .. } => {
                validate::trust_policy(document, "policyDocument")?;
                Ok(vec![Event::IamRoleTrustPolicyUpdated(
                    IamRoleTrustPolicyUpdated {
                        role_name: state.name.clone(),
                        assume_role_policy_document: document.clone(),
                    },
                )])
            }
            RoleCommand::PutPolicy {
                policy_name,
                document,
                ..
            } => state.put_policy(policy_name, document),
            RoleCommand::DeletePolicy { policy_name, .. } => {
                validate::name(policy_name, "policyName", 128)?;
                if !state.policies.contains_key(policy_name) {
                    return Err(role_policy_not_found(policy_name));
                }
                Ok(vec![Event::IamRolePolicyDeleted(IamRolePolicyDeleted {
                    role_name: state.name.clone(),
                    policy_name: policy_name.clone(),
                })])
            }
            RoleCommand::Delete { .. } => {
                if !state.policies.is_empty() {
                    return Err(ApiError::new(
                        ErrorCode::DeleteConflict,
                        "Cannot delete entity, must delete policies first.",
                    ));
                }
                Ok(vec![Event::IamRoleDeleted(IamRoleDeleted {
                    role_name: state.name.clone(),
                })])
            }
        }
    }

    fn evolve(&mut self, event: &Event, at_ms: i64) {
        match event {
            Event::IamRoleCreated(created) => {
                self.state = Some(RoleState {
                    name: created.role_name.clone(),
                    role_id: created.role_id.clone(),
                    path: created.path.clone(),
                    arn: created.arn.clone(),
                    trust_policy: created.assume_role_policy_document.clone(),
                    description: created.description.clone(),
                    max_session_duration: created.max_session_duration,
                    tags: created.tags.clone(),
                    created_ms: at_ms,
                    policies: BTreeMap::new(),
                });
            }
            Event::IamRoleTrustPolicyUpdated(updated) => {
                if let Some(state) = &mut self.state {
                    state
                        .trust_policy
                        .clone_from(&updated.assume_role_policy_document);
                }
            }
            Event::IamRolePolicyPut(put) => {
                if let Some(state) = &mut self.state {
                    state
                        .policies
                        .insert(put.policy_name.clone(), put.policy_document.clone());
                }
            }
            Event::IamRolePolicyDeleted(deleted) => {
                if let Some(state) = &mut self.state {
                    state.policies.remove(&deleted.policy_name);
                }
            }
            Event::IamRoleDeleted(_) => self.state = None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_aggregate::given;

    const CTX: Ctx = Ctx { now_ms: 1 };
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
    const ALLOW_S3: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

    fn create(name: &str) -> RoleCommand {
        RoleCommand::Create(IamRoleCreated {
            role_name: name.into(),
            role_id: "AROAABCDEFGHIJKLMNOPQ".into(),
            path: "/app/".into(),
            arn: role_arn("000000000000", "/app/", name),
            assume_role_policy_document: TRUST.into(),
            description: "reads things".into(),
            max_session_duration: DEFAULT_MAX_SESSION_DURATION,
            tags: HashMap::new(),
        })
    }

    fn put(policy_name: &str, document: &str) -> RoleCommand {
        RoleCommand::PutPolicy {
            role_name: "Reader".into(),
            policy_name: policy_name.into(),
            document: document.into(),
        }
    }

    fn then(events: &[Event], command: RoleCommand) -> Result<Vec<Event>, ApiError> {
        given::<Role>(events).decide(&command, &CTX)
    }

    #[test]
    fn a_created_role_has_its_arn_and_cannot_be_created_twice() {
        let events = then(&[], create("Reader")).unwrap();
        let state = given::<Role>(&events).state.unwrap();
        assert_eq!(state.arn, "arn:aws:iam::000000000000:role/app/Reader");
        assert_eq!(state.trust_policy, TRUST);
        assert_eq!(state.created_ms, 1_000);
        let err = then(&events, create("Reader")).unwrap_err();
        assert_eq!(err.code, ErrorCode::EntityAlreadyExists);
        assert_eq!(err.message, "Role with name Reader already exists.");
    }

    #[test]
    fn creation_is_validated_as_iam_does() {
        let err = then(&[], create("bad name")).unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationError);
        let RoleCommand::Create(mut role) = create("Reader") else {
            unreachable!()
        };
        role.assume_role_policy_document = "{".into();
        let err = then(&[], RoleCommand::Create(role)).unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedPolicyDocument);
    }

    #[test]
    fn commands_on_a_missing_role_name_it() {
        let err = then(&[], put("p", ALLOW_S3)).unwrap_err();
        assert_eq!(err.code, ErrorCode::NoSuchEntity);
        assert_eq!(err.message, "The role with name Reader cannot be found.");
    }

    #[test]
    fn inline_policies_are_put_replaced_and_deleted() {
        let mut events = then(&[], create("Reader")).unwrap();
        events.extend(then(&events, put("read", ALLOW_S3)).unwrap());
        assert!(then(&events, put("read", ALLOW_S3)).unwrap().is_empty());
        let err = then(&events, put("bad", "{\"Statement\": 3}")).unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedPolicyDocument);
        let state = given::<Role>(&events).state.unwrap();
        assert_eq!(
            state.policies.get("read").map(String::as_str),
            Some(ALLOW_S3)
        );

        let delete_role = RoleCommand::Delete {
            role_name: "Reader".into(),
        };
        let err = then(&events, delete_role).unwrap_err();
        assert_eq!(err.code, ErrorCode::DeleteConflict);

        let delete_missing = RoleCommand::DeletePolicy {
            role_name: "Reader".into(),
            policy_name: "write".into(),
        };
        let err = then(&events, delete_missing).unwrap_err();
        assert_eq!(
            err.message,
            "The role policy with name write cannot be found."
        );
        let delete_policy = RoleCommand::DeletePolicy {
            role_name: "Reader".into(),
            policy_name: "read".into(),
        };
        events.extend(then(&events, delete_policy).unwrap());
        let delete_role = RoleCommand::Delete {
            role_name: "Reader".into(),
        };
        events.extend(then(&events, delete_role).unwrap());
        assert!(given::<Role>(&events).state.is_none());
    }

    #[test]
    fn inline_policies_share_one_size_quota() {
        let mut events = then(&[], create("Reader")).unwrap();
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
            "a".repeat(6000)
        );
        events.extend(then(&events, put("one", &big)).unwrap());
        let err = then(&events, put("two", &big)).unwrap_err();
        assert_eq!(err.code, ErrorCode::LimitExceeded);
        // Replacing the one policy counts it once.
        assert!(then(&events, put("one", &big.replace("GetObject", "PutObject"))).is_ok());
    }

    #[test]
    fn the_trust_policy_is_replaced() {
        let mut events = then(&[], create("Reader")).unwrap();
        let update = RoleCommand::UpdateTrustPolicy {
            role_name: "Reader".into(),
            document: TRUST.replace("sts:AssumeRoleWithWebIdentity", "sts:AssumeRole"),
        };
        events.extend(then(&events, update).unwrap());
        let state = given::<Role>(&events).state.unwrap();
        assert!(state.trust_policy.contains("sts:AssumeRole"));
    }
}
