//! TOTP (RFC 6238) as a second factor for password sign-in, and the recovery codes that
//! stand in for a lost authenticator.
//!
//! Codes are 6 digits, 30-second steps, HMAC-SHA1: what every authenticator app does. A code
//! is accepted one step either side of now (clocks drift), and only for a step later than the
//! last one accepted, so a code seen over a shoulder or replayed from a log is worth nothing.

use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Builder, Secret, Totp};

use crate::domain::core::Core;
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::entitlements::audit_self;
use crate::foundation::store::totp::{self as store, LoginChallenge, TotpCredential};
use crate::foundation::store::transaction;
use crate::foundation::store::users::{self, User};
use crate::foundation::store::{DbConnection, StoreError};

const ISSUER: &str = "Usher";
const STEP_SECS: i64 = 30;
pub(crate) const RECOVERY_CODES: usize = 10;
/// How long a sign-in waits for its code.
pub(crate) const CHALLENGE_SECS: i64 = 300;
/// Wrong codes one challenge takes before it ends; the per-account throttle covers retries.
pub(crate) const CHALLENGE_ATTEMPTS: i32 = 5;

/// A new 160-bit secret (RFC 4226 section 4 recommends 160 bits).
pub(crate) fn new_secret() -> [u8; 20] {
    random::bytes::<20>()
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, StoreError> {
    Builder::new()
        .with_secret(Secret::from(secret.to_vec()))
        // Steps are tried one by one below, to know which one matched.
        .with_skew(0)
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|error| StoreError::Corrupt(format!("TOTP credential: {error}")))
}

/// The secret in base32, in groups of four, for typing into an app by hand.
pub(crate) fn secret_text(secret: &[u8]) -> String {
    let encoded = Secret::from(secret.to_vec()).to_base32();
    encoded
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `otpauth://` URI an authenticator app scans.
pub(crate) fn otpauth_uri(secret: &[u8], email: &str) -> Result<String, StoreError> {
    totp(secret, email)?
        .to_url()
        .map_err(|error| StoreError::Corrupt(format!("TOTP URI: {error}")))
}

/// `uri` as an inline SVG QR code (no image request, no script); `label` is what a screen
/// reader says.
pub(crate) fn qr_svg(uri: &str, label: &str) -> Result<String, StoreError> {
    let code =
        QrCode::new(uri.as_bytes()).map_err(|error| StoreError::Corrupt(format!("QR code: {error}")))?;
    let rendered = code.render::<svg::Color<'_>>().min_dimensions(200, 200).build();
    // The XML declaration has no place inside HTML.
    let svg_start = rendered.find("<svg").unwrap_or(0);
    let label = label.replace(['"', '<', '>', '&'], "");
    Ok(rendered.get(svg_start..).unwrap_or_default().replacen(
        "<svg ",
        &format!(r#"<svg role="img" aria-label="{label}" "#),
        1,
    ))
}

/// The step a 6-digit `code` belongs to, among the steps around `now`.
pub(crate) fn matching_step(secret: &[u8], code: &str, now: i64) -> Result<Option<i64>, StoreError> {
    if code.len() != 6 || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = totp(secret, "")?;
    let current = now.div_euclid(STEP_SECS);
    Ok((current - 1..=current + 1)
        .find(|step| u64::try_from(step * STEP_SECS).is_ok_and(|time| totp.check(code, time).is_some())))
}

/// What people type: spaces and dashes are kept out, case does not matter.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn recovery_hash(code: &str) -> String {
    hashing::sha256_hex(normalize(code).as_bytes())
}

/// Ten new recovery codes like `k3m7-x2pq`: 40 random bits each in RFC 4648 base32, which
/// has no 0, 1, 8 or 9 to confuse with letters.
pub(crate) fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..RECOVERY_CODES)
        .map(|_| {
            let bytes = random::bytes::<8>();
            let chars: String = bytes
                .iter()
                .map(|byte| char::from(ALPHABET[usize::from(byte & 31)]))
                .collect();
            format!(
                "{}-{}",
                chars.get(..4).unwrap_or_default(),
                chars.get(4..).unwrap_or_default()
            )
        })
        .collect()
}

fn kid(user_id: &str) -> String {
    format!("totp:{user_id}")
}

