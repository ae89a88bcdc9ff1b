//! A web ACL's rules as `CreateWebACL` / `UpdateWebACL` bring them (`DefaultAction`,
//! `Rules`) and an IP set's addresses: parsed and checked; what is accepted names its IP
//! sets and is parsed the same again.
//!
//! Input: a JSON object with `DefaultAction` and `Rules`, and optionally `Addresses`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_waf::{parse_addresses, parse_web_acl};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let default_action = value.get("DefaultAction").cloned().unwrap_or_default();
    if let Ok(acl) = parse_web_acl(&default_action, value.get("Rules")) {
        let _ = acl.ip_sets();
        let again = parse_web_acl(&default_action, value.get("Rules"));
        assert_eq!(again.as_ref(), Ok(&acl), "parsing is deterministic");
    }
    if let Some(addresses) = value.get("Addresses").and_then(|a| a.as_array()) {
        let addresses: Vec<String> = addresses
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        for version in ["IPV4", "IPV6"] {
            let _ = parse_addresses(version, &addresses);
        }
    }
});
