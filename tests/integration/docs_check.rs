//! Every command in README.md and docs/*.md runs: each doc's shell blocks (```` ```sh ````,
//! `bash`, `shell`, `console`) are run in order, as one shell session, against a live server
//! started for that doc (SQLite, a free port, issuer `http://localhost:PORT`; `localhost:8080`
//! and `localhost:3000` in the doc are moved to free ports). A block that fails fails the check
//! with the doc, the block's line and its output. New docs are picked up by the glob.
//!
//! What a person does between commands, the check does as the person who the docs create
//! ([`PERSON_EMAIL`] with [`PERSON_PASSWORD`]): when a block prints `Open URL` for an
//! authorization request, the check signs in, allows, and types the address the browser was
//! sent back to; when it prints `go to URL and enter CODE`, the check approves that code.
//!
//! Besides: a block whose info string names a file after the language (```` ```sh
//! tv-sign-in.sh ````, ```` ```js docs/examples/node-web-app/app.mjs ````) is that file: an
//! existing one must contain the block verbatim, a new one is written for later blocks to run.
//! Every `usher COMMAND …` the docs name must exist (`--help` answers).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::flow::{self, hidden_field};
use crate::common::shell_docs::{self, Block, Ports, RunningScript, Workspace};

/// The person the docs create, who signs in when a doc asks for a browser.
const PERSON_EMAIL: &str = "viewer@example.com";
const PERSON_PASSWORD: &str = "a long password";

/// How long one doc's commands may take: an `npm ci`, a server start, a device grant's poll.
const DOC_TIMEOUT: Duration = Duration::from_secs(180);

/// Blocks that are not run, each for a reason: (doc, text the block contains, why).
const NOT_RUN: &[(&str, &str, &str)] = &[
    (
        "README.md",
        "tests/run",
        "runs the whole test suite, this check included, and a release build",
    ),
    (
        "README.md",
        "cargo install",
        "a release build of 10 to 20 minutes; the check runs the binary built for the tests",
    ),
    (
        "README.md",
        "usher migrate",
        "the walk-through: tests/integration/readme.rs runs it",
    ),
    (
        "README.md",
        "app.mjs",
        "the sign-in walk-through: tests/integration/readme.rs runs it and signs in with Chromium",
    ),
    (
        "docs/benchmarks.md",
        "benches/run",
        "minutes of load by design; benches/run --quick is the benchmark's own smoke run",
    ),
    (
        "docs/operations.md",
        "createdb",
        "creates or restores a PostgreSQL database of the reader's own (db.internal); the \
         integration tests run on PostgreSQL too",
    ),
];

/// README.md and every docs/*.md, sorted.
fn docs() -> Vec<String> {
    let mut docs: Vec<String> = std::fs::read_dir(shell_docs::repo().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    docs.insert(0, "README.md".into());
    docs
}

fn reason_not_run(doc: &str, block: &Block) -> Option<&'static str> {
    NOT_RUN
        .iter()
        .find(|(name, marker, _)| *name == doc && block.text.contains(marker))
        .map(|(_, _, reason)| *reason)
}

