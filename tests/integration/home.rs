//! `/`: a page saying what this server is, linking to the account page, and to the dashboard
//! for administrators only.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow::{self, Browser, PASSWORD};
use common::{Backend, TestDb, TestServer};
use usher::domain::identity::users::{NewUser, create};

async fn home_of(browser: &Browser) -> String {
    let home = browser.get("/").await;
    assert_eq!(home.status(), 200);
    assert!(
        home.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(home.headers().contains_key("content-security-policy"));
    home.text().await.unwrap()
}

async fn the_home_page_says_what_this_server_is_and_links_to_the_account(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let page = home_of(&Browser::new(&server)).await;
    assert!(page.contains("sign-in service"), "{page}");
    assert!(page.contains(r#"href="/account""#), "{page}");
    assert!(!page.contains(r#"href="/admin""#), "{page}");
}

async fn a_signed_in_person_who_is_not_an_administrator_sees_no_dashboard_link(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "viewer@example.com").await;
    let browser = Browser::new(&server);
    browser.sign_in(None, "viewer@example.com", PASSWORD).await;
    let page = home_of(&browser).await;
    assert!(page.contains(r#"href="/account""#), "{page}");
    assert!(!page.contains(r#"href="/admin""#), "{page}");
}

async fn a_signed_in_administrator_sees_a_link_to_the_dashboard(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let admin = NewUser {
        email: "admin@example.com".to_owned(),
        name: None,
        password: Some(PASSWORD.into()),
        admin: true,
    };
    let now = server.state.clock.now();
    server
        .state
        .store
        .run(move |conn| create(conn, admin, now).map(|_| ()))
        .await
        .unwrap();
    let browser = Browser::new(&server);
    browser.sign_in(None, "admin@example.com", PASSWORD).await;
    let page = home_of(&browser).await;
    assert!(page.contains(r#"href="/admin""#), "{page}");
}

on_both_backends!(
    the_home_page_says_what_this_server_is_and_links_to_the_account,
    a_signed_in_person_who_is_not_an_administrator_sees_no_dashboard_link,
    a_signed_in_administrator_sees_a_link_to_the_dashboard,
);
