//! A breached-password corpus: the operator's file in the Pwned Passwords format
//! (`<SHA-1 of the password, 40 hex digits>:<count>` per line) turned into an index that
//! answers "was this password breached?" in microseconds, using little memory.
//!
//! The index keeps the first 64 bits of each SHA-1, sorted, in a file (8 bytes a hash,
//! against about 45 for a line of the text), and a table of where each bucket of
//! prefixes starts, in memory. A lookup reads one bucket (a few hundred prefixes, one or
//! two pages) with one positioned read and searches it. Two different hashes share a
//! 64-bit prefix with a chance of about `n / 2^64` per lookup — for a corpus of a billion
//! hashes, one in eighteen billion — so a password reported breached that was not is, in
//! practice, never seen.
//!
//! A password is hashed here (SHA-1 of its UTF-8 bytes, as the corpus is) and never
//! leaves the process, is never logged and never kept.
//!
//! File layout, little-endian: the magic `PCBREACH`, the format version (u32), the
//! bucket bits `b` (u32), the number of prefixes `n` (u64); then `2^b + 1` u64 bucket
//! starts (the index of the first prefix of each bucket, and `n`); then the `n` sorted
//! prefixes (u64).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

const MAGIC: &[u8; 8] = b"PCBREACH";
const VERSION: u32 = 1;
const HEADER_LEN: u64 = 8 + 4 + 4 + 8;
/// Buckets of about this many prefixes, so a lookup reads a few kilobytes.
const BUCKET_TARGET: u64 = 256;
/// The most bucket bits: a table of 16 Mi entries (128 MiB) at the very largest.
const MAX_BUCKET_BITS: u32 = 24;

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("line {line} of the corpus is not <40 hex digits>[:<count>]")]
    Malformed { line: u64 },
    #[error("the file is not a breached-password index of this version")]
    NotAnIndex,
}

/// The first 64 bits of a SHA-1, as a number (so the sort order is the hashes').
fn prefix_of(digest: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// A line's prefix: 40 hex digits (either case), then optionally `:` and anything.
fn parse_line(line: &str) -> Option<u64> {
    let line = line.trim();
    let hash = line.split_once(':').map_or(line, |(hash, _)| hash);
    if hash.len() != 40 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(&hash[..16], 16).ok()
}

fn bucket_bits(count: u64) -> u32 {
    let buckets = (count / BUCKET_TARGET).max(1);
    (63 - buckets.leading_zeros()).min(MAX_BUCKET_BITS)
}

fn bucket_of(prefix: u64, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        usize::try_from(prefix >> (64 - bits)).unwrap_or(usize::MAX)
    }
}

/// What building an index found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Built {
    /// Lines read that held a hash.
    pub lines: u64,
    /// Distinct prefixes kept.
    pub prefixes: u64,
    /// Whether the input was already sorted (then it was streamed, in constant memory;
    /// else it was sorted in memory, 8 bytes a hash).
    pub streamed: bool,
    pub bytes: u64,
}

fn read_prefixes(
    input: &Path,
    mut each: impl FnMut(u64) -> Result<(), CorpusError>,
) -> Result<u64, CorpusError> {
    let reader = BufReader::with_capacity(1 << 20, File::open(input)?);
    let mut lines = 0;
    for (number, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let prefix = parse_line(&line).ok_or(CorpusError::Malformed {
            line: number as u64 + 1,
        })?;
        lines += 1;
        each(prefix)?;
    }
    Ok(lines)
}

/// Indexes the corpus at `input` (the Pwned Passwords text) into `output`. Two passes
/// over a sorted input (as the Pwned Passwords downloads are), in constant memory; an
/// unsorted one is sorted in memory.
pub fn build(input: &Path, output: &Path) -> Result<Built, CorpusError> {
    // Pass 1: how many distinct prefixes, and whether they come in order.
    let (mut previous, mut distinct, mut sorted) = (None::<u64>, 0u64, true);
    let lines = read_prefixes(input, |prefix| {
        match previous {
            Some(p) if p == prefix => {}
            Some(p) if p > prefix => sorted = false,
            _ => distinct += 1,
        }
        previous = Some(prefix);
        Ok(())
    })?;
    if !sorted {
        let mut all = Vec::with_capacity(usize::try_from(lines).unwrap_or(0));
        read_prefixes(input, |prefix| {
            all.push(prefix);
            Ok(())
        })?;
        all.sort_unstable();
        all.dedup();
        let bytes = write_index(output, all.len() as u64, all.into_iter())?;
        return Ok(Built {
            lines,
            prefixes: bytes.1,
            streamed: false,
            bytes: bytes.0,
        });
    }
    // Pass 2: the prefixes again, written as they come.
    let mut last = None::<u64>;
    let mut error = None;
    let count = distinct;
    let (bytes, prefixes) = {
        let file = File::open(input)?;
        let reader = BufReader::with_capacity(1 << 20, file);
        let iter = reader.lines().filter_map(|line| match line {
            Ok(line) => {
                let prefix = parse_line(&line)?;
                if last == Some(prefix) {
                    return None;
                }
                last = Some(prefix);
                Some(prefix)
            }
            Err(err) => {
                error.get_or_insert(err);
                None
            }
        });
        write_index(output, count, iter)?
    };
    if let Some(err) = error {
        return Err(err.into());
    }
    Ok(Built {
        lines,
        prefixes,
        streamed: true,
        bytes,
    })
}

