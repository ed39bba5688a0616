//! Signing keys: the active key per algorithm, the retired ones still published in the JWKS,
//! and rotation, the same as `usher keys rotate`.

use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde_json::json;

use crate::foundation::crypto::keyring::{self, KeyringError, PublishedKey};
use crate::foundation::store::entitlements::{self as audit_log, NewAuditEntry};
use crate::foundation::store::transaction;
use crate::foundation::time::format_utc;
use crate::web::dashboard::Admin;
use crate::web::dashboard::{Notice, SignedInAs, done, notice, render};
use crate::web::extractors::AdminForm;
use crate::web::i18n::PageText;
use crate::web::i18n::duration;
use crate::web::pages::PageError;
use crate::web::state::AppState;

/// A published key as the page shows it.
pub(crate) struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub created: String,
    pub retired: String,
    pub leaves: String,
    /// Whether this instance signs with it right now.
    pub signing_here: bool,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct ListPage {
    t: PageText,
    section: &'static str,
    signed_in_as: SignedInAs,
    notice: Option<&'static str>,
    problem: Option<String>,
    csrf: String,
    active: Vec<KeyRow>,
    retired: Vec<KeyRow>,
    /// How long a replaced key stays published, in words.
    published_for: String,
}

fn key_row(state: &AppState, key: PublishedKey) -> KeyRow {
    let current = state.keyring.current();
    let signing_here = crate::foundation::crypto::keys::SigningAlg::parse(&key.alg)
        .and_then(|alg| current.active(alg))
        .is_some_and(|active| active.kid == key.kid);
    KeyRow {
        created: format_utc(key.created_at),
        retired: key.retired_at.map(format_utc).unwrap_or_default(),
        leaves: key.publish_until.map(format_utc).unwrap_or_default(),
        signing_here,
        kid: key.kid,
        alg: key.alg,
    }
}

/// `GET /admin/keys`.
pub(crate) async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: Admin,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let keys = state
        .store
        .run(move |conn| keyring::published(conn, now))
        .await
        .map_err(|error| PageError::internal(&error))?;
    // The newest unretired key of each algorithm signs (as [`keyring::KeySet`] decides).
    let mut active: Vec<KeyRow> = Vec::new();
    let mut retired: Vec<KeyRow> = Vec::new();
    for key in keys.into_iter().rev() {
        let replaced = active.iter().any(|row| row.alg == key.alg);
        if key.retired_at.is_none() && !replaced {
            active.push(key_row(&state, key));
        } else {
            retired.push(key_row(&state, key));
        }
    }
    active.sort_by(|a, b| a.alg.cmp(&b.alg));
    let page = ListPage {
        t: admin.text(),
        section: "keys",
        signed_in_as: admin.signed_in_as(),
        notice: notice(&request),
        problem: None,
        csrf: admin.csrf_value(),
        active,
        retired,
        published_for: duration(
            state.config.longest_token_lifetime_secs() + 120,
            super::language(),
        ),
    };
    render(admin, &page)
}

/// `POST /admin/keys/rotate`: new active keys for every algorithm, used here at once; other
/// instances follow through the change feed.
pub(crate) async fn rotate(
    state: web::Data<AppState>,
    _request: HttpRequest,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let (actor, now) = (admin.actor(), state.clock.now());
    let publish_for = state.config.longest_token_lifetime_secs();
    let worker = std::sync::Arc::clone(&state.core);
    state
        .store
        .run(move |conn| {
            // As `usher keys rotate`: refuse to add keys sealed under a master key the other
            // instances may lack, found out by reading the keys there are.
            let master = &worker.master_key;
            keyring::load(conn, master, now)?;
            // The rotation and its audit entry commit together.
            transaction(conn, |conn| {
                let kids = keyring::rotate(conn, master, now, publish_for)?;
                let after = json!({ "active_kids": kids });
                audit_log::audit(
                    conn,
                    &NewAuditEntry {
                        at: now,
                        actor: &actor.0,
                        action: "keys.rotate",
                        user_id: None,
                        target: &kids.join(" "),
                        before: None,
                        after: Some(after.to_string()),
                    },
                )?;
                Ok::<_, KeyringError>(())
            })
        })
        .await
        .map_err(|error| PageError::internal(&error))?;
    // The keys' ids are in the audit log and on the page; the notice stays short.
    let notice = match state.core.reload_keys().await {
        Ok(()) => Notice::KeysRotated,
        Err(error) => {
            tracing::warn!(%error, "reloading signing keys after a rotation failed");
            Notice::KeysRotatedSoon
        }
    };
    Ok(done("/admin/keys", notice))
}
