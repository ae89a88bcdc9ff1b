//! IAM's actions: roles, their policies, and OpenID Connect and SAML providers, over
//! the credentials broker's `Iam` service.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::credentials::v1 as pb;

use super::xml::{Xml, url_encode};
use super::{Answer, Request, iso8601};

/// A role's members, as `Role` and as each member of `Roles` hold them.
fn role_fields(xml: &mut Xml, role: &pb::Role) {
    xml.text("Path", &role.path)
        .text("RoleName", &role.role_name)
        .text("RoleId", &role.role_id)
        .text("Arn", &role.arn)
        .text("CreateDate", &iso8601(role.create_date_ms / 1000))
        .text(
            "AssumeRolePolicyDocument",
            &url_encode(&role.assume_role_policy_document),
        )
        .optional("Description", &role.description)
        .text("MaxSessionDuration", &role.max_session_duration.to_string());
    if !role.tags.is_empty() {
        xml.tags(&role.tags);
    }
}

/// `IsTruncated` and, when truncated, `Marker`.
fn truncation(xml: &mut Xml, marker: &str) {
    xml.text(
        "IsTruncated",
        if marker.is_empty() { "false" } else { "true" },
    )
    .optional("Marker", marker);
}

fn one_role(role: &pb::Role) -> Answer {
    let mut xml = Xml::new();
    xml.open("Role");
    role_fields(&mut xml, role);
    xml.close("Role");
    Ok(Some(xml))
}

pub async fn run(action: &str, req: Request<'_>) -> Answer {
    let mut iam = req.state.iam.clone();
    let p = &req.params;
    match action {
        "CreateRole" => {
            let request = pb::CreateRoleRequest {
                caller: Some(req.caller()),
                role_name: p.required("RoleName")?.to_owned(),
                path: p.get("Path").unwrap_or_default().to_owned(),
                assume_role_policy_document: p.required("AssumeRolePolicyDocument")?.to_owned(),
                description: p.get("Description").unwrap_or_default().to_owned(),
                max_session_duration: p.number("MaxSessionDuration")?.unwrap_or(0),
                tags: p.tags("Tags"),
            };
            if request.max_session_duration == 0 && p.get("MaxSessionDuration").is_some() {
                return Err(ApiError::new(
                    ErrorCode::ValidationError,
                    "1 validation error detected: Value '0' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600",
                ));
            }
            one_role(&iam.create_role(request).await?.into_inner())
        }
        "GetRole" => {
            let request = pb::RoleName {
                caller: Some(req.caller()),
                role_name: p.required("RoleName")?.to_owned(),
            };
            one_role(&iam.get_role(request).await?.into_inner())
        }
        "ListRoles" => {
            let request = pb::ListRolesRequest {
                path_prefix: p.get("PathPrefix").unwrap_or_default().to_owned(),
                marker: p.get("Marker").unwrap_or_default().to_owned(),
                max_items: max_items(p)?,
            };
            let listed = iam.list_roles(request).await?.into_inner();
            let mut xml = Xml::new();
            xml.members("Roles", &listed.roles, role_fields);
            truncation(&mut xml, &listed.marker);
            Ok(Some(xml))
        }
        "DeleteRole" => {
            let request = pb::RoleName {
                caller: Some(req.caller()),
                role_name: p.required("RoleName")?.to_owned(),
            };
            iam.delete_role(request).await?;
            Ok(None)
        }
        "UpdateAssumeRolePolicy" => {
            let request = pb::UpdateAssumeRolePolicyRequest {
                caller: Some(req.caller()),
                role_name: p.required("RoleName")?.to_owned(),
                policy_document: p.required("PolicyDocument")?.to_owned(),
            };
            iam.update_assume_role_policy(request).await?;
            Ok(None)
        }
        "PutRolePolicy" => {
            let request = pb::RolePolicy {
                caller: Some(req.caller()),
                role_name: p.required("RoleName")?.to_owned(),
                policy_name: p.required("PolicyName")?.to_owned(),
                policy_document: p.required("PolicyDocument")?.to_owned(),
            };
            iam.put_role_policy(request).await?;
            Ok(None)
        }
        "GetRolePolicy" => {
            let policy = iam.get_role_policy(policy_name(&req)?).await?.into_inner();
            let mut xml = Xml::new();
            xml.text("RoleName", &policy.role_name)
                .text("PolicyName", &policy.policy_name)
                .text("PolicyDocument", &url_encode(&policy.policy_document));
            Ok(Some(xml))
        }
        "ListRolePolicies" => {
            let request = pb::ListRolePoliciesRequest {
                role_name: p.required("RoleName")?.to_owned(),
                marker: p.get("Marker").unwrap_or_default().to_owned(),
                max_items: max_items(p)?,
            };
            let listed = iam.list_role_policies(request).await?.into_inner();
            let mut xml = Xml::new();
            xml.members("PolicyNames", &listed.policy_names, |xml, name| {
                xml.content(name);
            });
            truncation(&mut xml, &listed.marker);
            Ok(Some(xml))
        }
        "DeleteRolePolicy" => {
            iam.delete_role_policy(policy_name(&req)?).await?;
            Ok(None)
        }
        _ => super::iam_providers::run(action, req).await,
    }
}

fn policy_name(req: &Request<'_>) -> Result<pb::RolePolicyName, ApiError> {
    Ok(pb::RolePolicyName {
        caller: Some(req.caller()),
        role_name: req.params.required("RoleName")?.to_owned(),
        policy_name: req.params.required("PolicyName")?.to_owned(),
    })
}

/// `MaxItems`, 0 when left out (the service's default).
fn max_items(p: &super::Params) -> Result<u32, ApiError> {
    match p.number("MaxItems")? {
        Some(0) => Err(ApiError::new(
            ErrorCode::ValidationError,
            "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1",
        )),
        n => Ok(n.unwrap_or(0)),
    }
}
