//! Outgoing e-mail: the data dir's SMTP server (`smtp.json`, the password beside it in a 0600
//! file like the token, and a private CA's certificates in `smtp-ca.pem` when the server's
//! certificate is not signed by one the system trusts), messages with an HTML and a plain-text part and an optional
//! attachment, sent with `lettre` and retried with backoff, or written as `.eml` files to a
//! folder instead (`--dry-run`).

use anyhow::{Context, Result};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{FileTransport, Message, SmtpTransport, Transport};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file of a data dir holding its SMTP server (JSON, without the password).
pub const SMTP_FILE: &str = "smtp.json";
/// The file holding the SMTP password, readable by its owner only.
pub const SMTP_PASSWORD_FILE: &str = "smtp-password";
/// The file holding the CA certificates (PEM) trusted for the SMTP server, besides the system's
/// (`crm config smtp --ca FILE`).
pub const SMTP_CA_FILE: &str = "smtp-ca.pem";
/// The environment variable that sets the first wait between two attempts, in milliseconds
/// (default 2000; each next wait doubles), so tests of a refusing server run quickly.
pub const BACKOFF_VAR: &str = "CRM_MAIL_BACKOFF_MS";
/// Attempts at one message before it is recorded as failed.
pub const ATTEMPTS: u32 = 4;

/// Why a message was not sent, and whether trying again may help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendFailure {
    pub message: String,
    pub retry: bool,
}

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS (usually port 587)
    Starttls,
    /// TLS from the first byte (usually port 465)
    Tls,
    /// No encryption: only for a relay on this same host
    None,
}

/// The SMTP server of a data dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    #[serde(default)]
    pub user: Option<String>,
    /// The sender's address (`From:`).
    pub from: String,
}

