//! Outgoing mail through a real SMTP conversation with aiosmtpd (tests/common/smtp.rs), read
//! back and decoded as a mail client would; the outbox used when no SMTP server is set; and
//! a bad `smtp_url` refused at start.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::smtp::{self, SmtpServer};
use mailparse::MailHeaderMap;
use usher::foundation::config::Config;
use usher::foundation::mail::{self, MailError, Mailer};

const TO: &str = "viewer@example.com";
const FROM: &str = "Usher Test <login@usher.example>";
const ACCOUNT_URL: &str = "https://id.example.com/account";

fn mailer(smtp_url: Option<String>, outbox: &std::path::Path) -> Mailer {
    Mailer::from_config(&Config {
        smtp_url,
        mail_from: FROM.into(),
        outbox_dir: outbox.to_owned(),
        ..Config::default()
    })
    .expect("mailer")
}

fn smtp_mailer(server: &SmtpServer) -> Mailer {
    mailer(Some(server.url()), std::path::Path::new("/nonexistent/outbox"))
}

/// Longer than a quoted-printable line, with `=` and `&`, which quoted-printable must encode.
fn long_link() -> String {
    let link = format!(
        "https://id.example.com/login/link?token={}&request=response_type%3Dcode%26client_id%3Dliving-room-tv&state=a=b==",
        "Zm9vYmFyYmF6cXV4LWxvbmctdG9rZW4tdmFsdWVfXy0x"
    );
    assert!(link.len() > 100);
    link
}

/// The display name and address of `From:`.
fn sender(parsed: &mailparse::ParsedMail) -> (String, String) {
    let from = parsed.headers.get_first_header("From").expect("From");
    match mailparse::addrparse_header(from)
        .expect("an address list")
        .extract_single_info()
    {
        Some(info) => (info.display_name.unwrap_or_default(), info.addr),
        None => panic!("one sender expected"),
    }
}

