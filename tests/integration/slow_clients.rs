//! Clients that send slowly, over real TCP connections: a body trickled a byte at a time and
//! headers never finished each get a 408 and their connection closed, while the server goes
//! on answering everyone else.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::time::{Duration, Instant};

use common::{Backend, TestDb, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;

/// The timeouts of these tests' server, for headers and for bodies.
const TIMEOUT: Duration = Duration::from_secs(1);
/// The pace of a trickling client: the whole body would take far longer than the timeout.
const BYTE_EVERY: Duration = Duration::from_millis(200);
/// How long the server may take to give up on a slow client: the timeout, a second spent
/// discarding what else arrives, and room for a busy machine (less than actix's own default
/// header timeout of 5 s).
const CUT_OFF_WITHIN: Duration = Duration::from_secs(4);

/// The database first: bound as `let (_db, server)`, the server stops before it is removed.
async fn server_with_short_timeouts() -> (TestDb, TestServer) {
    let db = TestDb::new(Backend::Sqlite);
    let config = Config {
        request_header_timeout_secs: TIMEOUT.as_secs(),
        request_body_timeout_secs: TIMEOUT.as_secs(),
        ..db.config()
    };
    let server = TestServer::start_with(config, Clock::System).await;
    (db, server)
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.server.as_ref().unwrap().addr)
        .await
        .unwrap()
}

/// Sends `head`, then `body` one byte every [`BYTE_EVERY`] until the server closes the
/// connection; returns what the server answered and how long after the head it closed.
async fn trickle(server: &TestServer, head: &str, body: &[u8]) -> (String, Duration) {
    let (mut reader, mut writer) = connect(server).await.into_split();
    writer.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let body = body.to_vec();
    let sender = tokio::spawn(async move {
        for byte in body {
            tokio::time::sleep(BYTE_EVERY).await;
            if writer.write_all(&[byte]).await.is_err() {
                break;
            }
        }
        // Kept open: only the server may end this connection.
        std::future::pending::<()>().await;
    });
    let answer = read_until_closed(&mut reader).await;
    let elapsed = started.elapsed();
    sender.abort();
    (answer, elapsed)
}

/// Everything the server sends until it closes the connection (a reset counts as closing).
async fn read_until_closed(reader: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 1024];
    let reading = async {
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => answer.extend_from_slice(&buffer[..read]),
            }
        }
    };
    tokio::time::timeout(CUT_OFF_WITHIN, reading)
        .await
        .expect("the server closes the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

async fn healthz_answers(server: &TestServer) {
    let response = common::http()
        .get(server.endpoint("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

const TOKEN_HEAD: &str = "POST /oauth/token HTTP/1.1\r\nHost: localhost\r\n\
                          Content-Type: application/x-www-form-urlencoded\r\n";
const FORM: &[u8] = b"grant_type=client_credentials&scope=catalog%3Aread&client_id=someone";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_slower_than_its_timeout_is_cut_off_with_408() {
    let (_db, server) = server_with_short_timeouts().await;
    let head = format!("{TOKEN_HEAD}Content-Length: {}\r\n\r\n", FORM.len());
    let (answer, elapsed) = tokio::join!(trickle(&server, &head, FORM), async {
        tokio::time::sleep(BYTE_EVERY * 2).await;
        healthz_answers(&server).await;
    })
    .0;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(elapsed < CUT_OFF_WITHIN, "{elapsed:?}");
    healthz_answers(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_trickled_slower_than_its_timeout_is_cut_off_with_408() {
    let (_db, server) = server_with_short_timeouts().await;
    let head = format!("{TOKEN_HEAD}Transfer-Encoding: chunked\r\n\r\n");
    let chunks: Vec<u8> = FORM
        .iter()
        .flat_map(|byte| {
            let mut chunk = b"1\r\n".to_vec();
            chunk.push(*byte);
            chunk.extend_from_slice(b"\r\n");
            chunk
        })
        .collect();
    let (answer, elapsed) = trickle(&server, &head, &chunks).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(elapsed < CUT_OFF_WITHIN, "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_never_finished_are_dropped() {
    let (_db, server) = server_with_short_timeouts().await;
    let started = Instant::now();
    let mut stream = connect(&server).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    healthz_answers(&server).await;
    let answer = read_until_closed(&mut stream).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(started.elapsed() < CUT_OFF_WITHIN);
}
