//! IP address ranges in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`), as the configuration
//! names the proxies whose forwarding headers are believed.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The /64 an IPv6 address belongs to, as text: what one subscriber line is usually given.
pub(crate) fn ipv6_network(address: Ipv6Addr) -> String {
    let [a, b, c, d, ..] = address.segments();
    format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
}

/// A range of addresses: a network address and how many leading bits every member shares.
/// A bare address is a range of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `address` is in the range. An IPv4 address written as IPv6 (`::ffff:10.0.0.1`,
    /// as a dual-stack socket reports it) counts as the IPv4 address.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => leading_bits_match(
                network.to_bits().into(),
                address.to_bits().into(),
                32,
                self.prefix,
            ),
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                leading_bits_match(network.to_bits(), address.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` of the `width` low bits of `a` and `b` agree.
fn leading_bits_match(a: u128, b: u128, width: u8, prefix: u8) -> bool {
    prefix == 0 || (a ^ b) >> (width - prefix) == 0
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an address range: {reason}")]
pub struct CidrError {
    text: String,
    reason: String,
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, CidrError> {
        let refused = |reason: String| CidrError {
            text: text.to_owned(),
            reason,
        };
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| {
            refused("expected an IPv4 or IPv6 address, with an optional /prefix length".into())
        })?;
        let width: u8 = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(digits) => Some(digits)
                .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|digits| digits.parse::<u8>().ok())
                .filter(|prefix| *prefix <= width)
                .ok_or_else(|| refused(format!("the prefix length must be a number from 0 to {width}")))?,
        };
        let range = Self { network, prefix };
        // An address with bits past the prefix (10.0.0.1/8) is a typo for a host or a network:
        // refused rather than guessed.
        let host_bits = match network {
            IpAddr::V4(address) => u128::from(address.to_bits()) & low_bits(32 - prefix),
            IpAddr::V6(address) => address.to_bits() & low_bits(128 - prefix),
        };
        if host_bits != 0 {
            return Err(refused(format!(
                "bits past the /{prefix} prefix are set; write the network address or a single host"
            )));
        }
        Ok(range)
    }
}

fn low_bits(count: u8) -> u128 {
    if count == 128 {
        u128::MAX
    } else {
        (1u128 << count) - 1
    }
}

impl TryFrom<String> for Cidr {
    type Error = CidrError;

    fn try_from(text: String) -> Result<Self, CidrError> {
        text.parse()
    }
}

impl From<Cidr> for String {
    fn from(range: Cidr) -> Self {
        range.to_string()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> Cidr {
        text.parse().expect("a range")
    }

    fn address(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_ipv4_range_holds_the_addresses_sharing_its_prefix() {
        let private = range("10.0.0.0/8");
        assert!(private.contains(address("10.0.0.0")));
        assert!(private.contains(address("10.255.255.255")));
        assert!(!private.contains(address("11.0.0.0")));
        assert!(!private.contains(address("9.255.255.255")));
    }

    #[test]
    fn an_ipv6_range_holds_the_addresses_sharing_its_prefix() {
        let documentation = range("2001:db8::/32");
        assert!(documentation.contains(address("2001:db8:cafe::17")));
        assert!(!documentation.contains(address("2001:db9::1")));
        assert!(
            !documentation.contains(address("10.0.0.1")),
            "no IPv4 address is in an IPv6 range"
        );
    }

    #[test]
    fn a_bare_address_is_a_range_of_one() {
        assert_eq!(range("192.0.2.7"), range("192.0.2.7/32"));
        assert!(range("::1").contains(address("::1")));
        assert!(!range("192.0.2.7").contains(address("192.0.2.8")));
    }

    #[test]
    fn an_ipv4_address_written_as_ipv6_is_in_its_ipv4_range() {
        assert!(range("127.0.0.1/32").contains(address("::ffff:127.0.0.1")));
    }

    #[test]
    fn a_zero_prefix_holds_every_address_of_its_family() {
        assert!(range("0.0.0.0/0").contains(address("203.0.113.9")));
        assert!(range("::/0").contains(address("2001:db8::1")));
    }

    #[test]
    fn malformed_ranges_are_refused_with_the_reason() {
        for text in [
            "",
            "10.0.0/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/",
            "proxy",
        ] {
            assert!(text.parse::<Cidr>().is_err(), "{text:?}");
        }
        let typo = "10.0.0.1/8".parse::<Cidr>().expect_err("host bits");
        assert!(typo.to_string().contains("\"10.0.0.1/8\""), "{typo}");
        assert!(typo.to_string().contains("/8 prefix"), "{typo}");
    }

    #[test]
    fn a_range_is_written_back_as_read() {
        assert_eq!(range("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(range("2001:db8::/32").to_string(), "2001:db8::/32");
    }
}
