//! The device authorization grant (RFC 8628): a TV asks for a device code and a short user
//! code, shows the code (or a QR code of the link carrying it), and polls the token endpoint
//! while the person approves on their phone. The device code is stored as its SHA-256; the
//! tokens go out once, to the client that asked.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::domain::core::Core;
use crate::domain::identity::account;
use crate::domain::identity::devices::{self, DeviceLimitReached};
use crate::domain::oauth::client_auth::ClientCredentials;
use crate::domain::oauth::error::{ErrorCode, OAuthError};
use crate::domain::oauth::parameters::Parameters;
use crate::domain::oauth::scopes;
use crate::domain::oauth::token_response::TokenResponse;
use crate::domain::oauth::user_tokens::{self, Authorization};
use crate::domain::profiles;
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::clients::Client;
use crate::foundation::store::devices::{
    self as store, Approval, DEVICE_SID_PREFIX, DeviceAuthorization, NewDeviceAuthorization,
};
use crate::foundation::store::sessions::Session;
use crate::foundation::store::transaction;
use crate::foundation::store::{DbConnection, StoreError, refresh_tokens, users};

pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub(crate) const AUTHORIZATION_PATH: &str = "/oauth/device_authorization";
pub(crate) const VERIFICATION_PATH: &str = "/device";
pub(crate) const QR_PATH: &str = "/device/qr";

/// RFC 8628 §6.1: consonants only, so no word can be spelled, and none of the letters that
/// look alike (no vowels means no O/0 or I/1 either). 20^8 codes: about 34 bits.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LENGTH: usize = 8;
/// How much longer a device that polls too fast must wait (RFC 8628 §3.5).
const SLOW_DOWN_SECS: i64 = 5;

/// A new user code, 8 characters of [`ALPHABET`], drawn without bias.
pub(crate) fn new_user_code() -> String {
    let mut code = String::with_capacity(USER_CODE_LENGTH);
    while code.len() < USER_CODE_LENGTH {
        for byte in random::bytes::<16>() {
            // 240 is the largest multiple of 20 below 256: the rest would favour some letters.
            if byte < 240 && code.len() < USER_CODE_LENGTH {
                code.push(char::from(ALPHABET[usize::from(byte % 20)]));
            }
        }
    }
    code
}

/// A user code as people type it: any case, with or without the dash or spaces. None when it
/// cannot be one.
pub(crate) fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|character| !matches!(character, '-' | ' ' | '\u{2010}'..='\u{2015}'))
        .map(|character| character.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LENGTH && code.bytes().all(|byte| ALPHABET.contains(&byte))).then_some(code)
}

/// `BCDFGHJK` as people read it: `BCDF-GHJK`.
pub(crate) fn display_user_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(head), Some(tail)) => format!("{head}-{tail}"),
        _ => code.to_owned(),
    }
}

/// RFC 8628 §3.2 device authorization response.
#[derive(Debug, Serialize)]
pub(crate) struct DeviceAuthorizationResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// The link the QR code and `verification_uri_complete` carry.
pub(crate) fn verification_uri_complete(issuer: &str, user_code: &str) -> String {
    format!(
        "{issuer}{VERIFICATION_PATH}?user_code={}",
        display_user_code(user_code)
    )
}

/// The scopes a device may ask for: those a person can grant and the client may have; the
/// client's user scopes when it names none.
fn device_scope(client: &Client, requested: Option<&str>) -> Result<String, OAuthError> {
    let requested = match requested {
        Some(requested) => scopes::parse(requested)?,
        None => client
            .scopes
            .iter()
            .filter(|scope| scopes::USER_SCOPES.contains(&scope.as_str()))
            .cloned()
            .collect(),
    };
    if let Some(refused) = requested
        .iter()
        .find(|scope| !scopes::USER_SCOPES.contains(&scope.as_str()) || !client.allows_scope(scope))
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope {refused} is not available to this client"),
        ));
    }
    Ok(requested.join(" "))
}

/// Records a new device authorization for `client`; draws user codes until one is free.
pub(crate) fn start(
    state: &Core,
    conn: &mut DbConnection,
    client: &Client,
    scope: String,
    now: i64,
) -> Result<DeviceAuthorizationResponse, StoreError> {
    let device_code = random::token::<32>();
    let device_code_hash = hashing::sha256_hex(device_code.as_bytes());
    loop {
        let user_code = new_user_code();
        let request = NewDeviceAuthorization {
            device_code_hash: &device_code_hash,
            user_code: &user_code,
            client_id: &client.client_id,
            scope: &scope,
            expires_at: now + state.config.device_code_ttl_secs,
            poll_interval: state.config.device_poll_interval_secs,
        };
        if store::insert(conn, &request, now)? {
            return Ok(DeviceAuthorizationResponse {
                device_code,
                verification_uri: format!("{}{VERIFICATION_PATH}", state.issuer),
                verification_uri_complete: verification_uri_complete(&state.issuer, &user_code),
                user_code: display_user_code(&user_code),
                expires_in: state.config.device_code_ttl_secs,
                interval: state.config.device_poll_interval_secs,
            });
        }
    }
}

