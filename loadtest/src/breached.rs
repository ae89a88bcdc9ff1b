//! The breached-password corpus (`portcullis_breached`): how long indexing takes, how
//! large the index is against the Pwned Passwords text, and what a lookup costs with the
//! index's pages in the page cache (as on a server that uses it).

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use portcullis_breached::{Corpus, build};
use serde_json::{Value, json};

use crate::report::millis;
use crate::stats::median;

#[derive(Debug, Clone)]
pub struct BreachedReport {
    pub hashes: u64,
    pub text_bytes: u64,
    pub index_bytes: u64,
    pub build: Duration,
    pub lookups: usize,
    /// Median lookup of a breached password, and of one that is not.
    pub hit: Duration,
    pub miss: Duration,
}

impl BreachedReport {
    #[must_use]
    pub fn table(&self) -> String {
        format!(
            "breached-password corpus of {} hashes\n\
             text {:.1} MB, index {:.1} MB ({:.2} bytes a hash)\n\
             indexed in {:.2} s\n\
             lookup, median of {} each: breached {:.1} µs, not breached {:.1} µs\n",
            self.hashes,
            self.text_bytes as f64 / 1e6,
            self.index_bytes as f64 / 1e6,
            self.index_bytes as f64 / self.hashes.max(1) as f64,
            self.build.as_secs_f64(),
            self.lookups,
            self.hit.as_secs_f64() * 1e6,
            self.miss.as_secs_f64() * 1e6,
        )
    }

    #[must_use]
    pub fn json(&self) -> Value {
        json!({
            "breached": {
                "hashes": self.hashes,
                "text_bytes": self.text_bytes,
                "index_bytes": self.index_bytes,
                "build_ms": millis(self.build),
                "lookups": self.lookups,
                "hit_us": self.hit.as_secs_f64() * 1e6,
                "miss_us": self.miss.as_secs_f64() * 1e6,
            }
        })
    }
}

fn sha1_hex(password: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        password.as_bytes(),
    );
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

/// Writes a corpus of `hashes` passwords (`breached-<i>`) in the Pwned Passwords
/// format, sorted as the downloads are, indexes it and times `lookups` lookups of
/// breached and of other passwords.
pub fn bench(hashes: u64, lookups: usize) -> anyhow::Result<BreachedReport> {
    let dir = tempfile::tempdir().context("a temporary directory")?;
    let text = dir.path().join("pwned.txt");
    let mut lines: Vec<String> = (0..hashes)
        .map(|i| format!("{}:{}", sha1_hex(&format!("breached-{i}")), i % 97 + 1))
        .collect();
    lines.sort_unstable();
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&text)?);
        for line in &lines {
            writeln!(file, "{line}")?;
        }
        file.flush()?;
    }
    drop(lines);
    let index = dir.path().join("pwned.idx");
    let started = Instant::now();
    let built = build(&text, &index).context("indexing the corpus")?;
    let build_time = started.elapsed();
    let corpus = Corpus::open(&index).context("opening the index")?;
    let time = |password: String| -> anyhow::Result<(Duration, bool)> {
        let started = Instant::now();
        let found = corpus.contains_password(&password)?;
        Ok((started.elapsed(), found))
    };
    let (mut hit, mut miss) = (Vec::with_capacity(lookups), Vec::with_capacity(lookups));
    for i in 0..lookups {
        let n = (i as u64).wrapping_mul(2_654_435_761) % hashes.max(1);
        let (elapsed, found) = time(format!("breached-{n}"))?;
        anyhow::ensure!(found || hashes == 0, "a breached password was not found");
        hit.push(elapsed);
        let (elapsed, found) = time(format!("fine-{i}"))?;
        anyhow::ensure!(!found, "a password not in the corpus was found");
        miss.push(elapsed);
    }
    Ok(BreachedReport {
        hashes: built.prefixes,
        text_bytes: std::fs::metadata(&text)?.len(),
        index_bytes: built.bytes,
        build: build_time,
        lookups,
        hit: median(&mut hit).unwrap_or_default(),
        miss: median(&mut miss).unwrap_or_default(),
    })
}
