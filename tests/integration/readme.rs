//! The README's "Try it" walk-through, run as written: the shell block is taken from
//! README.md itself, with `usher` on the PATH, in an empty directory, on a free port instead
//! of 8080. If the README drifts from the server, this fails.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

/// The first `sh` block after `## Try it` that runs `usher migrate`.
fn try_it_block(readme: &str) -> String {
    let section = &readme[readme.find("## Try it").expect("a Try it section")..];
    section
        .split("```sh\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.contains("usher migrate"))
        .expect("the walk-through block")
        .to_owned()
}

#[test]
fn the_readme_try_it_walk_through_introspects_an_active_token() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let block = try_it_block(&readme).replace("localhost:8080", &format!("127.0.0.1:{port}"));
    // The server the walk-through starts in the background stops with the script.
    let script = format!("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n{block}");
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_usher")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // A server that never starts would keep the walk-through waiting for it.
    let mut command = Command::new("timeout");
    command
        .args(["120", "bash", "-c"])
        .arg(script)
        .current_dir(dir.path())
        .env("PATH", path)
        .env("USHER_LOG", "warn");
    for (name, _) in std::env::vars() {
        if name.starts_with("USHER_") && name != "USHER_LOG" {
            command.env_remove(name);
        }
    }
    command.env("USHER_BIND", format!("127.0.0.1:{port}"));
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("\"active\":true"), "{stdout}");
    assert!(stdout.contains("\"scope\":\"catalog:read\""), "{stdout}");
}
