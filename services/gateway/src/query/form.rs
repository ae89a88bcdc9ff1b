//! The query protocol's request: a form of `Action`, `Version` and members flattened as
//! AWS flattens them (`ClientIDList.member.1`, `Tags.member.1.Key`).

use std::collections::HashMap;

use portcullis_errors::{ApiError, ErrorCode};

/// A parsed form; later duplicates of a name are ignored, as AWS does.
#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, String>,
}

fn validation(message: String) -> ApiError {
    ApiError::new(ErrorCode::ValidationError, message)
}

/// `roleName` for `RoleName`: how AWS's messages name a member.
fn member_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl Params {
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| validation("The request body is not a valid form.".to_owned()))?;
        let mut values = HashMap::new();
        for (name, value) in pairs {
            values.entry(name).or_insert(value);
        }
        Ok(Self { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A member the operation cannot do without.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| {
            validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                member_name(name)
            ))
        })
    }

    pub fn number(&self, name: &str) -> Result<Option<u32>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    validation(format!(
                        "Invalid value '{v}' for '{}': not a number.",
                        member_name(name)
                    ))
                })
            })
            .transpose()
    }

    /// `<name>.member.1`, `<name>.member.2`, ... up to the first gap.
    pub fn list(&self, name: &str) -> Vec<String> {
        (1..)
            .map_while(|i| self.get(&format!("{name}.member.{i}")).map(str::to_owned))
            .collect()
    }

    /// `<name>.member.N.Key` / `.Value` pairs.
    pub fn tags(&self, name: &str) -> HashMap<String, String> {
        (1..)
            .map_while(|i| {
                let key = self.get(&format!("{name}.member.{i}.Key"))?;
                let value = self
                    .get(&format!("{name}.member.{i}.Value"))
                    .unwrap_or_default();
                Some((key.to_owned(), value.to_owned()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_members_are_read_back() {
        let body = b"Action=CreateOpenIDConnectProvider&Version=2010-05-08\
            &Url=https%3A%2F%2Fissuer.example.com&ClientIDList.member.1=app&ClientIDList.member.2=b%2Bc\
            &Tags.member.1.Key=team&Tags.member.1.Value=id&Tags.member.2.Key=empty&MaxItems=2";
        let params = Params::parse(body).unwrap();
        assert_eq!(params.get("Action"), Some("CreateOpenIDConnectProvider"));
        assert_eq!(params.get("Url"), Some("https://issuer.example.com"));
        assert_eq!(params.list("ClientIDList"), ["app", "b+c"]);
        assert!(params.list("ThumbprintList").is_empty());
        let tags = params.tags("Tags");
        assert_eq!(tags.get("team").map(String::as_str), Some("id"));
        assert_eq!(tags.get("empty").map(String::as_str), Some(""));
        assert_eq!(params.number("MaxItems").unwrap(), Some(2));
    }

    #[test]
    fn missing_and_malformed_members_are_validation_errors() {
        let params = Params::parse(b"MaxItems=many").unwrap();
        let err = params.required("RoleName").unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationError);
        assert!(err.message.contains("'roleName'"));
        assert!(params.number("MaxItems").is_err());
    }
}
