//! One function per implemented `wafv2` operation: typed request -> directory ->
//! response JSON, with WAF's errors.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::directory::v1 as dir;
use portcullis_types::ACCOUNT_ID;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::cognito::Call;
use crate::cognito::ops::caller;
use crate::cognito::shapes::{compact, parse};

const IP_SET: &str = "ipset";
const WEB_ACL: &str = "webacl";

operations! { state, call;
    "CreateIPSet" => create_ip_set(state, call),
    "GetIPSet" => get_ip_set(state, call),
    "UpdateIPSet" => update_ip_set(state, call),
    "DeleteIPSet" => delete_resource(state, call, IP_SET),
    "ListIPSets" => list_resources(state, call, IP_SET),
    "CreateWebACL" => create_web_acl(state, call),
    "GetWebACL" => get_web_acl(state, call),
    "UpdateWebACL" => update_web_acl(state, call),
    "DeleteWebACL" => delete_resource(state, call, WEB_ACL),
    "ListWebACLs" => list_resources(state, call, WEB_ACL),
    "AssociateWebACL" => associate_web_acl(state, call),
    "DisassociateWebACL" => disassociate_web_acl(state, call),
    "GetWebACLForResource" => get_web_acl_for_resource(state, call),
}

/// `WAFInvalidParameterException` as WAF words it.
fn invalid(field: &str, parameter: &str, reason: &str) -> ApiError {
    ApiError::new(
        ErrorCode::WAFInvalidParameterException,
        format!("Error reason: {reason}, field: {field}, parameter: {parameter}"),
    )
}

/// `WAFNonexistentItemException`, in WAF's words.
fn nonexistent() -> ApiError {
    ApiError::new(
        ErrorCode::WAFNonexistentItemException,
        "AWS WAF couldn\u{2019}t perform the operation because your resource doesn\u{2019}t exist.",
    )
}

fn rule_error(err: &portcullis_waf::InvalidParameter) -> ApiError {
    ApiError::new(ErrorCode::WAFInvalidParameterException, err.to_string())
}

fn required<T>(value: Option<T>, field: &str, parameter: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| invalid(field, parameter, "A required parameter is missing."))
}

fn check_scope(scope: Option<&str>) -> Result<(), ApiError> {
    match scope {
        Some("REGIONAL") => Ok(()),
        Some(other) => Err(invalid(
            "SCOPE_VALUE",
            other,
            "Portcullis serves REGIONAL web ACLs only (user pools are regional).",
        )),
        None => Err(invalid(
            "SCOPE_VALUE",
            "Scope",
            "A required parameter is missing.",
        )),
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        return Ok(());
    }
    Err(invalid(
        "NAME",
        name,
        "The parameter contains formatting that is not valid.",
    ))
}

fn check_description(description: Option<&String>) -> Result<(), ApiError> {
    match description {
        Some(d) if d.is_empty() || d.len() > 256 => Err(invalid(
            "DESCRIPTION",
            d,
            "The parameter contains formatting that is not valid.",
        )),
        _ => Ok(()),
    }
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if uuid::Uuid::parse_str(id).is_ok() && id.len() == 36 {
        return Ok(());
    }
    Err(invalid(
        "RESOURCE_ID",
        id,
        "The parameter contains formatting that is not valid.",
    ))
}

pub(crate) fn arn(region: &str, kind: &str, name: &str, id: &str) -> String {
    format!("arn:aws:wafv2:{region}:{ACCOUNT_ID}:regional/{kind}/{name}/{id}")
}

