//! "Did you mean …?" for misspelt keys and symbols.

/// The candidate closest to `name`, if it is close enough to be what was meant: at most
/// one edit per three characters (so `modee` → `mode`, `SPF_FAILL` → `SPF_FAIL`, but
/// nothing for a name that merely shares a few letters). Case is ignored, so `spf_fail`
/// finds `SPF_FAIL`.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (distance(&name, &candidate.to_ascii_lowercase()), candidate))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            let insert = current[j] + 1;
            let delete = previous[j + 1] + 1;
            current.push(substitute.min(insert).min(delete));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_near_misses() {
        let keys = ["mode", "helo", "actions"];
        assert_eq!(closest("modee", keys), Some("mode"));
        assert_eq!(closest("Mode", keys), Some("mode"));
        assert_eq!(closest("action", keys), Some("actions"));
        assert_eq!(closest("timeout_ms", keys), None);
        assert_eq!(
            closest("spf_faill", ["SPF_FAIL", "SPF_PASS"]),
            Some("SPF_FAIL")
        );
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
