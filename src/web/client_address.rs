//! The address a request came from, as every limit keyed by address counts it: the TCP peer,
//! or, when the peer is one of `trusted_proxies`, the client its forwarding headers name
//! (RFC 7239 `Forwarded`, or `X-Forwarded-For`).
//!
//! A forwarding header is a list each proxy appends to, so only its right end is written by
//! proxies we trust; anything to the left may be the client's invention. The walk goes from
//! the right, past trusted proxies, and stops at the first address that is not one: the
//! client as the outermost trusted proxy saw it.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderName};
use actix_web::web;

use crate::foundation::cidr::{self, Cidr};
use crate::web::state::AppState;

/// The address `request` came from, as limits count it; empty when the peer is unknown.
pub(crate) fn of(request: &HttpRequest) -> String {
    let Some(peer) = request.peer_addr() else {
        return String::new();
    };
    let trusted = request
        .app_data::<web::Data<AppState>>()
        .map_or(&[][..], |state| state.config.trusted_proxies.as_slice());
    let forwarded = joined(request, &header::FORWARDED);
    let x_forwarded_for = joined(request, &HeaderName::from_static("x-forwarded-for"));
    counted_as(client_address(
        peer.ip(),
        forwarded.as_deref(),
        x_forwarded_for.as_deref(),
        trusted,
    ))
}

/// An IPv4 client counts as its address, an IPv6 one as its /64: a subscriber line is
/// usually given a whole /64 and may send from any address in it, so counting single IPv6
/// addresses would hand one holder 2^64 budgets.
fn counted_as(address: IpAddr) -> String {
    match address.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => cidr::ipv6_network(v6),
    }
}

/// Every line of a header, in order, as one comma-separated list (RFC 9110 §5.3). A header
/// that is not text names no address: it reads as one empty entry.
fn joined(request: &HttpRequest, name: &HeaderName) -> Option<String> {
    let mut lines = request.headers().get_all(name).peekable();
    lines.peek()?;
    let text: Option<Vec<&str>> = lines.map(|line| line.to_str().ok()).collect();
    Some(text.map(|lines| lines.join(",")).unwrap_or_default())
}