/// `(region, kind, name, id)` of a WAF resource's ARN.
pub(crate) fn parse_arn(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:wafv2:")?;
    let (region, rest) = rest.split_once(':')?;
    let (_account, rest) = rest.split_once(':')?;
    let mut parts = rest.split('/');
    let (scope, kind, name, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (scope == "regional" && parts.next().is_none()).then_some((region, kind, name, id))
}

/// The pool of a user pool's ARN in `region`.
fn pool_of_arn<'a>(arn: &'a str, region: &str) -> Result<&'a str, ApiError> {
    let bad = || {
        invalid(
            "RESOURCE_ARN",
            arn,
            "The ARN isn't a user pool's ARN in this region.",
        )
    };
    let rest = arn.strip_prefix("arn:aws:cognito-idp:").ok_or_else(bad)?;
    let (arn_region, rest) = rest.split_once(':').ok_or_else(bad)?;
    let (_account, rest) = rest.split_once(':').ok_or_else(bad)?;
    let pool = rest.strip_prefix("userpool/").ok_or_else(bad)?;
    if arn_region != region || pool.is_empty() {
        return Err(bad());
    }
    Ok(pool)
}

fn summary(resource: &dir::WafResource) -> Value {
    compact(json!({
        "Name": resource.name,
        "Id": resource.id,
        "Description": Some(&resource.description).filter(|d| !d.is_empty()),
        "LockToken": resource.lock_token,
        "ARN": arn(&resource.region, &resource.kind, &resource.name, &resource.id),
    }))
}