impl SmtpConfig {
    /// The data dir's SMTP server, if one was configured.
    pub fn read(dir: &Path) -> Result<Option<SmtpConfig>> {
        let path = dir.join(SMTP_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).with_context(|| {
                format!(
                    "{} is not an SMTP configuration: run `crm config smtp` again",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// The data dir's SMTP server, or an error saying how to configure one.
    pub fn required(dir: &Path) -> Result<SmtpConfig> {
        SmtpConfig::read(dir)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no SMTP server configured: run `crm config smtp --host HOST --port PORT --from ADDRESS` (or use --dry-run)"
            )
        })
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(SMTP_FILE);
        let json = serde_json::to_vec_pretty(self)?;
        crate::replace_file::replace(&path, &json)
            .with_context(|| format!("writing {}; nothing was saved", path.display()))
    }

    /// The private CA's certificates kept for the SMTP server (PEM), if any.
    pub fn ca(dir: &Path) -> Result<Option<Vec<u8>>> {
        let path = dir.join(SMTP_CA_FILE);
        match std::fs::read(&path) {
            Ok(pem) => Ok(Some(pem)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn password(dir: &Path) -> Result<Option<String>> {
        let path = dir.join(SMTP_PASSWORD_FILE);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(Some(t.trim_end_matches(['\r', '\n']).to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// File name, MIME type and bytes.
    pub attachment: Option<(String, String, Vec<u8>)>,
    /// A `List-Unsubscribe` address (campaigns).
    pub unsubscribe: Option<String>,
}

/// Where messages go: an SMTP server, or a folder of `.eml` files.
pub enum Mailer {
    Smtp {
        transport: Box<SmtpTransport>,
        from: Mailbox,
    },
    Folder {
        transport: FileTransport,
        from: Mailbox,
        dir: PathBuf,
    },
}

impl Mailer {
    /// The data dir's SMTP server, or (`dry_run`) the folder `outbox`.
    pub fn open(data_dir: &Path, dry_run: bool, outbox: Option<&Path>) -> Result<Mailer> {
        let config = SmtpConfig::read(data_dir)?;
        if dry_run {
            let dir = outbox
                .map(Path::to_path_buf)
                .unwrap_or_else(|| data_dir.join("outbox"));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
            let from = config
                .map(|c| c.from)
                .unwrap_or_else(|| "crm@localhost".to_string());
            return Ok(Mailer::Folder {
                transport: FileTransport::new(&dir),
                from: mailbox(&from)?,
                dir,
            });
        }
        let config = SmtpConfig::required(data_dir)?;
        let builder = match config.tls {
            TlsMode::None => SmtpTransport::builder_dangerous(&config.host),
            TlsMode::Starttls => SmtpTransport::builder_dangerous(&config.host)
                .tls(Tls::Required(tls_parameters(data_dir, &config.host)?)),
            TlsMode::Tls => SmtpTransport::builder_dangerous(&config.host)
                .tls(Tls::Wrapper(tls_parameters(data_dir, &config.host)?)),
        };
        let mut builder = builder
            .port(config.port)
            .timeout(Some(Duration::from_secs(30)));
        if let Some(user) = &config.user {
            let password = SmtpConfig::password(data_dir)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "the SMTP password of {user} is missing: run `crm config smtp --user {user} --password-stdin` again"
                )
            })?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Mailer::Smtp {
            transport: Box::new(builder.build()),
            from: mailbox(&config.from)?,
        })
    }

    /// Where the messages go, in words.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { .. } => "sent".into(),
            Mailer::Folder { dir, .. } => format!("written to {} (dry run)", dir.display()),
        }
    }

    pub fn is_dry_run(&self) -> bool {
        matches!(self, Mailer::Folder { .. })
    }

    /// Sends `m` once.
    pub fn send(&self, m: &Outgoing) -> Result<(), SendFailure> {
        let from = match self {
            Mailer::Smtp { from, .. } | Mailer::Folder { from, .. } => from.clone(),
        };
        let message = build(from, m).map_err(|e| SendFailure {
            message: format!("{e:#}"),
            retry: false,
        })?;
        match self {
            // A refusal for good (5xx) or a TLS failure stays so; a busy server (4xx), a
            // connection refused or cut may not.
            Mailer::Smtp { transport, .. } => {
                transport
                    .send(&message)
                    .map(|_| ())
                    .map_err(|e| SendFailure {
                        retry: !(e.is_permanent() || e.is_tls() || refused_by_tls(&e)),
                        message: e.to_string(),
                    })
            }
            Mailer::Folder { transport, .. } => {
                transport
                    .send(&message)
                    .map(|_| ())
                    .map_err(|e| SendFailure {
                        message: e.to_string(),
                        retry: false,
                    })
            }
        }
    }

    /// Sends `m`, trying again with a doubling wait after a failure, up to [`ATTEMPTS`] times;
    /// `log` hears of each failed attempt. Returns the attempts made and the last error.
    pub fn send_with_retry(
        &self,
        m: &Outgoing,
        log: &mut dyn FnMut(&str),
    ) -> (u32, Result<(), SendFailure>) {
        let mut wait = backoff();
        let mut attempt = 1;
        loop {
            match self.send(m) {
                Ok(()) => return (attempt, Ok(())),
                Err(e) if attempt >= ATTEMPTS || !e.retry => return (attempt, Err(e)),
                Err(e) => {
                    log(&format!(
                        "attempt {attempt} of {ATTEMPTS} failed ({}); trying again in {:.1} s",
                        e.message.replace(['\r', '\n'], " "),
                        wait.as_secs_f64()
                    ));
                    std::thread::sleep(wait);
                    wait *= 2;
                    attempt += 1;
                }
            }
        }
    }
}

/// How `host`'s certificate is checked: against the system's roots and the private CA's
/// certificates kept in the data dir, if any.
fn tls_parameters(data_dir: &Path, host: &str) -> Result<TlsParameters> {
    let mut builder = TlsParameters::builder(host.to_string());
    if let Some(pem) = SmtpConfig::ca(data_dir)? {
        let certs = Certificate::from_pem(&pem).with_context(|| {
            format!(
                "the CA certificates in {} cannot be used: run `crm config smtp --ca FILE` again",
                data_dir.join(SMTP_CA_FILE).display()
            )
        })?;
        builder = builder.add_root_certificate(certs);
    }
    builder
        .build_rustls()
        .with_context(|| format!("cannot use {host} for TLS"))
}

/// True when the TLS handshake failed (an untrusted certificate, a wrong name): trying again
/// would fail the same way.
fn refused_by_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    use tokio_rustls::rustls::Error as TlsError;
    let mut cur = Some(e);
    while let Some(err) = cur {
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|i| i.downcast_ref::<TlsError>().is_some());
        if inner || err.downcast_ref::<TlsError>().is_some() {
            return true;
        }
        cur = err.source();
    }
    false
}

fn backoff() -> Duration {
    let ms = std::env::var(BACKOFF_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(2000);
    Duration::from_millis(ms)
}

/// An error on one line (SMTP answers can span several).
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace(['\r', '\n'], " ")
}

fn mailbox(address: &str) -> Result<Mailbox> {
    address
        .parse()
        .map_err(|e| anyhow::anyhow!("`{address}` is not an e-mail address ({e})"))
}

fn build(from: Mailbox, m: &Outgoing) -> Result<Message> {
    let mut b = Message::builder().from(from).subject(m.subject.clone());
    for to in &m.to {
        b = b.to(mailbox(to)?);
    }
    if let Some(address) = &m.unsubscribe {
        b = b.header(ListUnsubscribe(format!(
            "<mailto:{address}?subject=unsubscribe>"
        )));
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(m.text.clone()))
        .singlepart(SinglePart::html(m.html.clone()));
    let message = match &m.attachment {
        Some((name, mime, bytes)) => {
            let content_type = ContentType::parse(mime)
                .map_err(|e| anyhow::anyhow!("`{mime}` is not a MIME type ({e})"))?;
            b.multipart(
                MultiPart::mixed()
                    .multipart(body)
                    .singlepart(Attachment::new(name.clone()).body(bytes.clone(), content_type)),
            )
        }
        None => b.multipart(body),
    };
    message.map_err(|e| anyhow::anyhow!("cannot build the message: {e}"))
}

/// The `List-Unsubscribe` header (RFC 2369).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl lettre::message::header::Header for ListUnsubscribe {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}
