//! Listen addresses given as `host:port`, where the host may be a name.

use std::net::{SocketAddr, ToSocketAddrs};

/// Parses a listen address: `127.0.0.1:7070`, `[::1]:7070`, or a host name with a
/// port (`localhost:7070`), resolved now; see [`pick`] for which address of a name is
/// used.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if text
        .rsplit_once(':')
        .is_none_or(|(host, _)| host.is_empty())
    {
        return Err(format!("{text:?} is not host:port (e.g. 127.0.0.1:7070)"));
    }
    let resolved: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {text:?}: {e}"))?
        .collect();
    pick(&resolved).ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// The address to bind among those a name resolves to: the first IPv4 one (so
/// `localhost` is 127.0.0.1 wherever the resolver lists `::1` first), else the first.
pub fn pick(resolved: &[SocketAddr]) -> Option<SocketAddr> {
    resolved
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| resolved.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("a socket address")
    }

    #[test]
    fn ipv4_comes_first_then_the_resolver_order() {
        let v6 = addr("[::1]:7070");
        let v4 = addr("127.0.0.1:7070");
        let other_v4 = addr("10.0.0.1:7070");
        assert_eq!(pick(&[v6, v4, other_v4]), Some(v4));
        assert_eq!(pick(&[v6]), Some(v6));
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn literal_addresses_and_localhost_parse() {
        assert_eq!(parse_listen("127.0.0.1:0"), Ok(addr("127.0.0.1:0")));
        assert_eq!(parse_listen("[::1]:7070"), Ok(addr("[::1]:7070")));
        assert_eq!(parse_listen("localhost:7070"), Ok(addr("127.0.0.1:7070")));
    }

    #[test]
    fn bad_addresses_are_explained() {
        for bad in ["7070", ":7070", "localhost", "localhost:http-ish"] {
            let err = parse_listen(bad).expect_err(bad);
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }
}
