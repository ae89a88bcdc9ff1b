//! Where an IP address is, from a city-level database in the MaxMind DB format (the
//! format of GeoLite2 City, GeoIP2 City and DB-IP's city databases), for threat
//! protection's event context and impossible-travel signal.
//!
//! The format: a binary search tree over the address's bits (`node_count` nodes of two
//! records of `record_size` bits), 16 zero bytes, a data section of typed values, and a
//! metadata map after the marker `\xAB\xCD\xEFMaxMind.com` at the end. A record below
//! `node_count` is the next node, equal to it is "not found", above it points into the
//! data section. An IPv4 address in an IPv6 tree is looked up as `::a.b.c.d` (96 zero
//! bits first). The file is read into memory once; a lookup walks at most 128 nodes and
//! decodes one record, allocating only the strings it returns.

use std::net::IpAddr;
use std::path::Path;

const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";
/// The most nested a value may be (maps in maps): real databases use 4 or 5 levels.
const MAX_DEPTH: u32 = 16;

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("cannot read the database: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a MaxMind DB file: {0}")]
    Format(&'static str),
}

/// What the database says of an address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    /// The city's English name.
    pub city: Option<String>,
    /// The country's English name.
    pub country: Option<String>,
    /// The country's ISO 3166-1 alpha-2 code.
    pub country_code: Option<String>,
    /// Latitude and longitude, degrees.
    pub location: Option<(f64, f64)>,
    pub time_zone: Option<String>,
}

/// An opened database.
#[derive(Debug)]
pub struct Database {
    bytes: Vec<u8>,
    node_count: usize,
    record_size: usize,
    ip_version: u64,
    data_start: usize,
}

/// A decoded value, as far as this reader needs.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Number(f64),
    Map(Vec<(String, Value)>),
    Other,
}

impl Value {
    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn path(&self, keys: &[&str]) -> Option<&Value> {
        keys.iter().try_fold(self, |value, key| value.get(key))
    }

    fn text(&self, keys: &[&str]) -> Option<String> {
        match self.path(keys)? {
            Value::Text(text) => Some(text.clone()),
            _ => None,
        }
    }

    fn number(&self, keys: &[&str]) -> Option<f64> {
        match self.path(keys)? {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }
}

impl Database {
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        Self::from_bytes(std::fs::read(path)?)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoError> {
        let marker = bytes
            .windows(METADATA_MARKER.len())
            .rposition(|w| w == METADATA_MARKER)
            .ok_or(GeoError::Format("no metadata marker"))?;
        let metadata_start = marker + METADATA_MARKER.len();
        let metadata = Decoder {
            bytes: &bytes,
            base: metadata_start,
        }
        .value(metadata_start, 0)
        .map(|(value, _)| value)
        .ok_or(GeoError::Format("unreadable metadata"))?;
        let count = |key: &str| metadata.number(&[key]).map(|n| n as u64);
        let node_count = count("node_count").ok_or(GeoError::Format("no node_count"))?;
        let record_size = count("record_size").ok_or(GeoError::Format("no record_size"))?;
        let ip_version = count("ip_version").ok_or(GeoError::Format("no ip_version"))?;
        if !matches!(record_size, 24 | 28 | 32) {
            return Err(GeoError::Format("unsupported record size"));
        }
        let node_count = usize::try_from(node_count).map_err(|_| GeoError::Format("too large"))?;
        let record_size = usize::try_from(record_size).unwrap_or(24);
        let tree_size = node_count
            .checked_mul(record_size / 4)
            .ok_or(GeoError::Format("too large"))?;
        let data_start = tree_size + 16;
        if data_start > marker {
            return Err(GeoError::Format("the search tree is larger than the file"));
        }
        Ok(Self {
            bytes,
            node_count,
            record_size,
            ip_version,
            data_start,
        })
    }

    /// Where `ip` is, if the database knows.
    pub fn lookup(&self, ip: IpAddr) -> Option<Place> {
        let (bits, length): (u128, u32) = match ip {
            IpAddr::V4(v4) if self.ip_version == 6 => (u128::from(u32::from(v4)), 128),
            IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
            IpAddr::V6(_) if self.ip_version != 6 => return None,
            IpAddr::V6(v6) => (u128::from(v6), 128),
        };
        let mut node = 0usize;
        for i in 0..length {
            if node >= self.node_count {
                break;
            }
            let bit = (bits >> (127 - i)) & 1;
            node = self.record(node, bit == 1)?;
        }
        // Past the tree: a pointer into the data section, 16 beyond its start (a record
        // of a malformed file may point anywhere: nothing is assumed of it).
        let offset = node
            .checked_sub(self.node_count)?
            .checked_sub(16)?
            .checked_add(self.data_start)?;
        let decoder = Decoder {
            bytes: &self.bytes,
            base: self.data_start,
        };
        let (record, _) = decoder.value(offset, 0)?;
        Some(Place {
            city: record.text(&["city", "names", "en"]),
            country: record.text(&["country", "names", "en"]),
            country_code: record.text(&["country", "iso_code"]),
            location: record
                .number(&["location", "latitude"])
                .zip(record.number(&["location", "longitude"])),
            time_zone: record.text(&["location", "time_zone"]),
        })
    }

