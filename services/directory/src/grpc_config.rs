//! The gRPC adapter of a pool's hosted-UI configuration (issue 5): domains, resource
//! servers, UI customization. Proto <-> application calls, nothing else; `grpc.rs`
//! routes the rpcs here.

use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as pb;
use portcullis_proto::events::v1::ManagedLoginBranding;

use crate::app::Directory;
use crate::app::domains::NewDomain;
use crate::domain::branding::{BrandingCommand, BrandingState};
use crate::domain::pool_domain::{DomainCommand, DomainState};
use crate::domain::resource_server::ResourceServerState;
use crate::domain::risk_configuration::RiskState;
use crate::domain::ui_customization::{ALL, UiCustomizationState};
use crate::grpc::{meta, seconds};

fn domain_message(state: Option<DomainState>) -> pb::UserPoolDomainDescription {
    match state {
        Some(state) => pb::UserPoolDomainDescription {
            found: true,
            domain: Some(state.domain),
            version: state.version,
        },
        None => pb::UserPoolDomainDescription::default(),
    }
}

fn server_message(state: ResourceServerState) -> pb::ResourceServer {
    pb::ResourceServer {
        pool_id: state.pool_id,
        identifier: state.identifier,
        name: state.name,
        scopes: state.scopes,
    }
}

pub async fn create_domain(
    app: &Directory,
    req: pb::CreateUserPoolDomainRequest,
) -> Result<pb::UserPoolDomainDescription, ApiError> {
    let meta = meta(req.caller);
    let new = NewDomain {
        domain: req.domain,
        certificate_arn: req.certificate_arn,
        security_policy: req.security_policy,
        managed_login_version: req.managed_login_version,
    };
    let state = app.create_domain(&req.pool_id, new, &meta).await?;
    Ok(domain_message(Some(state)))
}

pub async fn describe_domain(
    app: &Directory,
    req: pb::DescribeUserPoolDomainRequest,
) -> Result<pb::UserPoolDomainDescription, ApiError> {
    Ok(domain_message(app.describe_domain(&req.domain).await?))
}

pub async fn update_domain(
    app: &Directory,
    req: pb::UpdateUserPoolDomainRequest,
) -> Result<pb::UserPoolDomainDescription, ApiError> {
    let meta = meta(req.caller);
    let command = DomainCommand::Update {
        domain: req.domain,
        certificate_arn: req.certificate_arn,
        security_policy: req.security_policy,
        managed_login_version: req.managed_login_version,
    };
    let state = app.update_domain(&req.pool_id, command, &meta).await?;
    Ok(domain_message(Some(state)))
}

pub async fn delete_domain(
    app: &Directory,
    req: pb::DeleteUserPoolDomainRequest,
) -> Result<pb::DeleteUserPoolDomainResponse, ApiError> {
    let meta = meta(req.caller);
    app.delete_domain(&req.pool_id, &req.domain, &meta).await?;
    Ok(pb::DeleteUserPoolDomainResponse {})
}

pub async fn resolve_domain(
    app: &Directory,
    req: pb::ResolveDomainRequest,
) -> Result<pb::ResolveDomainResponse, ApiError> {
    Ok(match app.resolve_domain(&req.host_or_prefix).await? {
        Some(entry) => pb::ResolveDomainResponse {
            found: true,
            pool_id: entry.pool_id,
            domain: entry.domain,
            custom: entry.custom,
            managed_login_version: entry.managed_login_version,
        },
        None => pb::ResolveDomainResponse::default(),
    })
}

/// The pool's domain and custom domain, for DescribeUserPool.
pub async fn pool_domain_names(
    app: &Directory,
    pool_id: &str,
) -> Result<(String, String), ApiError> {
    let domains = app.pool_domains(pool_id).await?;
    let name = |d: Option<DomainState>| d.map(|d| d.domain.domain).unwrap_or_default();
    Ok((name(domains.prefix), name(domains.custom)))
}

pub async fn create_resource_server(
    app: &Directory,
    req: pb::ResourceServerRequest,
) -> Result<pb::ResourceServer, ApiError> {
    let meta = meta(req.caller);
    let state = app
        .create_resource_server(&req.pool_id, &req.identifier, req.name, req.scopes, &meta)
        .await?;
    Ok(server_message(state))
}

pub async fn describe_resource_server(
    app: &Directory,
    req: pb::ResourceServerRef,
) -> Result<pb::ResourceServer, ApiError> {
    let state = app.resource_server(&req.pool_id, &req.identifier).await?;
    Ok(server_message(state))
}

pub async fn update_resource_server(
    app: &Directory,
    req: pb::ResourceServerRequest,
) -> Result<pb::ResourceServer, ApiError> {
    let meta = meta(req.caller);
    let state = app
        .update_resource_server(&req.pool_id, &req.identifier, req.name, req.scopes, &meta)
        .await?;
    Ok(server_message(state))
}

pub async fn delete_resource_server(
    app: &Directory,
    req: pb::ResourceServerRef,
) -> Result<pb::DeleteResourceServerResponse, ApiError> {
    let meta = meta(req.caller);
    app.delete_resource_server(&req.pool_id, &req.identifier, &meta)
        .await?;
    Ok(pb::DeleteResourceServerResponse {})
}

pub async fn list_resource_servers(
    app: &Directory,
    req: pb::ListResourceServersRequest,
) -> Result<pb::ListResourceServersResponse, ApiError> {
    let token = Some(req.next_token).filter(|t| !t.is_empty());
    let (servers, next) = app
        .list_resource_servers(&req.pool_id, req.max_results, token)
        .await?;
    Ok(pb::ListResourceServersResponse {
        resource_servers: servers.into_iter().map(server_message).collect(),
        next_token: next.unwrap_or_default(),
    })
}

