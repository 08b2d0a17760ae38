//! `Authentication-Results` (RFC 8601): what SPF, DKIM, DMARC and ARC found, in one field
//! under our authserv-id.
//!
//! One `resinfo` per method, in the order spf (MAIL FROM, then HELO), dkim (one per
//! signature, in the message's order), dmarc, arc; a method that did not run is left out,
//! and when none ran the field says `<authserv-id>; none` (RFC 8601 §2.2 `no-result`).
//!
//! Formats, following the filters people already parse:
//! ```text
//! spf=fail (203.0.113.5 is not permitted by spoofed.test (-all)) smtp.mailfrom=alice@spoofed.test
//! spf=pass (192.0.2.1 is permitted by mail.example.org (a)) smtp.helo=mail.example.org
//! dkim=pass (2048-bit key) header.d=example.com header.i=@example.com header.a=rsa-sha256 header.s=sel1 header.b=AbCdEf12GhIj
//! dmarc=fail (p=reject dis=reject) header.from=spoofed.test
//! arc=pass (i=2 d=lists.example.org) header.oldest-pass=0
//! ```
//! * SPF: the comment is the result's reason; the property is `smtp.mailfrom` with the full
//!   address checked (RFC 8601 §2.7.2), or `smtp.helo` for the HELO identity, which is also
//!   what a null reverse-path is checked as (RFC 7208 §2.4).
//! * DKIM: OpenDKIM's layout (`opendkim.c`: key size comment, then `header.d`, `header.i`,
//!   `header.a`, `header.s`, `header.b`). OpenDKIM adds "; unprotected" or "; secure" only
//!   when it validated DNSSEC; we do not, so we claim neither. `header.i` is `@d` when the
//!   signature has no `i=`, its default (RFC 6376 §3.5). `header.b` is the prefix of `b=`
//!   kanmon-auth keeps (RFC 6008 §4), quoted when it holds `/` or `=`.
//! * DMARC: OpenDMARC's `(p=… dis=…)` comment with the record's `p`, the `sp`/`np` actually
//!   applied when it was one of those, and the `pct`/`t=y` that lowered the disposition.
//! * ARC: the result, a comment naming the newest set and its sealer, and
//!   `header.oldest-pass` (RFC 8617 §5.2 step 6; in the IANA registry by RFC 8617 §6).
//!   `smtp.remote-ip` is not written: it would repeat what the first sealer's
//!   ARC-Authentication-Results claims. RFC 8617's results for `arc` are only `none`,
//!   `pass` and `fail`; a transient failure is written `fail` with "temperror" in the
//!   comment, so no downstream ARC sealer reading this field meets a result it cannot
//!   stamp as `cv=`.
//!
//! No `authres-version` is written: 1 is the default (RFC 8601 §2.2).

use kanmon_auth::arc::{ArcOutput, ArcResult};
use kanmon_auth::dkim::{Algorithm, DkimOutput, DkimResult};
use kanmon_auth::dmarc::{DmarcOutput, DmarcResult, PolicyTag};
use kanmon_auth::spf::{Identity, SpfOutput};

use super::syntax::{push_comment, push_property, push_pvalue};
use crate::auth::AuthResults;

/// The field's value for `auth`, under `authserv_id`.
pub(crate) fn render(authserv_id: &str, auth: &AuthResults) -> String {
    let mut resinfos = Vec::new();
    if let Some(spf) = &auth.spf {
        resinfos.push(spf_resinfo(spf));
    }
    if let Some(helo) = super::separate_helo(auth) {
        resinfos.push(spf_resinfo(helo));
    }
    resinfos.extend(auth.dkim.iter().map(dkim_resinfo));
    if let Some(dmarc) = &auth.dmarc {
        resinfos.push(dmarc_resinfo(dmarc));
    }
    if let Some(arc) = &auth.arc {
        resinfos.push(arc_resinfo(arc));
    }
    if resinfos.is_empty() {
        resinfos.push("none".to_owned());
    }
    let mut out = String::with_capacity(256 * resinfos.len());
    push_pvalue(&mut out, authserv_id);
    for resinfo in &resinfos {
        out.push_str("; ");
        out.push_str(resinfo);
    }
    out
}

fn spf_resinfo(spf: &SpfOutput) -> String {
    let mut out = format!("spf={}", spf.result);
    push_comment(&mut out, &spf.reason());
    match spf.identity {
        Identity::MailFrom => push_property(&mut out, "smtp.mailfrom", &spf.sender),
        Identity::Helo => push_property(&mut out, "smtp.helo", &spf.domain),
    }
    out
}

