//! User pool domains: CreateUserPoolDomain, DescribeUserPoolDomain,
//! UpdateUserPoolDomain, DeleteUserPoolDomain.
//!
//! Every domain is served by this server: a custom domain by its Host header, a prefix
//! domain by a Host whose first label is the prefix (or the path-based form), so the
//! "CloudFront distribution" a domain points at is this server's public host.

use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as dir;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::caller;
use super::shapes::{compact, parse, required};
use crate::AppState;

/// Cognito's account id in answers: Portcullis has no AWS accounts.
use portcullis_types::ACCOUNT_ID;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CustomDomainConfig {
    certificate_arn: Option<String>,
    security_policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DomainRequest {
    domain: Option<String>,
    user_pool_id: Option<String>,
    managed_login_version: Option<i32>,
    custom_domain_config: Option<CustomDomainConfig>,
}

impl DomainRequest {
    fn ids(&mut self) -> Result<(String, String), ApiError> {
        Ok((
            required(self.user_pool_id.take(), "userPoolId")?,
            required(self.domain.take(), "domain")?,
        ))
    }

    /// The certificate ARN and security policy of a custom domain's configuration.
    fn custom(&mut self) -> Result<(Option<String>, Option<String>), ApiError> {
        match self.custom_domain_config.take() {
            Some(config) => Ok((
                Some(required(
                    config.certificate_arn,
                    "customDomainConfig.certificateArn",
                )?),
                config.security_policy,
            )),
            None => Ok((None, None)),
        }
    }
}

/// The host every domain is served at: the public URL's host name.
fn served_host(state: &AppState) -> String {
    let base = &state.public_base_url;
    let authority = base
        .split_once("://")
        .map_or(base.as_str(), |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or_default();
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_owned(),
        _ => authority.to_owned(),
    }
}

/// Create's and Update's answer.
fn change_out(state: &AppState, described: &dir::UserPoolDomainDescription) -> Value {
    let domain = described.domain.clone().unwrap_or_default();
    compact(json!({
        "ManagedLoginVersion": domain.managed_login_version,
        "CloudFrontDomain": domain.custom.then(|| served_host(state)),
    }))
}

pub async fn create_user_pool_domain(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut req: DomainRequest = parse(call.body)?;
    let (pool_id, domain) = req.ids()?;
    let (certificate_arn, security_policy) = req.custom()?;
    let request = dir::CreateUserPoolDomainRequest {
        caller: Some(caller),
        pool_id,
        domain,
        certificate_arn,
        security_policy: security_policy.unwrap_or_default(),
        managed_login_version: req.managed_login_version,
    };
    let created = state
        .directory
        .clone()
        .create_user_pool_domain(request)
        .await?
        .into_inner();
    Ok(change_out(state, &created))
}

pub async fn describe_user_pool_domain(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let mut req: DomainRequest = parse(call.body)?;
    let domain = required(req.domain.take(), "domain")?;
    let described = state
        .directory
        .clone()
        .describe_user_pool_domain(dir::DescribeUserPoolDomainRequest { domain })
        .await?
        .into_inner();
    let Some(domain) = described.domain.filter(|_| described.found) else {
        // Cognito describes an unknown domain as an empty description.
        return Ok(json!({ "DomainDescription": {} }));
    };
    let custom = domain.custom.then(|| {
        compact(json!({
            "CertificateArn": domain.certificate_arn,
            "SecurityPolicy": Some(&domain.security_policy).filter(|p| !p.is_empty()),
        }))
    });
    Ok(json!({ "DomainDescription": compact(json!({
        "UserPoolId": domain.pool_id,
        "AWSAccountId": ACCOUNT_ID,
        "Domain": domain.domain,
        "CloudFrontDistribution": served_host(state),
        "Version": described.version.to_string(),
        "Status": "ACTIVE",
        "CustomDomainConfig": custom,
        "ManagedLoginVersion": domain.managed_login_version,
    })) }))
}

pub async fn update_user_pool_domain(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut req: DomainRequest = parse(call.body)?;
    let (pool_id, domain) = req.ids()?;
    let (certificate_arn, security_policy) = req.custom()?;
    let request = dir::UpdateUserPoolDomainRequest {
        caller: Some(caller),
        pool_id,
        domain,
        certificate_arn,
        security_policy,
        managed_login_version: req.managed_login_version,
    };
    let updated = state
        .directory
        .clone()
        .update_user_pool_domain(request)
        .await?
        .into_inner();
    Ok(change_out(state, &updated))
}

pub async fn delete_user_pool_domain(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let mut req: DomainRequest = parse(call.body)?;
    let (pool_id, domain) = req.ids()?;
    let request = dir::DeleteUserPoolDomainRequest {
        caller: Some(caller),
        pool_id,
        domain,
    };
    state
        .directory
        .clone()
        .delete_user_pool_domain(request)
        .await?;
    Ok(json!({}))
}
