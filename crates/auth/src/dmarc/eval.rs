//! Evaluation of one author domain: discovery, alignment, the policy that applies, and the
//! disposition after sampling (RFC 7489 §6.6, RFC 9989 §5.3).

use crate::dns::Resolver;
use crate::spf::SpfResult;

use super::discovery::{Discovered, discover, is_nonexistent, org_domain};
use super::record::{Alignment, Policy};
use super::{DmarcOutput, DmarcRequest, DmarcResult, PolicyTag};

/// Most passing DKIM signatures whose alignment is checked. Each may cost a tree walk of up to
/// eight queries, and a sender can add signatures of its own domains at will; real mail has
/// one to three (the author's, an ESP's, a list's).
pub const MAX_DKIM_IDENTIFIERS: usize = 10;

/// Evaluates the message for one author domain (lower case, valid).
pub(crate) async fn evaluate<R: Resolver>(
    resolver: &R,
    author: &str,
    request: &DmarcRequest<'_>,
) -> DmarcOutput {
    let mut output = DmarcOutput::empty(author, request);
    let (record, policy_domain) = match discover(resolver, author, request.discovery).await {
        Discovered::Policy {
            record,
            policy_domain,
        } => (record, policy_domain),
        Discovered::None(problem) => return output.with(DmarcResult::None, problem),
        Discovered::PermError(problem) => return output.with(DmarcResult::PermError, problem),
        Discovered::TempError(problem) => return output.with(DmarcResult::TempError, problem),
    };
    output.policy_domain = Some(policy_domain.clone());

    // Alignment (RFC 7489 §3.1, §4.2): only a passing SPF check of the MAIL FROM identity and
    // passing DKIM signatures count.
    let mut temp_problem = None;
    if let Some(spf) = request.spf.filter(|s| s.result == SpfResult::Pass) {
        match aligned(resolver, request, author, spf.domain, record.spf_alignment).await {
            Ok(true) => output.spf_aligned = Some(normalize(spf.domain)),
            Ok(false) => {}
            Err(problem) => temp_problem = Some(problem),
        }
    }
    for dkim in request
        .dkim
        .iter()
        .filter(|d| d.passed)
        .take(MAX_DKIM_IDENTIFIERS)
    {
        match aligned(
            resolver,
            request,
            author,
            dkim.domain,
            record.dkim_alignment,
        )
        .await
        {
            Ok(true) => {
                output.dkim_aligned = Some(normalize(dkim.domain));
                break;
            }
            Ok(false) => {}
            Err(problem) => temp_problem = Some(problem),
        }
    }

    // The policy that applies (RFC 9989 §4.10.1): p for the author domain itself, otherwise
    // sp for an existing subdomain and np for a non-existent one, each defaulting to the
    // next.
    let (mut tag, mut policy) = (PolicyTag::P, record.policy);
    if policy_domain != author && record.subdomain_policy.is_some() {
        (tag, policy) = (PolicyTag::Sp, record.subdomain_policy_or_p());
    }
    let passed = output.spf_aligned.is_some() || output.dkim_aligned.is_some();
    if !passed {
        if let Some(problem) = temp_problem {
            // A DNS failure during alignment may have hidden an aligned pass (RFC 9989
            // §5.3.6: neither pass nor fail).
            output.record = Some(*record);
            return output.with(DmarcResult::TempError, problem);
        }
        // Non-existence only matters for a failing message whose np differs from what it
        // would get anyway; this saves three queries for everything else.
        if let Some(np) = record
            .nonexistent_policy
            .filter(|np| policy_domain != author && *np != policy)
        {
            match is_nonexistent(resolver, author).await {
                Ok(true) => (tag, policy) = (PolicyTag::Np, np),
                Ok(false) => {}
                Err(problem) => {
                    output.record = Some(*record);
                    return output.with(DmarcResult::TempError, problem);
                }
            }
        }
    }
    output.policy = Some(policy);
    output.policy_tag = Some(tag);

    if passed {
        output.result = DmarcResult::Pass;
        output.disposition = Policy::None;
    } else {
        output.result = DmarcResult::Fail;
        // Sampling (RFC 7489 §6.6.4) and test mode (RFC 9989 §4.7 `t=y`): a failing message
        // outside the sample, or any under test, gets the next-lower policy.
        let in_sample = request.sample < record.percent;
        output.lowered = (record.testing || !in_sample) && policy != Policy::None;
        output.disposition = if output.lowered {
            policy.lowered()
        } else {
            policy
        };
    }
    output.record = Some(*record);
    output
}

/// Whether `identifier` is aligned with `author` under `mode` (RFC 7489 §3.1.1, §3.1.2).
async fn aligned<R: Resolver>(
    resolver: &R,
    request: &DmarcRequest<'_>,
    author: &str,
    identifier: &str,
    mode: Alignment,
) -> Result<bool, String> {
    let identifier = normalize(identifier);
    if identifier == author {
        return Ok(true);
    }
    if mode == Alignment::Strict || identifier.is_empty() {
        return Ok(false);
    }
    // Organizational domains are ancestors (or self), so names under different top-level
    // labels can never share one; this saves the tree walks for most unaligned mail.
    if author.rsplit('.').next() != identifier.rsplit('.').next() {
        return Ok(false);
    }
    let author_org = org_domain(resolver, author, request.discovery).await?;
    let identifier_org = org_domain(resolver, &identifier, request.discovery).await?;
    Ok(author_org == identifier_org)
}

/// Domain names compare case-insensitively and without a trailing dot (RFC 4343).
pub(crate) fn normalize(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}
