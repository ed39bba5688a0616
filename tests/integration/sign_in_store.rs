//! The storage of the sign-in flow on both databases: sessions, single-use authorization
//! codes, refresh-token families and consents.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::{Backend, TestDb};
use usher::domain::identity::users::{self, NewUser};
use usher::domain::oauth::clients::{self, NewClient};
use usher::foundation::store::codes::{self, AuthorizationCode, Redemption};
use usher::foundation::store::refresh_tokens::{self, RefreshToken};
use usher::foundation::store::sessions::{self, Session};
use usher::foundation::store::{DbConnection, Store, consents};

const NOW: i64 = 1_800_000_000;

/// A migrated store with one person and one client: (store, user id, client id).
fn fixture(db: &TestDb) -> (Store, String, String) {
    let store = Store::open(&db.url, 2).unwrap();
    let (user_id, client_id) = store
        .run_blocking(|conn| {
            let user = users::create(
                conn,
                NewUser {
                    email: "viewer@example.com".into(),
                    ..NewUser::default()
                },
                NOW,
            )
            .unwrap();
            let client = clients::create(
                conn,
                NewClient {
                    name: "web".into(),
                    redirect_uris: vec!["https://app.example/cb".into()],
                    ..NewClient::default()
                },
                NOW,
            )
            .unwrap();
            Ok::<_, usher::foundation::store::StoreError>((user.id, client.client_id))
        })
        .unwrap();
    (store, user_id, client_id)
}

fn code(user_id: &str, client_id: &str) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: "code-hash".into(),
        client_id: client_id.into(),
        user_id: user_id.into(),
        sid: "sid-1".into(),
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid offline_access".into(),
        nonce: Some("n-1".into()),
        code_challenge: Some("challenge".into()),
        auth_time: NOW,
        amr: vec!["pwd".into()],
        created_at: NOW,
        expires_at: NOW + 60,
        profile_id: Some("profile-1".into()),
    }
}

fn refresh(user_id: &str, client_id: &str, hash: &str) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        family_id: "family-1".into(),
        client_id: client_id.into(),
        user_id: user_id.into(),
        sid: "sid-1".into(),
        code_hash: "code-hash".into(),
        scope: "openid offline_access".into(),
        auth_time: NOW,
        amr: vec!["pwd".into()],
        created_at: NOW,
        expires_at: NOW + 3600,
        rotated_at: None,
        revoked_at: None,
        access_token: Some((format!("at-{hash}"), NOW + 900)),
        profile_id: Some("profile-1".into()),
    }
}

fn with_conn<T>(store: &Store, work: impl FnOnce(&mut DbConnection) -> T) -> T {
    store
        .run_blocking(|conn| Ok::<_, usher::foundation::store::StoreError>(work(conn)))
        .unwrap()
}

async fn an_authorization_code_is_redeemed_once_then_reported_as_replayed(backend: Backend) {
    let db = TestDb::new(backend);
    let (store, user_id, client_id) = fixture(&db);
    with_conn(&store, |conn| codes::insert(conn, &code(&user_id, &client_id))).unwrap();

    let first = with_conn(&store, |conn| {
        codes::redeem(conn, "code-hash", &client_id, NOW + 1)
    })
    .unwrap();
    let Redemption::Fresh(redeemed) = first else {
        panic!("first redemption is fresh")
    };
    assert_eq!(*redeemed, code(&user_id, &client_id));
    with_conn(&store, |conn| {
        codes::record_access_token(conn, "code-hash", "jti-1", NOW + 900)
    })
    .unwrap();

    let second = with_conn(&store, |conn| {
        codes::redeem(conn, "code-hash", &client_id, NOW + 2)
    })
    .unwrap();
    let Redemption::Replayed { access_token, .. } = second else {
        panic!("second redemption is a replay")
    };
    assert_eq!(access_token, Some(("jti-1".to_owned(), NOW + 900)));
    assert!(matches!(
        with_conn(&store, |conn| codes::redeem(conn, "unknown", &client_id, NOW)).unwrap(),
        Redemption::Unknown
    ));
}

async fn another_client_can_neither_spend_a_code_nor_replay_it(backend: Backend) {
    let db = TestDb::new(backend);
    let (store, user_id, client_id) = fixture(&db);
    with_conn(&store, |conn| codes::insert(conn, &code(&user_id, &client_id))).unwrap();

    let stranger = with_conn(&store, |conn| {
        codes::redeem(conn, "code-hash", "another-client", NOW + 1)
    })
    .unwrap();
    assert!(
        matches!(stranger, Redemption::Unknown),
        "not spent by another client"
    );
    let own = with_conn(&store, |conn| {
        codes::redeem(conn, "code-hash", &client_id, NOW + 2)
    })
    .unwrap();
    assert!(
        matches!(own, Redemption::Fresh(_)),
        "still there for its own client"
    );
    let stranger = with_conn(&store, |conn| {
        codes::redeem(conn, "code-hash", "another-client", NOW + 3)
    })
    .unwrap();
    assert!(
        matches!(stranger, Redemption::Unknown),
        "not a replay when another client presents it"
    );
}

