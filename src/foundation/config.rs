//! Typed configuration, loaded once: defaults, then `usher.toml` (or `USHER_CONFIG`), then
//! `USHER_*` environment variables. Every setting is documented in `docs/configuration.md`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::foundation::cidr::Cidr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    pub database_url: String,
    /// Address the HTTP server listens on, `HOST:PORT`.
    #[serde(deserialize_with = "text_or_number")]
    pub bind: String,
    /// Public base URL; `http://localhost:PORT` of the bound port when unset.
    pub issuer: Option<String>,
    /// Directory holding the master key that seals signing keys in the database.
    pub keys_dir: PathBuf,
    pub log: String,
    pub log_format: LogFormat,
    /// Lifetime of access tokens, in seconds.
    pub access_token_ttl_secs: i64,
    /// `aud` of access tokens issued without a resource indicator; the issuer when unset.
    pub access_token_audience: Option<String>,
    /// Algorithm of access tokens: `ES256` or `RS256`.
    pub access_token_alg: String,
    /// Database connections per instance.
    pub db_pool_size: u32,
    /// How long a request waits for a database connection before it is answered 503 with
    /// `Retry-After`, in ms.
    pub db_acquire_timeout_ms: u64,
    /// How long a request waits on PostgreSQL once it has a connection before it is answered
    /// 503 with `Retry-After`, in ms.
    pub db_work_timeout_ms: u64,
    /// How often an instance reads the change feed written by other instances, in ms.
    pub sync_interval_ms: u64,
    /// How many verified access tokens introspection keeps in memory.
    pub verified_token_cache_size: u64,
    /// HTTP worker threads; the number of CPUs available when unset.
    pub workers: Option<usize>,
    /// Largest accepted request body on OAuth endpoints, in bytes.
    pub max_form_bytes: usize,
    /// PEM certificate chain; with `tls_key_file`, the server speaks HTTPS itself.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// How long a new connection has to send its first request's headers, in seconds; then
    /// it is answered 408 and closed.
    pub request_header_timeout_secs: u64,
    /// How long a request's body may take to arrive once its headers have, in seconds; then
    /// it is answered 408 and its connection closed.
    pub request_body_timeout_secs: u64,
    /// A separate address serving `/metrics` alone; the public listener then has no
    /// `/metrics`. Unset: `/metrics` is on the public listener.
    pub metrics_bind: Option<String>,
    /// A separate address for content servers: introspection, the stream calls and the JWKS,
    /// answered by a worker of its own that runs ahead of the rest of the server's work.
    /// Unset: content servers use the public listener like everyone else.
    pub content_bind: Option<String>,
    /// Runs the worker of `content_bind` in the kernel's real-time class (`SCHED_FIFO`) at
    /// this priority, 1–99, so that a request takes the core from any other thread at once.
    /// Needs `CAP_SYS_NICE` or `RLIMIT_RTPRIO`; the server refuses to start without them.
    /// Unset: the worker stays in the normal class.
    pub content_realtime_priority: Option<u8>,
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <this>`.
    pub metrics_token: Option<String>,
    /// Proxies (CIDR ranges) whose `Forwarded` / `X-Forwarded-For` headers name the client;
    /// empty: every request's client is its TCP peer.
    pub trusted_proxies: Vec<Cidr>,
    /// Lifetime of ID tokens, in seconds.
    pub id_token_ttl_secs: i64,
    /// Lifetime of an authorization code, in seconds.
    pub authorization_code_ttl_secs: i64,
    /// Lifetime of each refresh token, in seconds; every use rotates it and starts a new one.
    pub refresh_token_ttl_secs: i64,
    /// How long after a refresh token was rotated it may still be used once more without
    /// being treated as stolen: two tabs refreshing at the same moment. At most 60.
    pub refresh_reuse_grace_secs: i64,
    /// A browser session unused for this long ends, in seconds.
    pub session_idle_secs: i64,
    /// A browser session ends this long after sign-in however active it is, in seconds.
    pub session_max_secs: i64,
    /// Whether people may create their own account from the login page.
    pub allow_signup: bool,
    /// The language of pages and mail when neither the request, the person nor the browser
    /// names a supported one (`locales/<tag>/`).
    pub default_locale: String,
    // --- Brand (src/foundation/brand.rs) ---
    /// The platform's name on every page and mail, and the sender name of mail.
    pub brand_name: String,
    /// An SVG or PNG file (at most 10 KB) shown instead of the name at the top of pages.
    pub brand_logo: Option<PathBuf>,
    /// The accent colour of buttons and links, `#rrggbb`; refused at start when white text on
    /// it fails WCAG AA (4.5:1).
    pub brand_color: Option<String>,
    /// Where people get help (`https:` or `mailto:`), linked at the foot of pages and mail.
    pub brand_support_url: Option<String>,
    /// Wrong passwords allowed per account within `login_throttle_window_secs`.
    pub login_failures_per_account: u32,
    /// Wrong passwords allowed per client IP address within `login_throttle_window_secs`.
    pub login_failures_per_ip: u32,
    /// The window of the two limits above, in seconds.
    pub login_throttle_window_secs: i64,
    /// Password checks (argon2id) running at once; default half the cores, at least one.
    pub password_hash_slots: Option<usize>,
    /// Password checks waiting for a slot; beyond them sign-ins are answered 503 at once.
    pub password_hash_queue: usize,
    /// Most pay-per-view products named in an access token's `ppv` claim; beyond it the
    /// token says `ppv_overflow` and introspection has the full list.
    pub ppv_claim_cap: usize,
    /// How many people's entitlements introspection keeps in memory.
    pub entitlement_cache_size: usize,
    /// While the database is unreachable, introspection answers with a person's last known
    /// entitlements if they were read at most this long ago, in seconds; older ones get 503.
    pub entitlement_stale_max_secs: i64,
    // --- Webhooks (src/webhooks) ---
    /// How often an instance looks for webhook deliveries that are due, in ms.
    pub webhook_poll_interval_ms: u64,
    /// How long one webhook delivery may take, connecting included, before it counts as
    /// failed, in seconds.
    pub webhook_timeout_secs: u64,
    /// Sends of one event to one endpoint before it is given up.
    pub webhook_max_attempts: u32,
    // --- Streams (src/domain/streams) ---
    /// How long a stream lives without a heartbeat, in seconds; players are told to beat at
    /// a third of it.
    pub stream_lease_secs: i64,
    /// How often an instance writes the heartbeats it answered from memory to the database,
    /// in ms.
    pub stream_write_interval_ms: u64,
    /// How many stream leases an instance keeps in memory; a lease not held is read from the
    /// database.
    pub stream_cache_size: usize,
    /// After an endpoint's secret is replaced, how long the previous one keeps signing
    /// deliveries alongside it, in seconds; 0 stops it at once.
    pub webhook_secret_overlap_secs: i64,
    // --- Passkeys (src/login/passkeys.rs) ---
    /// WebAuthn relying party ID: passkeys are bound to it. The issuer's host when unset.
    pub passkey_rp_id: Option<String>,
    /// The origin pages with passkey sign-in are served from. The issuer's origin when unset.
    pub passkey_origin: Option<String>,
    // --- Mail (src/mail) ---
    /// `smtp://HOST:PORT` (STARTTLS when offered), `smtps://USER:PASS@HOST` (TLS); unset:
    /// mail goes to `outbox_dir` and sign-in links are logged (development only).
    pub smtp_url: Option<String>,
    /// The `From:` of every mail; without a display name of its own, `brand_name` is the sender's.
    pub mail_from: String,
    /// Where mail goes when `smtp_url` is unset.
    pub outbox_dir: PathBuf,
    // --- Sign-in links (src/login/links.rs) ---
    /// How long an emailed sign-in link works, in seconds.
    pub sign_in_link_ttl_secs: i64,
    /// Sign-in link requests for one address from one requesting network (an IPv4 /24, an
    /// IPv6 /64) within `sign_in_link_window_secs`.
    pub sign_in_links_per_address: u32,
    /// Sign-in links requested from one IP address within `sign_in_link_window_secs`.
    pub sign_in_links_per_ip: u32,
    /// The window of the two limits above, in seconds.
    pub sign_in_link_window_secs: i64,
    /// How long an invitation into a household (and the sign-in link mailed with it) works,
    /// in seconds.
    pub household_invitation_ttl_secs: i64,
    // --- Device authorization grant (RFC 8628, src/oauth/device.rs) ---
    /// How long a device code and its user code work, in seconds.
    pub device_code_ttl_secs: i64,
    /// The polling interval devices are told to keep, in seconds; it grows by 5 for a device
    /// that polls faster (`slow_down`).
    pub device_poll_interval_secs: i64,
    /// Wrong user codes allowed per IP address within `login_throttle_window_secs`.
    pub device_code_failures_per_ip: u32,
    /// Wrong user codes allowed per signed-in account within `login_throttle_window_secs`.
    pub device_code_failures_per_account: u32,
    /// Wrong user codes from everywhere together within `login_throttle_window_secs` beyond
    /// which every code lookup is slowed (never refused): guessing spread over many accounts
    /// and addresses.
    pub device_code_failures_global: u32,
    /// Wrong PINs allowed per profile within `login_throttle_window_secs`.
    pub profile_pin_failures: u32,
    /// Device authorization requests (a TV asking for a code) one client address may make
    /// within `device_code_ttl_secs`.
    pub device_authorizations_per_ip: u32,
    // --- Admin dashboard (src/admin/dashboard) ---
    /// How long after signing in (with a second factor) an administrator may use the
    /// dashboard before signing in again, in seconds.
    pub admin_session_max_secs: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://./data/usher.db".into(),
            bind: "127.0.0.1:8080".into(),
            issuer: None,
            keys_dir: PathBuf::from("./keys"),
            log: "info".into(),
            log_format: LogFormat::Text,
            access_token_ttl_secs: 900,
            access_token_audience: None,
            access_token_alg: "ES256".into(),
            db_pool_size: 8,
            db_acquire_timeout_ms: 1_000,
            db_work_timeout_ms: 3_000,
            sync_interval_ms: 250,
            verified_token_cache_size: 200_000,
            workers: None,
            max_form_bytes: 16 * 1024,
            tls_cert_file: None,
            tls_key_file: None,
            request_header_timeout_secs: 5,
            request_body_timeout_secs: 10,
            metrics_bind: None,
            content_bind: None,
            content_realtime_priority: None,
            metrics_token: None,
            trusted_proxies: Vec::new(),
            id_token_ttl_secs: 3600,
            authorization_code_ttl_secs: 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            refresh_reuse_grace_secs: 10,
            session_idle_secs: 7 * 24 * 3600,
            session_max_secs: 30 * 24 * 3600,
            allow_signup: false,
            default_locale: crate::foundation::i18n::FALLBACK.to_owned(),
            brand_name: "Usher".into(),
            brand_logo: None,
            brand_color: None,
            brand_support_url: None,
            login_failures_per_account: 5,
            login_failures_per_ip: 50,
            login_throttle_window_secs: 900,
            password_hash_slots: None,
            password_hash_queue: 64,
            ppv_claim_cap: 16,
            entitlement_cache_size: 200_000,
            entitlement_stale_max_secs: 60,
            webhook_poll_interval_ms: 500,
            webhook_timeout_secs: 10,
            webhook_max_attempts: 12,
            stream_lease_secs: 90,
            stream_write_interval_ms: 1_000,
            stream_cache_size: 1_000_000,
            webhook_secret_overlap_secs: 86_400,
            passkey_rp_id: None,
            passkey_origin: None,
            smtp_url: None,
            mail_from: "no-reply@localhost".into(),
            outbox_dir: PathBuf::from("./data/outbox"),
            sign_in_link_ttl_secs: 600,
            sign_in_links_per_address: 5,
            sign_in_links_per_ip: 30,
            sign_in_link_window_secs: 3600,
            household_invitation_ttl_secs: 7 * 24 * 3600,
            device_code_ttl_secs: 600,
            device_poll_interval_secs: 5,
            device_code_failures_per_ip: 10,
            device_code_failures_per_account: 10,
            device_code_failures_global: 1000,
            profile_pin_failures: 5,
            device_authorizations_per_ip: 30,
            admin_session_max_secs: 3600,
        }
    }
}

