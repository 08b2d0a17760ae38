//! `[http]` validated: where the dashboard, `/metrics` and the scan API listen, and the
//! secrets that guard them when that is not a loopback address.
//!
//! The rule (issue 9): bound to loopback, the pages are open to local users as the other
//! local tools are; bound anywhere else, a password is required or kanmon refuses to start,
//! and the API and `/metrics` need the token. The secrets never appear in `Debug` output
//! (and so never in a log line) nor in a page.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::error::ConfigErrors;
use super::raw::RawHttp;

/// Shortest `api_token` accepted: 128 bits as hex or base64 is 22 to 32 characters, and a
/// short token is guessed.
pub const MIN_API_TOKEN_LEN: usize = 24;

/// The web server's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct Http {
    /// `None`: the web server is off (`listen = ""`).
    pub listen: Option<SocketAddr>,
    /// An Argon2 PHC string (`$argon2id$v=19$m=...$salt$hash`), from
    /// `kanmon http hash-password`.
    pub password_hash: Option<String>,
    /// The bearer token `/api/*` and `/metrics` require when not on loopback.
    pub api_token: Option<String>,
    /// Connections served at once (a client holding many cannot starve the others for
    /// longer than `idle_timeout`).
    pub max_connections: usize,
    /// A connection without a byte either way for this long is closed.
    pub idle_timeout: Duration,
}

impl Http {
    /// Whether the server listens on a loopback address only.
    pub fn is_loopback(&self) -> bool {
        self.listen.is_some_and(|addr| addr.ip().is_loopback())
    }
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |secret: &Option<String>| if secret.is_some() { "(set)" } else { "(none)" };
        f.debug_struct("Http")
            .field("listen", &self.listen)
            .field("password_hash", &set(&self.password_hash))
            .field("api_token", &set(&self.api_token))
            .field("max_connections", &self.max_connections)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

pub(super) fn validate(errors: &mut ConfigErrors, raw: &RawHttp) -> Http {
    let listen = if raw.listen.is_empty() {
        None
    } else {
        match raw.listen.parse::<SocketAddr>() {
            Ok(addr) if addr.port() != 0 => Some(addr),
            _ => {
                errors.push(
                    "http.listen",
                    format!(
                        "{:?} is not ADDRESS:PORT (e.g. \"127.0.0.1:8025\" or \"[::1]:8025\"; \"\" turns the web server off)",
                        raw.listen
                    ),
                );
                None
            }
        }
    };
    let password_hash = (!raw.password_hash.is_empty()).then(|| raw.password_hash.clone());
    if let Some(hash) = &password_hash
        && !looks_like_argon2(hash)
    {
        errors.push(
            "http.password_hash",
            "is not an Argon2 PHC string ($argon2id$v=19$m=...,t=...,p=...$SALT$HASH); make one with `kanmon http hash-password`",
        );
    }
    let api_token = (!raw.api_token.is_empty()).then(|| raw.api_token.clone());
    if let Some(token) = &api_token
        && (token.len() < MIN_API_TOKEN_LEN || !token.chars().all(|c| c.is_ascii_graphic()))
    {
        errors.push(
            "http.api_token",
            format!(
                "must be at least {MIN_API_TOKEN_LEN} printable ASCII characters without spaces (e.g. `openssl rand -hex 24`)"
            ),
        );
    }
    if let Some(addr) = listen
        && !addr.ip().is_loopback()
        && password_hash.is_none()
    {
        errors.push(
            "http.password_hash",
            format!(
                "is required when http.listen ({addr}) is not a loopback address: anyone who can reach it would see the dashboard (or set listen = \"127.0.0.1:8025\")"
            ),
        );
    }
    if !(1..=10_000).contains(&raw.max_connections) {
        errors.push("http.max_connections", "must be from 1 to 10000");
    }
    if !(1..=3_600).contains(&raw.idle_timeout_secs) {
        errors.push("http.idle_timeout_secs", "must be from 1 to 3600 seconds");
    }
    Http {
        listen,
        password_hash,
        api_token,
        max_connections: raw.max_connections as usize,
        idle_timeout: Duration::from_secs(raw.idle_timeout_secs),
    }
}

/// The shape of a PHC string of one of the Argon2 variants; the web server parses it fully
/// when it starts.
fn looks_like_argon2(hash: &str) -> bool {
    let fields: Vec<&str> = hash.split('$').collect();
    matches!(
        fields.as_slice(),
        ["", "argon2id" | "argon2i" | "argon2d", ..]
    ) && fields.len() >= 5
        && fields.iter().skip(1).all(|f| !f.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(listen: &str, password_hash: &str, api_token: &str) -> Result<Http, String> {
        let mut errors = ConfigErrors::default();
        let raw = RawHttp {
            listen: listen.to_owned(),
            password_hash: password_hash.to_owned(),
            api_token: api_token.to_owned(),
            ..RawHttp::default()
        };
        let http = validate(&mut errors, &raw);
        errors
            .into_result()
            .map(|()| http)
            .map_err(|e| e.to_string())
    }

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

    #[test]
    fn loopback_needs_no_password_and_empty_turns_it_off() {
        let http = http("127.0.0.1:8025", "", "").unwrap();
        assert!(http.is_loopback());
        assert_eq!(http.listen, Some("127.0.0.1:8025".parse().unwrap()));
        assert!(self::http("[::1]:8025", "", "").unwrap().is_loopback());
        assert_eq!(self::http("", "", "").unwrap().listen, None);
    }

    #[test]
    fn a_public_address_without_a_password_is_refused() {
        let error = http("0.0.0.0:8025", "", "").unwrap_err();
        assert!(
            error.contains("http.password_hash: is required when http.listen (0.0.0.0:8025)"),
            "{error}"
        );
        let http = http("0.0.0.0:8025", HASH, "").unwrap();
        assert!(!http.is_loopback());
    }

    #[test]
    fn malformed_values_are_refused_by_key() {
        assert!(
            http("localhost", "", "")
                .unwrap_err()
                .contains("http.listen")
        );
        assert!(
            http("127.0.0.1:8025", "secret", "")
                .unwrap_err()
                .contains("http.password_hash: is not an Argon2")
        );
        assert!(
            http("127.0.0.1:8025", "", "short")
                .unwrap_err()
                .contains("http.api_token")
        );
    }

    #[test]
    fn connection_limits_have_bounds() {
        let defaults = http("127.0.0.1:8025", "", "").unwrap();
        assert_eq!(
            (defaults.max_connections, defaults.idle_timeout),
            (64, Duration::from_secs(30))
        );
        for (max_connections, idle_timeout_secs, key) in [
            (0, 30, "http.max_connections"),
            (10_001, 30, "http.max_connections"),
            (64, 0, "http.idle_timeout_secs"),
            (64, 3_601, "http.idle_timeout_secs"),
        ] {
            let raw = RawHttp {
                max_connections,
                idle_timeout_secs,
                ..RawHttp::default()
            };
            let mut errors = ConfigErrors::default();
            validate(&mut errors, &raw);
            let error = errors.into_result().unwrap_err().to_string();
            assert!(error.contains(key), "{error}");
        }
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let http = http("127.0.0.1:8025", HASH, "0123456789abcdef0123456789abcdef").unwrap();
        let shown = format!("{http:?}");
        assert!(
            !shown.contains("argon2") && !shown.contains("0123456789"),
            "{shown}"
        );
        assert!(shown.contains("(set)"));
    }
}