fn unseal(state: &Core, credential: &TotpCredential) -> Result<Vec<u8>, StoreError> {
    state
        .master_key
        .unseal(&kid(&credential.user_id), &credential.sealed_secret)
        .map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// Whether the person signs in with a second factor, and since when.
pub(crate) fn enabled_since(conn: &mut DbConnection, user_id: &str) -> Result<Option<i64>, StoreError> {
    Ok(store::find(conn, user_id)?.and_then(|credential| credential.confirmed_at))
}

/// Starts enrolment with a new secret; false when TOTP is already on.
pub(crate) fn begin_enrolment(
    state: &Core,
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let sealed = state
        .master_key
        .seal(&kid(user_id), &new_secret())
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    store::start(
        conn,
        &TotpCredential {
            user_id: user_id.to_owned(),
            sealed_secret: sealed,
            confirmed_at: None,
            last_used_step: 0,
            created_at: now,
        },
    )
}

/// What the setup page shows: the secret as text and as a QR code.
pub(crate) struct Enrolment {
    pub secret_text: String,
    pub qr_svg: String,
}

/// The enrolment in progress, if any.
pub(crate) fn enrolment(
    state: &Core,
    conn: &mut DbConnection,
    user: &User,
) -> Result<Option<Enrolment>, StoreError> {
    let Some(credential) = store::find(conn, &user.id)?.filter(|found| found.confirmed_at.is_none()) else {
        return Ok(None);
    };
    let secret = unseal(state, &credential)?;
    Ok(Some(Enrolment {
        secret_text: secret_text(&secret),
        qr_svg: qr_svg(
            &otpauth_uri(&secret, &user.email)?,
            "QR code for your authenticator app",
        )?,
    }))
}

/// Turns TOTP on when `code` comes from the enrolment's secret; returns the recovery codes,
/// shown once and stored only as hashes.
pub(crate) fn confirm_enrolment(
    state: &Core,
    conn: &mut DbConnection,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<Option<Vec<String>>, StoreError> {
    let Some(credential) = store::find(conn, user_id)?.filter(|found| found.confirmed_at.is_none()) else {
        return Ok(None);
    };
    let Some(step) = matching_step(&unseal(state, &credential)?, &normalize(code), now)? else {
        return Ok(None);
    };
    let codes = new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|code| recovery_hash(code)).collect();
    transaction(conn, |conn| {
        if !store::use_step(conn, user_id, step)? || !store::confirm(conn, user_id, now)? {
            return Ok(None);
        }
        store::replace_recovery_codes(conn, user_id, &hashes, now)?;
        audit_self(conn, user_id, "totp.enable", None, now)?;
        Ok(Some(codes))
    })
}

/// Which second factor a code proved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Factor {
    Totp,
    RecoveryCode,
}

/// Checks a code from the authenticator app or a recovery code, and uses it up.
pub(crate) fn verify(
    state: &Core,
    conn: &mut DbConnection,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<Option<Factor>, StoreError> {
    let Some(credential) = store::find(conn, user_id)?.filter(|found| found.confirmed_at.is_some()) else {
        return Ok(None);
    };
    let code = normalize(code);
    if code.len() == 6 {
        let Some(step) = matching_step(&unseal(state, &credential)?, &code, now)? else {
            return Ok(None);
        };
        return Ok(store::use_step(conn, user_id, step)?.then_some(Factor::Totp));
    }
    transaction(conn, |conn| {
        if !store::use_recovery_code(conn, user_id, &recovery_hash(&code), now)? {
            return Ok(None);
        }
        audit_self(conn, user_id, "recovery_code.use", None, now)?;
        Ok(Some(Factor::RecoveryCode))
    })
}

/// How a change that needs a current code ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CodeChecked<T> {
    Done(T),
    WrongCode,
    /// Too many wrong codes for the account lately: a stolen session cannot guess its way.
    Throttled,
}

fn throttle_key(user_id: &str) -> String {
    format!("totp:{user_id}")
}

/// Runs `change` once `code` proves the person holds the authenticator (or a recovery code);
/// wrong codes count towards the account's limit.
fn with_current_code<T>(
    state: &Core,
    conn: &mut DbConnection,
    user_id: &str,
    code: &str,
    now: i64,
    change: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
) -> Result<CodeChecked<T>, StoreError> {
    let key = throttle_key(user_id);
    let limit = state.config.login_failures_per_account;
    if state
        .login_throttle
        .count_attempt_in(conn, &key, limit, now)?
        .is_some()
    {
        return Ok(CodeChecked::Throttled);
    }
    if verify(state, conn, user_id, code, now)?.is_none() {
        return Ok(CodeChecked::WrongCode);
    }
    state.login_throttle.take_back_in(conn, &key, now)?;
    Ok(CodeChecked::Done(change(conn)?))
}

