//! One function per implemented operation: typed request -> service call -> response
//! JSON. Operations of the model that are not implemented yet answer
//! `UnsupportedOperationException` and say so.

use std::collections::HashMap;

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as authn;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{Actor, actor::Kind};
use portcullis_proto::token::v1 as tok;
use serde::Deserialize;
use serde_json::{Value, json};

use super::import_ops::{self, JobAction};
use super::pool_shapes;
use super::shapes::{self, AttributeType, parse, required};
use super::{Call, Caller};
use super::{
    branding_ops, client_ops, device_ops, domain_ops, group_ops, mfa_ops, passkey_ops, pool_ops,
    provider_ops, resource_server_ops, risk_ops, session_ops, ui_ops, user_ops,
};
use crate::AppState;

// Every implemented operation and its handler; the model's other operations answer
// `UnsupportedOperationException`. `IMPLEMENTED` feeds the generated operations table
// in docs/.
operations! { state, call;
    // pools
    "CreateUserPool" => create_user_pool(state, call),
    "DescribeUserPool" => describe_user_pool(state, call),
    "ListUserPools" => list_user_pools(state, call),
    "UpdateUserPool" => pool_ops::update_user_pool(state, call),
    "DeleteUserPool" => pool_ops::delete_user_pool(state, call),
    "AddCustomAttributes" => pool_ops::add_custom_attributes(state, call),
    "GetSigningCertificate" => pool_ops::get_signing_certificate(state, call),
    "TagResource" => pool_ops::tag_resource(state, call),
    "UntagResource" => pool_ops::untag_resource(state, call),
    "ListTagsForResource" => pool_ops::list_tags_for_resource(state, call),
    "SetLogDeliveryConfiguration" => pool_ops::set_log_delivery_configuration(state, call),
    "GetLogDeliveryConfiguration" => pool_ops::get_log_delivery_configuration(state, call),
    // app clients
    "CreateUserPoolClient" => create_user_pool_client(state, call),
    "DescribeUserPoolClient" => describe_user_pool_client(state, call),
    "UpdateUserPoolClient" => client_ops::update_user_pool_client(state, call),
    "DeleteUserPoolClient" => client_ops::delete_user_pool_client(state, call),
    "ListUserPoolClients" => client_ops::list_user_pool_clients(state, call),
    "AddUserPoolClientSecret" => client_ops::add_user_pool_client_secret(state, call),
    "DeleteUserPoolClientSecret" => client_ops::delete_user_pool_client_secret(state, call),
    "ListUserPoolClientSecrets" => client_ops::list_user_pool_client_secrets(state, call),
    // users, by an administrator
    "AdminCreateUser" => user_ops::admin_create_user(state, call),
    "AdminGetUser" => admin_get_user(state, call),
    "ListUsers" => user_ops::list_users(state, call),
    "AdminConfirmSignUp" => admin_confirm_sign_up(state, call),
    "AdminDisableUser" => admin_set_user_enabled(state, call, false),
    "AdminEnableUser" => admin_set_user_enabled(state, call, true),
    "AdminDeleteUser" => admin_delete_user(state, call),
    "AdminUpdateUserAttributes" => user_ops::admin_update_user_attributes(state, call),
    "AdminDeleteUserAttributes" => user_ops::admin_delete_user_attributes(state, call),
    "AdminSetUserPassword" => user_ops::admin_set_user_password(state, call, false),
    "AdminSetUserPasswordHash" => user_ops::admin_set_user_password(state, call, true),
    "AdminResetUserPassword" => user_ops::admin_reset_user_password(state, call),
    "AdminSetUserSettings" => user_ops::admin_set_user_settings(state, call),
    // groups
    "CreateGroup" => group_ops::create_group(state, call),
    "GetGroup" => group_ops::get_group(state, call),
    "UpdateGroup" => group_ops::update_group(state, call),
    "DeleteGroup" => group_ops::delete_group(state, call),
    "ListGroups" => group_ops::list_groups(state, call),
    "AdminAddUserToGroup" => user_ops::admin_user_group(state, call, true),
    "AdminRemoveUserFromGroup" => user_ops::admin_user_group(state, call, false),
    "AdminListGroupsForUser" => user_ops::admin_list_groups_for_user(state, call),
    "ListUsersInGroup" => user_ops::list_users_in_group(state, call),
    // bulk import
    "GetCSVHeader" => import_ops::get_csv_header(state, call),
    "CreateUserImportJob" => import_ops::create_user_import_job(state, call),
    "StartUserImportJob" => import_ops::user_import_job(state, call, JobAction::Start),
    "StopUserImportJob" => import_ops::user_import_job(state, call, JobAction::Stop),
    "DescribeUserImportJob" => import_ops::user_import_job(state, call, JobAction::Describe),
    "ListUserImportJobs" => import_ops::list_user_import_jobs(state, call),
    // sign-up and recovery
    "SignUp" => sign_up(state, call),
    "ConfirmSignUp" => confirm_sign_up(state, call),
    "ResendConfirmationCode" => resend_confirmation_code(state, call),
    "ForgotPassword" => forgot_password(state, call),
    "ConfirmForgotPassword" => confirm_forgot_password(state, call),
    // sign-in
    "InitiateAuth" => initiate_auth(state, call, false),
    "AdminInitiateAuth" => initiate_auth(state, call, true),
    "RespondToAuthChallenge" => user_ops::respond_to_auth_challenge(state, call, false),
    "AdminRespondToAuthChallenge" => user_ops::respond_to_auth_challenge(state, call, true),
    // the user's own account, with an access token
    "GetUser" => get_user(state, call),
    "DeleteUser" => delete_user(state, call),
    "UpdateUserAttributes" => user_ops::update_user_attributes(state, call),
    "DeleteUserAttributes" => user_ops::delete_user_attributes(state, call),
    "ChangePassword" => user_ops::change_password(state, call),
    "GetUserAttributeVerificationCode" => user_ops::get_verification_code(state, call),
    "VerifyUserAttribute" => user_ops::verify_user_attribute(state, call),
    "SetUserSettings" => user_ops::set_user_settings(state, call),
    // sessions
    "GetTokensFromRefreshToken" => session_ops::get_tokens_from_refresh_token(state, call),
    "RevokeToken" => session_ops::revoke_token(state, call),
    "GlobalSignOut" => session_ops::global_sign_out(state, call),
    "AdminUserGlobalSignOut" => session_ops::admin_user_global_sign_out(state, call),
    // passkeys
    "StartWebAuthnRegistration" => passkey_ops::start_web_authn_registration(state, call),
    "CompleteWebAuthnRegistration" => passkey_ops::complete_web_authn_registration(state, call),
    "ListWebAuthnCredentials" => passkey_ops::list_web_authn_credentials(state, call),
    "DeleteWebAuthnCredential" => passkey_ops::delete_web_authn_credential(state, call),
    // remembered devices
    "ConfirmDevice" => device_ops::confirm_device(state, call),
    "GetDevice" => device_ops::get_device(state, call),
    "ListDevices" => device_ops::list_devices(state, call),
    "UpdateDeviceStatus" => device_ops::update_device_status(state, call),
    "ForgetDevice" => device_ops::forget_device(state, call),
    "AdminGetDevice" => device_ops::admin_get_device(state, call),
    "AdminListDevices" => device_ops::admin_list_devices(state, call),
    "AdminUpdateDeviceStatus" => device_ops::admin_update_device_status(state, call),
    "AdminForgetDevice" => device_ops::admin_forget_device(state, call),
    // MFA
    "SetUserPoolMfaConfig" => mfa_ops::set_user_pool_mfa_config(state, call),
    "GetUserPoolMfaConfig" => mfa_ops::get_user_pool_mfa_config(state, call),
    "AssociateSoftwareToken" => mfa_ops::associate_software_token(state, call),
    "VerifySoftwareToken" => mfa_ops::verify_software_token(state, call),
    "SetUserMFAPreference" => mfa_ops::set_user_mfa_preference(state, call, false),
    "AdminSetUserMFAPreference" => mfa_ops::set_user_mfa_preference(state, call, true),
    "GetUserAuthFactors" => mfa_ops::get_user_auth_factors(state, call, false),
    "AdminGetUserAuthFactors" => mfa_ops::get_user_auth_factors(state, call, true),
    // domains, resource servers, UI customization (issue 5)
    "CreateUserPoolDomain" => domain_ops::create_user_pool_domain(state, call),
    "DescribeUserPoolDomain" => domain_ops::describe_user_pool_domain(state, call),
    "UpdateUserPoolDomain" => domain_ops::update_user_pool_domain(state, call),
    "DeleteUserPoolDomain" => domain_ops::delete_user_pool_domain(state, call),
    "CreateResourceServer" => resource_server_ops::create_resource_server(state, call),
    "DescribeResourceServer" => resource_server_ops::describe_resource_server(state, call),
    "UpdateResourceServer" => resource_server_ops::update_resource_server(state, call),
    "DeleteResourceServer" => resource_server_ops::delete_resource_server(state, call),
    "ListResourceServers" => resource_server_ops::list_resource_servers(state, call),
    "SetUICustomization" => ui_ops::set_ui_customization(state, call),
    "GetUICustomization" => ui_ops::get_ui_customization(state, call),
    "CreateManagedLoginBranding" => branding_ops::create_managed_login_branding(state, call),
    "DescribeManagedLoginBranding" => branding_ops::describe_managed_login_branding(state, call, false),
    "DescribeManagedLoginBrandingByClient" => branding_ops::describe_managed_login_branding(state, call, true),
    "UpdateManagedLoginBranding" => branding_ops::update_managed_login_branding(state, call),
    "DeleteManagedLoginBranding" => branding_ops::delete_managed_login_branding(state, call),
    // identity providers (issue 18)
    "CreateIdentityProvider" => provider_ops::create_identity_provider(state, call),
    "DescribeIdentityProvider" => provider_ops::describe_identity_provider(state, call),
    "UpdateIdentityProvider" => provider_ops::update_identity_provider(state, call),
    "DeleteIdentityProvider" => provider_ops::delete_identity_provider(state, call),
    "ListIdentityProviders" => provider_ops::list_identity_providers(state, call),
    "GetIdentityProviderByIdentifier" => provider_ops::get_identity_provider_by_identifier(state, call),
    "AdminLinkProviderForUser" => provider_ops::admin_link_provider_for_user(state, call),
    "AdminDisableProviderForUser" => provider_ops::admin_disable_provider_for_user(state, call),
    // threat protection (issue 19)
    "SetRiskConfiguration" => risk_ops::set_risk_configuration(state, call),
    "DescribeRiskConfiguration" => risk_ops::describe_risk_configuration(state, call),
    "AdminListUserAuthEvents" => risk_ops::admin_list_user_auth_events(state, call),
    "AdminUpdateAuthEventFeedback" => risk_ops::admin_update_auth_event_feedback(state, call),
    "UpdateAuthEventFeedback" => risk_ops::update_auth_event_feedback(state, call),
}