fn dkim_resinfo(dkim: &DkimOutput) -> String {
    let mut out = format!("dkim={}", dkim.result);
    if dkim.result == DkimResult::None {
        return out;
    }
    push_comment(&mut out, &dkim_comment(dkim));
    push_property(&mut out, "header.d", &dkim.domain);
    let default_identity;
    let identity = match &dkim.identity {
        Some(identity) => identity.as_str(),
        None if dkim.domain.is_empty() => "",
        None => {
            default_identity = format!("@{}", dkim.domain);
            &default_identity
        }
    };
    push_property(&mut out, "header.i", identity);
    push_property(
        &mut out,
        "header.a",
        dkim.algorithm.map_or("", Algorithm::as_str),
    );
    push_property(&mut out, "header.s", &dkim.selector);
    push_property(&mut out, "header.b", &dkim.header_b);
    out
}

/// "2048-bit key", then what the reader should know: testing key, unsigned body text, or
/// why it did not pass.
fn dkim_comment(dkim: &DkimOutput) -> String {
    let mut parts = Vec::new();
    if let Some(bits) = key_bits(dkim) {
        parts.push(format!("{bits}-bit key"));
    }
    if dkim.testing {
        parts.push("testing key (t=y)".to_owned());
    }
    match dkim.result {
        DkimResult::Pass => {
            if let (Some(l), Some(unsigned)) = (dkim.body_length, dkim.unsigned_body_bytes)
                && unsigned > 0
            {
                parts.push(format!("l={l}: {unsigned} body bytes unsigned"));
            }
        }
        _ => parts.push(dkim.reason()),
    }
    parts.join("; ")
}

/// The key size, when the key was read. kanmon-auth records it for RSA; an Ed25519 key is
/// always 256 bits (RFC 8032 §5.1.5), and was read when the result is `pass` or `fail`
/// (both come after the key lookup).
fn key_bits(dkim: &DkimOutput) -> Option<usize> {
    match (dkim.key_bits, dkim.algorithm, dkim.result) {
        (Some(bits), _, _) => Some(bits),
        (None, Some(Algorithm::Ed25519Sha256), DkimResult::Pass | DkimResult::Fail) => Some(256),
        _ => None,
    }
}

fn dmarc_resinfo(dmarc: &DmarcOutput) -> String {
    let mut out = format!("dmarc={}", dmarc.result);
    match dmarc.result {
        DmarcResult::Pass | DmarcResult::Fail => push_comment(&mut out, &policy_comment(dmarc)),
        DmarcResult::TempError | DmarcResult::PermError => {
            push_comment(&mut out, dmarc.problem.as_deref().unwrap_or(""));
        }
        DmarcResult::None => {}
    }
    push_property(&mut out, "header.from", &dmarc.from_domain);
    out
}

/// OpenDMARC's `p=reject dis=none`, with `sp=`/`np=` when that tag decided, and the `pct`
/// or `t=y` that lowered the disposition (RFC 7489 §6.6.4, RFC 9989 §4.7).
fn policy_comment(dmarc: &DmarcOutput) -> String {
    let Some(record) = &dmarc.record else {
        return String::new();
    };
    let mut text = format!("p={}", record.policy);
    if let (Some(tag @ (PolicyTag::Sp | PolicyTag::Np)), Some(policy)) =
        (dmarc.policy_tag, dmarc.policy)
    {
        text.push_str(&format!(" {}={policy}", tag.as_str()));
    }
    text.push_str(&format!(" dis={}", dmarc.disposition));
    if dmarc.lowered {
        if record.testing {
            text.push_str(" t=y");
        } else {
            text.push_str(&format!(" pct={}", record.percent));
        }
    }
    text
}

