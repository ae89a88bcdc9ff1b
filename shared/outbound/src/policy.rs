//! Which addresses outbound fetches may reach: public ones, and the ranges the operator
//! allows.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use portcullis_types::cidr::Cidr;
use portcullis_types::cidr::canonical;

/// Public addresses, and the operator's allowed ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    allow: Vec<Cidr>,
}

impl Policy {
    /// Only public addresses.
    #[must_use]
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Public addresses and the comma-separated ranges of `allow` (`outbound.allow`).
    pub fn allowing(allow: &str) -> Result<Self, String> {
        let allow = allow
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(Cidr::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self { allow })
    }

    #[must_use]
    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(canonical(ip)) || self.allow.iter().any(|range| range.contains(ip))
    }
}

/// Not loopback, private, link-local, shared, reserved, documentation, multicast or
/// unspecified.
fn is_public(ip: IpAddr) -> bool {
    const V4: &[(Ipv4Addr, u8)] = &[
        (Ipv4Addr::new(0, 0, 0, 0), 8),
        (Ipv4Addr::new(10, 0, 0, 0), 8),
        (Ipv4Addr::new(100, 64, 0, 0), 10),
        (Ipv4Addr::new(127, 0, 0, 0), 8),
        (Ipv4Addr::new(169, 254, 0, 0), 16),
        (Ipv4Addr::new(172, 16, 0, 0), 12),
        (Ipv4Addr::new(192, 0, 0, 0), 24),
        (Ipv4Addr::new(192, 0, 2, 0), 24),
        (Ipv4Addr::new(192, 168, 0, 0), 16),
        (Ipv4Addr::new(198, 18, 0, 0), 15),
        (Ipv4Addr::new(198, 51, 100, 0), 24),
        (Ipv4Addr::new(203, 0, 113, 0), 24),
        (Ipv4Addr::new(224, 0, 0, 0), 3),
    ];
    const V6: &[(Ipv6Addr, u8)] = &[
        (Ipv6Addr::UNSPECIFIED, 96),
        (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96),
        (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
        (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
        (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
        (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
        (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
    ];
    let blocked = match ip {
        IpAddr::V4(_) => V4.iter().any(|(net, prefix)| {
            Cidr {
                network: IpAddr::V4(*net),
                prefix: *prefix,
            }
            .contains(ip)
        }),
        IpAddr::V6(v6) => {
            v6 == Ipv6Addr::LOCALHOST
                || V6.iter().any(|(net, prefix)| {
                    Cidr {
                        network: IpAddr::V6(*net),
                        prefix: *prefix,
                    }
                    .contains(ip)
                })
        }
    };
    !blocked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_by_default() {
        let policy = Policy::public_only();
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:2800:220:1::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(policy.permits(ip(public)), "{public}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!policy.permits(ip(private)), "{private}");
        }
        // Just outside the private ranges.
        assert!(policy.permits(ip("172.32.0.1")) && policy.permits(ip("11.0.0.1")));
    }

    #[test]
    fn the_operator_allows_ranges() {
        let policy = Policy::allowing(" 127.0.0.0/8, fd00::/8 ,10.0.0.5").unwrap();
        assert!(policy.permits(ip("127.0.0.2")) && policy.permits(ip("::ffff:127.0.0.1")));
        assert!(policy.permits(ip("fd12::1")) && policy.permits(ip("10.0.0.5")));
        assert!(!policy.permits(ip("10.0.0.6")) && !policy.permits(ip("::1")));
        assert!(Policy::allowing("").unwrap() == Policy::public_only());
        for bad in ["127.0.0.0/33", "localhost", "::1/129", "10.0.0.0/x"] {
            assert!(Policy::allowing(bad).is_err(), "{bad}");
        }
    }
}
