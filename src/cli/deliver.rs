//! `kanmon deliver`: a local delivery agent for Postfix's pipe(8) transport. It reads one
//! message, scans it unless a trusted kanmon already did (`marking::trusted_verdict`), and
//! files it into a Maildir: spam into the Maildir++ folder `--spam-folder`, the rest into
//! the INBOX (`maildir.rs`). docs/deliver.md has the master.cf and main.cf lines.
//!
//! Exit statuses are sysexits.h codes, which pipe(8) maps to its delivery status:
//! * 0: delivered;
//! * 75 EX_TEMPFAIL: anything that may pass — a Maildir that cannot be written (disk full,
//!   quota, permissions, a read-only file system), a configuration that does not load,
//!   standard input failing, the store (what `kanmon learn` taught) out of reach, a failed
//!   scan under `on_error = "tempfail"`. Postfix keeps the
//!   message and tries again;
//! * 64 EX_USAGE: the command line is wrong (a `%` the template cannot expand, a spam
//!   folder that is no Maildir++ name); 67 EX_NOUSER: the user or domain cannot name a
//!   directory (`/`, a leading dot). Postfix returns the message for these.
//!
//! Each failure is one line on standard error, which pipe(8) puts into the bounce or defer
//! reason. A message over `limits.max_message_bytes` is delivered whole to the INBOX,
//! unscanned, as `filter` passes it (only its first bytes are held in memory).

use std::io::{self, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

use super::envelope::EnvelopeArgs;
use super::filter::{EX_TEMPFAIL, ScanFailure, read_bounded, scan};
use super::maildir::Maildir;
use super::marking::{Marking, trusted_verdict, with_error_field};
use super::{CliError, error_chain, load_config};
use kanmon_core::config::OnError;

const EX_USAGE: u8 = 64;
const EX_NOUSER: u8 = 67;

#[derive(Debug, Args)]
pub(crate) struct DeliverArgs {
    /// The Maildir, with %u (user), %d (domain), %r (recipient) and %% expanded, e.g.
    /// /var/mail/vhosts/%d/%u.
    #[arg(long)]
    maildir: String,
    /// The recipient's user name, for %u (pipe(8): ${user}).
    #[arg(long)]
    user: Option<String>,
    /// The recipient's domain, for %d (pipe(8): ${nexthop} or ${domain}).
    #[arg(long)]
    domain: Option<String>,
    /// The Maildir++ folder spam goes to.
    #[arg(long, default_value = ".Spam")]
    spam_folder: String,
    /// Scan even a message that already carries a trusted kanmon verdict.
    #[arg(long)]
    rescan: bool,
    #[command(flatten)]
    envelope: EnvelopeArgs,
    /// Configuration file (default /etc/kanmon/kanmon.toml if it exists, else built-in defaults).
    #[arg(long, short)]
    config: Option<PathBuf>,
}

/// Why nothing was delivered, with its exit status.
struct Failure {
    code: u8,
    why: String,
}

fn temporary(why: String) -> Failure {
    Failure {
        code: EX_TEMPFAIL,
        why,
    }
}

pub(crate) fn run(args: DeliverArgs) -> Result<ExitCode, CliError> {
    super::init_logging("warn");
    match deliver(args) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(failure) => {
            eprintln!("kanmon deliver: {}", failure.why);
            Ok(ExitCode::from(failure.code))
        }
    }
}

fn deliver(args: DeliverArgs) -> Result<(), Failure> {
    let recipient = args.envelope.recipient(|name| std::env::var(name).ok());
    let root = expand(
        &args.maildir,
        args.user.as_deref(),
        args.domain.as_deref(),
        recipient.as_deref(),
    )?;
    check_folder(&args.spam_folder)?;
    let maildir = Maildir::new(root);
    // A file size limit (RLIMIT_FSIZE) must fail the write (EFBIG → defer), not kill the
    // process with SIGXFSZ before it can remove its file from tmp/ and say why.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| temporary(format!("cannot start the runtime: {e}")))?;
    let _xfsz = runtime
        .block_on(async { signal(SignalKind::from_raw(nix::libc::SIGXFSZ)) })
        .map_err(|e| temporary(format!("cannot handle SIGXFSZ: {e}")))?;
    drop(runtime);

    let mut config = load_config(args.config.as_ref()).map_err(|e| temporary(error_chain(&e)))?;
    // Final delivery signs nothing, and runs as the recipient, who cannot read the keys.
    config.signing.turn_off();
    let mut stdin = io::stdin().lock();
    let raw = read_bounded(&mut stdin, config.limits.max_message_bytes)
        .map_err(|(_, e)| temporary(format!("cannot read standard input: {e}")))?;
    let (message, spam) = if raw.len() > config.limits.max_message_bytes {
        (raw, false)
    } else if let Some(spam) = (!args.rescan)
        .then(|| trusted_verdict(&raw, &config.authserv_id))
        .flatten()
    {
        (raw, spam)
    } else {
        let on_error = config.on_error;
        let envelope = args.envelope.envelope(|name| std::env::var(name).ok());
        match scan(config, &envelope, &raw) {
            Ok((engine, verdict)) => {
                let marked = Marking {
                    config: engine.config(),
                    verdict: &verdict,
                    with_auth: envelope.client_ip.is_some(),
                }
                .apply(&raw);
                (marked, verdict.action.is_spam())
            }
            // The store holds what users taught; scanning without it would file their
            // spam as ham, so the delivery waits for it.
            Err(why @ ScanFailure::Store(_)) => return Err(temporary(why.to_string())),
            Err(why) if on_error == OnError::Tempfail => return Err(temporary(why.to_string())),
            Err(why) => (with_error_field(&raw, &why.to_string()), false),
        }
    };
    let folder = spam.then_some(args.spam_folder.as_str());
    maildir
        .deliver(folder, &message, &mut stdin as &mut dyn Read)
        .map(|_| ())
        .map_err(|e| temporary(e.to_string()))
}

