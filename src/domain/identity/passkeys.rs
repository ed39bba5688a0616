//! Passkeys (WebAuthn discoverable credentials with user verification): registering one
//! from the account page, and signing in with one from the login page without typing an
//! email. Each ceremony's state stays in the database, keyed by the SHA-256 of a token the
//! page holds, and is taken out when the answer comes: single use, any instance can finish
//! it, and a replayed answer finds nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

use crate::foundation::config::Config;
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::entitlements::audit_self;
use crate::foundation::store::passkeys::{self as store, Ceremony, PasskeyRow};
use crate::foundation::store::transaction;
use crate::foundation::store::users::{self, User};
use crate::foundation::store::{DbConnection, StoreError};
use crate::foundation::text;

/// How long a page has to answer a ceremony: time to find the phone and unlock it.
const CEREMONY_SECS: i64 = 300;
const REGISTER: &str = "register";
const SIGN_IN: &str = "sign_in";
/// Longest passkey name kept; longer ones are cut.
const NAME_CHARS: usize = 60;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The browser's answer does not prove the passkey: stale or replayed ceremony, wrong
    /// origin, no user verification, unknown or removed passkey, bad signature. One variant:
    /// the page says the same thing for each.
    #[error("passkey refused: {0}")]
    Refused(String),
    /// Passkeys are off on this server (no relying party: see [`relying_party`]).
    #[error("passkeys are off")]
    Off,
    /// The name has a control or formatting character (such as U+202E, which would show it
    /// reversed on the account page and the dashboard).
    #[error("name: {}", text::HIDDEN_CHARACTERS)]
    Name,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a person is offered to add a passkey right after signing in another way.
pub(crate) const OFFER_PATH: &str = "/account/passkeys/offer";
/// Where an administrator without a second factor must add one before going on.
pub(crate) const SECOND_FACTOR_PATH: &str = "/account/second-factor";
/// Set when the offer was shown, so it is not shown again for a while.
pub(crate) const OFFER_COOKIE: &str = "usher_passkey_offered";

fn refused(cause: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Refused(cause.to_string())
}

/// The relying party, from `passkey_rp_id`/`passkey_origin` or else the issuer. None when
/// passkeys cannot work here: WebAuthn needs a domain name, and an issuer on an IP address
/// has none. A setting that is wrong is an error, so a typo does not quietly turn them off.
pub(crate) fn relying_party(config: &Config, issuer: &str) -> Result<Option<Webauthn>, String> {
    let origin_text = config.passkey_origin.as_deref().unwrap_or(issuer);
    let origin =
        Url::parse(origin_text).map_err(|error| format!("passkey_origin {origin_text:?}: {error}"))?;
    let rp_id = match (&config.passkey_rp_id, origin.host()) {
        (Some(rp_id), _) => rp_id.clone(),
        (None, Some(url::Host::Domain(domain))) => domain.to_owned(),
        (None, _) => return Ok(None),
    };
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|builder| builder.rp_name("Usher").build())
        .map(Some)
        .map_err(|error| format!("passkey_rp_id {rp_id:?} with origin {origin}: {error}"))
}

/// A ceremony handed to the page: the token that finds its state again, and the options for
/// `navigator.credentials`.
#[derive(Debug, serde::Serialize)]
pub struct Started {
    pub ceremony: String,
    #[serde(rename = "publicKey")]
    pub public_key: serde_json::Value,
}

fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn save_ceremony(
    conn: &mut DbConnection,
    purpose: &str,
    user_id: Option<&str>,
    state: String,
    now: i64,
) -> Result<String, StoreError> {
    let token = random::token::<32>();
    store::insert_ceremony(
        conn,
        &Ceremony {
            id_hash: hashing::sha256_hex(token.as_bytes()),
            purpose: purpose.to_owned(),
            user_id: user_id.map(str::to_owned),
            state,
            expires_at: now + CEREMONY_SECS,
        },
        now,
    )?;
    Ok(token)
}

fn take_ceremony(
    conn: &mut DbConnection,
    token: &str,
    purpose: &str,
    now: i64,
) -> Result<Ceremony, PasskeyError> {
    store::take_ceremony(conn, &hashing::sha256_hex(token.as_bytes()), purpose, now)?
        .ok_or_else(|| refused("no such ceremony, or it expired"))
}

