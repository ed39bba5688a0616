//! Mail telling a person that a way into their account changed: if it was not them, they
//! learn it at once and know where to look.

use crate::domain::core::Core;
use crate::foundation::store::users::User;
use crate::foundation::time::format_utc;

/// Mails `user` that `summary` happened now. Sent in the background: the change is done
/// and recorded whether or not the mail goes out.
pub(crate) fn credential_changed(state: &Core, user: &User, summary: &str) {
    let account_url = format!("{}/account", state.issuer);
    let at = format_utc(state.clock.now());
    match crate::foundation::mail::credential_changed(&user.email, summary, &at, &account_url) {
        Ok(mail) => state.mailer.dispatch(mail),
        Err(error) => tracing::warn!(%error, "could not write the credential notice"),
    }
}