fn arc_resinfo(arc: &ArcOutput) -> String {
    let problem = arc.problem.as_deref().unwrap_or("");
    match arc.result {
        ArcResult::None => "arc=none".to_owned(),
        ArcResult::Pass => {
            let mut out = "arc=pass".to_owned();
            let mut comment = format!("i={}", arc.highest_instance);
            if let Some(set) = arc.set(arc.highest_instance)
                && !set.seal.domain.is_empty()
            {
                comment.push_str(&format!(" d={}", set.seal.domain));
            }
            push_comment(&mut out, &comment);
            if let Some(oldest) = arc.oldest_pass {
                push_property(&mut out, "header.oldest-pass", &oldest.to_string());
            }
            out
        }
        ArcResult::Fail => {
            let mut out = "arc=fail".to_owned();
            push_comment(&mut out, problem);
            out
        }
        ArcResult::TempError => {
            let mut out = "arc=fail".to_owned();
            if problem.is_empty() {
                push_comment(&mut out, "temperror");
            } else {
                push_comment(&mut out, &format!("temperror: {problem}"));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::fixtures::*;

    fn spf_only(spf: SpfOutput) -> AuthResults {
        AuthResults {
            spf: Some(spf),
            ..AuthResults::default()
        }
    }

    #[test]
    fn nothing_ran() {
        assert_eq!(
            render("mx.example.net", &AuthResults::default()),
            "mx.example.net; none"
        );
    }

    #[test]
    fn spf_results_for_mail_from() {
        let cases = [
            (
                spf_pass(),
                "spf=pass (192.0.2.1 is permitted by example.org (ip4:192.0.2.0/24)) smtp.mailfrom=alice@example.org",
            ),
            (
                spf_fail(),
                "spf=fail (203.0.113.5 is not permitted by spoofed.test (-all)) smtp.mailfrom=alice@spoofed.test",
            ),
            (
                spf_softfail(),
                "spf=softfail (203.0.113.5 is probably not permitted by example.org (~all)) smtp.mailfrom=bob@example.org",
            ),
            (
                spf_none(),
                "spf=none (no-spf.example has no SPF record) smtp.mailfrom=carol@no-spf.example",
            ),
            (
                spf_temperror(),
                "spf=temperror (example.org: DNS timeout looking up example.org TXT) smtp.mailfrom=alice@example.org",
            ),
            (
                spf_permerror(),
                "spf=permerror (example.org: syntax error at \"ip4:192.0.2.0/33\\)\") smtp.mailfrom=alice@example.org",
            ),
        ];
        for (spf, expected) in cases {
            assert_eq!(
                render("mx.example.net", &spf_only(spf)),
                format!("mx.example.net; {expected}")
            );
        }
    }

    #[test]
    fn null_sender_is_the_helo_identity_and_not_repeated() {
        let helo = spf_null_sender();
        let auth = AuthResults {
            spf: Some(helo.clone()),
            spf_helo: Some(helo),
            ..AuthResults::default()
        };
        assert_eq!(
            render("mx.example.net", &auth),
            "mx.example.net; spf=pass (192.0.2.1 is permitted by mail.example.org (a)) smtp.helo=mail.example.org"
        );
    }

    #[test]
    fn mail_from_then_helo() {
        let auth = AuthResults {
            spf: Some(spf_pass()),
            spf_helo: Some(spf_null_sender()),
            ..AuthResults::default()
        };
        assert_eq!(
            render("mx.example.net", &auth),
            "mx.example.net; \
             spf=pass (192.0.2.1 is permitted by example.org (ip4:192.0.2.0/24)) smtp.mailfrom=alice@example.org; \
             spf=pass (192.0.2.1 is permitted by mail.example.org (a)) smtp.helo=mail.example.org"
        );
    }

    #[test]
    fn two_dkim_signatures_rsa_and_ed25519() {
        let auth = AuthResults {
            dkim: vec![dkim_rsa_pass(), dkim_ed25519_fail()],
            ..AuthResults::default()
        };
        assert_eq!(
            render("mx.example.net", &auth),
            "mx.example.net; \
             dkim=pass (2048-bit key) header.d=example.com header.i=@example.com header.a=rsa-sha256 header.s=sel1 header.b=\"AbCd/Ef12+gh\"; \
             dkim=fail (256-bit key; body hash did not verify) header.d=example.com header.i=news@example.com header.a=ed25519-sha256 header.s=ed1 header.b=Zm9vYmFyYmF6"
        );
    }

    #[test]
    fn dkim_unsigned_and_errors() {
        let auth = AuthResults {
            dkim: vec![DkimOutput {
                result: DkimResult::None,
                ..dkim_rsa_pass()
            }],
            ..AuthResults::default()
        };
        assert_eq!(render("mx", &auth), "mx; dkim=none");

        let auth = AuthResults {
            dkim: vec![dkim_permerror_no_key()],
            ..AuthResults::default()
        };
        assert_eq!(
            render("mx", &auth),
            "mx; dkim=permerror (no key record at sel9._domainkey.example.net) header.d=example.net header.i=@example.net header.a=rsa-sha256 header.s=sel9 header.b=QUJDREVGR0hJ"
        );

        // A signature checked but cut short: nothing claimed, so no properties.
        let auth = AuthResults {
            dkim: vec![DkimOutput {
                result: DkimResult::TempError,
                domain: String::new(),
                selector: String::new(),
                identity: None,
                algorithm: None,
                header_b: String::new(),
                key_bits: None,
                problem: Some("timed out".to_owned()),
                ..dkim_rsa_pass()
            }],
            ..AuthResults::default()
        };
        assert_eq!(render("mx", &auth), "mx; dkim=temperror (timed out)");
    }

    #[test]
    fn dkim_partial_body_and_testing() {
        let auth = AuthResults {
            dkim: vec![DkimOutput {
                body_length: Some(1200),
                unsigned_body_bytes: Some(340),
                testing: true,
                ..dkim_rsa_pass()
            }],
            ..AuthResults::default()
        };
        assert_eq!(
            render("mx", &auth),
            "mx; dkim=pass (2048-bit key; testing key (t=y); l=1200: 340 body bytes unsigned) header.d=example.com header.i=@example.com header.a=rsa-sha256 header.s=sel1 header.b=\"AbCd/Ef12+gh\""
        );
    }

    #[test]
    fn dmarc_results() {
        let cases = [
            (
                dmarc_pass(),
                "dmarc=pass (p=reject dis=none) header.from=example.com",
            ),
            (
                dmarc_fail_reject(),
                "dmarc=fail (p=reject dis=reject) header.from=spoofed.test",
            ),
            (
                dmarc_fail_pct_lowered(),
                "dmarc=fail (p=reject dis=quarantine pct=25) header.from=spoofed.test",
            ),
            (
                dmarc_fail_subdomain(),
                "dmarc=fail (p=reject sp=quarantine dis=quarantine) header.from=news.spoofed.test",
            ),
            (dmarc_none(), "dmarc=none header.from=example.net"),
            (
                dmarc_permerror(),
                "dmarc=permerror (multiple DMARC records) header.from=example.net",
            ),
        ];
        for (dmarc, expected) in cases {
            let auth = AuthResults {
                dmarc: Some(dmarc),
                ..AuthResults::default()
            };
            assert_eq!(render("mx", &auth), format!("mx; {expected}"));
        }
    }

    #[test]
    fn arc_results() {
        let cases = [
            (ArcOutput::none(), "arc=none"),
            (
                arc_pass(),
                "arc=pass (i=2 d=lists.example.org) header.oldest-pass=0",
            ),
            (
                ArcOutput {
                    result: ArcResult::Fail,
                    problem: Some("ARC-Seal i=1 did not verify".to_owned()),
                    ..arc_pass()
                },
                "arc=fail (ARC-Seal i=1 did not verify)",
            ),
            (
                ArcOutput {
                    result: ArcResult::TempError,
                    problem: Some("timed out".to_owned()),
                    ..ArcOutput::none()
                },
                "arc=fail (temperror: timed out)",
            ),
        ];
        for (arc, expected) in cases {
            let auth = AuthResults {
                arc: Some(arc),
                ..AuthResults::default()
            };
            assert_eq!(render("mx", &auth), format!("mx; {expected}"));
        }
    }

    #[test]
    fn everything_in_order() {
        assert_eq!(
            render("mx.example.net", &full_auth()),
            "mx.example.net; \
             spf=fail (203.0.113.5 is not permitted by spoofed.test (-all)) smtp.mailfrom=alice@spoofed.test; \
             dkim=pass (2048-bit key) header.d=example.com header.i=@example.com header.a=rsa-sha256 header.s=sel1 header.b=\"AbCd/Ef12+gh\"; \
             dmarc=fail (p=reject dis=reject) header.from=spoofed.test; \
             arc=none"
        );
    }

    #[test]
    fn values_needing_quotes_are_quoted() {
        let auth = AuthResults {
            spf: Some(SpfOutput {
                sender: "\"john doe\"@example.org".to_owned(),
                ..spf_pass()
            }),
            dkim: vec![DkimOutput {
                domain: "exa mple.com;x=y".to_owned(),
                identity: Some("a(b)@example.com".to_owned()),
                selector: "sel\r\nX-Injected: 1".to_owned(),
                ..dkim_rsa_pass()
            }],
            ..AuthResults::default()
        };
        assert_eq!(
            render("mx", &auth),
            "mx; spf=pass (192.0.2.1 is permitted by example.org (ip4:192.0.2.0/24)) smtp.mailfrom=\"john doe\"@example.org; \
             dkim=pass (2048-bit key) header.d=\"exa mple.com;x=y\" header.i=\"a(b)@example.com\" header.a=rsa-sha256 header.s=\"sel X-Injected: 1\" header.b=\"AbCd/Ef12+gh\""
        );
    }
}