fn credential_id_text(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

/// Starts a sign-in with any passkey of this site: the browser offers the person's passkeys
/// (or autofills them in the email field) and the passkey itself says whose it is.
pub fn start_sign_in(
    webauthn: &Webauthn,
    conn: &mut DbConnection,
    now: i64,
) -> Result<Started, PasskeyError> {
    let (mut options, state) = webauthn.start_discoverable_authentication().map_err(refused)?;
    // The page chooses: conditional mediation for autofill, none for the button.
    options.mediation = None;
    let ceremony = save_ceremony(conn, SIGN_IN, None, to_json(&state)?, now)?;
    Ok(Started {
        ceremony,
        public_key: serde_json::to_value(options.public_key)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?,
    })
}

/// Who signed in with a passkey and how, in `amr` values (RFC 8176).
#[derive(Debug)]
pub struct PasskeySignIn {
    pub user: User,
    pub amr: Vec<String>,
}

/// Checks the browser's answer to a sign-in ceremony. A passkey that may be synced between
/// devices counts as a software key (`swk`), one bound to its device as hardware (`hwk`);
/// user verification (`user`) makes it two factors on its own (`mfa`).
pub fn finish_sign_in(
    webauthn: &Webauthn,
    conn: &mut DbConnection,
    token: &str,
    answer: &str,
    now: i64,
) -> Result<PasskeySignIn, PasskeyError> {
    let answer: PublicKeyCredential = serde_json::from_str(answer).map_err(refused)?;
    let ceremony = take_ceremony(conn, token, SIGN_IN, now)?;
    let state: DiscoverableAuthentication = from_json(&ceremony.state)?;
    let (user_handle, credential_id) = webauthn
        .identify_discoverable_authentication(&answer)
        .map_err(refused)?;
    let row = store::find_by_credential_id(conn, &credential_id_text(credential_id))?
        .ok_or_else(|| refused("unknown passkey"))?;
    // The user handle is ours (the person's id): it must name the passkey's owner.
    if row.user_id != user_handle.to_string() {
        return Err(refused("user handle does not match the passkey's owner"));
    }
    let mut passkey: Passkey = from_json(&row.credential)?;
    let result = webauthn
        .finish_discoverable_authentication_v2(&answer, state, &passkey)
        .map_err(refused)?;
    if !result.user_verified() {
        return Err(refused("no user verification"));
    }
    let user = users::find_by_id(conn, &row.user_id)?
        .filter(User::is_enabled)
        .ok_or_else(|| refused("account disabled or gone"))?;
    passkey.update_credential(&result);
    if !store::record_use(conn, &row.id, &row.credential, &to_json(&passkey)?, now)? {
        return Err(refused(
            "the passkey was used by another sign-in at the same moment",
        ));
    }
    let key = if result.backup_eligible() { "swk" } else { "hwk" };
    Ok(PasskeySignIn {
        user,
        amr: [key, "user", "mfa"].map(str::to_owned).to_vec(),
    })
}

/// Starts registering a new passkey for `user`. The passkeys they have are excluded, so the
/// same authenticator is not registered twice; the credential must be discoverable, so it
/// can sign in without an email.
pub fn start_registration(
    webauthn: &Webauthn,
    conn: &mut DbConnection,
    user: &User,
    now: i64,
) -> Result<Started, PasskeyError> {
    let user_handle = uuid::Uuid::parse_str(&user.id).map_err(refused)?;
    let existing = store::list_for_user(conn, &user.id)?
        .iter()
        .map(|row| from_json::<Passkey>(&row.credential).map(|passkey| passkey.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let display_name = user.name.as_deref().unwrap_or(&user.email);
    let (options, state) = webauthn
        .start_passkey_registration(user_handle, &user.email, display_name, Some(existing))
        .map_err(refused)?;
    let mut public_key =
        serde_json::to_value(options.public_key).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    // webauthn-rs asks for a server-side credential; a passkey must be discoverable (the
    // finish step does not depend on it).
    public_key["authenticatorSelection"]["residentKey"] = "required".into();
    public_key["authenticatorSelection"]["requireResidentKey"] = true.into();
    let ceremony = save_ceremony(conn, REGISTER, Some(&user.id), to_json(&state)?, now)?;
    Ok(Started { ceremony, public_key })
}

/// A passkey name as shown on the account page and the dashboard: spaces and line breaks
/// collapsed to single spaces, not too long; the device's description when empty. One with
/// another control or a formatting character is refused.
pub(crate) fn clean_name(raw: &str, fallback: &str) -> Result<String, PasskeyError> {
    let name: String = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(NAME_CHARS)
        .collect();
    if !text::is_plain_name(&name) {
        return Err(PasskeyError::Name);
    }
    Ok(if name.is_empty() {
        fallback.to_owned()
    } else {
        name
    })
}

/// What the audit log keeps of a passkey change: its name.
fn described(name: &str) -> Option<String> {
    Some(serde_json::json!({ "name": name }).to_string())
}

/// Checks the browser's answer to a registration ceremony started for `user_id` and adds the
/// passkey under `name`. The state is taken out first, so a refused answer cannot be retried.
pub fn finish_registration(
    webauthn: &Webauthn,
    conn: &mut DbConnection,
    user_id: &str,
    token: &str,
    answer: &str,
    name: &str,
    now: i64,
) -> Result<PasskeyRow, PasskeyError> {
    // Before the ceremony is taken out: a refused name can be corrected and sent again.
    if !text::is_plain_name(name) {
        return Err(PasskeyError::Name);
    }
    let answer: RegisterPublicKeyCredential = serde_json::from_str(answer).map_err(refused)?;
    let ceremony = take_ceremony(conn, token, REGISTER, now)?;
    if ceremony.user_id.as_deref() != Some(user_id) {
        return Err(refused("the ceremony was started for someone else"));
    }
    let state: PasskeyRegistration = from_json(&ceremony.state)?;
    let passkey = webauthn
        .finish_passkey_registration(&answer, &state)
        .map_err(refused)?;
    let row = PasskeyRow {
        id: uuid::Builder::from_random_bytes(random::bytes::<16>())
            .into_uuid()
            .to_string(),
        user_id: user_id.to_owned(),
        credential_id: credential_id_text(passkey.cred_id()),
        name: name.to_owned(),
        credential: to_json(&passkey)?,
        created_at: now,
        last_used_at: None,
    };
    let added = transaction(conn, |conn| {
        if !store::insert(conn, &row)? {
            return Ok::<_, StoreError>(false);
        }
        audit_self(conn, user_id, "passkey.add", described(&row.name), now)?;
        Ok(true)
    })?;
    if !added {
        return Err(refused("this passkey is already registered"));
    }
    Ok(row)
}

/// Removes one of the person's passkeys; returns its name, None when it was not theirs.
pub fn remove(
    conn: &mut DbConnection,
    user_id: &str,
    id: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    transaction(conn, |conn| {
        let Some(name) = store::delete_for_user(conn, user_id, id)? else {
            return Ok(None);
        };
        audit_self(conn, user_id, "passkey.remove", described(&name), now)?;
        Ok(Some(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_tidy_line_or_the_device() {
        let clean = |raw: &str, fallback: &str| clean_name(raw, fallback).ok();
        assert_eq!(
            clean("  My\n  phone\t ", "Chrome on Linux").as_deref(),
            Some("My phone")
        );
        assert_eq!(
            clean("   ", "Chrome on Linux").as_deref(),
            Some("Chrome on Linux")
        );
        assert_eq!(
            clean(&"x".repeat(200), "d").map(|name| name.len()),
            Some(NAME_CHARS)
        );
    }

    #[test]
    fn names_with_control_or_formatting_characters_are_refused() {
        for raw in ["My\u{0}phone", "\u{202E}enohp yM", "My\u{2066}phone"] {
            assert!(matches!(clean_name(raw, "d"), Err(PasskeyError::Name)), "{raw:?}");
        }
    }

    #[test]
    fn the_relying_party_follows_the_issuer_unless_configured() {
        let config = Config::default();
        assert!(matches!(
            relying_party(&config, "https://id.example.com"),
            Ok(Some(_))
        ));
        assert!(matches!(
            relying_party(&config, "http://127.0.0.1:8080"),
            Ok(None)
        ));
        let config = Config {
            passkey_rp_id: Some("other.example".into()),
            ..Config::default()
        };
        assert!(relying_party(&config, "https://id.example.com").is_err());
    }
}
