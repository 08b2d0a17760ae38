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

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use kanmon_auth::dkim::{Canonicalization, DkimResult, Signer, SigningKey, VerifyOptions, verify};
use kanmon_auth::dns::StaticResolver;
use kanmon_auth::message::Message;

const USAGE: &str = "usage: dkim sign --key PATH --domain D --selector S [--canon H/B] \
                     [--headers a:b:c] [--oversign] [--now SECS] < message\n       \
                     dkim verify --zone PATH [--allow-sha1] [--now SECS] < message";

/// A usage or input error: exit status 2.
struct Usage(String);

impl<E: std::fmt::Display> From<E> for Usage {
    fn from(error: E) -> Self {
        Usage(error.to_string())
    }
}

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

/// Options as `--name value` pairs and `--flag`s.
struct Options {
    values: Vec<(String, String)>,
    flags: Vec<String>,
}

impl Options {
    fn parse(args: &[String], with_value: &[&str], flags: &[&str]) -> Result<Self, Usage> {
        let mut options = Options {
            values: Vec::new(),
            flags: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let name = arg.as_str();
            if with_value.contains(&name) {
                let value = args
                    .next()
                    .ok_or_else(|| Usage(format!("{name} needs a value")))?;
                options.values.push((name.to_owned(), value.clone()));
            } else if flags.contains(&name) {
                options.flags.push(name.to_owned());
            } else {
                return Err(Usage(format!("unknown argument {name:?}\n{USAGE}")));
            }
        }
        Ok(options)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, Usage> {
        self.value(name)
            .ok_or_else(|| Usage(format!("{name} is required\n{USAGE}")))
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    fn now(&self) -> Result<u64, Usage> {
        match self.value("--now") {
            Some(now) => now
                .parse()
                .map_err(|_| Usage(format!("--now {now:?} is not a number of seconds"))),
            None => Ok(SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())),
        }
    }
}

fn read_stdin() -> Result<Vec<u8>, Usage> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| Usage(format!("cannot read the message: {e}")))?;
    Ok(input)
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

/// Reads `<name> <TXT value>` lines.
fn read_zone(path: &str) -> Result<StaticResolver, Usage> {
    let text = std::fs::read_to_string(path).map_err(|e| Usage(format!("{path}: {e}")))?;
    let mut zone = StaticResolver::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(char::is_whitespace) else {
            return Err(Usage(format!("{path}:{}: no TXT value", number + 1)));
        };
        zone = zone.with_txt(name, unquote(value.trim()));
    }
    Ok(zone)
}

/// `"a" "b"` becomes `ab`, as the DNS joins a TXT record's strings; unquoted text is kept.
fn unquote(value: &str) -> String {
    if !value.starts_with('"') {
        return value.to_owned();
    }
    let mut joined = String::new();
    let mut inside = false;
    let mut escaped = false;
    for c in value.chars() {
        match (inside, escaped, c) {
            (true, true, c) => {
                joined.push(c);
                escaped = false;
            }
            (true, false, '\\') => escaped = true,
            (_, _, '"') => inside = !inside,
            (true, false, c) => joined.push(c),
            (false, _, _) => {}
        }
    }
    joined
}

fn verify_command(args: &[String]) -> Result<ExitCode, Usage> {
    let options = Options::parse(args, &["--zone", "--now"], &["--allow-sha1"])?;
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
        println!(
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
