//! Server start-up: what runs `usher serve` and every in-process test server. Opens the
//! database and keys, builds the domain core, starts the background tasks and serves the
//! web layer's routes, over TLS when configured.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use tokio::task::JoinHandle;

use crate::app::{change_feed, stream_writer, webhook_worker};
use crate::domain::core::Core;
use crate::foundation::clock::Clock;
use crate::foundation::config::Config;
use crate::foundation::crypto::keyring::{self, Keyring, KeyringError};
use crate::foundation::crypto::keys::{KeyError, MasterKey};
use crate::foundation::priority::{self, ThreadPriorities};
use crate::foundation::store::{Store, StoreError};
use crate::web::state::AppState;
use crate::web::{metrics, routes};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error("cannot listen on {bind}: {cause}")]
    Bind { bind: String, cause: String },
    #[error("cannot use the TLS certificate or key: {0}")]
    Tls(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("start-up task failed: {0}")]
    Task(String),
}

/// A server accepting connections, with the background tasks that keep it in sync and
/// deliver webhooks.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where `/metrics` is served when `metrics_bind` is set.
    pub metrics_addr: Option<SocketAddr>,
    /// Where content servers' calls are served when `content_bind` is set.
    pub content_addr: Option<SocketAddr>,
    pub state: Arc<AppState>,
    handle: ServerHandle,
    server_task: JoinHandle<std::io::Result<()>>,
    metrics_server: Option<SideServer>,
    content_server: Option<SideServer>,
    sync_task: JoinHandle<()>,
    webhook_task: JoinHandle<()>,
    stream_task: JoinHandle<()>,
}

impl RunningServer {
    pub(crate) fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// Waits until the server stops (it stops on SIGINT/SIGTERM).
    pub(crate) async fn wait(self) -> std::io::Result<()> {
        let outcome = self.server_task.await.unwrap_or(Ok(()));
        SideServer::stop(self.metrics_server).await;
        SideServer::stop(self.content_server).await;
        self.sync_task.abort();
        self.webhook_task.abort();
        self.stream_task.abort();
        stream_writer::write_leases(&self.state.core).await;
        outcome
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
        SideServer::stop(self.metrics_server).await;
        SideServer::stop(self.content_server).await;
        self.sync_task.abort();
        self.webhook_task.abort();
        self.stream_task.abort();
        let _ = self.server_task.await;
        stream_writer::write_leases(&self.state.core).await;
    }
}

/// A listener of its own for part of the routes (`metrics_bind`, `content_bind`), stopped
/// with the main server.
struct SideServer {
    addr: SocketAddr,
    handle: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
}

impl SideServer {
    fn start(addr: SocketAddr, served: std::io::Result<Server>, what: &str) -> Result<Self, StartError> {
        let server = served.map_err(|error| StartError::Bind {
            bind: addr.to_string(),
            cause: error.to_string(),
        })?;
        tracing::info!(%addr, "{what} are served on their own address");
        Ok(Self {
            addr,
            handle: server.handle(),
            task: tokio::spawn(server),
        })
    }

    async fn stop(server: Option<Self>) {
        if let Some(server) = server {
            server.handle.stop(true).await;
            let _ = server.task.await;
        }
    }
}

