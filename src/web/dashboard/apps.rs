//! Apps (OAuth clients): list, register, rotate a secret, disable. The same service functions
//! as `usher client create` ([`crate::domain::oauth::clients`]), audited with the administrator as
//! the actor; a secret is shown once, on the page answering the form, and never logged.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::AdminError;
use crate::domain::oauth::clients::{self as service, CreatedClient, NewClient};
use crate::domain::oauth::scopes;
use crate::foundation::store::StoreError;
use crate::foundation::store::clients::{self as store, Client};
use crate::foundation::time::format_utc;
use crate::web::dashboard::{Admin, Notice, Problem, SignedInAs, done, notice, render, render_with};
use crate::web::extractors::AdminForm;
use crate::web::form::Form;
use crate::web::i18n::PageText;
use crate::web::pages::PageError;
use crate::web::state::AppState;

/// A registered client as the list shows it.
pub(crate) struct AppRow {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub first_party: bool,
    pub verified: bool,
    pub resource_server: bool,
    pub pkce_optional: bool,
    pub grant_types: Vec<String>,
    pub scopes: String,
    pub redirect_uris: Vec<String>,
    pub created: String,
    pub disabled: Option<String>,
}

impl From<Client> for AppRow {
    fn from(client: Client) -> Self {
        Self {
            public: client.is_public(),
            first_party: client.first_party,
            verified: client.verified,
            resource_server: client.resource_server,
            pkce_optional: client.pkce_optional,
            scopes: client.scopes.join(" "),
            created: format_utc(client.created_at),
            disabled: client.disabled_at.map(format_utc),
            client_id: client.client_id,
            name: client.name,
            grant_types: client.grant_types,
            redirect_uris: client.redirect_uris,
        }
    }
}

/// A grant type the register form offers as a checkbox.
pub(crate) struct GrantChoice {
    /// The form field: a form may not repeat a name, so each grant type has its own.
    pub field: String,
    pub grant_type: &'static str,
    /// The message naming it.
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "admin/apps.html")]
struct ListPage {
    t: PageText,
    section: &'static str,
    signed_in_as: SignedInAs,
    notice: Option<&'static str>,
    problem: Option<String>,
    csrf: String,
    apps: Vec<AppRow>,
    draft: Draft,
    grants: Vec<GrantChoice>,
    default_scopes: String,
}

#[derive(Template)]
#[template(path = "admin/app_secret.html")]
struct SecretPage {
    t: PageText,
    section: &'static str,
    signed_in_as: SignedInAs,
    notice: Option<&'static str>,
    problem: Option<String>,
    name: String,
    client_id: String,
    client_secret: Option<String>,
    /// Whether the app was just registered (else its secret was replaced).
    registered: bool,
}

/// The register form's fields as typed.
#[derive(Clone, Debug)]
pub(crate) struct Draft {
    pub name: String,
    pub redirect_uris: String,
    pub grant_types: Vec<String>,
    pub scopes: String,
    pub public: bool,
    pub first_party: bool,
    pub verified: bool,
    pub logo_uri: String,
    pub resource_server: bool,
    pub pkce_optional: bool,
    pub id_token_alg: String,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            name: String::new(),
            redirect_uris: String::new(),
            grant_types: vec![
                service::GRANT_AUTHORIZATION_CODE.to_owned(),
                service::GRANT_REFRESH_TOKEN.to_owned(),
            ],
            scopes: String::new(),
            public: false,
            first_party: false,
            verified: false,
            logo_uri: String::new(),
            resource_server: false,
            pkce_optional: false,
            id_token_alg: "RS256".to_owned(),
        }
    }
}

/// The form field of a grant type's checkbox: `grant_` and its last word.
fn grant_field(grant_type: &str) -> String {
    let word = grant_type.rsplit(':').next().unwrap_or(grant_type);
    format!("grant_{word}")
}

