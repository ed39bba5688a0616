//! Outgoing mail: the sign-in link, the invitation into a household and the notice that a
//! credential changed, each written in the recipient's language (the catalogues' `mail-`
//! messages) and the platform's brand ([`Voice`]). Each goes out as `multipart/alternative`
//! (plain text and HTML) over SMTP, or, when no `smtp_url` is set, into `outbox_dir` as an
//! `.eml` file with its link logged, so development needs no mail server.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use askama::Template;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::runtime::Handle;

use crate::foundation::brand::Brand;
use crate::foundation::config::Config;
use crate::foundation::i18n::Locale;

/// Each step of the SMTP conversation, connecting included: a stuck relay must not hold a
/// pooled connection for lettre's default minute.
const SMTP_STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole of one send, however many steps it takes.
const SEND_DEADLINE: Duration = Duration::from_secs(30);

/// One mail, rendered and ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The sign-in link it carries, logged in outbox mode only.
    pub link: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The cause only: the URL may carry a password.
    #[error("smtp_url is not usable: {0}")]
    SmtpUrl(String),
    #[error("{0}")]
    Address(String),
    #[error("a link in a mail must be an absolute http(s) URL")]
    Link,
    #[error("cannot build the mail: {0}")]
    Message(#[from] lettre::error::Error),
    #[error("SMTP: {0}")]
    Transport(#[from] lettre::transport::smtp::Error),
    #[error("SMTP: no answer within {} seconds", SEND_DEADLINE.as_secs())]
    Timeout,
    #[error("cannot write to the outbox: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot render the mail: {0}")]
    Template(#[from] askama::Error),
    #[error("the mail task stopped: {0}")]
    Task(String),
}

/// Sends mail. Cheap to clone: every clone shares one SMTP connection pool.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    from: Mailbox,
    /// The sender's domain: Message-IDs made from it do not reveal the machine's host name.
    message_id_domain: String,
    route: Route,
    /// The runtime the mailer was built on. Every send runs there: actix runs each worker on
    /// a runtime of its own, and pooled SMTP connections must stay on the reactor they were
    /// opened on.
    runtime: Option<Handle>,
}

enum Route {
    Smtp {
        builder: AsyncSmtpTransportBuilder,
        /// Built on first use, inside a runtime: building starts the pool's cleanup task.
        transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    },
    Outbox(PathBuf),
}

impl Mailer {
    /// Built once at start; a bad smtp_url or mail_from fails here with a one-line cause
    /// (never echoing a password in the URL). Mail comes from the brand's name unless
    /// `mail_from` names its sender itself.
    pub fn from_config(config: &Config, brand: &Brand) -> Result<Self, MailError> {
        let mut from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|error| MailError::Address(format!("mail_from is not a valid mailbox: {error}")))?;
        if from.name.as_deref().is_none_or(|name| name.trim().is_empty()) {
            from.name = Some(brand.name.clone());
        }
        let message_id_domain = from.email.domain().to_owned();
        // An empty USHER_SMTP_URL= is how container setups say "unset".
        let route = match config.smtp_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => Route::Smtp {
                builder: smtp_builder(url)?,
                transport: OnceLock::new(),
            },
            _ => {
                tracing::warn!(
                    outbox = %config.outbox_dir.display(),
                    "no smtp_url: mail is written to the outbox and not sent (development only)"
                );
                Route::Outbox(config.outbox_dir.clone())
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                from,
                message_id_domain,
                route,
                runtime: Handle::try_current().ok(),
            }),
        })
    }

    /// Sends now (SMTP conversation, or writes an .eml file to outbox_dir and logs `link` at
    /// info level).
    pub async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let inner = Arc::clone(&self.inner);
        let delivery = async move { inner.deliver(mail).await };
        match &self.inner.runtime {
            Some(runtime) => runtime
                .spawn(delivery)
                .await
                .map_err(|error| MailError::Task(error.to_string()))?,
            None => delivery.await,
        }
    }

    /// Sends in a spawned tokio task so the caller's answer does not depend on (or wait for)
    /// the mail; logs failures (recipient domain only, never the link or body).
    pub fn dispatch(&self, mail: Mail) {
        let domain = recipient_domain(&mail.to).to_owned();
        let Some(runtime) = self.inner.runtime.clone().or_else(|| Handle::try_current().ok()) else {
            tracing::error!(recipient_domain = %domain, "mail not sent: no async runtime");
            return;
        };
        let inner = Arc::clone(&self.inner);
        runtime.spawn(async move {
            if let Err(error) = inner.deliver(mail).await {
                tracing::warn!(recipient_domain = %domain, %error, "mail not sent");
            }
        });
    }

    #[cfg(test)]
    fn message(&self, mail: &Mail) -> Result<Message, MailError> {
        self.inner.message(mail)
    }
}