/// The client presenting `credentials`, when it may use the device grant.
async fn device_client(state: &Core, credentials: &ClientCredentials<'_>) -> Result<Arc<Client>, OAuthError> {
    let client = state.clients.any(&state.store, credentials).await?;
    if !client.allows_grant(GRANT_TYPE) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the device authorization grant",
        ));
    }
    Ok(client)
}

/// A device authorization request (RFC 8628 §3.1) from the client presenting `credentials`.
/// Devices ask from `client_ip`; each address gets `device_authorizations_per_ip` requests
/// per `device_code_ttl_secs`, so none can fill the database with pending requests.
pub(crate) async fn authorize(
    state: &Arc<Core>,
    credentials: &ClientCredentials<'_>,
    form: &impl Parameters,
    client_ip: &str,
) -> Result<DeviceAuthorizationResponse, OAuthError> {
    let now = state.clock.now();
    let client = device_client(state, credentials).await?;
    let ip_key = format!("device-authorization:{client_ip}");
    let limit = state.config.device_authorizations_per_ip;
    let counted = state
        .device_authorization_throttle
        .count_attempt(&state.store, &ip_key, limit, now)
        .await?;
    if let Some(wait) = counted {
        return Err(OAuthError {
            retry_after_secs: Some(wait),
            ..OAuthError::new(
                ErrorCode::TooManyRequests,
                "too many device authorization requests from this network; wait and try again",
            )
        });
    }
    let scope = device_scope(&client, form.get("scope"))?;
    let worker_state = Arc::clone(state);
    Ok(state
        .store
        .run(move |conn| start(&worker_state, conn, &client, scope, worker_state.clock.now()))
        .await?)
}

/// The token endpoint's answer to a device polling (RFC 8628 §3.4, §3.5).
pub(crate) async fn grant(
    state: &Arc<Core>,
    credentials: &ClientCredentials<'_>,
    form: &impl Parameters,
) -> Result<TokenResponse, OAuthError> {
    let client = device_client(state, credentials).await?;
    let device_code_hash = hashing::sha256_hex(form.require("device_code")?.as_bytes());
    let worker_state = Arc::clone(state);
    let planned = state
        .store
        .run(move |conn| poll(&worker_state, conn, &client, &device_code_hash))
        .await??;
    Ok(planned.issue(state)?)
}

fn poll(
    state: &Core,
    conn: &mut DbConnection,
    client: &Client,
    device_code_hash: &str,
) -> Result<Result<user_tokens::Planned, OAuthError>, StoreError> {
    let now = state.clock.now();
    let refuse = |code, description: &'static str| Ok(Err(OAuthError::new(code, description)));
    let Some(request) = store::find_by_device_code(conn, device_code_hash)?
        .filter(|request| request.client_id == client.client_id)
    else {
        return refuse(ErrorCode::InvalidGrant, "unknown device_code");
    };
    if request.status == store::ISSUED {
        return refuse(ErrorCode::InvalidGrant, "the device_code was already used");
    }
    if request.expires_at <= now {
        return refuse(
            ErrorCode::ExpiredToken,
            "the device_code has expired: start again",
        );
    }
    // A second of slack: a device keeping the interval may land a tick early on our clock.
    let too_soon = request
        .last_polled_at
        .is_some_and(|last| now - last + 1 < request.poll_interval);
    if too_soon {
        store::record_poll(
            conn,
            device_code_hash,
            request.poll_interval + SLOW_DOWN_SECS,
            now,
        )?;
        return refuse(
            ErrorCode::SlowDown,
            "polling too fast: wait 5 seconds longer between requests",
        );
    }
    match request.status.as_str() {
        store::APPROVED => issue(state, conn, client, request, now),
        store::DENIED => refuse(ErrorCode::AccessDenied, "the person denied the request"),
        _ => {
            store::record_poll(conn, device_code_hash, request.poll_interval, now)?;
            refuse(
                ErrorCode::AuthorizationPending,
                "waiting for the person to approve",
            )
        }
    }
}

