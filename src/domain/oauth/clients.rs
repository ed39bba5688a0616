//! Registering clients, and what an administrator does to one (disable, a new secret), each
//! audited with who did it.

use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::AdminError;
use crate::domain::entitlements::manage::Actor;
use crate::domain::oauth::scopes;
use crate::domain::tokens::revoked::{RevokedTokens, client_revocation};
use crate::foundation::crypto::keys::SigningAlg;
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::clients::{self, Client};
use crate::foundation::store::entitlements::{NewAuditEntry, audit};
use crate::foundation::store::transaction;
use crate::foundation::store::{DbConnection, StoreError};
use crate::foundation::text;

pub(crate) const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub(crate) const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
pub const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const KNOWN_GRANTS: [&str; 4] = [
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_DEVICE_CODE,
];

/// Whether `caller` may learn about an access token issued to `issued_to` by introspection:
/// a resource server about any, every other client about its own only.
pub(crate) fn may_introspect(caller: &Client, issued_to: &str) -> bool {
    caller.resource_server || caller.client_id == issued_to
}

/// The grant types a client may be registered with.
pub(crate) fn known_grant_types() -> &'static [&'static str] {
    &KNOWN_GRANTS
}

#[derive(Clone, Debug, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Empty means `authorization_code` and `refresh_token`.
    pub grant_types: Vec<String>,
    /// Empty means the standard user scopes.
    pub scopes: Vec<String>,
    pub public: bool,
    pub first_party: bool,
    /// `RS256` when unset.
    pub id_token_alg: Option<String>,
    /// A content server, allowed to introspect tokens issued to every app.
    pub resource_server: bool,
    /// A legacy confidential client that cannot send PKCE; public clients always must.
    pub pkce_optional: bool,
    /// The app's logo, an https URL; the sign-in pages show it for first-party and verified
    /// apps only.
    pub logo_uri: Option<String>,
    /// The platform vouches for this app (a partner's), though it is not its own.
    pub verified: bool,
}

/// What registration answers; the secret is shown this once and stored only as a hash.
#[derive(Debug, Serialize)]
pub struct CreatedClient {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

pub fn create(conn: &mut DbConnection, new: NewClient, now: i64) -> Result<CreatedClient, AdminError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() {
        return Err(AdminError::invalid("name", "must not be empty"));
    }
    if !text::is_plain_name(&name) {
        return Err(AdminError::invalid("name", text::HIDDEN_CHARACTERS));
    }
    for uri in new.redirect_uris.iter().chain(&new.post_logout_redirect_uris) {
        validate_redirect_uri(uri)?;
    }
    let grant_types = if new.grant_types.is_empty() {
        vec![
            GRANT_AUTHORIZATION_CODE.to_owned(),
            GRANT_REFRESH_TOKEN.to_owned(),
        ]
    } else {
        dedup(new.grant_types)
    };
    if let Some(unknown) = grant_types
        .iter()
        .find(|grant| !KNOWN_GRANTS.contains(&grant.as_str()))
    {
        let meant = KNOWN_GRANTS
            .iter()
            .find(|known| known.rsplit(':').next() == Some(unknown.as_str()))
            .map(|known| format!(": did you mean {known}?"))
            .unwrap_or_else(|| format!(" (supported: {})", KNOWN_GRANTS.join(", ")));
        return Err(AdminError::invalid(
            "grant_type",
            format!("{unknown} is not a supported grant type{meant}"),
        ));
    }
    if new.public && grant_types.iter().any(|grant| grant == GRANT_CLIENT_CREDENTIALS) {
        return Err(AdminError::invalid(
            "grant_type",
            "a public client cannot use client_credentials",
        ));
    }
    if new.public && new.pkce_optional {
        return Err(AdminError::invalid(
            "pkce_optional",
            "a public client must use PKCE",
        ));
    }
    if let Some(logo_uri) = &new.logo_uri {
        validate_logo_uri(logo_uri)?;
    }
    let scopes = if new.scopes.is_empty() {
        scopes::default_client_scopes()
    } else {
        dedup(new.scopes)
    };
    if let Some(bad) = scopes.iter().find(|scope| !scopes::is_valid_scope_token(scope)) {
        return Err(AdminError::invalid(
            "scope",
            format!("{bad:?} is not a valid scope"),
        ));
    }

