//! Every route of the server, its middleware, and the answers for unknown paths and methods.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, FromRequest, Handler, HttpResponse, HttpServer, Responder, web};

use crate::domain::identity::{links, passkeys};
use crate::domain::oauth::error::{ErrorCode, OAuthError};
use crate::domain::oauth::metadata;
use crate::foundation::priority;
use crate::web::oauth::{authorize, discovery, introspection, logout, revocation, token, userinfo};
use crate::web::state::AppState;
use crate::web::{
    account, admin_api, brand, cors, dashboard, health, i18n, login, metrics, oauth, pages, paths, streams,
    timeouts,
};

/// The HTTP server over every route, on an already bound listener.
pub(crate) fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
    workers: usize,
    max_form_bytes: usize,
    worker_nice: i32,
) -> std::io::Result<Server> {
    let data = web::Data::from(Arc::clone(&state));
    let metrics_here = state.config.metrics_bind.is_none();
    let server = HttpServer::new(move || {
        // Called on each worker's thread as it starts.
        priority::set_this_thread(Some(worker_nice));
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(max_form_bytes))
            .wrap(from_fn(i18n::localise_errors))
            .wrap(from_fn(brand::allow_brand_style))
            .wrap(from_fn(timeouts::limit_body_time))
            .wrap(from_fn(cors::allow))
            .wrap(from_fn(refuse_nul_in_uri))
            .wrap(from_fn(metrics::track))
            .configure(routes)
            .configure(admin_api::routes)
            .configure(dashboard::routes)
            .configure(|config| {
                if metrics_here {
                    config.service(metrics_endpoint());
                }
            })
            .default_service(web::to(not_found))
    })
    .client_request_timeout(header_timeout(&state))
    .workers(workers);
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls),
        None => server.listen(listener),
    }?;
    Ok(server.run())
}

/// `/metrics` alone, on the listener of `metrics_bind`: plain HTTP, one worker, stopped with
/// the main server rather than by signals of its own.
pub(crate) fn serve_metrics(state: Arc<AppState>, listener: TcpListener) -> std::io::Result<Server> {
    let timeout = header_timeout(&state);
    let data = web::Data::from(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(from_fn(timeouts::limit_body_time))
            .service(metrics_endpoint())
            .default_service(web::to(not_found))
    })
    .client_request_timeout(timeout)
    .workers(1)
    .disable_signals()
    .listen(listener)?;
    Ok(server.run())
}

/// The content servers' routes alone, on the listener of `content_bind`: one worker of its
/// own, running ahead of the public listener's, in short slices or in the real-time class
/// (src/foundation/priority.rs); over TLS when the public listener is; stopped with the main
/// server.
pub(crate) fn serve_content(
    state: Arc<AppState>,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
    max_form_bytes: usize,
) -> std::io::Result<Server> {
    let timeout = header_timeout(&state);
    let real_time = state.config.content_realtime_priority;
    let data = web::Data::from(state);
    let server = HttpServer::new(move || {
        // Called on the worker's thread as it starts.
        prioritise_content_worker(real_time);
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(max_form_bytes))
            .wrap(from_fn(timeouts::limit_body_time))
            .wrap(from_fn(refuse_nul_in_uri))
            .wrap(from_fn(metrics::track))
            .configure(content_routes)
            .default_service(web::to(not_found))
    })
    .client_request_timeout(timeout)
    .workers(1)
    .disable_signals();
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls),
        None => server.listen(listener),
    }?;
    Ok(server.run())
}

/// The real-time class when the operator asked for it (the server checked at start that the
/// kernel grants it), else short slices.
fn prioritise_content_worker(real_time: Option<u8>) {
    if let Some(priority) = real_time {
        match priority::run_in_real_time(priority) {
            Ok(()) => return,
            Err(error) => tracing::warn!(%error, "the content worker stays in the normal class"),
        }
    }
    priority::ask_for_short_slices();
}

fn header_timeout(state: &AppState) -> std::time::Duration {
    std::time::Duration::from_secs(state.config.request_header_timeout_secs)
}

fn metrics_endpoint() -> actix_web::Resource {
    endpoint(paths::METRICS, "metrics", Method::GET, health::metrics)
}