fn document(resource: &dir::WafResource) -> serde_json::Map<String, Value> {
    serde_json::from_str::<Value>(&resource.document)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceRef {
    name: Option<String>,
    scope: Option<String>,
    id: Option<String>,
    lock_token: Option<String>,
}

impl ResourceRef {
    fn resolve(
        self,
        call: &Call,
        kind: &str,
    ) -> Result<(dir::WafResourceRef, Option<String>), ApiError> {
        check_scope(self.scope.as_deref())?;
        let name = required(self.name, "NAME", "Name")?;
        let id = required(self.id, "RESOURCE_ID", "Id")?;
        check_name(&name)?;
        check_id(&id)?;
        Ok((
            dir::WafResourceRef {
                region: call.region.clone(),
                kind: kind.to_owned(),
                id,
                name,
            },
            self.lock_token,
        ))
    }
}

async fn get(state: &AppState, r: dir::WafResourceRef) -> Result<dir::WafResource, ApiError> {
    Ok(state
        .directory
        .clone()
        .get_waf_resource(r)
        .await?
        .into_inner())
}

async fn put(
    state: &AppState,
    request: dir::PutWafResourceRequest,
) -> Result<dir::WafResource, ApiError> {
    Ok(state
        .directory
        .clone()
        .put_waf_resource(request)
        .await?
        .into_inner())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpSetIn {
    name: Option<String>,
    scope: Option<String>,
    id: Option<String>,
    description: Option<String>,
    #[serde(rename = "IPAddressVersion")]
    ip_address_version: Option<String>,
    addresses: Option<Vec<String>>,
    lock_token: Option<String>,
    tags: Option<Value>,
}

async fn create_ip_set(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: IpSetIn = parse(call.body.clone())?;
    check_scope(req.scope.as_deref())?;
    let name = required(req.name, "NAME", "Name")?;
    check_name(&name)?;
    check_description(req.description.as_ref())?;
    if req.tags.as_ref().is_some_and(|t| !t.is_null()) {
        return Err(invalid(
            "TAGS",
            "Tags",
            "Portcullis does not keep tags on WAF resources.",
        ));
    }
    let version = required(
        req.ip_address_version,
        "IP_ADDRESS_VERSION",
        "IPAddressVersion",
    )?;
    let addresses = required(req.addresses, "IP_ADDRESS", "Addresses")?;
    portcullis_waf::parse_addresses(&version, &addresses).map_err(|e| rule_error(&e))?;
    let created = put(
        state,
        dir::PutWafResourceRequest {
            caller: Some(caller(&call)),
            region: call.region.clone(),
            kind: IP_SET.to_owned(),
            name,
            description: req.description.unwrap_or_default(),
            document: json!({"IPAddressVersion": version, "Addresses": addresses}).to_string(),
            ..Default::default()
        },
    )
    .await?;
    Ok(json!({ "Summary": summary(&created) }))
}

async fn get_ip_set(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let (r, _) = parse::<ResourceRef>(call.body.clone())?.resolve(&call, IP_SET)?;
    let found = get(state, r).await?;
    let doc = document(&found);
    Ok(json!({
        "IPSet": compact(json!({
            "Name": found.name,
            "Id": found.id,
            "ARN": arn(&found.region, IP_SET, &found.name, &found.id),
            "Description": Some(&found.description).filter(|d| !d.is_empty()),
            "IPAddressVersion": doc.get("IPAddressVersion"),
            "Addresses": doc.get("Addresses"),
        })),
        "LockToken": found.lock_token,
    }))
}

async fn update_ip_set(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: IpSetIn = parse(call.body.clone())?;
    let r = ResourceRef {
        name: req.name,
        scope: req.scope,
        id: req.id,
        lock_token: req.lock_token,
    };
    let (r, lock) = r.resolve(&call, IP_SET)?;
    let lock = required(lock, "LOCK_TOKEN", "LockToken")?;
    check_description(req.description.as_ref())?;
    let addresses = required(req.addresses, "IP_ADDRESS", "Addresses")?;
    let current = get(state, r.clone()).await?;
    let version = document(&current)
        .get("IPAddressVersion")
        .and_then(Value::as_str)
        .unwrap_or("IPV4")
        .to_owned();
    portcullis_waf::parse_addresses(&version, &addresses).map_err(|e| rule_error(&e))?;
    let updated = put(
        state,
        dir::PutWafResourceRequest {
            caller: Some(caller(&call)),
            region: r.region,
            kind: IP_SET.to_owned(),
            id: r.id,
            name: r.name,
            description: req.description.unwrap_or_default(),
            document: json!({"IPAddressVersion": version, "Addresses": addresses}).to_string(),
            lock_token: lock,
            ip_set_ids: Vec::new(),
        },
    )
    .await?;
    Ok(json!({ "NextLockToken": updated.lock_token }))
}

async fn delete_resource(state: &AppState, call: Call, kind: &str) -> Result<Value, ApiError> {
    let (r, lock) = parse::<ResourceRef>(call.body.clone())?.resolve(&call, kind)?;
    let lock = required(lock, "LOCK_TOKEN", "LockToken")?;
    state
        .directory
        .clone()
        .delete_waf_resource(dir::DeleteWafResourceRequest {
            caller: Some(caller(&call)),
            resource: Some(r),
            lock_token: lock,
        })
        .await?;
    Ok(json!({}))
}

async fn list_resources(state: &AppState, call: Call, kind: &str) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        scope: Option<String>,
        next_marker: Option<String>,
        limit: Option<i64>,
    }
    let req: Req = parse(call.body.clone())?;
    check_scope(req.scope.as_deref())?;
    let limit = req.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(invalid(
            "LIMIT",
            &limit.to_string(),
            "The value is outside the allowed range.",
        ));
    }
    let answer = state
        .directory
        .clone()
        .list_waf_resources(dir::ListWafResourcesRequest {
            region: call.region.clone(),
            kind: kind.to_owned(),
            limit: u32::try_from(limit).unwrap_or(100),
            next_marker: req.next_marker.unwrap_or_default(),
        })
        .await?
        .into_inner();
    let list: Vec<Value> = answer.resources.iter().map(summary).collect();
    let member = if kind == IP_SET { "IPSets" } else { "WebACLs" };
    let mut out = serde_json::Map::new();
    out.insert(member.to_owned(), Value::Array(list));
    if !answer.next_marker.is_empty() {
        out.insert("NextMarker".to_owned(), Value::String(answer.next_marker));
    }
    Ok(Value::Object(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WebAclIn {
    name: Option<String>,
    scope: Option<String>,
    id: Option<String>,
    description: Option<String>,
    default_action: Option<Value>,
    rules: Option<Value>,
    visibility_config: Option<Value>,
    lock_token: Option<String>,
    tags: Option<Value>,
    data_protection_config: Option<Value>,
    custom_response_bodies: Option<Value>,
    captcha_config: Option<Value>,
    challenge_config: Option<Value>,
    token_domains: Option<Value>,
    association_config: Option<Value>,
}

impl WebAclIn {
    /// The checked document and the ids of the IP sets its rules name.
    fn document(&self, region: &str) -> Result<(String, Vec<String>), ApiError> {
        let unsupported = [
            ("TAGS", &self.tags),
            ("DATA_PROTECTION_CONFIG", &self.data_protection_config),
            ("CUSTOM_RESPONSE_BODIES", &self.custom_response_bodies),
            ("CAPTCHA_CONFIG", &self.captcha_config),
            ("CHALLENGE_CONFIG", &self.challenge_config),
            ("TOKEN_DOMAINS", &self.token_domains),
            ("ASSOCIATION_CONFIG", &self.association_config),
        ];
        for (field, value) in unsupported {
            if value.as_ref().is_some_and(|v| !v.is_null()) {
                return Err(invalid(
                    field,
                    field,
                    "Portcullis does not enforce this setting.",
                ));
            }
        }
        let default_action = required(
            self.default_action.clone(),
            "DEFAULT_ACTION",
            "DefaultAction",
        )?;
        let visibility = required(
            self.visibility_config.clone(),
            "VISIBILITY_CONFIG",
            "VisibilityConfig",
        )?;
        let acl = portcullis_waf::parse_web_acl(&default_action, self.rules.as_ref())
            .map_err(|e| rule_error(&e))?;
        let mut ip_set_ids = Vec::new();
        for set in acl.ip_sets() {
            let Some((set_region, IP_SET, _, id)) = parse_arn(set) else {
                return Err(nonexistent());
            };
            if set_region != region {
                return Err(invalid(
                    "IP_SET_REFERENCE_STATEMENT",
                    set,
                    "The IP set is in another region.",
                ));
            }
            if !ip_set_ids.iter().any(|known| known == id) {
                ip_set_ids.push(id.to_owned());
            }
        }
        let document = json!({
            "DefaultAction": default_action,
            "Rules": self.rules.clone().unwrap_or_else(|| json!([])),
            "VisibilityConfig": visibility,
        });
        Ok((document.to_string(), ip_set_ids))
    }
}

async fn create_web_acl(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: WebAclIn = parse(call.body.clone())?;
    check_scope(req.scope.as_deref())?;
    let name = required(req.name.clone(), "NAME", "Name")?;
    check_name(&name)?;
    check_description(req.description.as_ref())?;
    let (document, ip_set_ids) = req.document(&call.region)?;
    let created = put(
        state,
        dir::PutWafResourceRequest {
            caller: Some(caller(&call)),
            region: call.region.clone(),
            kind: WEB_ACL.to_owned(),
            name,
            description: req.description.unwrap_or_default(),
            document,
            ip_set_ids,
            ..Default::default()
        },
    )
    .await?;
    Ok(json!({ "Summary": summary(&created) }))
}

fn web_acl_out(found: &dir::WafResource) -> Value {
    let doc = document(found);
    compact(json!({
        "Name": found.name,
        "Id": found.id,
        "ARN": arn(&found.region, WEB_ACL, &found.name, &found.id),
        "DefaultAction": doc.get("DefaultAction"),
        "Description": Some(&found.description).filter(|d| !d.is_empty()),
        "Rules": doc.get("Rules"),
        "VisibilityConfig": doc.get("VisibilityConfig"),
        "ManagedByFirewallManager": false,
        "LabelNamespace": format!("awswaf:{ACCOUNT_ID}:webacl:{}:", found.name),
    }))
}

async fn get_web_acl(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let (r, _) = parse::<ResourceRef>(call.body.clone())?.resolve(&call, WEB_ACL)?;
    let found = get(state, r).await?;
    Ok(json!({ "WebACL": web_acl_out(&found), "LockToken": found.lock_token }))
}

async fn update_web_acl(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: WebAclIn = parse(call.body.clone())?;
    let r = ResourceRef {
        name: req.name.clone(),
        scope: req.scope.clone(),
        id: req.id.clone(),
        lock_token: req.lock_token.clone(),
    };
    let (r, lock) = r.resolve(&call, WEB_ACL)?;
    let lock = required(lock, "LOCK_TOKEN", "LockToken")?;
    check_description(req.description.as_ref())?;
    let (document, ip_set_ids) = req.document(&call.region)?;
    let updated = put(
        state,
        dir::PutWafResourceRequest {
            caller: Some(caller(&call)),
            region: r.region,
            kind: WEB_ACL.to_owned(),
            id: r.id,
            name: r.name,
            description: req.description.unwrap_or_default(),
            document,
            lock_token: lock,
            ip_set_ids,
        },
    )
    .await?;
    Ok(json!({ "NextLockToken": updated.lock_token }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociationIn {
    #[serde(rename = "WebACLArn")]
    web_acl_arn: Option<String>,
    resource_arn: Option<String>,
}

async fn associate_web_acl(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: AssociationIn = parse(call.body.clone())?;
    let acl_arn = required(req.web_acl_arn, "RESOURCE_ARN", "WebACLArn")?;
    let resource = required(req.resource_arn, "RESOURCE_ARN", "ResourceArn")?;
    let pool = pool_of_arn(&resource, &call.region)?;
    let Some((region, WEB_ACL, _, id)) = parse_arn(&acl_arn) else {
        return Err(invalid(
            "RESOURCE_ARN",
            &acl_arn,
            "The ARN isn't a web ACL's ARN.",
        ));
    };
    if region != call.region {
        return Err(invalid(
            "RESOURCE_ARN",
            &acl_arn,
            "The web ACL is in another region.",
        ));
    }
    state
        .directory
        .clone()
        .set_web_acl_association(dir::SetWebAclAssociationRequest {
            caller: Some(caller(&call)),
            pool_id: pool.to_owned(),
            web_acl_id: id.to_owned(),
            web_acl_region: region.to_owned(),
        })
        .await?;
    Ok(json!({}))
}

async fn disassociate_web_acl(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: AssociationIn = parse(call.body.clone())?;
    let resource = required(req.resource_arn, "RESOURCE_ARN", "ResourceArn")?;
    let pool = pool_of_arn(&resource, &call.region)?;
    state
        .directory
        .clone()
        .set_web_acl_association(dir::SetWebAclAssociationRequest {
            caller: Some(caller(&call)),
            pool_id: pool.to_owned(),
            web_acl_id: String::new(),
            web_acl_region: String::new(),
        })
        .await?;
    Ok(json!({}))
}

async fn get_web_acl_for_resource(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: AssociationIn = parse(call.body.clone())?;
    let resource = required(req.resource_arn, "RESOURCE_ARN", "ResourceArn")?;
    let pool = pool_of_arn(&resource, &call.region)?;
    let mut directory = state.directory.clone();
    directory
        .describe_user_pool(dir::DescribeUserPoolRequest {
            pool_id: pool.to_owned(),
        })
        .await
        .map_err(|_| nonexistent())?;
    let association = directory
        .get_web_acl_association(dir::GetWebAclAssociationRequest {
            pool_id: pool.to_owned(),
        })
        .await?
        .into_inner();
    if association.web_acl_id.is_empty() {
        return Ok(json!({}));
    }
    let found = get(
        state,
        dir::WafResourceRef {
            region: association.web_acl_region,
            kind: WEB_ACL.to_owned(),
            id: association.web_acl_id,
            name: String::new(),
        },
    )
    .await?;
    Ok(json!({ "WebACL": web_acl_out(&found) }))
}