/// The message naming a grant type the form offers.
fn grant_label(grant_type: &str) -> &'static str {
    match grant_type {
        service::GRANT_AUTHORIZATION_CODE => "dash-apps-grant-authorization-code",
        service::GRANT_REFRESH_TOKEN => "dash-apps-grant-refresh-token",
        service::GRANT_CLIENT_CREDENTIALS => "dash-apps-grant-client-credentials",
        _ => "dash-apps-grant-device-code",
    }
}

impl Draft {
    fn from_form(form: &Form<'_>) -> Self {
        let field = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
        let checked = |name: &str| form.get(name).is_some();
        Self {
            name: field("name"),
            redirect_uris: field("redirect_uris"),
            grant_types: service::known_grant_types()
                .iter()
                .filter(|grant| checked(&grant_field(grant)))
                .map(|grant| (*grant).to_owned())
                .collect(),
            scopes: field("scopes"),
            public: checked("public"),
            first_party: checked("first_party"),
            verified: checked("verified"),
            logo_uri: field("logo_uri"),
            resource_server: checked("resource_server"),
            pkce_optional: checked("pkce_optional"),
            id_token_alg: field("id_token_alg"),
        }
    }

    fn grant_choices(&self) -> Vec<GrantChoice> {
        service::known_grant_types()
            .iter()
            .map(|grant| GrantChoice {
                field: grant_field(grant),
                grant_type: grant,
                label: grant_label(grant),
                checked: self.grant_types.iter().any(|chosen| chosen == grant),
            })
            .collect()
    }

    /// The service's input, or what is wrong before asking it.
    fn input(&self) -> Result<NewClient, Problem> {
        if self.grant_types.is_empty() {
            return Err(Problem::Said("dash-apps-grant-types-none"));
        }
        Ok(NewClient {
            name: self.name.clone(),
            redirect_uris: self
                .redirect_uris
                .lines()
                .map(str::trim)
                .filter(|uri| !uri.is_empty())
                .map(str::to_owned)
                .collect(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: self.grant_types.clone(),
            scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            public: self.public,
            first_party: self.first_party,
            id_token_alg: (!self.id_token_alg.is_empty()).then(|| self.id_token_alg.clone()),
            resource_server: self.resource_server,
            pkce_optional: self.pkce_optional,
            logo_uri: (!self.logo_uri.is_empty()).then(|| self.logo_uri.clone()),
            verified: self.verified,
        })
    }
}

/// A refusal of the client service as the page says it.
fn refusal(error: AdminError) -> Result<Problem, PageError> {
    match error {
        AdminError::Invalid { field, message } => Ok(Problem::field(field, message)),
        AdminError::Conflict(message) => Ok(Problem::Service(message)),
        other => Err(PageError::internal(&other)),
    }
}

async fn list_page(
    state: &AppState,
    admin: Admin,
    status: StatusCode,
    notice: Option<&'static str>,
    problem: Option<Problem>,
    draft: Draft,
) -> Result<HttpResponse, PageError> {
    let apps = state.store.run(store::list).await?;
    let t = admin.text();
    let page = ListPage {
        problem: problem.map(|problem| problem.said(&t)),
        t,
        section: "apps",
        signed_in_as: admin.signed_in_as(),
        notice,
        csrf: admin.csrf_value(),
        apps: apps.into_iter().map(AppRow::from).collect(),
        grants: draft.grant_choices(),
        draft,
        default_scopes: scopes::default_client_scopes().join(" "),
    };
    render_with(admin, status, &page)
}

fn secret_page(
    admin: Admin,
    name: String,
    created: CreatedClient,
    registered: bool,
) -> Result<HttpResponse, PageError> {
    let page = SecretPage {
        t: admin.text(),
        section: "apps",
        signed_in_as: admin.signed_in_as(),
        notice: None,
        problem: None,
        name,
        client_id: created.client_id,
        client_secret: created.client_secret,
        registered,
    };
    render(admin, &page)
}

/// `GET /admin/apps`.
pub(crate) async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: Admin,
) -> Result<HttpResponse, PageError> {
    list_page(
        &state,
        admin,
        StatusCode::OK,
        notice(&request),
        None,
        Draft::default(),
    )
    .await
}

