//! The user-pool administration operations beyond create/describe/list: one function
//! per operation, typed request -> directory call -> response JSON.

use std::collections::BTreeMap;

use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as dir;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::ops::caller;
use super::pool_shapes::{self, LogConfigurationType, SchemaAttributeType};
use super::shapes::{parse, required};
use crate::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolRef {
    user_pool_id: Option<String>,
}

pub(super) async fn update_user_pool(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let (pool_id, settings, replace_tags) =
        parse::<pool_shapes::UpdateUserPoolRequest>(call.body)?.into_parts()?;
    let request = dir::UpdateUserPoolRequest {
        caller: Some(caller),
        pool_id,
        settings: Some(settings),
        replace_tags,
    };
    state.directory.clone().update_user_pool(request).await?;
    Ok(json!({}))
}

pub(super) async fn delete_user_pool(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let req: PoolRef = parse(call.body)?;
    let request = dir::DeleteUserPoolRequest {
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
    };
    state.directory.clone().delete_user_pool(request).await?;
    Ok(json!({}))
}

pub(super) async fn add_custom_attributes(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        custom_attributes: Option<Vec<SchemaAttributeType>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let pool_id = required(req.user_pool_id, "userPoolId")?;
    let attributes = required(req.custom_attributes, "customAttributes")?;
    let request = dir::AddCustomAttributesRequest {
        caller: Some(caller),
        pool_id,
        attributes: pool_shapes::schema_in(Some(attributes), "customAttributes")?,
    };
    state
        .directory
        .clone()
        .add_custom_attributes(request)
        .await?;
    Ok(json!({}))
}

pub(super) async fn get_signing_certificate(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let req: PoolRef = parse(call.body)?;
    let request = dir::GetSigningCertificateRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
    };
    let certificate = state
        .directory
        .clone()
        .get_signing_certificate(request)
        .await?
        .into_inner()
        .certificate;
    Ok(json!({ "Certificate": certificate }))
}

pub(super) async fn tag_resource(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        resource_arn: Option<String>,
        tags: Option<BTreeMap<String, String>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = dir::TagResourceRequest {
        caller: Some(caller),
        resource_arn: required(req.resource_arn, "resourceArn")?,
        tags: pool_shapes::tags_in(required(req.tags, "tags")?),
    };
    state.directory.clone().tag_resource(request).await?;
    Ok(json!({}))
}

pub(super) async fn untag_resource(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        resource_arn: Option<String>,
        tag_keys: Option<Vec<String>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = dir::UntagResourceRequest {
        caller: Some(caller),
        resource_arn: required(req.resource_arn, "resourceArn")?,
        tag_keys: required(req.tag_keys, "tagKeys")?,
    };
    state.directory.clone().untag_resource(request).await?;
    Ok(json!({}))
}

pub(super) async fn list_tags_for_resource(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        resource_arn: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let request = dir::ListTagsForResourceRequest {
        resource_arn: required(req.resource_arn, "resourceArn")?,
    };
    let tags = state
        .directory
        .clone()
        .list_tags_for_resource(request)
        .await?
        .into_inner()
        .tags;
    Ok(json!({ "Tags": pool_shapes::tags_out(&tags) }))
}

pub(super) async fn set_log_delivery_configuration(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        log_configurations: Option<Vec<LogConfigurationType>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = dir::SetLogDeliveryConfigurationRequest {
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        log_configurations: pool_shapes::log_configurations_in(required(
            req.log_configurations,
            "logConfigurations",
        )?)?,
    };
    let config = state
        .directory
        .clone()
        .set_log_delivery_configuration(request)
        .await?
        .into_inner();
    Ok(json!({ "LogDeliveryConfiguration": pool_shapes::log_delivery_out(&config) }))
}

pub(super) async fn get_log_delivery_configuration(
    state: &AppState,
    call: Call,
) -> Result<Value, ApiError> {
    let req: PoolRef = parse(call.body)?;
    let request = dir::GetLogDeliveryConfigurationRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
    };
    let config = state
        .directory
        .clone()
        .get_log_delivery_configuration(request)
        .await?
        .into_inner();
    Ok(json!({ "LogDeliveryConfiguration": pool_shapes::log_delivery_out(&config) }))
}