impl Inner {
    async fn deliver(&self, mail: Mail) -> Result<(), MailError> {
        let message = self.message(&mail)?;
        match &self.route {
            Route::Smtp { builder, transport } => {
                let transport = transport.get_or_init(|| builder.clone().build());
                tokio::time::timeout(SEND_DEADLINE, transport.send(message))
                    .await
                    .map_err(|_| MailError::Timeout)??;
            }
            Route::Outbox(dir) => {
                let path = write_to_outbox(dir.clone(), message.formatted()).await?;
                match &mail.link {
                    Some(link) => tracing::info!(
                        to = %mail.to, file = %path.display(), %link,
                        "mail written to the outbox; its sign-in link"
                    ),
                    None => {
                        tracing::info!(to = %mail.to, file = %path.display(), "mail written to the outbox")
                    }
                }
            }
        }
        Ok(())
    }

    fn message(&self, mail: &Mail) -> Result<Message, MailError> {
        let to = recipient(&mail.to)?;
        // Only our own subjects go here, but the fields are public: a line break must never
        // reach the header block.
        let subject: String = mail
            .subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let message_id = format!("<{}@{}>", uuid::Uuid::new_v4().simple(), self.message_id_domain);
        Ok(Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .date_now()
            .message_id(Some(message_id))
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))?)
    }
}

/// `smtp://HOST[:PORT]`: plain, upgraded with STARTTLS whenever the server offers it
/// (`?tls=required` refuses to go on without it); `smtps://HOST[:PORT]`: TLS from the first
/// byte. `USER:PASSWORD@` (percent-encoded) logs in.
fn smtp_builder(url: &str) -> Result<AsyncSmtpTransportBuilder, MailError> {
    let refuse = |cause: &str| MailError::SmtpUrl(cause.to_owned());
    // url's parse errors name the problem, never the input.
    let parsed = url::Url::parse(url).map_err(|error| MailError::SmtpUrl(error.to_string()))?;
    let host = parsed
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| refuse("no host"))?;
    // lettre connects to (host, port): an IPv6 literal must lose its brackets.
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    if !matches!(parsed.path(), "" | "/") || parsed.fragment().is_some() {
        return Err(refuse("expected no path or fragment"));
    }
    let mut required = false;
    for (key, value) in parsed.query_pairs() {
        match (key.as_ref(), value.as_ref()) {
            ("tls", "required") => required = true,
            ("tls", "opportunistic") => required = false,
            _ => {
                return Err(refuse(
                    "the only query parameter is tls=required or tls=opportunistic",
                ));
            }
        }
    }
    let tls_parameters =
        || TlsParameters::new(host.clone()).map_err(|error| MailError::SmtpUrl(format!("TLS: {error}")));
    let (tls, default_port) = match parsed.scheme() {
        "smtp" if required => (Tls::Required(tls_parameters()?), 587),
        "smtp" => (Tls::Opportunistic(tls_parameters()?), 25),
        "smtps" => (Tls::Wrapper(tls_parameters()?), 465),
        _ => return Err(refuse("the scheme must be smtp:// or smtps://")),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(parsed.port().unwrap_or(default_port))
        .tls(tls)
        .timeout(Some(SMTP_STEP_TIMEOUT))
        .pool_config(
            PoolConfig::new()
                .max_size(4)
                .idle_timeout(Duration::from_secs(30)),
        );
    match (parsed.username(), parsed.password()) {
        ("", None) => {}
        (_, None) => return Err(refuse("a user name needs a password")),
        (user, Some(password)) => {
            builder = builder.credentials(Credentials::new(percent_decode(user)?, percent_decode(password)?));
        }
    }
    Ok(builder)
}

/// A user or password of the SMTP URL, %-decoded.
fn percent_decode(part: &str) -> Result<String, MailError> {
    crate::foundation::encoding::percent_decode(part).ok_or_else(|| {
        MailError::SmtpUrl("a bad %-escape, or text that is not UTF-8, in the user or password".into())
    })
}

fn recipient(to: &str) -> Result<Address, MailError> {
    to.parse()
        .map_err(|_| MailError::Address("the recipient is not a valid email address".into()))
}

fn recipient_domain(to: &str) -> &str {
    to.rsplit_once('@').map_or("", |(_, domain)| domain)
}

/// Writes beside the final name first, so nothing ever reads half a mail.
async fn write_to_outbox(dir: PathBuf, bytes: Vec<u8>) -> Result<PathBuf, MailError> {
    tokio::task::spawn_blocking(move || -> Result<PathBuf, std::io::Error> {
        std::fs::create_dir_all(&dir)?;
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis());
        let random: [u8; 6] = crate::foundation::crypto::random::bytes();
        let random: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
        let name = format!("{millis}-{random}.eml");
        let partial = dir.join(format!(".{name}.partial"));
        write_private(&partial, &bytes)?;
        let path = dir.join(name);
        std::fs::rename(&partial, &path)?;
        Ok(path)
    })
    .await
    .map_err(|error| MailError::Task(error.to_string()))?
    .map_err(MailError::Io)
}

/// Outbox mail holds live sign-in links: only the server's own user may read it.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn http_url(link: &str) -> Result<(), MailError> {
    match url::Url::parse(link) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
        _ => Err(MailError::Link),
    }
}

