//! What every rule shares: configuration, storage, keys and the in-memory views that keep the
//! hot paths off the database. Built from foundation and domain parts only; the web layer's
//! state wraps it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use webauthn_rs::Webauthn;

use crate::domain::entitlements::cache::EntitlementCache;
use crate::domain::identity::passkeys;
use crate::domain::identity::throttle::Throttle;
use crate::domain::oauth::client_auth::ClientAuthenticator;
use crate::domain::streams::{LiveStreams, StartQueue};
use crate::domain::tokens::access_tokens::VerifiedTokens;
use crate::domain::tokens::revoked::RevokedTokens;
use crate::foundation::brand::Brand;
use crate::foundation::clock::Clock;
use crate::foundation::config::Config;
use crate::foundation::crypto::keyring::{self, Keyring, KeyringError};
use crate::foundation::crypto::keys::{MasterKey, SigningAlg};
use crate::foundation::crypto::password_lane::PasswordLane;
use crate::foundation::i18n::Locale;
use crate::foundation::mail::{Mailer, Voice};
use crate::foundation::store::{self, Store};

pub struct Core {
    pub config: Config,
    pub issuer: String,
    pub audience: String,
    pub access_token_alg: SigningAlg,
    pub clock: Clock,
    pub store: Store,
    pub master_key: MasterKey,
    pub keyring: Keyring,
    pub revoked: RevokedTokens,
    pub clients: ClientAuthenticator,
    pub verified_tokens: VerifiedTokens,
    /// Sign-in attempts (password, code, passkey ceremony) and device user codes, per key,
    /// within `login_throttle_window_secs`, counted in the database.
    pub login_throttle: Throttle,
    /// Where every argon2 computation of a request runs (sign-in, sign-up, a new password).
    pub password_lane: PasswordLane,
    /// Sign-in link requests per client address and per address and network.
    pub link_throttle: Throttle,
    /// Device authorization requests per client address.
    pub device_authorization_throttle: Throttle,
    /// The WebAuthn relying party; None when passkeys cannot work here (an issuer on an IP
    /// address and no `passkey_rp_id`).
    pub passkeys: Option<Webauthn>,
    pub mailer: Mailer,
    /// The platform's name, logo, colour and support address on pages and mail.
    pub brand: Brand,
    pub entitlements: EntitlementCache,
    /// Stream leases, so heartbeats are answered from memory.
    pub streams: LiveStreams,
    /// Stream starts waiting to be written together.
    pub stream_starts: StartQueue,
    last_key_reload: AtomicI64,
}

/// The in-memory views a transaction that ends access must update at once on this instance;
/// other instances learn of it from the change feed.
#[derive(Clone, Copy)]
pub(crate) struct LocalViews<'a> {
    pub revoked: &'a RevokedTokens,
    pub streams: &'a LiveStreams,
}

impl Core {
    pub(crate) fn new(
        config: Config,
        issuer: String,
        clock: Clock,
        store: Store,
        master_key: MasterKey,
        keyring: Keyring,
        password_nice: i32,
    ) -> Result<Self, String> {
        let passkeys = passkeys::relying_party(&config, &issuer)?;
        if passkeys.is_none() {
            tracing::warn!(%issuer, "passkeys are off: WebAuthn needs a domain name; set passkey_rp_id and passkey_origin");
        }
        let brand = Brand::from_config(&config).map_err(|error| error.to_string())?;
        let mailer = Mailer::from_config(&config, &brand).map_err(|error| error.to_string())?;
        let audience = config
            .access_token_audience
            .clone()
            .unwrap_or_else(|| issuer.clone());
        let access_token_alg = SigningAlg::parse(&config.access_token_alg).unwrap_or(SigningAlg::Es256);
        let verified_tokens = VerifiedTokens::new(config.verified_token_cache_size);
        let login_throttle = Throttle::new(config.login_throttle_window_secs);
        let password_lane = PasswordLane::new(config.password_hash_slots(), config.password_hash_queue)
            .with_thread_nice(password_nice);
        let link_throttle = Throttle::new(config.sign_in_link_window_secs);
        let device_authorization_throttle = Throttle::new(config.device_code_ttl_secs);
        let entitlements =
            EntitlementCache::new(config.entitlement_cache_size, config.entitlement_stale_max_secs);
        let streams = LiveStreams::new(config.stream_cache_size);
        let stream_starts = StartQueue::new(store::is_sqlite_url(&config.database_url), config.db_pool_size);
        Ok(Self {
            config,
            issuer,
            audience,
            access_token_alg,
            clock,
            store,
            master_key,
            keyring,
            revoked: RevokedTokens::default(),
            clients: ClientAuthenticator::default(),
            verified_tokens,
            login_throttle,
            password_lane,
            link_throttle,
            device_authorization_throttle,
            passkeys,
            mailer,
            brand,
            entitlements,
            streams,
            stream_starts,
            last_key_reload: AtomicI64::new(i64::MIN),
        })
    }

    /// How mail to a person speaks: in the brand's name, and in the language saved on their
    /// account, else that of the page the action came from (`page`), else `default_locale`.
    pub(crate) fn mail_voice(&self, saved: Option<&str>, page: Option<Locale>) -> Voice<'_> {
        let locale = saved
            .and_then(Locale::parse)
            .or(page)
            .unwrap_or_else(|| Locale::parse(&self.config.default_locale).unwrap_or_default());
        Voice {
            brand: &self.brand,
            locale,
        }
    }

    pub(crate) fn local_views(&self) -> LocalViews<'_> {
        LocalViews {
            revoked: &self.revoked,
            streams: &self.streams,
        }
    }

    /// Reads the published keys again from the database.
    pub async fn reload_keys(self: &Arc<Self>) -> Result<(), KeyringError> {
        let state = Arc::clone(self);
        let (ticket, set) = self
            .store
            .run(move |conn| {
                // The ticket is taken with the connection in hand, right before the read, so
                // the load holding the newest ticket also read the database last.
                let ticket = state.keyring.begin_load();
                let now = state.clock.now();
                keyring::load(conn, &state.master_key, now).map(|set| (ticket, set))
            })
            .await?;
        self.keyring.replace(ticket, set);
        Ok(())
    }

    /// Reloads keys when a token names a key this instance does not know, at most once a
    /// second: another instance may have rotated moments ago.
    pub(crate) async fn reload_keys_for_unknown_kid(self: &Arc<Self>) -> bool {
        let now = self.clock.now();
        let last = self.last_key_reload.load(Ordering::Relaxed);
        if now <= last
            || self
                .last_key_reload
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        match self.reload_keys().await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "reloading signing keys failed");
                false
            }
        }
    }
}