fn method_not_allowed(allow: &'static str) -> impl Fn() -> std::future::Ready<HttpResponse> + Clone {
    move || {
        let mut response = actix_web::ResponseError::error_response(&OAuthError::new(
            ErrorCode::MethodNotAllowed,
            format!("this endpoint accepts {allow}"),
        ));
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        std::future::ready(response)
    }
}

/// No path or query has a use for an encoded NUL, and PostgreSQL refuses it in text: such a
/// request gets a 400 here instead of a database error further in.
async fn refuse_nul_in_uri(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let uri = request.uri();
    let has_nul = uri
        .path_and_query()
        .is_some_and(|target| memchr::memmem::find(target.as_str().as_bytes(), b"%00").is_some());
    if has_nul {
        let error = OAuthError::invalid_request("the address must not contain NUL characters");
        let response = actix_web::ResponseError::error_response(&error);
        return Ok(request.into_response(response).map_into_right_body());
    }
    Ok(next.call(request).await?.map_into_left_body())
}

async fn not_found() -> Result<HttpResponse, OAuthError> {
    Err(OAuthError::new(ErrorCode::NotFound, "no such endpoint"))
}

/// What content servers call: introspection, the stream calls and the JWKS. Served first on
/// the public listener, and alone on `content_bind`'s.
fn content_routes(config: &mut web::ServiceConfig) {
    config
        .service(endpoint(
            metadata::INTROSPECTION_PATH,
            "introspection",
            Method::POST,
            introspection::introspect,
        ))
        .service(endpoint(
            "/streams/{stream_id}/heartbeat",
            "stream_heartbeat",
            Method::POST,
            streams::heartbeat,
        ))
        .service(endpoint(
            metadata::STREAMS_PATH,
            "stream_start",
            Method::POST,
            streams::start,
        ))
        .service(
            resource("/streams/{stream_id}", "stream_stop", "DELETE").route(web::delete().to(streams::stop)),
        )
        .service(endpoint(
            metadata::JWKS_PATH,
            "jwks",
            Method::GET,
            discovery::jwks,
        ));
}