/// `POST /admin/apps`: registers an app and shows its secret once.
pub(crate) async fn register(
    state: web::Data<AppState>,
    _request: HttpRequest,
    AdminForm { admin, form }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let draft = Draft::from_form(&form);
    let new = match draft.input() {
        Ok(new) => new,
        Err(message) => {
            return list_page(
                &state,
                admin,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(message),
                draft,
            )
            .await;
        }
    };
    let (actor, now) = (admin.actor(), state.clock.now());
    let created = state
        .store
        .run(move |conn| Ok::<_, StoreError>(service::register(conn, &actor, new, now)))
        .await?;
    match created {
        Ok(created) => secret_page(admin, draft.name, created, true),
        Err(error) => {
            let message = refusal(error)?;
            list_page(
                &state,
                admin,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(message),
                draft,
            )
            .await
        }
    }
}

/// `POST /admin/apps/{id}/rotate`: replaces a confidential app's secret and shows the new
/// one once.
pub(crate) async fn rotate_secret(
    state: web::Data<AppState>,
    _request: HttpRequest,
    id: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let client_id = id.into_inner();
    let (actor, target, now) = (admin.actor(), client_id.clone(), state.clock.now());
    let rotated = state
        .store
        .run(move |conn| {
            // Read first, outside: the transaction starts with the write.
            let Some(client) = store::find(conn, &target)? else {
                return Ok(Ok(None));
            };
            Ok::<_, StoreError>(
                service::rotate_secret(conn, &actor, &client, now)
                    .map(|rotated| rotated.map(|rotated| (client.name.clone(), rotated))),
            )
        })
        .await?;
    // Other instances learn it from the change feed; this one forgets the old secret now.
    state.clients.forget(&client_id);
    match rotated {
        Ok(Some((name, rotated))) => secret_page(admin, name, rotated, false),
        Ok(None) => not_found(&state, admin).await,
        Err(error) => {
            let message = refusal(error)?;
            list_page(
                &state,
                admin,
                StatusCode::CONFLICT,
                None,
                Some(message),
                Draft::default(),
            )
            .await
        }
    }
}

/// `POST /admin/apps/{id}/disable`.
pub(crate) async fn disable(
    state: web::Data<AppState>,
    _request: HttpRequest,
    id: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
) -> Result<HttpResponse, PageError> {
    let client_id = id.into_inner();
    let (actor, target, now) = (admin.actor(), client_id.clone(), state.clock.now());
    let worker_state = Arc::clone(&state.core);
    let disabled = state
        .store
        .run(move |conn| {
            // Read first, outside: the transaction starts with the write.
            let Some(client) = store::find(conn, &target)? else {
                return Ok(Ok(None));
            };
            let disabled = service::disable(
                &worker_state.revoked,
                conn,
                &actor,
                &client,
                now,
                worker_state.config.longest_token_lifetime_secs(),
            );
            Ok::<_, StoreError>(disabled.map(|()| Some(client)))
        })
        .await?;
    state.clients.forget(&client_id);
    match disabled {
        Ok(Some(_)) => Ok(done("/admin/apps", Notice::AppDisabled)),
        Ok(None) => not_found(&state, admin).await,
        Err(error) => {
            let message = refusal(error)?;
            list_page(
                &state,
                admin,
                StatusCode::CONFLICT,
                None,
                Some(message),
                Draft::default(),
            )
            .await
        }
    }
}

async fn not_found(state: &AppState, admin: Admin) -> Result<HttpResponse, PageError> {
    let message = Problem::Said("dash-apps-not-found");
    list_page(
        state,
        admin,
        StatusCode::NOT_FOUND,
        None,
        Some(message),
        Draft::default(),
    )
    .await
}
