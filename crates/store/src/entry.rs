//! The portable form of a store's contents: one [`Entry`] per JSON line, for backups and
//! for moving from one backend to another (`kanmon store export` / `import`).
//!
//! Binary keys and digests are lowercase hex, record and value bytes base64; token keys are
//! 16 hex digits, so tools that read JSON numbers as doubles cannot round them.

use serde::{Deserialize, Serialize};

use crate::{Class, Timestamp, TokenKey};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    Token {
        #[serde(with = "token_hex")]
        key: TokenKey,
        spam: u64,
        ham: u64,
    },
    Totals {
        spam: u64,
        ham: u64,
    },
    Label {
        #[serde(with = "hex")]
        digest: Vec<u8>,
        class: Class,
    },
    Greylist {
        #[serde(with = "hex")]
        key: Vec<u8>,
        first_seen: Timestamp,
        last_seen: Timestamp,
        count: u64,
        expires: Timestamp,
    },
    Stat {
        bucket: Timestamp,
        name: String,
        value: i64,
        expires: Timestamp,
    },
    Record {
        stream: String,
        at: Timestamp,
        #[serde(with = "base64")]
        data: Vec<u8>,
        expires: Timestamp,
    },
    Value {
        key: String,
        #[serde(with = "base64")]
        value: Vec<u8>,
        expires: Option<Timestamp>,
    },
}

impl Entry {
    /// One JSON line, without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            // Every field serialises; this only guards the invariant.
            format!("{{\"kind\":\"error\",\"reason\":\"{e}\"}}")
        })
    }

    pub fn from_line(line: &str) -> Result<Entry, String> {
        serde_json::from_str(line).map_err(|e| e.to_string())
    }

    /// At most the length of [`Entry::to_line`], without writing it: what batches of
    /// entries (an import, an export's frames) are bounded by. Text may be escaped to six
    /// bytes a byte; binary is hex or base64; the rest fits in a fixed allowance.
    pub fn size_hint(&self) -> usize {
        const FIXED: usize = 192;
        let base64 = |bytes: &[u8]| bytes.len().div_ceil(3) * 4;
        FIXED
            + match self {
                Entry::Token { .. } | Entry::Totals { .. } => 0,
                Entry::Label { digest, .. } => digest.len() * 2,
                Entry::Greylist { key, .. } => key.len() * 2,
                Entry::Stat { name, .. } => name.len() * 6,
                Entry::Record { stream, data, .. } => stream.len() * 6 + base64(data),
                Entry::Value { key, value, .. } => key.len() * 6 + base64(value),
            }
    }

    /// `entries` in consecutive runs of at most `max_entries` entries and about `max_bytes`
    /// of [`Entry::size_hint`] (an entry bigger than that alone), in order; none for none.
    pub fn batches(entries: &[Entry], max_entries: usize, max_bytes: usize) -> Vec<&[Entry]> {
        let mut batches = Vec::new();
        let mut start = 0;
        let mut bytes = 0;
        for (index, entry) in entries.iter().enumerate() {
            let size = entry.size_hint();
            if index > start && (index - start >= max_entries || bytes + size > max_bytes) {
                batches.push(&entries[start..index]);
                start = index;
                bytes = 0;
            }
            bytes += size;
        }
        if start < entries.len() {
            batches.push(&entries[start..]);
        }
        batches
    }
}

pub(crate) mod hex {
    use data_encoding::HEXLOWER_PERMISSIVE;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&HEXLOWER_PERMISSIVE.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

mod token_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(key: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{key:016x}"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        u64::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod base64 {
    use data_encoding::BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        BASE64
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let entries = [
            Entry::Token {
                key: u64::MAX - 1,
                spam: 3,
                ham: 0,
            },
            Entry::Totals { spam: 10, ham: 20 },
            Entry::Label {
                digest: vec![0xab; 32],
                class: Class::Ham,
            },
            Entry::Greylist {
                key: b"triplet".to_vec(),
                first_seen: 1,
                last_seen: 2,
                count: 2,
                expires: 100,
            },
            Entry::Stat {
                bucket: 3600,
                name: "action:reject".to_owned(),
                value: -4,
                expires: 7200,
            },
            Entry::Record {
                stream: "dmarc".to_owned(),
                at: 5,
                data: b"\x00\xffrecord".to_vec(),
                expires: 10,
            },
            Entry::Value {
                key: "k".to_owned(),
                value: b"v".to_vec(),
                expires: None,
            },
        ];
        for entry in entries {
            let line = entry.to_line();
            assert!(!line.contains('\n'));
            assert_eq!(Entry::from_line(&line).unwrap(), entry, "{line}");
            assert!(entry.size_hint() >= line.len(), "{line}");
        }
        assert_eq!(
            Entry::Token {
                key: 255,
                spam: 1,
                ham: 2
            }
            .to_line(),
            r#"{"kind":"token","key":"00000000000000ff","spam":1,"ham":2}"#
        );
    }

    /// The bound holds at its worst: the longest numbers, text escaped to `\u00XX`.
    #[test]
    fn size_hints_bound_the_longest_lines() {
        let text = "\u{1}".repeat(40);
        let entries = [
            Entry::Greylist {
                key: vec![0xff; 40],
                first_seen: Timestamp::MAX,
                last_seen: Timestamp::MAX,
                count: u64::MAX,
                expires: Timestamp::MAX,
            },
            Entry::Stat {
                bucket: Timestamp::MAX,
                name: text.clone(),
                value: i64::MIN,
                expires: Timestamp::MAX,
            },
            Entry::Record {
                stream: text.clone(),
                at: Timestamp::MAX,
                data: vec![0xff; 1000],
                expires: Timestamp::MAX,
            },
            Entry::Value {
                key: text,
                value: vec![0; 1001],
                expires: Some(Timestamp::MAX),
            },
        ];
        for entry in entries {
            let line = entry.to_line();
            assert!(entry.size_hint() >= line.len(), "{line}");
        }
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(Entry::from_line(r#"{"kind":"nope"}"#).is_err());
        assert!(Entry::from_line(r#"{"kind":"totals","spam":1}"#).is_err());
        assert!(Entry::from_line(r#"{"kind":"label","digest":"zz","class":"spam"}"#).is_err());
    }
}
