//! One row of a user import file, checked the way Cognito checks it: the header must be
//! the pool's (any order), `cognito:username` and `cognito:mfa_enabled` must be set, and
//! at least one of the pool's auto-verified attributes must be present and verified.

use std::collections::HashSet;

use portcullis_proto::events::v1::{Attribute, UserPoolSettings};

use super::import_job::csv_header;

/// A row's user, checked against Cognito's import rules.
pub struct RowUser {
    pub username: String,
    pub attributes: Vec<Attribute>,
    pub mfa_enabled: bool,
}

/// The header's columns, checked against the pool's CSV header.
pub struct Columns {
    names: Vec<String>,
}

impl Columns {
    /// Every column of the pool's header must be there (in any order), and no other.
    pub fn new(settings: &UserPoolSettings, header: &[String]) -> Result<Self, String> {
        let expected = csv_header(settings);
        let mut seen = HashSet::new();
        for name in header {
            if !expected.contains(name) {
                return Err(format!("The CSV header has an unknown column: {name}."));
            }
            if !seen.insert(name.as_str()) {
                return Err(format!("The CSV header repeats the column {name}."));
            }
        }
        if let Some(missing) = expected.iter().find(|n| !seen.contains(n.as_str())) {
            return Err(format!("The CSV header lacks the column {missing}."));
        }
        Ok(Self {
            names: header.to_vec(),
        })
    }

    pub fn user(
        &self,
        settings: &UserPoolSettings,
        fields: &[String],
    ) -> Result<RowUser, &'static str> {
        if fields.len() != self.names.len() {
            return Err("the row does not have one value per header column");
        }
        let value = |name: &str| {
            self.names
                .iter()
                .position(|n| n == name)
                .map_or("", |i| fields[i].as_str())
        };
        let username = value("cognito:username");
        if username.is_empty() {
            return Err("cognito:username is empty");
        }
        let mfa_enabled = match value("cognito:mfa_enabled").to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err("cognito:mfa_enabled must be true or false"),
        };
        let verified = settings.auto_verified_attributes.iter().any(|attribute| {
            value(&format!("{attribute}_verified")).eq_ignore_ascii_case("true")
                && !value(attribute).is_empty()
        });
        if !verified {
            return Err(
                "The User Record does not set any of the auto verified attributes to true.",
            );
        }
        if mfa_enabled && value("phone_number").is_empty() {
            return Err("cognito:mfa_enabled is true but there is no phone_number");
        }
        let attributes = self
            .names
            .iter()
            .zip(fields)
            .filter(|(name, value)| !name.starts_with("cognito:") && !value.is_empty())
            .map(|(name, value)| {
                let value = if name.ends_with("_verified") {
                    value.to_ascii_lowercase()
                } else {
                    value.clone()
                };
                Attribute {
                    name: name.clone(),
                    value,
                }
            })
            .collect();
        Ok(RowUser {
            username: username.to_owned(),
            attributes,
            mfa_enabled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schema;

    fn settings() -> UserPoolSettings {
        UserPoolSettings {
            schema: schema::resolve(&[]).unwrap(),
            auto_verified_attributes: vec!["email".into()],
            ..Default::default()
        }
    }

    fn row(columns: &Columns, values: &[(&str, &str)]) -> Vec<String> {
        columns
            .names
            .iter()
            .map(|n| {
                values
                    .iter()
                    .find(|(k, _)| k == n)
                    .map_or(String::new(), |(_, v)| (*v).to_owned())
            })
            .collect()
    }

    #[test]
    fn a_row_needs_a_verified_auto_verified_attribute() {
        let settings = settings();
        let columns = Columns::new(&settings, &csv_header(&settings)).unwrap();
        let good = row(
            &columns,
            &[
                ("cognito:username", "alice"),
                ("cognito:mfa_enabled", "FALSE"),
                ("email", "alice@example.com"),
                ("email_verified", "TRUE"),
            ],
        );
        let user = columns.user(&settings, &good).unwrap();
        assert_eq!(user.username, "alice");
        assert!(!user.mfa_enabled);
        assert!(
            user.attributes
                .iter()
                .any(|a| a.name == "email_verified" && a.value == "true")
        );
        let unverified = row(
            &columns,
            &[
                ("cognito:username", "bob"),
                ("cognito:mfa_enabled", "false"),
                ("email", "bob@example.com"),
                ("email_verified", "false"),
            ],
        );
        assert!(columns.user(&settings, &unverified).is_err());
    }

    #[test]
    fn the_header_must_be_the_pools() {
        let settings = settings();
        let mut header = csv_header(&settings);
        header.reverse();
        assert!(Columns::new(&settings, &header).is_ok());
        header.pop();
        assert!(Columns::new(&settings, &header).is_err());
        header.push("shoe_size".into());
        assert!(Columns::new(&settings, &header).is_err());
    }
}
