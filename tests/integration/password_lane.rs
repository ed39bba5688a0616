//! Password checks (argon2id) run in their own bounded lane: when it is full, a sign-in is
//! answered at once with 503 and `Retry-After`, not left to hang, and the lane frees up again.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow::{self, Browser};
use common::{Backend, TestDb, TestServer};
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;

async fn a_sign_in_while_password_checks_are_at_capacity_is_answered_503_with_retry_after(backend: Backend) {
    let db = TestDb::new(backend);
    let config = Config {
        password_hash_slots: Some(1),
        password_hash_queue: 0,
        ..db.config()
    };
    let server = TestServer::start_with(config, Clock::System).await;
    let email = "viewer@example.com";
    flow::create_user(&server, email).await;

    // Another password check holds the lane's only slot.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel();
    let state = server.state.clone();
    let holder = tokio::spawn(async move {
        state
            .password_lane
            .run(move || {
                started.send(()).expect("test waits");
                held.recv().expect("test releases");
            })
            .await
    });
    running.await.expect("slot taken");

    let browser = Browser::new(&server);
    let refused = browser.sign_in(None, email, flow::PASSWORD).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "2");
    assert!(refused.text().await.expect("page").contains("try again"));

    release.send(()).expect("holder waits");
    holder.await.expect("holder task").expect("held check ran");
    let signed_in = browser.sign_in(None, email, flow::PASSWORD).await;
    assert_eq!(signed_in.status(), 303, "the lane is free again");
}

async fn a_burst_of_right_passwords_from_one_address_leaves_it_unlocked(backend: Backend) {
    let db = TestDb::new(backend);
    let config = Config {
        password_hash_slots: Some(1),
        password_hash_queue: 8,
        login_failures_per_ip: 2,
        ..db.config()
    };
    let server = TestServer::start_with(config, Clock::System).await;
    let email = "viewer@example.com";
    flow::create_user(&server, email).await;

    // The lane's only slot is held, so the sign-ins let through wait in its queue.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel();
    let state = server.state.clone();
    let holder = tokio::spawn(async move {
        state
            .password_lane
            .run(move || {
                started.send(()).expect("test waits");
                held.recv().expect("test releases");
            })
            .await
    });
    running.await.expect("slot taken");

    let burst: Vec<_> = (0..4)
        .map(|_| {
            let browser = Browser::new(&server);
            tokio::spawn(async move {
                browser
                    .sign_in(None, email, flow::PASSWORD)
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    // Two are over the address's limit while the first two wait: they are answered at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while burst.iter().filter(|sign_in| sign_in.is_finished()).count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "two sign-ins refused at once"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    release.send(()).expect("holder waits");
    holder.await.expect("holder task").expect("held check ran");
    let mut statuses = Vec::new();
    for sign_in in burst {
        statuses.push(sign_in.await.expect("sign-in task"));
    }
    statuses.sort_unstable();
    assert_eq!(statuses, vec![303, 303, 429, 429]);

    let later = Browser::new(&server).sign_in(None, email, flow::PASSWORD).await;
    assert_eq!(later.status(), 303, "right passwords leave nothing counted");
}

on_both_backends!(
    a_sign_in_while_password_checks_are_at_capacity_is_answered_503_with_retry_after,
    a_burst_of_right_passwords_from_one_address_leaves_it_unlocked,
);
