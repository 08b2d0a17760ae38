//! Seals a message with the next ARC set, or validates its ARC chain against a zone file,
//! from the command line (RFC 8617).
//!
//! ```text
//! arc seal --key PATH --domain D --selector S --authserv-id ID --auth-results TEXT
//!          [--zone PATH] [--now UNIXSECS] < message > sealed
//! arc verify --zone PATH [--now UNIXSECS] < message
//! ```
//!
//! `seal` validates the chain the message arrived with (against `--zone`; a message without
//! ARC fields needs none), then writes the message with ARC-Seal, ARC-Message-Signature and
//! ARC-Authentication-Results prepended; the AAR payload is `ID; TEXT`. The key must be RSA.
//! `verify` reads key records from a zone file of `<name> <TXT value>` lines (as the `dkim`
//! example does) and prints `cv=<result> sets=<n> oldest-pass=<n|-> <reason>`, then one line
//! per set, `i=<n> cv=<cv> as=<result> ams=<result> d=<d> s=<s>`. Exit status: 0 if the chain
//! passed (or, for `seal`, the set was written), 1 if not, 2 for usage or input errors.
//!
//! Run with `cargo run -q --release -p kanmon-auth --example arc -- verify --zone z < m`.

#[path = "common/cli.rs"]
mod cli;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use cli::{Options, Usage, print_line, read_stdin, read_zone};
use kanmon_auth::arc::{ArcOutput, ArcResult, Sealer, validate};
use kanmon_auth::dkim::SigningKey;
use kanmon_auth::dns::StaticResolver;
use kanmon_auth::message::Message;

const USAGE: &str = "usage: arc seal --key PATH --domain D --selector S --authserv-id ID \
                     --auth-results TEXT [--zone PATH] [--now SECS] < message\n       \
                     arc verify --zone PATH [--now SECS] < message";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("seal") => seal(&args[1..]),
        Some("verify") => verify_command(&args[1..]),
        _ => Err(Usage(USAGE.to_owned())),
    };
    match outcome {
        Ok(code) => code,
        Err(Usage(message)) => {
            eprintln!("arc: {message}");
            ExitCode::from(2)
        }
    }
}

fn run_validate(
    zone: &StaticResolver,
    message: &Message<'_>,
    now: u64,
) -> Result<ArcOutput, Usage> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    Ok(runtime.block_on(validate(zone, message, now)))
}

fn seal(args: &[String]) -> Result<ExitCode, Usage> {
    let options = Options::parse(
        args,
        &[
            "--key",
            "--domain",
            "--selector",
            "--authserv-id",
            "--auth-results",
            "--zone",
            "--now",
        ],
        &[],
        USAGE,
    )?;
    let key = SigningKey::load(Path::new(options.required("--key")?))?;
    let sealer = Sealer::new(
        key,
        options.required("--domain")?,
        options.required("--selector")?,
    )?;
    let results = format!(
        "{}; {}",
        options.required("--authserv-id")?,
        options.required("--auth-results")?
    );
    let now = options.now()?;
    let input = read_stdin()?;
    let message = Message::parse(&input)?;
    let chain = match options.value("--zone") {
        Some(path) => run_validate(&read_zone(path)?, &message, now)?,
        None => {
            let chain = run_validate(&StaticResolver::new(), &message, now)?;
            if chain.result != ArcResult::None {
                return Err(Usage(
                    "the message has an ARC chain: --zone is needed to validate it".into(),
                ));
            }
            chain
        }
    };
    let set = sealer.seal(&message, &chain, &results, now)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(set.header_block().as_bytes())
        .and_then(|()| stdout.write_all(&input))
        .and_then(|()| stdout.flush())
        .map_err(|e| Usage(format!("cannot write the message: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

fn verify_command(args: &[String]) -> Result<ExitCode, Usage> {
    let options = Options::parse(args, &["--zone", "--now"], &[], USAGE)?;
    let zone = read_zone(options.required("--zone")?)?;
    let now = options.now()?;
    let input = read_stdin()?;
    let message = Message::parse(&input)?;
    let output = run_validate(&zone, &message, now)?;
    print_line!(
        "cv={} sets={} oldest-pass={} {}",
        output.result,
        output.set_count(),
        output
            .oldest_pass
            .map_or_else(|| "-".to_owned(), |i| i.to_string()),
        output.reason()
    );
    for set in &output.sets {
        print_line!(
            "i={} cv={} as={} ams={} d={} s={}",
            set.instance,
            set.cv.map_or("-", |cv| cv.as_str()),
            set.seal.result,
            set.message_signature.result,
            set.seal.domain,
            set.seal.selector
        );
    }
    Ok(if output.result == ArcResult::Pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
