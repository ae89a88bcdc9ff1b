//! The part of CBOR (RFC 8949) that WebAuthn uses: definite-length integers, byte and
//! text strings, arrays, maps, `false`, `true` and `null`. The encoding is read by
//! ciborium's low-level decoder (`ciborium-ll`); this module builds the values and
//! refuses what WebAuthn does not use (indefinite lengths, tags, floats, `undefined`
//! and other simple values). Authenticator data comes from the client, so every length
//! is checked against what is left before anything is allocated, nesting is bounded,
//! and `decode` refuses bytes after the item.

use ciborium_io::Read as _;
use ciborium_ll::{Decoder, Header, simple};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Major types 0 and 1: an integer in -2^64..2^64.
    Int(i128),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed CBOR")]
pub struct Malformed;

const MAX_DEPTH: usize = 16;

impl Value {
    /// The map entry under the integer key `key` (COSE labels).
    pub fn get_int(&self, key: i128) -> Option<&Value> {
        self.entries()?
            .iter()
            .find(|(k, _)| *k == Value::Int(key))
            .map(|(_, v)| v)
    }

    /// The map entry under the text key `key`.
    pub fn get_text(&self, key: &str) -> Option<&Value> {
        self.entries()?
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
            .map(|(_, v)| v)
    }

    fn entries(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// Decodes one item from the start of `input` and returns it with the rest.
pub fn decode_prefix(input: &[u8]) -> Result<(Value, &[u8]), Malformed> {
    let mut reader = Reader {
        decoder: Decoder::from(input),
        len: input.len(),
        depth: 0,
    };
    let value = reader.item()?;
    let rest = input.get(reader.decoder.offset()..).ok_or(Malformed)?;
    Ok((value, rest))
}

/// Decodes `input`, which must hold exactly one item.
pub fn decode(input: &[u8]) -> Result<Value, Malformed> {
    match decode_prefix(input)? {
        (value, []) => Ok(value),
        _ => Err(Malformed),
    }
}

/// Builds [`Value`]s from the headers ciborium's decoder reads.
struct Reader<'a> {
    decoder: Decoder<&'a [u8]>,
    /// The length of the whole input.
    len: usize,
    depth: usize,
}

impl Reader<'_> {
    /// What is left of the input.
    fn left(&mut self) -> usize {
        self.len.saturating_sub(self.decoder.offset())
    }

    /// A definite length no longer than what is left: each element takes at least one
    /// byte, so a longer claim is a lie (and must not size an allocation).
    fn length(&mut self, len: Option<usize>) -> Result<usize, Malformed> {
        match len {
            Some(n) if n <= self.left() => Ok(n),
            // Indefinite lengths: not in WebAuthn's encoding.
            _ => Err(Malformed),
        }
    }

    fn contents(&mut self, len: Option<usize>) -> Result<Vec<u8>, Malformed> {
        let mut contents = vec![0; self.length(len)?];
        self.decoder
            .read_exact(&mut contents)
            .map_err(|_| Malformed)?;
        Ok(contents)
    }

    fn item(&mut self) -> Result<Value, Malformed> {
        let start = self.decoder.offset();
        let header = self.decoder.pull().map_err(|_| Malformed)?;
        match header {
            Header::Positive(n) => Ok(Value::Int(i128::from(n))),
            Header::Negative(n) => Ok(Value::Int(-1 - i128::from(n))),
            Header::Bytes(len) => Ok(Value::Bytes(self.contents(len)?)),
            Header::Text(len) => String::from_utf8(self.contents(len)?)
                .map(Value::Text)
                .map_err(|_| Malformed),
            Header::Array(len) => {
                let n = self.length(len)?;
                self.nested(|reader| {
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(reader.item()?);
                    }
                    Ok(Value::Array(items))
                })
            }
            Header::Map(len) => {
                let n = self.length(len)?;
                self.nested(|reader| {
                    let mut entries = Vec::with_capacity(n);
                    for _ in 0..n {
                        let key = reader.item()?;
                        entries.push((key, reader.item()?));
                    }
                    Ok(Value::Map(entries))
                })
            }
            // false, true and null in their one-byte form; the two-byte form of a
            // simple value under 32 is not well-formed CBOR.
            Header::Simple(simple) if self.decoder.offset() == start + 1 => match simple {
                simple::FALSE => Ok(Value::Bool(false)),
                simple::TRUE => Ok(Value::Bool(true)),
                simple::NULL => Ok(Value::Null),
                _ => Err(Malformed),
            },
            // Tags, floats, undefined, other simple values and a stray break do not
            // occur in authenticator data.
            Header::Simple(_) | Header::Tag(_) | Header::Float(_) | Header::Break => Err(Malformed),
        }
    }

    /// Runs `read` one level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<Value, Malformed>,
    ) -> Result<Value, Malformed> {
        if self.depth == MAX_DEPTH {
            return Err(Malformed);
        }
        self.depth += 1;
        let value = read(self);
        self.depth -= 1;
        value
    }
}

