//! The table of user-pool operations in `docs/user-pool-operations.md`, generated from
//! the AWS model and the gateway's own dispatch table, so it cannot drift: a unit test
//! compares the file with what this renders (`PORTCULLIS_BLESS=1` rewrites it).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::{MODEL, OWN_OPERATIONS, ops};

/// Where an operation that is not implemented yet is planned, by name.
fn planned_in(operation: &str) -> &'static str {
    let has = |parts: &[&str]| parts.iter().any(|p| operation.contains(p));
    if has(&["UserImportJob", "CSVHeader"]) {
        "user pools (issue 3)"
    } else if has(&[
        "Device",
        "MFA",
        "Mfa",
        "SoftwareToken",
        "WebAuthn",
        "AuthFactors",
        "GlobalSignOut",
        "RevokeToken",
        "GetTokensFromRefreshToken",
    ]) {
        "sign-in: MFA, devices, passkeys, token lifecycle (issue 4)"
    } else if has(&["IdentityProvider", "ProviderForUser"]) {
        "federation (issue 18)"
    } else if has(&["RiskConfiguration", "AuthEvent"]) {
        "threat protection (issue 19)"
    } else {
        "not yet filed"
    }
}

/// The Markdown of `docs/user-pool-operations.md`.
pub fn render() -> String {
    let model: Value = serde_json::from_str(MODEL).unwrap_or(Value::Null);
    let mut operations: BTreeMap<String, bool> = BTreeMap::new();
    if let Some(all) = model["operations"].as_object() {
        for name in all.keys() {
            operations.insert(name.clone(), ops::IMPLEMENTED.contains(&name.as_str()));
        }
    }
    let done = operations.values().filter(|d| **d).count();
    let mut out = String::new();
    out.push_str("# User-pool operations\n\n");
    out.push_str(
        "Generated from the Cognito model (`services/gateway/contracts/cognito-idp.service-2.json`)\n\
         and the gateway's dispatch table by `cargo test -p portcullis-gateway catalog`;\n\
         regenerate with `PORTCULLIS_BLESS=1 cargo test -p portcullis-gateway catalog`.\n\
         An operation that is not implemented answers `UnsupportedOperationException`.\n\
         What each implemented operation does and does not do yet is in the README's feature table.\n\n",
    );
    let _ = writeln!(
        out,
        "{done} of {} operations implemented.\n",
        operations.len()
    );
    out.push_str("| Operation | Status |\n|---|---|\n");
    for (name, implemented) in &operations {
        let status = if *implemented {
            "implemented".to_owned()
        } else {
            format!("not implemented — {}", planned_in(name))
        };
        let _ = writeln!(out, "| `{name}` | {status} |");
    }
    let own: Vec<String> = OWN_OPERATIONS.iter().map(|o| format!("`{o}`")).collect();
    let _ = writeln!(
        out,
        "\nPortcullis's own operations, beside the model's and signed as its administrator \
         operations are (the README describes them): {}.",
        own.join(", ")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_implemented_operation_is_in_the_model() {
        let model: Value = serde_json::from_str(MODEL).unwrap_or(Value::Null);
        for name in ops::IMPLEMENTED {
            let own = OWN_OPERATIONS.contains(name);
            assert!(model["operations"].get(*name).is_some() != own, "{name}");
        }
    }

    #[test]
    fn catalog_in_docs_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/user-pool-operations.md"
        );
        let rendered = render();
        if std::env::var_os("PORTCULLIS_BLESS").is_some() {
            std::fs::write(path, &rendered).unwrap_or_else(|e| panic!("write {path}: {e}"));
            return;
        }
        let current = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            current == rendered,
            "docs/user-pool-operations.md is stale: run PORTCULLIS_BLESS=1 cargo test -p portcullis-gateway catalog"
        );
    }
}
