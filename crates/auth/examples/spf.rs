//! Checks SPF for one client against the live DNS, as kanmon would at MAIL FROM.
//!
//! ```text
//! cargo run -p kanmon-auth --example spf -- 192.0.2.10 alice@example.org [helo-name]
//! ```

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kanmon_auth::dns::HickoryResolver;
use kanmon_auth::spf::{SpfRequest, verify_mail_from};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(ip), Some(sender)) = (args.first(), args.get(1)) else {
        eprintln!("usage: spf CLIENT-IP MAIL-FROM [HELO]");
        return ExitCode::from(2);
    };
    let Ok(ip) = ip.parse() else {
        eprintln!("spf: {ip:?} is not an IP address");
        return ExitCode::from(2);
    };
    let helo = args.get(2).map_or("unknown", String::as_str);
    let resolver = match HickoryResolver::system(Duration::from_secs(5)) {
        Ok(resolver) => resolver,
        Err(error) => {
            eprintln!("spf: {error}");
            return ExitCode::from(1);
        }
    };
    let mut request = SpfRequest::new(ip, helo, sender);
    request.now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let output = verify_mail_from(&resolver, &request).await;
    println!("{}: {}", output.result, output.reason());
    if let Some(explanation) = &output.explanation {
        println!("explanation: {explanation}");
    }
    ExitCode::SUCCESS
}