pub(crate) fn caller(call: &Call) -> dir::Caller {
    let actor = match &call.caller {
        Caller::Admin(v) => Actor {
            kind: Kind::Admin as i32,
            id: v.access_key_id.clone(),
        },
        Caller::Anonymous => Actor {
            kind: Kind::User as i32,
            id: String::new(),
        },
    };
    dir::Caller {
        region: call.region.clone(),
        actor: Some(actor),
        correlation_id: call.request_id.clone(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolRef {
    user_pool_id: Option<String>,
}

/// The members of the unauthenticated operations that name a user through a client.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ClientUserRef {
    client_id: Option<String>,
    secret_hash: Option<String>,
    username: Option<String>,
    client_metadata: Option<HashMap<String, String>>,
    user_context_data: Option<super::ContextDataIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserRef {
    pub(super) user_pool_id: Option<String>,
    pub(super) username: Option<String>,
}

async fn create_user_pool(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let settings = parse::<pool_shapes::CreateUserPoolRequest>(call.body)?.into_settings()?;
    let request = dir::CreateUserPoolRequest {
        caller: Some(caller),
        settings: Some(settings),
    };
    let pool = state
        .directory
        .clone()
        .create_user_pool(request)
        .await?
        .into_inner();
    Ok(json!({ "UserPool": pool_shapes::user_pool_out(&pool) }))
}

async fn describe_user_pool(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: PoolRef = parse(call.body)?;
    let pool_id = required(req.user_pool_id, "userPoolId")?;
    let pool = state
        .directory
        .clone()
        .describe_user_pool(dir::DescribeUserPoolRequest { pool_id })
        .await?
        .into_inner();
    Ok(json!({ "UserPool": pool_shapes::user_pool_out(&pool) }))
}

async fn list_user_pools(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        max_results: Option<u32>,
        next_token: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let request = dir::ListUserPoolsRequest {
        region: call.region.clone(),
        max_results: required(req.max_results, "maxResults")?,
        next_token: req.next_token.unwrap_or_default(),
    };
    let listed = state
        .directory
        .clone()
        .list_user_pools(request)
        .await?
        .into_inner();
    let pools: Vec<Value> = listed
        .user_pools
        .iter()
        .map(pool_shapes::user_pool_summary_out)
        .collect();
    Ok(shapes::compact(json!({
        "UserPools": pools,
        "NextToken": Some(listed.next_token).filter(|t| !t.is_empty()),
    })))
}

async fn create_user_pool_client(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let new = parse::<shapes::CreateUserPoolClientRequest>(call.body)?.into_settings()?;
    let request = dir::CreateUserPoolClientRequest {
        caller: Some(caller),
        pool_id: new.pool_id,
        settings: Some(new.settings),
        generate_secret: new.generate_secret,
        client_secret: new.client_secret,
    };
    let client = state
        .directory
        .clone()
        .create_user_pool_client(request)
        .await?
        .into_inner();
    Ok(json!({ "UserPoolClient": shapes::user_pool_client_out(&client) }))
}

async fn describe_user_pool_client(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        client_id: Option<String>,
    }
    let req: Req = parse(call.body)?;
    let request = dir::DescribeUserPoolClientRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
        client_id: required(req.client_id, "clientId")?,
    };
    let client = state
        .directory
        .clone()
        .describe_user_pool_client(request)
        .await?
        .into_inner();
    Ok(json!({ "UserPoolClient": shapes::user_pool_client_out(&client) }))
}

async fn admin_get_user(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: UserRef = parse(call.body)?;
    let request = dir::GetUserRequest {
        pool_id: required(req.user_pool_id, "userPoolId")?,
        key: Some(dir::get_user_request::Key::Username(required(
            req.username,
            "username",
        )?)),
        client_id: String::new(),
    };
    let user = state
        .directory
        .clone()
        .get_user(request)
        .await?
        .into_inner();
    let (mfa_list, preferred_mfa) = mfa_ops::mfa_settings_out(&user);
    Ok(shapes::compact(json!({
        "Username": user.username,
        "UserAttributes": shapes::attributes_out(&user.sub, &user.attributes),
        "UserCreateDate": user.creation_date,
        "UserLastModifiedDate": user.last_modified_date,
        "Enabled": user.enabled,
        "UserStatus": user.status,
        "MFAOptions": super::user_ops::mfa_options_out(&user.mfa_options),
        "PreferredMfaSetting": preferred_mfa,
        "UserMFASettingList": mfa_list,
    })))
}

async fn admin_confirm_sign_up(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        username: Option<String>,
        client_metadata: Option<HashMap<String, String>>,
    }
    let caller = caller(&call);
    let req: Req = parse(call.body)?;
    let request = authn::AdminConfirmSignUpRequest {
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        username: required(req.username, "username")?,
        caller_context: super::caller_context(&call.user_agent, req.client_metadata),
    };
    state.authn.clone().admin_confirm_sign_up(request).await?;
    Ok(json!({}))
}

