//! Tokeniser and digest tests on whole messages.

use super::*;

fn texts(raw: &str) -> Vec<String> {
    let content = Content::derive(raw.as_bytes(), &Envelope::default(), 100);
    tokenize::tokenize_texts(&content, &TokenizerOptions::default()).texts
}

fn has(texts: &[String], token: &str) -> bool {
    texts.iter().any(|t| t == token)
}

const PLAIN: &str = "Received: from mx.ours.example by mx.ours.example with ESMTP; Mon, 2 Sep 2002\r\n\
Received: from relay.sender.example.co.uk (relay.sender.example.co.uk [203.0.113.9]) by mail.sender.example.co.uk with SMTP id x; Mon, 2 Sep 2002\r\n\
Delivered-To: yyyy@ours.example\r\n\
Return-Path: <bounce@sender.example>\r\n\
X-Spam-Status: No\r\n\
X-Keywords: NonJunk\r\n\
Date: Mon, 2 Sep 2002 10:00:00 +0000\r\n\
From: \"Cheap Pills\" <offers@shop.example.co.uk>\r\n\
To: yyyy@ours.example\r\n\
Subject: FREE money now\r\n\
Message-ID: <20020902.1234@shop.example.co.uk>\r\n\
X-Mailer: Mailer Pro 5.2\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Buy ＦＲＥＥ pills at http://www.pills.example.com/x now, only $19.99!\r\n\
Order 1234567 today. id deadbeefdeadbeef01 a supercalifragilisticexpialidociouslyyy\r\n";

#[test]
fn words_headers_and_urls_get_their_prefixes() {
    let t = texts(PLAIN);
    for token in [
        "s:free",
        "s:money",
        "b:buy",
        "b:free", // full-width folded
        "b:pills",
        "b:n:7",
        "b:hex:18",
        "b:sk:superca",
        "fn:cheap",
        "fu:offers",
        "fd:shop.example.co.uk",
        "frd:example.co.uk",
        "td:ours.example",
        "tn:to:1",
        "x:mailer",
        "xv:mailer pro 9.9",
        "ct:text/plain",
        "cs:utf-8",
        "mid:example.co.uk",
        "u:www.pills.example.com",
        "ud:example.com",
        "rip:203.0.113",
        "rh:example.co.uk",
        "rw:smtp",
        "h:x-mailer",
    ] {
        assert!(has(&t, token), "{token} missing from {t:?}");
    }
    assert!(
        !t.iter().any(|t| t.contains("yyyy")),
        "recipient local part read: {t:?}"
    );
    assert!(!t.iter().any(|t| t.starts_with("uc:")), "{t:?}");
}

#[test]
fn capitals_tokens_only_when_asked_for() {
    let content = Content::derive(PLAIN.as_bytes(), &Envelope::default(), 100);
    let options = TokenizerOptions {
        capitals: true,
        ..TokenizerOptions::default()
    };
    let t = tokenize::tokenize_texts(&content, &options).texts;
    assert!(has(&t, "uc:FREE"), "{t:?}");
    assert!(has(&t, "b:free"), "{t:?}");
}

#[test]
fn headers_added_at_or_after_delivery_are_never_read() {
    let t = texts(PLAIN);
    for name in [
        "delivered-to",
        "return-path",
        "x-spam-status",
        "x-keywords",
        "date",
    ] {
        assert!(!has(&t, &format!("h:{name}")), "{name} read");
    }
    assert!(!t.iter().any(|t| t.contains("nonjunk")));
    // The hop `by` localhost-or-local host is skipped; with our MX named, so is its hop.
    let content = Content::derive(PLAIN.as_bytes(), &Envelope::default(), 100);
    let options = TokenizerOptions {
        local_hosts: vec!["mx.ours.example".to_owned()],
        ..TokenizerOptions::default()
    };
    let local = tokenize::tokenize_texts(&content, &options).texts;
    assert!(
        has(&t, "rh:ours.example"),
        "without local_hosts our hop counts"
    );
    assert!(!has(&local, "rh:ours.example"), "{local:?}");
}

