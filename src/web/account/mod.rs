//! The signed-in person's account page: their profile, the apps they allowed, the devices
//! they are signed in on and the streams playing on their account, each of which they can
//! take back or stop here.
//!
//! Handlers only read the form, check CSRF and the session, and answer; what each action
//! does lives in plain functions that take the connection and `now`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::domain::AdminError;
use crate::domain::entitlements::cache;
use crate::domain::identity::account;
use crate::domain::identity::devices::{self, DeviceKind, SignedInDevice};
use crate::domain::identity::session::{self, SignedIn};
use crate::domain::identity::users as admin_users;
use crate::domain::oauth::parameters::Parameters;
use crate::domain::streams::{self, StopBy};
use crate::foundation::i18n::Locale;
use crate::foundation::store::{DbConnection, StoreError, consents};
use crate::foundation::time::Dates;
use crate::web::csrf;
use crate::web::extractors::{PageForm, Visitor};
use crate::web::form::Form;
use crate::web::i18n::Words;
use crate::web::login::pages::with_csrf_cookie;
use crate::web::oauth::authorize::describe_scope;
use crate::web::pages::{self, PageError};
use crate::web::paths;
use crate::web::session_cookie;
use crate::web::state::AppState;

pub(crate) mod household;
pub(crate) mod passkeys;
pub(crate) mod profiles;
pub(crate) mod time_zone;
pub(crate) mod totp;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    /// The page's language.
    pub t: crate::web::i18n::PageText,
    csrf: String,
    /// What the last change did, as a message id.
    notice: Option<&'static str>,
    name: Option<String>,
    email: String,
    overview: Overview,
    two_step: Option<totp::TwoStep>,
    passkeys: Vec<passkeys::PasskeyListing>,
    profiles: Vec<profiles::ProfileListing>,
    /// How many profiles the plan allows.
    max_profiles: i32,
    maturities: Vec<(&'static str, String)>,
    /// Whether passkeys can be added here (the relying party is set up).
    passkeys_on: bool,
    /// This browser's device, the suggested name of a new passkey.
    device: String,
    has_password: bool,
    family: Option<household::FamilySection>,
    /// The zones to choose from, the page's own selected.
    time_zones: Vec<time_zone::ZoneChoice>,
    /// The zone the page's dates are in.
    shown_zone: String,
    /// Whether the account has a zone; until it has, the browser reports its own.
    has_time_zone: bool,
}

/// What the account page lists besides the profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Overview {
    pub apps: Vec<AppAccess>,
    pub devices: Vec<Device>,
    pub watching: Vec<Watching>,
}

/// A stream playing on the account, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Watching {
    pub stream_id: String,
    pub device_id: String,
    pub content: Option<String>,
    pub started: String,
}

/// An app the person allowed, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AppAccess {
    pub client_id: String,
    pub name: String,
    pub permissions: Vec<&'static str>,
    pub granted: String,
}

/// A live session, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Device {
    pub sid: String,
    pub description: String,
    pub signed_in: String,
    pub last_active: String,
    /// When it was last active (Unix seconds), for the order of the list.
    pub last_active_at: i64,
    pub current: bool,
}

/// The person's allowed apps and live sessions, in the words and time zone of `dates`;
/// `current_sid` is the session looking.
pub(crate) fn overview(
    conn: &mut DbConnection,
    user_id: &str,
    current_sid: &str,
    now: i64,
    dates: &Dates,
) -> Result<Overview, StoreError> {
    let apps = consents::list_for_user(conn, user_id)?
        .into_iter()
        .map(|app| AppAccess {
            permissions: app
                .scopes
                .iter()
                .filter_map(|scope| describe_scope(scope))
                .collect(),
            client_id: app.client_id,
            name: app.client_name,
            granted: dates.show(app.granted_at),
        })
        .collect();
    let devices = listing(devices::signed_in(conn, user_id, now)?, current_sid, dates);
    let watching = streams::playing(conn, user_id, now)?
        .into_iter()
        .map(|stream| Watching {
            started: dates.show(stream.started_at),
            stream_id: stream.id,
            device_id: stream.device_id,
            content: stream.content,
        })
        .collect();
    Ok(Overview {
        apps,
        devices,
        watching,
    })
}

