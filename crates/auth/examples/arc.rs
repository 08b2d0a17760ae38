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

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use kanmon_auth::arc::{ArcOutput, ArcResult, Sealer, validate};
use kanmon_auth::dkim::SigningKey;
use kanmon_auth::dns::StaticResolver;
use kanmon_auth::message::Message;

const USAGE: &str = "usage: arc seal --key PATH --domain D --selector S --authserv-id ID \
                     --auth-results TEXT [--zone PATH] [--now SECS] < message\n       \
                     arc verify --zone PATH [--now SECS] < message";

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

/// Options as `--name value` pairs.
struct Options {
    values: Vec<(String, String)>,
}

impl Options {
    fn parse(args: &[String], with_value: &[&str]) -> Result<Self, Usage> {
        let mut options = Options { values: Vec::new() };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let name = arg.as_str();
            if with_value.contains(&name) {
                let value = args
                    .next()
                    .ok_or_else(|| Usage(format!("{name} needs a value")))?;
                options.values.push((name.to_owned(), value.clone()));
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
    let options = Options::parse(args, &["--zone", "--now"])?;
    let zone = read_zone(options.required("--zone")?)?;
    let now = options.now()?;
    let input = read_stdin()?;
    let message = Message::parse(&input)?;
    let output = run_validate(&zone, &message, now)?;
    println!(
        "cv={} sets={} oldest-pass={} {}",
        output.result,
        output.set_count(),
        output
            .oldest_pass
            .map_or_else(|| "-".to_owned(), |i| i.to_string()),
        output.reason()
    );
    for set in &output.sets {
        println!(
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
