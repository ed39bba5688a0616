//! Outgoing mail through a real SMTP conversation with aiosmtpd (tests/common/smtp.rs), read
//! back and decoded as a mail client would: each mail in English and in Urdu, and in the
//! platform's brand; the outbox used when no SMTP server is set; and a bad `smtp_url` refused
//! at start.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::smtp::{self, ReceivedMail, SmtpServer};
use mailparse::MailHeaderMap;
use usher::foundation::brand::Brand;
use usher::foundation::config::Config;
use usher::foundation::i18n::Locale;
use usher::foundation::mail::{self, AccountChange, MailError, Mailer, Voice};

const TO: &str = "viewer@example.com";
const FROM: &str = "Usher Test <login@usher.example>";
const ACCOUNT_URL: &str = "https://id.example.com/account";
const AT: &str = "1 May 2026, 12:00 UTC";

fn mailer(smtp_url: Option<String>, outbox: &std::path::Path) -> Mailer {
    Mailer::from_config(
        &Config {
            smtp_url,
            mail_from: FROM.into(),
            outbox_dir: outbox.to_owned(),
            ..Config::default()
        },
        &Brand::default(),
    )
    .expect("mailer")
}

/// The built-in brand, speaking the language `tag`.
fn voice(tag: &str) -> Voice<'static> {
    static BRAND: std::sync::OnceLock<Brand> = std::sync::OnceLock::new();
    Voice {
        brand: BRAND.get_or_init(Brand::default),
        locale: Locale::parse(tag).expect(tag),
    }
}

fn english() -> Voice<'static> {
    voice("en")
}

fn urdu() -> Voice<'static> {
    voice("ur")
}

fn passkey_added() -> AccountChange {
    AccountChange::PasskeyAdded {
        name: "Pixel 8".into(),
    }
}

/// The `<html>` start tag of an HTML part.
fn html_tag(html: &str) -> &str {
    let start = html.find("<html").expect("an html element");
    &html[start..start + html[start..].find('>').expect("its end") + 1]
}

