//! Domain-name helpers shared by the protocols: syntactic validity, the 253-octet cap, and the
//! organizational domain (DMARC's "registrable domain", from the Public Suffix List).

/// Longest domain name in text form, without the trailing dot (RFC 1035 §2.3.4: 255 octets on
/// the wire).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// Whether `name` (without trailing dot) can be sent as a DNS query: labels of 1–63 octets, at
/// most 253 octets in all. Any octet is allowed inside a label; SPF macros can produce names
/// with spaces or colons, and the DNS carries them.
pub fn is_queryable(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return false;
    }
    // One pass, counting the current label's length (SPF asks this of every target).
    let mut label = 0;
    for &byte in name.as_bytes() {
        if byte == b'.' {
            if label == 0 {
                return false;
            }
            label = 0;
        } else {
            label += 1;
            if label > MAX_LABEL_LEN {
                return false;
            }
        }
    }
    label > 0
}

/// Whether `name` is a syntactically valid multi-label host domain, the precondition of SPF
/// `check_host()` (RFC 7208 §4.3) and of DMARC's From domain: queryable, at least two labels,
/// and not an address literal such as `[192.0.2.1]`.
pub fn is_valid_mail_domain(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    is_queryable(name) && name.contains('.') && !name.starts_with('[')
}

/// Removes labels from the left until the name fits in 253 octets (RFC 7208 §7.3 for names
/// built by macro expansion).
pub fn truncate_left(name: &str) -> &str {
    let mut rest = name;
    while rest.len() > MAX_NAME_LEN {
        match rest.split_once('.') {
            Some((_, after)) => rest = after,
            None => return rest,
        }
    }
    rest
}

/// The organizational domain of `name` (RFC 7489 §3.2): the public suffix plus one label,
/// from the Public Suffix List compiled into the `psl` crate. A name that is itself a public
/// suffix, or has no known suffix, is returned unchanged.
pub fn organizational_domain(name: &str) -> &str {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    // The list is in lower case; the registrable domain is a suffix of the input, so its
    // length gives the slice of the original spelling.
    let lower = trimmed.to_ascii_lowercase();
    match psl::domain(lower.as_bytes()) {
        Some(domain) => &trimmed[trimmed.len() - domain.as_bytes().len()..],
        None => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queryable_names() {
        assert!(is_queryable("example.com"));
        assert!(is_queryable("macro%percent  space.example.com"));
        assert!(!is_queryable("mail.example...com"));
        assert!(!is_queryable(&format!("{}.example.com", "a".repeat(64))));
        assert!(is_queryable(&format!("{}.example.com", "a".repeat(63))));
        assert!(!is_queryable(""));
    }

    #[test]
    fn mail_domains() {
        assert!(is_valid_mail_domain("example.com."));
        assert!(!is_valid_mail_domain("A2345678"));
        assert!(!is_valid_mail_domain("[1.2.3.5]"));
        assert!(!is_valid_mail_domain("A...example.com"));
    }

    #[test]
    fn truncation_removes_whole_labels() {
        let long = format!("{}.example.com", ["abcdefghi"; 30].join("."));
        let cut = truncate_left(&long);
        assert!(cut.len() <= MAX_NAME_LEN && cut.ends_with(".example.com"));
        assert!(cut.starts_with("abcdefghi."));
    }

    #[test]
    fn organizational_domains() {
        assert_eq!(organizational_domain("mail.example.com"), "example.com");
        assert_eq!(organizational_domain("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(organizational_domain("Example.COM."), "Example.COM");
        assert_eq!(organizational_domain("co.uk"), "co.uk");
    }
}