/// askama drops a template's final newline; a text mail's last line should still end.
fn plain_text(template: &impl Template) -> Result<String, MailError> {
    let mut text = template.render()?;
    text.push('\n');
    Ok(text)
}

/// The accent of buttons and links when no `brand_color` is set: the pages' own violet.
const BUILT_IN_ACCENT: &str = "#3b2bb5";

/// Whom a mail speaks for, and in which language: the platform's brand and the recipient's
/// language.
#[derive(Clone, Copy, Debug)]
pub struct Voice<'a> {
    pub brand: &'a Brand,
    pub locale: Locale,
}

/// What the layouts (`templates/mail/layout.{html,txt}`) of one mail show around its message.
struct Frame {
    lang: String,
    dir: &'static str,
    typography: Typography,
    brand: String,
    /// `#rrggbb`, under white text on buttons: the brand check guarantees it reads.
    accent: String,
    title: String,
    support: Option<Support>,
}

/// The brand's support address at the foot of a mail.
struct Support {
    lead: String,
    href: String,
    /// The address as people read it: a `mailto:` URL without its scheme.
    shown: String,
}

/// Mail clients drop style sheets, so the fonts the pages choose by language go inline here,
/// chosen by direction: right-to-left mail is Urdu's Nastaliq first, which needs taller lines.
struct Typography {
    body: &'static str,
    heading_line_height: &'static str,
}

const LEFT_TO_RIGHT: Typography = Typography {
    body: "16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif",
    heading_line_height: "1.25",
};

const RIGHT_TO_LEFT: Typography = Typography {
    body: "16px/1.9 'Noto Nastaliq Urdu','Jameel Noori Nastaleeq','Urdu Typesetting','Noto Naskh Arabic','Segoe UI',system-ui,sans-serif",
    heading_line_height: "1.8",
};

impl Frame {
    fn new(voice: Voice<'_>, title: String) -> Self {
        let Voice { brand, locale } = voice;
        let support = brand.support_url.as_ref().map(|url| Support {
            lead: locale.with("mail-support", "brand", &brand.name),
            href: url.clone(),
            shown: url.strip_prefix("mailto:").unwrap_or(url).to_owned(),
        });
        Self {
            lang: locale.tag(),
            dir: locale.dir(),
            typography: if locale.is_rtl() {
                RIGHT_TO_LEFT
            } else {
                LEFT_TO_RIGHT
            },
            brand: brand.name.clone(),
            accent: brand
                .palette
                .as_ref()
                .map_or(BUILT_IN_ACCENT, |palette| palette.light.as_str())
                .to_owned(),
            title,
            support,
        }
    }
}

/// Message `id` as HTML, its argument escaped and in `<strong>`: the catalogues hold no markup
/// (a test checks), so only the argument needs escaping.
fn strong(locale: Locale, id: &str, name: &'static str, value: &str) -> String {
    let Ok(escaped) = askama::filters::escape(value, askama::filters::Html);
    locale.with(id, name, &format!("<strong>{escaped}</strong>"))
}

/// The messages of a sign-in link mail: one set signs in, the other creates the account.
struct SignInWords {
    subject: &'static str,
    title: &'static str,
    button: &'static str,
    lead: &'static str,
    lead_app: &'static str,
    open: &'static str,
    open_app: &'static str,
    ignore: &'static str,
}

const SIGN_IN: SignInWords = SignInWords {
    subject: "mail-sign-in-subject",
    title: "mail-sign-in-title",
    button: "mail-sign-in-button",
    lead: "mail-sign-in-lead",
    lead_app: "mail-sign-in-lead-app",
    open: "mail-sign-in-open",
    open_app: "mail-sign-in-open-app",
    ignore: "mail-sign-in-ignore",
};

const SIGN_UP: SignInWords = SignInWords {
    subject: "mail-sign-up-subject",
    title: "mail-sign-up-title",
    button: "mail-sign-up-button",
    lead: "mail-sign-up-lead",
    lead_app: "mail-sign-up-lead-app",
    open: "mail-sign-up-open",
    open_app: "mail-sign-up-open-app",
    ignore: "mail-sign-up-ignore",
};

/// The messages of an invitation that differ when the link creates the account.
struct InvitationWords {
    button: &'static str,
    open: &'static str,
    ignore: &'static str,
}

const INVITATION: InvitationWords = InvitationWords {
    button: "mail-invitation-button",
    open: "mail-invitation-open",
    ignore: "mail-invitation-ignore",
};

const INVITATION_NEW_ACCOUNT: InvitationWords = InvitationWords {
    button: "mail-invitation-new-button",
    open: "mail-invitation-new-open",
    ignore: "mail-invitation-new-ignore",
};

