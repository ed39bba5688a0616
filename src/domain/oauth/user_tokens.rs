//! Tokens issued to an app on a person's behalf: the access token, the ID token (OIDC Core
//! §2, §3.1.3.6) and, with `offline_access`, a refresh token. Shared by the authorization
//! code and refresh token grants.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::domain::core::Core;
use crate::domain::entitlements::{AccessTokenEntitlements, Entitlements, ProfileCeiling, compute};
use crate::domain::oauth::clients::GRANT_REFRESH_TOKEN;
use crate::domain::oauth::scopes;
use crate::domain::oauth::token_response::TokenResponse;
use crate::domain::tokens::access_tokens;
use crate::foundation::crypto::jwt::{self, AccessTokenClaims, SignError};
use crate::foundation::crypto::keyring::KeySet;
use crate::foundation::crypto::keys::SigningAlg;
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::clients::Client;
use crate::foundation::store::issued_tokens::{self, IssuedAccessToken};
use crate::foundation::store::refresh_tokens::RefreshToken;
use crate::foundation::store::users::User;
use crate::foundation::store::{DbConnection, StoreError};

/// Claims about the person, released per scope (docs/integration.md). The same
/// set goes into ID tokens and the userinfo response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct PersonClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// With scope `profile`: the language the person chose for pages and mail (OIDC Core §5.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// With scope `profiles`: the profile chosen at sign-in, and its maturity ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maturity: Option<String>,
}

impl PersonClaims {
    /// `entitlements` are the person's current ones, needed with scope `entitlements`.
    pub(crate) fn for_scopes(user: &User, scopes: &[&str], entitlements: Option<&Entitlements>) -> Self {
        let mut claims = Self::default();
        if scopes.contains(&scopes::ENTITLEMENTS)
            && let Some(entitlements) = entitlements
        {
            claims.tier = entitlements.tier.clone();
            claims.features = Some(entitlements.features.clone());
        }
        if scopes.contains(&scopes::EMAIL) {
            claims.email = Some(user.email.clone());
            claims.email_verified = Some(user.email_verified);
        }
        if scopes.contains(&scopes::PROFILE) {
            claims.name = user.name.clone();
            claims.locale = user.locale.clone();
        }
        claims
    }

    /// Adds the profile the token speaks for, when scope `profiles` was granted.
    pub(crate) fn with_profile(mut self, scopes: &[&str], profile: Option<&ProfileCeiling>) -> Self {
        if scopes.contains(&scopes::PROFILES)
            && let Some(profile) = profile
        {
            self.profile = Some(profile.id.clone());
            self.maturity = Some(profile.maturity.clone());
        }
        self
    }
}

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    amr: &'a [String],
    sid: &'a str,
    at_hash: String,
    #[serde(flatten)]
    person: PersonClaims,
}

/// OIDC Core §3.1.3.6: the left half of the hash of the access token. Both supported
/// algorithms hash with SHA-256.
pub fn at_hash(access_token: &str) -> String {
    let digest = hashing::sha256(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// What the person authorized, carried from the authorization code to each refresh.
#[derive(Clone, Debug)]
pub(crate) struct Authorization {
    pub user: User,
    pub sid: String,
    /// Everything granted: what the refresh token keeps.
    pub scope: String,
    /// What this access token carries: the granted scope, or less on a narrowing refresh.
    pub access_scope: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    /// Only the ID token answering the authorization request carries the nonce.
    pub nonce: Option<String>,
    /// The code the grant descends from: replaying it revokes everything issued here.
    pub code_hash: String,
    /// The refresh token family to continue; a new family when `None`.
    pub family_id: Option<String>,
    /// The refresh token to hand out when one is due: a rotation's derived successor. A
    /// random one when `None`.
    pub refresh_token: Option<String>,
    /// The profile chosen for these tokens, with scope `profiles`.
    pub profile: Option<ProfileCeiling>,
}

/// Tokens decided but not yet signed: the rows to store come from here, in the same
/// transaction as the decision, and signing follows once it committed.
pub(crate) struct Planned {
    access_claims: AccessTokenClaims,
    /// With scope `entitlements`: what the access token says the person may watch.
    access_entitlements: Option<AccessTokenEntitlements>,
    id_token: Option<(SigningAlg, IdTokenPlan)>,
    /// The refresh token to send and the row that stores its hash.
    pub refresh: Option<(String, RefreshToken)>,
    expires_in: i64,
}

struct IdTokenPlan {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    auth_time: i64,
    nonce: Option<String>,
    amr: Vec<String>,
    sid: String,
    person: PersonClaims,
}

impl Planned {
    pub(crate) fn access_token_jti(&self) -> &str {
        &self.access_claims.jti
    }

    pub(crate) fn access_token_expires_at(&self) -> i64 {
        self.access_claims.exp
    }

    /// Signs the tokens with the active keys and lets this instance's introspection know the
    /// access token at once.
    pub(crate) fn issue(self, state: &Core) -> Result<TokenResponse, SignError> {
        let keys = state.keyring.current();
        let access_claims = self.access_claims.clone();
        let response = self.sign(&keys, state.access_token_alg)?;
        access_tokens::remember_issued(state, &keys, &response.access_token, access_claims);
        Ok(response)
    }

    /// Signs the tokens: the access token, then the ID token bound to it by `at_hash`.
    fn sign(self, keys: &KeySet, access_token_alg: SigningAlg) -> Result<TokenResponse, SignError> {
        let access_token = jwt::sign(
            keys,
            access_token_alg,
            jwt::ACCESS_TOKEN_TYP,
            &AccessTokenWithEntitlements {
                claims: &self.access_claims,
                entitlements: self.access_entitlements.as_ref(),
            },
        )?;
        let id_token = match &self.id_token {
            Some((alg, plan)) => {
                let claims = IdTokenClaims {
                    iss: &plan.iss,
                    sub: &plan.sub,
                    aud: &plan.aud,
                    exp: plan.exp,
                    iat: plan.iat,
                    auth_time: plan.auth_time,
                    nonce: plan.nonce.as_deref(),
                    amr: &plan.amr,
                    sid: &plan.sid,
                    at_hash: at_hash(&access_token),
                    person: plan.person.clone(),
                };
                Some(jwt::sign(keys, *alg, jwt::ID_TOKEN_TYP, &claims)?)
            }
            None => None,
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.expires_in,
            scope: self.access_claims.scope,
            id_token,
            refresh_token: self.refresh.map(|(token, _)| token),
        })
    }
}

/// RFC 9068 claims, plus the entitlement claims (docs/entitlements.md) when the scope asks for them.
#[derive(Serialize)]
struct AccessTokenWithEntitlements<'a> {
    #[serde(flatten)]
    claims: &'a AccessTokenClaims,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    entitlements: Option<&'a AccessTokenEntitlements>,
}