fn customization_message(
    pool_id: &str,
    client_id: &str,
    state: Option<UiCustomizationState>,
) -> pb::UiCustomization {
    let Some(state) = state else {
        return pb::UiCustomization {
            pool_id: pool_id.to_owned(),
            client_id: if client_id.is_empty() { ALL } else { client_id }.to_owned(),
            ..Default::default()
        };
    };
    pb::UiCustomization {
        pool_id: state.pool_id,
        client_id: state.client_id,
        found: true,
        css: state.css,
        css_version: state.version.to_string(),
        has_image: !state.image_type.is_empty(),
        image: state.image,
        image_type: state.image_type,
        creation_date: seconds(state.created_ms),
        last_modified_date: seconds(state.modified_ms),
    }
}

pub async fn set_ui_customization(
    app: &Directory,
    req: pb::SetUiCustomizationRequest,
) -> Result<pb::UiCustomization, ApiError> {
    let meta = meta(req.caller);
    let mut state = app
        .set_ui_customization(&req.pool_id, &req.client_id, req.css, req.image_file, &meta)
        .await?;
    // The answer says whether there is a logo; the logo itself is served apart.
    state.image.clear();
    Ok(customization_message(
        &req.pool_id,
        &req.client_id,
        Some(state),
    ))
}

pub async fn get_ui_customization(
    app: &Directory,
    req: pb::GetUiCustomizationRequest,
) -> Result<pb::UiCustomization, ApiError> {
    let state = app
        .ui_customization(&req.pool_id, &req.client_id, !req.without_image, req.cached)
        .await?;
    Ok(customization_message(&req.pool_id, &req.client_id, state))
}

fn branding_message(state: BrandingState) -> pb::ManagedLoginBrandingDescription {
    pb::ManagedLoginBrandingDescription {
        branding: Some(state.branding),
        creation_date: seconds(state.created_ms),
        last_modified_date: seconds(state.modified_ms),
    }
}

pub async fn create_branding(
    app: &Directory,
    req: pb::ManagedLoginBrandingRequest,
) -> Result<pb::ManagedLoginBrandingDescription, ApiError> {
    let meta = meta(req.caller);
    let branding = ManagedLoginBranding {
        pool_id: req.pool_id,
        client_id: req.client_id,
        branding_id: String::new(),
        use_cognito_provided_values: req.use_cognito_provided_values,
        settings_json: req.settings_json.unwrap_or_default(),
        assets: req.assets,
    };
    Ok(branding_message(
        app.create_branding(branding, &meta).await?,
    ))
}

pub async fn describe_branding(
    app: &Directory,
    req: pb::ManagedLoginBrandingRef,
) -> Result<pb::ManagedLoginBrandingDescription, ApiError> {
    let state = app
        .branding(&req.pool_id, &req.branding_id, &req.client_id)
        .await?;
    Ok(branding_message(state))
}

pub async fn update_branding(
    app: &Directory,
    req: pb::ManagedLoginBrandingRequest,
) -> Result<pb::ManagedLoginBrandingDescription, ApiError> {
    let meta = meta(req.caller);
    let command = BrandingCommand::Update {
        branding_id: req.branding_id.clone(),
        use_cognito_provided_values: req.use_cognito_provided_values,
        settings_json: req.settings_json,
        assets: req.assets_given.then_some(req.assets),
    };
    let state = app
        .change_branding(&req.pool_id, &req.branding_id, command, &meta)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(branding_message(state))
}

pub async fn delete_branding(
    app: &Directory,
    req: pb::ManagedLoginBrandingRef,
) -> Result<pb::DeleteManagedLoginBrandingResponse, ApiError> {
    let meta = meta(req.caller);
    let command = BrandingCommand::Delete {
        branding_id: req.branding_id.clone(),
    };
    app.change_branding(&req.pool_id, &req.branding_id, command, &meta)
        .await?;
    Ok(pb::DeleteManagedLoginBrandingResponse {})
}

fn risk_answer(pool_id: &str, state: Option<RiskState>) -> pb::RiskConfigurationAnswer {
    let Some(state) = state else {
        return pb::RiskConfigurationAnswer {
            pool_id: pool_id.to_owned(),
            ..pb::RiskConfigurationAnswer::default()
        };
    };
    pb::RiskConfigurationAnswer {
        pool_id: state.pool_id,
        client_id: if state.client_id == crate::domain::risk_configuration::ALL {
            String::new()
        } else {
            state.client_id
        },
        configuration: state.configuration,
        last_modified_date: state.modified_ms.div_euclid(1000),
    }
}

pub async fn set_risk_configuration(
    app: &Directory,
    req: pb::SetRiskConfigurationRequest,
) -> Result<pb::RiskConfigurationAnswer, ApiError> {
    let meta = meta(req.caller);
    let state = app
        .set_risk_configuration(&req.pool_id, &req.client_id, req.configuration, &meta)
        .await?;
    Ok(risk_answer(&req.pool_id, Some(state)))
}

pub async fn describe_risk_configuration(
    app: &Directory,
    req: pb::DescribeRiskConfigurationRequest,
) -> Result<pb::RiskConfigurationAnswer, ApiError> {
    let state = app.risk_configuration(&req.pool_id, &req.client_id).await?;
    Ok(risk_answer(&req.pool_id, state))
}