/// Writes `count` sorted, distinct prefixes: the header, the bucket table (filled in
/// after the prefixes), the prefixes. Returns the file's size and the prefixes written;
/// another number of prefixes than `count` (the corpus changed between the passes) is
/// an error, and nothing is left behind.
fn write_index(
    output: &Path,
    count: u64,
    prefixes: impl Iterator<Item = u64>,
) -> Result<(u64, u64), CorpusError> {
    let bits = bucket_bits(count);
    let buckets = 1usize << bits;
    let mut starts = vec![0u64; buckets + 1];
    // Written aside and renamed into place, so a reader (or another process indexing
    // the same corpus at the same time) never sees half an index.
    let mut partial = output.as_os_str().to_owned();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    partial.push(format!(".partial-{}-{nanos}", std::process::id()));
    let partial = std::path::PathBuf::from(partial);
    let mut file = File::create(&partial)?;
    let table_len = (buckets as u64 + 1) * 8;
    {
        let mut writer = BufWriter::with_capacity(1 << 20, &mut file);
        writer.write_all(MAGIC)?;
        writer.write_all(&VERSION.to_le_bytes())?;
        writer.write_all(&bits.to_le_bytes())?;
        writer.write_all(&count.to_le_bytes())?;
        writer.write_all(&vec![0u8; usize::try_from(table_len).unwrap_or(0)])?;
        let mut written = 0u64;
        for prefix in prefixes {
            written += 1;
            if written > count {
                break;
            }
            starts[bucket_of(prefix, bits) + 1] += 1;
            writer.write_all(&prefix.to_le_bytes())?;
        }
        writer.flush()?;
        if written != count {
            drop(writer);
            let _ = std::fs::remove_file(&partial);
            return Err(CorpusError::Io(io::Error::other(
                "the corpus changed while it was indexed",
            )));
        }
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let table: Vec<u8> = starts.iter().flat_map(|s| s.to_le_bytes()).collect();
    file.seek(SeekFrom::Start(HEADER_LEN))?;
    file.write_all(&table)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&partial, output)?;
    let bytes = HEADER_LEN + table_len + count * 8;
    Ok((bytes, count))
}

/// The corpus the operator named: an index as it is, or a Pwned Passwords text, indexed
/// into `<file>.index` when that is missing or older than the text.
pub fn open_or_build(path: &Path) -> Result<Corpus, CorpusError> {
    match Corpus::open(path) {
        Err(CorpusError::NotAnIndex) => {}
        other => return other,
    }
    let mut index = path.as_os_str().to_owned();
    index.push(".index");
    let index = std::path::PathBuf::from(index);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let current = match (modified(path), modified(&index)) {
        (Some(text), Some(built)) => built >= text,
        _ => false,
    };
    if !current {
        build(path, &index)?;
    }
    Corpus::open(&index)
}

/// An opened index.
pub struct Corpus {
    file: File,
    bits: u32,
    count: u64,
    /// Where each bucket's prefixes start, by index; `count` at the end.
    starts: Vec<u64>,
    entries_at: u64,
}

impl std::fmt::Debug for Corpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Corpus")
            .field("prefixes", &self.count)
            .field("bucket_bits", &self.bits)
            .finish_non_exhaustive()
    }
}

