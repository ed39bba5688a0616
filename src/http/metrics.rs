//! Prometheus metrics: request counts and latency per endpoint, recorded by one middleware.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const LATENCY_BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// The process-wide recorder; installed on first use (several test servers share a process).
pub fn handle() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&LATENCY_BUCKETS)
                .map_err(|error| tracing::warn!(%error, "metrics buckets rejected"))
                .ok()?;
            builder
                .install_recorder()
                .map_err(|error| tracing::warn!(%error, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

/// Route names as metric labels; a fixed set, so labels never come from the request.
fn endpoint_label(route_name: Option<&str>) -> &'static str {
    const KNOWN: [&str; 9] = [
        "healthz",
        "readyz",
        "metrics",
        "openid_configuration",
        "authorization_server",
        "jwks",
        "token",
        "introspection",
        "revocation",
    ];
    route_name
        .and_then(|name| KNOWN.iter().copied().find(|known| *known == name))
        .unwrap_or("other")
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

pub async fn track(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let response = next.call(request).await?;
    let endpoint = endpoint_label(response.request().match_name());
    let status = status_class(response.status().as_u16());
    metrics::counter!("usher_http_requests_total", "endpoint" => endpoint, "status" => status).increment(1);
    metrics::histogram!("usher_http_request_duration_seconds", "endpoint" => endpoint)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}
