//! The gRPC adapter: proto <-> application calls, nothing else.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::directory::v1 as pb;
use portcullis_proto::directory::v1::directory_server::Directory as DirectoryRpc;
use portcullis_proto::events::v1::{Actor, Batch, Record, actor::Kind};
use portcullis_types::Region;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::app::groups::{GroupChanges, NewGroup};
use crate::app::imports::JobView;
use crate::app::{CommandMeta, Directory, pool_arn};
use crate::domain::client::{ClientState, SecretInfo};
use crate::domain::device::{DeviceCommand, DeviceState, device_not_found};
use crate::domain::group::GroupState;
use crate::domain::pool::PoolState;
use crate::domain::user::{UserCommand, UserState, UserStatus, Writer};
use crate::grpc_config as config;
use crate::projections::GroupSummary;

pub struct DirectoryService {
    app: Directory,
}

impl DirectoryService {
    pub fn new(app: Directory) -> Self {
        Self { app }
    }
}

pub(crate) fn seconds(ms: i64) -> i64 {
    ms / 1_000
}

pub(crate) fn meta(caller: Option<pb::Caller>) -> CommandMeta {
    let caller = caller.unwrap_or_default();
    let actor = caller.actor.unwrap_or(Actor {
        kind: Kind::System as i32,
        id: String::new(),
    });
    CommandMeta::new(actor, &caller.correlation_id)
}

fn pool_message(state: PoolState, users: u64, region: &str) -> pb::UserPool {
    pb::UserPool {
        arn: pool_arn(region, &state.id),
        id: state.id,
        settings: Some(state.settings),
        creation_date: seconds(state.created_ms),
        last_modified_date: seconds(state.modified_ms),
        estimated_number_of_users: users,
        ..Default::default()
    }
}

/// The client with its secrets; the first (oldest) is the one Cognito describes.
fn client_message(state: ClientState, secrets: Vec<String>) -> pb::UserPoolClient {
    pb::UserPoolClient {
        pool_id: state.pool_id,
        client_id: state.client_id,
        settings: Some(state.settings),
        client_secret: secrets.first().cloned(),
        creation_date: seconds(state.created_ms),
        last_modified_date: seconds(state.modified_ms),
        client_secrets: secrets,
    }
}

fn secret_message(secret: SecretInfo, value: Option<String>) -> pb::ClientSecretDescriptor {
    pb::ClientSecretDescriptor {
        client_secret_id: secret.id,
        client_secret_value: value,
        client_secret_create_date: seconds(secret.created_ms),
    }
}

fn group_message(state: GroupState) -> pb::Group {
    pb::Group {
        pool_id: state.pool_id,
        group_name: state.name,
        description: state.description,
        role_arn: state.role_arn,
        precedence: state.precedence,
        creation_date: seconds(state.created_ms),
        last_modified_date: seconds(state.modified_ms),
    }
}

fn device_message(state: DeviceState) -> pb::Device {
    pb::Device {
        device_key: state.device_key,
        device_group_key: state.device_group_key,
        device_name: state.device_name,
        remembered_status: state.remembered_status,
        password_verifier: state.password_verifier,
        salt: state.salt,
        creation_date: seconds(state.created_ms),
        last_modified_date: seconds(state.modified_ms),
        last_authenticated_date: seconds(state.last_authenticated_ms),
    }
}

fn group_summary_message(group: GroupSummary) -> pb::Group {
    pb::Group {
        pool_id: group.pool_id,
        group_name: group.name,
        description: group.description,
        role_arn: group.role_arn,
        precedence: group.precedence,
        creation_date: seconds(group.created_ms),
        last_modified_date: seconds(group.modified_ms),
    }
}

fn provider_user(user: pb::ProviderUser) -> crate::app::federated::ProviderUser {
    crate::app::federated::ProviderUser {
        provider_name: user.provider_name,
        provider_type: user.provider_type,
        attribute: user.attribute,
        value: user.value,
    }
}

pub fn user_message(state: UserState) -> pb::User {
    pb::User {
        pool_id: state.pool_id,
        sub: state.sub,
        username: state.username,
        attributes: state.attributes,
        status: state.status.as_str().to_owned(),
        enabled: state.enabled,
        creation_date: seconds(state.created_ms),
        last_modified_date: seconds(state.modified_ms),
        groups: state.groups,
        mfa_options: state.mfa_options,
        password_set_ms: state.password_set_ms,
        pending_attributes: state.pending,
        signed_out_ms: state.signed_out_ms,
        revoked_sessions: state
            .revoked_sessions
            .into_iter()
            .map(|(jti, _)| jti)
            .collect(),
        mfa_enabled: state.mfa_enabled,
        preferred_mfa: state.preferred_mfa,
        software_token_verified: state.software_token_verified,
    }
}

fn writer(by_admin: bool) -> Writer {
    if by_admin {
        Writer::Admin
    } else {
        Writer::User
    }
}

impl DirectoryService {
    /// Refuses a user's write of attributes that the app client it writes through (if
    /// it names one) may not write.
    async fn check_client_writes(
        &self,
        pool_id: &str,
        client_id: &str,
        names: Vec<&str>,
    ) -> Result<(), ApiError> {
        if client_id.is_empty() {
            return Ok(());
        }
        let client = self.app.client_state(pool_id, client_id).await?;
        match portcullis_types::client_write_denied(
            &client.settings.write_attributes,
            names.into_iter(),
        ) {
            Some(denied) => Err(ApiError::not_authorized(format!(
                "A client attempted to write unauthorized attribute {denied}"
            ))),
            None => Ok(()),
        }
    }