#[test]
fn japanese_iso_2022_jp_text_gives_character_bigrams() {
    // "日本語のメール" in ISO-2022-JP: ESC $ B … ESC ( B.
    let mut raw = b"From: a@example.jp\r\nSubject: test\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\nhello ".to_vec();
    raw.extend_from_slice(b"\x1b$BF|K\\8l$N%a!<%k\x1b(B world\r\n");
    let content = Content::derive(&raw, &Envelope::default(), 100);
    let t = tokenize::tokenize_texts(&content, &TokenizerOptions::default()).texts;
    for token in [
        "c:日本", "c:本語", "c:語の", "c:のメ", "c:メー", "c:ール", "b:hello", "b:world",
    ] {
        assert!(has(&t, token), "{token} missing from {t:?}");
    }
}

#[test]
fn character_pairs_are_capped_per_message() {
    // 300 distinct Han characters in one run: 299 overlapping pairs, of which 100 are kept.
    let run: String = (0..300u32)
        .map(|i| char::from_u32(0x4e00 + i).unwrap_or('x'))
        .collect();
    let raw = format!("Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{run}\r\n");
    let content = Content::derive(raw.as_bytes(), &Envelope::default(), 100);
    let tokens = tokenize::tokenize_texts(&content, &TokenizerOptions::default());
    let pairs: Vec<&String> = tokens
        .texts
        .iter()
        .filter(|t| t.starts_with("c:"))
        .collect();
    assert_eq!(pairs.len(), 100, "{pairs:?}");
    assert_eq!(pairs[0], "c:一丁");
    assert!(
        !tokens.truncated,
        "the cap chooses tokens, it does not cut the message"
    );
    // A lone character between spaces is no pair and is kept past the cap.
    let raw = format!("Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{run} 丸\r\n");
    let content = Content::derive(raw.as_bytes(), &Envelope::default(), 100);
    let texts = tokenize::tokenize_texts(&content, &TokenizerOptions::default()).texts;
    assert!(has(&texts, "c:丸"), "{texts:?}");
}

#[test]
fn token_count_is_bounded() {
    let mut raw = String::from("Subject: many\r\n\r\n");
    for i in 0..5_000 {
        raw.push_str(&format!("word{i}x "));
    }
    let content = Content::derive(raw.as_bytes(), &Envelope::default(), 100);
    let options = TokenizerOptions {
        max_tokens: 300,
        ..TokenizerOptions::default()
    };
    let tokens = tokenize(&content, &options);
    assert_eq!(tokens.keys.len(), 300);
    assert!(tokens.truncated);
}

#[test]
fn keys_are_stable_across_versions_and_platforms() {
    // Persisted keys: a change here means the tokeniser version must change too.
    assert_eq!(token_key("b", "free"), token_key("b", "free"));
    assert_ne!(token_key("b", "free"), token_key("s", "free"));
    assert_eq!(format!("{:016x}", token_key("b", "free")), KEY_OF_B_FREE);
}

/// xxh3-64 of "b\x1ffree" with the v1 seed, as first computed.
const KEY_OF_B_FREE: &str = "f6cffb7ee1e31b0e";

#[test]
fn digest_ignores_our_own_headers_and_sees_the_body() {
    let raw = PLAIN.as_bytes();
    let learned = learn_tokens(raw, &TokenizerOptions::default());
    let delivered = format!(
        "X-Spam-Status: Yes, score=9.0\r\nX-Spam-Flag: YES\r\nDelivered-To: other@ours.example\r\nReceived: from x by localhost with LMTP; Tue, 3 Sep 2002\r\n{PLAIN}\r\n\r\n"
    );
    let again = learn_tokens(delivered.as_bytes(), &TokenizerOptions::default());
    assert_eq!(learned.digest, again.digest);
    let sorted = |mut keys: Vec<u64>| {
        keys.sort_unstable();
        keys
    };
    assert_eq!(sorted(learned.keys.clone()), sorted(again.keys.clone()));
    let edited = PLAIN.replace("today", "tomorrow");
    assert_ne!(
        learned.digest,
        learn_tokens(edited.as_bytes(), &TokenizerOptions::default()).digest
    );
}

#[test]
fn osb_adds_pair_features() {
    let content = Content::derive(PLAIN.as_bytes(), &Envelope::default(), 100);
    let plain = tokenize(&content, &TokenizerOptions::default());
    let osb = tokenize::tokenize_texts(
        &content,
        &TokenizerOptions {
            osb: true,
            ..TokenizerOptions::default()
        },
    );
    assert!(osb.keys.len() > plain.keys.len());
    assert!(osb.texts.iter().any(|t| t.starts_with("osb1:")));
}
