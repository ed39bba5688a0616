//! The WebAuthn ceremonies without a browser: a software authenticator (webauthn-authenticator-rs)
//! answers the options Usher hands out, and Usher's own functions check the answers against
//! the ceremony state kept in the database. The software authenticator cannot keep
//! discoverable credentials, so these tests name the credential and hand over the user handle
//! the way a passkey would; the browser tests (`browser_passkeys.rs`) run the real thing.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::{Backend, TestDb, TestServer, flow};
use serde_json::{Value, json};
use usher::domain::identity::passkeys::{self, PasskeyError, Started};
use usher::foundation::clock::Clock;
use usher::foundation::store::users;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{PublicKeyCredential, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const EMAIL: &str = "passkey@example.com";

struct Setup {
    server: TestServer,
    user: users::User,
    origin: Url,
    _db: TestDb,
}

async fn setup(backend: Backend) -> Setup {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(db.config(), Clock::manual(1_795_000_000)).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    let user = server
        .state
        .store
        .run(move |conn| users::find_by_id(conn, &user_id))
        .await
        .unwrap()
        .unwrap();
    let origin = Url::parse(&server.state.issuer).unwrap();
    Setup {
        server,
        user,
        origin,
        _db: db,
    }
}

impl Setup {
    async fn start_registration(&self) -> Started {
        let (state, user) = (self.server.state.clone(), self.user.clone());
        self.server
            .state
            .store
            .run(move |conn| {
                passkeys::start_registration(state.passkeys.as_ref().unwrap(), conn, &user, state.clock.now())
            })
            .await
            .unwrap()
    }

    async fn finish_registration(&self, ceremony: &str, answer: String) -> Result<String, PasskeyError> {
        self.finish_registration_named(ceremony, answer, "Test key").await
    }

    async fn finish_registration_named(
        &self,
        ceremony: &str,
        answer: String,
        name: &str,
    ) -> Result<String, PasskeyError> {
        let (state, user_id, ceremony, name) = (
            self.server.state.clone(),
            self.user.id.clone(),
            ceremony.to_owned(),
            name.to_owned(),
        );
        self.server
            .state
            .store
            .run(move |conn| {
                let now = state.clock.now();
                passkeys::finish_registration(
                    state.passkeys.as_ref().unwrap(),
                    conn,
                    &user_id,
                    &ceremony,
                    &answer,
                    &name,
                    now,
                )
                .map(|row| row.credential_id)
            })
            .await
    }

    async fn start_sign_in(&self) -> Started {
        let state = self.server.state.clone();
        self.server
            .state
            .store
            .run(move |conn| {
                passkeys::start_sign_in(state.passkeys.as_ref().unwrap(), conn, state.clock.now())
            })
            .await
            .unwrap()
    }

    async fn finish_sign_in(
        &self,
        ceremony: &str,
        answer: String,
    ) -> Result<(String, Vec<String>), PasskeyError> {
        let (state, ceremony) = (self.server.state.clone(), ceremony.to_owned());
        self.server
            .state
            .store
            .run(move |conn| {
                let now = state.clock.now();
                passkeys::finish_sign_in(state.passkeys.as_ref().unwrap(), conn, &ceremony, &answer, now)
                    .map(|signed_in| (signed_in.user.id, signed_in.amr))
            })
            .await
    }

    /// Registers a passkey held by `authenticator`; returns its credential id.
    async fn register(&self, authenticator: &mut SoftPasskey) -> String {
        let started = self.start_registration().await;
        let answer = authenticator
            .do_registration(self.origin.clone(), creation_options(&started))
            .expect("the authenticator answers");
        self.finish_registration(&started.ceremony, serde_json::to_string(&answer).unwrap())
            .await
            .expect("registered")
    }

    /// A sign-in answer from `authenticator` for `credential_id`, carrying `user_handle` as a
    /// discoverable credential would.
    fn assertion(
        &self,
        authenticator: &mut SoftPasskey,
        started: &Started,
        credential_id: &str,
        user_handle: &str,
        user_verification: &str,
    ) -> String {
        let mut public_key = started.public_key.clone();
        public_key["allowCredentials"] = json!([{ "type": "public-key", "id": credential_id }]);
        public_key["userVerification"] = user_verification.into();
        let options = serde_json::from_value(json!({ "publicKey": public_key })).unwrap();
        let mut answer: PublicKeyCredential = authenticator
            .do_authentication(self.origin.clone(), options)
            .expect("the authenticator answers");
        answer.response.user_handle = Some(uuid::Uuid::parse_str(user_handle).unwrap().as_bytes().to_vec());
        serde_json::to_string(&answer).unwrap()
    }
}

/// The registration options, made acceptable to a software authenticator that cannot keep
/// discoverable credentials (the server does not depend on it when finishing).
fn creation_options(started: &Started) -> webauthn_authenticator_rs::prelude::CreationChallengeResponse {
    let mut public_key: Value = started.public_key.clone();
    public_key["authenticatorSelection"]["residentKey"] = "discouraged".into();
    public_key["authenticatorSelection"]["requireResidentKey"] = false.into();
    serde_json::from_value(json!({ "publicKey": public_key })).unwrap()
}

async fn registration_asks_for_a_discoverable_credential_with_user_verification(backend: Backend) {
    let setup = setup(backend).await;
    let started = setup.start_registration().await;
    let selection = &started.public_key["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(selection["requireResidentKey"], true);
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(started.public_key["rp"]["id"], "localhost");
}

async fn a_registered_passkey_signs_in_as_multi_factor(backend: Backend) {
    let setup = setup(backend).await;
    let mut authenticator = SoftPasskey::new(true);
    let credential_id = setup.register(&mut authenticator).await;

    let started = setup.start_sign_in().await;
    let answer = setup.assertion(
        &mut authenticator,
        &started,
        &credential_id,
        &setup.user.id,
        "required",
    );
    let (user_id, amr) = setup
        .finish_sign_in(&started.ceremony, answer)
        .await
        .expect("signed in");
    assert_eq!(user_id, setup.user.id);
    assert_eq!(amr, ["hwk", "user", "mfa"]);
}

async fn a_sign_in_answer_works_once(backend: Backend) {
    let setup = setup(backend).await;
    let mut authenticator = SoftPasskey::new(true);
    let credential_id = setup.register(&mut authenticator).await;
    let started = setup.start_sign_in().await;
    let answer = setup.assertion(
        &mut authenticator,
        &started,
        &credential_id,
        &setup.user.id,
        "required",
    );
    setup
        .finish_sign_in(&started.ceremony, answer.clone())
        .await
        .expect("first use");
    let replay = setup.finish_sign_in(&started.ceremony, answer).await;
    assert!(matches!(replay, Err(PasskeyError::Refused(_))), "{replay:?}");
}

async fn an_answer_without_user_verification_is_refused(backend: Backend) {
    let setup = setup(backend).await;
    let mut authenticator = SoftPasskey::new(true);
    let credential_id = setup.register(&mut authenticator).await;
    let started = setup.start_sign_in().await;
    // Asked not to verify the person, the authenticator leaves the UV flag clear in the data
    // it signs: the server, which asked for verification, must see that.
    let answer = setup.assertion(
        &mut authenticator,
        &started,
        &credential_id,
        &setup.user.id,
        "discouraged",
    );
    let refused = setup.finish_sign_in(&started.ceremony, answer).await;
    assert!(matches!(refused, Err(PasskeyError::Refused(_))), "{refused:?}");
}

async fn a_passkey_cannot_sign_in_as_someone_else(backend: Backend) {
    let setup = setup(backend).await;
    let mut authenticator = SoftPasskey::new(true);
    let credential_id = setup.register(&mut authenticator).await;
    let other = flow::create_user(&setup.server, "other@example.com").await;
    let started = setup.start_sign_in().await;
    let answer = setup.assertion(&mut authenticator, &started, &credential_id, &other, "required");
    let refused = setup.finish_sign_in(&started.ceremony, answer).await;
    assert!(matches!(refused, Err(PasskeyError::Refused(_))), "{refused:?}");
}

async fn a_removed_passkey_no_longer_signs_in(backend: Backend) {
    let setup = setup(backend).await;
    let mut authenticator = SoftPasskey::new(true);
    let credential_id = setup.register(&mut authenticator).await;
    let (state, user_id) = (setup.server.state.clone(), setup.user.id.clone());
    let removed = setup
        .server
        .state
        .store
        .run(move |conn| {
            let id = usher::foundation::store::passkeys::list_for_user(conn, &user_id)?[0]
                .id
                .clone();
            passkeys::remove(conn, &user_id, &id, state.clock.now())
        })
        .await
        .unwrap();
    assert_eq!(removed.as_deref(), Some("Test key"));
    let started = setup.start_sign_in().await;
    let answer = setup.assertion(
        &mut authenticator,
        &started,
        &credential_id,
        &setup.user.id,
        "required",
    );
    let refused = setup.finish_sign_in(&started.ceremony, answer).await;
    assert!(matches!(refused, Err(PasskeyError::Refused(_))), "{refused:?}");
}

async fn a_ceremony_expires_after_five_minutes(backend: Backend) {
    let setup = setup(backend).await;
    let mut authenticator = SoftPasskey::new(true);
    let started = setup.start_registration().await;
    let answer = authenticator
        .do_registration(setup.origin.clone(), creation_options(&started))
        .unwrap();
    setup.server.state.clock.advance(301);
    let refused = setup
        .finish_registration(&started.ceremony, serde_json::to_string(&answer).unwrap())
        .await;
    assert!(matches!(refused, Err(PasskeyError::Refused(_))), "{refused:?}");
}

async fn a_registration_answer_for_another_ceremony_is_refused(backend: Backend) {
    let setup = setup(backend).await;
    let mut authenticator = SoftPasskey::new(true);
    let first = setup.start_registration().await;
    let second = setup.start_registration().await;
    let answer = authenticator
        .do_registration(setup.origin.clone(), creation_options(&first))
        .unwrap();
    // The challenge belongs to the first ceremony: the second one's state does not match it.
    let refused = setup
        .finish_registration(&second.ceremony, serde_json::to_string(&answer).unwrap())
        .await;
    assert!(matches!(refused, Err(PasskeyError::Refused(_))), "{refused:?}");
}

async fn the_same_authenticator_cannot_be_registered_twice(backend: Backend) {
    let setup = setup(backend).await;
    let mut authenticator = SoftPasskey::new(true);
    let credential_id = setup.register(&mut authenticator).await;
    let started = setup.start_registration().await;
    let excluded = started.public_key["excludeCredentials"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        excluded.len(),
        1,
        "the browser is told which authenticators to skip"
    );
    assert_eq!(excluded[0]["id"], credential_id);
}

async fn a_name_with_a_bidi_override_is_refused_and_the_ceremony_kept(backend: Backend) {
    let setup = setup(backend).await;
    let mut authenticator = SoftPasskey::new(true);
    let started = setup.start_registration().await;
    let answer = authenticator
        .do_registration(setup.origin.clone(), creation_options(&started))
        .expect("the authenticator answers");
    let answer = serde_json::to_string(&answer).unwrap();
    let refused = setup
        .finish_registration_named(&started.ceremony, answer.clone(), "\u{202E}yek tseT")
        .await;
    assert!(matches!(refused, Err(PasskeyError::Name)), "{refused:?}");
    let user_id = setup.user.id.clone();
    let stored = setup
        .server
        .state
        .store
        .run(move |conn| usher::foundation::store::passkeys::list_for_user(conn, &user_id))
        .await
        .unwrap();
    assert!(stored.is_empty());
    setup
        .finish_registration(&started.ceremony, answer)
        .await
        .expect("the same ceremony finishes under a plain name");
}

on_both_backends!(
    registration_asks_for_a_discoverable_credential_with_user_verification,
    a_registered_passkey_signs_in_as_multi_factor,
    a_sign_in_answer_works_once,
    an_answer_without_user_verification_is_refused,
    a_passkey_cannot_sign_in_as_someone_else,
    a_removed_passkey_no_longer_signs_in,
    a_ceremony_expires_after_five_minutes,
    a_registration_answer_for_another_ceremony_is_refused,
    the_same_authenticator_cannot_be_registered_twice,
    a_name_with_a_bidi_override_is_refused_and_the_ceremony_kept,
);
