//! The parameters of an OAuth request, however they arrived (a form body, a query string).

use crate::domain::oauth::error::OAuthError;

pub(crate) trait Parameters {
    /// The parameter's value; None when it is absent or empty (RFC 6749 §3.1: a parameter
    /// sent without a value is treated as omitted).
    fn get(&self, name: &str) -> Option<&str>;

    /// Every parameter, form-encoded again, to carry the request through pages.
    fn encoded(&self) -> String;

    fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }
}