/// Shortest `metrics_token` accepted.
const MIN_METRICS_TOKEN_CHARS: usize = 16;
/// Longest a replaced webhook secret may keep signing: a receiver has long updated by then.
const MAX_WEBHOOK_SECRET_OVERLAP_SECS: i64 = 30 * 86_400;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// A configuration and what was noticed loading it that does not stop the process.
pub(crate) struct Loaded {
    pub config: Config,
    /// `USHER_*` variables that name no setting, each with the setting it may have meant.
    pub warnings: Vec<String>,
}

impl Config {
    /// Loads the configuration from the process environment and the TOML file named by
    /// `explicit_file` (the command line's `--config`), else `USHER_CONFIG`, else `./usher.toml`.
    pub(crate) fn load(explicit_file: Option<&Path>) -> Result<Loaded, ConfigError> {
        let from_env = std::env::var_os("USHER_CONFIG").map(PathBuf::from);
        let env = Env::prefixed("USHER_").ignore(&["config"]);
        let warnings = unknown_keys(&env)?
            .into_iter()
            .map(|key| {
                format!(
                    "USHER_{} is not a setting and is ignored{}",
                    key.to_uppercase(),
                    suggestion(&key, |known| format!(
                        " (did you mean USHER_{}?)",
                        known.to_uppercase()
                    ))
                )
            })
            .collect();
        let config = Self::load_from(explicit_file.or(from_env.as_deref()), env)?;
        Ok(Loaded { config, warnings })
    }