fn scope_list(scope: &str) -> Vec<&str> {
    scope.split(' ').filter(|scope| !scope.is_empty()).collect()
}

/// Decides the tokens for `authorization`: claims, lifetimes and, when `offline_access` was
/// granted and the client may refresh, the refresh token and its row. With the scope
/// `entitlements`, the person's current entitlements are read here, in the caller's
/// transaction, which also records the access token so that whatever ends its session,
/// device sign-in or app access can revoke it.
pub(crate) fn plan(
    state: &Core,
    conn: &mut DbConnection,
    client: &Client,
    authorization: &Authorization,
    now: i64,
) -> Result<Planned, StoreError> {
    let user = &authorization.user;
    let access_scopes = scope_list(&authorization.access_scope);
    let entitlements: Option<Entitlements> = access_scopes
        .contains(&scopes::ENTITLEMENTS)
        .then(|| compute(conn, &user.id, now))
        .transpose()?;
    let access_entitlements = entitlements
        .as_ref()
        .map(|entitlements| AccessTokenEntitlements::new(entitlements, state.config.ppv_claim_cap));
    let profile = authorization
        .profile
        .as_ref()
        .filter(|_| access_scopes.contains(&scopes::PROFILES));
    let access_claims = AccessTokenClaims {
        iss: state.issuer.clone(),
        sub: user.id.clone(),
        aud: state.audience.clone(),
        exp: now + state.config.access_token_ttl_secs,
        iat: now,
        jti: random::token::<16>(),
        client_id: client.client_id.clone(),
        scope: authorization.access_scope.clone(),
        profile: profile.map(|profile| profile.id.clone()),
        maturity: profile.map(|profile| profile.maturity.clone()),
    };
    issued_tokens::record(
        conn,
        &IssuedAccessToken {
            jti: access_claims.jti.clone(),
            user_id: user.id.clone(),
            client_id: client.client_id.clone(),
            sid: authorization.sid.clone(),
            created_at: now,
            expires_at: access_claims.exp,
        },
    )?;
    let id_token = access_scopes.contains(&scopes::OPENID).then(|| {
        let alg = SigningAlg::parse(&client.id_token_alg).unwrap_or(SigningAlg::Rs256);
        let plan = IdTokenPlan {
            iss: state.issuer.clone(),
            sub: user.id.clone(),
            aud: client.client_id.clone(),
            exp: now + state.config.id_token_ttl_secs,
            iat: now,
            auth_time: authorization.auth_time,
            nonce: authorization.nonce.clone(),
            amr: authorization.amr.clone(),
            sid: authorization.sid.clone(),
            person: PersonClaims::for_scopes(user, &access_scopes, entitlements.as_ref())
                .with_profile(&access_scopes, profile),
        };
        (alg, plan)
    });
    let refresh_due = scope_list(&authorization.scope).contains(&scopes::OFFLINE_ACCESS)
        && client.allows_grant(GRANT_REFRESH_TOKEN);
    let refresh = refresh_due.then(|| {
        let token = authorization
            .refresh_token
            .clone()
            .unwrap_or_else(random::token::<32>);
        let row = RefreshToken {
            token_hash: hashing::sha256_hex(token.as_bytes()),
            family_id: authorization
                .family_id
                .clone()
                .unwrap_or_else(random::token::<16>),
            client_id: client.client_id.clone(),
            user_id: user.id.clone(),
            sid: authorization.sid.clone(),
            code_hash: authorization.code_hash.clone(),
            scope: authorization.scope.clone(),
            auth_time: authorization.auth_time,
            amr: authorization.amr.clone(),
            created_at: now,
            expires_at: now + state.config.refresh_token_ttl_secs,
            rotated_at: None,
            revoked_at: None,
            access_token: Some((access_claims.jti.clone(), access_claims.exp)),
            profile_id: authorization.profile.as_ref().map(|profile| profile.id.clone()),
        };
        (token, row)
    });
    Ok(Planned {
        access_claims,
        access_entitlements,
        id_token,
        refresh,
        expires_in: state.config.access_token_ttl_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_sha256_of_the_token() {
        // OIDC Core's example token and at_hash (§A.3, RS256, SHA-256).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