    fn record(&self, node: usize, right: bool) -> Option<usize> {
        let size = self.record_size / 4;
        let at = node.checked_mul(size)?;
        let b = self.bytes.get(at..at + size)?;
        let be = |s: &[u8]| s.iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        Some(match (self.record_size, right) {
            (24, false) => be(&b[0..3]),
            (24, true) => be(&b[3..6]),
            (28, false) => (usize::from(b[3] & 0xF0) << 20) | be(&b[0..3]),
            (28, true) => (usize::from(b[3] & 0x0F) << 24) | be(&b[4..7]),
            (_, false) => be(&b[0..4]),
            (_, true) => be(&b[4..8]),
        })
    }
}

/// Decodes values of the data section; pointers are relative to `base`.
struct Decoder<'a> {
    bytes: &'a [u8],
    base: usize,
}

impl Decoder<'_> {
    fn byte(&self, at: usize) -> Option<usize> {
        self.bytes.get(at).map(|&b| usize::from(b))
    }

    fn uint(&self, at: usize, len: usize) -> Option<u128> {
        let slice = self.bytes.get(at..at.checked_add(len)?)?;
        Some(
            slice
                .iter()
                .fold(0u128, |acc, &b| (acc << 8) | u128::from(b)),
        )
    }

    /// The value at `at` and the offset after it.
    fn value(&self, at: usize, depth: u32) -> Option<(Value, usize)> {
        if depth > MAX_DEPTH {
            return None;
        }
        let control = self.byte(at)?;
        let mut next = at + 1;
        let mut kind = control >> 5;
        if kind == 1 {
            // A pointer: its size bits pick how many bytes follow.
            let small = control & 0x7;
            let (target, used) = match (control >> 3) & 0x3 {
                0 => ((small << 8) | self.byte(next)?, 1),
                1 => (
                    ((small << 16) | usize::try_from(self.uint(next, 2)?).ok()?) + 2048,
                    2,
                ),
                2 => (
                    ((small << 24) | usize::try_from(self.uint(next, 3)?).ok()?) + 526_336,
                    3,
                ),
                _ => (usize::try_from(self.uint(next, 4)?).ok()?, 4),
            };
            let (value, _) = self.value(self.base.checked_add(target)?, depth + 1)?;
            return Some((value, next + used));
        }
        if kind == 0 {
            kind = 7 + self.byte(next)?;
            next += 1;
        }
        let mut size = control & 0x1f;
        match size {
            29 => {
                size = 29 + self.byte(next)?;
                next += 1;
            }
            30 => {
                size = 285 + usize::try_from(self.uint(next, 2)?).ok()?;
                next += 2;
            }
            31 => {
                size = 65_821 + usize::try_from(self.uint(next, 3)?).ok()?;
                next += 3;
            }
            _ => {}
        }
        let end = next.checked_add(size)?;
        match kind {
            2 => {
                let text = std::str::from_utf8(self.bytes.get(next..end)?).ok()?;
                Some((Value::Text(text.to_owned()), end))
            }
            3 => {
                let raw: [u8; 8] = self.bytes.get(next..next + 8)?.try_into().ok()?;
                Some((Value::Number(f64::from_be_bytes(raw)), next + 8))
            }
            15 => {
                let raw: [u8; 4] = self.bytes.get(next..next + 4)?.try_into().ok()?;
                Some((Value::Number(f64::from(f32::from_be_bytes(raw))), next + 4))
            }
            5 | 6 | 9 | 10 => {
                let n = self.uint(next, size)?;
                Some((Value::Number(n as f64), end))
            }
            8 => {
                let n = self.uint(next, size)?;
                // A signed 32-bit integer, sign-extended from its bytes.
                let n = (n as u32) as i32;
                Some((Value::Number(f64::from(n)), end))
            }
            4 => Some((Value::Other, end)),
            14 | 13 => Some((Value::Other, next)),
            7 => {
                let mut entries = Vec::with_capacity(size.min(64));
                let mut at = next;
                for _ in 0..size {
                    let (key, after_key) = self.value(at, depth + 1)?;
                    let (value, after_value) = self.value(after_key, depth + 1)?;
                    if let Value::Text(key) = key {
                        entries.push((key, value));
                    }
                    at = after_value;
                }
                Some((Value::Map(entries), at))
            }
            11 => {
                let mut at = next;
                for _ in 0..size {
                    at = self.value(at, depth + 1)?.1;
                }
                Some((Value::Other, at))
            }
            _ => None,
        }
    }
}