async fn sign_up(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        client_id: Option<String>,
        secret_hash: Option<String>,
        username: Option<String>,
        password: Option<String>,
        user_attributes: Option<Vec<AttributeType>>,
        validation_data: Option<Vec<AttributeType>>,
        client_metadata: Option<HashMap<String, String>>,
        user_context_data: Option<super::ContextDataIn>,
    }
    let req: Req = parse(call.body.clone())?;
    let request = authn::SignUpRequest {
        caller_context: super::sign_in_context(
            &call,
            req.client_metadata,
            req.user_context_data,
            None,
        ),
        validation_data: shapes::attributes_in(req.validation_data, "validationData")?,
        region: call.region.clone(),
        client_id: required(req.client_id, "clientId")?,
        secret_hash: req.secret_hash.unwrap_or_default(),
        username: required(req.username, "username")?,
        password: required(req.password, "password")?,
        user_attributes: shapes::attributes_in(req.user_attributes, "userAttributes")?,
        correlation_id: call.request_id.clone(),
        hosted: false,
    };
    let signed_up = state.authn.clone().sign_up(request).await?.into_inner();
    Ok(shapes::compact(json!({
        "UserConfirmed": signed_up.user_confirmed,
        "UserSub": signed_up.user_sub,
        "CodeDeliveryDetails": signed_up.code_delivery_details.as_ref().map(delivery_details),
    })))
}