/// Encoding, for building authenticator responses in tests.
#[cfg(test)]
pub fn encode(value: &Value) -> Vec<u8> {
    use ciborium_ll::Encoder;
    fn go(out: &mut Encoder<&mut Vec<u8>>, value: &Value) -> std::io::Result<()> {
        match value {
            Value::Int(i) => match u64::try_from(*i) {
                Ok(n) => out.push(Header::Positive(n)),
                Err(_) => out.push(Header::Negative(
                    u64::try_from(-1 - *i).expect("an integer CBOR can hold"),
                )),
            },
            Value::Bytes(b) => out.bytes(b, None),
            Value::Text(t) => out.text(t, None),
            Value::Array(items) => {
                out.push(Header::Array(Some(items.len())))?;
                items.iter().try_for_each(|i| go(out, i))
            }
            Value::Map(entries) => {
                out.push(Header::Map(Some(entries.len())))?;
                entries.iter().try_for_each(|(k, v)| {
                    go(out, k)?;
                    go(out, v)
                })
            }
            Value::Bool(b) => out.push(Header::Simple(if *b {
                simple::TRUE
            } else {
                simple::FALSE
            })),
            Value::Null => out.push(Header::Simple(simple::NULL)),
        }
    }
    let mut out = Vec::new();
    go(&mut Encoder::from(&mut out), value).expect("writing to memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc_8949_examples() {
        assert_eq!(decode(&[0x00]).unwrap(), Value::Int(0));
        assert_eq!(decode(&[0x18, 0x64]).unwrap(), Value::Int(100));
        assert_eq!(decode(&[0x39, 0x03, 0xe7]).unwrap(), Value::Int(-1000));
        assert_eq!(
            decode(&[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(),
            Value::Int(18_446_744_073_709_551_615)
        );
        assert_eq!(
            decode(&[0x44, 1, 2, 3, 4]).unwrap(),
            Value::Bytes(vec![1, 2, 3, 4])
        );
        assert_eq!(
            decode(&[0x62, 0xc3, 0xbc]).unwrap(),
            Value::Text("ü".into())
        );
        assert_eq!(
            decode(&[0xa2, 0x01, 0x02, 0x03, 0x04]).unwrap(),
            Value::Map(vec![
                (Value::Int(1), Value::Int(2)),
                (Value::Int(3), Value::Int(4))
            ])
        );
        assert_eq!(
            decode(&[0x82, 0xf5, 0xf6]).unwrap(),
            Value::Array(vec![Value::Bool(true), Value::Null])
        );
    }

    #[test]
    fn round_trips_what_it_encodes() {
        let value = Value::Map(vec![
            (Value::Int(-2), Value::Bytes(vec![7; 300])),
            (Value::Text("fmt".into()), Value::Text("none".into())),
            (Value::Int(3), Value::Int(-257)),
            (Value::Int(70_000), Value::Array(vec![Value::Bool(false)])),
        ]);
        assert_eq!(decode(&encode(&value)).unwrap(), value);
    }

    #[test]
    fn refuses_lies_truncations_indefinite_lengths_and_deep_nesting() {
        // A byte string that claims more bytes than there are.
        assert_eq!(
            decode(&[0x5a, 0xff, 0xff, 0xff, 0xff, 0x00]),
            Err(Malformed)
        );
        // A map that claims 2^32 entries.
        assert_eq!(decode(&[0xba, 0xff, 0xff, 0xff, 0xff]), Err(Malformed));
        assert_eq!(decode(&[0x19, 0x01]), Err(Malformed));
        assert_eq!(decode(&[0x5f, 0x41, 0x00, 0xff]), Err(Malformed));
        assert_eq!(decode(&[0x62, 0xff, 0xfe]), Err(Malformed));
        assert_eq!(decode(&[0x00, 0x00]), Err(Malformed));
        assert_eq!(decode(&[0xc2, 0x40]), Err(Malformed));
        assert_eq!(decode(&[0x81; 40]), Err(Malformed));
        assert_eq!(decode(&[]), Err(Malformed));
    }

    #[test]
    fn refuses_what_webauthn_does_not_use() {
        // Indefinite-length text, array and map, and a stray break.
        assert_eq!(decode(&[0x7f, 0x61, 0x61, 0xff]), Err(Malformed));
        assert_eq!(decode(&[0x9f, 0x01, 0xff]), Err(Malformed));
        assert_eq!(decode(&[0xbf, 0x01, 0x02, 0xff]), Err(Malformed));
        assert_eq!(decode(&[0xff]), Err(Malformed));
        // Floats (half, single, double), undefined and other simple values.
        assert_eq!(decode(&[0xf9, 0x3c, 0x00]), Err(Malformed));
        assert_eq!(decode(&[0xfa, 0x3f, 0x80, 0x00, 0x00]), Err(Malformed));
        assert_eq!(
            decode(&[0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]),
            Err(Malformed)
        );
        assert_eq!(decode(&[0xf7]), Err(Malformed));
        assert_eq!(decode(&[0xf0]), Err(Malformed));
        assert_eq!(decode(&[0xf8, 0x20]), Err(Malformed));
        // true in the two-byte form RFC 8949 does not allow.
        assert_eq!(decode(&[0xf8, 0x15]), Err(Malformed));
        // Reserved additional information (28 to 30), and 31 on an integer.
        for initial in [0x1c, 0x1d, 0x1e, 0x1f, 0x3f, 0x5c, 0xdf] {
            assert_eq!(decode(&[initial, 0x00]), Err(Malformed), "{initial:#x}");
        }
        // A tag on a COSE key.
        assert_eq!(decode(&[0xd8, 0x18, 0xa0]), Err(Malformed));
    }

    #[test]
    fn refuses_huge_lengths_before_allocating() {
        // Byte and text strings, arrays and maps that claim 2^64 - 1 elements.
        for major in [0x5b, 0x7b, 0x9b, 0xbb] {
            let mut input = vec![major];
            input.extend([0xff; 8]);
            input.extend([0x00; 16]);
            assert_eq!(decode(&input), Err(Malformed), "{major:#x}");
        }
        // A map one entry short.
        assert_eq!(decode(&[0xa2, 0x01, 0x02, 0x03]), Err(Malformed));
        // An array that claims more elements than there are bytes left.
        assert_eq!(decode(&[0x83, 0x01, 0x02]), Err(Malformed));
    }

    #[test]
    fn every_truncation_and_extension_of_a_cose_key_is_refused() {
        let key = encode(&Value::Map(vec![
            (Value::Int(1), Value::Int(2)),
            (Value::Int(3), Value::Int(-7)),
            (Value::Int(-1), Value::Int(1)),
            (Value::Int(-2), Value::Bytes(vec![0x11; 32])),
            (Value::Int(-3), Value::Bytes(vec![0x22; 32])),
            (Value::Text("x".into()), Value::Array(vec![Value::Null])),
        ]));
        assert!(decode(&key).is_ok());
        for len in 0..key.len() {
            assert_eq!(decode(&key[..len]), Err(Malformed), "cut at {len}");
        }
        let mut longer = key.clone();
        longer.push(0x00);
        assert_eq!(decode(&longer), Err(Malformed));
        let (value, rest) = decode_prefix(&longer).unwrap();
        assert_eq!(value, decode(&key).unwrap());
        assert_eq!(rest, [0x00]);
    }

    #[test]
    fn no_input_makes_it_panic() {
        // Every one- and two-byte input, then each with a long tail of every byte.
        for a in 0..=u8::MAX {
            let _ = decode(&[a]);
            for b in 0..=u8::MAX {
                let _ = decode(&[a, b]);
                let _ = decode_prefix(&[a, b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
            }
        }
    }
}
