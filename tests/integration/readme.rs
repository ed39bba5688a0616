//! The README's "Try it" walk-through, run as written: its shell blocks are taken from
//! README.md itself and run in a directory laid out like a clone, with `usher` on the PATH
//! (the binary cargo built for this run, instead of `cargo install`), on free ports instead of
//! 8080 and 3000. If the README drifts from the server or the example app, these fail.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use serde_json::Value;

use crate::common::browser::Browser;
use crate::common::shell_docs::{self, Block, DONE_MARK, Ports, RunningScript, Workspace};

/// A first `npm ci` without a warm cache, a server start and the example app's start.
const WALK_THROUGH_TIMEOUT: Duration = Duration::from_secs(240);

/// The shell blocks of the `## Try it` section, in order, but the one that installs the binary.
fn try_it_blocks(readme: &str) -> Vec<Block> {
    let start = readme.find("\n## Try it").expect("a Try it section");
    let end = readme[start + 1..]
        .find("\n## ")
        .map_or(readme.len(), |end| start + 1 + end);
    let first_line = readme[..start].lines().count() + 1;
    shell_docs::blocks(&readme[start..end])
        .into_iter()
        .filter(|block| block.is_shell() && !block.text.contains("cargo install"))
        .map(|block| Block {
            line: block.line + first_line - 1,
            ..block
        })
        .collect()
}

/// Starts the blocks of `blocks` (as the README has them) and waits until they have all run;
/// the servers they start in the background keep running until the script is dropped.
fn run_blocks(blocks: &[&Block], ports: &Ports, workspace: &Workspace) -> RunningScript {
    let script = shell_docs::script(blocks, ports, "wait\n");
    let env = [
        ("USHER_BIND", format!("127.0.0.1:{}", ports.server)),
        // The server's issuer is http://localhost:PORT already; the example app is told.
        ("USHER_ISSUER", ports.issuer()),
        ("APP_URL", format!("http://localhost:{}", ports.app)),
    ];
    let mut running = RunningScript::start(&script, workspace.path(), &env);
    running.wait_for_line(DONE_MARK, WALK_THROUGH_TIMEOUT);
    running
}

#[test]
fn the_readme_try_it_walk_through_introspects_an_active_token() {
    let readme = shell_docs::read_repo_file("README.md");
    let blocks = try_it_blocks(&readme);
    let walk_through = blocks
        .iter()
        .find(|block| block.text.contains("usher migrate"))
        .expect("the walk-through block");
    let workspace = Workspace::new();
    let running = run_blocks(&[walk_through], &Ports::free(), &workspace);
    let output = running.output();
    assert!(output.contains("\"active\":true"), "{output}");
    assert!(output.contains("\"scope\":\"catalog:read\""), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_following_the_readme_signs_in_to_the_example_app_in_a_browser() {
    let readme = shell_docs::read_repo_file("README.md");
    let blocks = try_it_blocks(&readme);
    assert!(
        blocks.iter().any(|block| block.text.contains("app.mjs")),
        "the README starts the example app"
    );
    let ports = Ports::free();
    let workspace = Workspace::new();
    let running =
        tokio::task::block_in_place(|| run_blocks(&blocks.iter().collect::<Vec<_>>(), &ports, &workspace));
    // `usher user create` prints the new person's id.
    let output = running.output();
    let person_id = output
        .lines()
        .find_map(|line| line.strip_prefix("id: "))
        .unwrap_or_else(|| panic!("no person id in the walk-through's output:\n{output}"))
        .to_owned();

    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    let app = format!("http://localhost:{}/", ports.app);
    page.goto(&app).await;
    assert_eq!(page.text("h1").await, "Not signed in");
    page.click_and_wait("a[href='/login']").await;
    assert!(page.url().await.starts_with(&ports.issuer()));
    page.fill("input[autocomplete='username webauthn']", "me@example.com")
        .await;
    page.fill("input[autocomplete='current-password']", "a long password")
        .await;
    page.click_and_wait("button[type=submit]").await;
    assert!(
        page.text("h1").await.contains("My app"),
        "the consent page names the app"
    );
    page.click_and_wait("button[value=allow]").await;

    assert_eq!(page.url().await, app);
    assert_eq!(page.text("h1").await, "Signed in as me@example.com");
    let claims: Value = serde_json::from_str(&page.text("#id-token-claims").await).unwrap();
    assert_eq!(claims["sub"], person_id.as_str());
    assert_eq!(claims["iss"], ports.issuer().as_str());
    assert_eq!(claims["email"], "me@example.com");
    let userinfo: Value = serde_json::from_str(&page.text("#userinfo").await).unwrap();
    assert_eq!(userinfo["sub"], person_id.as_str());

    page.click_and_wait("a[href='/logout']").await;
    assert_eq!(page.url().await, app);
    assert_eq!(
        page.text("h1").await,
        "Not signed in",
        "signing out comes back to the app"
    );
    drop(running);
}
