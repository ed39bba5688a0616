//! What a person does to their own account: a new password, their name, their language and
//! time zone, the apps and devices signed in to it. Each change commits with what it ends.

use crate::domain::AdminError;
use crate::domain::core::Core;
use crate::domain::identity::session::{self, SignedIn};
use crate::domain::identity::users as admin_users;
use crate::domain::tokens::revocation::revoke_access_tokens;
use crate::foundation::store::transaction;
use crate::foundation::store::{
    DbConnection, StoreError, consents, issued_tokens, refresh_tokens, sessions, users,
};
use crate::foundation::time::TimeZone;

/// Sets a new password (already hashed) and signs the person out everywhere but here, with
/// the tokens of those sessions: whoever knew the old one is out. One transaction.
pub(crate) fn change_password(
    state: &Core,
    conn: &mut DbConnection,
    signed_in: &SignedIn,
    password_hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    let user_id = signed_in.user.id.as_str();
    transaction(conn, |conn| {
        users::set_password_hash(conn, user_id, password_hash)?;
        crate::foundation::store::entitlements::audit_self(conn, user_id, "password.change", None, now)?;
        sessions::end_all_for_user_except(conn, user_id, &signed_in.session.sid, now)?;
        // Every other session's tokens, and those of sessions already replaced and of TVs.
        let sid = signed_in.session.sid.as_str();
        let mut issued = refresh_tokens::revoke_for_user_except_session(conn, user_id, sid, now)?;
        issued.extend(issued_tokens::live_for_user_except_session(
            conn, user_id, sid, now,
        )?);
        revoke_access_tokens(&state.revoked, conn, issued, now)?;
        // Whoever watches with the old password stops; this device starts again if it was.
        crate::domain::streams::end_all_of(conn, &state.streams, user_id)?;
        crate::foundation::store::links::forget_pending_for_user(conn, user_id)
    })
}

/// Sets the person's display name, or removes it when `raw_name` is blank; a name
/// [`admin_users::clean_name`] refuses is an [`AdminError::Invalid`] and changes nothing.
pub(crate) fn rename(conn: &mut DbConnection, user_id: &str, raw_name: &str) -> Result<(), AdminError> {
    let name = admin_users::clean_name(raw_name)?;
    Ok(users::set_name(conn, user_id, name.as_deref())?)
}

/// Withdraws the person's consent to `client_id` and revokes every token the app holds for
/// them. One transaction: the app must not lose its listing here while keeping its tokens.
/// Consent goes first so the app cannot quietly get a new code while its tokens are revoked.
pub(crate) fn remove_app(
    state: &Core,
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    transaction(conn, |conn| {
        consents::revoke(conn, user_id, client_id)?;
        let mut issued = refresh_tokens::revoke_for_user_and_client(conn, user_id, client_id, now)?;
        issued.extend(issued_tokens::live_for_user_and_client(
            conn, user_id, client_id, now,
        )?);
        revoke_access_tokens(&state.revoked, conn, issued, now)
    })
}

/// Ends the person's session `sid`; returns whether it was one of their live sessions. A sid
/// of someone else's session, or of one already over, is ignored.
pub(crate) fn end_session(
    state: &Core,
    conn: &mut DbConnection,
    user_id: &str,
    sid: &str,
    now: i64,
) -> Result<bool, StoreError> {
    if crate::foundation::store::devices::owns_device(conn, user_id, sid, now)? {
        return transaction(conn, |conn| {
            let mut issued = refresh_tokens::revoke_for_session(conn, sid, now)?;
            issued.extend(issued_tokens::live_for_session(conn, sid, now)?);
            revoke_access_tokens(&state.revoked, conn, issued, now)?;
            Ok(true)
        });
    }
    let owned = sessions::find_live_by_sid(conn, sid, now)?.is_some_and(|session| session.user_id == user_id);
    if owned {
        session::end(state, conn, &[sid.to_owned()], now)?;
    }
    Ok(owned)
}

/// Saves the language the person chose for pages and mail (a supported tag, checked by the
/// caller); it is also their `locale` claim.
pub(crate) fn choose_locale(conn: &mut DbConnection, user_id: &str, tag: &str) -> Result<(), StoreError> {
    users::set_locale(conn, user_id, Some(tag))
}

/// Saves the time zone the person chose for their pages, under its canonical name; a name
/// the tz database does not know is an [`AdminError::Invalid`] and changes nothing.
pub(crate) fn choose_time_zone(
    conn: &mut DbConnection,
    user_id: &str,
    name: &str,
) -> Result<TimeZone, AdminError> {
    let zone = known_time_zone(name)?;
    users::set_time_zone(conn, user_id, zone.name())?;
    Ok(zone)
}

/// Saves the time zone the person's browser reported, unless they already have one (chosen,
/// or reported by another browser first): a browser abroad does not move their pages.
/// Returns the zone, under its canonical name, and whether it was saved.
pub(crate) fn adopt_browser_time_zone(
    conn: &mut DbConnection,
    user_id: &str,
    name: &str,
) -> Result<(TimeZone, bool), AdminError> {
    let zone = known_time_zone(name)?;
    let saved = users::set_time_zone_if_none(conn, user_id, zone.name())?;
    Ok((zone, saved))
}

/// The zone `name` names in the tz database, or why not.
pub(crate) fn known_time_zone(name: &str) -> Result<TimeZone, AdminError> {
    TimeZone::named(name)
        .ok_or_else(|| AdminError::invalid("time_zone", "not a time zone of the tz database"))
}