async fn a_refresh_token_rotates_once_and_its_family_is_revoked_together(backend: Backend) {
    let db = TestDb::new(backend);
    let (store, user_id, client_id) = fixture(&db);
    with_conn(&store, |conn| {
        refresh_tokens::insert(conn, &refresh(&user_id, &client_id, "r1"))?;
        refresh_tokens::insert(conn, &refresh(&user_id, &client_id, "r2"))
    })
    .unwrap();

    assert!(with_conn(&store, |conn| refresh_tokens::mark_rotated(conn, "r1", NOW + 5)).unwrap());
    assert!(
        !with_conn(&store, |conn| refresh_tokens::mark_rotated(conn, "r1", NOW + 6)).unwrap(),
        "only once"
    );
    let rotated = with_conn(&store, |conn| refresh_tokens::find(conn, "r1"))
        .unwrap()
        .unwrap();
    assert_eq!(rotated.rotated_at, Some(NOW + 5));

    assert_eq!(
        with_conn(&store, |conn| refresh_tokens::revoke_family(
            conn,
            "family-1",
            NOW + 7
        ))
        .unwrap(),
        vec![("at-r1".to_owned(), NOW + 900), ("at-r2".to_owned(), NOW + 900)],
        "the access tokens issued with the family are handed back for revocation"
    );
    let revoked = with_conn(&store, |conn| refresh_tokens::find(conn, "r2"))
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 7));
    assert!(!with_conn(&store, |conn| refresh_tokens::mark_rotated(conn, "r2", NOW + 8)).unwrap());
}

async fn refresh_tokens_are_revoked_by_session_and_by_code(backend: Backend) {
    let db = TestDb::new(backend);
    let (store, user_id, client_id) = fixture(&db);
    with_conn(&store, |conn| {
        refresh_tokens::insert(conn, &refresh(&user_id, &client_id, "r1"))
    })
    .unwrap();
    assert_eq!(
        with_conn(&store, |conn| refresh_tokens::revoke_for_session(
            conn, "sid-1", NOW
        ))
        .unwrap(),
        vec![("at-r1".to_owned(), NOW + 900)]
    );
    with_conn(&store, |conn| {
        refresh_tokens::insert(conn, &refresh(&user_id, &client_id, "r2"))
    })
    .unwrap();
    assert_eq!(
        with_conn(&store, |conn| refresh_tokens::revoke_for_code(
            conn,
            "code-hash",
            NOW
        ))
        .unwrap()
        .len(),
        2,
        "both tokens descend from the code, the one revoked earlier included"
    );
}

async fn a_session_is_live_until_it_ends_or_expires(backend: Backend) {
    let db = TestDb::new(backend);
    let (store, user_id, _) = fixture(&db);
    let session = Session {
        id_hash: "cookie-hash".into(),
        sid: "sid-1".into(),
        user_id,
        auth_time: NOW,
        amr: vec!["pwd".into()],
        created_at: NOW,
        last_seen_at: NOW,
        expires_at: NOW + 100,
        user_agent: "test".into(),
    };
    with_conn(&store, |conn| sessions::insert(conn, &session)).unwrap();
    assert_eq!(
        with_conn(&store, |conn| sessions::find_live(conn, "cookie-hash", NOW + 1)).unwrap(),
        Some(session)
    );
    assert_eq!(
        with_conn(&store, |conn| sessions::find_live(conn, "cookie-hash", NOW + 100)).unwrap(),
        None
    );
    with_conn(&store, |conn| sessions::touch(conn, "cookie-hash", NOW + 50)).unwrap();
    let touched = with_conn(&store, |conn| sessions::find_live(conn, "cookie-hash", NOW + 51))
        .unwrap()
        .unwrap();
    assert_eq!(touched.last_seen_at, NOW + 50);
    assert!(with_conn(&store, |conn| sessions::end(conn, "sid-1", NOW + 60)).unwrap());
    assert!(
        !with_conn(&store, |conn| sessions::end(conn, "sid-1", NOW + 61)).unwrap(),
        "ends once"
    );
    assert_eq!(
        with_conn(&store, |conn| sessions::find_live(conn, "cookie-hash", NOW + 62)).unwrap(),
        None
    );
}

async fn consent_accumulates_scopes_per_person_and_client(backend: Backend) {
    let db = TestDb::new(backend);
    let (store, user_id, client_id) = fixture(&db);
    assert!(
        with_conn(&store, |conn| consents::granted(conn, &user_id, &client_id))
            .unwrap()
            .is_empty()
    );
    with_conn(&store, |conn| {
        consents::grant(
            conn,
            &user_id,
            &client_id,
            &["openid".into(), "email".into()],
            NOW,
        )
    })
    .unwrap();
    with_conn(&store, |conn| {
        consents::grant(
            conn,
            &user_id,
            &client_id,
            &["email".into(), "profile".into()],
            NOW,
        )
    })
    .unwrap();
    assert_eq!(
        with_conn(&store, |conn| consents::granted(conn, &user_id, &client_id)).unwrap(),
        vec!["openid".to_owned(), "email".to_owned(), "profile".to_owned()]
    );
}

on_both_backends!(
    an_authorization_code_is_redeemed_once_then_reported_as_replayed,
    another_client_can_neither_spend_a_code_nor_replay_it,
    a_refresh_token_rotates_once_and_its_family_is_revoked_together,
    refresh_tokens_are_revoked_by_session_and_by_code,
    a_session_is_live_until_it_ends_or_expires,
    consent_accumulates_scopes_per_person_and_client,
);