    /// The `(pool, sub)` a reference names: the sub as given, or the owner of the name.
    async fn user_ref(&self, user: Option<pb::UserRef>) -> Result<(String, String), ApiError> {
        let user = user.unwrap_or_default();
        if !user.sub.is_empty() {
            return Ok((user.pool_id, user.sub));
        }
        let state = self.app.user_by_name(&user.pool_id, &user.username).await?;
        Ok((user.pool_id, state.sub))
    }

    /// Runs `command` on the device of the user `user` names and answers with the
    /// device as it is after it.
    async fn device_reply(
        &self,
        caller: Option<pb::Caller>,
        user: Option<pb::UserRef>,
        command: DeviceCommand,
    ) -> Result<Response<pb::Device>, Status> {
        let meta = meta(caller);
        let (pool_id, sub) = self.user_ref(user).await?;
        let device = self
            .app
            .device_command(&pool_id, &sub, command, &meta)
            .await?
            .ok_or_else(device_not_found)?;
        Ok(Response::new(device_message(device)))
    }
}

/// The region a pool id starts with.
fn region_of(pool_id: &str) -> &str {
    pool_id.rsplit_once('_').map_or("", |(r, _)| r)
}

type RecordStream = Pin<Box<dyn Stream<Item = Result<Record, Status>> + Send>>;

#[tonic::async_trait]
impl DirectoryRpc for DirectoryService {
    async fn create_user_pool(
        &self,
        req: Request<pb::CreateUserPoolRequest>,
    ) -> Result<Response<pb::UserPool>, Status> {
        let req = req.into_inner();
        let region_name = req
            .caller
            .as_ref()
            .map(|c| c.region.clone())
            .unwrap_or_default();
        let region = Region::parse(&region_name).map_err(|e| ApiError::invalid_parameter(e.0))?;
        let meta = meta(req.caller);
        let (state, users) = self
            .app
            .create_pool(&region, req.settings.unwrap_or_default(), &meta)
            .await?;
        Ok(Response::new(pool_message(state, users, region.as_str())))
    }

    async fn describe_user_pool(
        &self,
        req: Request<pb::DescribeUserPoolRequest>,
    ) -> Result<Response<pb::UserPool>, Status> {
        let pool_id = req.into_inner().pool_id;
        let (state, users) = self.app.pool(&pool_id).await?;
        let (domain, custom_domain) = config::pool_domain_names(&self.app, &pool_id).await?;
        Ok(Response::new(pb::UserPool {
            domain,
            custom_domain,
            ..pool_message(state, users, region_of(&pool_id))
        }))
    }

    async fn list_user_pools(
        &self,
        req: Request<pb::ListUserPoolsRequest>,
    ) -> Result<Response<pb::ListUserPoolsResponse>, Status> {
        let req = req.into_inner();
        let token = Some(req.next_token).filter(|t| !t.is_empty());
        let (pools, next) = self
            .app
            .list_pools(&req.region, req.max_results, token)
            .await?;
        let user_pools = pools
            .into_iter()
            .map(|p| pb::UserPool {
                id: p.id,
                settings: Some(portcullis_proto::events::v1::UserPoolSettings {
                    pool_name: p.name,
                    ..Default::default()
                }),
                creation_date: seconds(p.created_ms),
                last_modified_date: seconds(p.modified_ms),
                ..Default::default()
            })
            .collect();
        Ok(Response::new(pb::ListUserPoolsResponse {
            user_pools,
            next_token: next.unwrap_or_default(),
        }))
    }

