//! A user's tracked devices (Cognito's remembered devices). They live on the user's
//! stream: a device belongs to one user, goes with the user, and listing a user's
//! devices is reading the user.

use portcullis_proto::events::v1::{
    DeviceConfirmed, DeviceForgotten, DeviceSignedIn, DeviceStatusUpdated,
};

use super::{ApiError, Event};

pub const REMEMBERED: &str = "remembered";
pub const NOT_REMEMBERED: &str = "not_remembered";

/// Cognito's quota of devices per user: the oldest is forgotten beyond it.
pub const MAX_DEVICES_PER_USER: usize = 100;

#[derive(Clone, PartialEq, Eq)]
pub struct DeviceState {
    pub device_key: String,
    pub device_group_key: String,
    pub device_name: String,
    pub remembered_status: String,
    pub password_verifier: Vec<u8>,
    pub salt: Vec<u8>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub last_authenticated_ms: i64,
}

/// The verifier stays out of logs.
impl std::fmt::Debug for DeviceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceState")
            .field("device_key", &self.device_key)
            .field("device_name", &self.device_name)
            .field("remembered_status", &self.remembered_status)
            .finish_non_exhaustive()
    }
}

pub enum DeviceCommand {
    Confirm {
        device_key: String,
        device_group_key: String,
        device_name: String,
        password_verifier: Vec<u8>,
        salt: Vec<u8>,
        remembered_status: String,
    },
    UpdateStatus {
        device_key: String,
        remembered_status: String,
    },
    Forget {
        device_key: String,
    },
    RecordSignIn {
        device_key: String,
    },
}

pub fn device_not_found() -> ApiError {
    ApiError::not_found("Device does not exist.")
}

fn check_status(status: &str) -> Result<(), ApiError> {
    if status == REMEMBERED || status == NOT_REMEMBERED {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{status}' at 'deviceRememberedStatus' failed to satisfy constraint: Member must satisfy enum value set: [remembered, not_remembered]"
        )))
    }
}

pub fn find<'a>(devices: &'a [DeviceState], key: &str) -> Result<&'a DeviceState, ApiError> {
    devices
        .iter()
        .find(|d| d.device_key == key)
        .ok_or_else(device_not_found)
}

pub fn decide(devices: &[DeviceState], command: &DeviceCommand) -> Result<Vec<Event>, ApiError> {
    Ok(match command {
        DeviceCommand::Confirm {
            device_key,
            device_group_key,
            device_name,
            password_verifier,
            salt,
            remembered_status,
        } => {
            check_status(remembered_status)?;
            if password_verifier.is_empty() || salt.is_empty() {
                return Err(ApiError::invalid_parameter(
                    "DeviceSecretVerifierConfig must have PasswordVerifier and Salt.",
                ));
            }
            let mut events = Vec::new();
            if devices.len() >= MAX_DEVICES_PER_USER
                && let Some(oldest) = devices.iter().min_by_key(|d| d.last_authenticated_ms)
                && !devices.iter().any(|d| d.device_key == *device_key)
            {
                events.push(Event::DeviceForgotten(DeviceForgotten {
                    device_key: oldest.device_key.clone(),
                }));
            }
            events.push(Event::DeviceConfirmed(DeviceConfirmed {
                device_key: device_key.clone(),
                device_group_key: device_group_key.clone(),
                device_name: device_name.clone(),
                password_verifier: password_verifier.clone(),
                salt: salt.clone(),
                remembered_status: remembered_status.clone(),
            }));
            events
        }
        DeviceCommand::UpdateStatus {
            device_key,
            remembered_status,
        } => {
            check_status(remembered_status)?;
            let device = find(devices, device_key)?;
            if device.remembered_status == *remembered_status {
                Vec::new()
            } else {
                vec![Event::DeviceStatusUpdated(DeviceStatusUpdated {
                    device_key: device_key.clone(),
                    remembered_status: remembered_status.clone(),
                })]
            }
        }
        DeviceCommand::Forget { device_key } => {
            find(devices, device_key)?;
            vec![Event::DeviceForgotten(DeviceForgotten {
                device_key: device_key.clone(),
            })]
        }
        DeviceCommand::RecordSignIn { device_key } => {
            find(devices, device_key)?;
            vec![Event::DeviceSignedIn(DeviceSignedIn {
                device_key: device_key.clone(),
            })]
        }
    })
}