/// Every route of the server. actix tries resources in order, so the hot paths come first.
pub(crate) fn routes(config: &mut web::ServiceConfig) {
    config
        .configure(content_routes)
        .service(endpoint(
            metadata::TOKEN_PATH,
            "token",
            Method::POST,
            token::token,
        ))
        .service(endpoint(
            metadata::REVOCATION_PATH,
            "revocation",
            Method::POST,
            revocation::revoke,
        ))
        .service(endpoint(
            paths::OPENID_CONFIGURATION,
            "openid_configuration",
            Method::GET,
            discovery::openid_configuration,
        ))
        .service(endpoint(
            paths::AUTHORIZATION_SERVER_METADATA,
            "authorization_server",
            Method::GET,
            discovery::authorization_server,
        ))
        .service(get_and_post(
            metadata::USERINFO_PATH,
            "userinfo",
            userinfo::userinfo,
        ))
        .service(get_and_post(
            metadata::AUTHORIZATION_PATH,
            "authorize",
            authorize::authorize,
        ))
        .service(endpoint(
            paths::CONSENT,
            "consent",
            Method::POST,
            authorize::consent,
        ))
        .service(endpoint(
            paths::CHOOSE_PROFILE,
            "choose_profile",
            Method::POST,
            authorize::choose_profile,
        ))
        .service(get_and_post(
            metadata::END_SESSION_PATH,
            "end_session",
            logout::end_session,
        ))
        .service(endpoint(paths::LOGOUT, "logout", Method::POST, logout::confirm))
        .service(page(
            paths::LOGIN,
            "login",
            login::pages::login_form,
            login::pages::login,
        ))
        .service(endpoint(
            paths::LOGIN_CODE,
            "login_code",
            Method::POST,
            login::pages::login_code,
        ))
        .service(endpoint(
            crate::domain::oauth::device::AUTHORIZATION_PATH,
            "device_authorization",
            Method::POST,
            oauth::device::device_authorization,
        ))
        .service(page(
            crate::domain::oauth::device::VERIFICATION_PATH,
            "device",
            oauth::device_pages::show,
            oauth::device_pages::enter,
        ))
        .service(endpoint(
            paths::DEVICE_DECISION,
            "device_decision",
            Method::POST,
            oauth::device_pages::decide,
        ))
        .service(endpoint(
            paths::DEVICE_DEVICES_END,
            "device_devices_end",
            Method::POST,
            oauth::device_pages::sign_out_and_allow,
        ))
        .service(endpoint(
            paths::DEVICE_PROFILE,
            "device_profile",
            Method::POST,
            oauth::device_pages::choose_profile,
        ))
        .service(endpoint(
            paths::LOGIN_DEVICES,
            "login_devices",
            Method::GET,
            login::device_limit::show,
        ))
        .service(endpoint(
            paths::LOGIN_DEVICES_END,
            "login_devices_end",
            Method::POST,
            login::device_limit::sign_out_and_continue,
        ))
        .service(endpoint(
            crate::domain::oauth::device::QR_PATH,
            "device_qr",
            Method::GET,
            oauth::device_pages::qr,
        ))
        .service(endpoint(
            paths::LOGIN_PASSKEY_OPTIONS,
            "login_passkey_options",
            Method::POST,
            login::pages::passkey_options,
        ))
        .service(endpoint(
            paths::LOGIN_PASSKEY,
            "login_passkey",
            Method::POST,
            login::pages::passkey_sign_in,
        ))
        .service(endpoint(
            paths::LOGIN_LINK,
            "login_link",
            Method::POST,
            login::link_pages::send_link,
        ))
        .service(page(
            links::CONTINUE_PATH,
            "login_link_continue",
            login::link_pages::confirm,
            login::link_pages::use_link,
        ))
        .service(endpoint(paths::LANGUAGE, "language", Method::GET, i18n::choose))
        .service(endpoint(
            &format!("{}/{{file}}", paths::BRAND),
            "brand",
            Method::GET,
            brand::logo,
        ))
        .service(endpoint(
            paths::PASSKEYS_SCRIPT,
            "assets",
            Method::GET,
            pages::passkeys_script,
        ))
        .service(endpoint(
            paths::TIME_ZONE_SCRIPT,
            "assets",
            Method::GET,
            account::time_zone::script,
        ))
        .service(endpoint(
            paths::ACCOUNT_PASSKEYS,
            "account_passkeys",
            Method::POST,
            account::passkeys::add,
        ))
        .service(endpoint(
            paths::ACCOUNT_PASSKEYS_OPTIONS,
            "account_passkeys_options",
            Method::POST,
            account::passkeys::options,
        ))
        .service(endpoint(
            paths::ACCOUNT_PASSKEYS_REMOVE,
            "account_passkeys_remove",
            Method::POST,
            account::passkeys::remove,
        ))
        .service(endpoint(
            passkeys::OFFER_PATH,
            "account_passkey_offer",
            Method::GET,
            account::passkeys::offer,
        ))
        .service(endpoint(
            passkeys::SECOND_FACTOR_PATH,
            "account_second_factor",
            Method::GET,
            account::passkeys::second_factor,
        ))
        .service(endpoint(
            paths::ACCOUNT_PASSWORD,
            "account_password",
            Method::POST,
            account::set_password,
        ))
        .service(page(
            paths::SIGNUP,
            "signup",
            login::link_pages::signup_form,
            login::link_pages::signup,
        ))
        .service(endpoint(paths::HOME, "home", Method::GET, crate::web::home::show))
        .service(endpoint(paths::ACCOUNT, "account", Method::GET, account::show))
        .service(endpoint(
            paths::ACCOUNT_FAMILY_INVITE,
            "account_family_invite",
            Method::POST,
            account::household::invite,
        ))
        .service(endpoint(
            paths::ACCOUNT_FAMILY_REMOVE,
            "account_family_remove",
            Method::POST,
            account::household::remove_member,
        ))
        .service(endpoint(
            paths::ACCOUNT_FAMILY_CANCEL,
            "account_family_cancel",
            Method::POST,
            account::household::cancel_invitation,
        ))
        .service(endpoint(
            paths::ACCOUNT_FAMILY_LEAVE,
            "account_family_leave",
            Method::POST,
            account::household::leave,
        ))
        .service(endpoint(
            paths::ACCOUNT_PROFILE,
            "account_profile",
            Method::POST,
            account::save_profile,
        ))
        .service(endpoint(
            paths::ACCOUNT_TIME_ZONE,
            "account_time_zone",
            Method::POST,
            account::time_zone::choose,
        ))
        .service(endpoint(
            paths::ACCOUNT_TIME_ZONE_BROWSER,
            "account_time_zone_browser",
            Method::POST,
            account::time_zone::browser_reported,
        ))
        .service(endpoint(
            paths::ACCOUNT_APPS_REVOKE,
            "account_apps_revoke",
            Method::POST,
            account::revoke_app,
        ))
        .service(endpoint(
            paths::ACCOUNT_SESSIONS_END,
            "account_sessions_end",
            Method::POST,
            account::end_one_session,
        ))
        .service(endpoint(
            paths::ACCOUNT_PROFILES,
            "account_profiles",
            Method::POST,
            account::profiles::add,
        ))
        .service(endpoint(
            paths::ACCOUNT_PROFILES_UPDATE,
            "account_profiles_update",
            Method::POST,
            account::profiles::update,
        ))
        .service(endpoint(
            paths::ACCOUNT_PROFILES_DELETE,
            "account_profiles_delete",
            Method::POST,
            account::profiles::delete,
        ))
        .service(endpoint(
            paths::ACCOUNT_STREAMS_STOP,
            "account_streams_stop",
            Method::POST,
            account::stop_stream,
        ))
        .service(endpoint(
            paths::ACCOUNT_TOTP,
            "account_totp",
            Method::GET,
            account::totp::setup,
        ))
        .service(endpoint(
            paths::ACCOUNT_TOTP_START,
            "account_totp_start",
            Method::POST,
            account::totp::start,
        ))
        .service(endpoint(
            paths::ACCOUNT_TOTP_CONFIRM,
            "account_totp_confirm",
            Method::POST,
            account::totp::confirm,
        ))
        .service(endpoint(
            paths::ACCOUNT_TOTP_DISABLE,
            "account_totp_disable",
            Method::POST,
            account::totp::disable,
        ))
        .service(endpoint(
            paths::ACCOUNT_TOTP_RECOVERY_CODES,
            "account_totp_recovery_codes",
            Method::POST,
            account::totp::renew_recovery_codes,
        ))
        .service(endpoint(
            paths::ACCOUNT_SESSIONS_END_ALL,
            "account_sessions_end_all",
            Method::POST,
            account::end_every_session,
        ))
        .service(endpoint(paths::HEALTHZ, "healthz", Method::GET, health::healthz))
        .service(endpoint(paths::READYZ, "readyz", Method::GET, health::readyz));
}