/// Spends the approval and plans the tokens, in one transaction that starts by spending it:
/// two polls racing get the tokens once.
fn issue(
    state: &Core,
    conn: &mut DbConnection,
    client: &Client,
    request: DeviceAuthorization,
    now: i64,
) -> Result<Result<user_tokens::Planned, OAuthError>, StoreError> {
    transaction(conn, |conn| {
        // Admitted again as it gets its tokens, the person's sign-ins locked first: another
        // device may have taken the last free slot since the approval.
        let admitted = match request.user_id.as_deref() {
            Some(user_id) => devices::admit(conn, user_id, None, now)?,
            None => Ok(()),
        };
        if !store::mark_issued(conn, &request.device_code_hash)? {
            return Ok(Err(OAuthError::invalid_grant("the device_code was already used")));
        }
        if admitted.is_err() {
            return Ok(Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "the account's plan allows no more devices: sign one out and start again",
            )));
        }
        let user = request
            .user_id
            .as_deref()
            .map(|user_id| users::find_by_id(conn, user_id))
            .transpose()?
            .flatten()
            .filter(users::User::is_enabled);
        let Some(user) = user else {
            return Ok(Err(OAuthError::invalid_grant(
                "the account that approved is gone",
            )));
        };
        let Ok(profile) = profiles::carried(conn, &user.id, request.profile_id.as_deref())? else {
            return Ok(Err(OAuthError::invalid_grant(
                "the profile chosen for this device was deleted",
            )));
        };
        let authorization = Authorization {
            user,
            sid: format!("{DEVICE_SID_PREFIX}{}", random::token::<16>()),
            access_scope: request.scope.clone(),
            scope: request.scope,
            auth_time: request.auth_time.unwrap_or(now),
            amr: request.amr,
            nonce: None,
            code_hash: request.device_code_hash,
            family_id: None,
            refresh_token: None,
            profile,
        };
        let planned = user_tokens::plan(state, conn, client, &authorization, now)?;
        if let Some((_, row)) = &planned.refresh {
            refresh_tokens::insert(conn, row)?;
        }
        Ok(Ok(planned))
    })
}

/// How the person's answer to a pending request went.
#[derive(Debug)]
pub(crate) enum Decided {
    /// Recorded: the device gets its tokens (or its refusal) at its next poll.
    Answered,
    /// The request was no longer pending: answered in another tab, or expired.
    NotPending,
    /// Allowing it would sign in more devices than the person's plan allows: nothing changed.
    Refused(DeviceLimitReached),
}

/// Records the answer of the person signed in with `session` to the pending request
/// `user_code`, with the profile they chose for the device (already unlocked). Allowing it
/// signs in a new device, so the person's plan must have room for it ([`devices::admit`]).
pub(crate) fn decide(
    conn: &mut DbConnection,
    user_code: &str,
    session: &Session,
    allowed: bool,
    profile_id: Option<&str>,
    now: i64,
) -> Result<Decided, StoreError> {
    let answered = |recorded: bool| {
        if recorded {
            Decided::Answered
        } else {
            Decided::NotPending
        }
    };
    if !allowed {
        return Ok(answered(store::decide(conn, user_code, None, now)?));
    }
    transaction(conn, |conn| {
        if let Err(limit) = devices::admit(conn, &session.user_id, None, now)? {
            return Ok(Decided::Refused(limit));
        }
        let approval = Approval {
            user_id: &session.user_id,
            auth_time: session.auth_time,
            amr: &session.amr,
            profile_id,
        };
        Ok(answered(store::decide(conn, user_code, Some(approval), now)?))
    })
}

/// Signs out the device `sid` of the person signed in with `session` (ignored when it is not
/// theirs; it may be the phone answering).
pub(crate) fn sign_out_device(
    state: &Core,
    conn: &mut DbConnection,
    session: &Session,
    sid: &str,
    now: i64,
) -> Result<(), StoreError> {
    transaction(conn, |conn| {
        crate::foundation::store::users::lock_for_sign_in(conn, &session.user_id)?;
        account::end_session(state, conn, &session.user_id, sid, now)?;
        Ok(())
    })
}

/// Signs out the device `sid` ([`sign_out_device`]) and allows the pending request
/// `user_code` in its place, for `profile_id`, in one transaction: the slot freed is the one
/// taken.
pub(crate) fn sign_out_and_allow(
    state: &Core,
    conn: &mut DbConnection,
    user_code: &str,
    session: &Session,
    sid: &str,
    profile_id: Option<&str>,
    now: i64,
) -> Result<Decided, StoreError> {
    transaction(conn, |conn| {
        sign_out_device(state, conn, session, sid, now)?;
        decide(conn, user_code, session, true, profile_id, now)
    })
}