async fn initiate_auth(state: &AppState, call: Call, admin: bool) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        user_pool_id: Option<String>,
        client_id: Option<String>,
        auth_flow: Option<String>,
        auth_parameters: Option<HashMap<String, String>>,
        client_metadata: Option<HashMap<String, String>>,
        user_context_data: Option<super::ContextDataIn>,
        context_data: Option<super::ContextDataIn>,
    }
    let req: Req = parse(call.body.clone())?;
    let admin_pool_id = if admin {
        required(req.user_pool_id, "userPoolId")?
    } else {
        String::new()
    };
    let (user_context, server_context) = if admin {
        (None, req.context_data)
    } else {
        (req.user_context_data, None)
    };
    let request = authn::InitiateAuthRequest {
        caller_context: super::sign_in_context(
            &call,
            req.client_metadata,
            user_context,
            server_context,
        ),
        region: call.region.clone(),
        auth_flow: required(req.auth_flow, "authFlow")?,
        auth_parameters: req.auth_parameters.unwrap_or_default(),
        client_id: required(req.client_id, "clientId")?,
        admin_pool_id,
        correlation_id: call.request_id.clone(),
        hosted: false,
    };
    let response = state
        .authn
        .clone()
        .initiate_auth(request)
        .await?
        .into_inner();
    Ok(auth_response_out(response))
}