    let id_token_alg = match new.id_token_alg.as_deref() {
        None => SigningAlg::Rs256,
        Some(name) => SigningAlg::parse(name).ok_or_else(|| {
            AdminError::invalid(
                "id_token_alg",
                format!("{name:?} is not supported: use RS256 or ES256"),
            )
        })?,
    };

    let client_id = new_client_id();
    let client_secret = (!new.public).then(random::token::<32>);
    let client = Client {
        client_id: client_id.clone(),
        name,
        secret_hash: client_secret
            .as_deref()
            .map(|secret| hashing::sha256_hex(secret.as_bytes())),
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        grant_types,
        scopes,
        first_party: new.first_party,
        created_at: now,
        disabled_at: None,
        id_token_alg: id_token_alg.name().to_owned(),
        resource_server: new.resource_server,
        pkce_optional: new.pkce_optional,
        logo_uri: new.logo_uri,
        verified: new.verified,
    };
    clients::insert(conn, &client)?;
    Ok(CreatedClient {
        client_id,
        client_secret,
    })
}

/// Grants with which people sign in to the client (in a browser or on another device).
const SIGN_IN_GRANTS: [&str; 2] = [GRANT_AUTHORIZATION_CODE, GRANT_DEVICE_CODE];

/// Refuses registrations [`create`] would store but that could never get a token, or that
/// mix people's sign-in with the administrative scopes: a client with `authorization_code`
/// needs a redirect URI, `refresh_token` needs a grant that issues one, and `usher:admin`,
/// `usher:entitlements` and `usher:streams` belong to services using `client_credentials` only.
pub fn check_usable(new: &NewClient) -> Result<(), AdminError> {
    let grants: Vec<&str> = if new.grant_types.is_empty() {
        vec![GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN]
    } else {
        new.grant_types.iter().map(String::as_str).collect()
    };
    if grants.contains(&GRANT_AUTHORIZATION_CODE) && new.redirect_uris.is_empty() {
        return Err(AdminError::invalid(
            "redirect_uri",
            "a client with authorization_code (the default grant) needs a redirect URI; a \
             service acting for itself uses the client_credentials grant",
        ));
    }
    let signs_people_in = grants.iter().any(|grant| SIGN_IN_GRANTS.contains(grant));
    if grants.contains(&GRANT_REFRESH_TOKEN) && !signs_people_in {
        return Err(AdminError::invalid(
            "grant_type",
            format!(
                "refresh_token needs a grant that issues refresh tokens: {GRANT_AUTHORIZATION_CODE} or {GRANT_DEVICE_CODE}"
            ),
        ));
    }
    if signs_people_in
        && let Some(scope) = new.scopes.iter().find(|scope| {
            [scopes::ADMIN, scopes::ADMIN_ENTITLEMENTS, scopes::STREAMS].contains(&scope.as_str())
        })
    {
        return Err(AdminError::invalid(
            "scope",
            format!(
                "{scope} is for services using client_credentials alone, not for a client people sign in to"
            ),
        ));
    }
    Ok(())
}