/// The file a block stands for, named after its language: `sh tv-sign-in.sh`.
fn named_file(block: &Block) -> Option<&str> {
    block.info.split_whitespace().nth(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shell_block_in_the_docs_runs_against_a_live_server() {
    let runs = docs().into_iter().map(|doc| tokio::spawn(run_doc(doc)));
    let mut failures = Vec::new();
    for run in futures_util::future::join_all(runs).await {
        failures.extend(run.unwrap());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runs one doc's shell blocks; what failed, one message each.
async fn run_doc(doc: String) -> Vec<String> {
    let markdown = shell_docs::read_repo_file(&doc);
    let workspace = Workspace::new();
    let mut failures = Vec::new();
    let mut runnable = Vec::new();
    for block in shell_docs::blocks(&markdown) {
        if let Some(file) = named_file(&block) {
            match std::fs::read_to_string(shell_docs::repo().join(file)) {
                Ok(text) if !text.contains(&block.text) => failures.push(format!(
                    "{doc}:{}: the block is not an excerpt of {file} as it is now",
                    block.line
                )),
                Ok(_) => {}
                Err(_) if block.is_shell() => {
                    std::fs::write(workspace.path().join(file), &block.text).unwrap()
                }
                Err(e) => failures.push(format!("{doc}:{}: {file}: {e}", block.line)),
            }
        } else if block.is_shell() && reason_not_run(&doc, &block).is_none() {
            runnable.push(block);
        }
    }
    if runnable.is_empty() {
        return failures;
    }

    let ports = Ports::free();
    let start_server = format!(
        "usher migrate >/dev/null 2>&1\nusher serve >usher.log 2>&1 &\n\
         until curl -sf {}/healthz >/dev/null; do sleep 0.1; done\n",
        ports.issuer()
    );
    let script = shell_docs::script(&runnable.iter().collect::<Vec<_>>(), &ports, "");
    let script = script.replacen(
        "trap 'kill $(jobs -p) 2>/dev/null' EXIT\n",
        &format!("trap 'kill $(jobs -p) 2>/dev/null' EXIT\n{start_server}"),
        1,
    );
    let env = [
        ("USHER_BIND", format!("127.0.0.1:{}", ports.server)),
        ("APP_URL", format!("http://localhost:{}", ports.app)),
    ];
    let mut running = RunningScript::start_interactive(&script, workspace.path(), &env);
    let person = Person::new(&ports.issuer());
    let deadline = Instant::now() + DOC_TIMEOUT;
    let mut seen_lines = 0;
    let exit = loop {
        let output = running.output();
        let lines: Vec<&str> = output.lines().collect();
        // Only whole lines: the last one may still be written.
        let complete = lines.len().saturating_sub(usize::from(!output.ends_with('\n')));
        for line in &lines[seen_lines.min(complete)..complete] {
            if let Err(e) = person.answer(line, &mut running).await {
                failures.push(format!("{doc}: the person could not do what {line:?} asked: {e}"));
            }
        }
        seen_lines = seen_lines.max(complete);
        if let Some(success) = running.try_exit() {
            break Some(success);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let output = running.output();
    match (exit, shell_docs::failed_block(&output)) {
        (Some(true), None) => {}
        (exit, Some((line, block_output))) => {
            let what = if exit.is_none() {
                format!("did not finish within {DOC_TIMEOUT:?}")
            } else {
                "failed".to_owned()
            };
            failures.push(format!(
                "{doc}:{line}: the block {what}; its output:\n{block_output}"
            ));
        }
        (_, None) => failures.push(format!(
            "{doc}: the script failed after its last block:\n{output}"
        )),
    }
    failures
}

/// The person at the keyboard and on the phone.
struct Person {
    browser: flow::Browser,
}

impl Person {
    fn new(issuer: &str) -> Person {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Person {
            browser: flow::Browser {
                http,
                base: issuer.to_owned(),
            },
        }
    }

    /// Does what an output line asks of a person, if anything.
    async fn answer(&self, line: &str, running: &mut RunningScript) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["Open", url, ..] = words.as_slice()
            && url.contains("/oauth/authorize?")
        {
            let sent_back_to = self.authorize(url).await?;
            running.type_line(&sent_back_to);
        }
        if let Some(at) = words.windows(2).position(|w| w == ["and", "enter"])
            && words[..at].contains(&"go")
            && let Some(code) = words.get(at + 2)
        {
            self.approve_device(code.trim_end_matches(['.', ','])).await?;
        }
        Ok(())
    }

    async fn sign_in(&self) -> Result<(), String> {
        let signed_in = self.browser.sign_in(None, PERSON_EMAIL, PERSON_PASSWORD).await;
        match signed_in.status().as_u16() {
            303 => Ok(()),
            status => Err(format!("signing in as {PERSON_EMAIL} answered {status}")),
        }
    }

    /// Signs in, allows the app, and returns where the browser was sent back to.
    async fn authorize(&self, url: &str) -> Result<String, String> {
        self.sign_in().await?;
        let mut answer = self.browser.follow(self.browser.get(url).await).await;
        if answer.status() == 200 {
            let page = answer.text().await.unwrap();
            if !page.contains("action=\"/oauth/consent\"") {
                return Err(format!("no consent page:\n{page}"));
            }
            let form = ["csrf", "request", "session"].map(|name| (name, hidden_field(&page, name)));
            let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            fields.push(("decision", "allow"));
            answer = self.browser.post("/oauth/consent", &fields).await;
        }
        if !answer.status().is_redirection() {
            return Err(format!("the authorization answered {}", answer.status()));
        }
        Ok(flow::location(&answer))
    }

    async fn approve_device(&self, user_code: &str) -> Result<(), String> {
        self.sign_in().await?;
        let page = self.browser.get("/device").await.text().await.unwrap();
        let csrf = hidden_field(&page, "csrf");
        let confirm = self
            .browser
            .post("/device", &[("csrf", csrf.as_str()), ("user_code", user_code)])
            .await;
        let page = confirm.text().await.unwrap();
        if !page.contains("action=\"/device/decision\"") {
            return Err(format!("no confirmation page for {user_code}:\n{page}"));
        }
        let done = self
            .browser
            .post(
                "/device/decision",
                &[
                    ("csrf", hidden_field(&page, "csrf").as_str()),
                    ("user_code", hidden_field(&page, "user_code").as_str()),
                    ("decision", "allow"),
                ],
            )
            .await;
        match done.status().as_u16() {
            200 => Ok(()),
            status => Err(format!("allowing {user_code} answered {status}")),
        }
    }
}

/// Every `usher COMMAND [SUBCOMMAND]` a shell block runs or an inline code span starts with.
fn named_commands(markdown: &str) -> BTreeSet<Vec<String>> {
    let mut commands = Vec::new();
    let mut prose = String::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
        } else if !in_block {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    for block in shell_docs::blocks(markdown)
        .iter()
        .filter(|block| block.is_shell())
    {
        for line in block.text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            for part in line.split(['|', ';', '&', '(']) {
                // Past assignments to variables, as in `CLIENT_ID=… usher …`.
                let words: Vec<&str> = part
                    .split_whitespace()
                    .skip_while(|word| word.contains('='))
                    .collect();
                commands.push(words.iter().map(|word| (*word).to_owned()).collect::<Vec<_>>());
            }
        }
    }
    for span in prose.split('`').skip(1).step_by(2) {
        commands.push(span.split_whitespace().map(str::to_owned).collect());
    }
    commands
        .into_iter()
        .filter(|words| words.first().is_some_and(|word| word == "usher"))
        .map(|words| {
            words[1..]
                .iter()
                .take(2)
                .take_while(|word| {
                    !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                })
                .cloned()
                .collect::<Vec<_>>()
        })
        .filter(|command| !command.is_empty())
        .collect()
}

/// The subcommands `usher ARGS --help` lists, or `None` if it fails.
fn subcommands(args: &[String]) -> Option<Vec<String>> {
    let output = Command::new(env!("CARGO_BIN_EXE_usher"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    if !output.status.success() {
        return None;
    }
    let help = String::from_utf8_lossy(&output.stdout).into_owned();
    let listed = help
        .split_once("Commands:\n")
        .map(|(_, rest)| {
            rest.lines()
                .take_while(|line| line.starts_with("  "))
                .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Some(listed)
}

#[test]
fn every_usher_command_the_docs_name_exists() {
    let mut missing = Vec::new();
    for doc in docs() {
        for command in named_commands(&shell_docs::read_repo_file(&doc)) {
            let Some(listed) = subcommands(&command[..1]) else {
                missing.push(format!("{doc}: usher {}", command[0]));
                continue;
            };
            // A second word is a subcommand only where the first has subcommands.
            if command.len() == 2 && !listed.is_empty() && !listed.contains(&command[1]) {
                missing.push(format!("{doc}: usher {}", command.join(" ")));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "commands the docs name that usher does not have:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_check_finds_every_doc_and_its_exemptions_still_match_a_block() {
    let docs = docs();
    assert!(docs.contains(&"docs/integration.md".to_owned()));
    for (doc, marker, _) in NOT_RUN {
        assert!(docs.contains(&(*doc).to_owned()), "{doc} is not a doc");
        let markdown = shell_docs::read_repo_file(doc);
        assert!(
            shell_docs::blocks(&markdown)
                .iter()
                .any(|block| block.is_shell() && block.text.contains(marker)),
            "no shell block of {doc} contains {marker:?}: remove the exemption"
        );
    }
    assert!(Path::new(env!("CARGO_BIN_EXE_usher")).exists());
}