/// Turns TOTP off when `code` is a current code or an unused recovery code.
pub(crate) fn disable(
    state: &Core,
    conn: &mut DbConnection,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<CodeChecked<()>, StoreError> {
    with_current_code(state, conn, user_id, code, now, |conn| {
        transaction(conn, |conn| {
            store::delete(conn, user_id)?;
            audit_self(conn, user_id, "totp.disable", None, now)
        })
    })
}

/// Replaces the recovery codes with ten new ones when `code` is a current code (or a
/// recovery code): the way to get more without turning two-step sign-in off and on.
pub(crate) fn renew_recovery_codes(
    state: &Core,
    conn: &mut DbConnection,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<CodeChecked<Vec<String>>, StoreError> {
    with_current_code(state, conn, user_id, code, now, |conn| {
        let codes = new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|code| recovery_hash(code)).collect();
        transaction(conn, |conn| {
            store::replace_recovery_codes(conn, user_id, &hashes, now)?;
            audit_self(conn, user_id, "recovery_codes.renew", None, now)?;
            Ok(codes)
        })
    })
}

/// Starts the second step of a sign-in; returns the token for the browser's cookie.
pub(crate) fn start_challenge(
    conn: &mut DbConnection,
    user_id: &str,
    carried: &str,
    first_factor: &str,
    now: i64,
) -> Result<String, StoreError> {
    let token = random::token::<32>();
    store::insert_challenge(
        conn,
        &LoginChallenge {
            id_hash: hashing::sha256_hex(token.as_bytes()),
            user_id: user_id.to_owned(),
            carried_request: carried.to_owned(),
            created_at: now,
            expires_at: now + CHALLENGE_SECS,
            attempts: 0,
            first_factor: first_factor.to_owned(),
        },
    )?;
    Ok(token)
}

/// How the second step of a sign-in ended.
#[derive(Debug)]
pub(crate) enum ChallengeOutcome {
    /// The code was right: sign `User` in and return to the carried request. (Boxed: the
    /// account row is large beside the other outcomes.)
    Passed {
        user: Box<User>,
        carried: String,
        amr: Vec<String>,
        /// A recovery code was used, not the authenticator app: the person is told by mail.
        used_recovery_code: bool,
    },
    /// Wrong code; the person may try again.
    Wrong,
    /// Too many failures for the account: the challenge is over for now.
    Throttled(i64),
    /// No live challenge: expired, used up, or never there. Start again with the password.
    Gone,
}

/// Checks `code` against the challenge behind `token`.
pub(crate) fn answer_challenge(
    state: &Core,
    conn: &mut DbConnection,
    token: &str,
    code: &str,
    now: i64,
) -> Result<ChallengeOutcome, StoreError> {
    let id_hash = hashing::sha256_hex(token.as_bytes());
    let Some(challenge) = store::find_live_challenge(conn, &id_hash, now)? else {
        return Ok(ChallengeOutcome::Gone);
    };
    // Its own key, not the password's: a right password clears that one, and must not
    // give the guesser of codes a fresh allowance.
    let key = throttle_key(&challenge.user_id);
    let limit = state.config.login_failures_per_account;
    if challenge.attempts >= CHALLENGE_ATTEMPTS {
        store::delete_challenge(conn, &id_hash)?;
        return Ok(ChallengeOutcome::Gone);
    }
    if let Some(wait) = state.login_throttle.count_attempt_in(conn, &key, limit, now)? {
        store::delete_challenge(conn, &id_hash)?;
        return Ok(ChallengeOutcome::Throttled(wait));
    }
    let Some(factor) = verify(state, conn, &challenge.user_id, code, now)? else {
        if store::count_failure(conn, &id_hash)? >= CHALLENGE_ATTEMPTS {
            store::delete_challenge(conn, &id_hash)?;
            return Ok(ChallengeOutcome::Gone);
        }
        return Ok(ChallengeOutcome::Wrong);
    };
    if !store::delete_challenge(conn, &id_hash)? {
        return Ok(ChallengeOutcome::Gone);
    }
    let Some(user) = users::find_by_id(conn, &challenge.user_id)?.filter(User::is_enabled) else {
        return Ok(ChallengeOutcome::Gone);
    };
    state.login_throttle.clear_in(conn, &key)?;
    Ok(ChallengeOutcome::Passed {
        user: Box::new(user),
        carried: challenge.carried_request,
        amr: [challenge.first_factor.as_str(), "otp", "mfa"]
            .map(str::to_owned)
            .to_vec(),
        used_recovery_code: factor == Factor::RecoveryCode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_the_ones_beside_it_only() {
        let secret = [7u8; 20];
        let now = 1_795_545_600;
        let totp = totp(&secret, "").ok();
        let code = totp.map(|totp| totp.generate(u64::try_from(now).unwrap_or_default()).to_string());
        let code = code.unwrap_or_default();
        let step = now / STEP_SECS;
        assert_eq!(matching_step(&secret, &code, now).ok().flatten(), Some(step));
        assert_eq!(matching_step(&secret, &code, now + 30).ok().flatten(), Some(step));
        assert_eq!(matching_step(&secret, &code, now + 90).ok().flatten(), None);
        assert_eq!(matching_step(&secret, "12345", now).ok().flatten(), None);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_forgiving_to_type() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(
            codes
                .iter()
                .all(|code| code.len() == 9 && code.as_bytes()[4] == b'-')
        );
        let first = codes.first().cloned().unwrap_or_default();
        assert_eq!(
            recovery_hash(&first),
            recovery_hash(&format!(" {} ", first.to_uppercase().replace('-', " ")))
        );
    }
}