/// The Maildir path: `%u`, `%d`, `%r` and `%%` expanded, each value checked to name one
/// directory (a user `../x` or `.Spam` must not reach another mailbox).
fn expand(
    template: &str,
    user: Option<&str>,
    domain: Option<&str>,
    recipient: Option<&str>,
) -> Result<PathBuf, Failure> {
    let mut out = String::with_capacity(template.len() + 64);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (flag, value) = match chars.next() {
            Some('%') => {
                out.push('%');
                continue;
            }
            Some('u') => ("--user", user),
            Some('d') => ("--domain", domain),
            Some('r') => ("--rcpt", recipient),
            other => {
                let other = other.map_or("end".to_owned(), |c| format!("%{c}"));
                return Err(Failure {
                    code: EX_USAGE,
                    why: format!("--maildir {template}: {other} is not %u, %d, %r or %%"),
                });
            }
        };
        let value = value.ok_or_else(|| Failure {
            code: EX_USAGE,
            why: format!("--maildir {template} needs {flag}"),
        })?;
        if value.is_empty() || value.starts_with('.') || value.contains(['/', '\0']) {
            return Err(Failure {
                code: EX_NOUSER,
                why: format!("{flag} {value:?} cannot name a mailbox directory"),
            });
        }
        out.push_str(value);
    }
    if out.is_empty() {
        return Err(Failure {
            code: EX_USAGE,
            why: "--maildir is empty".to_owned(),
        });
    }
    Ok(PathBuf::from(out))
}

/// A Maildir++ folder name: a dot, then a name without `/`.
fn check_folder(folder: &str) -> Result<(), Failure> {
    let name = folder.strip_prefix('.').unwrap_or_default();
    if name.is_empty() || name.starts_with('.') || folder.contains(['/', '\0']) {
        return Err(Failure {
            code: EX_USAGE,
            why: format!(
                "--spam-folder {folder:?} is not a Maildir++ folder name (a dot and a name, like .Spam)"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(template: &str) -> Result<String, (u8, String)> {
        expand(
            template,
            Some("bob"),
            Some("example.org"),
            Some("bob@example.org"),
        )
        .map(|p| p.display().to_string())
        .map_err(|f| (f.code, f.why))
    }

    #[test]
    fn templates_expand() {
        assert_eq!(expanded("/mail/%d/%u").unwrap(), "/mail/example.org/bob");
        assert_eq!(
            expanded("/mail/%r/100%%").unwrap(),
            "/mail/bob@example.org/100%"
        );
        assert_eq!(expanded("/mail/%x").unwrap_err().0, EX_USAGE);
        assert_eq!(expanded("/mail/%").unwrap_err().0, EX_USAGE);
        let missing = expand("/mail/%d/%u", Some("bob"), None, None)
            .err()
            .unwrap();
        assert_eq!(
            (missing.code, missing.why.as_str()),
            (EX_USAGE, "--maildir /mail/%d/%u needs --domain")
        );
    }

    #[test]
    fn a_user_cannot_climb_out_of_the_mail_tree() {
        for user in ["../root", "a/b", ".Spam", "", ".."] {
            let error = expand("/mail/%d/%u", Some(user), Some("example.org"), None)
                .err()
                .unwrap();
            assert_eq!(error.code, EX_NOUSER, "{user}");
        }
    }

    #[test]
    fn spam_folders_are_maildir_plus_plus_names() {
        assert!(check_folder(".Spam").is_ok());
        assert!(check_folder(".Junk.Spam").is_ok());
        for bad in ["Spam", ".", "..", "../x", ".a/b", ""] {
            assert!(check_folder(bad).is_err(), "{bad}");
        }
    }
}