/// What changed on an account, as the security notice tells its holder: the notice is
/// written in the holder's language, so callers say what happened, never in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountChange {
    PasskeyAdded {
        name: String,
    },
    PasskeyRemoved {
        name: String,
    },
    TwoStepOn,
    TwoStepOff,
    /// An administrator turned two-step sign-in off, for a person who lost their authenticator.
    TwoStepReset,
    RecoveryCodesRenewed,
    RecoveryCodeUsed,
    /// Set or changed.
    PasswordChanged,
    ProfileAdded {
        name: String,
    },
    ProfileChanged {
        name: String,
    },
    ProfileDeleted {
        name: String,
    },
}

impl AccountChange {
    /// The sentence saying what happened, in `locale`.
    fn sentence(&self, locale: Locale) -> String {
        match self {
            Self::PasskeyAdded { name } => locale.with("mail-notice-passkey-added", "name", name),
            Self::PasskeyRemoved { name } => locale.with("mail-notice-passkey-removed", "name", name),
            Self::TwoStepOn => locale.get("mail-notice-two-step-on"),
            Self::TwoStepOff => locale.get("mail-notice-two-step-off"),
            Self::TwoStepReset => locale.get("mail-notice-two-step-reset"),
            Self::RecoveryCodesRenewed => locale.get("mail-notice-recovery-codes-renewed"),
            Self::RecoveryCodeUsed => locale.get("mail-notice-recovery-code-used"),
            Self::PasswordChanged => locale.get("mail-notice-password-changed"),
            Self::ProfileAdded { name } => locale.with("mail-notice-profile-added", "name", name),
            Self::ProfileChanged { name } => locale.with("mail-notice-profile-changed", "name", name),
            Self::ProfileDeleted { name } => locale.with("mail-notice-profile-deleted", "name", name),
        }
    }
}

#[derive(Template)]
#[template(path = "mail/sign_in_link.html")]
struct SignInLinkHtml<'a> {
    frame: &'a Frame,
    t: Locale,
    words: &'a SignInWords,
    /// HTML: the app's name, escaped, in `<strong>`.
    lead: &'a str,
    link: &'a str,
    valid_minutes: i64,
}

#[derive(Template)]
#[template(path = "mail/sign_in_link.txt", escape = "none")]
struct SignInLinkText<'a> {
    frame: &'a Frame,
    t: Locale,
    words: &'a SignInWords,
    open: &'a str,
    link: &'a str,
    valid_minutes: i64,
}

#[derive(Template)]
#[template(path = "mail/household_invitation.html")]
struct HouseholdInvitationHtml<'a> {
    frame: &'a Frame,
    t: Locale,
    words: &'a InvitationWords,
    /// HTML: the holder, escaped, in `<strong>`.
    lead: &'a str,
    link: &'a str,
    valid_days: i64,
}

#[derive(Template)]
#[template(path = "mail/household_invitation.txt", escape = "none")]
struct HouseholdInvitationText<'a> {
    frame: &'a Frame,
    t: Locale,
    words: &'a InvitationWords,
    holder: &'a str,
    link: &'a str,
    valid_days: i64,
}

#[derive(Template)]
#[template(path = "mail/credential_changed.html")]
struct CredentialChangedHtml<'a> {
    frame: &'a Frame,
    t: Locale,
    what: &'a str,
    at: &'a str,
    account_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/credential_changed.txt", escape = "none")]
struct CredentialChangedText<'a> {
    frame: &'a Frame,
    t: Locale,
    what: &'a str,
    at: &'a str,
    account_url: &'a str,
}

/// The sign-in link mail. `app_name`: the app the person was signing in to, when known.
/// `new_account`: the link will create the account.
pub fn sign_in_link(
    voice: Voice<'_>,
    to: &str,
    link: &str,
    valid_minutes: i64,
    app_name: Option<&str>,
    new_account: bool,
) -> Result<Mail, MailError> {
    recipient(to)?;
    http_url(link)?;
    let t = voice.locale;
    let words = if new_account { &SIGN_UP } else { &SIGN_IN };
    let frame = Frame::new(voice, t.get(words.title));
    let (lead, open) = match app_name {
        Some(app) => (
            strong(t, words.lead_app, "app", app),
            t.with(words.open_app, "app", app),
        ),
        None => (t.get(words.lead), t.get(words.open)),
    };
    let html = SignInLinkHtml {
        frame: &frame,
        t,
        words,
        lead: &lead,
        link,
        valid_minutes,
    }
    .render()?;
    let text = plain_text(&SignInLinkText {
        frame: &frame,
        t,
        words,
        open: &open,
        link,
        valid_minutes,
    })?;
    Ok(Mail {
        to: to.to_owned(),
        subject: t.with(words.subject, "brand", &voice.brand.name),
        text,
        html,
        link: Some(link.to_owned()),
    })
}