/// Signed-in devices in words and in the account page's order: browsers named by their
/// `User-Agent`, TVs and consoles signed in through the device grant by their app, as they
/// have no browser to describe. `current_sid` is the session looking; the words are in `dates`'s
/// language.
pub(crate) fn listing(devices: Vec<SignedInDevice>, current_sid: &str, dates: &Dates) -> Vec<Device> {
    let mut listed: Vec<Device> = devices
        .into_iter()
        .map(|device| Device {
            description: match &device.kind {
                DeviceKind::Browser { user_agent } => describe_device(user_agent, dates.locale),
                DeviceKind::Tv { app_name } => dates.locale.with("device-tv-app", "app", app_name),
            },
            signed_in: dates.show(device.signed_in_at),
            last_active: dates.show(device.last_active_at),
            last_active_at: device.last_active_at,
            current: device.sid == current_sid,
            sid: device.sid,
        })
        .collect();
    order_devices(&mut listed);
    listed
}

/// The device in hand first, then browsers and TVs alike by when they were last active,
/// the most recent first.
fn order_devices(devices: &mut [Device]) {
    devices.sort_by_key(|device| (!device.current, std::cmp::Reverse(device.last_active_at)));
}

/// How recently the person must have signed in to change how they sign in (a password, a
/// passkey, two-step sign-in) without proving it again: someone who signed in with a link
/// or a passkey may not know the password.
pub(crate) const PASSWORD_CHANGE_WINDOW_SECS: i64 = 15 * 60;

/// Why a signed-in person may not change how they sign in right now, if they may not: the
/// sign-in is too old, or they had a second factor when they signed in and did not use it (a
/// stolen password must not be enough to add a way in).
pub(crate) async fn credential_change_refused(
    state: &AppState,
    signed_in: &SignedIn,
) -> Result<Option<PageError>, StoreError> {
    let session = &signed_in.session;
    if state.clock.now() - session.auth_time > PASSWORD_CHANGE_WINDOW_SECS {
        return Ok(Some(PageError::said(
            StatusCode::FORBIDDEN,
            "sign-in-again-first",
            Words::Message("sign-in-again-first-lead"),
        )));
    }
    if session.amr.iter().any(|method| method == "mfa") {
        return Ok(None);
    }
    let (user_id, since) = (signed_in.user.id.clone(), session.auth_time);
    let had_second_factor = state
        .store
        .run(move |conn| {
            let passkey_before = crate::foundation::store::passkeys::list_for_user(conn, &user_id)?
                .iter()
                .any(|passkey| passkey.created_at < since);
            let totp_before =
                crate::domain::identity::totp::enabled_since(conn, &user_id)?.is_some_and(|at| at < since);
            Ok::<_, StoreError>(passkey_before || totp_before)
        })
        .await?;
    Ok(had_second_factor.then(|| {
        PageError::said(
            StatusCode::FORBIDDEN,
            "second-factor-first",
            Words::Message("second-factor-first-lead"),
        )
    }))
}

/// A short name for the device behind a `User-Agent` in words of `locale`, such as "Firefox
/// on Windows", "Fire TV" or "curl": products keep their own names.
pub(crate) fn describe_device(user_agent: &str, locale: Locale) -> String {
    if let Some(client) = program(user_agent) {
        return client.in_language(locale);
    }
    if let Some(appliance) = appliance(user_agent) {
        return appliance.to_owned();
    }
    match (browser(user_agent), platform(user_agent)) {
        (Some(browser), Some(platform)) => locale.with_two(
            "device-on",
            ("browser", browser),
            ("platform", &platform.in_language(locale)),
        ),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(platform)) => platform.in_language(locale),
        (None, None) => locale.get("device-unknown"),
    }
}

