//! The audit log: every administrative change, newest first, filtered by actor, person,
//! action and dates, 50 to a page.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use url::form_urlencoded;

use crate::foundation::store::entitlements::{self as store, AuditEntry, AuditFilter};
use crate::foundation::store::{StoreError, users};
use crate::foundation::time::format_utc;
use crate::foundation::time::rfc3339;
use crate::web::dashboard::Admin;
use crate::web::dashboard::{Problem, SignedInAs, render_with};
use crate::web::form::query_param;
use crate::web::i18n::PageText;
use crate::web::pages::PageError;
use crate::web::state::AppState;

const PAGE_SIZE: i64 = 50;

/// The filter form as typed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filters {
    pub actor: String,
    pub person: String,
    pub action: String,
    pub from: String,
    pub to: String,
}

impl Filters {
    fn from_request(request: &HttpRequest) -> Self {
        let field = |name: &str| query_param(request, name).unwrap_or_default().trim().to_owned();
        Self {
            actor: field("actor"),
            person: field("person"),
            action: field("action"),
            from: field("from"),
            to: field("to"),
        }
    }

    fn is_empty(&self) -> bool {
        [&self.actor, &self.person, &self.action, &self.from, &self.to]
            .iter()
            .all(|text| text.is_empty())
    }

    /// The query string of these filters, with `older` when given.
    fn query(&self, older: Option<&str>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("actor", &self.actor),
            ("person", &self.person),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        if let Some(older) = older {
            query.append_pair("older", older);
        }
        query.finish()
    }
}

/// One entry as the table shows it.
pub(crate) struct Row {
    pub when: String,
    pub iso: String,
    /// The actor as the log names it.
    pub actor: String,
    /// An administrator's email, when the actor is one known.
    pub actor_email: Option<String>,
    pub action: String,
    /// The person's id and how they are named (their email when known).
    pub person: Option<(String, String)>,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct ListPage {
    t: PageText,
    section: &'static str,
    signed_in_as: SignedInAs,
    notice: Option<&'static str>,
    problem: Option<String>,
    filters: Filters,
    filtered: bool,
    rows: Vec<Row>,
    /// The link to the next (older) page, when there is one.
    older: Option<String>,
    /// The link back to the newest entries, on an older page.
    newest: Option<String>,
}

/// A `YYYY-MM-DD` date as Unix seconds at its start, UTC.
fn day_start(refusal: &'static str, date: &str) -> Result<Option<i64>, Problem> {
    if date.is_empty() {
        return Ok(None);
    }
    let valid = date.len() == 10 && date.bytes().all(|byte| byte.is_ascii_digit() || byte == b'-');
    valid
        .then(|| rfc3339::parse(&format!("{date}T00:00:00Z")))
        .flatten()
        .map(Some)
        .ok_or(Problem::Said(refusal))
}

/// `at.id` of the entry a page ended with.
fn parse_cursor(text: &str) -> Option<(i64, i64)> {
    let (at, id) = text.split_once('.')?;
    Some((at.parse().ok()?, id.parse().ok()?))
}

/// What the typed filters mean for the store, or what is wrong with them. A person or an
/// actor given by email is looked up; `Ok(None)`: an email nobody has, so nothing matches.
fn resolve(
    conn: &mut crate::foundation::store::DbConnection,
    filters: &Filters,
) -> Result<Result<Option<AuditFilter>, Problem>, StoreError> {
    let since = match day_start("dash-audit-from-date", &filters.from) {
        Ok(since) => since,
        Err(message) => return Ok(Err(message)),
    };
    let until = match day_start("dash-audit-to-date", &filters.to) {
        // The whole last day.
        Ok(until) => until.map(|start| start + 86_400),
        Err(message) => return Ok(Err(message)),
    };
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        return Ok(Err(Problem::Said("dash-audit-to-before-from")));
    }
    let mut by_email = |text: &str| -> Result<Option<Option<String>>, StoreError> {
        if !text.contains('@') {
            return Ok(None);
        }
        let email = text.trim().to_lowercase();
        Ok(Some(users::find_by_email(conn, &email)?.map(|user| user.id)))
    };
    let user_id = match by_email(&filters.person)? {
        Some(Some(id)) => Some(id),
        Some(None) => return Ok(Ok(None)),
        None => (!filters.person.is_empty()).then(|| filters.person.clone()),
    };
    let actor = match by_email(&filters.actor)? {
        Some(Some(id)) => Some(format!("admin:{id}")),
        Some(None) => return Ok(Ok(None)),
        None => (!filters.actor.is_empty()).then(|| filters.actor.clone()),
    };
    Ok(Ok(Some(AuditFilter {
        actor,
        user_id,
        action: (!filters.action.is_empty()).then(|| filters.action.clone()),
        since,
        until,
        before_id: None,
        limit: PAGE_SIZE + 1,
    })))
}

