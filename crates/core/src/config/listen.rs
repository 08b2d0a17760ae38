//! Where the front-ends listen: `inet:HOST:PORT` or `unix:PATH`, the forms Postfix's own
//! `smtpd_milters` and `check_policy_service` use, so the value can be copied between the two
//! files.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// A front-end's listening socket, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// The front-end is off (the key is an empty string).
    Off,
    /// A TCP socket.
    Inet(SocketAddr),
    /// A unix-domain socket at this absolute path.
    Unix(PathBuf),
}

impl fmt::Display for Listen {
    /// The Postfix form: `inet:127.0.0.1:8897`, `inet:[::1]:8897`, `unix:/path`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Off => Ok(()),
            Listen::Inet(addr) => write!(f, "inet:{addr}"),
            Listen::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Parses a `listen` value. Hosts are addresses (or `localhost`): a daemon binds, it does not
/// look names up, and an address that resolves differently tomorrow is a surprise.
pub(crate) fn parse_listen(text: &str) -> Result<Listen, String> {
    if text.is_empty() {
        return Ok(Listen::Off);
    }
    if let Some(path) = text.strip_prefix("unix:") {
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(format!(
                "{text:?}: the socket path must be absolute (e.g. \"unix:/var/spool/postfix/kanmon/milter.sock\")"
            ));
        }
        return Ok(Listen::Unix(path));
    }
    let Some(rest) = text.strip_prefix("inet:") else {
        return Err(format!(
            "{text:?} is not \"inet:HOST:PORT\" or \"unix:PATH\" (or \"\" to turn this front-end off)"
        ));
    };
    let Some((host, port)) = rest.rsplit_once(':') else {
        return Err(format!(
            "{text:?} has no port (e.g. \"inet:127.0.0.1:8897\")"
        ));
    };
    let port: u16 = match port.parse() {
        Ok(port) if port > 0 => port,
        _ => return Err(format!("{text:?}: {port:?} is not a port from 1 to 65535")),
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse::<IpAddr>().map_err(|_| {
            format!("{text:?}: {host:?} is not an IP address (write \"inet:127.0.0.1:{port}\" or \"inet:[::1]:{port}\")")
        })?
    };
    Ok(Listen::Inet(SocketAddr::new(ip, port)))
}

/// Parses an octal file mode such as `"0660"`; only permission bits.
pub(crate) fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 && !digits.is_empty() => Ok(mode),
        _ => Err(format!(
            "{text:?} is not an octal permission mode such as \"0660\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        let inet = |s: &str| Listen::Inet(s.parse().unwrap());
        for (text, want) in [
            ("", Listen::Off),
            ("inet:127.0.0.1:8897", inet("127.0.0.1:8897")),
            ("inet:localhost:25", inet("127.0.0.1:25")),
            ("inet:[::1]:8897", inet("[::1]:8897")),
            ("inet:::1:8897", inet("[::1]:8897")),
            (
                "unix:/run/kanmon/m.sock",
                Listen::Unix("/run/kanmon/m.sock".into()),
            ),
        ] {
            assert_eq!(parse_listen(text), Ok(want.clone()), "{text}");
            if !text.contains("localhost") && !text.contains(":::") {
                assert_eq!(want.to_string(), text);
            }
        }
        for (text, says) in [
            ("127.0.0.1:8897", "is not \"inet:HOST:PORT\""),
            ("inet:127.0.0.1", "has no port"),
            ("inet:127.0.0.1:0", "is not a port"),
            ("inet:mail.example:8897", "is not an IP address"),
            ("unix:milter.sock", "must be absolute"),
        ] {
            let error = parse_listen(text).unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0660"), Ok(0o660));
        assert_eq!(parse_mode("660"), Ok(0o660));
        assert!(parse_mode("0999").is_err());
        assert!(parse_mode("4755").is_err());
        assert!(parse_mode("").is_err());
    }
}