/// The name a new passkey gets unless the person names it: the device's, less the marks that
/// isolate its parts in right-to-left text, as a name may not hold invisible characters.
pub(crate) fn passkey_name(user_agent: &str, locale: Locale) -> String {
    describe_device(user_agent, locale).replace(['\u{2068}', '\u{2069}'], "")
}

/// A program that is not a browser.
enum Program {
    /// A product, by its name.
    Named(&'static str),
    /// A program written in a language, by the language.
    In(&'static str),
    /// A program written in a language with a library: (language, library).
    InUsing(&'static str, &'static str),
    /// An app, by the library it uses.
    AppUsing(&'static str),
}

impl Program {
    fn in_language(&self, locale: Locale) -> String {
        match self {
            Program::Named(name) => (*name).to_owned(),
            Program::In(name) => locale.with("device-program", "name", name),
            Program::InUsing(name, library) => {
                locale.with_two("device-program-using", ("name", name), ("library", library))
            }
            Program::AppUsing(library) => locale.with("device-app-using", "library", library),
        }
    }
}

/// Programs that are not browsers, named by the product their `User-Agent` starts with.
fn program(user_agent: &str) -> Option<&'static Program> {
    const PROGRAMS: &[(&str, Program)] = &[
        ("curl/", Program::Named("curl")),
        ("Wget/", Program::Named("Wget")),
        ("HTTPie/", Program::Named("HTTPie")),
        ("python-requests/", Program::InUsing("Python", "requests")),
        ("python-httpx/", Program::InUsing("Python", "httpx")),
        ("Python-urllib/", Program::In("Python")),
        ("aiohttp/", Program::InUsing("Python", "aiohttp")),
        ("Go-http-client/", Program::In("Go")),
        ("okhttp/", Program::AppUsing("OkHttp")),
        ("PostmanRuntime/", Program::Named("Postman")),
        ("node-fetch", Program::In("Node.js")),
        ("axios/", Program::InUsing("Node.js", "axios")),
        ("Java/", Program::In("Java")),
    ];
    PROGRAMS
        .iter()
        .find(|(prefix, _)| user_agent.starts_with(prefix))
        .map(|(_, program)| program)
}

/// Streaming players and boxes: their built-in browser engine says nothing to the person, so
/// the box alone names them. Fire TV models are `AFT…`; Chromecasts say `CrKey`.
fn appliance(user_agent: &str) -> Option<&'static str> {
    const APPLIANCES: &[(&[&str], &str)] = &[
        (&["Roku"], "Roku"),
        (&["; AFT", "(AFT"], "Fire TV"),
        (&["AppleTV", "Apple TV", "tvOS"], "Apple TV"),
        (&["GoogleTV", "Google TV"], "Google TV"),
        (&["CrKey"], "Chromecast"),
    ];
    APPLIANCES
        .iter()
        .find(|(markers, _)| markers.iter().any(|marker| user_agent.contains(marker)))
        .map(|(_, name)| *name)
}

/// Browsers built on Chrome or Safari name those too, so the specific ones are tried first.
fn browser(user_agent: &str) -> Option<&'static str> {
    const BROWSERS: &[(&[&str], &str)] = &[
        (&["Edg/", "EdgA/", "EdgiOS/"], "Edge"),
        (&["OPR/", "Opera"], "Opera"),
        (&["SamsungBrowser/"], "Samsung Internet"),
        (&["Firefox/", "FxiOS/"], "Firefox"),
        (&["Chrome/", "CriOS/"], "Chrome"),
        (&["Safari/"], "Safari"),
    ];
    BROWSERS
        .iter()
        .find(|(markers, _)| markers.iter().any(|marker| user_agent.contains(marker)))
        .map(|(_, name)| *name)
}

