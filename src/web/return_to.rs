//! Where a sign-in returns to. The login pages carry it from page to page (and through a
//! sign-in link) as one form-encoded `request` parameter; this is the one place that writes
//! and reads it.

use url::form_urlencoded;

use crate::domain::oauth::device::VERIFICATION_PATH;
use crate::domain::oauth::metadata::AUTHORIZATION_PATH;
use crate::web::form::Form;
use crate::web::paths;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReturnTo {
    /// An app's authorization request, form-encoded as it arrived.
    Authorization(String),
    /// A dashboard page the sign-in interrupted.
    Dashboard(String),
    /// The TV code page, with the code typed before the sign-in.
    DeviceVerification(String),
    Account,
    /// The account page with the notice its `done` parameter names: what using a household
    /// invitation did.
    AccountNotice(String),
}

impl ReturnTo {
    /// Reads a carried `request` parameter; anything unrecognised returns to the account.
    pub(crate) fn parse(carried: &str) -> Self {
        let Ok(request) = Form::from_urlencoded(carried) else {
            return Self::Account;
        };
        if request.get("client_id").is_some() {
            return Self::Authorization(carried.to_owned());
        }
        if let Some(path) = request.get("return_to")
            && is_dashboard_path(path)
        {
            return Self::Dashboard(path.to_owned());
        }
        if let Some(done) = request.get("account_done")
            && is_notice_name(done)
        {
            return Self::AccountNotice(done.to_owned());
        }
        // Present but empty is the TV code page before a code was typed (a phone that opened
        // the short address): it returns there, not to the account.
        match request.pairs().find(|(name, _)| *name == "device_user_code") {
            Some((_, user_code)) => Self::DeviceVerification(user_code.to_owned()),
            None => Self::Account,
        }
    }

    /// The value of the `request` parameter that carries this.
    pub(crate) fn carried(&self) -> String {
        let pair = |name: &str, value: &str| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair(name, value)
                .finish()
        };
        match self {
            Self::Authorization(encoded) => encoded.clone(),
            Self::Dashboard(path) => pair("return_to", path),
            Self::DeviceVerification(user_code) => pair("device_user_code", user_code),
            Self::Account => String::new(),
            Self::AccountNotice(done) => pair("account_done", done),
        }
    }

    /// The login page that comes back here.
    pub(crate) fn sign_in_url(&self) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("request", &self.carried())
            .finish();
        format!("/login?{query}")
    }

    /// Where to go once signed in: back to the authorization request (without the `prompt`
    /// values that asked for the sign-in just done), the dashboard page, the TV code page, or
    /// the account page.
    pub(crate) fn location(&self, just_signed_in: bool) -> String {
        match self {
            Self::Authorization(encoded) => authorization_location(encoded, just_signed_in),
            Self::Dashboard(path) => path.clone(),
            Self::DeviceVerification(user_code) if user_code.is_empty() => VERIFICATION_PATH.to_owned(),
            Self::DeviceVerification(user_code) => format!(
                "{VERIFICATION_PATH}?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("user_code", user_code)
                    .finish()
            ),
            Self::Account => paths::ACCOUNT.to_owned(),
            Self::AccountNotice(done) => format!("{}?done={done}", paths::ACCOUNT),
        }
    }
}

/// Whether `done` may name an account page notice: lower-case letters and dashes only, so it
/// goes into the address as it is.
fn is_notice_name(done: &str) -> bool {
    (1..=40).contains(&done.len()) && done.bytes().all(|byte| byte.is_ascii_lowercase() || byte == b'-')
}

/// Whether `path` is a dashboard page a sign-in may return to (never another site).
fn is_dashboard_path(path: &str) -> bool {
    (path == paths::DASHBOARD || path.starts_with("/admin/") || path.starts_with("/admin?"))
        && !path.contains("//")
        && !path.contains('\\')
        && path.bytes().all(|byte| byte.is_ascii_graphic())
}

fn authorization_location(encoded: &str, just_signed_in: bool) -> String {
    let Ok(request) = Form::from_urlencoded(encoded) else {
        return paths::ACCOUNT.to_owned();
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in request.pairs() {
        // A sign-in that just happened satisfies any max_age; checked again, a small one
        // would send the person back to the login page.
        if name == "max_age" && just_signed_in {
            continue;
        }
        if name == "prompt" && just_signed_in {
            let kept: Vec<&str> = value
                .split(' ')
                .filter(|prompt| !prompt.is_empty() && *prompt != "login" && *prompt != "select_account")
                .collect();
            if !kept.is_empty() {
                query.append_pair(name, &kept.join(" "));
            }
        } else {
            query.append_pair(name, value);
        }
    }
    format!("{AUTHORIZATION_PATH}?{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(carried: &str, just_signed_in: bool) -> String {
        ReturnTo::parse(carried).location(just_signed_in)
    }

    #[test]
    fn signing_in_drops_the_prompt_values_it_satisfied() {
        assert_eq!(
            location("client_id=app&prompt=login+consent&max_age=0&state=x", true),
            "/oauth/authorize?client_id=app&prompt=consent&state=x"
        );
        assert_eq!(
            location("client_id=app&prompt=login", true),
            "/oauth/authorize?client_id=app"
        );
        assert_eq!(location("", true), "/account");
    }

    #[test]
    fn a_tv_code_page_opened_without_a_code_is_returned_to() {
        assert_eq!(location("device_user_code=", true), VERIFICATION_PATH);
        let carried = ReturnTo::DeviceVerification(String::new()).carried();
        assert_eq!(
            ReturnTo::parse(&carried),
            ReturnTo::DeviceVerification(String::new())
        );
    }

    #[test]
    fn each_return_survives_being_carried() {
        for return_to in [
            ReturnTo::Authorization("client_id=app&state=x".to_owned()),
            ReturnTo::Dashboard("/admin/people?q=a".to_owned()),
            ReturnTo::DeviceVerification("BCDF-GHJK".to_owned()),
            ReturnTo::Account,
            ReturnTo::AccountNotice("family-joined".to_owned()),
        ] {
            assert_eq!(ReturnTo::parse(&return_to.carried()), return_to);
        }
    }

    #[test]
    fn a_sign_in_never_returns_to_another_site() {
        assert_eq!(
            ReturnTo::parse("return_to=//evil.example/admin"),
            ReturnTo::Account
        );
        assert_eq!(
            ReturnTo::parse("return_to=https://evil.example/admin"),
            ReturnTo::Account
        );
    }
}