/// The answer of InitiateAuth and RespondToAuthChallenge: a challenge or tokens.
pub(super) fn auth_response_out(response: authn::InitiateAuthResponse) -> Value {
    shapes::compact(json!({
        "ChallengeName": Some(&response.challenge_name).filter(|c| !c.is_empty()),
        "Session": Some(&response.session).filter(|s| !s.is_empty()),
        "ChallengeParameters": response.challenge_parameters,
        // Only InitiateAuth's SELECT_CHALLENGE has any.
        "AvailableChallenges": Some(&response.available_challenges).filter(|a| !a.is_empty()),
        "AuthenticationResult": response.authentication_result.map(|r| shapes::compact(json!({
            "AccessToken": r.access_token,
            "ExpiresIn": r.expires_in,
            "TokenType": r.token_type,
            "RefreshToken": Some(&r.refresh_token).filter(|t| !t.is_empty()),
            "IdToken": r.id_token,
            "NewDeviceMetadata": r.new_device_metadata.map(|d| json!({
                "DeviceKey": d.device_key,
                "DeviceGroupKey": d.device_group_key,
            })),
        }))),
    }))
}

/// The body of an operation authorised by the user's access token.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TokenRef {
    access_token: Option<String>,
}

/// Verifies an access token for the self-service operations: signature, expiry,
/// `token_use`, the scope Cognito requires for them, and that its session is not revoked.
pub(super) async fn verify_user_token(
    state: &AppState,
    body: Value,
) -> Result<tok::VerifiedAccessToken, ApiError> {
    Ok(authorize_user_token(state, body).await?.0)
}

