//! Addresses as the configuration writes them: `internal_hosts` networks and
//! `dns.nameservers` sockets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ipnet::{IpNet, Ipv4Net};

/// The DNS port, for a nameserver written without one (as `/etc/resolv.conf` writes them).
const DNS_PORT: u16 = 53;

/// `192.0.2.0/24`, `2001:db8::/32`, or a single address (`::1`, `192.0.2.7`).
///
/// An IPv4-mapped IPv6 network (`::ffff:192.0.2.0/120`) becomes the IPv4 network it maps,
/// since client addresses are compared in their IPv4 form ([`super::Config::is_internal`]).
/// Host bits set after the prefix (`10.1.2.3/8`) are refused rather than silently cleared,
/// as Postfix warns about them in `mynetworks`: the writer may have meant another prefix.
pub(crate) fn parse_network(text: &str) -> Result<IpNet, String> {
    let net = match text.parse::<IpNet>() {
        Ok(net) => {
            if net.trunc() != net {
                return Err(format!(
                    "{text:?} has bits set after the /{} prefix; did you mean \"{}\"?",
                    net.prefix_len(),
                    net.trunc()
                ));
            }
            net
        }
        Err(_) => match text.parse::<IpAddr>() {
            Ok(ip) => IpNet::from(ip),
            Err(_) => {
                return Err(format!(
                    "{text:?} is not a network or address (e.g. \"192.0.2.0/24\", \"2001:db8::/32\", \"::1\")"
                ));
            }
        },
    };
    let net = unmap(net);
    if net.prefix_len() == 0 {
        return Err(format!(
            "{text:?} is every address, so no mail would be checked as inbound; list your own networks"
        ));
    }
    Ok(net)
}

/// `::ffff:a.b.c.d/n` (n ≥ 96) as `a.b.c.d/(n − 96)`; any other network unchanged.
fn unmap(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
        && let Ok(mapped) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(mapped);
    }
    net
}

/// `ip:port` (`127.0.0.1:5353`, `[::1]:53`), or a bare address meaning port 53.
pub(crate) fn parse_nameserver(text: &str) -> Result<SocketAddr, String> {
    let addr = text
        .parse::<SocketAddr>()
        .or_else(|_| {
            text.parse::<IpAddr>()
                .map(|ip| SocketAddr::new(ip, DNS_PORT))
        })
        .map_err(|_| {
            format!("{text:?} is not ip:port (e.g. \"127.0.0.1:53\", \"[2001:db8::53]:53\")")
        })?;
    if addr.port() == 0 {
        return Err(format!("{text:?} has port 0, which no server listens on"));
    }
    if addr.ip().is_unspecified() || addr.ip() == IpAddr::V4(Ipv4Addr::BROADCAST) {
        return Err(format!("{text:?} is not the address of a server"));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn networks_and_bare_addresses() {
        assert_eq!(parse_network("127.0.0.0/8"), Ok(net("127.0.0.0/8")));
        assert_eq!(parse_network("::1"), Ok(net("::1/128")));
        assert_eq!(parse_network("192.0.2.7"), Ok(net("192.0.2.7/32")));
        assert_eq!(parse_network("2001:db8::/32"), Ok(net("2001:db8::/32")));
    }

    #[test]
    fn ipv4_mapped_networks_become_ipv4() {
        assert_eq!(
            parse_network("::ffff:192.0.2.0/120"),
            Ok(net("192.0.2.0/24"))
        );
        assert_eq!(parse_network("::ffff:10.0.0.1"), Ok(net("10.0.0.1/32")));
    }

    #[test]
    fn host_bits_and_everything_are_refused() {
        assert_eq!(
            parse_network("10.1.2.3/8"),
            Err(
                "\"10.1.2.3/8\" has bits set after the /8 prefix; did you mean \"10.0.0.0/8\"?"
                    .to_owned()
            )
        );
        assert!(parse_network("0.0.0.0/0").is_err());
        assert!(parse_network("::/0").is_err());
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("mail.example").is_err());
    }

    #[test]
    fn nameservers_with_and_without_port() {
        assert_eq!(
            parse_nameserver("127.0.0.1:5353"),
            Ok("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(
            parse_nameserver("[::1]:53"),
            Ok("[::1]:53".parse().unwrap())
        );
        assert_eq!(
            parse_nameserver("192.0.2.53"),
            Ok("192.0.2.53:53".parse().unwrap())
        );
        assert_eq!(parse_nameserver("::1"), Ok("[::1]:53".parse().unwrap()));
        assert!(parse_nameserver("127.0.0.1:0").is_err());
        assert!(parse_nameserver("0.0.0.0:53").is_err());
        assert!(parse_nameserver("dns.example:53").is_err());
    }
}