/// A resource answering one method; others get a JSON 405 with `Allow`. The name labels its
/// metrics.
fn endpoint<F, Args>(path: &str, name: &str, method: Method, handler: F) -> actix_web::Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    if method == Method::GET {
        resource(path, name, "GET, HEAD")
            .route(web::get().to(handler.clone()))
            .route(web::head().to(handler))
    } else {
        resource(path, name, "POST").route(web::method(method).to(handler))
    }
}

/// A resource answering `GET` (and `HEAD`) and `POST` with one handler.
fn get_and_post<F, Args>(path: &str, name: &str, handler: F) -> actix_web::Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    page(path, name, handler.clone(), handler)
}

/// A page whose form posts back to its own address.
fn page<G, GArgs, P, PArgs>(path: &str, name: &str, show: G, submit: P) -> actix_web::Resource
where
    G: Handler<GArgs>,
    GArgs: FromRequest + 'static,
    G::Output: Responder + 'static,
    P: Handler<PArgs>,
    PArgs: FromRequest + 'static,
    P::Output: Responder + 'static,
{
    resource(path, name, "GET, HEAD, POST")
        .route(web::get().to(show.clone()))
        .route(web::head().to(show))
        .route(web::post().to(submit))
}

fn resource(path: &str, name: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path)
        .name(name)
        .default_service(web::to(method_not_allowed(allow)))
}
