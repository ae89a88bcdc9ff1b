//! The resource a forward-auth subrequest is decided on, read the way the upstream will
//! read it.
//!
//! A decision on the raw `X-Forwarded-Uri` is a decision on a different resource than
//! the one served: `/x/../admin/secret` is `/admin/secret` to every upstream that
//! resolves dot segments. So the path is normalised first (RFC 3986 §6.2.2: escapes of
//! unreserved characters decoded, the others in upper-case hex; §5.2.4: dot segments
//! removed) and runs of `/` are collapsed as most servers do. What upstreams disagree
//! on is refused rather than guessed at: an encoded `/`, `\` or `.` (one server decodes
//! them before routing, another does not), a backslash, a control character or NUL,
//! and a malformed escape. The host is compared case-insensitively (lower-cased, a
//! trailing dot dropped) and must be a plain `host[:port]`.

/// Why a forwarded path or host cannot be decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ambiguous {
    #[error("X-Forwarded-Uri must be a path starting with '/'.")]
    NotAbsolute,
    #[error("X-Forwarded-Uri has a malformed percent escape.")]
    BadEscape,
    #[error(
        "X-Forwarded-Uri has an encoded '/', '\\' or '.', which upstreams read differently; send it decoded."
    )]
    EncodedSeparator,
    #[error("X-Forwarded-Uri has a backslash or a control character.")]
    BadCharacter,
    #[error("X-Forwarded-Host must be a host name or address, with an optional port.")]
    BadHost,
}

/// RFC 3986's unreserved characters other than `.`: an escape of one means the
/// character itself.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The path an upstream serves for `raw` (the path of the request target, without its
/// query), or why it is ambiguous.
pub fn path(raw: &str) -> Result<String, Ambiguous> {
    if !raw.starts_with('/') {
        return Err(Ambiguous::NotAbsolute);
    }
    let bytes = raw.as_bytes();
    let mut decoded = String::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let (Some(hi), Some(lo)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(Ambiguous::BadEscape);
                };
                let byte = hi << 4 | lo;
                match byte {
                    b'/' | b'\\' | b'.' => return Err(Ambiguous::EncodedSeparator),
                    0..=0x1f | 0x7f => return Err(Ambiguous::BadCharacter),
                    b if unreserved(b) => decoded.push(char::from(b)),
                    b => decoded.push_str(&format!("%{b:02X}")),
                }
                i += 3;
            }
            b'\\' | 0..=0x1f | 0x7f => return Err(Ambiguous::BadCharacter),
            _ => {
                // Anything else stays as sent; a multi-byte character is copied whole.
                let len = raw[i..].chars().next().map_or(1, char::len_utf8);
                decoded.push_str(&raw[i..i + len]);
                i += len;
            }
        }
    }
    Ok(remove_dot_segments(&decoded))
}

/// RFC 3986 §5.2.4 on an absolute path, with empty segments (`//`) dropped too.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for segment in &segments {
        match *segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            other => kept.push(other),
        }
    }
    // `/a/b/` and `/a/b/..` both name a directory: the result keeps its trailing slash.
    let directory = matches!(segments.last(), Some(&("" | "." | "..")));
    let mut out = format!("/{}", kept.join("/"));
    if directory && !kept.is_empty() {
        out.push('/');
    }
    out
}

/// The host as the resource names it: lower-cased, without a trailing dot, and only
/// the characters of a host name, an IP literal and a port.
pub fn host(raw: &str) -> Result<String, Ambiguous> {
    let host = raw.trim().to_ascii_lowercase();
    let (name, port) = match host.rsplit_once(':') {
        Some((name, _)) if !name.ends_with(']') && name.contains(':') => (host.as_str(), ""),
        Some((name, port)) => (name, port),
        None => (host.as_str(), ""),
    };
    let name_ok = !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'[' | b']')
        });
    let port_ok = port.bytes().all(|b| b.is_ascii_digit());
    if !name_ok || !port_ok {
        return Err(Ambiguous::BadHost);
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    Ok(if port.is_empty() {
        name.to_owned()
    } else {
        format!("{name}:{port}")
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_removed() {
        assert_eq!(path("/x/../admin/secret").unwrap(), "/admin/secret");
        assert_eq!(path("/a/./b/../c").unwrap(), "/a/c");
        assert_eq!(path("/../../etc/passwd").unwrap(), "/etc/passwd");
        assert_eq!(path("/a/b/..").unwrap(), "/a/");
        assert_eq!(path("/a/b/.").unwrap(), "/a/b/");
        assert_eq!(path("/a/..").unwrap(), "/");
        assert_eq!(path("/").unwrap(), "/");
        assert_eq!(path("/a/b/").unwrap(), "/a/b/");
        assert_eq!(path("/a/..b/c.").unwrap(), "/a/..b/c.", "not dot segments");
    }

    #[test]
    fn duplicate_slashes_collapse() {
        assert_eq!(path("//admin//secret").unwrap(), "/admin/secret");
        assert_eq!(path("/x//..//admin").unwrap(), "/admin");
    }

    #[test]
    fn unreserved_escapes_are_decoded_and_others_upper_cased() {
        assert_eq!(path("/%61dmin/%7Euser").unwrap(), "/admin/~user");
        assert_eq!(path("/a%20b/c%3fd").unwrap(), "/a%20b/c%3Fd");
        assert_eq!(path("/caf%C3%A9").unwrap(), "/caf%C3%A9");
        assert_eq!(path("/café").unwrap(), "/café");
    }

    #[test]
    fn what_upstreams_read_differently_is_refused() {
        for raw in [
            "/x/%2e%2e/admin/secret",
            "/x/%2E%2E/admin",
            "/x/.%2e/admin",
            "/admin%2fsecret",
            "/admin%2Fsecret",
            "/admin%5csecret",
        ] {
            assert_eq!(path(raw), Err(Ambiguous::EncodedSeparator), "{raw}");
        }
        for raw in ["/x\\..\\admin", "/a%00b", "/a\tb", "/a%7f"] {
            assert_eq!(path(raw), Err(Ambiguous::BadCharacter), "{raw}");
        }
        for raw in ["/a%", "/a%2", "/a%zz", "/a%%41"] {
            assert_eq!(path(raw), Err(Ambiguous::BadEscape), "{raw}");
        }
        assert_eq!(path("admin"), Err(Ambiguous::NotAbsolute));
        assert_eq!(path("*"), Err(Ambiguous::NotAbsolute));
    }

    #[test]
    fn the_query_is_not_part_of_the_path() {
        let uri: axum::http::Uri = "/x/../admin/secret?next=/../public".parse().unwrap();
        assert_eq!(path(uri.path()).unwrap(), "/admin/secret");
    }

    #[test]
    fn hosts_are_compared_case_insensitively_and_must_be_plain() {
        assert_eq!(host("App.Example").unwrap(), "app.example");
        assert_eq!(host("app.example.").unwrap(), "app.example");
        assert_eq!(host("app.example:8443").unwrap(), "app.example:8443");
        assert_eq!(host("[::1]:80").unwrap(), "[::1]:80");
        assert_eq!(host("127.0.0.1").unwrap(), "127.0.0.1");
        for bad in [
            "",
            "app.example/admin",
            "app.example\\x",
            "user@app.example",
            "app.example:80x",
            "a*b",
            "a b",
            "app%2eexample",
        ] {
            assert_eq!(host(bad), Err(Ambiguous::BadHost), "{bad:?}");
        }
    }
}