/// TVs, consoles and phones also name the desktop system they derive from, so they come first.
/// Systems are products, named as they are; a smart TV is named in words.
fn platform(user_agent: &str) -> Option<&'static Words> {
    use std::borrow::Cow::Borrowed;
    const PLATFORMS: &[(&[&str], Words)] = &[
        (
            &["SMART-TV", "SmartTV", "Tizen", "Web0S", "webOS", "Android TV"],
            Words::Message("device-smart-tv"),
        ),
        (&["PlayStation"], Words::Text(Borrowed("PlayStation"))),
        (&["Xbox"], Words::Text(Borrowed("Xbox"))),
        (&["iPhone"], Words::Text(Borrowed("iPhone"))),
        (&["iPad"], Words::Text(Borrowed("iPad"))),
        (&["Android"], Words::Text(Borrowed("Android"))),
        (&["CrOS"], Words::Text(Borrowed("ChromeOS"))),
        (&["Windows"], Words::Text(Borrowed("Windows"))),
        (&["Macintosh", "Mac OS X"], Words::Text(Borrowed("Mac"))),
        (&["Linux"], Words::Text(Borrowed("Linux"))),
    ];
    PLATFORMS
        .iter()
        .find(|(markers, _)| markers.iter().any(|marker| user_agent.contains(marker)))
        .map(|(_, name)| name)
}

/// The line confirming what the action the person came back from did.
fn notice(request: &HttpRequest) -> Option<&'static str> {
    let query = Form::from_urlencoded(request.query_string()).ok()?;
    match query.get("done")? {
        "name" => Some("notice-name"),
        "time-zone" => Some("notice-time-zone"),
        "app" => Some("notice-app"),
        "session" => Some("notice-session"),
        "stream" => Some("notice-stream"),
        "totp-off" => Some("notice-totp-off"),
        "passkey-added" => Some("notice-passkey-added"),
        "passkey-removed" => Some("notice-passkey-removed"),
        "password" => Some("notice-password"),
        "profile-added" => Some("notice-profile-added"),
        "profile-saved" => Some("notice-profile-saved"),
        "profile-deleted" => Some("notice-profile-deleted"),
        other => household::notice(other),
    }
}

/// The person a posted form acts for; the form's CSRF token was checked before
/// ([`PageForm`]), so a forged post learns nothing, not even whether anyone is signed in.
pub(crate) async fn form_author(
    state: &AppState,
    request: &HttpRequest,
    _checked: &PageForm,
) -> Result<Option<SignedIn>, PageError> {
    Ok(session_cookie::current(state, request).await?)
}

fn signed_out_to_login(state: &AppState) -> Result<HttpResponse, PageError> {
    let mut response = pages::see_other(paths::LOGIN);
    pages::add_cookie(&mut response, &session_cookie::removal(state))?;
    Ok(response)
}

/// `GET /account`.
pub(crate) async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    Visitor(visitor): Visitor,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = visitor else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let now = state.clock.now();
    let t = crate::web::i18n::page_for(&state, &request, signed_in.user.locale.as_deref());
    let saved_zone = signed_in.user.time_zone.as_deref();
    let locale = t.locale;
    let dates = time_zone::dates(locale, &request, saved_zone);
    let (time_zones, shown_zone) = (time_zone::choices(&dates.zone), dates.zone.name().to_owned());
    let (user_id, sid) = (signed_in.user.id.clone(), signed_in.session.sid.clone());
    let (overview, two_step, passkeys, profile_listing, family) = state
        .store
        .run(move |conn| {
            Ok::<_, StoreError>((
                overview(conn, &user_id, &sid, now, &dates)?,
                totp::two_step(conn, &user_id, &dates)?,
                passkeys::list(conn, &user_id, &dates)?,
                profiles::list(conn, &user_id)?,
                household::section(conn, &user_id, now, &dates)?,
            ))
        })
        .await?;
    let max_profiles = cache::current(&state.core, &signed_in.user.id)
        .await?
        .entitlements
        .max_profiles;
    let device = passkey_name(crate::web::form::user_agent(&request), locale);
    let token = csrf::token(&state, &request);
    let page = AccountPage {
        t,
        csrf: token.token.clone(),
        has_time_zone: signed_in.user.time_zone.is_some(),
        time_zones,
        shown_zone,
        notice: notice(&request),
        has_password: signed_in.user.password_hash.is_some(),
        name: signed_in.user.name,
        email: signed_in.user.email,
        overview,
        two_step,
        passkeys,
        profiles: profile_listing,
        max_profiles,
        maturities: profiles::maturity_choices(locale),
        passkeys_on: state.passkeys.is_some(),
        device,
        family,
    };
    with_csrf_cookie(pages::render(StatusCode::OK, &page)?, token)
}

