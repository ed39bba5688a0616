//! `content_bind`: the content servers' calls on an address of their own, answered by a worker
//! that the rest of the server's threads run below.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::{Backend, TestDb, TestServer, flow};
use usher::domain::oauth::clients::CreatedClient;
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;
use usher::foundation::priority;

struct Fixture {
    server: TestServer,
    content_url: String,
    _db: TestDb,
}

async fn fixture(backend: Backend) -> Fixture {
    fixture_with(backend, None).await
}

async fn fixture_with(backend: Backend, content_realtime_priority: Option<u8>) -> Fixture {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(
        Config {
            content_bind: Some("127.0.0.1:0".into()),
            content_realtime_priority,
            ..db.config()
        },
        Clock::System,
    )
    .await;
    let content_addr = server
        .server
        .as_ref()
        .unwrap()
        .content_addr
        .expect("a content address");
    Fixture {
        server,
        content_url: format!("http://{content_addr}"),
        _db: db,
    }
}

async fn with_a_content_address_content_servers_introspect_there(backend: Backend) {
    let fixture = fixture(backend).await;
    let service = fixture.server.service_client(&["catalog:read"]).await;
    let token = common::issue_token(&fixture.server, &service, Some("catalog:read")).await;

    let response = common::post_form(
        &format!("{}/oauth/introspect", fixture.content_url),
        &service,
        &[("token", &token)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["scope"], "catalog:read");

    let public = common::introspect(&fixture.server, &service, &token).await;
    assert_eq!(public["active"], true, "the public listener still introspects");
}

async fn the_content_address_serves_the_jwks(backend: Backend) {
    let fixture = fixture(backend).await;
    let content = common::http()
        .get(format!("{}/.well-known/jwks.json", fixture.content_url))
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), 200);
    let keys: serde_json::Value = content.json().await.unwrap();
    let public: serde_json::Value = common::http()
        .get(fixture.server.endpoint("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys, public);
}

async fn the_content_address_serves_nothing_else(backend: Backend) {
    let fixture = fixture(backend).await;
    for path in [
        "/login",
        "/healthz",
        "/.well-known/openid-configuration",
        "/account",
    ] {
        let response = common::http()
            .get(format!("{}{path}", fixture.content_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let service = fixture.server.service_client(&[]).await;
    let token = common::post_form(
        &format!("{}/oauth/token", fixture.content_url),
        &service,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(token.status(), 404, "tokens are issued on the public listener");
}

/// `(thread name, nice)` from a thread's `/proc/…/stat`.
fn name_and_nice(stat: &str) -> Option<(String, i32)> {
    let (head, tail) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    // Fields after the name start at the third (state); nice is the nineteenth.
    let nice = tail.split_whitespace().nth(16)?.parse().ok()?;
    Some((name, nice))
}

/// `(thread name, nice)` of every thread of this process (nextest runs each test in a process
/// of its own, so these are this test's server's).
fn threads() -> Vec<(String, i32)> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
        .filter_map(|stat| name_and_nice(&stat))
        .collect()
}

fn this_thread_nice() -> i32 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    name_and_nice(&stat).unwrap().1
}

async fn with_a_content_address_the_other_threads_run_below_its_worker(backend: Backend) {
    let fixture = fixture(backend).await;
    // Database work starts the database runtime's blocking threads.
    fixture.server.service_client(&[]).await;
    common::issue_token(&fixture.server, &fixture.server.service_client(&[]).await, None).await;

    let base = this_thread_nice();
    let threads = threads();
    let nice_of = |prefix: &str| -> Vec<i32> {
        threads
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, nice)| *nice)
            .collect()
    };
    let workers = nice_of("actix-server wo");
    assert!(
        workers.contains(&base),
        "the content worker keeps the priority: {threads:?}"
    );
    assert!(
        workers.contains(&(base + 12)),
        "the public workers run 12 levels below: {threads:?}"
    );
    let database = nice_of("usher-database");
    assert!(
        !database.is_empty() && database.iter().all(|nice| *nice == base + 8),
        "database work runs on threads of its own 8 levels below: {threads:?}"
    );
    let urgent = nice_of("usher-db-urgent");
    assert!(
        !urgent.is_empty() && urgent.iter().all(|nice| *nice == base),
        "the reads introspection waits on run at the content worker's priority: {threads:?}"
    );
}

/// A field of a thread's `/proc/…/sched` (Linux 6.6 and later).
fn sched_field<T: std::str::FromStr>(task: &std::path::Path, field: &str) -> Option<T> {
    let sched = std::fs::read_to_string(task.join("sched")).ok()?;
    let line = sched
        .lines()
        .find(|line| line.split_whitespace().next() == Some(field))?;
    line.rsplit(':').next()?.trim().parse().ok()
}

/// The slice a thread of this process runs in.
fn slice_of(task: &std::path::Path) -> Option<u64> {
    sched_field(task, "se.slice")
}

async fn with_a_content_address_its_worker_alone_runs_in_short_slices(backend: Backend) {
    let fixture = fixture(backend).await;
    // Both listeners' workers have started once each has answered.
    for url in [fixture.content_url.clone(), fixture.server.endpoint("")] {
        let jwks = common::http()
            .get(format!("{url}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(jwks.status(), 200);
    }
    // What the kernel makes of the request: the short slice from Linux 6.12, the usual one before.
    let short = std::thread::spawn(|| {
        priority::ask_for_short_slices();
        slice_of(std::path::Path::new("/proc/thread-self"))
    })
    .join()
    .unwrap();
    let usual = slice_of(std::path::Path::new("/proc/thread-self"));
    let base = this_thread_nice();
    let workers: Vec<(i32, Option<u64>)> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| {
            let task = task.ok()?.path();
            let (name, nice) = name_and_nice(&std::fs::read_to_string(task.join("stat")).ok()?)?;
            name.starts_with("actix-server wo")
                .then(|| (nice, slice_of(&task)))
        })
        .collect();
    assert!(
        workers.contains(&(base, short)),
        "the content worker runs in short slices: {workers:?}"
    );
    let public: Vec<_> = workers.iter().filter(|(nice, _)| *nice == base + 12).collect();
    assert!(
        !public.is_empty() && public.iter().all(|(_, slice)| *slice == usual),
        "the public workers keep the usual slice: {workers:?}"
    );
}

/// A viewer, the first-party app they sign in to and a content service.
async fn viewer_app_and_service(fixture: &Fixture) -> (CreatedClient, CreatedClient) {
    flow::create_user(&fixture.server, "viewer@example.com").await;
    let app = fixture.server.create_client(flow::first_party_app()).await;
    (app, fixture.server.service_client(&[]).await)
}

/// The viewer signs in to `app` for a new token with entitlements, which `service`
/// introspects on the content address; its answer.
async fn introspect_a_viewers_token(
    fixture: &Fixture,
    app: &CreatedClient,
    service: &CreatedClient,
) -> serde_json::Value {
    let tokens = flow::person_tokens(&fixture.server, app, "viewer@example.com", "openid entitlements").await;
    let response = common::post_form(
        &format!("{}/oauth/introspect", fixture.content_url),
        service,
        &[("token", tokens["access_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `(thread name, scheduling class)` of every thread of this process: 0 normal, 1 `SCHED_FIFO`.
fn thread_policies() -> Vec<(String, Option<u32>)> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| {
            let task = task.ok()?.path();
            let (name, _) = name_and_nice(&std::fs::read_to_string(task.join("stat")).ok()?)?;
            Some((name, sched_field(&task, "policy")))
        })
        .collect()
}

// The test command runs as root: the kernel grants real time.
async fn with_a_realtime_priority_the_content_worker_alone_runs_in_sched_fifo(backend: Backend) {
    let fixture = fixture_with(backend, Some(1)).await;
    let (app, service) = viewer_app_and_service(&fixture).await;
    // Once it has answered, the content worker has started, and so have the threads that read
    // a person's entitlements for it.
    assert_eq!(
        introspect_a_viewers_token(&fixture, &app, &service).await["active"],
        true
    );

    let threads = thread_policies();
    let real_time: Vec<_> = threads.iter().filter(|(_, policy)| *policy == Some(1)).collect();
    assert_eq!(real_time.len(), 1, "one thread in real time: {threads:?}");
    assert!(
        real_time[0].0.starts_with("actix-server wo"),
        "the content worker: {threads:?}"
    );
    assert!(
        threads
            .iter()
            .filter(|(name, _)| name.starts_with("actix-server wo"))
            .count()
            > 1,
        "the public workers, in the normal class: {threads:?}"
    );
}

/// A process without `CAP_SYS_NICE` cannot raise a thread's priority again: work of every kind
/// must land on threads at or above its level. Sign-ins (argon2 and the database on the public
/// workers' calls), token requests and introspection of a person's token (the database on the
/// content worker's calls) never ask for it.
async fn with_a_content_address_no_thread_is_asked_to_raise_its_priority(backend: Backend) {
    let fixture = fixture(backend).await;
    let (app, service) = viewer_app_and_service(&fixture).await;
    for _ in 0..3 {
        introspect_a_viewers_token(&fixture, &app, &service).await;
        common::issue_token(&fixture.server, &service, None).await;
    }
    assert_eq!(priority::raises_refused(), 0);
}

on_both_backends!(
    with_a_content_address_no_thread_is_asked_to_raise_its_priority,
    with_a_content_address_content_servers_introspect_there,
    the_content_address_serves_the_jwks,
    the_content_address_serves_nothing_else,
    with_a_content_address_the_other_threads_run_below_its_worker,
    with_a_content_address_its_worker_alone_runs_in_short_slices,
    with_a_realtime_priority_the_content_worker_alone_runs_in_sched_fifo,
);