impl Corpus {
    pub fn open(path: &Path) -> Result<Self, CorpusError> {
        let mut file = File::open(path)?;
        let mut header = [0u8; HEADER_LEN as usize];
        file.read_exact(&mut header)
            .map_err(|_| CorpusError::NotAnIndex)?;
        let word =
            |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap_or_default());
        if &header[..8] != MAGIC || word(8) != VERSION {
            return Err(CorpusError::NotAnIndex);
        }
        let bits = word(12);
        let count = u64::from_le_bytes(header[16..24].try_into().unwrap_or_default());
        if bits > MAX_BUCKET_BITS {
            return Err(CorpusError::NotAnIndex);
        }
        let buckets = 1usize << bits;
        let table_len = (buckets as u64 + 1) * 8;
        let expected =
            HEADER_LEN + table_len + count.checked_mul(8).ok_or(CorpusError::NotAnIndex)?;
        if file.metadata()?.len() != expected {
            return Err(CorpusError::NotAnIndex);
        }
        let mut table = vec![0u8; usize::try_from(table_len).map_err(|_| CorpusError::NotAnIndex)?];
        file.read_exact(&mut table)?;
        let starts: Vec<u64> = table
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let ordered = starts.windows(2).all(|w| w[0] <= w[1]);
        if !ordered || starts.first() != Some(&0) || starts.last() != Some(&count) {
            return Err(CorpusError::NotAnIndex);
        }
        Ok(Self {
            file,
            bits,
            count,
            starts,
            entries_at: HEADER_LEN + table_len,
        })
    }

    /// Distinct hashes in the corpus.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.count
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether the password is in the corpus.
    pub fn contains_password(&self, password: &str) -> io::Result<bool> {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            password.as_bytes(),
        );
        self.contains_sha1(digest.as_ref())
    }

    /// Whether the SHA-1 `digest` (20 bytes) is in the corpus.
    pub fn contains_sha1(&self, digest: &[u8]) -> io::Result<bool> {
        if digest.len() != 20 {
            return Err(io::Error::other("a SHA-1 digest is 20 bytes"));
        }
        let prefix = prefix_of(digest);
        let bucket = bucket_of(prefix, self.bits);
        let (start, end) = (self.starts[bucket], self.starts[bucket + 1]);
        if start == end {
            return Ok(false);
        }
        let len = usize::try_from(end - start).map_err(io::Error::other)?;
        let mut raw = vec![0u8; len * 8];
        self.file
            .read_exact_at(&mut raw, self.entries_at + start * 8)?;
        let found = raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect::<Vec<_>>()
            .binary_search(&prefix)
            .is_ok();
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha1_hex(password: &str) -> String {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            password.as_bytes(),
        );
        digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
    }

    fn corpus_of(lines: &[String]) -> (tempfile::TempDir, Built, Corpus) {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("pwned.txt");
        std::fs::write(&text, lines.join("\n")).unwrap();
        let index = dir.path().join("pwned.idx");
        let built = build(&text, &index).unwrap();
        let corpus = Corpus::open(&index).unwrap();
        (dir, built, corpus)
    }

    #[test]
    fn breached_passwords_are_found_and_others_are_not() {
        // "password" is the corpus's most famous line.
        assert_eq!(
            sha1_hex("password"),
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"
        );
        let breached: Vec<String> = (0..5000).map(|i| format!("breached-{i}")).collect();
        let mut lines: Vec<String> = breached
            .iter()
            .map(|p| format!("{}:{}", sha1_hex(p), p.len()))
            .collect();
        lines.sort();
        let (_dir, built, corpus) = corpus_of(&lines);
        assert!(built.streamed, "sorted input is streamed");
        assert_eq!(
            (built.lines, built.prefixes, corpus.len()),
            (5000, 5000, 5000)
        );
        for p in &breached {
            assert!(corpus.contains_password(p).unwrap(), "{p}");
        }
        for i in 0..5000 {
            assert!(!corpus.contains_password(&format!("safe-{i}")).unwrap());
        }
    }

    #[test]
    fn unsorted_lowercase_and_repeated_lines_index_the_same() {
        let mut lines: Vec<String> = (0..300)
            .map(|i| sha1_hex(&format!("p{i}")).to_lowercase())
            .collect();
        lines.push(lines[7].clone());
        lines.push(String::new());
        let (_dir, built, corpus) = corpus_of(&lines);
        assert!(!built.streamed);
        assert_eq!((built.lines, built.prefixes), (301, 300));
        assert!(corpus.contains_password("p7").unwrap());
        assert!(!corpus.contains_password("p300").unwrap());
    }

    #[test]
    fn a_malformed_line_is_named_and_an_empty_corpus_holds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("bad.txt");
        std::fs::write(&text, format!("{}:1\nnot a hash:2\n", sha1_hex("a"))).unwrap();
        let err = build(&text, &dir.path().join("bad.idx")).unwrap_err();
        assert!(matches!(err, CorpusError::Malformed { line: 2 }), "{err}");

        let (_dir, built, corpus) = corpus_of(&[]);
        assert_eq!(built.prefixes, 0);
        assert!(corpus.is_empty());
        assert!(!corpus.contains_password("password").unwrap());
    }

    #[test]
    fn a_file_that_is_not_an_index_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("pwned.txt");
        std::fs::write(&text, format!("{}:3\n", sha1_hex("x"))).unwrap();
        assert!(matches!(Corpus::open(&text), Err(CorpusError::NotAnIndex)));
        let index = dir.path().join("x.idx");
        build(&text, &index).unwrap();
        let mut bytes = std::fs::read(&index).unwrap();
        bytes.pop();
        std::fs::write(&index, &bytes).unwrap();
        assert!(matches!(Corpus::open(&index), Err(CorpusError::NotAnIndex)));
    }

    #[test]
    fn bucket_bits_grow_with_the_corpus_and_stop_at_the_cap() {
        assert_eq!(bucket_bits(0), 0);
        assert_eq!(bucket_bits(1000), 1);
        assert_eq!(bucket_bits(256 * 1024), 10);
        assert_eq!(bucket_bits(1_000_000_000), 21);
        assert_eq!(bucket_bits(u64::MAX), MAX_BUCKET_BITS);
    }
}
