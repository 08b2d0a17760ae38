//! Signs a message, or verifies its DKIM signatures against a zone file, from the command line.
//!
//! ```text
//! dkim sign --key PATH --domain D --selector S [--canon relaxed/relaxed]
//!           [--headers from:to:subject] [--oversign] [--now UNIXSECS] < message > signed
//! dkim verify --zone PATH [--allow-sha1] [--now UNIXSECS] < message
//! ```
//!
//! `sign` writes the message with a DKIM-Signature field prepended; the algorithm follows the
//! key type, and the field uses the message's line ending. `verify` reads key records from a
//! zone file of `<name> <TXT value>` lines (`#` starts a comment line; a value may be given
//! as one or more quoted strings) and prints one line per signature,
//! `<result> d=<d> s=<s> a=<alg> <reason>`. Exit status: 0 if a signature passed, 1 if none
//! did, 2 for usage or input errors.
//!
//! Run with `cargo run -q --release -p kanmon-auth --example dkim -- verify --zone z < m`.

#[path = "common/cli.rs"]
mod cli;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use cli::{Options, Usage, print_line, read_stdin, read_zone};
use kanmon_auth::dkim::{Canonicalization, DkimResult, Signer, SigningKey, VerifyOptions, verify};
use kanmon_auth::message::Message;

const USAGE: &str = "usage: dkim sign --key PATH --domain D --selector S [--canon H/B] \
                     [--headers a:b:c] [--oversign] [--now SECS] < message\n       \
                     dkim verify --zone PATH [--allow-sha1] [--now SECS] < message";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("sign") => sign(&args[1..]),
        Some("verify") => verify_command(&args[1..]),
        _ => Err(Usage(USAGE.to_owned())),
    };
    match outcome {
        Ok(code) => code,
        Err(Usage(message)) => {
            eprintln!("dkim: {message}");
            ExitCode::from(2)
        }
    }
}

fn canonicalization(name: &str) -> Result<Canonicalization, Usage> {
    match name {
        "simple" => Ok(Canonicalization::Simple),
        "relaxed" => Ok(Canonicalization::Relaxed),
        _ => Err(Usage(format!("unknown canonicalization {name:?}"))),
    }
}

fn sign(args: &[String]) -> Result<ExitCode, Usage> {
    let options = Options::parse(
        args,
        &[
            "--key",
            "--domain",
            "--selector",
            "--canon",
            "--headers",
            "--now",
        ],
        &["--oversign"],
        USAGE,
    )?;
    let key = SigningKey::load(Path::new(options.required("--key")?))?;
    let mut signer = Signer::new(
        key,
        options.required("--domain")?,
        options.required("--selector")?,
    );
    if let Some(canon) = options.value("--canon") {
        let (header, body) = canon.split_once('/').unwrap_or((canon, "simple"));
        signer.header_canon = canonicalization(header)?;
        signer.body_canon = canonicalization(body)?;
    }
    if let Some(headers) = options.value("--headers") {
        signer.headers = headers
            .split(':')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect();
    }
    signer.oversign = options.flag("--oversign");
    let now = options.now()?;
    let input = read_stdin()?;
    let message = Message::parse(&input)?;
    let field = signer.sign(&message, now)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(field.as_bytes())
        .and_then(|()| stdout.write_all(&input))
        .and_then(|()| stdout.flush())
        .map_err(|e| Usage(format!("cannot write the message: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

fn verify_command(args: &[String]) -> Result<ExitCode, Usage> {
    let options = Options::parse(args, &["--zone", "--now"], &["--allow-sha1"], USAGE)?;
    let zone = read_zone(options.required("--zone")?)?;
    let now = options.now()?;
    let verify_options = VerifyOptions {
        allow_sha1: options.flag("--allow-sha1"),
        ..VerifyOptions::default()
    };
    let input = read_stdin()?;
    let message = Message::parse(&input)?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let outputs = runtime.block_on(verify(&zone, &message, &verify_options, now));
    let mut passed = false;
    for output in &outputs {
        passed |= output.result == DkimResult::Pass;
        print_line!(
            "{} d={} s={} a={} {}",
            output.result,
            output.domain,
            output.selector,
            output.algorithm.map_or("unknown", |a| a.as_str()),
            output.reason()
        );
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