/// No message id of the catalogues shows through for want of its message.
fn assert_no_message_id(mail: &ReceivedMail) {
    for part in [&mail.subject, &mail.text, &mail.html] {
        assert!(!part.contains("mail-"), "a message id shows:\n{part}");
    }
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
    let mail =
        mail::sign_in_link(english(), TO, &short_link(), 10, Some("Living Room TV"), false).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert_eq!(received.to, TO);
    assert_eq!(received.subject, "Your sign-in link for Usher");
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
    assert_eq!(html_tag(&received.html), "<html lang=\"en\" dir=\"ltr\">");
    assert!(received.html.contains("Living Room TV"));
    assert_no_message_id(&received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_link_arrives_intact_through_quoted_printable() {
    let server = SmtpServer::start().await;
    let link = long_link();
    let mail = mail::sign_in_link(english(), TO, &link, 10, None, false).expect("mail");
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
    let mail = mail::sign_in_link(english(), TO, &short_link(), 10, None, true).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert_eq!(received.subject, "Finish creating your Usher account");
    assert_eq!(
        received.link_containing("token=").as_deref(),
        Some(short_link().as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_change_notice_arrives_with_the_summary_and_the_account_page() {
    let server = SmtpServer::start().await;
    let summary = "A passkey named “Pixel 8” was added to your account.";
    let mail = mail::credential_changed(english(), TO, &passkey_added(), AT, ACCOUNT_URL).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert!(
        received.subject.starts_with("Security notice: "),
        "{}",
        received.subject
    );
    assert!(received.text.contains(summary), "{}", received.text);
    assert!(received.text.contains(&format!("When: {AT}")));
    assert_eq!(received.link_containing("/account").as_deref(), Some(ACCOUNT_URL));
    assert!(received.html.contains("Pixel 8"));
    assert!(received.html.contains(&format!("href=\"{ACCOUNT_URL}\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urdu_sign_in_link_arrives_right_to_left_with_its_link_intact() {
    let server = SmtpServer::start().await;
    let link = long_link();
    let mail = mail::sign_in_link(urdu(), TO, &link, 10, Some("Living Room TV"), false).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert_eq!(received.subject, "\u{2068}Usher\u{2069} کے لیے آپ کا سائن اِن لنک");
    assert_eq!(html_tag(&received.html), "<html lang=\"ur\" dir=\"rtl\">");
    assert!(
        received
            .text
            .contains("سائن اِن کر کے \u{2068}Living Room TV\u{2069} پر جانے کے لیے یہ لنک کھولیں:"),
        "{}",
        received.text
    );
    assert!(
        received.text.contains("یہ لنک \u{2068}10\u{2069} منٹ تک چلے گا۔"),
        "the plural"
    );
    assert!(received.html.contains("سائن اِن کریں</a>"), "the button");
    assert_eq!(
        received.link_containing("/login/link").as_deref(),
        Some(link.as_str())
    );
    assert!(
        received.text.lines().any(|line| line == link),
        "the link on a line of its own"
    );
    assert!(
        received
            .html
            .replace("&#38;", "&")
            .contains(&format!("<p dir=\"ltr\" style=\"margin:.5rem 0;font-size:.9rem;word-break:break-all;text-align:start\"><a href=\"{link}\"")),
        "the address reads left to right:\n{}",
        received.html
    );
    assert_no_message_id(&received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urdu_sign_up_link_says_one_minute_in_the_singular() {
    let server = SmtpServer::start().await;
    let mail = mail::sign_in_link(urdu(), TO, &short_link(), 1, None, true).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert_eq!(
        received.subject,
        "\u{2068}Usher\u{2069} پر اپنا اکاؤنٹ بنانے کا عمل مکمل کریں"
    );
    assert!(
        received.text.contains("یہ لنک ایک منٹ تک چلے گا۔"),
        "{}",
        received.text
    );
    assert!(received.html.contains("میرا اکاؤنٹ بنائیں</a>"));
    assert_eq!(
        received.link_containing("token=").as_deref(),
        Some(short_link().as_str())
    );
    assert_no_message_id(&received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_arrives_in_english_with_who_invites_and_its_days() {
    let server = SmtpServer::start().await;
    let mail = mail::household_invitation(english(), TO, &short_link(), "Sam Lee", 1, true).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert_eq!(received.subject, "You're invited to join a family plan on Usher");
    assert_eq!(html_tag(&received.html), "<html lang=\"en\" dir=\"ltr\">");
    assert!(
        received
            .text
            .contains("Sam Lee invites you to join their family plan")
    );
    assert!(
        received
            .text
            .contains("Open this link to create your account and join:")
    );
    assert!(
        received.text.contains("The link works once, for 1 day."),
        "{}",
        received.text
    );
    assert!(received.html.contains("<strong>Sam Lee</strong> invites you"));
    assert_eq!(
        received.link_containing("token=").as_deref(),
        Some(short_link().as_str())
    );
    assert_no_message_id(&received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urdu_invitation_arrives_right_to_left_with_its_days_in_the_plural() {
    let server = SmtpServer::start().await;
    let mail = mail::household_invitation(urdu(), TO, &short_link(), "Sam Lee", 7, false).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert_eq!(
        received.subject,
        "\u{2068}Usher\u{2069} پر فیملی پلان میں شامل ہونے کی دعوت"
    );
    assert_eq!(html_tag(&received.html), "<html lang=\"ur\" dir=\"rtl\">");
    assert!(
        received
            .text
            .contains("\u{2068}Sam Lee\u{2069} آپ کو اپنے فیملی پلان میں شامل ہونے کی دعوت دے رہے ہیں"),
        "{}",
        received.text
    );
    assert!(
        received
            .text
            .contains("سائن اِن کر کے شامل ہونے کے لیے یہ لنک کھولیں:")
    );
    assert!(
        received
            .text
            .contains("یہ لنک \u{2068}7\u{2069} دن کے اندر صرف ایک بار چلے گا۔")
    );
    assert_eq!(
        received.link_containing("token=").as_deref(),
        Some(short_link().as_str())
    );
    assert_no_message_id(&received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urdu_security_notice_says_what_changed_and_links_the_account_page() {
    let server = SmtpServer::start().await;
    let mail = mail::credential_changed(urdu(), TO, &passkey_added(), AT, ACCOUNT_URL).expect("mail");
    smtp_mailer(&server).send(mail).await.expect("sent");

    let received = server.next_mail_to(TO).await;
    assert_eq!(
        received.subject,
        "سیکیورٹی اطلاع: \u{2068}Usher\u{2069} پر آپ کے سائن اِن کا طریقہ بدل گیا ہے"
    );
    assert_eq!(html_tag(&received.html), "<html lang=\"ur\" dir=\"rtl\">");
    assert!(
        received
            .text
            .contains("آپ کے اکاؤنٹ میں ”\u{2068}Pixel 8\u{2069}“ نام کی پاس کی شامل کی گئی ہے۔"),
        "{}",
        received.text
    );
    assert!(received.text.contains(&format!("کب: \u{2068}{AT}\u{2069}")));
    assert_eq!(received.link_containing("/account").as_deref(), Some(ACCOUNT_URL));
    assert!(received.html.contains(&format!("href=\"{ACCOUNT_URL}\"")));
    assert_no_message_id(&received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_brand_is_the_sender_and_names_the_subject_and_the_body() {
    let server = SmtpServer::start().await;
    let config = Config {
        smtp_url: Some(server.url()),
        mail_from: "no-reply@aurora.example".into(),
        brand_name: "Aurora Music".into(),
        brand_color: Some("#0B6E4F".into()),
        brand_support_url: Some("https://help.aurora.example/".into()),
        ..Config::default()
    };
    let brand = Brand::from_config(&config).expect("brand");
    let mailer = Mailer::from_config(&config, &brand).expect("mailer");
    for (tag, subject) in [
        ("en", "Your sign-in link for Aurora Music"),
        ("ur", "\u{2068}Aurora Music\u{2069} کے لیے آپ کا سائن اِن لنک"),
    ] {
        let voice = Voice {
            brand: &brand,
            locale: Locale::parse(tag).expect(tag),
        };
        let to = format!("{tag}@example.com");
        let mail = mail::sign_in_link(voice, &to, &short_link(), 10, None, false).expect("mail");
        mailer.send(mail).await.expect("sent");

        let received = server.next_mail_to(&to).await;
        let parsed = mailparse::parse_mail(received.raw.as_bytes()).expect("parse");
        assert_eq!(
            sender(&parsed),
            ("Aurora Music".to_owned(), "no-reply@aurora.example".to_owned())
        );
        assert_eq!(received.subject, subject);
        // Mail travels with CRLF line ends.
        let text = received.text.replace("\r\n", "\n");
        assert!(text.ends_with("\n-- \nAurora Music\n"), "the signature:\n{text}");
        assert!(
            text.contains("\nhttps://help.aurora.example/\n"),
            "the support address"
        );
        assert!(received.html.contains(">Aurora Music</p>"), "the heading");
        assert!(
            received.html.contains("background:#0b6e4f;color:#ffffff"),
            "the button in the brand's colour"
        );
        assert!(received.html.contains("<a href=\"https://help.aurora.example/\""));
        assert!(!received.raw.contains("Usher"), "{}", received.raw);
        assert_no_message_id(&received);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_mailer_sends_one_mail_after_another() {
    let server = SmtpServer::start().await;
    let mailer = smtp_mailer(&server);
    for n in 0..3 {
        let to = format!("viewer{n}@example.com");
        mailer
            .send(mail::sign_in_link(english(), &to, &short_link(), 10, None, false).expect("mail"))
            .await
            .expect("sent");
        server.next_mail_to(&to).await;
    }
    assert_eq!(server.received().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_sends_without_the_caller_waiting() {
    let server = SmtpServer::start().await;
    let mail = mail::sign_in_link(english(), TO, &short_link(), 10, None, false).expect("mail");
    smtp_mailer(&server).dispatch(mail);

    let received = server.next_mail_to(TO).await;
    assert_eq!(received.subject, "Your sign-in link for Usher");
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
    let mail = mail::sign_in_link(english(), TO, &short_link(), 10, None, false).expect("mail");
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
        .send(mail::sign_in_link(english(), TO, &link, 10, None, false).expect("mail"))
        .await
        .expect("sent");
    let notice =
        mail::credential_changed(english(), TO, &AccountChange::TwoStepOff, AT, ACCOUNT_URL).expect("mail");
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
            if subject == "Your sign-in link for Usher" {
                assert!(text.lines().any(|line| line == link), "{text}");
            }
            subjects.push(subject);
        }
    }
    subjects.sort();
    assert_eq!(subjects[1], "Your sign-in link for Usher");
    assert!(subjects[0].starts_with("Security notice: "));
}

#[test]
fn a_malformed_smtp_url_is_refused_at_start_without_showing_its_password() {
    let config = Config {
        smtp_url: Some("smtp://mailer:s3cret-pass@mail.example.com:99999".into()),
        ..Config::default()
    };
    let error = Mailer::from_config(&config, &Brand::default())
        .err()
        .expect("refused");
    let message = error.to_string();
    assert!(message.starts_with("smtp_url"), "{message}");
    assert!(!message.contains("s3cret-pass"), "{message}");
    assert!(!format!("{error:?}").contains("s3cret-pass"));
}
