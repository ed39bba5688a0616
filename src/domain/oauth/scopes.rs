//! Scope syntax (RFC 6749 §3.3) and which scopes need a person behind the token.

use crate::domain::oauth::error::{ErrorCode, OAuthError};

pub(crate) const OPENID: &str = "openid";
pub(crate) const PROFILE: &str = "profile";
pub(crate) const EMAIL: &str = "email";
pub(crate) const OFFLINE_ACCESS: &str = "offline_access";
pub(crate) const ENTITLEMENTS: &str = "entitlements";
/// "Who's watching?": tokens speak for one of the account's profiles.
pub(crate) const PROFILES: &str = "profiles";
pub(crate) const ADMIN: &str = "usher:admin";
pub(crate) const ADMIN_ENTITLEMENTS: &str = "usher:entitlements";
/// Content servers that start, keep alive and stop viewers' streams.
pub(crate) const STREAMS: &str = "usher:streams";

/// Scopes that describe a person; meaningless for a client acting on its own behalf.
pub(crate) const USER_SCOPES: [&str; 6] = [OPENID, PROFILE, EMAIL, OFFLINE_ACCESS, ENTITLEMENTS, PROFILES];

/// Scopes a client gets when registered without `--scope`.
pub(crate) fn default_client_scopes() -> Vec<String> {
    USER_SCOPES.iter().map(|scope| (*scope).to_owned()).collect()
}

/// Whether `scope` is a valid scope-token: `1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn is_valid_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|byte| byte == 0x21 || (0x23..=0x5b).contains(&byte) || (0x5d..=0x7e).contains(&byte))
}

/// Splits a `scope` parameter into its distinct tokens, in order.
pub(crate) fn parse(scope: &str) -> Result<Vec<String>, OAuthError> {
    let mut scopes: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|token| !token.is_empty()) {
        if !is_valid_scope_token(token) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "scope contains invalid characters",
            ));
        }
        if !scopes.iter().any(|seen| seen == token) {
            scopes.push(token.to_owned());
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_split_on_spaces_and_deduplicated() {
        assert_eq!(
            parse("a  b a").expect("parses"),
            vec!["a".to_owned(), "b".to_owned()]
        );
    }

    #[test]
    fn quotes_and_backslashes_are_not_scope_characters() {
        assert!(parse("a\"b").is_err());
        assert!(parse("a\\b").is_err());
        assert!(is_valid_scope_token("usher:admin"));
    }
}
