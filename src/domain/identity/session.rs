//! Browser sessions (SSO): a random token the browser keeps (in a cookie, see
//! `web::session_cookie`), stored only as its SHA-256 in the database so any instance can
//! serve the person. Idle and absolute lifetimes end it.

use std::sync::Arc;

use crate::domain::core::{Core, LocalViews};
use crate::domain::identity::devices::{self, DeviceLimitReached};
use crate::domain::streams;
use crate::domain::tokens::revocation::revoke_access_tokens;
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::sessions::{self, Session};
use crate::foundation::store::transaction;
use crate::foundation::store::users::{self, User};
use crate::foundation::store::{DbConnection, StoreError, issued_tokens, refresh_tokens};

/// A session is written back at most this often when used, not on every page.
const TOUCH_EVERY_SECS: i64 = 60;

/// The person behind a request's session cookie.
#[derive(Clone, Debug)]
pub(crate) struct SignedIn {
    pub session: Session,
    pub user: User,
}

/// The person whose live session `token` names, if any; a session in use is marked seen.
pub(crate) async fn resolve(core: &Arc<Core>, token: &str) -> Result<Option<SignedIn>, StoreError> {
    let id_hash = hashing::sha256_hex(token.as_bytes());
    let state = Arc::clone(core);
    core.store
        .run(move |conn| {
            let now = state.clock.now();
            let Some(session) = sessions::find_live(conn, &id_hash, now)? else {
                return Ok(None);
            };
            if session.last_seen_at + state.config.session_idle_secs <= now {
                return Ok(None);
            }
            let Some(user) = users::find_by_id(conn, &session.user_id)?.filter(User::is_enabled) else {
                return Ok(None);
            };
            if session.last_seen_at + TOUCH_EVERY_SECS <= now {
                sessions::touch(conn, &id_hash, now)?;
            }
            Ok(Some(SignedIn { session, user }))
        })
        .await
}

/// How starting a session went.
#[derive(Debug)]
pub enum Started {
    /// The session, with the token the browser is to keep.
    SignedIn { session: Session, token: String },
    /// The person's plan allows no more devices: nothing changed.
    Refused(DeviceLimitReached),
}

/// Starts a session for `user`, who just proved who they are by `amr`, unless their plan
/// allows no more devices ([`devices::admit`]). The browser's previous session (`replacing`,
/// its token) ends: every sign-in gets a new token, so a token planted before sign-in is worth
/// nothing after it. When the previous session was the same person's, this browser is not a
/// new device; when it was someone else's, the apps signed in through it are signed out as
/// well.
pub fn start(
    state: &Core,
    conn: &mut DbConnection,
    user: &User,
    amr: Vec<String>,
    user_agent: &str,
    replacing: Option<&str>,
    now: i64,
) -> Result<Started, StoreError> {
    let previous = match replacing {
        Some(token) => sessions::find_live(conn, &hashing::sha256_hex(token.as_bytes()), now)?,
        None => None,
    };
    let replaced_sid = previous
        .as_ref()
        .filter(|previous| previous.user_id == user.id)
        .map(|previous| previous.sid.clone());
    let token = random::token::<32>();
    let session = Session {
        id_hash: hashing::sha256_hex(token.as_bytes()),
        sid: random::token::<16>(),
        user_id: user.id.clone(),
        auth_time: now,
        amr,
        created_at: now,
        last_seen_at: now,
        expires_at: now + state.config.session_max_secs,
        user_agent: user_agent.chars().take(200).collect(),
    };
    // Read before, write inside: a SQLite transaction that starts with a write (admitting
    // the device locks the person's sign-ins) takes the write lock at once instead of failing
    // to upgrade a stale read.
    transaction(conn, |conn| {
        if let Err(limit) = devices::admit(conn, &user.id, replaced_sid.as_deref(), now)? {
            return Ok(Started::Refused(limit));
        }
        sessions::insert(conn, &session)?;
        match previous {
            Some(previous) if previous.user_id == user.id => {
                // The same person again: the apps signed in through the old session carry
                // on under the new one, so signing out later reaches them.
                sessions::end(conn, &previous.sid, now)?;
                refresh_tokens::move_to_session(conn, &previous.sid, &session.sid)?;
            }
            Some(previous) => end(state, conn, &[previous.sid], now)?,
            None => {}
        }
        Ok::<_, StoreError>(Started::SignedIn { session, token })
    })
}

/// Ends sessions and revokes every refresh token issued in them, and the access tokens that
/// came with those, here and (through the change feed) on every instance. One transaction:
/// a session never ends with its tokens still live.
pub(crate) fn end(
    state: &Core,
    conn: &mut DbConnection,
    sids: &[String],
    now: i64,
) -> Result<(), StoreError> {
    transaction(conn, |conn| {
        for sid in sids {
            sessions::end(conn, sid, now)?;
            let mut issued = refresh_tokens::revoke_for_session(conn, sid, now)?;
            issued.extend(issued_tokens::live_for_session(conn, sid, now)?);
            revoke_access_tokens(&state.revoked, conn, issued, now)?;
        }
        Ok(())
    })
}

/// Ends every session of the person, revokes the tokens issued in them and ends the streams
/// they watch. Sessions that expired without being ended are included: refresh tokens can
/// outlive their session.
pub(crate) fn end_all(
    views: LocalViews<'_>,
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    transaction(conn, |conn| {
        sessions::end_all_for_user(conn, user_id, now)?;
        streams::end_all_of(conn, views.streams, user_id)?;
        // Every app signed in through any session, ended ones included: a session replaced
        // by a later sign-in leaves its apps' tokens behind.
        let mut issued = refresh_tokens::revoke_for_user(conn, user_id, now)?;
        issued.extend(issued_tokens::live_for_user(conn, user_id, now)?);
        revoke_access_tokens(views.revoked, conn, issued, now)
    })
}
