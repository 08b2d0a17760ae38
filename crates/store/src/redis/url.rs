//! `store.url`: which server(s), and the same URL without its password for errors, logs and
//! `kanmon store stats`.
//!
//! Forms (what redis-rs parses, and what kanmon adds):
//! * `redis://[user[:password]@]host[:port][/db]`: one server over TCP;
//! * `redis+unix:///path/to.sock[?db=N&user=U&pass=P]` or `unix:///path`: one server over a
//!   Unix socket;
//! * several of those separated by commas: seed nodes of a Redis Cluster (a single URL
//!   naming a cluster node is recognised at open as a seed too);
//! * `rediss://` (TLS) is refused with a clear error: this build has no TLS client.

use ::redis::{ConnectionInfo, IntoConnectionInfo};

use crate::{Result, StoreError};

/// What `store.url` names.
#[derive(Debug)]
pub(crate) enum Target {
    /// One server (which may still turn out to be a cluster node).
    Single(ConnectionInfo),
    /// Seed nodes of a cluster: the client learns the rest from them.
    Cluster(Vec<ConnectionInfo>),
}

/// Parses `store.url`. Errors name the key and show the URL without its password.
pub(crate) fn parse(url: &str) -> Result<Target> {
    let bad = |why: &str| StoreError::Config(format!("store.url = \"{}\": {why}", redact(url)));
    let parts: Vec<&str> = url.split(',').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad(
            "empty URL (in a list, separate URLs with single commas)",
        ));
    }
    let mut infos = Vec::with_capacity(parts.len());
    for part in &parts {
        let scheme = part.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("redis" | "redis+unix" | "unix" | "valkey" | "valkey+unix") => {}
            Some("rediss" | "valkeys") => {
                return Err(bad(
                    "TLS (rediss://) is not supported by this build; reach the server over a \
                     Unix socket, a private network, or a local TLS tunnel (stunnel, spiped)",
                ));
            }
            _ => {
                return Err(bad(
                    "expected redis://host[:port][/db], redis+unix:///path or unix:///path",
                ));
            }
        }
        let info = part
            .into_connection_info()
            .map_err(|e| bad(&e.to_string()))?;
        infos.push(info);
    }
    match infos.len() {
        1 => Ok(Target::Single(infos.remove(0))),
        _ => Ok(Target::Cluster(infos)),
    }
}

/// `url` without passwords: the userinfo keeps only the user name, and `pass=` /
/// `password=` query parameters go. Works on text that does not parse, so a bad URL's
/// error cannot leak the password either.
pub(crate) fn redact(url: &str) -> String {
    url.split(',')
        .map(|part| redact_one(part.trim()))
        .collect::<Vec<_>>()
        .join(",")
}

fn redact_one(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some(("", _)) => host.to_owned(),
            Some((user, _)) => format!("{user}@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| {
                    let name = pair.split('=').next().unwrap_or_default();
                    !matches!(name.to_ascii_lowercase().as_str(), "pass" | "password")
                })
                .collect();
            let mut tail = path.to_owned();
            if !kept.is_empty() {
                tail.push('?');
                tail.push_str(&kept.join("&"));
            }
            if let Some(fragment) = fragment {
                tail.push('#');
                tail.push_str(fragment);
            }
            tail
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379/2", "redis://127.0.0.1:6379/2"),
            ("redis://:s3cret@host:6379", "redis://host:6379"),
            ("redis://kanmon:s3cret@host/1", "redis://kanmon@host/1"),
            ("redis://kanmon@host", "redis://kanmon@host"),
            ("redis://u:p@ss:w@host", "redis://u@host"),
            (
                "redis+unix:///run/redis.sock?db=3&pass=s3cret&user=k",
                "redis+unix:///run/redis.sock?db=3&user=k",
            ),
            (
                "unix:///run/redis.sock?password=x",
                "unix:///run/redis.sock",
            ),
            (
                "redis://:a@h1:7000, redis://:b@h2:7001",
                "redis://h1:7000,redis://h2:7001",
            ),
            ("not a url :secret@", "not a url @"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn forms() {
        assert!(matches!(
            parse("redis://127.0.0.1:6380/2").unwrap(),
            Target::Single(_)
        ));
        assert!(matches!(
            parse("redis+unix:///tmp/r.sock?db=1").unwrap(),
            Target::Single(_)
        ));
        assert!(matches!(
            parse("redis://a:7000,redis://b:7001").unwrap(),
            Target::Cluster(nodes) if nodes.len() == 2
        ));
    }

    #[test]
    fn bad_urls_name_the_key_without_the_password() {
        for url in [
            "http://:s3cret@host",
            "redis://:s3cret@host/notadb",
            "rediss://:s3cret@host",
            "redis://:s3cret@host,",
            "",
        ] {
            let err = parse(url).unwrap_err().to_string();
            assert!(err.starts_with("store.url = \""), "{err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
    }
}