/// The invitation into a household (family plan): `link` is a sign-in link that signs the
/// invitee in (`new_account`: creating their account) and makes them a member. `holder`: who
/// invites, by name or address.
pub fn household_invitation(
    voice: Voice<'_>,
    to: &str,
    link: &str,
    holder: &str,
    valid_days: i64,
    new_account: bool,
) -> Result<Mail, MailError> {
    recipient(to)?;
    http_url(link)?;
    let t = voice.locale;
    let words = if new_account {
        &INVITATION_NEW_ACCOUNT
    } else {
        &INVITATION
    };
    let frame = Frame::new(voice, t.get("mail-invitation-title"));
    let html = HouseholdInvitationHtml {
        frame: &frame,
        t,
        words,
        lead: &strong(t, "mail-invitation-lead", "holder", holder),
        link,
        valid_days,
    }
    .render()?;
    let text = plain_text(&HouseholdInvitationText {
        frame: &frame,
        t,
        words,
        holder,
        link,
        valid_days,
    })?;
    Ok(Mail {
        to: to.to_owned(),
        subject: t.with("mail-invitation-subject", "brand", &voice.brand.name),
        text,
        html,
        link: Some(link.to_owned()),
    })
}

/// The security notice that `change` happened to the account of `to`: `at` when, as people
/// read it; `account_url` the account page, where they can undo what they do not recognise.
pub fn credential_changed(
    voice: Voice<'_>,
    to: &str,
    change: &AccountChange,
    at: &str,
    account_url: &str,
) -> Result<Mail, MailError> {
    recipient(to)?;
    http_url(account_url)?;
    let t = voice.locale;
    let frame = Frame::new(voice, t.get("mail-notice-title"));
    let what = change.sentence(t);
    let html = CredentialChangedHtml {
        frame: &frame,
        t,
        what: &what,
        at,
        account_url,
    }
    .render()?;
    let text = plain_text(&CredentialChangedText {
        frame: &frame,
        t,
        what: &what,
        at,
        account_url,
    })?;
    Ok(Mail {
        to: to.to_owned(),
        subject: t.with("mail-notice-subject", "brand", &voice.brand.name),
        text,
        html,
        link: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

    use super::*;

    const LINK: &str = "https://id.example.com/login/link?token=abc_DEF-123&request=client_id%3Dtv";
    const ACCOUNT_URL: &str = "https://id.example.com/account";
    const AT: &str = "1 May 2026, 12:00 UTC";

    fn outbox_mailer(dir: &Path) -> Mailer {
        Mailer::from_config(
            &Config {
                outbox_dir: dir.to_owned(),
                ..Config::default()
            },
            &Brand::default(),
        )
        .expect("mailer")
    }

    /// The built-in brand, in the language `tag`.
    fn voice(tag: &str) -> Voice<'static> {
        static BRAND: OnceLock<Brand> = OnceLock::new();
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

    /// A platform that set every brand setting mail uses.
    fn aurora() -> Brand {
        Brand {
            name: "Aurora Music".into(),
            support_url: Some("mailto:help@aurora.example".into()),
            palette: Some(crate::foundation::brand::Palette::for_color("#0b6e4f").expect("palette")),
            logo: None,
        }
    }

    fn passkey_added() -> AccountChange {
        AccountChange::PasskeyAdded {
            name: "Pixel 8".into(),
        }
    }

    /// The header block and the body of a formatted message.
    fn split(message: &Message) -> (String, String) {
        let formatted = String::from_utf8(message.formatted()).expect("utf-8");
        let (headers, body) = formatted
            .split_once("\r\n\r\n")
            .expect("a blank line after the headers");
        (headers.to_owned(), body.to_owned())
    }

    fn header_names(headers: &str) -> Vec<String> {
        headers
            .split("\r\n")
            .filter(|line| !line.starts_with([' ', '\t']))
            .filter_map(|line| line.split_once(':').map(|(name, _)| name.to_ascii_lowercase()))
            .collect()
    }

    /// No message id of the catalogues shows through for want of its message.
    fn assert_no_message_id(mail: &Mail) {
        for part in [&mail.subject, &mail.text, &mail.html] {
            assert!(!part.contains("mail-"), "{part}");
        }
    }

    #[test]
    fn the_sign_in_link_mail_carries_the_link_in_both_parts() {
        let mail = sign_in_link(
            english(),
            "viewer@example.com",
            LINK,
            10,
            Some("Living Room TV"),
            false,
        )
        .expect("mail");
        assert_eq!(mail.subject, "Your sign-in link for Usher");
        assert_eq!(mail.link.as_deref(), Some(LINK));
        assert!(mail.text.contains(&format!("\n{LINK}\n")), "{}", mail.text);
        assert!(mail.text.contains("10 minutes"));
        assert!(mail.text.contains("Living Room TV"));
        assert!(mail.text.contains("Didn't ask for this? Ignore this mail"));
        let escaped = LINK.replace('&', "&#38;");
        assert!(
            mail.html.contains(&format!("href=\"{escaped}\"")),
            "{}",
            mail.html
        );
        assert!(mail.html.contains("<html lang=\"en\" dir=\"ltr\">"));
        assert!(mail.html.contains("<h1"));
        assert!(mail.html.contains("10 minutes"));
        assert!(mail.html.contains("Didn&#39;t ask for this? Ignore this mail"));
        assert_no_message_id(&mail);
    }

    #[test]
    fn a_link_that_creates_the_account_says_so() {
        let mail = sign_in_link(english(), "new@example.com", LINK, 1, None, true).expect("mail");
        assert_eq!(mail.subject, "Finish creating your Usher account");
        assert!(mail.text.contains("finish creating your account"));
        assert!(mail.text.contains("1 minute."));
        assert!(mail.html.contains("Create my account"));
    }

    #[test]
    fn the_app_name_is_escaped_in_html() {
        let mail = sign_in_link(
            english(),
            "viewer@example.com",
            LINK,
            10,
            Some("<b>TV</b>"),
            false,
        )
        .expect("mail");
        assert!(!mail.html.contains("<b>TV</b>"));
        assert!(
            mail.html.contains("<strong>&#60;b&#62;TV&#60;/b&#62;</strong>"),
            "{}",
            mail.html
        );
    }

    #[test]
    fn an_urdu_sign_in_link_is_written_right_to_left_with_the_link_whole() {
        let mail = sign_in_link(
            urdu(),
            "viewer@example.com",
            LINK,
            10,
            Some("Living Room TV"),
            false,
        )
        .expect("mail");
        assert!(mail.subject.contains("سائن اِن لنک"), "{}", mail.subject);
        assert!(mail.subject.contains("\u{2068}Usher\u{2069}"), "{}", mail.subject);
        assert!(
            mail.html.contains("<html lang=\"ur\" dir=\"rtl\">"),
            "{}",
            mail.html
        );
        assert!(mail.html.contains("text-align:start"));
        assert!(mail.html.contains("Nastaliq"));
        assert!(mail.text.contains(&format!("\n{LINK}\n")), "{}", mail.text);
        assert!(mail.text.contains("\u{2068}10\u{2069} منٹ"), "{}", mail.text);
        assert!(
            mail.text.contains("\u{2068}Living Room TV\u{2069}"),
            "{}",
            mail.text
        );
        let escaped = LINK.replace('&', "&#38;");
        assert!(
            mail.html.contains("<p dir=\"ltr\""),
            "the address reads left to right"
        );
        assert!(mail.html.contains(&format!(">{escaped}</a>")), "{}", mail.html);
        assert_no_message_id(&mail);
    }

    #[test]
    fn minutes_and_days_follow_each_languages_plural_rules() {
        let minutes = |voice, count| {
            sign_in_link(voice, "viewer@example.com", LINK, count, None, false)
                .expect("mail")
                .text
        };
        assert!(minutes(english(), 1).contains("The link works for 1 minute."));
        assert!(minutes(english(), 10).contains("The link works for 10 minutes."));
        assert!(minutes(urdu(), 1).contains("یہ لنک ایک منٹ تک چلے گا۔"));
        assert!(minutes(urdu(), 10).contains("یہ لنک \u{2068}10\u{2069} منٹ تک چلے گا۔"));
        let days = |voice, count| {
            household_invitation(voice, "viewer@example.com", LINK, "Sam", count, false)
                .expect("mail")
                .text
        };
        assert!(days(english(), 1).contains("The link works once, for 1 day."));
        assert!(days(english(), 7).contains("The link works once, for 7 days."));
        assert!(days(urdu(), 1).contains("یہ لنک ایک دن کے اندر"));
        assert!(days(urdu(), 7).contains("یہ لنک \u{2068}7\u{2069} دن کے اندر"));
    }

    #[test]
    fn an_invitation_names_who_invites_and_whether_it_creates_the_account() {
        let mail =
            household_invitation(english(), "new@example.com", LINK, "Sam <Lee>", 7, true).expect("mail");
        assert_eq!(mail.subject, "You're invited to join a family plan on Usher");
        assert!(
            mail.text
                .contains("Sam <Lee> invites you to join their family plan"),
            "{}",
            mail.text
        );
        assert!(
            mail.text
                .contains("Open this link to create your account and join:")
        );
        assert!(
            mail.html
                .contains("<strong>Sam &#60;Lee&#62;</strong> invites you"),
            "{}",
            mail.html
        );
        assert!(mail.html.contains("Create my account and join"));
        let existing =
            household_invitation(urdu(), "member@example.com", LINK, "Sam", 7, false).expect("mail");
        assert!(existing.subject.contains("فیملی پلان"), "{}", existing.subject);
        assert!(
            existing
                .text
                .contains("سائن اِن کر کے شامل ہونے کے لیے یہ لنک کھولیں"),
            "{}",
            existing.text
        );
        assert!(existing.text.contains(&format!("\n{LINK}\n")));
        assert_no_message_id(&mail);
        assert_no_message_id(&existing);
    }

    #[test]
    fn a_credential_notice_says_what_changed_in_the_recipients_language() {
        let english = credential_changed(english(), "viewer@example.com", &passkey_added(), AT, ACCOUNT_URL)
            .expect("mail");
        assert_eq!(
            english.subject,
            "Security notice: how you sign in to Usher has changed"
        );
        assert!(
            english
                .text
                .contains("A passkey named “Pixel 8” was added to your account."),
            "{}",
            english.text
        );
        assert!(english.text.contains(&format!("When: {AT}")));
        assert!(english.text.contains(&format!("\n{ACCOUNT_URL}\n")));
        let urdu = credential_changed(urdu(), "viewer@example.com", &passkey_added(), AT, ACCOUNT_URL)
            .expect("mail");
        assert!(urdu.subject.starts_with("سیکیورٹی اطلاع: "), "{}", urdu.subject);
        assert!(
            urdu.text
                .contains("”\u{2068}Pixel 8\u{2069}“ نام کی پاس کی شامل کی گئی ہے"),
            "{}",
            urdu.text
        );
        assert!(urdu.html.contains(&format!("href=\"{ACCOUNT_URL}\"")));
        assert_no_message_id(&english);
        assert_no_message_id(&urdu);
    }

    #[test]
    fn every_account_change_has_its_sentence_in_both_languages() {
        let name = || "Kid".to_owned();
        let changes = [
            passkey_added(),
            AccountChange::PasskeyRemoved { name: name() },
            AccountChange::TwoStepOn,
            AccountChange::TwoStepOff,
            AccountChange::TwoStepReset,
            AccountChange::RecoveryCodesRenewed,
            AccountChange::RecoveryCodeUsed,
            AccountChange::PasswordChanged,
            AccountChange::ProfileAdded { name: name() },
            AccountChange::ProfileChanged { name: name() },
            AccountChange::ProfileDeleted { name: name() },
        ];
        for locale in Locale::supported() {
            let sentences: std::collections::HashSet<String> =
                changes.iter().map(|change| change.sentence(locale)).collect();
            assert_eq!(sentences.len(), changes.len(), "{locale:?}: one sentence each");
            assert!(
                sentences.iter().all(|sentence| !sentence.starts_with("mail-")),
                "{sentences:?}"
            );
        }
    }

    #[test]
    fn the_brand_names_the_mail_colours_it_and_links_its_support() {
        let brand = aurora();
        let voice = Voice {
            brand: &brand,
            locale: Locale::default(),
        };
        let mail = sign_in_link(voice, "viewer@example.com", LINK, 10, None, false).expect("mail");
        assert_eq!(mail.subject, "Your sign-in link for Aurora Music");
        assert!(mail.text.ends_with("\n-- \nAurora Music\n"), "{}", mail.text);
        assert!(
            mail.text
                .contains("Need help? Contact Aurora Music:\nhelp@aurora.example\n"),
            "{}",
            mail.text
        );
        assert!(mail.html.contains(">Aurora Music</p>"), "{}", mail.html);
        assert!(
            mail.html.contains("background:#0b6e4f;color:#ffffff"),
            "the button"
        );
        assert!(!mail.html.contains(BUILT_IN_ACCENT));
        assert!(mail.html.contains("href=\"mailto:help@aurora.example\""));
        assert!(!mail.html.contains("Usher") && !mail.text.contains("Usher"));
    }

    #[test]
    fn without_a_support_address_the_mail_links_none() {
        let mail = sign_in_link(english(), "viewer@example.com", LINK, 10, None, false).expect("mail");
        assert!(!mail.text.contains("Need help?"));
        assert!(mail.html.contains(&format!("background:{BUILT_IN_ACCENT}")));
        assert!(mail.text.ends_with("\n-- \nUsher\n"), "{}", mail.text);
    }

    #[test]
    fn the_sender_is_the_brand_unless_mail_from_names_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let from = |mail_from: &str| {
            let mailer = Mailer::from_config(
                &Config {
                    mail_from: mail_from.into(),
                    outbox_dir: dir.path().to_owned(),
                    ..Config::default()
                },
                &aurora(),
            )
            .expect("mailer");
            let mail = sign_in_link(english(), "viewer@example.com", LINK, 10, None, false).expect("mail");
            let (headers, _) = split(&mailer.message(&mail).expect("message"));
            headers
                .split("\r\n")
                .find(|line| line.starts_with("From: "))
                .expect("From")
                .to_owned()
        };
        assert_eq!(
            from("no-reply@aurora.example"),
            "From: \"Aurora Music\" <no-reply@aurora.example>"
        );
        assert_eq!(
            from("Aurora Team <team@aurora.example>"),
            "From: \"Aurora Team\" <team@aurora.example>"
        );
    }

    #[test]
    fn only_http_links_go_into_mail() {
        let refused = sign_in_link(
            english(),
            "viewer@example.com",
            "javascript:alert(1)",
            10,
            None,
            false,
        );
        assert!(matches!(refused, Err(MailError::Link)));
        let refused = credential_changed(english(), "viewer@example.com", &passkey_added(), AT, "not a url");
        assert!(matches!(refused, Err(MailError::Link)));
    }

    #[test]
    fn a_recipient_with_a_line_break_is_refused() {
        for to in [
            "viewer@example.com\r\nBcc: thief@example.net",
            "viewer@example.com\nBcc: thief@example.net",
            "Viewer <viewer@example.com>",
            "",
        ] {
            let refused = sign_in_link(english(), to, LINK, 10, None, false);
            assert!(matches!(refused, Err(MailError::Address(_))), "{to:?}");
            let refused = credential_changed(english(), to, &passkey_added(), AT, ACCOUNT_URL);
            assert!(matches!(refused, Err(MailError::Address(_))), "{to:?}");
        }
    }

    #[test]
    fn a_line_break_in_a_passkey_name_stays_in_the_body() {
        let dir = tempfile::tempdir().expect("tempdir");
        let change = AccountChange::PasskeyAdded {
            name: "Phone\r\nBcc: thief@example.net".into(),
        };
        let mail =
            credential_changed(english(), "viewer@example.com", &change, AT, ACCOUNT_URL).expect("mail");
        assert!(mail.subject.starts_with("Security notice: "));
        assert!(mail.text.contains("Bcc: thief@example.net"));
        let message = outbox_mailer(dir.path()).message(&mail).expect("message");
        let (headers, body) = split(&message);
        assert!(!header_names(&headers).contains(&"bcc".to_owned()), "{headers}");
        assert!(!headers.contains("thief"));
        assert!(body.contains("thief@example.net"));
        assert_eq!(message.envelope().to().len(), 1);
    }

    #[test]
    fn a_line_break_in_a_subject_never_starts_a_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut mail = sign_in_link(english(), "viewer@example.com", LINK, 10, None, false).expect("mail");
        mail.subject = "Hello\r\nBcc: thief@example.net".into();
        let message = outbox_mailer(dir.path()).message(&mail).expect("message");
        let (headers, _) = split(&message);
        assert!(!header_names(&headers).contains(&"bcc".to_owned()), "{headers}");
    }

    #[test]
    fn a_message_has_the_headers_and_two_alternative_parts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mail = sign_in_link(english(), "viewer@example.com", LINK, 10, None, false).expect("mail");
        let message = outbox_mailer(dir.path()).message(&mail).expect("message");
        let (headers, body) = split(&message);
        let names = header_names(&headers);
        for name in [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "mime-version",
            "content-type",
        ] {
            assert!(names.contains(&name.to_owned()), "{name} missing from {headers}");
        }
        assert!(headers.contains("From: Usher <no-reply@localhost>"), "{headers}");
        assert!(headers.contains("To: viewer@example.com"));
        assert!(
            headers.contains("@localhost>"),
            "Message-ID on the sender's domain: {headers}"
        );
        assert!(headers.contains("multipart/alternative"));
        assert!(body.contains("text/plain"));
        assert!(body.contains("text/html"));
    }

    #[tokio::test]
    async fn without_smtp_the_mail_lands_in_the_outbox() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = dir.path().join("nested/outbox");
        let mailer = outbox_mailer(&outbox);
        let mail = sign_in_link(english(), "viewer@example.com", LINK, 10, None, false).expect("mail");
        mailer.send(mail).await.expect("sent");
        let files: Vec<_> = std::fs::read_dir(&outbox)
            .expect("outbox created")
            .map(|entry| entry.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with(".eml"), "{name}");
        let (millis, _) = name.split_once('-').expect("<unix-ms>-<random>.eml");
        assert!(millis.parse::<u128>().is_ok(), "{name}");
        let contents = std::fs::read_to_string(&files[0]).expect("read");
        assert!(contents.contains("Subject: Your sign-in link for Usher"));
    }

    #[test]
    fn bad_smtp_urls_are_refused_without_echoing_the_password() {
        for url in [
            "smtp://user:hunter2@mail.example.com:notaport",
            "http://user:hunter2@mail.example.com",
            "smtp://user:hunter2@",
            "smtp://user:hunter2@mail.example.com/path",
            "smtp://user:hunter2@mail.example.com?tls=sometimes",
            "smtp://user:hunter2%zz@mail.example.com",
            "smtp://user@mail.example.com",
            "mail.example.com:25",
        ] {
            let config = Config {
                smtp_url: Some(url.into()),
                ..Config::default()
            };
            let error = Mailer::from_config(&config, &Brand::default())
                .err()
                .unwrap_or_else(|| panic!("{url} accepted"));
            assert!(matches!(error, MailError::SmtpUrl(_)), "{url}: {error:?}");
            let message = error.to_string();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn good_smtp_urls_are_accepted() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://mail.example.com?tls=required",
            "smtps://user%40example.com:p%40ss%3Aword@mail.example.com",
            "smtp://[::1]:2525",
            "",
        ] {
            let config = Config {
                smtp_url: Some(url.into()),
                ..Config::default()
            };
            assert!(Mailer::from_config(&config, &Brand::default()).is_ok(), "{url}");
        }
        assert_eq!(percent_decode("p%40ss%3Aword").expect("decoded"), "p@ss:word");
    }

    #[test]
    fn a_bad_sender_is_refused() {
        let config = Config {
            mail_from: "Usher <no-reply@localhost>\r\nBcc: thief@example.net".into(),
            ..Config::default()
        };
        assert!(matches!(
            Mailer::from_config(&config, &Brand::default()),
            Err(MailError::Address(_))
        ));
    }
}
