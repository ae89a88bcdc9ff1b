//! A user's tracked devices: confirmed by authn-flow after a sign-in issued the device,
//! read, updated and forgotten by the user (access token) or an administrator.

use portcullis_errors::ApiError;

use super::{CommandMeta, Directory, check_limit};
use crate::domain::device::{self, DeviceCommand, DeviceState};
use crate::domain::user::UserCommand;

impl Directory {
    pub async fn device_command(
        &self,
        pool_id: &str,
        sub: &str,
        command: DeviceCommand,
        meta: &CommandMeta,
    ) -> Result<Option<DeviceState>, ApiError> {
        let key = match &command {
            DeviceCommand::Confirm { device_key, .. }
            | DeviceCommand::UpdateStatus { device_key, .. }
            | DeviceCommand::Forget { device_key }
            | DeviceCommand::RecordSignIn { device_key } => device_key.clone(),
        };
        let user = self
            .on_user(pool_id, sub, &UserCommand::Device(command), meta)
            .await?;
        Ok(user.devices.into_iter().find(|d| d.device_key == key))
    }

    pub async fn device(
        &self,
        pool_id: &str,
        sub: &str,
        device_key: &str,
    ) -> Result<DeviceState, ApiError> {
        let user = self.user_by_sub(pool_id, sub).await?;
        device::find(&user.devices, device_key).cloned()
    }

    /// A page of the user's devices, oldest first; the token is the last key of the
    /// previous page.
    pub async fn list_devices(
        &self,
        pool_id: &str,
        sub: &str,
        limit: u32,
        token: Option<String>,
    ) -> Result<(Vec<DeviceState>, Option<String>), ApiError> {
        check_limit(limit)?;
        let user = self.user_by_sub(pool_id, sub).await?;
        let start = match token {
            None => 0,
            Some(token) => {
                user.devices
                    .iter()
                    .position(|d| d.device_key == token)
                    .ok_or_else(|| ApiError::invalid_parameter("Invalid pagination token."))?
                    + 1
            }
        };
        let limit = if limit == 0 { 60 } else { limit as usize };
        let page: Vec<DeviceState> = user
            .devices
            .iter()
            .skip(start)
            .take(limit)
            .cloned()
            .collect();
        let next = (start + page.len() < user.devices.len())
            .then(|| page.last().map(|d| d.device_key.clone()))
            .flatten();
        Ok((page, next))
    }
}
