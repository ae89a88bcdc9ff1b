//! Cost of the server's modular exponentiations in one SRP sign-in, with the server's own
//! code (`portcullis_authn_flow::srp`).
//!
//! A `USER_SRP_AUTH` sign-in makes the server compute B = k·v + g^b (answering
//! `InitiateAuth`) and S = (A·v^u)^b (checking `PASSWORD_VERIFIER`), both constant-time
//! 3072-bit exponentiations. This is the floor the HTTP figures of the `srp` scenario are
//! compared against.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use portcullis_authn_flow::srp;
use serde_json::{Value, json};

use crate::report::{millis, round};
use crate::stats::median;

/// Median single-thread latency of each half.
#[derive(Debug, Clone)]
pub struct SrpMathReport {
    pub iterations: usize,
    pub server_public: Duration,
    pub session_key: Duration,
}

impl SrpMathReport {
    fn per_sign_in(&self) -> Duration {
        self.server_public + self.session_key
    }

    /// Human-readable summary.
    #[must_use]
    pub fn table(&self) -> String {
        let total = self.per_sign_in();
        format!(
            "SRP server math (3072-bit group, constant time), {} iterations, median of one thread\n\
             B = k*v + g^b:       {:.2} ms\n\
             S = (A*v^u)^b + key: {:.2} ms\n\
             per sign-in:         {:.2} ms ({:.1} sign-ins/s per core)\n",
            self.iterations,
            millis(self.server_public),
            millis(self.session_key),
            millis(total),
            1.0 / total.as_secs_f64().max(f64::EPSILON)
        )
    }

    /// One JSON object on one line.
    #[must_use]
    pub fn json(&self) -> Value {
        let total = self.per_sign_in();
        json!({
            "srp_math": { "group_bits": 3072 },
            "iterations": self.iterations,
            "server_public_ms": millis(self.server_public),
            "session_key_ms": millis(self.session_key),
            "per_sign_in_ms": millis(total),
            "sign_ins_per_sec_per_core": round(1.0 / total.as_secs_f64().max(f64::EPSILON), 1),
        })
    }
}

/// Times `iterations` server-side exponentiation pairs on the current thread.
///
/// # Errors
/// When the SRP code refuses its own inputs, which would be a bug.
pub fn bench(iterations: usize) -> anyhow::Result<SrpMathReport> {
    let iterations = iterations.max(1);
    let pool_id = "us-east-1_Bench";
    let verifier =
        srp::new_verifier(pool_id, "bench-user", "Passw0rd!").context("making a verifier")?;
    let mut publics = Vec::with_capacity(iterations);
    let mut keys = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let a = srp::random_secret().context("client secret")?;
        let big_a = srp::parse_hex(&srp::client::public(&a)).context("client public")?;
        let b = srp::random_secret().context("server secret")?;

        let started = Instant::now();
        let big_b = srp::server_public(&verifier, &b).context("server public")?;
        publics.push(started.elapsed());

        let started = Instant::now();
        let key = srp::session_key(&big_a, &big_b, &b, &verifier)
            .map_err(|err| anyhow::anyhow!("session key: {err:?}"))?;
        keys.push(started.elapsed());
        std::hint::black_box(key);
    }
    Ok(SrpMathReport {
        iterations,
        server_public: median(&mut publics).context("no samples")?,
        session_key: median(&mut keys).context("no samples")?,
    })
}
