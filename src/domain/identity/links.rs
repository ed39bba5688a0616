//! Emailed sign-in links ("magic links"): the way in without a password, and the answer to a
//! forgotten one. A link carries 256 random bits, is stored only as its SHA-256, works once
//! and for `sign_in_link_ttl_secs`. Asking for one answers the same whether or not the
//! address has an account; mail goes out only to addresses that have one (or may create one
//! when self-service sign-up is on).

use crate::domain::AdminError;
use crate::domain::core::Core;
use crate::domain::households::{self, Joining};
use crate::domain::identity::throttle;
use crate::domain::identity::users::{self as admin_users, NewUser};
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::links::{self as store, SignInLink};
use crate::foundation::store::transaction;
use crate::foundation::store::users::{self, User};
use crate::foundation::store::{DbConnection, StoreError};

/// Where a link leads: a page with a button, so a mail scanner that fetches links does not
/// spend them.
pub(crate) const CONTINUE_PATH: &str = "/login/link/continue";

/// Counts a request for a link to `email` from `client_ip`, before anything is looked up (the
/// answer must not depend on whether the address has an account); the seconds to wait when it
/// is over a limit. Each address has its own allowance per requesting network: one network
/// asking again and again for someone's links uses up only its own, and the owner, from
/// theirs, still gets a link. Each client address has an allowance over all addresses.
pub(crate) async fn count_request(
    state: &Core,
    email: &str,
    client_ip: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let (limits, store, config) = (&state.link_throttle, &state.store, &state.config);
    let ip_key = format!("link-request:ip:{client_ip}");
    let address_key = format!(
        "{}:{}",
        throttle::address_key("link-request:address", email),
        throttle::network_of(client_ip)
    );
    let ip_wait = limits
        .count_attempt(store, &ip_key, config.sign_in_links_per_ip, now)
        .await?;
    let address_wait = limits
        .count_attempt(store, &address_key, config.sign_in_links_per_address, now)
        .await?;
    Ok(ip_wait.max(address_wait))
}

/// A link to mail.
#[derive(Debug)]
pub struct NewLink {
    pub email: String,
    pub url: String,
    /// Using the link will create the account.
    pub creates_account: bool,
    /// The language saved on the account, which the mail speaks.
    pub saved_locale: Option<String>,
}

/// Decides whether `email` gets a link and records it; None when no mail goes out (no such
/// account and no sign-up, or a disabled account). The request was counted already
/// ([`count_request`]).
pub fn issue(
    state: &Core,
    conn: &mut DbConnection,
    email: &str,
    carried: &str,
    now: i64,
) -> Result<Option<NewLink>, StoreError> {
    let user = users::find_by_email(conn, email)?;
    let saved_locale = user.as_ref().and_then(|user| user.locale.clone());
    let user_id = match &user {
        Some(user) if user.is_enabled() => Some(user.id.clone()),
        Some(_) => return Ok(None),
        None if state.config.allow_signup => None,
        None => return Ok(None),
    };
    let token = random::token::<32>();
    store::insert_link(
        conn,
        &SignInLink {
            token_hash: hashing::sha256_hex(token.as_bytes()),
            email: email.to_owned(),
            user_id: user_id.clone(),
            carried_request: carried.to_owned(),
            created_at: now,
            expires_at: now + state.config.sign_in_link_ttl_secs,
            used_at: None,
        },
    )?;
    Ok(Some(NewLink {
        email: email.to_owned(),
        url: format!("{}{CONTINUE_PATH}?token={token}", state.issuer),
        creates_account: user_id.is_none(),
        saved_locale,
    }))
}

fn token_hash(token: &str) -> Option<String> {
    random::is_base64url_of_32_bytes(token).then(|| hashing::sha256_hex(token.as_bytes()))
}

/// Whether `token` is a link that still works (the confirmation page), and for which address.
pub(crate) fn live_email(
    conn: &mut DbConnection,
    token: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let Some(hash) = token_hash(token) else {
        return Ok(None);
    };
    Ok(store::find_live_link(conn, &hash, now)?.map(|link| link.email))
}

/// The person a used link signs in, and the request it was asked for from.
#[derive(Debug)]
pub(crate) struct LinkSignIn {
    pub user: User,
    pub carried: String,
    /// For the link of a household invitation: whether the person joined.
    pub household: Option<Joining>,
}

/// Spends the link and returns who it signs in; None when it is used up, expired or unknown.
/// A sign-up link creates the account with its email verified; if the address got an
/// account meanwhile, the link signs in to that one (it proves the same thing). One
/// transaction, spending first: two clicks racing sign in once.
/// A sign-up link stops working when sign-up is turned off (`allow_signup`), except the link
/// of a household invitation: the holder's plan vouches for the new account. That link also
/// makes the person a member of the household, when the rules still allow it.
pub(crate) fn spend(
    conn: &mut DbConnection,
    token: &str,
    allow_signup: bool,
    now: i64,
) -> Result<Option<LinkSignIn>, StoreError> {
    let Some(hash) = token_hash(token) else {
        return Ok(None);
    };
    transaction(conn, |conn| {
        let Some(link) = store::use_link(conn, &hash, now)? else {
            return Ok(None);
        };
        let invitation = households::take_invitation(conn, &hash)?;
        let may_sign_up = allow_signup || invitation.is_some();
        let user = match users::find_by_email(conn, &link.email)? {
            Some(user) => user,
            None if link.user_id.is_none() && may_sign_up => match create_account(conn, &link.email, now)? {
                Some(user) => user,
                // Created by another request a moment ago: this link is spent; the next works.
                None => return Ok(None),
            },
            None => return Ok(None),
        };
        if !user.is_enabled() || link.user_id.as_ref().is_some_and(|id| *id != user.id) {
            return Ok(None);
        }
        users::mark_email_verified(conn, &user.id)?;
        let household = invitation
            .map(|invitation| households::accept(conn, &invitation, &user, now))
            .transpose()?;
        Ok(Some(LinkSignIn {
            user: User {
                email_verified: true,
                ..user
            },
            carried: link.carried_request,
            household,
        }))
    })
}

/// The account a sign-up link creates; None when the address was taken meanwhile.
fn create_account(conn: &mut DbConnection, email: &str, now: i64) -> Result<Option<User>, StoreError> {
    let prepared = admin_users::prepare(NewUser {
        email: email.to_owned(),
        name: None,
        password: None,
        admin: false,
    })
    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    match admin_users::insert(conn, prepared, now) {
        Ok(user) => Ok(Some(user)),
        Err(AdminError::Conflict(_)) => Ok(None),
        Err(AdminError::Store(error)) => Err(error),
        Err(other) => Err(StoreError::Corrupt(other.to_string())),
    }
}
