//! Prometheus metrics: request counts and latency per endpoint, tokens issued, introspections
//! by result. Every series is registered once, so recording is an atomic add, not a lookup.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

const LATENCY_BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Route names used as labels; requests to anything else count as `other`.
/// The hot routes first: the label is found by a scan from the start. `other` stays last.
const ENDPOINTS: [&str; 52] = [
    "introspection",
    "stream_heartbeat",
    "token",
    "revocation",
    "stream_start",
    "stream_stop",
    "jwks",
    "account_totp_recovery_codes",
    "admin_api",
    "admin_dashboard",
    "account",
    "account_totp",
    "account_totp_start",
    "account_totp_confirm",
    "account_totp_disable",
    "login_code",
    "account_profile",
    "account_apps_revoke",
    "account_sessions_end",
    "account_sessions_end_all",
    "account_streams_stop",
    "userinfo",
    "authorize",
    "consent",
    "end_session",
    "logout",
    "login",
    "device_authorization",
    "device",
    "device_decision",
    "device_devices_end",
    "login_devices",
    "login_devices_end",
    "device_qr",
    "login_passkey_options",
    "login_passkey",
    "login_link",
    "login_link_continue",
    "assets",
    "account_passkeys",
    "account_passkeys_options",
    "account_passkeys_remove",
    "account_passkey_offer",
    "account_second_factor",
    "account_password",
    "signup",
    "healthz",
    "readyz",
    "metrics",
    "openid_configuration",
    "authorization_server",
    "other",
];
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
const INTROSPECTION_RESULTS: [&str; 8] = [
    "active",
    "inactive",
    "foreign",
    "malformed",
    "wrong_type",
    "unknown_key",
    "bad_signature",
    "wrong_issuer",
];
const STREAM_START_RESULTS: [&str; 2] = ["started", "refused"];
const GRANT_TYPES: [&str; 4] = [
    "client_credentials",
    "authorization_code",
    "refresh_token",
    crate::domain::oauth::device::GRANT_TYPE,
];

struct Series {
    prometheus: Option<PrometheusHandle>,
    requests: Vec<[Counter; 5]>,
    durations: Vec<Histogram>,
    introspections: Vec<Counter>,
    tokens_issued: Vec<Counter>,
    stream_starts: Vec<Counter>,
}

static SERIES: OnceLock<Series> = OnceLock::new();

/// Installs the process-wide recorder on first use (several test servers share a process)
/// and registers every series.
fn series() -> &'static Series {
    SERIES.get_or_init(|| {
        let prometheus = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .and_then(PrometheusBuilder::install_recorder)
            .map_err(|error| tracing::warn!(%error, "metrics recorder not installed"))
            .ok();
        Series {
            prometheus,
            requests: ENDPOINTS
                .iter()
                .map(|endpoint| {
                    STATUS_CLASSES.map(|status| {
                        metrics::counter!("usher_http_requests_total", "endpoint" => *endpoint, "status" => status)
                    })
                })
                .collect(),
            durations: ENDPOINTS
                .iter()
                .map(|endpoint| metrics::histogram!("usher_http_request_duration_seconds", "endpoint" => *endpoint))
                .collect(),
            introspections: INTROSPECTION_RESULTS
                .iter()
                .map(|result| metrics::counter!("usher_introspections_total", "result" => *result))
                .collect(),
            tokens_issued: GRANT_TYPES
                .iter()
                .map(|grant| metrics::counter!("usher_tokens_issued_total", "grant_type" => *grant))
                .collect(),
            stream_starts: STREAM_START_RESULTS
                .iter()
                .map(|result| metrics::counter!("usher_stream_starts_total", "result" => *result))
                .collect(),
        }
    })
}

/// Registers the metrics; called once at start so `/metrics` lists every series from zero.
pub(crate) fn install() {
    series();
}

/// The Prometheus text exposition.
pub(crate) fn render() -> String {
    series()
        .prometheus
        .as_ref()
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

fn position(names: &[&str], name: &str) -> Option<usize> {
    names.iter().position(|known| *known == name)
}

pub(crate) fn introspection(result: &str) {
    let series = series();
    if let Some(counter) =
        position(&INTROSPECTION_RESULTS, result).and_then(|index| series.introspections.get(index))
    {
        counter.increment(1);
    }
}

pub(crate) fn token_issued(grant_type: &str) {
    let series = series();
    if let Some(counter) =
        position(&GRANT_TYPES, grant_type).and_then(|index| series.tokens_issued.get(index))
    {
        counter.increment(1);
    }
}

/// A stream start: `started` or `refused` at the limit.
pub(crate) fn stream_start(result: &str) {
    let series = series();
    if let Some(counter) =
        position(&STREAM_START_RESULTS, result).and_then(|index| series.stream_starts.get(index))
    {
        counter.increment(1);
    }
}

pub(crate) async fn track(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let response = next.call(request).await?;
    let series = series();
    let endpoint = response
        .request()
        .match_name()
        .map(|name| {
            if name.starts_with("admin_api_") {
                "admin_api"
            } else if name.starts_with("admin_dashboard_") {
                "admin_dashboard"
            } else {
                name
            }
        })
        .and_then(|name| position(&ENDPOINTS, name))
        .unwrap_or(ENDPOINTS.len() - 1);
    let status = usize::from(response.status().as_u16() / 100)
        .saturating_sub(1)
        .min(4);
    if let (Some(requests), Some(duration)) = (series.requests.get(endpoint), series.durations.get(endpoint))
    {
        if let Some(counter) = requests.get(status) {
            counter.increment(1);
        }
        duration.record(started.elapsed().as_secs_f64());
    }
    Ok(response)
}
