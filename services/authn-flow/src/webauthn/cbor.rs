//! The part of CBOR (RFC 8949) that WebAuthn uses: definite-length integers, byte and
//! text strings, arrays, maps and the simple values. Authenticator data comes from the
//! client, so every length is checked against what is left and nesting is bounded.

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
    let mut reader = Reader { input, depth: 0 };
    let value = reader.item()?;
    Ok((value, reader.input))
}

/// Decodes `input`, which must hold exactly one item.
pub fn decode(input: &[u8]) -> Result<Value, Malformed> {
    match decode_prefix(input)? {
        (value, []) => Ok(value),
        _ => Err(Malformed),
    }
}

struct Reader<'a> {
    input: &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if n > self.input.len() {
            return Err(Malformed);
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    /// The argument of an item whose initial byte had `info` in its low five bits.
    fn argument(&mut self, info: u8) -> Result<u64, Malformed> {
        let width = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            // Reserved values and indefinite lengths: not in WebAuthn's encoding.
            _ => return Err(Malformed),
        };
        let bytes = self.take(width)?;
        Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn length(&mut self, info: u8) -> Result<usize, Malformed> {
        let n = usize::try_from(self.argument(info)?).map_err(|_| Malformed)?;
        // Each element takes at least one byte: a longer claim is a lie.
        if n > self.input.len() {
            return Err(Malformed);
        }
        Ok(n)
    }

    fn item(&mut self) -> Result<Value, Malformed> {
        let initial = *self.take(1)?.first().ok_or(Malformed)?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        match major {
            0 => Ok(Value::Int(i128::from(self.argument(info)?))),
            1 => Ok(Value::Int(-1 - i128::from(self.argument(info)?))),
            2 => {
                let n = self.length(info)?;
                Ok(Value::Bytes(self.take(n)?.to_vec()))
            }
            3 => {
                let n = self.length(info)?;
                let text = std::str::from_utf8(self.take(n)?).map_err(|_| Malformed)?;
                Ok(Value::Text(text.to_owned()))
            }
            4 | 5 => {
                if self.depth == MAX_DEPTH {
                    return Err(Malformed);
                }
                self.depth += 1;
                let n = self.length(info)?;
                let value = if major == 4 {
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.item()?);
                    }
                    Value::Array(items)
                } else {
                    let mut entries = Vec::with_capacity(n);
                    for _ in 0..n {
                        let key = self.item()?;
                        entries.push((key, self.item()?));
                    }
                    Value::Map(entries)
                };
                self.depth -= 1;
                Ok(value)
            }
            7 => match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 => Ok(Value::Null),
                _ => Err(Malformed),
            },
            // Tags (6) do not occur in authenticator data.
            _ => Err(Malformed),
        }
    }
}

/// Encoding, for building authenticator responses in tests.
#[cfg(test)]
pub fn encode(value: &Value) -> Vec<u8> {
    fn head(out: &mut Vec<u8>, major: u8, n: u64) {
        let major = major << 5;
        match n {
            0..=23 => out.push(major | n as u8),
            24..=0xff => out.extend([major | 24, n as u8]),
            0x100..=0xffff => {
                out.push(major | 25);
                out.extend((n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(major | 26);
                out.extend((n as u32).to_be_bytes());
            }
            _ => {
                out.push(major | 27);
                out.extend(n.to_be_bytes());
            }
        }
    }
    fn go(out: &mut Vec<u8>, value: &Value) {
        match value {
            Value::Int(i) if *i >= 0 => head(out, 0, *i as u64),
            Value::Int(i) => head(out, 1, (-1 - *i) as u64),
            Value::Bytes(b) => {
                head(out, 2, b.len() as u64);
                out.extend(b);
            }
            Value::Text(t) => {
                head(out, 3, t.len() as u64);
                out.extend(t.as_bytes());
            }
            Value::Array(items) => {
                head(out, 4, items.len() as u64);
                items.iter().for_each(|i| go(out, i));
            }
            Value::Map(entries) => {
                head(out, 5, entries.len() as u64);
                for (k, v) in entries {
                    go(out, k);
                    go(out, v);
                }
            }
            Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
            Value::Null => out.push(0xf6),
        }
    }
    let mut out = Vec::new();
    go(&mut out, value);
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
}
