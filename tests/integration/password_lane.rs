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

on_both_backends!(a_sign_in_while_password_checks_are_at_capacity_is_answered_503_with_retry_after);
