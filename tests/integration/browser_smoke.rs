//! The browser test kit itself: headless Chromium, driven over the DevTools protocol, posts a
//! form to the callback server, keeps a cookie, follows a viewport change and takes screenshots.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::browser::{Browser, CallbackServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_submitted_in_chromium_reaches_the_callback_server() {
    let callback = CallbackServer::start().await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    let origin = callback.url().replace("/callback", "/");

    page.start_recording_network();
    page.goto(&format!("{}?step=start", callback.url())).await;
    let visit = callback.next_request().await;
    assert_eq!(visit.method, "GET");
    assert_eq!(visit.url.path(), "/callback");
    assert_eq!(visit.query("step").as_deref(), Some("start"));
    assert_eq!(page.url().await, format!("{}?step=start", callback.url()));
    assert_eq!(page.text("p").await, "callback received");
    // The response's headers and its 24-byte body, no more.
    let bytes = page.network_bytes(&origin).await;
    assert!((100..1000).contains(&bytes), "{bytes} bytes transferred");

    page.eval("document.cookie = 'probe=1; SameSite=Strict'").await;
    let cookies = page.cookies().await;
    let probe = cookies
        .iter()
        .find(|c| c["name"] == "probe")
        .expect("the probe cookie");
    assert_eq!(probe["sameSite"], "Strict");
    assert_eq!(probe["httpOnly"], false);

    page.eval(&format!(
        r#"document.body.innerHTML = `<form method="post" action="{}?step=post">
             <input name="code"><input name="state"><button type="submit">Go</button></form>`"#,
        callback.url()
    ))
    .await;
    page.fill("input[name=code]", "abc 123&x").await;
    page.fill("input[name=state]", "ünïcode").await;
    page.click_and_wait("button[type=submit]").await;

    let post = callback.next_request().await;
    assert_eq!(post.method, "POST");
    assert_eq!(post.query("step").as_deref(), Some("post"));
    let form = post.form();
    assert_eq!(form["code"], "abc 123&x");
    assert_eq!(form["state"], "ünïcode");
    page.wait_for("document.body.innerText.includes('callback received')")
        .await;
    assert!(page.html().await.contains("<p>callback received</p>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewport_follows_emulation_and_screenshots_cover_the_whole_page() {
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    page.goto(
        "data:text/html,<meta name=viewport content='width=device-width'>\
         <body style='margin:0'><div style='height:3000px'>tall</div></body>",
    )
    .await;

    page.set_viewport(390, 844, true).await;
    assert_eq!(page.eval("window.innerWidth").await, 390);
    page.set_viewport(1280, 800, false).await;
    assert_eq!(page.eval("window.innerWidth").await, 1280);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.png");
    page.screenshot(&path).await;
    let png = std::fs::read(&path).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let dimension = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!(
        (dimension(16), dimension(20)),
        (1280, 3000),
        "the whole page, in the IHDR chunk"
    );
}
