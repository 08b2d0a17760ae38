//! Keys whose value is one word from a fixed list (`mode = "tag"`, `fail = "reject"`).
//!
//! serde's derived enum deserializer answers a wrong *type* (`mode = 3`) with toml's
//! "wanted string or table", which names neither the key's values nor what was found. These
//! keys are read through [`word`] instead: a string is looked up among the enum's words, and
//! anything else is refused with the list of words, so every mistake on such a key reads
//! `expected one of "off", "tag", "enforce", found …`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Unexpected};

use super::raw::{OnError, StoreBackend};
use crate::check::Mode;
use crate::verdict::Action;

/// An enum written in the configuration as one of a fixed set of words.
pub(crate) trait Word: DeserializeOwned {
    /// Every word the enum accepts, in its declaration order (a test checks the list
    /// against serde's own).
    const WORDS: &'static [&'static str];
}

impl Word for Mode {
    const WORDS: &'static [&'static str] = &["off", "tag", "enforce"];
}

impl Word for Action {
    const WORDS: &'static [&'static str] = &[
        "accept",
        "add_header",
        "rewrite_subject",
        "greylist",
        "tempfail",
        "reject",
    ];
}

impl Word for OnError {
    const WORDS: &'static [&'static str] = &["accept", "tempfail"];
}

impl Word for super::greylist::GreylistOnly {
    const WORDS: &'static [&'static str] = &["all", "suspicious"];
}

impl Word for StoreBackend {
    const WORDS: &'static [&'static str] = &["embedded", "redis", "memory"];
}

/// `"off", "tag", "enforce"`: the words as they are written in TOML.
pub(crate) fn quoted_list(words: &[&str]) -> String {
    words
        .iter()
        .map(|word| format!("{word:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `deserialize_with` for a [`Word`] field.
pub(crate) fn word<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Word,
{
    deserializer.deserialize_str(WordVisitor(PhantomData))
}

struct WordVisitor<T>(PhantomData<T>);

impl<T: Word> de::Visitor<'_> for WordVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "one of {}", quoted_list(T::WORDS))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        T::deserialize(value.into_deserializer())
            .map_err(|_: de::value::Error| E::invalid_value(Unexpected::Str(value), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde's own error for an unknown word lists the enum's variants; they must be ours.
    fn serde_words<T: Word>() -> Vec<String> {
        let error = T::deserialize(IntoDeserializer::<de::value::Error>::into_deserializer(
            "\u{1}",
        ))
        .err()
        .expect("a control character is no variant");
        let message = error.to_string();
        let (_, expected) = message
            .split_once("expected ")
            .expect("serde lists the variants");
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn word_lists_match_the_enums() {
        assert_eq!(serde_words::<Mode>(), Mode::WORDS);
        assert_eq!(serde_words::<Action>(), Action::WORDS);
        assert_eq!(serde_words::<OnError>(), OnError::WORDS);
        assert_eq!(serde_words::<StoreBackend>(), StoreBackend::WORDS);
        assert_eq!(
            serde_words::<super::super::greylist::GreylistOnly>(),
            super::super::greylist::GreylistOnly::WORDS
        );
    }

    fn read<T: Word>(word: &str) -> T {
        T::deserialize(IntoDeserializer::<de::value::Error>::into_deserializer(
            word,
        ))
        .unwrap()
    }

    #[test]
    fn words_round_trip_through_as_str() {
        for word in Mode::WORDS {
            assert_eq!(read::<Mode>(word).as_str(), *word);
        }
        for word in Action::WORDS {
            assert_eq!(read::<Action>(word).as_str(), *word);
        }
    }
}