/// `POST /account/profile`.
pub(crate) async fn save_profile(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let raw_name = form.get("name").unwrap_or_default().to_owned();
    let renamed = state
        .store
        .run(move |conn| account::rename(conn, &signed_in.user.id, &raw_name))
        .await;
    match renamed {
        Ok(()) => Ok(pages::see_other("/account?done=name")),
        Err(AdminError::Invalid { .. }) => Err(PageError::said(
            StatusCode::UNPROCESSABLE_ENTITY,
            "choose-another-name",
            Words::Message("name-hidden-characters"),
        )),
        Err(AdminError::Store(error)) => Err(error.into()),
        Err(other) => Err(PageError::internal(&other)),
    }
}

/// `POST /account/apps/revoke`.
pub(crate) async fn revoke_app(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let client_id = form.require("client_id")?.to_owned();
    let worker_state = Arc::clone(&state.core);
    state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            account::remove_app(&worker_state, conn, &signed_in.user.id, &client_id, now)
        })
        .await?;
    Ok(pages::see_other("/account?done=app"))
}

/// `POST /account/sessions/end`: signing out one device, possibly this one.
pub(crate) async fn end_one_session(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let sid = form.require("sid")?.to_owned();
    let is_current = sid == signed_in.session.sid;
    let worker_state = Arc::clone(&state.core);
    let ended = state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            account::end_session(&worker_state, conn, &signed_in.user.id, &sid, now)
        })
        .await?;
    match (ended, is_current) {
        (true, true) => signed_out_to_login(&state),
        (true, false) => Ok(pages::see_other("/account?done=session")),
        // Already over, or not theirs: nothing to confirm.
        (false, _) => Ok(pages::see_other(paths::ACCOUNT)),
    }
}

/// `POST /account/streams/stop`: stopping what plays on one device; its player stops at its
/// next heartbeat.
pub(crate) async fn stop_stream(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let stream_id = form.require("stream_id")?.to_owned();
    let core = Arc::clone(&state.core);
    let stopped = state
        .store
        .run(move |conn| {
            let now = core.clock.now();
            let by = StopBy::Viewer(&signed_in.user.id);
            streams::stop(conn, &core.streams, by, &stream_id, now)
        })
        .await?;
    if stopped {
        Ok(pages::see_other("/account?done=stream"))
    } else {
        // Already over, or not theirs: nothing to confirm.
        Ok(pages::see_other(paths::ACCOUNT))
    }
}

/// `POST /account/sessions/end-all`.
pub(crate) async fn end_every_session(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    let worker_state = Arc::clone(&state.core);
    state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            session::end_all(worker_state.local_views(), conn, &signed_in.user.id, now)
        })
        .await?;
    signed_out_to_login(&state)
}