/// How looking up a typed user code went.
pub(crate) enum Lookup {
    Found(PendingRequest),
    /// Malformed, unknown, expired or already answered: all look the same.
    Wrong,
    /// This account or this address typed too many wrong codes lately.
    Throttled,
}

/// The count of wrong codes from everyone together.
const WRONG_CODES_EVERYWHERE: &str = "device-code-wrong:everywhere";
/// How long every lookup waits while wrong codes from everyone together are beyond
/// `device_code_failures_global`: guessing spread over many accounts and addresses is slowed,
/// and nobody's right code is refused for it. Right codes wait too, or an answer cut short
/// would tell a guesser it was wrong.
const SLOWDOWN_WHEN_GUESSED_EVERYWHERE: Duration = Duration::from_secs(1);

/// The pending request behind the code `user_id` typed from `client_ip`. Wrong codes count
/// against the account and the address, each with its own limit (a right code is taken
/// back), so one account or one network guessing blocks only itself.
pub(crate) async fn look_up(
    state: &Core,
    user_id: &str,
    client_ip: &str,
    typed: &str,
) -> Result<Lookup, StoreError> {
    let now = state.clock.now();
    let (limits, store, config) = (&state.login_throttle, &state.store, &state.config);
    let account_key = format!("device-code-wrong:account:{user_id}");
    let ip_key = format!("device-code-wrong:ip:{client_ip}");
    let account_wait = limits
        .count_attempt(store, &account_key, config.device_code_failures_per_account, now)
        .await?;
    let ip_wait = limits
        .count_attempt(store, &ip_key, config.device_code_failures_per_ip, now)
        .await?;
    if account_wait.or(ip_wait).is_some() {
        return Ok(Lookup::Throttled);
    }
    let wrong_everywhere = limits.counted(store, WRONG_CODES_EVERYWHERE, now).await?;
    if wrong_everywhere > i64::from(config.device_code_failures_global) {
        tokio::time::sleep(SLOWDOWN_WHEN_GUESSED_EVERYWHERE).await;
    }
    let found = match normalize_user_code(typed) {
        Some(user_code) => store.run(move |conn| pending(conn, &user_code, now)).await?,
        None => None,
    };
    let Some(found) = found else {
        let counted = limits.count(store, WRONG_CODES_EVERYWHERE, now).await?;
        if counted.count == i64::from(config.device_code_failures_global) + 1 {
            tracing::warn!(
                limit = config.device_code_failures_global,
                "wrong device user codes from everyone together passed their limit: code lookups are slowed"
            );
        }
        return Ok(Lookup::Wrong);
    };
    limits.take_back(store, &account_key, now).await?;
    limits.take_back(store, &ip_key, now).await?;
    Ok(Lookup::Found(found))
}

/// A pending request as the verification page shows it.
#[derive(Clone, Debug)]
pub(crate) struct PendingRequest {
    pub user_code: String,
    pub client_name: String,
    /// The app's logo, for apps the platform runs or vouches for.
    pub client_logo: Option<String>,
    pub scopes: Vec<String>,
}

/// The live, pending request behind a typed user code.
pub(crate) fn pending(
    conn: &mut DbConnection,
    user_code: &str,
    now: i64,
) -> Result<Option<PendingRequest>, StoreError> {
    let Some(request) = store::find_pending_by_user_code(conn, user_code, now)? else {
        return Ok(None);
    };
    let Some(client) = crate::foundation::store::clients::find(conn, &request.client_id)?
        .filter(|client| client.is_enabled())
    else {
        return Ok(None);
    };
    Ok(Some(PendingRequest {
        user_code: request.user_code,
        client_logo: client.trusted_logo().map(str::to_owned),
        client_name: client.name,
        scopes: request
            .scope
            .split(' ')
            .filter(|scope| !scope.is_empty())
            .map(str::to_owned)
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_consonants_without_look_alikes() {
        for _ in 0..200 {
            let code = new_user_code();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|byte| ALPHABET.contains(&byte)));
            assert!(!code.contains(['A', 'E', 'I', 'O', 'U', 'Y', '0', '1']));
        }
    }

    #[test]
    fn typed_codes_forgive_case_and_a_missing_or_extra_dash() {
        assert_eq!(normalize_user_code("bcdf-ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize_user_code("BCDFGHJK").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize_user_code(" bcdf ghjk ").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
        assert_eq!(normalize_user_code("BCDF-GHJA"), None, "no vowels");
        assert_eq!(normalize_user_code("BCDF-GHJK-L"), None);
        assert_eq!(display_user_code("BCDFGHJK"), "BCDF-GHJK");
    }
}