/// Folds a device event into the user's devices; false for any other event.
pub fn evolve(devices: &mut Vec<DeviceState>, event: &Event, at_ms: i64) -> bool {
    match event {
        Event::DeviceConfirmed(e) => {
            let created_ms = devices
                .iter()
                .find(|d| d.device_key == e.device_key)
                .map_or(at_ms, |d| d.created_ms);
            devices.retain(|d| d.device_key != e.device_key);
            devices.push(DeviceState {
                device_key: e.device_key.clone(),
                device_group_key: e.device_group_key.clone(),
                device_name: e.device_name.clone(),
                remembered_status: e.remembered_status.clone(),
                password_verifier: e.password_verifier.clone(),
                salt: e.salt.clone(),
                created_ms,
                modified_ms: at_ms,
                last_authenticated_ms: at_ms,
            });
        }
        Event::DeviceStatusUpdated(e) => {
            if let Some(d) = devices.iter_mut().find(|d| d.device_key == e.device_key) {
                d.remembered_status.clone_from(&e.remembered_status);
                d.modified_ms = at_ms;
            }
        }
        Event::DeviceForgotten(e) => devices.retain(|d| d.device_key != e.device_key),
        Event::DeviceSignedIn(e) => {
            if let Some(d) = devices.iter_mut().find(|d| d.device_key == e.device_key) {
                d.last_authenticated_ms = at_ms;
            }
        }
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confirm(key: &str, status: &str) -> DeviceCommand {
        DeviceCommand::Confirm {
            device_key: key.into(),
            device_group_key: "-group".into(),
            device_name: "phone".into(),
            password_verifier: vec![1, 2, 3],
            salt: vec![4, 5],
            remembered_status: status.into(),
        }
    }

    fn run(devices: &mut Vec<DeviceState>, command: &DeviceCommand, at: i64) -> usize {
        let events = decide(devices, command).unwrap();
        for event in &events {
            assert!(evolve(devices, event, at));
        }
        events.len()
    }

    #[test]
    fn a_device_is_confirmed_updated_and_forgotten() {
        let mut devices = Vec::new();
        run(&mut devices, &confirm("r_1", NOT_REMEMBERED), 1_000);
        assert_eq!(devices[0].remembered_status, NOT_REMEMBERED);
        let update = DeviceCommand::UpdateStatus {
            device_key: "r_1".into(),
            remembered_status: REMEMBERED.into(),
        };
        assert_eq!(run(&mut devices, &update, 2_000), 1);
        assert_eq!(devices[0].remembered_status, REMEMBERED);
        assert_eq!(devices[0].modified_ms, 2_000);
        assert_eq!(devices[0].created_ms, 1_000);
        // The same status again changes nothing.
        assert_eq!(run(&mut devices, &update, 3_000), 0);
        let forget = DeviceCommand::Forget {
            device_key: "r_1".into(),
        };
        run(&mut devices, &forget, 4_000);
        assert!(devices.is_empty());
        let err = decide(&devices, &forget).unwrap_err();
        assert_eq!(err.message, "Device does not exist.");
    }

    #[test]
    fn beyond_the_quota_the_least_recently_used_device_is_forgotten() {
        let mut devices = Vec::new();
        for i in 0..MAX_DEVICES_PER_USER {
            run(
                &mut devices,
                &confirm(&format!("r_{i}"), REMEMBERED),
                1_000 + i as i64,
            );
        }
        // r_0 signs in again: r_1 is now the one used longest ago.
        let used = DeviceCommand::RecordSignIn {
            device_key: "r_0".into(),
        };
        run(&mut devices, &used, 5_000);
        assert_eq!(run(&mut devices, &confirm("r_new", REMEMBERED), 6_000), 2);
        assert_eq!(devices.len(), MAX_DEVICES_PER_USER);
        assert!(find(&devices, "r_1").is_err());
        assert!(find(&devices, "r_0").is_ok() && find(&devices, "r_new").is_ok());
    }

    #[test]
    fn statuses_are_cognitos() {
        let err = decide(&[], &confirm("r_1", "maybe")).unwrap_err();
        assert!(err.message.contains("deviceRememberedStatus"));
    }

    #[test]
    fn the_verifier_is_not_in_debug_output() {
        let mut devices = Vec::new();
        run(&mut devices, &confirm("r_1", REMEMBERED), 1_000);
        let shown = format!("{:?}", devices[0]);
        assert!(!shown.contains("password_verifier") && !shown.contains("salt"));
    }
}