/// Gives a confidential client (read by the caller, before any transaction) a new random
/// 256-bit secret, stored as its SHA-256 like [`create`] does; the old secret no longer
/// matches. Returns the client id and the new secret (shown this once), or `None` when the
/// client is gone. Public clients have no secret and disabled ones cannot use one: both are
/// refused. The first statement is the write, so it may open a transaction.
///
/// Announced on the change feed, so every instance forgets authentications it cached with
/// the old secret; the caller's own instance should forget them at once
/// ([`crate::domain::oauth::client_auth::ClientAuthenticator::forget`]).
pub(crate) fn rotate_secret(
    conn: &mut DbConnection,
    actor: &Actor,
    client: &Client,
    now: i64,
) -> Result<Option<CreatedClient>, AdminError> {
    if client.is_public() {
        return Err(AdminError::Conflict(format!(
            "{} is a public client: it has no secret to rotate",
            client.name
        )));
    }
    if !client.is_enabled() {
        return Err(AdminError::Conflict(format!(
            "{} is disabled: a new secret would not work",
            client.name
        )));
    }
    let secret = random::token::<32>();
    transaction(conn, |conn| {
        if !clients::set_secret_hash(conn, &client.client_id, &hashing::sha256_hex(secret.as_bytes()))? {
            return Ok(None);
        }
        record(
            conn,
            actor,
            "client.rotate_secret",
            &client.client_id,
            None,
            None,
            now,
        )?;
        Ok(Some(CreatedClient {
            client_id: client.client_id.clone(),
            client_secret: Some(secret.clone()),
        }))
    })
}

/// Disables a client (read by the caller, before any transaction) from `now` on: it
/// authenticates nowhere, gets no new tokens, and every token it holds is revoked on every
/// instance: its refresh tokens, and its access tokens (with a refresh token or without),
/// which live at most `longest_token_lifetime_secs`. `revoked` is the caller's own view,
/// told at once; other instances learn from the change feed. A client already disabled is
/// refused. The first statement is the write. Announced on the change feed, as for
/// [`rotate_secret`].
pub(crate) fn disable(
    revoked: &RevokedTokens,
    conn: &mut DbConnection,
    actor: &Actor,
    client: &Client,
    now: i64,
    longest_token_lifetime_secs: i64,
) -> Result<(), AdminError> {
    transaction(conn, |conn| {
        if !clients::disable(conn, &client.client_id, now)? {
            return Err(AdminError::Conflict(format!(
                "{} is already disabled",
                client.name
            )));
        }
        let mut issued =
            crate::foundation::store::refresh_tokens::revoke_for_client(conn, &client.client_id, now)?;
        issued.push((
            client_revocation(&client.client_id),
            now + longest_token_lifetime_secs,
        ));
        crate::domain::tokens::revocation::revoke_access_tokens(revoked, conn, issued, now)?;
        let (before, after) = (json!({ "disabled_at": null }), json!({ "disabled_at": now }));
        record(
            conn,
            actor,
            "client.disable",
            &client.client_id,
            Some(before),
            Some(after),
            now,
        )?;
        Ok(())
    })
}

/// Registers a client for `actor`: refuses what could never get a token ([`check_usable`]),
/// then stores it and audits the registration (everything but the secret) together.
pub fn register(
    conn: &mut DbConnection,
    actor: &Actor,
    new: NewClient,
    now: i64,
) -> Result<CreatedClient, AdminError> {
    check_usable(&new)?;
    let after = json!({
        "name": new.name, "redirect_uris": new.redirect_uris,
        "post_logout_redirect_uris": new.post_logout_redirect_uris,
        "grant_types": new.grant_types, "scopes": new.scopes,
        "public": new.public, "first_party": new.first_party,
        "resource_server": new.resource_server, "pkce_optional": new.pkce_optional,
        "logo_uri": new.logo_uri, "verified": new.verified,
    });
    transaction(conn, |conn| {
        let created = create(conn, new, now)?;
        record(
            conn,
            actor,
            "client.create",
            &created.client_id,
            None,
            Some(after),
            now,
        )?;
        Ok(created)
    })
}

fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    client_id: &str,
    before: Option<Value>,
    after: Option<Value>,
    now: i64,
) -> Result<(), StoreError> {
    audit(
        conn,
        &NewAuditEntry {
            at: now,
            actor: &actor.0,
            action,
            user_id: None,
            target: client_id,
            before: before.map(|before| before.to_string()),
            after: after.map(|after| after.to_string()),
        },
    )
}

