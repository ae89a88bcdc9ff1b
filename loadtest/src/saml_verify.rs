//! Cost of accepting one SAML response with the server's own code (`portcullis_saml`):
//! parsing, canonicalizing the signed assertion and `SignedInfo`, the digest and the
//! signature check, then the profile's checks. The responses are the crate's test
//! documents (signed by xmlsec1 and signxml), read at a time inside their validity.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use portcullis_saml::{Expectations, IdentityProvider, read_response};
use serde_json::{Value, json};
use time::macros::datetime;

use crate::report::millis;
use crate::stats::median;

const METADATA: &str = include_str!("../../shared/saml/testdata/metadata.xml");
const RESPONSES: [(&str, &str); 3] = [
    (
        "RSA-2048 SHA-256, exclusive c14n (assertion signed)",
        include_str!("../../shared/saml/testdata/assertion-exc.xml"),
    ),
    (
        "ECDSA P-256 SHA-256, exclusive c14n (assertion signed)",
        include_str!("../../shared/saml/testdata/assertion-ecdsa.xml"),
    ),
    (
        "RSA-2048 SHA-512, c14n 1.1 (response signed)",
        include_str!("../../shared/saml/testdata/response-c14n11.xml"),
    ),
];

#[derive(Debug, Clone)]
pub struct SamlVerifyReport {
    pub iterations: usize,
    /// Median time per response, by the response's kind; metadata parsing on its own.
    pub medians: Vec<(&'static str, Duration)>,
    pub metadata: Duration,
}

impl SamlVerifyReport {
    #[must_use]
    pub fn table(&self) -> String {
        let mut out = format!(
            "SAML response verification, {} iterations, median of one thread\n",
            self.iterations
        );
        for (name, median) in &self.medians {
            out.push_str(&format!(
                "{name}: {:.3} ms ({:.0}/s per core)\n",
                millis(*median),
                1.0 / median.as_secs_f64().max(f64::EPSILON)
            ));
        }
        out.push_str(&format!(
            "metadata (2 certificates) parsed: {:.3} ms\n",
            millis(self.metadata)
        ));
        out
    }

    #[must_use]
    pub fn json(&self) -> Value {
        json!({
            "saml_verify": self.medians.iter().map(|(name, median)| json!({
                "response": name,
                "median_ms": millis(*median),
            })).collect::<Vec<_>>(),
            "metadata_ms": millis(self.metadata),
            "iterations": self.iterations,
        })
    }
}

/// Times `iterations` verifications of each response on the current thread.
///
/// # Errors
/// When a test document does not verify, which would be a bug.
pub fn bench(iterations: usize) -> anyhow::Result<SamlVerifyReport> {
    let iterations = iterations.max(1);
    let expect = Expectations {
        audiences: &["urn:amazon:webservices"],
        recipients: &["https://signin.aws.amazon.com/saml"],
        in_response_to: None,
        now: datetime!(2026-03-01 10:01 UTC),
        skew: time::Duration::minutes(1),
        decryption: None,
    };
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        IdentityProvider::from_metadata(METADATA).context("reading the metadata")?;
        samples.push(started.elapsed());
    }
    let metadata = median(&mut samples).unwrap_or_default();
    let idp = IdentityProvider::from_metadata(METADATA)?;
    let mut medians = Vec::new();
    for (name, xml) in RESPONSES {
        samples.clear();
        for _ in 0..iterations {
            let started = Instant::now();
            read_response(xml, &idp, &expect).with_context(|| format!("verifying {name}"))?;
            samples.push(started.elapsed());
        }
        medians.push((name, median(&mut samples).unwrap_or_default()));
    }
    Ok(SamlVerifyReport {
        iterations,
        medians,
        metadata,
    })
}