fn short_link() -> String {
    "https://id.example.com/login/link?token=abc".into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_link_arrives_from_the_sender_with_its_subject_and_both_parts() {
    let server = SmtpServer::start().await;
    let mail = mail::sign_in_link(TO, &short_link(), 10, Some("Living Room TV"), false).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert_eq!(received.to, TO);
    assert_eq!(received.subject, "Your sign-in link");
    let parsed = mailparse::parse_mail(received.raw.as_bytes()).expect("parse");
    assert_eq!(
        sender(&parsed),
        ("Usher Test".to_owned(), "login@usher.example".to_owned())
    );
    assert!(parsed.headers.get_first_value("Date").is_some());
    assert!(
        parsed
            .headers
            .get_first_value("Message-ID")
            .is_some_and(|id| id.ends_with("@usher.example>"))
    );
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    assert!(received.text.contains("Living Room TV"));
    assert!(received.text.contains("10 minutes"));
    assert!(received.html.contains("<html lang=\"en\">"));
    assert!(received.html.contains("Living Room TV"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_link_arrives_intact_through_quoted_printable() {
    let server = SmtpServer::start().await;
    let link = long_link();
    let mail = mail::sign_in_link(TO, &link, 10, None, false).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert!(received.raw.contains("quoted-printable"), "{}", received.raw);
    assert!(received.raw.contains("=3D"), "`=` is encoded on the wire");
    assert!(
        !received.raw.contains(&link),
        "the link is folded with soft line breaks on the wire"
    );
    assert_eq!(
        received.link_containing("/login/link").as_deref(),
        Some(link.as_str())
    );
    assert!(
        received
            .html
            .replace("&#38;", "&")
            .contains(&format!("href=\"{link}\"")),
        "{}",
        received.html
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_that_creates_the_account_arrives_with_its_own_subject() {
    let server = SmtpServer::start().await;
    let mail = mail::sign_in_link(TO, &short_link(), 10, None, true).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert_eq!(received.subject, "Finish creating your account");
    assert_eq!(
        received.link_containing("token=").as_deref(),
        Some(short_link().as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_change_notice_arrives_with_the_summary_and_the_account_page() {
    let server = SmtpServer::start().await;
    let summary = "A passkey named “Pixel 8” was added to your account.";
    let mail = mail::credential_changed(TO, summary, "2026-05-01 12:00 UTC", ACCOUNT_URL).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert!(
        received.subject.starts_with("Security notice: "),
        "{}",
        received.subject
    );
    assert!(received.text.contains(summary), "{}", received.text);
    assert!(received.text.contains("2026-05-01 12:00 UTC"));
    assert_eq!(received.link_containing("/account").as_deref(), Some(ACCOUNT_URL));
    assert!(received.html.contains("Pixel 8"));
    assert!(received.html.contains(&format!("href=\"{ACCOUNT_URL}\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_mailer_sends_one_mail_after_another() {
    let server = SmtpServer::start().await;
    let mailer = smtp_mailer(&server);
    for n in 0..3 {
        let to = format!("viewer{n}@example.com");
        mailer
            .send(mail::sign_in_link(&to, &short_link(), 10, None, false).expect("mail"))
            .await
            .expect("sent");
        server.next_mail_to(&to).await;
    }
    assert_eq!(server.received().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_sends_without_the_caller_waiting() {
    let server = SmtpServer::start().await;
    let mail = mail::sign_in_link(TO, &short_link(), 10, None, false).expect("mail");
    smtp_mailer(&server).dispatch(mail);

    let received = server.next_mail_to(TO).await;
    assert_eq!(received.subject, "Your sign-in link");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_to_a_server_that_is_not_listening_fails() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mailer = mailer(
        Some(format!("smtp://127.0.0.1:{port}")),
        std::path::Path::new("/nonexistent"),
    );
    let mail = mail::sign_in_link(TO, &short_link(), 10, None, false).expect("mail");
    let error = mailer.send(mail).await.expect_err("nothing listens there");
    assert!(matches!(error, MailError::Transport(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_each_mail_becomes_one_parseable_eml_file_in_the_outbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = dir.path().join("outbox");
    let mailer = mailer(None, &outbox);
    let link = long_link();
    mailer
        .send(mail::sign_in_link(TO, &link, 10, None, false).expect("mail"))
        .await
        .expect("sent");
    let notice =
        mail::credential_changed(TO, "Two-step sign-in was turned off.", "now", ACCOUNT_URL).expect("mail");
    mailer.send(notice).await.expect("sent");

    let mut files: Vec<_> = std::fs::read_dir(&outbox)
        .expect("outbox created")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let mut subjects = Vec::new();
    for file in &files {
        assert_eq!(file.extension().and_then(|ext| ext.to_str()), Some("eml"));
        let bytes = std::fs::read(file).expect("read");
        let parsed = mailparse::parse_mail(&bytes).expect("parseable");
        assert_eq!(
            sender(&parsed),
            ("Usher Test".to_owned(), "login@usher.example".to_owned())
        );
        assert_eq!(parsed.headers.get_first_value("To").as_deref(), Some(TO));
        assert!(smtp::part(&parsed, "text/html").is_some());
        let text = smtp::part(&parsed, "text/plain").expect("text part");
        if let Some(subject) = parsed.headers.get_first_value("Subject") {
            if subject == "Your sign-in link" {
                assert!(text.lines().any(|line| line == link), "{text}");
            }
            subjects.push(subject);
        }
    }
    subjects.sort();
    assert_eq!(subjects[1], "Your sign-in link");
    assert!(subjects[0].starts_with("Security notice: "));
}

#[test]
fn a_malformed_smtp_url_is_refused_at_start_without_showing_its_password() {
    let config = Config {
        smtp_url: Some("smtp://mailer:s3cret-pass@mail.example.com:99999".into()),
        ..Config::default()
    };
    let error = Mailer::from_config(&config).err().expect("refused");
    let message = error.to_string();
    assert!(message.starts_with("smtp_url"), "{message}");
    assert!(!message.contains("s3cret-pass"), "{message}");
    assert!(!format!("{error:?}").contains("s3cret-pass"));
}
