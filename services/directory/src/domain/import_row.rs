//! One row of a user import file, checked the way Cognito checks it: the header must be
//! the pool's (any order), `cognito:username` and `cognito:mfa_enabled` must be set, and
//! at least one of the pool's auto-verified attributes must be present and verified.
//!
//! Beyond Cognito, the header may add [`PASSWORD_HASH`] (which `GetCSVHeader` does not
//! list, so files made for Cognito lack it): a row's password hash from another system
//! (bcrypt, scrypt, PBKDF2, argon2, in the forms `portcullis_password_hashes` reads), of
//! the job's `PasswordHashingAlgorithm` when it names one. Such a user is imported
//! confirmed and signs in with their old password.

use std::collections::HashSet;

use portcullis_proto::events::v1::{Attribute, UserPoolSettings};

use super::import_job::csv_header;

/// The optional column of a row's password hash.
pub const PASSWORD_HASH: &str = "cognito:password_hash";

/// A row's user, checked against Cognito's import rules.
pub struct RowUser {
    pub username: String,
    pub attributes: Vec<Attribute>,
    pub mfa_enabled: bool,
    /// The row's password hash in its stored form, when it has one.
    pub password_hash: Option<String>,
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
            if !expected.contains(name) && name != PASSWORD_HASH {
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

    /// The row's user; `algorithm` is the job's `PasswordHashingAlgorithm` (empty for
    /// any).
    pub fn user(
        &self,
        settings: &UserPoolSettings,
        fields: &[String],
        algorithm: &str,
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
        let password_hash = match value(PASSWORD_HASH) {
            "" => None,
            given => Some(stored_hash(given, algorithm)?),
        };
        Ok(RowUser {
            username: username.to_owned(),
            attributes,
            mfa_enabled,
            password_hash,
        })
    }
}

/// A row's password hash in its stored form, checked to be verifiable and of the job's
/// algorithm.
fn stored_hash(given: &str, algorithm: &str) -> Result<String, &'static str> {
    let stored = portcullis_password_hashes::normalize(given)
        .filter(|hash| portcullis_password_hashes::accepts(hash))
        .ok_or("cognito:password_hash is not a supported password hash")?;
    let prefixes: &[&str] = match algorithm {
        "" => &[""],
        "BCRYPT" => &["$2a$", "$2b$", "$2y$"],
        "SCRYPT" => &["$scrypt$"],
        "ARGON2ID" => &["$argon2id$"],
        "PBKDF2_SHA256" => &["$pbkdf2-sha256$"],
        _ => &[],
    };
    if prefixes.iter().any(|p| stored.starts_with(p)) {
        Ok(stored)
    } else {
        Err("cognito:password_hash is not of the job's PasswordHashingAlgorithm")
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
        let user = columns.user(&settings, &good, "").unwrap();
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
        assert!(columns.user(&settings, &unverified, "").is_err());
    }

    #[test]
    fn a_row_may_carry_a_password_hash_of_the_jobs_algorithm() {
        let settings = settings();
        let mut header = csv_header(&settings);
        header.push(PASSWORD_HASH.into());
        let columns = Columns::new(&settings, &header).unwrap();
        // PBKDF2-HMAC-SHA256("password", "salt", 1 iteration), Django's form.
        let django = "pbkdf2_sha256$1$salt$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs=";
        let with = |hash: &str| {
            row(
                &columns,
                &[
                    ("cognito:username", "carol"),
                    ("cognito:mfa_enabled", "false"),
                    ("email", "carol@example.com"),
                    ("email_verified", "true"),
                    (PASSWORD_HASH, hash),
                ],
            )
        };
        let user = columns
            .user(&settings, &with(django), "PBKDF2_SHA256")
            .unwrap();
        let stored = user.password_hash.unwrap();
        assert!(stored.starts_with("$pbkdf2-sha256$i=1$"), "{stored}");
        assert!(user.attributes.iter().all(|a| a.name != PASSWORD_HASH));
        assert!(columns.user(&settings, &with(django), "BCRYPT").is_err());
        assert!(columns.user(&settings, &with("not a hash"), "").is_err());
        let empty = columns.user(&settings, &with(""), "BCRYPT").unwrap();
        assert!(empty.password_hash.is_none());
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
