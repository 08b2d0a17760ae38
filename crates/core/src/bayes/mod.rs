//! The Bayesian classifier (issue 7): tokeniser, pure maths, message digests, and the
//! functions `kanmon learn` and autolearn call.
//!
//! Counts live in the store (`Store::token_counts`, `Store::relabel`): a token's key is a
//! stable 64-bit hash ([`tokenize`]), a learned message's label is keyed by [`digest`].
//! Learning is `store.relabel(digest, Some(class), &keys)` with the output of
//! [`learn_tokens`]; forgetting is the same with `None`.

pub mod autolearn;
pub mod classify;
pub mod digest;
pub mod tokenize;

pub use classify::{
    Abstention, Classification, Params, band, classify, evidence, fisher, robinson,
};
pub use digest::{DIGEST_LEN, message_digest};
pub use tokenize::{TOKENIZER_VERSION, TokenizerOptions, Tokens, token_key, tokenize};

use kanmon_store::{Store, TokenKey};

use crate::content::Content;
use crate::envelope::Envelope;

/// The store value naming the tokeniser version the counts were learned with.
pub const VERSION_KEY: &str = "bayes:tokenizer";

/// MIME parts read when learning, as many as a scan reads by default.
const LEARN_MAX_PARTS: usize = 100;

/// What learning or forgetting one message needs: its digest and its token keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Learnable {
    pub digest: [u8; DIGEST_LEN],
    pub keys: Vec<TokenKey>,
    /// The tokeniser stopped early (a very long message).
    pub truncated: bool,
}

/// Tokenises and digests a raw message for `store.relabel(digest, class, &keys)`. Pure and
/// CPU-bound: callers learning many messages run it on several threads and keep many
/// relabels in flight, so the store's group commit shares one fsync among them.
pub fn learn_tokens(raw: &[u8], options: &TokenizerOptions) -> Learnable {
    let content = Content::derive(raw, &Envelope::default(), LEARN_MAX_PARTS);
    learn_tokens_of(&content, raw, options)
}

/// [`learn_tokens`] for a message already decoded.
pub fn learn_tokens_of(content: &Content, raw: &[u8], options: &TokenizerOptions) -> Learnable {
    let tokens = tokenize(content, options);
    Learnable {
        digest: message_digest(content, raw),
        keys: tokens.keys,
        truncated: tokens.truncated,
    }
}

/// The tokeniser version the store's counts were learned with, if any was recorded.
pub async fn learned_version(store: &Store) -> kanmon_store::Result<Option<String>> {
    let value = store.get(VERSION_KEY).await?;
    Ok(value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// Before learning: records this tokeniser's version in an empty store, or refuses (with
/// the message to show) when the counts there were learned by another version, since
/// forgetting or moving them would then change the wrong counters.
pub async fn claim_version(store: &Store) -> kanmon_store::Result<Result<(), String>> {
    match learned_version(store).await? {
        Some(version) if version == TOKENIZER_VERSION => Ok(Ok(())),
        Some(version) => Ok(Err(format!(
            "the store was learned by tokenizer {version}, this kanmon has {TOKENIZER_VERSION}; \
             `kanmon bayes reset --yes` forgets it, then learn again"
        ))),
        None => {
            store
                .set(VERSION_KEY, TOKENIZER_VERSION.as_bytes(), None)
                .await?;
            Ok(Ok(()))
        }
    }
}

/// Forgets everything learned (`kanmon bayes reset`): counters, totals and labels first,
/// then the tokeniser version, so an interruption between the two leaves an empty store
/// still marked with the old version (the next reset finishes it), never old counts that the
/// next learn would claim for this version.
pub async fn reset(store: &Store) -> kanmon_store::Result<()> {
    store.clear_learned().await?;
    store.delete(VERSION_KEY).await?;
    Ok(())
}

/// Whether the classifier gives bands with these counts, or why not (`kanmon bayes stats`
/// and the dashboard say the same).
pub fn readiness(
    spam: u64,
    ham: u64,
    min_spam: u64,
    min_ham: u64,
    version: Option<&str>,
) -> Result<(), String> {
    if let Some(version) = version
        && version != TOKENIZER_VERSION
    {
        return Err(format!(
            "learned by tokenizer {version}, this kanmon has {TOKENIZER_VERSION} \
             (`kanmon bayes reset --yes`, then learn again)"
        ));
    }
    if spam < min_spam || ham < min_ham {
        return Err(format!(
            "needs {min_spam} spam and {min_ham} ham learned (bayes.min_spam, bayes.min_ham)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
