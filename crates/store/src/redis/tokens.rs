//! Token counters, totals and labels.
//!
//! All counters live in one hash, field = the token key's 8 bytes, value = `"spam:ham"`.
//! One field per token (rather than a hash per class) keeps memory down (a token seen in
//! both classes costs one field, not two), lets `HLEN` count tokens, and makes a message's
//! read a single `HMGET` of its 2,000 fields, sent with the totals in one MULTI, so a read
//! never sees a learn half done. Learning is `relabel.lua`.

use ::redis::pipe;

use super::{RedisStore, parse_u64};
use crate::{Class, ClassTotals, Result, StoreError, TokenCounts, TokenKey, TokenRead};

/// The totals hash's `spam` and `ham` fields, as HMGET returns them.
type Totals = (Option<u64>, Option<u64>);

/// A token key as its hash field.
pub(super) fn field(key: TokenKey) -> [u8; 8] {
    key.to_be_bytes()
}

/// A hash field back to its token key.
pub(super) fn key_of(field: &[u8]) -> Result<TokenKey> {
    let bytes: [u8; 8] = field
        .try_into()
        .map_err(|_| StoreError::Corrupt("a token field is not 8 bytes".to_owned()))?;
    Ok(TokenKey::from_be_bytes(bytes))
}

/// `"spam:ham"` as counts.
pub(super) fn parse_counts(value: &[u8]) -> Result<TokenCounts> {
    let bad = || StoreError::Corrupt("a token counter is not \"spam:ham\"".to_owned());
    let split = value.iter().position(|b| *b == b':').ok_or_else(bad)?;
    Ok(TokenCounts {
        spam: parse_u64(&value[..split], "a token counter")?,
        ham: parse_u64(&value[split + 1..], "a token counter")?,
    })
}

pub(super) fn format_counts(counts: TokenCounts) -> String {
    format!("{}:{}", counts.spam, counts.ham)
}

pub(super) fn parse_class(label: &[u8]) -> Result<Class> {
    match label {
        b"spam" => Ok(Class::Spam),
        b"ham" => Ok(Class::Ham),
        _ => Err(StoreError::Corrupt(
            "a label is neither spam nor ham".to_owned(),
        )),
    }
}

impl RedisStore {
    pub(super) async fn read_tokens(&self, keys: &[TokenKey]) -> Result<TokenRead> {
        let mut conn = self.conn();
        let mut totals = ::redis::cmd("HMGET");
        totals.arg(self.keys().totals()).arg("spam").arg("ham");
        if keys.is_empty() {
            let (spam, ham): Totals = self.bounded(totals.query_async(&mut conn)).await?;
            return Ok(TokenRead {
                totals: ClassTotals {
                    spam: spam.unwrap_or(0),
                    ham: ham.unwrap_or(0),
                },
                counts: Vec::new(),
            });
        }
        let mut counts = ::redis::cmd("HMGET");
        counts.arg(self.keys().tokens());
        for key in keys {
            counts.arg(&field(*key)[..]);
        }
        let mut pipeline = pipe();
        pipeline.atomic().add_command(totals).add_command(counts);
        let ((spam, ham), counts): (Totals, Vec<Option<Vec<u8>>>) =
            self.bounded(pipeline.query_async(&mut conn)).await?;
        if counts.len() != keys.len() {
            return Err(StoreError::Corrupt(format!(
                "asked for {} token counters, got {}",
                keys.len(),
                counts.len()
            )));
        }
        Ok(TokenRead {
            totals: ClassTotals {
                spam: spam.unwrap_or(0),
                ham: ham.unwrap_or(0),
            },
            counts: counts
                .iter()
                .map(|value| {
                    value
                        .as_deref()
                        .map_or(Ok(TokenCounts::default()), parse_counts)
                })
                .collect::<Result<_>>()?,
        })
    }

    pub(super) async fn relabel_tokens(
        &self,
        digest: &[u8],
        class: Option<Class>,
        tokens: &[TokenKey],
    ) -> Result<Option<Class>> {
        let keys = self.keys();
        let mut invocation = self.scripts().relabel.prepare_invoke();
        invocation
            .key(keys.labels())
            .key(keys.tokens())
            .key(keys.totals())
            .arg(digest)
            .arg(class.map_or("", Class::as_str));
        for token in tokens {
            invocation.arg(&field(*token)[..]);
        }
        let mut conn = self.conn();
        let old: Vec<u8> = self.bounded(invocation.invoke_async(&mut conn)).await?;
        match old.as_slice() {
            b"" => Ok(None),
            label => parse_class(label).map(Some),
        }
    }

    /// The three keys of everything learned in one `UNLINK`: atomic, and the server frees
    /// the hashes in the background instead of blocking on a large one.
    pub(super) async fn unlink_learned(&self) -> Result<()> {
        let keys = self.keys();
        let mut conn = self.conn();
        let _: u64 = self
            .bounded(
                ::redis::cmd("UNLINK")
                    .arg(keys.tokens())
                    .arg(keys.totals())
                    .arg(keys.labels())
                    .query_async(&mut conn),
            )
            .await?;
        Ok(())
    }

    pub(super) async fn read_label(&self, digest: &[u8]) -> Result<Option<Class>> {
        let mut conn = self.conn();
        let label: Option<Vec<u8>> = self
            .bounded(
                ::redis::cmd("HGET")
                    .arg(self.keys().labels())
                    .arg(digest)
                    .query_async(&mut conn),
            )
            .await?;
        label.as_deref().map(parse_class).transpose()
    }
}
