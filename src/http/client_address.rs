//! The address a request comes from, where callers must be told apart (login throttling).
//!
//! Behind a reverse proxy every connection comes from the proxy. A peer listed in
//! `http.trusted_proxies` forwards for others, so the caller is the nearest address of its
//! `X-Forwarded-For` that is not a trusted proxy, read from the right: each proxy appends the
//! address it saw, and whatever a client wrote itself comes first and is believed only as far
//! as trusted proxies vouch for it.

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses addresses (`10.0.0.2`, `::1`) and networks (`10.0.0.0/8`), or names the first
    /// entry that is neither.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                let e = e.as_ref().trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{e:?} is not an IP address or network"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The caller behind `peer`, given the request's `X-Forwarded-For` values in order.
    pub fn client<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let mut caller = peer?;
        if !self.trusts(caller) {
            return Some(caller);
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            // What a trusted proxy passed on but is no address ends the chain where it stands.
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            caller = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_caller() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("127.0.0.1"), ["203.0.113.7"]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_caller() {
        let proxies = TrustedProxies::parse(&["127.0.0.1", "10.0.0.0/8"]).unwrap();
        assert_eq!(
            proxies.client(ip("127.0.0.1"), ["203.0.113.7"]),
            ip("203.0.113.7")
        );
        // Through two proxies, the nearest untrusted hop; what the client made up is ignored.
        assert_eq!(
            proxies.client(ip("127.0.0.1"), ["6.6.6.6, 203.0.113.7", "10.1.2.3"]),
            ip("203.0.113.7")
        );
        // An untrusted peer's header is not believed.
        assert_eq!(
            proxies.client(ip("198.51.100.1"), ["203.0.113.7"]),
            ip("198.51.100.1")
        );
        // No header, or one that is no address: the proxy itself, or the last hop vouched for.
        assert_eq!(proxies.client(ip("127.0.0.1"), []), ip("127.0.0.1"));
        assert_eq!(
            proxies.client(ip("127.0.0.1"), ["203.0.113.7, unknown"]),
            ip("127.0.0.1")
        );
        assert_eq!(
            proxies.client(ip("127.0.0.1"), ["10.0.0.9"]),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn entries_that_are_no_address_are_named() {
        assert_eq!(
            TrustedProxies::parse(&["10.0.0.1", "proxy.local"]).unwrap_err(),
            "\"proxy.local\" is not an IP address or network"
        );
        assert!(TrustedProxies::parse(&["::1", "fd00::/8"]).is_ok());
    }
}