    fn load_from(explicit_file: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        let file = match explicit_file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.display().to_string())),
            Some(path) => Some(path),
            None if Path::new("usher.toml").exists() => Some(Path::new("usher.toml")),
            None => None,
        };
        if let Some(path) = file {
            let toml = Toml::file_exact(path);
            // A misspelt key would otherwise leave its setting at the default, unnoticed.
            if let Some(key) = unknown_keys(&toml)?.into_iter().next() {
                return Err(ConfigError::Invalid(format!(
                    "{}: {key:?} is not a setting{} (every setting is in docs/configuration.md)",
                    path.display(),
                    suggestion(&key, |known| format!("; did you mean {known:?}?"))
                )));
            }
            figment = figment.merge(toml);
        }
        let config: Self = figment
            .merge(env)
            .extract()
            .map_err(|error| ConfigError::Invalid(error.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if crate::foundation::i18n::Locale::parse(&self.default_locale).is_none() {
            let supported: Vec<String> = crate::foundation::i18n::Locale::supported()
                .into_iter()
                .map(crate::foundation::i18n::Locale::tag)
                .collect();
            return Err(ConfigError::Invalid(format!(
                "default_locale {:?} has no catalogue; supported: {}",
                self.default_locale,
                supported.join(", ")
            )));
        }
        if !is_host_and_port(&self.bind) {
            let example = if self.bind.parse::<u16>().is_ok() {
                format!("127.0.0.1:{}", self.bind)
            } else {
                "127.0.0.1:8080".to_owned()
            };
            return Err(ConfigError::Invalid(format!(
                "bind {:?} must be HOST:PORT, for example {example}",
                self.bind
            )));
        }
        let lifetimes = [
            ("access_token_ttl_secs", self.access_token_ttl_secs),
            ("id_token_ttl_secs", self.id_token_ttl_secs),
            ("authorization_code_ttl_secs", self.authorization_code_ttl_secs),
            ("refresh_token_ttl_secs", self.refresh_token_ttl_secs),
            ("session_idle_secs", self.session_idle_secs),
            ("session_max_secs", self.session_max_secs),
            ("login_throttle_window_secs", self.login_throttle_window_secs),
            ("sign_in_link_ttl_secs", self.sign_in_link_ttl_secs),
            ("sign_in_link_window_secs", self.sign_in_link_window_secs),
            (
                "household_invitation_ttl_secs",
                self.household_invitation_ttl_secs,
            ),
            ("device_code_ttl_secs", self.device_code_ttl_secs),
            ("device_poll_interval_secs", self.device_poll_interval_secs),
            ("admin_session_max_secs", self.admin_session_max_secs),
        ];
        if let Some((name, _)) = lifetimes.iter().find(|(_, secs)| *secs <= 0) {
            return Err(ConfigError::Invalid(format!("{name} must be positive")));
        }
        // Webhooks: a zero timeout would fail every delivery, zero attempts would send none.
        if !(1..=3600).contains(&self.webhook_timeout_secs) {
            return Err(ConfigError::Invalid(
                "webhook_timeout_secs must be between 1 and 3600".into(),
            ));
        }
        if let Some(priority) = self.content_realtime_priority {
            if !(1..=99).contains(&priority) {
                return Err(ConfigError::Invalid(
                    "content_realtime_priority must be between 1 and 99".into(),
                ));
            }
            if self.content_bind.is_none() {
                return Err(ConfigError::Invalid(
                    "content_realtime_priority needs content_bind: it is the priority of that listener's worker".into(),
                ));
            }
        }
        if self.password_hash_slots == Some(0) {
            return Err(ConfigError::Invalid(
                "password_hash_slots must be positive".into(),
            ));
        }
        if self.db_acquire_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "db_acquire_timeout_ms must be positive".into(),
            ));
        }
        if self.db_work_timeout_ms == 0 {
            return Err(ConfigError::Invalid("db_work_timeout_ms must be positive".into()));
        }
        if self.entitlement_stale_max_secs < 0 {
            return Err(ConfigError::Invalid(
                "entitlement_stale_max_secs must not be negative".into(),
            ));
        }
        if self.webhook_max_attempts == 0 {
            return Err(ConfigError::Invalid(
                "webhook_max_attempts must be positive".into(),
            ));
        }
        if !(15..=3600).contains(&self.stream_lease_secs) {
            return Err(ConfigError::Invalid(
                "stream_lease_secs must be between 15 and 3600".into(),
            ));
        }
        if !(10..=10_000).contains(&self.stream_write_interval_ms) {
            return Err(ConfigError::Invalid(
                "stream_write_interval_ms must be between 10 and 10000".into(),
            ));
        }
        if !(0..=MAX_WEBHOOK_SECRET_OVERLAP_SECS).contains(&self.webhook_secret_overlap_secs) {
            return Err(ConfigError::Invalid(
                "webhook_secret_overlap_secs must be between 0 and 2592000 (30 days)".into(),
            ));
        }
        if !(0..=60).contains(&self.refresh_reuse_grace_secs) {
            return Err(ConfigError::Invalid(
                "refresh_reuse_grace_secs must be between 0 and 60".into(),
            ));
        }
        if crate::foundation::crypto::keys::SigningAlg::parse(&self.access_token_alg).is_none() {
            return Err(ConfigError::Invalid(
                "access_token_alg must be ES256 or RS256".into(),
            ));
        }
        // Zero would turn the timeouts off.
        if self.request_header_timeout_secs == 0 || self.request_body_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "request_header_timeout_secs and request_body_timeout_secs must be positive".into(),
            ));
        }
        // Nothing slows down guessing it: a short token would not protect much.
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|token| token.chars().count() < MIN_METRICS_TOKEN_CHARS)
        {
            return Err(ConfigError::Invalid(format!(
                "metrics_token must be at least {MIN_METRICS_TOKEN_CHARS} characters"
            )));
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert_file and tls_key_file must be set together".into(),
            ));
        }
        if let Some(issuer) = &self.issuer {
            let parsed = url::Url::parse(issuer)
                .map_err(|error| ConfigError::Invalid(format!("issuer {issuer:?}: {error}")))?;
            if !matches!(parsed.scheme(), "http" | "https")
                || parsed.query().is_some()
                || parsed.fragment().is_some()
            {
                return Err(ConfigError::Invalid(format!(
                    "issuer {issuer:?} must be an http(s) URL without query or fragment"
                )));
            }
        }
        Ok(())
    }

    /// The issuer identifier for a server bound to `port`, without a trailing slash.
    pub(crate) fn issuer_for_port(&self, port: u16) -> String {
        match &self.issuer {
            Some(issuer) => issuer.trim_end_matches('/').to_owned(),
            None if self.tls_cert_file.is_some() => format!("https://localhost:{port}"),
            None => format!("http://localhost:{port}"),
        }
    }

    /// Password checks running at once: as configured, else half the cores (at least one), so
    /// a sign-in storm leaves the other half to the hot paths.
    pub(crate) fn password_hash_slots(&self) -> usize {
        self.password_hash_slots.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
        })
    }

    /// The longest time a token signed now may stay valid: how long a retired key stays published.
    pub fn longest_token_lifetime_secs(&self) -> i64 {
        self.access_token_ttl_secs.max(self.id_token_ttl_secs)
    }
}

