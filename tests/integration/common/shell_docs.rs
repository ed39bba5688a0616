//! Runs the shell blocks of the Markdown docs as written: the blocks are read from the files
//! themselves, put in one bash script in the order they appear, and run with `usher` on the
//! `PATH`, in a directory laid out like a clone (docs/examples/ copied into it), with
//! `localhost:8080` (the server) and `localhost:3000` (the example app) moved to free ports.

use std::io::Read as _;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Printed before each block, with the block's line number, so that a failure names it.
pub const BLOCK_MARK: &str = "::docs-block-line::";
/// Printed after the last block.
pub const DONE_MARK: &str = "::docs-done::";

/// A fenced code block of a Markdown file.
#[derive(Debug, Clone)]
pub struct Block {
    /// The line of the opening fence, counted from 1.
    pub line: usize,
    /// Everything after the opening backticks: `sh`, `js docs/examples/…`, ….
    pub info: String,
    pub text: String,
}

impl Block {
    /// A block the reader is meant to paste into a shell.
    pub fn is_shell(&self) -> bool {
        matches!(
            self.info.split_whitespace().next(),
            Some("sh" | "bash" | "shell" | "console")
        )
    }
}

/// Every fenced block (```` ``` ```` at the start of a line) of `markdown`, in order.
pub fn blocks(markdown: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((index + 1, info.trim().to_owned(), String::new())),
            (Some(_), Some(rest)) if rest.trim().is_empty() => {
                let (line, info, text) = open.take().unwrap();
                found.push(Block { line, info, text });
            }
            (Some((_, _, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a code block is never closed");
    found
}

/// The repository's root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn read_repo_file(relative: &str) -> String {
    std::fs::read_to_string(repo().join(relative)).unwrap_or_else(|e| panic!("reading {relative}: {e}"))
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The ports the docs' `localhost:8080` and `localhost:3000` are moved to.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub server: u16,
    pub app: u16,
}

impl Ports {
    pub fn free() -> Ports {
        Ports {
            server: free_port(),
            app: free_port(),
        }
    }

    /// `text` with the docs' ports replaced by these.
    pub fn apply(&self, text: &str) -> String {
        text.replace("localhost:8080", &format!("localhost:{}", self.server))
            .replace("localhost:3000", &format!("localhost:{}", self.app))
    }

    pub fn issuer(&self) -> String {
        format!("http://localhost:{}", self.server)
    }
}

/// A bash script of doc blocks: each block is preceded by [`BLOCK_MARK`] and its line, so the
/// output says which block was running when the script stopped. It stops at the first failing
/// command (`set -euo pipefail`: an unset variable fails too), and ends what it started in the
/// background when it exits.
pub fn script(blocks: &[&Block], ports: &Ports, after: &str) -> String {
    let mut script = String::from("set -euo pipefail\nexec 2>&1\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n");
    for block in blocks {
        // On a line of its own, also after output without a final newline.
        script.push_str(&format!("printf '\\n{BLOCK_MARK}{}\\n'\n", block.line));
        script.push_str(&ports.apply(&block.text));
    }
    script.push_str(&format!("printf '\\n{DONE_MARK}\\n'\n{after}"));
    script
}

/// A scratch directory laid out like a clone of the repository for the docs' commands: the
/// example apps of docs/examples/ are copied in (without their installed packages).
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&repo().join("docs/examples"), &dir.path().join("docs/examples"));
        Workspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "node_modules" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A script running under bash in a process group of its own, its output (stdout and stderr
/// together) in a file. Dropping it ends the whole group: the servers it started too.
pub struct RunningScript {
    child: Child,
    output: PathBuf,
    /// What the script reads, when it was started to read typed lines.
    input: Option<ChildStdin>,
}

impl RunningScript {
    /// Starts `script` in `dir` with `usher` (the binary built for this test run) first on
    /// the `PATH`, no `USHER_*` setting from the test's own environment but `USHER_LOG=warn`,
    /// and `env` on top.
    pub fn start(script: &str, dir: &Path, env: &[(&str, String)]) -> RunningScript {
        Self::spawn(script, dir, env, Stdio::null())
    }

    /// [`RunningScript::start`], reading what [`RunningScript::type_line`] types.
    pub fn start_interactive(script: &str, dir: &Path, env: &[(&str, String)]) -> RunningScript {
        Self::spawn(script, dir, env, Stdio::piped())
    }

    fn spawn(script: &str, dir: &Path, env: &[(&str, String)], stdin: Stdio) -> RunningScript {
        let output = dir.join(".docs-script-output");
        let file = std::fs::File::create(&output).unwrap();
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_usher")).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("bash");
        command
            .args(["-c", script])
            .current_dir(dir)
            .stdin(stdin)
            .stdout(file)
            .stderr(Stdio::null())
            .process_group(0)
            .env("PATH", path)
            .env("USHER_LOG", "warn")
            // The example app's packages come from npm's cache when tests/run has filled it.
            .env("npm_config_prefer_offline", "true");
        for (name, _) in std::env::vars() {
            if name.starts_with("USHER_") && name != "USHER_LOG" {
                command.env_remove(name);
            }
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("bash");
        let input = child.stdin.take();
        RunningScript { child, output, input }
    }

    /// Types `line` and Enter, as a person answering the script would.
    pub fn type_line(&mut self, line: &str) {
        let input = self.input.as_mut().expect("a script started to read typed lines");
        let _ = writeln!(input, "{line}");
        let _ = input.flush();
    }

    /// Whether the script succeeded, once it has exited.
    pub fn try_exit(&mut self) -> Option<bool> {
        self.child.try_wait().unwrap().map(|status| status.success())
    }

    pub fn output(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.output) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Waits until the output has a line equal to `line`; panics with the output if the script
    /// exits first or `timeout` passes.
    pub fn wait_for_line(&mut self, line: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let output = self.output();
            if output.lines().any(|l| l == line) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the script exited ({status}) before printing {line:?}:\n{output}");
            }
            if Instant::now() > deadline {
                panic!("the script did not print {line:?} within {timeout:?}:\n{output}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunningScript {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// Where a script's output says it stopped: the line of the block that was running, and the
/// output from that block's start. `None` when it got past every block.
pub fn failed_block(output: &str) -> Option<(usize, String)> {
    if output.lines().any(|line| line == DONE_MARK) {
        return None;
    }
    let start = output.rfind(BLOCK_MARK)?;
    let rest = &output[start + BLOCK_MARK.len()..];
    let (line, block_output) = rest.split_once('\n').unwrap_or((rest, ""));
    Some((line.trim().parse().unwrap_or(0), block_output.to_owned()))
}
