//! Command-line plumbing shared by the `dkim` and `arc` examples: options, stdin, zone files.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use kanmon_auth::dns::StaticResolver;

/// A usage or input error: exit status 2.
pub(crate) struct Usage(pub(crate) String);

impl<E: std::fmt::Display> From<E> for Usage {
    fn from(error: E) -> Self {
        Usage(error.to_string())
    }
}

/// Options as `--name value` pairs and `--flag`s.
pub(crate) struct Options {
    values: Vec<(String, String)>,
    flags: Vec<String>,
    usage: &'static str,
}

impl Options {
    /// Reads `args`; anything not in `with_value` or `flags` is an error showing `usage`.
    pub(crate) fn parse(
        args: &[String],
        with_value: &[&str],
        flags: &[&str],
        usage: &'static str,
    ) -> Result<Self, Usage> {
        let mut options = Options {
            values: Vec::new(),
            flags: Vec::new(),
            usage,
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
                return Err(Usage(format!("unknown argument {name:?}\n{usage}")));
            }
        }
        Ok(options)
    }

    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn required(&self, name: &str) -> Result<&str, Usage> {
        self.value(name)
            .ok_or_else(|| Usage(format!("{name} is required\n{}", self.usage)))
    }

    #[allow(dead_code)] // only the dkim example has flags
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    /// `--now`, or the clock.
    pub(crate) fn now(&self) -> Result<u64, Usage> {
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

pub(crate) fn read_stdin() -> Result<Vec<u8>, Usage> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| Usage(format!("cannot read the message: {e}")))?;
    Ok(input)
}

/// Reads `<name> <TXT value>` lines (`#` comment lines, blank lines ignored).
pub(crate) fn read_zone(path: &str) -> Result<StaticResolver, Usage> {
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

/// `println!` that stops quietly when the reader has gone away (`| head`) instead of
/// panicking on the broken pipe.
macro_rules! print_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
pub(crate) use print_line;
