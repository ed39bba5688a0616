//! Mail telling a person that a way into their account changed: if it was not them, they
//! learn it at once and know where to look.

use crate::domain::core::Core;
use crate::foundation::i18n::Locale;
pub use crate::foundation::mail::AccountChange;
use crate::foundation::store::users::User;
use crate::foundation::time::TimeZone;
use crate::foundation::time::local::format_local;

/// Mails `user` that `change` happened now, in their language ([`Core::mail_voice`]; `page`:
/// the language of the page the change was made on, if any). Sent in the background: the
/// change is done and recorded whether or not the mail goes out.
pub(crate) fn credential_changed(state: &Core, user: &User, change: AccountChange, page: Option<Locale>) {
    let voice = state.mail_voice(user.locale.as_deref(), page);
    let account_url = format!("{}/account", state.issuer);
    // In the recipient's own zone, as their account page shows times; UTC until they have one.
    let zone = user
        .time_zone
        .as_deref()
        .and_then(TimeZone::named)
        .unwrap_or_else(TimeZone::utc);
    let at = format_local(state.clock.now(), voice.locale, &zone);
    match crate::foundation::mail::credential_changed(voice, &user.email, &change, &at, &account_url) {
        Ok(mail) => state.mailer.dispatch(mail),
        Err(error) => tracing::warn!(%error, "could not write the credential notice"),
    }
}
