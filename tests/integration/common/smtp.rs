//! A real SMTP server beside the test: Debian's aiosmtpd on a free port, storing every mail
//! it receives in a Maildir that the test reads back, MIME-decoded.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use mailparse::{MailHeaderMap, ParsedMail};

/// The system interpreter: the one `python3-aiosmtpd` is installed for (`tests/run`).
const PYTHON: &str = "/usr/bin/python3";
const WAIT: Duration = Duration::from_secs(10);

pub struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    /// Mail already returned by `next_mail_to`, by Maildir file name.
    returned: Mutex<HashSet<String>>,
    dir: tempfile::TempDir,
}

/// One mail as the server received it, its parts decoded.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// The `To:` header.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The message as stored, still encoded.
    pub raw: String,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let mut dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("maildir");
        // Another process may take the port between our probe and aiosmtpd's bind: try again.
        for _ in 0..5 {
            let port = free_port();
            let log = dir.path().join("aiosmtpd.log");
            let child = Command::new(PYTHON)
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log file"))
                .spawn()
                .unwrap_or_else(|error| {
                    panic!("cannot start {PYTHON} -m aiosmtpd ({error}): apt-get install -y python3-aiosmtpd")
                });
            let mut server = SmtpServer {
                child,
                port,
                maildir: maildir.clone(),
                returned: Mutex::new(HashSet::new()),
                dir,
            };
            if server.wait_until_listening().await {
                return server;
            }
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            if !log.contains("Address already in use") && !log.contains("address already in use") {
                panic!("aiosmtpd did not start on port {port}:\n{log}");
            }
            dir = take_dir(&mut server);
        }
        panic!("aiosmtpd found no free port");
    }

    /// Whether the server accepts connections; false when it exited first.
    async fn wait_until_listening(&mut self) -> bool {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if self.child.try_wait().expect("aiosmtpd status").is_some() {
                return false;
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "aiosmtpd did not accept connections on port {} within {WAIT:?}",
            self.port
        );
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits (up to ~10 s) for the next mail to `to` that was not returned before; panics on
    /// timeout.
    pub async fn next_mail_to(&self, to: &str) -> ReceivedMail {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = stored(&self.maildir).into_iter().find_map(|(name, bytes)| {
                if self.returned.lock().unwrap().contains(&name) {
                    return None;
                }
                let (mail, recipients) = parse(&bytes);
                addressed_to(&mail, &recipients, to).then_some((name, mail))
            });
            if let Some((name, mail)) = found {
                self.returned.lock().unwrap().insert(name);
                return mail;
            }
            if Instant::now() >= deadline {
                let subjects: Vec<String> = self
                    .received()
                    .into_iter()
                    .map(|mail| format!("{} → {}", mail.subject, mail.to))
                    .collect();
                panic!("no new mail to {to} within {WAIT:?}; received so far: {subjects:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// All mail received so far (for "no mail was sent" assertions, after a short settle).
    pub fn received(&self) -> Vec<ReceivedMail> {
        stored(&self.maildir)
            .into_iter()
            .map(|(_, bytes)| parse(&bytes).0)
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ReceivedMail {
    /// The first http(s):// link in the text part containing `needle`.
    pub fn link_containing(&self, needle: &str) -> Option<String> {
        links(&self.text).find(|link| link.contains(needle))
    }
}

/// The http(s) URLs in `text`, each ending at whitespace, a quote or an angle bracket, with
/// sentence punctuation after it left out.
fn links(text: &str) -> impl Iterator<Item = String> + '_ {
    text.match_indices("http")
        .map(|(start, _)| &text[start..])
        .filter(|rest| rest.starts_with("https://") || rest.starts_with("http://"))
        .map(|rest| {
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
                .unwrap_or(rest.len());
            rest[..end]
                .trim_end_matches(['.', ',', ';', ':', '!', '?', ')'])
                .to_owned()
        })
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Stops a server that failed to start and gives its directory back for the next try.
fn take_dir(server: &mut SmtpServer) -> tempfile::TempDir {
    let _ = server.child.kill();
    let _ = server.child.wait();
    let placeholder = tempfile::tempdir().expect("temp dir");
    std::mem::replace(&mut server.dir, placeholder)
}

/// Every stored message, oldest first, by file name.
fn stored(maildir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(SystemTime, String, PathBuf)> = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let modified = entry.metadata().ok()?.modified().ok()?;
            Some((
                modified,
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|(_, name, path)| std::fs::read(path).ok().map(|bytes| (name, bytes)))
        .collect()
}

/// The mail and its envelope recipients (aiosmtpd's `X-RcptTo`).
fn parse(bytes: &[u8]) -> (ReceivedMail, String) {
    let parsed = mailparse::parse_mail(bytes).expect("a parseable message");
    let header = |name: &str| parsed.headers.get_first_value(name).unwrap_or_default();
    let mail = ReceivedMail {
        to: header("To"),
        subject: header("Subject"),
        text: part(&parsed, "text/plain").unwrap_or_default(),
        html: part(&parsed, "text/html").unwrap_or_default(),
        raw: String::from_utf8_lossy(bytes).into_owned(),
    };
    (mail, header("X-RcptTo"))
}

/// The decoded body of the first part of type `mimetype`, searching nested multiparts.
pub fn part(mail: &ParsedMail, mimetype: &str) -> Option<String> {
    if mail.subparts.is_empty() {
        return (mail.ctype.mimetype.eq_ignore_ascii_case(mimetype))
            .then(|| mail.get_body().expect("decodable body"));
    }
    mail.subparts.iter().find_map(|sub| part(sub, mimetype))
}

fn addressed_to(mail: &ReceivedMail, envelope: &str, to: &str) -> bool {
    let to = to.to_ascii_lowercase();
    let listed = |list: &str| {
        list.split(',')
            .map(|address| {
                address
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_ascii_lowercase()
            })
            .any(|address| address == to || address.ends_with(&format!("<{to}")))
    };
    listed(envelope) || listed(&mail.to)
}