    async fn create_user_pool_client(
        &self,
        req: Request<pb::CreateUserPoolClientRequest>,
    ) -> Result<Response<pb::UserPoolClient>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (state, secrets) = self
            .app
            .create_client(
                &req.pool_id,
                req.settings.unwrap_or_default(),
                req.generate_secret,
                req.client_secret,
                &meta,
            )
            .await?;
        Ok(Response::new(client_message(state, secrets)))
    }

    async fn describe_user_pool_client(
        &self,
        req: Request<pb::DescribeUserPoolClientRequest>,
    ) -> Result<Response<pb::UserPoolClient>, Status> {
        let req = req.into_inner();
        let (state, secrets) = self.app.client(&req.pool_id, &req.client_id).await?;
        Ok(Response::new(client_message(state, secrets)))
    }

    async fn create_user(
        &self,
        req: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let user = self
            .app
            .create_user(
                &req.pool_id,
                &req.sub,
                &req.username,
                req.attributes,
                if req.temporary_password {
                    UserStatus::ForceChangePassword
                } else if req.confirmed {
                    UserStatus::Confirmed
                } else {
                    UserStatus::Unconfirmed
                },
                req.force_alias_creation,
                &meta,
            )
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn provision_federated_user(
        &self,
        req: Request<pb::ProvisionFederatedUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let sign_in = crate::app::federated::FederatedSignIn {
            provider_name: req.provider_name,
            provider_type: req.provider_type,
            issuer: req.issuer,
            subject: req.subject,
            attributes: req.attributes,
        };
        let user = self
            .app
            .provision_federated_user(&req.pool_id, sign_in, req.existing_only, &meta)
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn link_provider_for_user(
        &self,
        req: Request<pb::LinkProviderForUserRequest>,
    ) -> Result<Response<pb::LinkProviderForUserResponse>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let source = provider_user(req.source.unwrap_or_default());
        self.app
            .link_provider_for_user(&req.pool_id, &req.destination_username, source, &meta)
            .await?;
        Ok(Response::new(pb::LinkProviderForUserResponse {}))
    }

    async fn disable_provider_for_user(
        &self,
        req: Request<pb::DisableProviderForUserRequest>,
    ) -> Result<Response<pb::DisableProviderForUserResponse>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let user = provider_user(req.user.unwrap_or_default());
        self.app
            .disable_provider_for_user(&req.pool_id, user, &meta)
            .await?;
        Ok(Response::new(pb::DisableProviderForUserResponse {}))
    }

    async fn get_user(
        &self,
        req: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let user = match req.key {
            Some(pb::get_user_request::Key::Username(name)) => {
                self.app.user_by_name(&req.pool_id, &name).await?
            }
            Some(pb::get_user_request::Key::Sub(sub)) => {
                self.app.user_by_sub(&req.pool_id, &sub).await?
            }
            None => {
                return Err(ApiError::invalid_parameter("A user name or sub is required.").into());
            }
        };
        let mut user = user_message(user);
        if !req.client_id.is_empty() {
            let client = self.app.client_state(&req.pool_id, &req.client_id).await?;
            let readable = &client.settings.read_attributes;
            user.attributes
                .retain(|a| portcullis_types::client_reads(readable, &a.name));
        }
        Ok(Response::new(user))
    }

    async fn get_sign_in_context(
        &self,
        req: Request<pb::GetSignInContextRequest>,
    ) -> Result<Response<pb::SignInContext>, Status> {
        use pb::get_sign_in_context_request::User as Named;
        let req = req.into_inner();
        let (client, secrets) = self.app.client("", &req.client_id).await?;
        let pool_id = client.pool_id.clone();
        let (pool, users) = self.app.pool(&pool_id).await?;
        let found = match &req.user {
            Some(Named::Username(name)) => self.app.user_by_name(&pool_id, name).await,
            Some(Named::Sub(sub)) => self.app.user_by_sub(&pool_id, sub).await,
            None => Err(ApiError::new(ErrorCode::UserNotFoundException, "")),
        };
        let user = match found {
            Ok(user) => Some(user),
            Err(err) if err.code == ErrorCode::UserNotFoundException => None,
            Err(err) => return Err(err.into()),
        };
        let mut groups = Vec::new();
        let mut device = None;
        if let Some(user) = &user {
            if req.groups {
                for name in &user.groups {
                    match self.app.group(&pool_id, name).await {
                        Ok(group) => groups.push(group_message(group)),
                        // Deleted since the user joined it.
                        Err(err) if err.code == ErrorCode::ResourceNotFoundException => {}
                        Err(err) => return Err(err.into()),
                    }
                }
            }
            if !req.device_key.is_empty() && pool.settings.device_configuration.is_some() {
                device = crate::domain::device::find(&user.devices, &req.device_key)
                    .ok()
                    .cloned()
                    .map(device_message);
            }
        }
        let region = region_of(&pool_id).to_owned();
        Ok(Response::new(pb::SignInContext {
            client: Some(client_message(client, secrets)),
            pool: Some(pool_message(pool, users, &region)),
            user: user.map(user_message),
            groups,
            device,
        }))
    }

    async fn confirm_user(
        &self,
        req: Request<pb::ConfirmUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let user = self
            .app
            .confirm_user(
                &req.pool_id,
                &req.username,
                Some(req.verified_attribute).filter(|a| !a.is_empty()),
                req.force_alias_creation,
                &meta,
            )
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn record_password_change(
        &self,
        req: Request<pb::RecordPasswordChangeRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let user = self
            .app
            .record_password_change(
                &req.pool_id,
                &req.sub,
                req.method,
                UserStatus::parse(&req.status),
                &meta,
            )
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn set_user_enabled(
        &self,
        req: Request<pb::SetUserEnabledRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let user = self
            .app
            .set_user_enabled(&req.pool_id, &req.username, req.enabled, &meta)
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn delete_user(
        &self,
        req: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        self.app
            .delete_user(&req.pool_id, &req.username, &meta)
            .await?;
        Ok(Response::new(pb::DeleteUserResponse {}))
    }

    async fn update_user_attributes(
        &self,
        req: Request<pb::UpdateUserAttributesRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let pool_id = req.user.as_ref().map_or("", |u| u.pool_id.as_str());
        let names = req.attributes.iter().map(|a| a.name.as_str()).collect();
        self.check_client_writes(pool_id, &req.client_id, names)
            .await?;
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let user = self
            .app
            .update_user_attributes(&pool_id, &sub, req.attributes, writer(req.by_admin), &meta)
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn delete_user_attributes(
        &self,
        req: Request<pb::DeleteUserAttributesRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let pool_id = req.user.as_ref().map_or("", |u| u.pool_id.as_str());
        let names = req.names.iter().map(String::as_str).collect();
        self.check_client_writes(pool_id, &req.client_id, names)
            .await?;
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let user = self
            .app
            .delete_user_attributes(&pool_id, &sub, req.names, writer(req.by_admin), &meta)
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn verify_user_attribute(
        &self,
        req: Request<pb::VerifyUserAttributeRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let user = self
            .app
            .verify_user_attribute(&pool_id, &sub, req.name, &meta)
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn require_password_reset(
        &self,
        req: Request<pb::RequirePasswordResetRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let user = self
            .app
            .require_password_reset(&pool_id, &sub, &meta)
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn set_user_settings(
        &self,
        req: Request<pb::SetUserSettingsRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let user = self
            .app
            .set_user_settings(&pool_id, &sub, req.mfa_options, &meta)
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn confirm_device(
        &self,
        req: Request<pb::ConfirmDeviceRequest>,
    ) -> Result<Response<pb::Device>, Status> {
        let req = req.into_inner();
        let command = DeviceCommand::Confirm {
            device_key: req.device_key,
            device_group_key: req.device_group_key,
            device_name: req.device_name,
            password_verifier: req.password_verifier,
            salt: req.salt,
            remembered_status: req.remembered_status,
        };
        self.device_reply(req.caller, req.user, command).await
    }

    async fn get_device(
        &self,
        req: Request<pb::DeviceRequest>,
    ) -> Result<Response<pb::Device>, Status> {
        let req = req.into_inner();
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let device = self.app.device(&pool_id, &sub, &req.device_key).await?;
        Ok(Response::new(device_message(device)))
    }

    async fn list_devices(
        &self,
        req: Request<pb::ListDevicesRequest>,
    ) -> Result<Response<pb::ListDevicesResponse>, Status> {
        let req = req.into_inner();
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let token = Some(req.pagination_token).filter(|t| !t.is_empty());
        let (devices, next) = self
            .app
            .list_devices(&pool_id, &sub, req.limit, token)
            .await?;
        Ok(Response::new(pb::ListDevicesResponse {
            devices: devices.into_iter().map(device_message).collect(),
            pagination_token: next.unwrap_or_default(),
        }))
    }

    async fn update_device_status(
        &self,
        req: Request<pb::UpdateDeviceStatusRequest>,
    ) -> Result<Response<pb::Device>, Status> {
        let req = req.into_inner();
        let command = DeviceCommand::UpdateStatus {
            device_key: req.device_key,
            remembered_status: req.remembered_status,
        };
        self.device_reply(req.caller, req.user, command).await
    }

    async fn forget_device(
        &self,
        req: Request<pb::DeviceRequest>,
    ) -> Result<Response<pb::ForgetDeviceResponse>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let command = DeviceCommand::Forget {
            device_key: req.device_key,
        };
        self.app
            .device_command(&pool_id, &sub, command, &meta)
            .await?;
        Ok(Response::new(pb::ForgetDeviceResponse {}))
    }

    async fn record_device_sign_in(
        &self,
        req: Request<pb::DeviceRequest>,
    ) -> Result<Response<pb::Device>, Status> {
        let req = req.into_inner();
        let command = DeviceCommand::RecordSignIn {
            device_key: req.device_key,
        };
        self.device_reply(req.caller, req.user, command).await
    }

    async fn set_user_mfa_preference(
        &self,
        req: Request<pb::SetUserMfaPreferenceRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let command = UserCommand::SetMfaPreference {
            sms: req.sms,
            software_token: req.software_token,
            email: req.email,
        };
        let user = self.app.on_user(&pool_id, &sub, &command, &meta).await?;
        Ok(Response::new(user_message(user)))
    }

    async fn record_software_token_verified(
        &self,
        req: Request<pb::RecordSoftwareTokenVerifiedRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let command = UserCommand::RecordSoftwareTokenVerified {
            friendly_device_name: req.friendly_device_name,
            enable: req.enable,
        };
        let user = self.app.on_user(&pool_id, &sub, &command, &meta).await?;
        Ok(Response::new(user_message(user)))
    }

    async fn set_user_pool_mfa_config(
        &self,
        req: Request<pb::SetUserPoolMfaConfigRequest>,
    ) -> Result<Response<pb::UserPool>, Status> {
        let mut req = req.into_inner();
        let meta = meta(req.caller.take());
        let pool_id = req.pool_id.clone();
        let (state, users) = self.app.set_pool_mfa_config(&pool_id, req, &meta).await?;
        Ok(Response::new(pool_message(
            state,
            users,
            region_of(&pool_id),
        )))
    }

    async fn record_auth_event(
        &self,
        req: Request<pb::RecordAuthEventRequest>,
    ) -> Result<Response<pb::RecordAuthEventResponse>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let event = req
            .event
            .ok_or_else(|| ApiError::invalid_parameter("Missing the event"))?;
        let event_id = self
            .app
            .record_auth_event(&req.pool_id, event, &meta)
            .await?;
        Ok(Response::new(pb::RecordAuthEventResponse { event_id }))
    }

    async fn list_user_auth_events(
        &self,
        req: Request<pb::ListUserAuthEventsRequest>,
    ) -> Result<Response<pb::ListUserAuthEventsResponse>, Status> {
        let answer = self.app.list_user_auth_events(req.get_ref()).await?;
        Ok(Response::new(answer))
    }

    async fn put_waf_resource(
        &self,
        req: Request<pb::PutWafResourceRequest>,
    ) -> Result<Response<pb::WafResource>, Status> {
        let mut req = req.into_inner();
        let meta = meta(req.caller.take());
        Ok(Response::new(self.app.put_waf_resource(&req, &meta).await?))
    }

    async fn get_waf_resource(
        &self,
        req: Request<pb::WafResourceRef>,
    ) -> Result<Response<pb::WafResource>, Status> {
        Ok(Response::new(
            self.app.get_waf_resource(req.get_ref()).await?,
        ))
    }

    async fn delete_waf_resource(
        &self,
        req: Request<pb::DeleteWafResourceRequest>,
    ) -> Result<Response<pb::DeleteWafResourceResponse>, Status> {
        let mut req = req.into_inner();
        let meta = meta(req.caller.take());
        self.app.delete_waf_resource(&req, &meta).await?;
        Ok(Response::new(pb::DeleteWafResourceResponse {}))
    }

    async fn list_waf_resources(
        &self,
        req: Request<pb::ListWafResourcesRequest>,
    ) -> Result<Response<pb::ListWafResourcesResponse>, Status> {
        Ok(Response::new(
            self.app.list_waf_resources(req.get_ref()).await?,
        ))
    }

    async fn set_web_acl_association(
        &self,
        req: Request<pb::SetWebAclAssociationRequest>,
    ) -> Result<Response<pb::WebAclAssociation>, Status> {
        let mut req = req.into_inner();
        let meta = meta(req.caller.take());
        Ok(Response::new(
            self.app.set_web_acl_association(&req, &meta).await?,
        ))
    }

    async fn get_web_acl_association(
        &self,
        req: Request<pb::GetWebAclAssociationRequest>,
    ) -> Result<Response<pb::WebAclAssociation>, Status> {
        Ok(Response::new(
            self.app.web_acl_association(&req.get_ref().pool_id).await?,
        ))
    }

    async fn update_auth_event_feedback(
        &self,
        req: Request<pb::UpdateAuthEventFeedbackRequest>,
    ) -> Result<Response<pb::UpdateAuthEventFeedbackResponse>, Status> {
        let mut req = req.into_inner();
        let meta = meta(req.caller.take());
        self.app.update_auth_event_feedback(&req, &meta).await?;
        Ok(Response::new(pb::UpdateAuthEventFeedbackResponse {}))
    }

    async fn revoke_sessions(
        &self,
        req: Request<pb::RevokeSessionsRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let session = Some(req.origin_jti).filter(|j| !j.is_empty());
        let user = self
            .app
            .revoke_sessions(&pool_id, &sub, session, req.expires_ms, req.reason, &meta)
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn list_users(
        &self,
        req: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let req = req.into_inner();
        let token = Some(req.pagination_token).filter(|t| !t.is_empty());
        let page = self
            .app
            .list_users(&req.pool_id, &req.filter, req.limit, token)
            .await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: page.users.into_iter().map(user_message).collect(),
            pagination_token: page.next.unwrap_or_default(),
        }))
    }

    async fn update_user_pool(
        &self,
        req: Request<pb::UpdateUserPoolRequest>,
    ) -> Result<Response<pb::UserPool>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (state, users) = self
            .app
            .update_pool(
                &req.pool_id,
                req.settings.unwrap_or_default(),
                req.replace_tags,
                &meta,
            )
            .await?;
        Ok(Response::new(pool_message(
            state,
            users,
            region_of(&req.pool_id),
        )))
    }

    async fn delete_user_pool(
        &self,
        req: Request<pb::DeleteUserPoolRequest>,
    ) -> Result<Response<pb::DeleteUserPoolResponse>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        self.app.delete_pool(&req.pool_id, &meta).await?;
        Ok(Response::new(pb::DeleteUserPoolResponse {}))
    }

    async fn add_custom_attributes(
        &self,
        req: Request<pb::AddCustomAttributesRequest>,
    ) -> Result<Response<pb::UserPool>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (state, users) = self
            .app
            .add_custom_attributes(&req.pool_id, req.attributes, &meta)
            .await?;
        Ok(Response::new(pool_message(
            state,
            users,
            region_of(&req.pool_id),
        )))
    }

    async fn get_signing_certificate(
        &self,
        req: Request<pb::GetSigningCertificateRequest>,
    ) -> Result<Response<pb::SigningCertificate>, Status> {
        let certificate = self
            .app
            .signing_certificate(&req.into_inner().pool_id)
            .await?;
        Ok(Response::new(pb::SigningCertificate { certificate }))
    }

    async fn sign_with_pool_key(
        &self,
        req: Request<pb::SignWithPoolKeyRequest>,
    ) -> Result<Response<pb::PoolKeySignature>, Status> {
        let req = req.into_inner();
        let signature = self.app.sign_with_pool_key(&req.pool_id, &req.data).await?;
        Ok(Response::new(pb::PoolKeySignature { signature }))
    }

    async fn tag_resource(
        &self,
        req: Request<pb::TagResourceRequest>,
    ) -> Result<Response<pb::ResourceTags>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let tags = self
            .app
            .change_tags(&req.resource_arn, req.tags, Vec::new(), &meta)
            .await?;
        Ok(Response::new(pb::ResourceTags { tags }))
    }

    async fn untag_resource(
        &self,
        req: Request<pb::UntagResourceRequest>,
    ) -> Result<Response<pb::ResourceTags>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let tags = self
            .app
            .change_tags(&req.resource_arn, Vec::new(), req.tag_keys, &meta)
            .await?;
        Ok(Response::new(pb::ResourceTags { tags }))
    }

    async fn list_tags_for_resource(
        &self,
        req: Request<pb::ListTagsForResourceRequest>,
    ) -> Result<Response<pb::ResourceTags>, Status> {
        let tags = self.app.tags(&req.into_inner().resource_arn).await?;
        Ok(Response::new(pb::ResourceTags { tags }))
    }

    async fn set_log_delivery_configuration(
        &self,
        req: Request<pb::SetLogDeliveryConfigurationRequest>,
    ) -> Result<Response<pb::LogDeliveryConfiguration>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let log_configurations = self
            .app
            .set_log_delivery(&req.pool_id, req.log_configurations, &meta)
            .await?;
        Ok(Response::new(pb::LogDeliveryConfiguration {
            pool_id: req.pool_id,
            log_configurations,
        }))
    }

    async fn get_log_delivery_configuration(
        &self,
        req: Request<pb::GetLogDeliveryConfigurationRequest>,
    ) -> Result<Response<pb::LogDeliveryConfiguration>, Status> {
        let pool_id = req.into_inner().pool_id;
        let log_configurations = self.app.log_delivery(&pool_id).await?;
        Ok(Response::new(pb::LogDeliveryConfiguration {
            pool_id,
            log_configurations,
        }))
    }

    async fn add_user_to_group(
        &self,
        req: Request<pb::UserGroupRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let user = self
            .app
            .add_user_to_group(&pool_id, &sub, &req.group_name, &meta)
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn remove_user_from_group(
        &self,
        req: Request<pb::UserGroupRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let user = self
            .app
            .remove_user_from_group(&pool_id, &sub, &req.group_name, &meta)
            .await?;
        Ok(Response::new(user_message(user)))
    }

    async fn list_groups_for_user(
        &self,
        req: Request<pb::ListGroupsForUserRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        let req = req.into_inner();
        let (pool_id, sub) = self.user_ref(req.user).await?;
        let token = Some(req.next_token).filter(|t| !t.is_empty());
        let (groups, next) = self
            .app
            .groups_for_user(&pool_id, &sub, req.limit, token)
            .await?;
        Ok(Response::new(pb::ListGroupsResponse {
            groups: groups.into_iter().map(group_message).collect(),
            next_token: next.unwrap_or_default(),
        }))
    }

    async fn list_users_in_group(
        &self,
        req: Request<pb::ListUsersInGroupRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let req = req.into_inner();
        let token = Some(req.next_token).filter(|t| !t.is_empty());
        let page = self
            .app
            .users_in_group(&req.pool_id, &req.group_name, req.limit, token)
            .await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: page.users.into_iter().map(user_message).collect(),
            pagination_token: page.next.unwrap_or_default(),
        }))
    }

    type SubscribeStream = RecordStream;

    async fn subscribe(
        &self,
        req: Request<pb::SubscribeRequest>,
    ) -> Result<Response<RecordStream>, Status> {
        let req = req.into_inner();
        let from = req.from_position.max(1);
        let pools = req.pool_ids;
        let stream = self.app.store().log().follow(from).filter_map(move |item| {
            let wanted = match &item {
                Ok(record) => pools.is_empty() || pools.iter().any(|p| p == record.stream.scope()),
                Err(_) => true,
            };
            let out = match item {
                Ok(record) if wanted => Some(
                    Batch::decode(record.data.as_ref())
                        .map(|batch| Record {
                            position: record.position,
                            stream: record.stream.to_string(),
                            batch: Some(batch),
                        })
                        .map_err(|_| Status::data_loss("undecodable record")),
                ),
                Ok(_) => None,
                Err(err) => {
                    tracing::error!(error = %err, "subscription lost the log");
                    Some(Err(Status::unavailable("event log unavailable")))
                }
            };
            futures::future::ready(out)
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn update_user_pool_client(
        &self,
        req: Request<pb::UpdateUserPoolClientRequest>,
    ) -> Result<Response<pb::UserPoolClient>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (state, secrets) = self
            .app
            .update_client(
                &req.pool_id,
                &req.client_id,
                req.settings.unwrap_or_default(),
                &meta,
            )
            .await?;
        Ok(Response::new(client_message(state, secrets)))
    }

    async fn delete_user_pool_client(
        &self,
        req: Request<pb::DeleteUserPoolClientRequest>,
    ) -> Result<Response<pb::DeleteUserPoolClientResponse>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        self.app
            .delete_client(&req.pool_id, &req.client_id, &meta)
            .await?;
        Ok(Response::new(pb::DeleteUserPoolClientResponse {}))
    }

    async fn list_user_pool_clients(
        &self,
        req: Request<pb::ListUserPoolClientsRequest>,
    ) -> Result<Response<pb::ListUserPoolClientsResponse>, Status> {
        let req = req.into_inner();
        let token = Some(req.next_token).filter(|t| !t.is_empty());
        let (clients, next) = self
            .app
            .list_clients(&req.pool_id, req.max_results, token)
            .await?;
        let clients = clients
            .into_iter()
            .map(|c| pb::UserPoolClientDescription {
                pool_id: c.pool_id,
                client_id: c.client_id,
                client_name: c.name,
            })
            .collect();
        Ok(Response::new(pb::ListUserPoolClientsResponse {
            clients,
            next_token: next.unwrap_or_default(),
        }))
    }

    async fn add_user_pool_client_secret(
        &self,
        req: Request<pb::AddUserPoolClientSecretRequest>,
    ) -> Result<Response<pb::ClientSecretDescriptor>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let (secret, value) = self
            .app
            .add_client_secret(&req.pool_id, &req.client_id, req.client_secret, &meta)
            .await?;
        Ok(Response::new(secret_message(secret, value)))
    }

    async fn delete_user_pool_client_secret(
        &self,
        req: Request<pb::DeleteUserPoolClientSecretRequest>,
    ) -> Result<Response<pb::DeleteUserPoolClientSecretResponse>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        self.app
            .delete_client_secret(&req.pool_id, &req.client_id, &req.client_secret_id, &meta)
            .await?;
        Ok(Response::new(pb::DeleteUserPoolClientSecretResponse {}))
    }

    async fn list_user_pool_client_secrets(
        &self,
        req: Request<pb::ListUserPoolClientSecretsRequest>,
    ) -> Result<Response<pb::ListUserPoolClientSecretsResponse>, Status> {
        let req = req.into_inner();
        let secrets = self
            .app
            .client_secrets(&req.pool_id, &req.client_id)
            .await?;
        Ok(Response::new(pb::ListUserPoolClientSecretsResponse {
            client_secrets: secrets
                .into_iter()
                .map(|s| secret_message(s, None))
                .collect(),
        }))
    }

    async fn create_group(
        &self,
        req: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let new = NewGroup {
            name: req.group_name,
            description: req.description,
            role_arn: req.role_arn,
            precedence: req.precedence,
        };
        let group = self.app.create_group(&req.pool_id, new, &meta).await?;
        Ok(Response::new(group_message(group)))
    }

    async fn get_group(
        &self,
        req: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let req = req.into_inner();
        let group = self.app.group(&req.pool_id, &req.group_name).await?;
        Ok(Response::new(group_message(group)))
    }

    async fn update_group(
        &self,
        req: Request<pb::UpdateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let changes = GroupChanges {
            description: req.description,
            role_arn: req.role_arn,
            precedence: req.precedence,
        };
        let group = self
            .app
            .update_group(&req.pool_id, &req.group_name, changes, &meta)
            .await?;
        Ok(Response::new(group_message(group)))
    }

    async fn delete_group(
        &self,
        req: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        self.app
            .delete_group(&req.pool_id, &req.group_name, &meta)
            .await?;
        Ok(Response::new(pb::DeleteGroupResponse {}))
    }

    // Domains, resource servers, UI customization (issue 5): adapted in grpc_config.rs.

    async fn create_user_pool_domain(
        &self,
        req: Request<pb::CreateUserPoolDomainRequest>,
    ) -> Result<Response<pb::UserPoolDomainDescription>, Status> {
        Ok(Response::new(
            config::create_domain(&self.app, req.into_inner()).await?,
        ))
    }

    async fn describe_user_pool_domain(
        &self,
        req: Request<pb::DescribeUserPoolDomainRequest>,
    ) -> Result<Response<pb::UserPoolDomainDescription>, Status> {
        Ok(Response::new(
            config::describe_domain(&self.app, req.into_inner()).await?,
        ))
    }

    async fn update_user_pool_domain(
        &self,
        req: Request<pb::UpdateUserPoolDomainRequest>,
    ) -> Result<Response<pb::UserPoolDomainDescription>, Status> {
        Ok(Response::new(
            config::update_domain(&self.app, req.into_inner()).await?,
        ))
    }

    async fn delete_user_pool_domain(
        &self,
        req: Request<pb::DeleteUserPoolDomainRequest>,
    ) -> Result<Response<pb::DeleteUserPoolDomainResponse>, Status> {
        Ok(Response::new(
            config::delete_domain(&self.app, req.into_inner()).await?,
        ))
    }

    async fn resolve_domain(
        &self,
        req: Request<pb::ResolveDomainRequest>,
    ) -> Result<Response<pb::ResolveDomainResponse>, Status> {
        Ok(Response::new(
            config::resolve_domain(&self.app, req.into_inner()).await?,
        ))
    }

    async fn create_resource_server(
        &self,
        req: Request<pb::ResourceServerRequest>,
    ) -> Result<Response<pb::ResourceServer>, Status> {
        Ok(Response::new(
            config::create_resource_server(&self.app, req.into_inner()).await?,
        ))
    }

    async fn describe_resource_server(
        &self,
        req: Request<pb::ResourceServerRef>,
    ) -> Result<Response<pb::ResourceServer>, Status> {
        Ok(Response::new(
            config::describe_resource_server(&self.app, req.into_inner()).await?,
        ))
    }

    async fn update_resource_server(
        &self,
        req: Request<pb::ResourceServerRequest>,
    ) -> Result<Response<pb::ResourceServer>, Status> {
        Ok(Response::new(
            config::update_resource_server(&self.app, req.into_inner()).await?,
        ))
    }

    async fn delete_resource_server(
        &self,
        req: Request<pb::ResourceServerRef>,
    ) -> Result<Response<pb::DeleteResourceServerResponse>, Status> {
        Ok(Response::new(
            config::delete_resource_server(&self.app, req.into_inner()).await?,
        ))
    }

    async fn list_resource_servers(
        &self,
        req: Request<pb::ListResourceServersRequest>,
    ) -> Result<Response<pb::ListResourceServersResponse>, Status> {
        Ok(Response::new(
            config::list_resource_servers(&self.app, req.into_inner()).await?,
        ))
    }

    async fn set_ui_customization(
        &self,
        req: Request<pb::SetUiCustomizationRequest>,
    ) -> Result<Response<pb::UiCustomization>, Status> {
        Ok(Response::new(
            config::set_ui_customization(&self.app, req.into_inner()).await?,
        ))
    }

    async fn get_ui_customization(
        &self,
        req: Request<pb::GetUiCustomizationRequest>,
    ) -> Result<Response<pb::UiCustomization>, Status> {
        Ok(Response::new(
            config::get_ui_customization(&self.app, req.into_inner()).await?,
        ))
    }

    async fn set_risk_configuration(
        &self,
        req: Request<pb::SetRiskConfigurationRequest>,
    ) -> Result<Response<pb::RiskConfigurationAnswer>, Status> {
        Ok(Response::new(
            config::set_risk_configuration(&self.app, req.into_inner()).await?,
        ))
    }

    async fn describe_risk_configuration(
        &self,
        req: Request<pb::DescribeRiskConfigurationRequest>,
    ) -> Result<Response<pb::RiskConfigurationAnswer>, Status> {
        Ok(Response::new(
            config::describe_risk_configuration(&self.app, req.into_inner()).await?,
        ))
    }

    async fn create_managed_login_branding(
        &self,
        req: Request<pb::ManagedLoginBrandingRequest>,
    ) -> Result<Response<pb::ManagedLoginBrandingDescription>, Status> {
        Ok(Response::new(
            config::create_branding(&self.app, req.into_inner()).await?,
        ))
    }

    async fn describe_managed_login_branding(
        &self,
        req: Request<pb::ManagedLoginBrandingRef>,
    ) -> Result<Response<pb::ManagedLoginBrandingDescription>, Status> {
        Ok(Response::new(
            config::describe_branding(&self.app, req.into_inner()).await?,
        ))
    }

    async fn update_managed_login_branding(
        &self,
        req: Request<pb::ManagedLoginBrandingRequest>,
    ) -> Result<Response<pb::ManagedLoginBrandingDescription>, Status> {
        Ok(Response::new(
            config::update_branding(&self.app, req.into_inner()).await?,
        ))
    }

    async fn delete_managed_login_branding(
        &self,
        req: Request<pb::ManagedLoginBrandingRef>,
    ) -> Result<Response<pb::DeleteManagedLoginBrandingResponse>, Status> {
        Ok(Response::new(
            config::delete_branding(&self.app, req.into_inner()).await?,
        ))
    }

    async fn list_groups(
        &self,
        req: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        let req = req.into_inner();
        let token = Some(req.next_token).filter(|t| !t.is_empty());
        let (groups, next) = self.app.list_groups(&req.pool_id, req.limit, token).await?;
        Ok(Response::new(pb::ListGroupsResponse {
            groups: groups.into_iter().map(group_summary_message).collect(),
            next_token: next.unwrap_or_default(),
        }))
    }

    async fn get_csv_header(
        &self,
        req: Request<pb::GetCsvHeaderRequest>,
    ) -> Result<Response<pb::CsvHeader>, Status> {
        let columns = self.app.csv_header(&req.into_inner().pool_id).await?;
        Ok(Response::new(pb::CsvHeader { columns }))
    }

    async fn create_user_import_job(
        &self,
        req: Request<pb::CreateUserImportJobRequest>,
    ) -> Result<Response<pb::UserImportJob>, Status> {
        let req = req.into_inner();
        let meta = meta(req.caller);
        let view = self
            .app
            .create_import_job(
                &req.pool_id,
                &req.job_name,
                &req.cloud_watch_logs_role_arn,
                &req.password_hashing_algorithm,
                &meta,
            )
            .await?;
        Ok(Response::new(import_job_message(view)))
    }

    async fn upload_user_import_chunk(
        &self,
        req: Request<pb::UploadUserImportChunkRequest>,
    ) -> Result<Response<pb::UploadUserImportChunkResponse>, Status> {
        let req = req.into_inner();
        if req.check {
            self.app
                .check_import_upload(&req.pool_id, &req.job_id, &req.token)
                .await?;
            return Ok(Response::new(pb::UploadUserImportChunkResponse {}));
        }
        let meta = meta(req.caller);
        self.app
            .upload_import_chunk(
                &req.pool_id,
                &req.job_id,
                &req.token,
                &req.upload_id,
                req.index,
                bytes::Bytes::from(req.data),
                req.last.then_some(req.size_bytes),
                &meta,
            )
            .await?;
        Ok(Response::new(pb::UploadUserImportChunkResponse {}))
    }

    async fn start_user_import_job(
        &self,
        req: Request<pb::UserImportJobRequest>,
    ) -> Result<Response<pb::UserImportJob>, Status> {
        let job = self
            .import_rpc(req.into_inner(), ImportAction::Start)
            .await?;
        Ok(Response::new(job))
    }

    async fn stop_user_import_job(
        &self,
        req: Request<pb::UserImportJobRequest>,
    ) -> Result<Response<pb::UserImportJob>, Status> {
        let job = self
            .import_rpc(req.into_inner(), ImportAction::Stop)
            .await?;
        Ok(Response::new(job))
    }

    async fn describe_user_import_job(
        &self,
        req: Request<pb::UserImportJobRequest>,
    ) -> Result<Response<pb::UserImportJob>, Status> {
        let job = self
            .import_rpc(req.into_inner(), ImportAction::Describe)
            .await?;
        Ok(Response::new(job))
    }

    async fn list_user_import_jobs(
        &self,
        req: Request<pb::ListUserImportJobsRequest>,
    ) -> Result<Response<pb::ListUserImportJobsResponse>, Status> {
        let req = req.into_inner();
        let token = Some(req.pagination_token).filter(|t| !t.is_empty());
        let (jobs, next) = self
            .app
            .list_import_jobs(&req.pool_id, req.max_results, token)
            .await?;
        Ok(Response::new(pb::ListUserImportJobsResponse {
            jobs: jobs.into_iter().map(import_job_message).collect(),
            pagination_token: next.unwrap_or_default(),
        }))
    }
}

