//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6): a code is good once, for
//! the client and redirect URI it was issued to, with the PKCE verifier of its challenge.
//! Presenting a spent code again revokes everything the code produced (RFC 6749 §4.1.2).

use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::domain::core::Core;
use crate::domain::oauth::client_auth::ClientCredentials;
use crate::domain::oauth::error::{ErrorCode, OAuthError};
use crate::domain::oauth::parameters::Parameters;
use crate::domain::oauth::token_response::TokenResponse;
use crate::domain::oauth::user_tokens::{self, Authorization, Planned};
use crate::domain::profiles;
use crate::domain::tokens::revocation::revoke_access_tokens;
use crate::foundation::crypto::hashing;
use crate::foundation::store::clients::Client;
use crate::foundation::store::codes::{self, AuthorizationCode, Redemption};
use crate::foundation::store::transaction;
use crate::foundation::store::{DbConnection, StoreError, consents, refresh_tokens, sessions, users};

pub(crate) const GRANT_TYPE: &str = "authorization_code";

pub(crate) async fn grant(
    state: &Arc<Core>,
    credentials: &ClientCredentials<'_>,
    form: &impl Parameters,
) -> Result<TokenResponse, OAuthError> {
    let client = state.clients.any(&state.store, credentials).await?;
    if !client.allows_grant(GRANT_TYPE) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code grant",
        ));
    }
    let code_hash = hashing::sha256_hex(form.require("code")?.as_bytes());
    let redirect_uri = form.require("redirect_uri")?.to_owned();
    let verifier = form.get("code_verifier").map(str::to_owned);

    let worker_state = Arc::clone(state);
    let planned = state
        .store
        .run(move |conn| {
            // One transaction that starts by spending the code: a replay waits for it to
            // commit, and then finds the tokens recorded that it must revoke.
            transaction(conn, |conn| {
                redeem(
                    &worker_state,
                    conn,
                    &client,
                    &code_hash,
                    &redirect_uri,
                    verifier.as_deref(),
                )
            })
        })
        .await?;
    let planned = match planned {
        Ok(planned) => planned,
        Err(refusal) => return Err(refusal.into_error()),
    };
    Ok(planned.issue(state)?)
}

/// Why a code was refused. Kept apart from errors so the transaction commits what a refusal
/// writes (a replay's revocations).
enum Refusal {
    Replayed,
    Invalid(OAuthError),
}

impl Refusal {
    fn into_error(self) -> OAuthError {
        match self {
            Self::Replayed => OAuthError::invalid_grant("the authorization code was already used"),
            Self::Invalid(error) => error,
        }
    }
}

fn redeem(
    state: &Core,
    conn: &mut DbConnection,
    client: &Client,
    code_hash: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Result<Result<Planned, Refusal>, StoreError> {
    let now = state.clock.now();
    let code = match codes::redeem(conn, code_hash, &client.client_id, now)? {
        Redemption::Fresh(code) => code,
        Redemption::Replayed {
            code_hash,
            access_token,
        } => {
            let mut issued = refresh_tokens::revoke_for_code(conn, &code_hash, now)?;
            issued.extend(access_token);
            revoke_access_tokens(&state.revoked, conn, issued, now)?;
            tracing::warn!(client_id = %client.client_id, "authorization code replayed: its tokens are revoked");
            return Ok(Err(Refusal::Replayed));
        }
        Redemption::Unknown => {
            return Ok(Err(Refusal::Invalid(OAuthError::invalid_grant(
                "unknown authorization code",
            ))));
        }
    };
    if let Err(error) = check_binding(&code, &client.client_id, redirect_uri, verifier, now) {
        return Ok(Err(Refusal::Invalid(error)));
    }
    // Signing out, or removing the app's access, between the redirect and the exchange
    // withdraws the code too.
    let session_live = sessions::find_live_by_sid(conn, &code.sid, now)?.is_some();
    let still_allowed =
        client.first_party || !consents::granted(conn, &code.user_id, &client.client_id)?.is_empty();
    let user = users::find_by_id(conn, &code.user_id)?.filter(users::User::is_enabled);
    let (Some(user), true, true) = (user, session_live, still_allowed) else {
        return Ok(Err(Refusal::Invalid(OAuthError::invalid_grant(
            "the sign-in behind this code has ended",
        ))));
    };
    let Ok(profile) = profiles::carried(conn, &user.id, code.profile_id.as_deref())? else {
        return Ok(Err(Refusal::Invalid(OAuthError::invalid_grant(
            "the profile chosen at sign-in was deleted",
        ))));
    };
    let authorization = Authorization {
        user,
        sid: code.sid,
        access_scope: code.scope.clone(),
        scope: code.scope,
        auth_time: code.auth_time,
        amr: code.amr,
        nonce: code.nonce,
        code_hash: code.code_hash,
        family_id: None,
        refresh_token: None,
        profile,
    };
    let planned = user_tokens::plan(state, conn, client, &authorization, now)?;
    codes::record_access_token(
        conn,
        &authorization.code_hash,
        planned.access_token_jti(),
        planned.access_token_expires_at(),
    )?;
    if let Some((_, row)) = &planned.refresh {
        refresh_tokens::insert(conn, row)?;
    }
    Ok(Ok(planned))
}

/// RFC 6749 §4.1.3 and RFC 7636 §4.6: the code must be redeemed by its client, with its
/// redirect URI, before it expires, and with the verifier of its challenge. A verifier for a
/// code issued without a challenge is refused too (RFC 9700 §2.1.1: PKCE downgrade).
fn check_binding(
    code: &AuthorizationCode,
    client_id: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
    now: i64,
) -> Result<(), OAuthError> {
    if code.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if code.expires_at <= now {
        return Err(OAuthError::invalid_grant("the authorization code has expired"));
    }
    if code.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    match (&code.code_challenge, verifier) {
        (None, None) => Ok(()),
        (Some(challenge), Some(verifier)) => {
            if !is_valid_verifier(verifier) {
                return Err(OAuthError::invalid_request(
                    "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]",
                ));
            }
            if s256(verifier).as_bytes().ct_eq(challenge.as_bytes()).into() {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code challenge",
                ))
            }
        }
        (Some(_), None) => Err(OAuthError::invalid_grant(
            "code_verifier is required: the request sent a code challenge",
        )),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier was sent but the authorization request had no code challenge",
        )),
    }
}

/// RFC 7636 §4.1: `43*128unreserved`.
fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte))
}

/// The S256 transformation of RFC 7636 §4.2.
pub fn s256(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hashing::sha256(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_the_rfc_7636_example() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_outside_the_rfc_alphabet_or_length_are_refused() {
        assert!(!is_valid_verifier("short"));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
        assert!(is_valid_verifier(&"a-._~".repeat(9)));
    }
}
