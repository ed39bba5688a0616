//! The runtimes that run the documentation's receivers and snippets (Python, Node, Go), with
//! the packages they import. `tests/run` installs them when missing, outside the clone, under
//! `~/.cache/usher-tools` (`USHER_TOOLS_DIR` overrides): a virtualenv with `standardwebhooks`,
//! `PyJWT` and `cryptography`, an npm prefix with `jose` and `standardwebhooks`, and Go from
//! the distribution.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn tools_dir() -> PathBuf {
    std::env::var_os("USHER_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/usher-tools")))
        .expect("HOME or USHER_TOOLS_DIR is set")
}

fn installed(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} is missing at {}: run tests/run once, it installs it",
        path.display()
    );
    path
}

/// The virtualenv's Python, with `standardwebhooks`, `jwt` (PyJWT) and `cryptography`.
pub fn python() -> Command {
    Command::new(installed(
        tools_dir().join("python/bin/python"),
        "the Python virtualenv",
    ))
}

/// Node, resolving `require('jose')` and `require('standardwebhooks')` from the npm prefix.
pub fn node() -> Command {
    let modules = installed(tools_dir().join("node/node_modules"), "the npm modules");
    let mut node = Command::new("node");
    node.env("NODE_PATH", modules);
    node
}

/// Go's `go` command, with its caches outside the clone.
pub fn go() -> Command {
    let go = ["/usr/bin/go", "/usr/lib/go/bin/go"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("go is missing: run tests/run once, it installs golang-go"));
    let mut command = Command::new(go);
    command
        .env("GOCACHE", tools_dir().join("go/cache"))
        .env("GOPATH", tools_dir().join("go/path"))
        // Snippets use the standard library only: nothing is fetched.
        .env("GOPROXY", "off")
        .env("GO111MODULE", "off");
    command
}

/// A long-running program (a receiver), killed when dropped, whose standard output is read a
/// line at a time.
pub struct Running {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            // Its own process group, so that dropping it also ends what it started (`go run`
            // runs the program it builds as a child).
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {command:?}: {error}"));
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut child_stderr = child.stderr.take().expect("piped stderr");
        let collected = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = child_stderr.read_to_string(&mut text);
            collected.lock().expect("stderr lock").push_str(&text);
        });
        Self { child, lines, stderr }
    }

    /// The next line the program prints; fails the test if none comes within `patience`.
    pub fn next_line(&self, patience: Duration) -> String {
        match self.lines.recv_timeout(patience) {
            Ok(line) => line,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "no output within {patience:?}; stderr: {}",
                    self.stderr.lock().expect("stderr lock")
                )
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on at the moment: for a program that must be told its port before
/// it starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
