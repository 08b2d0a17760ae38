//! The readable report of `kanmon check`: each check's result with its reason, every symbol
//! with its score, the total, the action, the header fields that would be added, and what
//! was skipped.

use std::fmt::Write;

use kanmon_core::check::Mode;
use kanmon_core::kanmon_auth::spf::SpfOutput;
use kanmon_core::{Envelope, Verdict};

pub(crate) fn render(name: &str, envelope: &Envelope, verdict: &Verdict) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "kanmon check: {name}");
    let _ = writeln!(out, "  {}", describe_envelope(envelope, verdict.internal));
    out.push('\n');

    let auth = &verdict.auth;
    let mut results: Vec<(String, &str, String)> = Vec::new();
    let mut spf_line = |label: &str, spf: &SpfOutput| {
        results.push((label.to_owned(), spf.result.as_str(), spf.reason()));
        if let Some(explanation) = &spf.explanation {
            results.push((String::new(), "", format!("explanation: {explanation}")));
        }
    };
    if let Some(spf) = &auth.spf {
        spf_line("SPF", spf);
    }
    if let Some(helo) = &auth.spf_helo {
        spf_line("SPF HELO", helo);
    }
    for dkim in &auth.dkim {
        let mut what = String::new();
        if !dkim.domain.is_empty() {
            let _ = write!(what, "d={} s={}", dkim.domain, dkim.selector);
            if let Some(algorithm) = dkim.algorithm {
                let _ = write!(what, " a={algorithm}");
            }
            if let Some(bits) = dkim.key_bits {
                let _ = write!(what, " ({bits}-bit key)");
            }
            what.push_str(": ");
        }
        what.push_str(&dkim.reason());
        results.push(("DKIM".to_owned(), dkim.result.as_str(), what));
    }
    if let Some(dmarc) = &auth.dmarc {
        results.push(("DMARC".to_owned(), dmarc.result.as_str(), dmarc.reason()));
    }
    if let Some(arc) = &auth.arc {
        results.push(("ARC".to_owned(), arc.result.as_str(), arc.reason()));
    }
    for (label, result, reason) in &results {
        let _ = writeln!(out, "{label:<9} {result:<10} {reason}");
    }
    if !results.is_empty() {
        out.push('\n');
    }

    if verdict.hits.is_empty() {
        out.push_str("Symbols: none\n");
    } else {
        out.push_str("Symbols:\n");
        let width = verdict.hits.iter().map(|h| h.name.len()).max().unwrap_or(0);
        for hit in &verdict.hits {
            let _ = writeln!(
                out,
                "  {:>6.2}  {:<width$}  {}",
                hit.score, hit.name, hit.reason
            );
        }
    }
    let _ = writeln!(
        out,
        "Score: {:.2} (spam at {:.2})",
        verdict.score, verdict.required
    );
    match &verdict.reason {
        Some(reason) => {
            let _ = writeln!(out, "Action: {} ({reason})", verdict.action);
        }
        None => {
            let _ = writeln!(out, "Action: {}", verdict.action);
        }
    }
    for e in verdict.enforcements.iter().filter(|e| e.mode == Mode::Tag) {
        let _ = writeln!(
            out,
            "  would {} in enforce mode ({} mode is tag): {}",
            e.action, e.check, e.reason
        );
    }
    if let Some(class) = verdict.autolearn.class() {
        let _ = writeln!(
            out,
            "  autolearn would learn it as {} (kanmon check changes nothing)",
            class.as_str()
        );
    }

    out.push('\n');
    if verdict.headers.is_empty() {
        out.push_str("Headers to add: none\n");
    } else {
        out.push_str("Headers to add:\n");
        for header in &verdict.headers {
            let _ = writeln!(out, "{}: {}", header.name, header.value);
        }
    }
    if let Some(signing) = &verdict.signing {
        let _ = writeln!(out, "DKIM signing: {signing}");
    }
    if !verdict.forged_authentication_results.is_empty() {
        let _ = writeln!(
            out,
            "Authentication-Results fields claiming our authserv-id (to remove): {:?}",
            verdict.forged_authentication_results
        );
    }
    if !verdict.skipped.is_empty() {
        out.push_str("\nSkipped:\n");
        for skip in &verdict.skipped {
            let _ = writeln!(out, "  {}: {}", skip.what, skip.why);
        }
    }
    out
}

fn describe_envelope(envelope: &Envelope, internal: bool) -> String {
    let mut parts = Vec::new();
    match envelope.client_ip {
        Some(ip) => {
            let mut client = format!("client {ip}");
            if let Some(name) = envelope.client_name.name() {
                let _ = write!(client, " ({name})");
            }
            parts.push(client);
        }
        None => parts.push("client unknown".to_owned()),
    }
    if let Some(helo) = &envelope.helo {
        parts.push(format!("helo {helo}"));
    }
    match envelope.mail_from.as_deref() {
        Some("") => parts.push("from <>".to_owned()),
        Some(from) => parts.push(format!("from {from}")),
        None => {}
    }
    if !envelope.rcpt_to.is_empty() {
        parts.push(format!("to {}", envelope.rcpt_to.join(", ")));
    }
    let direction = if internal { "outbound" } else { "inbound" };
    format!("{} [{direction}]", parts.join(", "))
}