fn import_job_message(view: JobView) -> pb::UserImportJob {
    let JobView {
        state,
        upload_token,
    } = view;
    pb::UserImportJob {
        pool_id: state.pool_id,
        job_id: state.job_id,
        job_name: state.job_name,
        upload_token,
        creation_date: seconds(state.created_ms),
        start_date: state.started_ms.map_or(0, seconds),
        completion_date: state.completed_ms.map_or(0, seconds),
        status: state.status.as_str().to_owned(),
        cloud_watch_logs_role_arn: state.role_arn,
        imported_users: state.counts.imported,
        skipped_users: state.counts.skipped,
        failed_users: state.counts.failed,
        completion_message: state.message,
        password_hashing_algorithm: state.hashing_algorithm,
    }
}

/// User import jobs; a separate block of the same trait, so the import rpcs read as one.
impl DirectoryService {
    async fn import_rpc(
        &self,
        req: pb::UserImportJobRequest,
        action: ImportAction,
    ) -> Result<pb::UserImportJob, ApiError> {
        let meta = meta(req.caller);
        let (pool, job) = (&req.pool_id, &req.job_id);
        let view = match action {
            ImportAction::Start => self.app.start_import_job(pool, job, &meta).await?,
            ImportAction::Stop => self.app.stop_import_job(pool, job, &meta).await?,
            ImportAction::Describe => self.app.import_job(pool, job).await?,
        };
        Ok(import_job_message(view))
    }
}

enum ImportAction {
    Start,
    Stop,
    Describe,
}
