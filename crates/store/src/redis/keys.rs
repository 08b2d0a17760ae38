//! Where each kind of entry lives on the server.
//!
//! Every key starts with `{prefix}:`. The braces are a Redis Cluster hash tag: only the
//! text between them picks the slot, so all of a deployment's keys share one slot and the
//! scripts that touch several keys at once (learning, stats, records) run atomically on a
//! cluster as on a single server. The price is that a cluster does not spread kanmon's
//! data over its nodes; it still gives failover.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{p}:tokens` | hash | 8-byte big-endian token key → `"spam:ham"` |
//! | `{p}:totals` | hash | `spam`, `ham` → learned messages |
//! | `{p}:labels` | hash | digest (raw bytes) → `spam` / `ham` |
//! | `{p}:grey:<hex key>` | hash | `first`, `last`, `count`, `expires`; key TTL |
//! | `{p}:stats:<hour>` | hash | `v:<name>` → value, `x:<name>` → expiry; key TTL |
//! | `{p}:stathours` | sorted set | the hours that have a stats hash |
//! | `{p}:rec:<stream>` | sorted set | records scored by time; key TTL |
//! | `{p}:recx:<stream>` | sorted set | the same members scored by expiry |
//! | `{p}:streams` | set | names of streams that have records |
//! | `{p}:seq` | string | record sequence counter |
//! | `{p}:val:<key>` | string | a value; key TTL |

use data_encoding::HEXLOWER;

use crate::{Result, StoreError, Timestamp};

/// The kinds of key found only by a scan of the prefix (see [`Keys::classify`]): there
/// are too many greylist entries and values to index.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Greylist(Vec<u8>),
    Value(String),
    /// Everything else: kept in fixed keys, or found through an index.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// `{prefix}:`
    base: String,
}

impl Keys {
    /// The layout for `store.prefix`, which must be non-empty and free of braces (they
    /// would change the hash tag).
    pub(crate) fn new(prefix: &str) -> Result<Keys> {
        if prefix.is_empty() || prefix.contains(['{', '}']) {
            return Err(StoreError::Config(format!(
                "store.prefix = \"{prefix}\": must be non-empty and contain no braces \
                 (kanmon wraps it in {{}} as the Redis Cluster hash tag)"
            )));
        }
        Ok(Keys {
            base: format!("{{{prefix}}}:"),
        })
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.base)
    }

    /// A key in the slot, for routing keyless commands to the right cluster node.
    pub(crate) fn slot_key(&self) -> &[u8] {
        self.base.as_bytes()
    }

    pub(crate) fn tokens(&self) -> String {
        self.key("tokens")
    }

    pub(crate) fn totals(&self) -> String {
        self.key("totals")
    }

    pub(crate) fn labels(&self) -> String {
        self.key("labels")
    }

    pub(crate) fn seq(&self) -> String {
        self.key("seq")
    }

    pub(crate) fn stat_hours(&self) -> String {
        self.key("stathours")
    }

    pub(crate) fn streams(&self) -> String {
        self.key("streams")
    }

    pub(crate) fn greylist(&self, key: &[u8]) -> String {
        self.key(&format!("grey:{}", HEXLOWER.encode(key)))
    }

    pub(crate) fn stats(&self, hour: Timestamp) -> String {
        self.key(&format!("stats:{hour}"))
    }

    pub(crate) fn records(&self, stream: &str) -> String {
        self.key(&format!("rec:{stream}"))
    }

    pub(crate) fn records_by_expiry(&self, stream: &str) -> String {
        self.key(&format!("recx:{stream}"))
    }

    pub(crate) fn value(&self, key: &str) -> String {
        self.key(&format!("val:{key}"))
    }

    /// A SCAN pattern matching every key under the prefix (glob characters in the prefix
    /// escaped).
    pub(crate) fn pattern(&self) -> String {
        let mut pattern = String::with_capacity(self.base.len() + 2);
        for c in self.base.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        pattern
    }

    /// What a key found under the prefix holds.
    pub(crate) fn classify(&self, key: &[u8]) -> Kind {
        let Some(rest) = key.strip_prefix(self.base.as_bytes()) else {
            return Kind::Other;
        };
        let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).ok();
        if let Some(hex) = rest.strip_prefix(b"grey:") {
            return HEXLOWER.decode(hex).map_or(Kind::Other, Kind::Greylist);
        }
        if let Some(key) = rest.strip_prefix(b"val:") {
            return text(key).map_or(Kind::Other, Kind::Value);
        }
        Kind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_hash_tag_and_classify_back() {
        let keys = Keys::new("kan*mon").unwrap();
        assert_eq!(keys.tokens(), "{kan*mon}:tokens");
        assert_eq!(keys.pattern(), "{kan\\*mon}:*");
        let grey = keys.greylist(b"\x01\xff");
        assert_eq!(grey, "{kan*mon}:grey:01ff");
        assert_eq!(keys.classify(grey.as_bytes()), Kind::Greylist(vec![1, 255]));
        assert_eq!(keys.classify(keys.stats(3600).as_bytes()), Kind::Other);
        assert_eq!(keys.classify(keys.records("a").as_bytes()), Kind::Other);
        assert_eq!(
            keys.classify(keys.value("v").as_bytes()),
            Kind::Value("v".to_owned())
        );
        assert_eq!(keys.classify(b"{other}:val:v"), Kind::Other);
    }

    #[test]
    fn prefixes_that_would_break_the_hash_tag_are_refused() {
        for prefix in ["", "a{b", "a}b"] {
            let err = Keys::new(prefix).unwrap_err().to_string();
            assert!(err.starts_with("store.prefix = "), "{err}");
        }
    }
}