/// `bind` as written, also when a bare port came as a number (`USHER_BIND=8080`): validation
/// then asks for `HOST:PORT` instead of reporting a type.
fn text_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Number(i64),
    }
    Ok(match TextOrNumber::deserialize(deserializer)? {
        TextOrNumber::Text(text) => text,
        TextOrNumber::Number(number) => number.to_string(),
    })
}

fn is_host_and_port(bind: &str) -> bool {
    bind.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// The settings `Config` has, as the TOML file and `USHER_*` variables name them.
fn known_keys() -> Vec<String> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The keys `provider` gives that are no setting.
fn unknown_keys(provider: &impl figment::Provider) -> Result<Vec<String>, ConfigError> {
    let known = known_keys();
    let data = provider
        .data()
        .map_err(|error| ConfigError::Invalid(error.to_string()))?;
    Ok(data
        .values()
        .flat_map(|dict| dict.keys())
        .filter(|key| !known.contains(key))
        .cloned()
        .collect())
}

/// The known setting closest to a misspelt `key` (at most two edits away), phrased by `say`.
fn suggestion(key: &str, say: impl Fn(&str) -> String) -> String {
    known_keys()
        .into_iter()
        .map(|known| (edit_distance(key, &known), known))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, known)| say(&known))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, left) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, right) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(left != *right);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_no_configuration_the_embedded_defaults_apply() {
        let config = Config::load_from(
            Some(Path::new("/nonexistent/usher.toml")),
            Env::prefixed("USHER_TEST_NONE_"),
        );
        assert!(matches!(config, Err(ConfigError::MissingFile(_))));
        let config = Config::default();
        assert_eq!(config.database_url, "sqlite://./data/usher.db");
        assert_eq!(config.bind, "127.0.0.1:8080");
        assert_eq!(config.issuer_for_port(8080), "http://localhost:8080");
    }

    #[test]
    fn file_values_are_read_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("usher.toml");
        std::fs::write(&path, "bind = \"0.0.0.0:9000\"\naccess_token_ttl_secs = 60\n").expect("write");
        let config = Config::load_from(Some(&path), Env::prefixed("USHER_TEST_NONE_")).expect("load");
        assert_eq!(config.bind, "0.0.0.0:9000");
        assert_eq!(config.access_token_ttl_secs, 60);

        std::fs::write(&path, "access_token_alg = \"HS256\"\n").expect("write");
        let refused = Config::load_from(Some(&path), Env::prefixed("USHER_TEST_NONE_"));
        assert!(
            matches!(refused, Err(ConfigError::Invalid(message)) if message.contains("access_token_alg"))
        );
    }

    #[test]
    fn a_misspelt_key_in_the_file_is_refused_by_name_with_the_setting_meant() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("usher.toml");
        std::fs::write(&path, "databse_url = \"sqlite://./x.db\"\n").expect("write");
        let refused = Config::load_from(Some(&path), Env::prefixed("USHER_TEST_NONE_"));
        let Err(ConfigError::Invalid(message)) = refused else {
            panic!("an unknown key is refused: {refused:?}");
        };
        assert!(message.contains("\"databse_url\""), "{message}");
        assert!(message.contains("\"database_url\""), "{message}");
    }

    #[test]
    fn a_bare_port_as_bind_asks_for_host_and_port() {
        let value: figment::value::Value = "8080".parse().expect("infallible");
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(("bind", value))
            .extract()
            .expect("a number is read as text");
        let Err(ConfigError::Invalid(message)) = config.validate() else {
            panic!("a bare port is refused");
        };
        assert!(message.contains("HOST:PORT"), "{message}");
        assert!(message.contains("127.0.0.1:8080"), "{message}");
    }

    #[test]
    fn request_timeouts_must_be_positive() {
        for config in [
            Config {
                request_header_timeout_secs: 0,
                ..Config::default()
            },
            Config {
                request_body_timeout_secs: 0,
                ..Config::default()
            },
        ] {
            assert!(
                matches!(config.validate(), Err(ConfigError::Invalid(message)) if message.contains("timeout"))
            );
        }
    }

    #[test]
    fn a_short_metrics_token_is_refused() {
        let short = Config {
            metrics_token: Some("guessable".into()),
            ..Config::default()
        };
        assert!(
            matches!(short.validate(), Err(ConfigError::Invalid(message)) if message.contains("metrics_token"))
        );
        let long = Config {
            metrics_token: Some("0123456789abcdef".into()),
            ..Config::default()
        };
        assert!(long.validate().is_ok());
    }

    #[test]
    fn every_setting_is_documented_with_its_variable_in_docs_configuration_md() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md"))
            .expect("docs/configuration.md");
        let settings = serde_json::to_value(Config::default()).expect("serialise");
        let names: Vec<&String> = settings.as_object().expect("an object").keys().collect();
        let missing: Vec<&&String> = names
            .iter()
            .filter(|name| !docs.contains(&format!("`{name}` / `USHER_{}`", name.to_uppercase())))
            .collect();
        assert!(missing.is_empty(), "not in docs/configuration.md: {missing:?}");
    }

    #[test]
    fn a_content_realtime_priority_outside_1_to_99_is_refused() {
        for priority in [0, 100] {
            let config = Config {
                content_bind: Some("127.0.0.1:0".into()),
                content_realtime_priority: Some(priority),
                ..Config::default()
            };
            assert!(
                matches!(config.validate(), Err(ConfigError::Invalid(message)) if message.contains("between 1 and 99")),
                "{priority}"
            );
        }
    }

    #[test]
    fn a_content_realtime_priority_without_content_bind_is_refused() {
        let config = Config {
            content_realtime_priority: Some(1),
            ..Config::default()
        };
        assert!(
            matches!(config.validate(), Err(ConfigError::Invalid(message)) if message.contains("needs content_bind"))
        );
    }

    #[test]
    fn a_content_realtime_priority_with_content_bind_is_accepted() {
        let config = Config {
            content_bind: Some("127.0.0.1:0".into()),
            content_realtime_priority: Some(99),
            ..Config::default()
        };
        assert!(config.validate().is_ok());
    }

    #[test]
    fn trusted_proxies_are_read_as_address_ranges_from_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("usher.toml");
        std::fs::write(&path, "trusted_proxies = [\"10.0.0.0/8\", \"2001:db8::1\"]\n").expect("write");
        let config = Config::load_from(Some(&path), Env::prefixed("USHER_TEST_NONE_")).expect("load");
        let expected: Vec<Cidr> = ["10.0.0.0/8", "2001:db8::1/128"]
            .iter()
            .map(|text| text.parse().expect("range"))
            .collect();
        assert_eq!(config.trusted_proxies, expected);
    }

    #[test]
    fn trusted_proxies_in_an_environment_variable_are_a_bracketed_list() {
        // What `Env` makes of `USHER_TRUSTED_PROXIES=[10.0.0.0/8, "::1"]`.
        let value: figment::value::Value = "[10.0.0.0/8, \"::1\"]".parse().expect("infallible");
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(("trusted_proxies", value))
            .extract()
            .expect("extract");
        let expected: Vec<Cidr> = ["10.0.0.0/8", "::1/128"]
            .iter()
            .map(|text| text.parse().expect("range"))
            .collect();
        assert_eq!(config.trusted_proxies, expected);
    }

    #[test]
    fn a_malformed_trusted_proxy_stops_the_start_naming_the_setting_and_the_range() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("usher.toml");
        std::fs::write(&path, "trusted_proxies = [\"10.0.0.0/8\", \"10.0.0.1/8\"]\n").expect("write");
        let refused = Config::load_from(Some(&path), Env::prefixed("USHER_TEST_NONE_"));
        let Err(ConfigError::Invalid(message)) = refused else {
            panic!("a malformed range is refused: {refused:?}");
        };
        assert!(message.contains("trusted_proxies"), "{message}");
        assert!(message.contains("10.0.0.1/8"), "{message}");
    }
}