/// The client behind `peer`, given the forwarding headers the request carries. With both
/// headers present, a trusted proxy wrote at most one of them: if they name different
/// clients, the other came from the client and neither is believed.
fn client_address(
    peer: IpAddr,
    forwarded: Option<&str>,
    x_forwarded_for: Option<&str>,
    trusted: &[Cidr],
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |address: IpAddr| trusted.iter().any(|range| range.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    let from_forwarded = forwarded.map(|text| walk_from_the_right(peer, forwarded_hops(text), is_trusted));
    let from_x_forwarded_for =
        x_forwarded_for.map(|text| walk_from_the_right(peer, x_forwarded_for_hops(text), is_trusted));
    match (from_forwarded, from_x_forwarded_for) {
        (Some(one), Some(other)) if one != other => peer,
        (Some(client), _) | (None, Some(client)) => client,
        (None, None) => peer,
    }
}

/// The first address from the right that is not a trusted proxy. A hop that names no address
/// (`unknown`, an obfuscated name, garbage) ends the walk at the trusted proxy that wrote it.
fn walk_from_the_right(
    peer: IpAddr,
    hops: Vec<Option<IpAddr>>,
    is_trusted: impl Fn(IpAddr) -> bool,
) -> IpAddr {
    let mut nearest_trusted = peer;
    for hop in hops.into_iter().rev() {
        match hop.map(|address| address.to_canonical()) {
            Some(address) if is_trusted(address) => nearest_trusted = address,
            Some(address) => return address,
            None => return nearest_trusted,
        }
    }
    nearest_trusted
}

/// The `for` node of each element of a `Forwarded` header (RFC 7239 §4), left to right.
fn forwarded_hops(text: &str) -> Vec<Option<IpAddr>> {
    split_outside_quotes(text, ',')
        .into_iter()
        .map(|element| {
            let for_values: Vec<String> = split_outside_quotes(element, ';')
                .into_iter()
                .filter_map(|pair| pair.split_once('='))
                .filter(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .map(|(_, value)| unquote(value.trim()))
                .collect();
            match for_values.as_slice() {
                [node] => forwarded_node(node),
                _ => None,
            }
        })
        .collect()
}

/// A `Forwarded` node (RFC 7239 §6): `192.0.2.60`, `192.0.2.60:8080`, `[2001:db8::17]` or
/// `[2001:db8::17]:4711`. `unknown` and obfuscated names (`_hidden`) name no address.
fn forwarded_node(node: &str) -> Option<IpAddr> {
    let (address, port) = match node.strip_prefix('[') {
        Some(bracketed) => {
            let (inside, port) = bracketed.split_once(']')?;
            (IpAddr::V6(inside.parse().ok()?), port)
        }
        None => {
            let end = node.find(':').unwrap_or(node.len());
            (IpAddr::V4(node[..end].parse().ok()?), &node[end..])
        }
    };
    (port.is_empty() || port.strip_prefix(':').is_some_and(is_node_port)).then_some(address)
}

/// A node's port (RFC 7239 §6): up to five digits, or an obfuscated `_name`.
fn is_node_port(port: &str) -> bool {
    let digits = (1..=5).contains(&port.len()) && port.bytes().all(|byte| byte.is_ascii_digit());
    let obfuscated = port
        .strip_prefix('_')
        .filter(|name| !name.is_empty())
        .is_some_and(|name| {
            name.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
        });
    digits || obfuscated
}

/// Each entry of `X-Forwarded-For`, left to right: a bare address, or one with a port as
/// some proxies write it (`192.0.2.60:8080`, `[2001:db8::17]:4711`).
fn x_forwarded_for_hops(text: &str) -> Vec<Option<IpAddr>> {
    text.split(',')
        .map(str::trim)
        .map(|entry| {
            entry
                .parse::<IpAddr>()
                .or_else(|_| entry.parse::<std::net::SocketAddr>().map(|socket| socket.ip()))
                .ok()
        })
        .collect()
}

/// `text` split at each `separator` outside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (index, character) in text.char_indices() {
        match character {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ if character == separator && !quoted => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A token as it is, or a quoted string's content with its escapes undone.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut unquoted = String::with_capacity(inner.len());
    let mut characters = inner.chars();
    while let Some(character) = characters.next() {
        match character {
            '\\' => unquoted.extend(characters.next()),
            other => unquoted.push(other),
        }
    }
    unquoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_ipv6_client_counts_as_its_slash_64_and_an_ipv4_one_as_its_address() {
        assert_eq!(counted_as(address("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(counted_as(address("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64");
        assert_eq!(counted_as(address("::ffff:203.0.113.7")), "203.0.113.7");
        assert_eq!(counted_as(address("203.0.113.7")), "203.0.113.7");
    }

    fn ranges(texts: &[&str]) -> Vec<Cidr> {
        texts.iter().map(|text| text.parse().expect("a range")).collect()
    }

    const PROXY: &str = "10.0.0.5";

    /// The client a request from the proxy at 10.0.0.5 is counted as, with 10.0.0.0/24
    /// trusted.
    fn behind_proxy(forwarded: Option<&str>, x_forwarded_for: Option<&str>) -> IpAddr {
        client_address(
            address(PROXY),
            forwarded,
            x_forwarded_for,
            &ranges(&["10.0.0.0/24"]),
        )
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let forged = client_address(
            address("203.0.113.9"),
            Some("for=198.51.100.1"),
            Some("198.51.100.2"),
            &[],
        );
        assert_eq!(forged, address("203.0.113.9"));
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_the_headers_say() {
        let forged = client_address(
            address("203.0.113.9"),
            None,
            Some("198.51.100.2"),
            &ranges(&["10.0.0.0/8"]),
        );
        assert_eq!(forged, address("203.0.113.9"));
    }

    #[test]
    fn behind_a_trusted_proxy_its_x_forwarded_for_names_the_client() {
        assert_eq!(behind_proxy(None, Some("198.51.100.7")), address("198.51.100.7"));
    }

    #[test]
    fn addresses_the_client_wrote_left_of_its_own_are_ignored() {
        let forged = behind_proxy(None, Some("192.0.2.1, 192.0.2.2, 198.51.100.7"));
        assert_eq!(forged, address("198.51.100.7"));
    }

    #[test]
    fn the_walk_from_the_right_passes_trusted_proxies_and_stops_at_the_first_other_address() {
        let chained = behind_proxy(None, Some("192.0.2.1, 198.51.100.7, 10.0.0.9, 10.0.0.8"));
        assert_eq!(chained, address("198.51.100.7"));
    }

    #[test]
    fn a_chain_of_trusted_proxies_only_names_the_farthest_of_them() {
        assert_eq!(
            behind_proxy(None, Some("10.0.0.9, 10.0.0.8")),
            address("10.0.0.9")
        );
    }

    #[test]
    fn a_hop_naming_no_address_ends_the_walk_at_the_proxy_that_wrote_it() {
        assert_eq!(behind_proxy(None, Some("198.51.100.7, unknown")), address(PROXY));
        assert_eq!(
            behind_proxy(None, Some("198.51.100.7, garbage, 10.0.0.8")),
            address("10.0.0.8")
        );
        assert_eq!(behind_proxy(None, Some("")), address(PROXY));
    }

    #[test]
    fn x_forwarded_for_entries_may_carry_ports_and_ipv6() {
        assert_eq!(
            behind_proxy(None, Some("198.51.100.7:4711")),
            address("198.51.100.7")
        );
        assert_eq!(behind_proxy(None, Some("2001:db8::17")), address("2001:db8::17"));
        assert_eq!(
            behind_proxy(None, Some("[2001:db8::17]:4711")),
            address("2001:db8::17")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_its_forwarded_for_names_the_client() {
        assert_eq!(
            behind_proxy(Some("for=198.51.100.7;proto=https;by=10.0.0.5"), None),
            address("198.51.100.7")
        );
    }

    #[test]
    fn forwarded_names_quoted_ipv6_in_brackets_with_or_without_a_port() {
        assert_eq!(
            behind_proxy(Some(r#"for="[2001:db8:cafe::17]:4711""#), None),
            address("2001:db8:cafe::17")
        );
        assert_eq!(
            behind_proxy(Some(r#"for="[2001:db8:cafe::17]""#), None),
            address("2001:db8:cafe::17")
        );
        assert_eq!(
            behind_proxy(Some(r#"for="198.51.100.7:80""#), None),
            address("198.51.100.7")
        );
    }

    #[test]
    fn forwarded_parameter_names_are_case_insensitive_in_any_order() {
        assert_eq!(
            behind_proxy(Some("proto=https; For=198.51.100.7"), None),
            address("198.51.100.7")
        );
    }

    #[test]
    fn forwarded_is_walked_from_the_right_across_elements() {
        let header = r#"for=192.0.2.1, for="198.51.100.7";by="x,y", for=10.0.0.8"#;
        assert_eq!(behind_proxy(Some(header), None), address("198.51.100.7"));
    }

    #[test]
    fn forwarded_nodes_that_name_no_address_end_the_walk_at_the_proxy_that_wrote_them() {
        for node in [
            "for=unknown",
            "for=_hidden",
            "proto=https",
            "for=2001:db8::17",
            r#"for="[2001:db8::17""#,
            r#"for="198.51.100.7:port""#,
            "for=198.51.100.7;for=192.0.2.1",
        ] {
            let header = format!("for=192.0.2.1, {node}");
            assert_eq!(behind_proxy(Some(&header), None), address(PROXY), "{node}");
        }
        assert_eq!(
            behind_proxy(Some(r#"for="198.51.100.7:_abc""#), None),
            address("198.51.100.7"),
            "an obfuscated port still names the address"
        );
    }

    #[test]
    fn both_headers_naming_one_client_are_believed() {
        assert_eq!(
            behind_proxy(Some("for=198.51.100.7"), Some("198.51.100.7")),
            address("198.51.100.7")
        );
    }

    #[test]
    fn both_headers_naming_different_clients_are_neither_believed() {
        assert_eq!(
            behind_proxy(Some("for=192.0.2.1"), Some("198.51.100.7")),
            address(PROXY)
        );
    }

    #[test]
    fn ipv4_addresses_written_as_ipv6_are_their_ipv4_addresses() {
        let mapped = client_address(
            address("::ffff:10.0.0.5"),
            None,
            Some("::ffff:198.51.100.7"),
            &ranges(&["10.0.0.0/24"]),
        );
        assert_eq!(mapped, address("198.51.100.7"));
    }

    #[test]
    fn quoted_strings_lose_their_quotes_and_escapes() {
        assert_eq!(unquote(r#""[2001:db8::1]""#), "[2001:db8::1]");
        assert_eq!(unquote(r#""a\"b""#), r#"a"b"#);
        assert_eq!(unquote("token"), "token");
    }
}
