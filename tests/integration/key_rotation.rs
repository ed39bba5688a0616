//! Key rotation: new tokens are signed by the new key at once, while tokens signed by the old
//! key keep introspecting active until they expire and its public key stays in the JWKS.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::{Backend, TestDb, TestServer};
use usher::foundation::clock::Clock;
use usher::foundation::crypto::keyring;

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn published_kids(server: &TestServer) -> Vec<String> {
    let jwks: serde_json::Value = common::http()
        .get(server.endpoint("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Rotates as `usher keys rotate` does, and makes the server read its keys again.
async fn rotate(server: &TestServer) -> Vec<String> {
    let state = std::sync::Arc::clone(&server.state);
    let now = state.clock.now();
    let ttl = state.config.longest_token_lifetime_secs();
    let kids = state
        .store
        .run({
            let state = std::sync::Arc::clone(&state);
            move |conn| keyring::rotate(conn, &state.master_key, now, ttl)
        })
        .await
        .unwrap();
    state.core.reload_keys().await.unwrap();
    kids
}

async fn a_token_signed_by_a_rotated_key_stays_active_until_it_expires(backend: Backend) {
    let db = TestDb::new(backend);
    let clock = Clock::manual(Clock::System.now());
    let server = TestServer::start_with(db.config(), clock.clone()).await;
    let client = server.service_client(&["catalog:read"]).await;
    let old_token = common::issue_token(&server, &client, None).await;
    let old_kid = kid_of(&old_token);

    clock.advance(600);
    let new_kids = rotate(&server).await;
    let new_token = common::issue_token(&server, &client, None).await;

    assert!(
        new_kids.contains(&kid_of(&new_token)),
        "new tokens use the new key"
    );
    assert_ne!(kid_of(&new_token), old_kid);
    assert!(
        published_kids(&server).await.contains(&old_kid),
        "the old key is still published"
    );
    assert_eq!(
        common::introspect(&server, &client, &old_token).await["active"],
        true
    );

    clock.advance(300);
    assert_eq!(
        common::introspect(&server, &client, &old_token).await["active"],
        false,
        "expired"
    );
    server.state.core.reload_keys().await.unwrap();
    assert!(
        published_kids(&server).await.contains(&old_kid),
        "still published: it signed tokens until the rotation, 300 s ago, and a margin follows"
    );

    // Retired once the longest-lived token it could have signed (an ID token) has expired,
    // plus a two-minute margin; 300 s of that have passed.
    clock.advance(server.state.config.longest_token_lifetime_secs() + 120 - 300 + 1);
    server.state.core.reload_keys().await.unwrap();
    let kids = published_kids(&server).await;
    assert!(
        !kids.contains(&old_kid),
        "retired once every token it signed has expired"
    );
    assert!(kids.contains(&kid_of(&new_token)));
}

async fn rotation_replaces_both_algorithms_and_keeps_private_keys_sealed(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let before = published_kids(&server).await;
    let new_kids = rotate(&server).await;
    let after = published_kids(&server).await;
    assert_eq!(new_kids.len(), 2);
    assert_eq!(after.len(), 4, "two active and two retired but published keys");
    assert!(before.iter().all(|kid| after.contains(kid)));

    let sealed: Vec<String> = server
        .state
        .store
        .run(|conn| {
            use diesel::prelude::*;
            use usher::foundation::store::schema::signing_keys;
            Ok::<_, usher::foundation::store::StoreError>(
                signing_keys::table
                    .select(signing_keys::sealed_private_key)
                    .load::<String>(conn)?,
            )
        })
        .await
        .unwrap();
    for blob in sealed {
        assert!(
            !blob.contains("PRIVATE KEY"),
            "private keys are stored sealed, not as PEM"
        );
    }
}

async fn a_different_master_key_cannot_open_the_stored_keys(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    server.stop().await;
    let elsewhere = tempfile::tempdir().unwrap();
    let config = usher::foundation::config::Config {
        keys_dir: elsewhere.path().to_path_buf(),
        ..db.config()
    };
    let refused = usher::app::server::start(config, Clock::System)
        .await
        .err()
        .expect("start refused");
    assert!(refused.to_string().contains("master key"), "{refused}");
}

on_both_backends!(
    a_token_signed_by_a_rotated_key_stays_active_until_it_expires,
    rotation_replaces_both_algorithms_and_keeps_private_keys_sealed,
    a_different_master_key_cannot_open_the_stored_keys,
);
