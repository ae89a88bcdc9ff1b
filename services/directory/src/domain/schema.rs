//! The attribute schema: Cognito's standard attributes plus a pool's `custom:` ones.

use portcullis_proto::events::v1::{NumberConstraints, SchemaAttribute, StringConstraints};

use super::ApiError;

/// Standard attributes as Cognito describes them: (name, data type).
const STANDARD: &[(&str, &str)] = &[
    ("sub", "String"),
    ("name", "String"),
    ("given_name", "String"),
    ("family_name", "String"),
    ("middle_name", "String"),
    ("nickname", "String"),
    ("preferred_username", "String"),
    ("profile", "String"),
    ("picture", "String"),
    ("website", "String"),
    ("email", "String"),
    ("email_verified", "Boolean"),
    ("gender", "String"),
    ("birthdate", "String"),
    ("zoneinfo", "String"),
    ("locale", "String"),
    ("phone_number", "String"),
    ("phone_number_verified", "Boolean"),
    ("address", "String"),
    ("updated_at", "Number"),
    ("identities", "String"),
];

fn standard_attribute(name: &str, data_type: &str) -> SchemaAttribute {
    let strings = |min: &str, max: &str| StringConstraints {
        min_length: Some(min.into()),
        max_length: Some(max.into()),
    };
    SchemaAttribute {
        name: name.into(),
        attribute_data_type: data_type.into(),
        developer_only_attribute: false,
        mutable: name != "sub",
        required: name == "sub",
        number_attribute_constraints: (data_type == "Number").then(|| NumberConstraints {
            min_value: Some("0".into()),
            max_value: None,
        }),
        string_attribute_constraints: (data_type == "String").then(|| match name {
            "sub" => strings("1", "2048"),
            "birthdate" => strings("10", "10"),
            _ => strings("0", "2048"),
        }),
    }
}

pub fn is_standard(name: &str) -> bool {
    STANDARD.iter().any(|(n, _)| *n == name)
}

/// The full schema of a new pool: standard attributes (with the request's overrides of
/// `required`/`mutable`) followed by its custom attributes, named `custom:<name>`.
pub fn resolve(requested: &[SchemaAttribute]) -> Result<Vec<SchemaAttribute>, ApiError> {
    let mut schema: Vec<SchemaAttribute> = STANDARD
        .iter()
        .map(|(name, ty)| standard_attribute(name, ty))
        .collect();
    for attr in requested {
        let name = attr.name.strip_prefix("custom:").unwrap_or(&attr.name);
        if name.is_empty() || name.chars().count() > 20 {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid attribute name {}: length must be between 1 and 20.",
                attr.name
            )));
        }
        if !["String", "Number", "DateTime", "Boolean"].contains(&attr.attribute_data_type.as_str())
        {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid AttributeDataType input, consider using the provided AttributeDataType enum. ({})",
                attr.attribute_data_type
            )));
        }
        if let Some(standard) = schema.iter_mut().find(|s| s.name == attr.name) {
            if attr.name == "sub" {
                continue;
            }
            standard.required = attr.required;
            standard.mutable = attr.mutable;
            continue;
        }
        if attr.required {
            return Err(ApiError::invalid_parameter(
                "Required custom attributes are not supported currently.",
            ));
        }
        let mut custom = attr.clone();
        custom.name = format!("custom:{name}");
        if custom.attribute_data_type == "String" && custom.string_attribute_constraints.is_none() {
            custom.string_attribute_constraints = Some(StringConstraints {
                min_length: None,
                max_length: None,
            });
        }
        schema.push(custom);
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_attributes_come_first_and_custom_ones_are_prefixed() {
        let schema = resolve(&[SchemaAttribute {
            name: "tenant".into(),
            attribute_data_type: "String".into(),
            mutable: true,
            ..Default::default()
        }])
        .unwrap();
        assert_eq!(schema[0].name, "sub");
        assert!(schema[0].required && !schema[0].mutable);
        assert_eq!(schema.last().unwrap().name, "custom:tenant");
    }

    #[test]
    fn standard_overrides_apply() {
        let schema = resolve(&[SchemaAttribute {
            name: "email".into(),
            attribute_data_type: "String".into(),
            required: true,
            mutable: true,
            ..Default::default()
        }])
        .unwrap();
        assert!(schema.iter().find(|a| a.name == "email").unwrap().required);
    }

    #[test]
    fn required_custom_attributes_are_refused() {
        let err = resolve(&[SchemaAttribute {
            name: "x".into(),
            attribute_data_type: "String".into(),
            required: true,
            ..Default::default()
        }])
        .unwrap_err();
        assert!(err.message.contains("Required custom attributes"));
    }
}
