//! `kanmon postfix`: the main.cf lines for the configuration `kanmon serve` runs, so the
//! socket addresses and the fail-safe actions in the two files agree.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use kanmon_core::Config;
use kanmon_core::config::{Listen, OnError};

use super::{CliError, load_config};

#[derive(Debug, Args)]
pub(crate) struct PostfixArgs {
    /// Configuration file (default /etc/kanmon/kanmon.toml if it exists, else the built-in
    /// defaults).
    #[arg(long, short)]
    config: Option<PathBuf>,
}

pub(crate) fn run(args: PostfixArgs) -> Result<ExitCode, CliError> {
    let config = load_config(args.config.as_ref())?;
    print!("{}", main_cf(&config));
    Ok(ExitCode::SUCCESS)
}

/// Postfix's queue directory on Debian, where chrooted smtpd processes live: a unix socket
/// under it is named relative to it in main.cf.
const POSTFIX_CHROOT: &str = "/var/spool/postfix";

/// The lines to add to main.cf (and what to do in master.cf), as text.
fn main_cf(config: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# main.cf: kanmon (`postconf -e` each line, or edit, then `postfix reload`)"
    );
    let (milter_default, policy_default) = match config.on_error {
        // kanmon unreachable = not checked: deliver, as on_error = "accept" would.
        OnError::Accept => ("accept", "DUNNO"),
        OnError::Tempfail => ("tempfail", "DEFER_IF_PERMIT 4.3.5 kanmon is unavailable"),
    };
    if config.milter.listen != Listen::Off {
        let _ = writeln!(
            out,
            "smtpd_milters = {}",
            postfix_socket(&config.milter.listen)
        );
        let _ = writeln!(out, "non_smtpd_milters = $smtpd_milters");
        let _ = writeln!(out, "milter_default_action = {milter_default}");
        let _ = writeln!(out, "milter_protocol = 6");
    }
    if config.policy.listen != Listen::Off {
        let _ = writeln!(out, "smtpd_recipient_restrictions =");
        let _ = writeln!(out, "    permit_mynetworks,");
        let _ = writeln!(out, "    permit_sasl_authenticated,");
        let _ = writeln!(out, "    reject_unauth_destination,");
        let _ = writeln!(
            out,
            "    check_policy_service {{ {}, default_action={policy_default} }}",
            postfix_socket(&config.policy.listen)
        );
    }
    let _ = writeln!(
        out,
        "# master.cf: nothing to add; kanmon runs as its own daemon (`kanmon serve`)."
    );
    if [&config.milter.listen, &config.policy.listen]
        .iter()
        .any(|l| matches!(l, Listen::Unix(p) if p.starts_with(POSTFIX_CHROOT)))
    {
        let _ = writeln!(
            out,
            "# unix sockets under {POSTFIX_CHROOT} are named as a chrooted smtpd (Debian's default) sees them;\n# with chroot off in master.cf, use the full path."
        );
    }
    out
}

/// The socket as main.cf names it: unchanged, except a unix socket under Postfix's chroot.
fn postfix_socket(listen: &Listen) -> String {
    match listen {
        Listen::Unix(path) => match path.strip_prefix(POSTFIX_CHROOT) {
            Ok(inside) => format!("unix:{}", Path::new("/").join(inside).display()),
            Err(_) => listen.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        assert_eq!(
            main_cf(&Config::default()),
            "# main.cf: kanmon (`postconf -e` each line, or edit, then `postfix reload`)
smtpd_milters = inet:127.0.0.1:8897
non_smtpd_milters = $smtpd_milters
milter_default_action = accept
milter_protocol = 6
smtpd_recipient_restrictions =
    permit_mynetworks,
    permit_sasl_authenticated,
    reject_unauth_destination,
    check_policy_service { inet:127.0.0.1:8898, default_action=DUNNO }
# master.cf: nothing to add; kanmon runs as its own daemon (`kanmon serve`).
"
        );
    }

    #[test]
    fn unix_sockets_in_the_chroot_and_tempfail() {
        let config = Config::parse(
            "on_error = \"tempfail\"\n[milter]\nlisten = \"unix:/var/spool/postfix/kanmon/milter.sock\"\n[policy]\nlisten = \"\"\n",
        )
        .unwrap();
        let text = main_cf(&config);
        assert!(
            text.contains("smtpd_milters = unix:/kanmon/milter.sock\n"),
            "{text}"
        );
        assert!(
            text.contains("milter_default_action = tempfail\n"),
            "{text}"
        );
        assert!(!text.contains("check_policy_service"), "{text}");
        assert!(text.contains("chrooted smtpd"), "{text}");
    }
}