/// [`verify_user_token`], returning the user the token names too. Revocation (a global
/// sign-out after the token's session began, or the session revoked by name) is user
/// state in the directory, so every replica refuses a revoked token at once.
pub(super) async fn authorize_user_token(
    state: &AppState,
    body: Value,
) -> Result<(tok::VerifiedAccessToken, dir::User), ApiError> {
    let req: TokenRef = parse(body)?;
    let access_token = required(req.access_token, "accessToken")?;
    let verified = state
        .token
        .clone()
        .verify_access_token(tok::VerifyAccessTokenRequest { access_token })
        .await?
        .into_inner();
    if !verified
        .scope
        .split(' ')
        .any(|s| s == "aws.cognito.signin.user.admin")
    {
        return Err(ApiError::not_authorized(
            "Access Token does not have required scopes",
        ));
    }
    let user = token_user(state, &verified).await?;
    Ok((verified, user))
}

/// The user a verified access token names, unless its session was revoked since (a
/// global sign-out after the session began, or the session revoked by name).
pub(crate) async fn token_user(
    state: &AppState,
    verified: &tok::VerifiedAccessToken,
) -> Result<dir::User, ApiError> {
    let user = crate::config::user(state, &verified.pool_id, &verified.sub, None)
        .await
        .map_err(token_user_error)?;
    if portcullis_types::session_revoked(
        user.signed_out_ms,
        &user.revoked_sessions,
        &verified.origin_jti,
        verified.iat.saturating_mul(1_000),
    ) {
        return Err(ApiError::not_authorized("Access Token has been revoked"));
    }
    // Disabling revokes every earlier token (above); this also covers one issued in
    // the same millisecond as the disable.
    if !user.enabled {
        return Err(ApiError::not_authorized("User is disabled."));
    }
    Ok(user)
}

/// A user that a valid token names but that no longer exists is not authorized.
pub(super) fn token_user_error(err: impl Into<ApiError>) -> ApiError {
    let err = err.into();
    if err.code == ErrorCode::UserNotFoundException {
        ApiError::not_authorized("User does not exist.")
    } else {
        err
    }
}

async fn get_user(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let (verified, _) = authorize_user_token(state, call.body).await?;
    // The attributes the token's client may read (the directory applies its rules).
    let user = super::user_ops::token_client_user(state, &verified).await?;
    let (mfa_list, preferred_mfa) = mfa_ops::mfa_settings_out(&user);
    Ok(shapes::compact(json!({
        "Username": user.username,
        "UserAttributes": shapes::attributes_out(&user.sub, &user.attributes),
        "MFAOptions": super::user_ops::mfa_options_out(&user.mfa_options),
        "PreferredMfaSetting": preferred_mfa,
        "UserMFASettingList": mfa_list,
    })))
}

async fn confirm_sign_up(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        client_id: Option<String>,
        secret_hash: Option<String>,
        username: Option<String>,
        confirmation_code: Option<String>,
        force_alias_creation: Option<bool>,
        client_metadata: Option<HashMap<String, String>>,
    }
    let req: Req = parse(call.body)?;
    let request = authn::ConfirmSignUpRequest {
        caller_context: super::caller_context(&call.user_agent, req.client_metadata),
        region: call.region.clone(),
        client_id: required(req.client_id, "clientId")?,
        secret_hash: req.secret_hash.unwrap_or_default(),
        username: required(req.username, "username")?,
        confirmation_code: required(req.confirmation_code, "confirmationCode")?,
        correlation_id: call.request_id.clone(),
        force_alias_creation: req.force_alias_creation.unwrap_or(false),
        hosted: false,
    };
    state.authn.clone().confirm_sign_up(request).await?;
    Ok(json!({}))
}