/// Opens the database and keys, binds, and starts serving.
pub async fn start(config: Config, clock: Clock) -> Result<RunningServer, StartError> {
    if let Some(real_time) = config.content_realtime_priority {
        priority::may_run_in_real_time(real_time).map_err(|error| {
            StartError::Config(format!(
                "content_realtime_priority = {real_time}: the kernel refused the real-time class ({error}); \
                 the process needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least {real_time}"
            ))
        })?;
    }
    let (listener, addr) = listen(&config.bind)?;
    let metrics_listener = config.metrics_bind.as_deref().map(listen).transpose()?;
    let content_listener = config.content_bind.as_deref().map(listen).transpose()?;
    // The content servers' worker keeps this thread's priority; the rest runs below it.
    // Without it, argon2 alone runs below.
    let priorities = if content_listener.is_some() {
        ThreadPriorities::below_this_thread()
    } else {
        ThreadPriorities::argon2_below_this_thread()
    };
    let issuer = config.issuer_for_port(addr.port());

    let (store, master_key, keys) = {
        let config = config.clone();
        let now = clock.now();
        tokio::task::spawn_blocking(move || -> Result<_, StartError> {
            let store = Store::open_serving(&config.database_url, config.db_pool_size)?
                .with_acquire_timeout(Duration::from_millis(config.db_acquire_timeout_ms))
                .with_work_timeout(Duration::from_millis(config.db_work_timeout_ms))
                .with_thread_nice(priorities.database)?;
            let master_key = MasterKey::load_or_create(&config.keys_dir)?;
            let keys = store.run_blocking(|conn| {
                keyring::ensure_keys(conn, &master_key, now)
                    .and_then(|()| keyring::load(conn, &master_key, now))
            })?;
            Ok((store, master_key, keys))
        })
        .await
        .map_err(|error| StartError::Task(error.to_string()))??
    };

    let workers = config
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get));
    let max_form_bytes = config.max_form_bytes;
    let tls = match (&config.tls_cert_file, &config.tls_key_file) {
        (Some(cert), Some(key)) => Some(tls_config(cert, key)?),
        _ => None,
    };
    let core = Arc::new(
        Core::new(
            config,
            issuer,
            clock,
            store,
            master_key,
            Keyring::new(keys),
            priorities.password,
        )
        .map_err(StartError::Config)?,
    );
    let follower = change_feed::prime(&core).await?;
    // Before the sync task, so failing to start it leaves nothing running.
    let webhook_task =
        webhook_worker::spawn(Arc::clone(&core)).map_err(|error| StartError::Task(error.to_string()))?;
    let sync_task = change_feed::spawn(Arc::clone(&core), follower);
    let stream_task = stream_writer::spawn(Arc::clone(&core));
    metrics::install();
    let state = Arc::new(AppState::new(core));

    let content_server = content_listener
        .map(|(listener, addr)| {
            let served = routes::serve_content(Arc::clone(&state), listener, tls.clone(), max_form_bytes);
            SideServer::start(addr, served, "content servers' calls")
        })
        .transpose()?;
    let server = routes::serve(
        Arc::clone(&state),
        listener,
        tls,
        workers,
        max_form_bytes,
        priorities.public,
    )
    .map_err(|error| StartError::Bind {
        bind: addr.to_string(),
        cause: error.to_string(),
    })?;
    let metrics_server = metrics_listener
        .map(|(listener, addr)| {
            SideServer::start(
                addr,
                routes::serve_metrics(Arc::clone(&state), listener),
                "metrics",
            )
        })
        .transpose()?;
    let handle = server.handle();
    let server_task = tokio::spawn(server);
    tracing::info!(%addr, issuer = %state.issuer, "usher is serving");
    Ok(RunningServer {
        addr,
        metrics_addr: metrics_server.as_ref().map(|side| side.addr),
        content_addr: content_server.as_ref().map(|side| side.addr),
        state,
        handle,
        server_task,
        metrics_server,
        content_server,
        sync_task,
        webhook_task,
        stream_task,
    })
}

/// A listener on `bind`, with the address it got (the port chosen when `bind` asks for 0).
fn listen(bind: &str) -> Result<(TcpListener, SocketAddr), StartError> {
    let bind_error = |error: std::io::Error| StartError::Bind {
        bind: bind.to_owned(),
        cause: error.to_string(),
    };
    let listener = TcpListener::bind(bind).map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    Ok((listener, addr))
}

fn tls_config(cert_file: &Path, key_file: &Path) -> Result<rustls::ServerConfig, StartError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let tls_error =
        |what: &Path, error: &dyn std::fmt::Display| StartError::Tls(format!("{}: {error}", what.display()));
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| tls_error(cert_file, &error))?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|error| tls_error(key_file, &error))?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|error| tls_error(cert_file, &error))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|error| tls_error(cert_file, &error))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