/// The great-circle distance between two points (degrees), in kilometres.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A string of `text` (control byte: type 2, size).
    fn text(out: &mut Vec<u8>, text: &str) {
        out.push(0x40 | u8::try_from(text.len()).unwrap());
        out.extend_from_slice(text.as_bytes());
    }

    fn map(out: &mut Vec<u8>, entries: u8) {
        out.push(0xE0 | entries);
    }

    fn double(out: &mut Vec<u8>, n: f64) {
        out.push(0x68);
        out.extend_from_slice(&n.to_be_bytes());
    }

    fn uint16(out: &mut Vec<u8>, n: u16) {
        out.push(0xA2);
        out.extend_from_slice(&n.to_be_bytes());
    }

    /// An IPv4 database of one node per bit of 192.0.2.0/24 (24 nodes, 24-bit
    /// records), whose record is a city.
    fn database() -> Vec<u8> {
        let nodes = 24usize;
        let mut out = Vec::new();
        let prefix: u32 = 0xC000_0200;
        for i in 0..nodes {
            let bit = (prefix >> (31 - i)) & 1;
            let next = if i + 1 == nodes { nodes + 16 } else { i + 1 };
            let (left, right) = if bit == 1 {
                (nodes, next)
            } else {
                (next, nodes)
            };
            for record in [left, right] {
                out.extend_from_slice(&u32::try_from(record).unwrap().to_be_bytes()[1..]);
            }
        }
        out.extend_from_slice(&[0; 16]);
        map(&mut out, 2);
        text(&mut out, "city");
        map(&mut out, 1);
        text(&mut out, "names");
        map(&mut out, 1);
        text(&mut out, "en");
        text(&mut out, "Lyon");
        text(&mut out, "location");
        map(&mut out, 2);
        text(&mut out, "latitude");
        double(&mut out, 45.76);
        text(&mut out, "longitude");
        double(&mut out, 4.84);
        out.extend_from_slice(METADATA_MARKER);
        map(&mut out, 3);
        text(&mut out, "node_count");
        uint16(&mut out, u16::try_from(nodes).unwrap());
        text(&mut out, "record_size");
        uint16(&mut out, 24);
        text(&mut out, "ip_version");
        uint16(&mut out, 4);
        out
    }

    #[test]
    fn an_address_in_the_tree_has_its_place_and_others_have_none() {
        let db = Database::from_bytes(database()).unwrap();
        let place = db.lookup("192.0.2.77".parse().unwrap()).unwrap();
        assert_eq!(place.city.as_deref(), Some("Lyon"));
        assert_eq!(place.location, Some((45.76, 4.84)));
        assert_eq!(place.country, None);
        assert_eq!(db.lookup("192.0.3.1".parse().unwrap()), None);
        assert_eq!(db.lookup("2001:db8::1".parse().unwrap()), None);
    }

    #[test]
    fn a_record_pointing_before_the_data_section_finds_nothing() {
        let mut bytes = database();
        // The last node's right record: node_count + 3, inside the separator.
        let last = 23 * 6;
        bytes[last..last + 3].copy_from_slice(&[0, 0, 27]);
        bytes[last + 3..last + 6].copy_from_slice(&[0, 0, 27]);
        let db = Database::from_bytes(bytes).unwrap();
        assert_eq!(db.lookup("192.0.2.77".parse().unwrap()), None);
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        assert!(Database::from_bytes(b"nothing here".to_vec()).is_err());
        let mut truncated = database();
        truncated.drain(..60);
        if let Ok(db) = Database::from_bytes(truncated) {
            let _ = db.lookup("192.0.2.1".parse().unwrap());
        }
    }

    #[test]
    fn distances_are_great_circle_kilometres() {
        let paris = (48.8566, 2.3522);
        let sydney = (-33.8688, 151.2093);
        let d = distance_km(paris, sydney);
        assert!((16_900.0..17_000.0).contains(&d), "{d}");
        assert!(distance_km(paris, paris) < 1e-6);
    }
}