async fn resend_confirmation_code(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: ClientUserRef = parse(call.body.clone())?;
    let request = authn::ResendConfirmationCodeRequest {
        caller_context: super::sign_in_context(
            &call,
            req.client_metadata,
            req.user_context_data,
            None,
        ),
        region: call.region.clone(),
        client_id: required(req.client_id, "clientId")?,
        secret_hash: req.secret_hash.unwrap_or_default(),
        username: required(req.username, "username")?,
        correlation_id: call.request_id.clone(),
        hosted: false,
    };
    let response = state
        .authn
        .clone()
        .resend_confirmation_code(request)
        .await?
        .into_inner();
    Ok(shapes::compact(json!({
        "CodeDeliveryDetails": response.code_delivery_details.as_ref().map(delivery_details),
    })))
}

pub(super) fn delivery_details(d: &authn::CodeDeliveryDetails) -> Value {
    json!({
        "Destination": d.destination,
        "DeliveryMedium": d.delivery_medium,
        "AttributeName": d.attribute_name,
    })
}

async fn forgot_password(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let req: ClientUserRef = parse(call.body.clone())?;
    let request = authn::ForgotPasswordRequest {
        caller_context: super::sign_in_context(
            &call,
            req.client_metadata,
            req.user_context_data,
            None,
        ),
        region: call.region.clone(),
        client_id: required(req.client_id, "clientId")?,
        secret_hash: req.secret_hash.unwrap_or_default(),
        username: required(req.username, "username")?,
        correlation_id: call.request_id.clone(),
        hosted: false,
    };
    let response = state
        .authn
        .clone()
        .forgot_password(request)
        .await?
        .into_inner();
    Ok(shapes::compact(json!({
        "CodeDeliveryDetails": response.code_delivery_details.as_ref().map(delivery_details),
    })))
}

async fn confirm_forgot_password(state: &AppState, call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        client_id: Option<String>,
        secret_hash: Option<String>,
        username: Option<String>,
        confirmation_code: Option<String>,
        password: Option<String>,
        client_metadata: Option<HashMap<String, String>>,
    }
    let req: Req = parse(call.body)?;
    let request = authn::ConfirmForgotPasswordRequest {
        caller_context: super::caller_context(&call.user_agent, req.client_metadata),
        region: call.region.clone(),
        client_id: required(req.client_id, "clientId")?,
        secret_hash: req.secret_hash.unwrap_or_default(),
        username: required(req.username, "username")?,
        confirmation_code: required(req.confirmation_code, "confirmationCode")?,
        password: required(req.password, "password")?,
        correlation_id: call.request_id.clone(),
        hosted: false,
    };
    state.authn.clone().confirm_forgot_password(request).await?;
    Ok(json!({}))
}

async fn admin_set_user_enabled(
    state: &AppState,
    call: Call,
    enabled: bool,
) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let req: UserRef = parse(call.body)?;
    let request = dir::SetUserEnabledRequest {
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        username: required(req.username, "username")?,
        enabled,
    };
    state.directory.clone().set_user_enabled(request).await?;
    Ok(json!({}))
}

async fn admin_delete_user(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let req: UserRef = parse(call.body)?;
    let request = dir::DeleteUserRequest {
        caller: Some(caller),
        pool_id: required(req.user_pool_id, "userPoolId")?,
        username: required(req.username, "username")?,
    };
    state.directory.clone().delete_user(request).await?;
    Ok(json!({}))
}

async fn delete_user(state: &AppState, call: Call) -> Result<Value, ApiError> {
    let caller = caller(&call);
    let verified = verify_user_token(state, call.body).await?;
    let request = dir::DeleteUserRequest {
        caller: Some(dir::Caller {
            actor: Some(Actor {
                kind: Kind::User as i32,
                id: verified.sub.clone(),
            }),
            ..caller
        }),
        pool_id: verified.pool_id,
        username: verified.username,
    };
    state
        .directory
        .clone()
        .delete_user(request)
        .await
        .map_err(token_user_error)?;
    Ok(json!({}))
}
