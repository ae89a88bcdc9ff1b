//! The gateway's awsJson 1.1 request decoding: a body to an operation's request value,
//! and the typed conversions the gateway does itself before calling a service.
//!
//! Input: `<Operation>\n<body>` (without a newline, the whole input is the body of a
//! `CreateUserPool`). Any input must give `Ok` or a Cognito error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_gateway::cognito::{decode_request, request_value};

fuzz_target!(|data: &[u8]| {
    let (operation, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (
            std::str::from_utf8(&data[..at]).unwrap_or(""),
            &data[at + 1..],
        ),
        None => ("CreateUserPool", data),
    };
    if let Ok(value) = request_value(body) {
        assert!(value.is_object(), "a request value is always an object");
    }
    let _ = decode_request(operation, body);
});
