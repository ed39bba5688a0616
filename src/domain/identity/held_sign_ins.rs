//! Sign-ins refused because the account's plan allows no more devices, held while the person
//! signs a device out. The person is not signed in yet, so the held sign-in is what lets them
//! see and sign out their devices: it exists only in the browser that just proved who they are
//! (a random token in a cookie, stored only as its SHA-256), lasts [`HELD_SECS`], finishes once,
//! and is forgotten when the password changes.

use crate::domain::core::Core;
use crate::domain::identity::account;
use crate::domain::identity::devices::{self, DeviceLimitReached};
use crate::domain::identity::session::{self, Started};
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::held_sign_ins::{self as store, HeldSignIn};
use crate::foundation::store::sessions;
use crate::foundation::store::transaction;
use crate::foundation::store::users::{self, User};
use crate::foundation::store::{DbConnection, StoreError};

/// How long a refused sign-in waits for a device to be signed out.
pub(crate) const HELD_SECS: i64 = 600;

/// Holds the sign-in of `user_id`, who proved who they are by `amr` and was going to
/// `continue_to`; returns the token for the browser's cookie.
pub(crate) fn hold(
    conn: &mut DbConnection,
    user_id: &str,
    amr: &[String],
    continue_to: &str,
    now: i64,
) -> Result<String, StoreError> {
    let token = random::token::<32>();
    store::insert(
        conn,
        &HeldSignIn {
            id_hash: hashing::sha256_hex(token.as_bytes()),
            user_id: user_id.to_owned(),
            amr: amr.to_vec(),
            continue_to: continue_to.to_owned(),
            created_at: now,
            expires_at: now + HELD_SECS,
        },
    )?;
    Ok(token)
}

/// The live held sign-in behind `token`, with its person (still allowed to sign in).
fn find(conn: &mut DbConnection, token: &str, now: i64) -> Result<Option<(HeldSignIn, User)>, StoreError> {
    let Some(held) = store::find_live(conn, &hashing::sha256_hex(token.as_bytes()), now)? else {
        return Ok(None);
    };
    let user = users::find_by_id(conn, &held.user_id)?.filter(User::is_enabled);
    Ok(user.map(|user| (held, user)))
}

/// What the refusal page shows for the held sign-in behind `token`: the limit and the devices
/// signed in, this browser's own session (`replacing`, its token, as for [`session::start`])
/// left out. `None` when there is no such sign-in (expired, finished, or never held); the limit
/// is `None` when there is room now.
pub(crate) fn limit(
    conn: &mut DbConnection,
    token: &str,
    replacing: Option<&str>,
    now: i64,
) -> Result<Option<Option<DeviceLimitReached>>, StoreError> {
    let Some((held, _)) = find(conn, token, now)? else {
        return Ok(None);
    };
    let replaced_sid = match replacing {
        Some(replacing) => sessions::find_live(conn, &hashing::sha256_hex(replacing.as_bytes()), now)?
            .filter(|session| session.user_id == held.user_id)
            .map(|session| session.sid),
        None => None,
    };
    Ok(Some(
        devices::may_sign_in(conn, &held.user_id, replaced_sid.as_deref(), now)?.err(),
    ))
}

/// How finishing a held sign-in went.
#[derive(Debug)]
pub(crate) enum Finished {
    /// The token of the new session, for the browser, and where the person was going.
    SignedIn { token: String, continue_to: String },
    /// Still no room: the device was not theirs, or was signed out already.
    StillFull(DeviceLimitReached),
    /// No held sign-in: expired, finished in another tab, or never held.
    Gone,
}

/// Signs out the person's device `sid` (ignored when it is not theirs) and tries the held
/// sign-in behind `token` again; with no `sid`, only tries again (a device may have been
/// signed out elsewhere). One transaction: the slot freed is the one taken, and the held
/// sign-in finishes once. `replacing` is this browser's session token, as for
/// [`session::start`].
pub(crate) fn sign_out_and_finish(
    state: &Core,
    conn: &mut DbConnection,
    token: &str,
    sid: Option<&str>,
    user_agent: &str,
    replacing: Option<&str>,
    now: i64,
) -> Result<Finished, StoreError> {
    let Some((held, user)) = find(conn, token, now)? else {
        return Ok(Finished::Gone);
    };
    transaction(conn, |conn| {
        // Locked first, then looked at again: a second tab finishing the same sign-in waits
        // here and then finds it gone.
        users::lock_for_sign_in(conn, &user.id)?;
        if store::find_live(conn, &held.id_hash, now)?.is_none() {
            return Ok(Finished::Gone);
        }
        if let Some(sid) = sid {
            account::end_session(state, conn, &user.id, sid, now)?;
        }
        match session::start(state, conn, &user, held.amr.clone(), user_agent, replacing, now)? {
            Started::Refused(limit) => Ok(Finished::StillFull(limit)),
            Started::SignedIn { token, .. } => {
                store::delete(conn, &held.id_hash)?;
                Ok(Finished::SignedIn {
                    token,
                    continue_to: held.continue_to,
                })
            }
        }
    })
}