/// Redirect URIs are compared exactly, so they must be absolute and fragment-free
/// (RFC 6749 §3.1.2).
fn validate_redirect_uri(uri: &str) -> Result<(), AdminError> {
    let parsed = url::Url::parse(uri)
        .map_err(|error| AdminError::invalid("redirect_uri", format!("{uri:?}: {error}")))?;
    // Schemes a browser would run or read locally instead of handing to an app (RFC 9700
    // §2.1, §4.1): such a "redirect" would execute the code in Usher's context.
    if ["javascript", "data", "vbscript", "file", "about", "blob"].contains(&parsed.scheme()) {
        return Err(AdminError::invalid(
            "redirect_uri",
            format!("{uri:?} uses a scheme that cannot receive a redirect"),
        ));
    }
    if parsed.fragment().is_some() {
        return Err(AdminError::invalid(
            "redirect_uri",
            format!("{uri:?} must not contain a fragment"),
        ));
    }
    Ok(())
}

/// A logo is shown on pages whose policy names its exact address: an https URL (pages are
/// never mixed content) that a policy can quote, without credentials or a fragment.
fn validate_logo_uri(uri: &str) -> Result<(), AdminError> {
    let parsed =
        url::Url::parse(uri).map_err(|error| AdminError::invalid("logo_uri", format!("{uri:?}: {error}")))?;
    let quotable = uri
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, ';' | ',' | '\'' | '"'));
    if parsed.scheme() != "https"
        || parsed.host_str().is_none()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.fragment().is_some()
        || !quotable
    {
        return Err(AdminError::invalid(
            "logo_uri",
            format!(
                "{uri:?} must be an https URL without user, fragment, spaces, quotes, commas or semicolons"
            ),
        ));
    }
    Ok(())
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    unique
}

/// A random client id that starts with a letter or digit: one starting with `-` would read as
/// an option on a command line (`usher client webhook --client-id -xf…`).
fn new_client_id() -> String {
    loop {
        let client_id = random::token::<16>();
        if client_id.starts_with(|first: char| first.is_ascii_alphanumeric()) {
            return client_id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_never_start_like_a_command_line_option() {
        for _ in 0..2_000 {
            let client_id = new_client_id();
            assert!(!client_id.starts_with(['-', '_']), "{client_id}");
            assert_eq!(client_id.len(), 22);
        }
    }

    #[test]
    fn a_client_that_could_never_get_a_token_or_mixes_sign_in_with_admin_scopes_is_unusable() {
        let no_redirect = NewClient {
            name: "x".into(),
            ..NewClient::default()
        };
        assert!(check_usable(&no_redirect).is_err());
        let refresh_alone = NewClient {
            grant_types: vec![GRANT_REFRESH_TOKEN.into()],
            ..no_redirect.clone()
        };
        assert!(check_usable(&refresh_alone).is_err());
        let admin_sign_in = NewClient {
            redirect_uris: vec!["https://app.example/cb".into()],
            scopes: vec![scopes::ADMIN.into()],
            ..no_redirect.clone()
        };
        assert!(check_usable(&admin_sign_in).is_err());
        let service = NewClient {
            grant_types: vec![GRANT_CLIENT_CREDENTIALS.into()],
            scopes: vec![scopes::ADMIN.into()],
            ..no_redirect
        };
        assert!(check_usable(&service).is_ok());
    }

    #[test]
    fn redirect_uris_that_a_browser_would_run_are_refused() {
        for uri in ["javascript:alert(1)", "data:text/html,x", "file:///etc/passwd"] {
            assert!(validate_redirect_uri(uri).is_err(), "{uri}");
        }
        assert!(validate_redirect_uri("https://app.example/cb#frag").is_err());
        for uri in [
            "https://app.example/cb",
            "com.example.app:/oauth",
            "http://127.0.0.1:8765/cb",
        ] {
            assert!(validate_redirect_uri(uri).is_ok(), "{uri}");
        }
    }
}