/// `POST /account/password`: set or change the password, soon after signing in.
pub(crate) async fn set_password(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: PageForm,
) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = form_author(&state, &request, &form).await? else {
        return Ok(pages::see_other(paths::LOGIN));
    };
    if let Some(refusal) = credential_change_refused(&state, &signed_in).await? {
        return Err(refusal);
    }
    let password = form.get("password").unwrap_or_default().to_owned();
    let hashed = state
        .password_lane
        .run(move || admin_users::hash_new_password(&password))
        .await?;
    let Ok(password_hash) = hashed else {
        return Err(PageError::said(
            StatusCode::UNPROCESSABLE_ENTITY,
            "choose-a-longer-password",
            Words::Message("password-too-short"),
        ));
    };
    let (worker_state, author) = (Arc::clone(&state.core), signed_in.clone());
    state
        .store
        .run(move |conn| {
            let now = worker_state.clock.now();
            account::change_password(&worker_state, conn, &author, &password_hash, now)
        })
        .await?;
    crate::domain::identity::notices::credential_changed(
        &state,
        &signed_in.user,
        crate::domain::identity::notices::AccountChange::PasswordChanged,
        Some(crate::web::i18n::locale(&state, &request, None)),
    );
    Ok(pages::see_other("/account?done=password"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_by_browser_and_system() {
        let cases = [
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
                "Firefox on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
                "Edge on Mac",
            ),
            (
                "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
                "Samsung Internet on Smart TV",
            ),
            ("Roku/DVP-9.10 (519.10E04111A)", "Roku"),
            (
                "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/86.0.4240.198 Mobile Safari/537.36",
                "Fire TV",
            ),
            (
                "AppleCoreMedia/1.0.0.17K449 (Apple TV; U; CPU OS 13_0 like Mac OS X; en_us)",
                "Apple TV",
            ),
            ("AppleTV11,1/11.1", "Apple TV"),
            (
                "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.141 Safari/537.36 CrKey/1.56.500000 DeviceType/Chromecast",
                "Chromecast",
            ),
            (
                "Mozilla/5.0 (Linux; Android 12.0; Build/STTL.240206.002) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 CrKey/1.56.500000 DeviceType/AndroidTV",
                "Chromecast",
            ),
            ("curl/8.5.0", "curl"),
            ("python-requests/2.31.0", "Python program (requests)"),
            ("Go-http-client/1.1", "Go program"),
            ("Wget/1.21.4", "Wget"),
            ("usher-tests/1.0", "Unknown device"),
            ("", "Unknown device"),
        ];
        for (user_agent, expected) in cases {
            assert_eq!(
                describe_device(user_agent, Locale::default()),
                expected,
                "{user_agent}"
            );
        }
    }

    #[test]
    fn a_device_in_urdu_names_a_passkey_with_a_plain_name() {
        let Some(urdu) = Locale::parse("ur") else {
            panic!("Urdu is supported");
        };
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(
            describe_device(firefox, urdu),
            "\u{2068}Windows\u{2069} پر \u{2068}Firefox\u{2069}"
        );
        let name = passkey_name(firefox, urdu);
        assert_eq!(name, "Windows پر Firefox");
        assert!(crate::foundation::text::is_plain_name(&name));
    }

    fn device(sid: &str, last_active_at: i64, current: bool) -> Device {
        Device {
            sid: sid.to_owned(),
            description: String::new(),
            signed_in: String::new(),
            last_active: String::new(),
            last_active_at,
            current,
        }
    }

    #[test]
    fn devices_list_this_one_first_then_the_most_recently_active() {
        let mut devices = vec![
            device("browser-old", 100, false),
            device("browser-here", 50, true),
            device("browser-recent", 300, false),
            device("tv-recent", 400, false),
            device("tv-old", 10, false),
        ];
        order_devices(&mut devices);
        let order: Vec<&str> = devices.iter().map(|device| device.sid.as_str()).collect();
        assert_eq!(
            order,
            [
                "browser-here",
                "tv-recent",
                "browser-recent",
                "browser-old",
                "tv-old"
            ]
        );
    }
}
