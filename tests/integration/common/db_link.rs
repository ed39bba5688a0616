//! A TCP link between a server and PostgreSQL that a test can cut and restore: what the server
//! sees when the database host goes away (open connections closed, new ones dropped before
//! PostgreSQL answers) and comes back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

const POSTGRES: &str = "127.0.0.1:5432";

pub struct DatabaseLink {
    port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
}

impl DatabaseLink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let acceptor = tokio::spawn(accept(listener, Arc::clone(&up), Arc::clone(&connections)));
        Self {
            port,
            up,
            connections,
            acceptor,
        }
    }

    /// `url` (a PostgreSQL URL on 127.0.0.1:5432) through this link.
    pub fn url(&self, url: &str) -> String {
        url.replace(POSTGRES, &format!("127.0.0.1:{}", self.port))
    }

    /// Closes every open connection and drops new ones until [`DatabaseLink::restore`].
    pub async fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().await.drain(..) {
            connection.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for DatabaseLink {
    fn drop(&mut self) {
        self.acceptor.abort();
        if let Ok(mut connections) = self.connections.try_lock() {
            connections.drain(..).for_each(|connection| connection.abort());
        }
    }
}

async fn accept(listener: TcpListener, up: Arc<AtomicBool>, connections: Arc<Mutex<Vec<JoinHandle<()>>>>) {
    while let Ok((mut client, _)) = listener.accept().await {
        if !up.load(Ordering::SeqCst) {
            continue;
        }
        let relay = tokio::spawn(async move {
            if let Ok(mut postgres) = TcpStream::connect(POSTGRES).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut postgres).await;
            }
        });
        let mut connections = connections.lock().await;
        connections.retain(|connection| !connection.is_finished());
        connections.push(relay);
    }
}