/// The email of an administrator actor, who a reader knows by it.
fn actor_email(actor: &str, emails: &HashMap<String, String>) -> Option<String> {
    actor
        .strip_prefix("admin:")
        .and_then(|id| emails.get(id))
        .cloned()
}

/// `GET /admin/audit`.
pub(crate) async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: Admin,
) -> Result<HttpResponse, PageError> {
    let filters = Filters::from_request(&request);
    let older_text = query_param(&request, "older");
    let older_than = older_text.as_deref().and_then(parse_cursor);
    let lookup = filters.clone();
    let (outcome, emails) = state
        .store
        .run(move |conn| {
            let entries = match resolve(conn, &lookup)? {
                Ok(Some(filter)) => Ok(store::list_audit_page(conn, &filter, older_than)?),
                Ok(None) => Ok(Vec::new()),
                Err(message) => Err(message),
            };
            let mut people: Vec<String> = Vec::new();
            for entry in entries.iter().flatten() {
                let admin = entry.actor.strip_prefix("admin:");
                for id in entry.user_id.as_deref().into_iter().chain(admin) {
                    if !people.iter().any(|known| known == id) {
                        people.push(id.to_owned());
                    }
                }
            }
            let emails = store::emails_of(conn, &people)?;
            Ok::<_, StoreError>((entries, emails))
        })
        .await?;
    let (status, problem, mut entries) = match outcome {
        Ok(entries) => (StatusCode::OK, None, entries),
        Err(message) => (StatusCode::UNPROCESSABLE_ENTITY, Some(message), Vec::new()),
    };
    let more = entries.len() > usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    entries.truncate(usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX));
    let older = entries.last().filter(|_| more).map(|last| {
        format!(
            "/admin/audit?{}",
            filters.query(Some(&format!("{}.{}", last.at, last.id)))
        )
    });
    let newest = older_text.is_some().then(|| match filters.query(None).as_str() {
        "" => "/admin/audit".to_owned(),
        query => format!("/admin/audit?{query}"),
    });
    let rows = entries
        .into_iter()
        .map(|entry: AuditEntry| Row {
            when: format_utc(entry.at),
            iso: rfc3339::format(entry.at),
            actor_email: actor_email(&entry.actor, &emails),
            actor: entry.actor,
            action: entry.action,
            person: entry.user_id.map(|id| {
                let label = emails.get(&id).cloned().unwrap_or_else(|| id.clone());
                (id, label)
            }),
            target: entry.target,
            before: entry.before,
            after: entry.after,
        })
        .collect();
    let t = admin.text();
    let page = ListPage {
        problem: problem.map(|problem: Problem| problem.said(&t)),
        t,
        section: "audit",
        signed_in_as: admin.signed_in_as(),
        notice: None,
        filtered: !filters.is_empty(),
        filters,
        rows,
        older,
        newest,
    };
    render_with(admin, status, &page)
}
