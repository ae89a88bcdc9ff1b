//! The IP geolocation database reader (MaxMind DB format) on any bytes: the file is
//! the operator's, but a truncated or corrupt one must be refused or read as "not
//! found", never panic a sign-in.
//!
//! Input: a database file (the seed is one written by MaxMind's writer).

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_geo::Database;

fuzz_target!(|data: &[u8]| {
    let Ok(database) = Database::from_bytes(data.to_vec()) else {
        return;
    };
    for address in [
        "198.51.100.7",
        "100.64.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "::1",
        "2001:db8::7",
    ] {
        if let Ok(ip) = address.parse() {
            let _ = database.lookup(ip);
        }
    }
});
