//! E-mail: templates (HTML + text, embedded in the binary) and transports. Every e-mail is sent
//! from a job (see `jobs`), never from a request, so a rolled-back request sends nothing.
//!
//! Transports: `outbox` (default: the message is stored in `mail_outbox` and logged; nothing
//! leaves the machine) and `smtp` (STARTTLS, TLS or plain, with optional auth; also Amazon SES
//! through its SMTP interface). Both record each message in `mail_outbox` under an idempotency
//! key, and a key already recorded is not sent again, so a retried job sends one copy.

mod smtp;
pub mod templates;

use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::PgPool;
use uuid::Uuid;

pub use smtp::{SmtpSettings, Tls};
pub use templates::Rendered;

enum Transport {
    Outbox,
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends rendered e-mails through the configured transport.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// Base URL of the web app, given to templates as `site_url`.
    site_url: String,
    /// SECRET_KEY, to derive the tokens of e-mailed links at send time (`auth::links`).
    link_secret: Option<String>,
}

/// A file attached to an e-mail (text content: calendar invitations).
pub struct MailAttachment {
    pub filename: String,
    /// e.g. `text/calendar; method=REQUEST; charset=UTF-8`.
    pub content_type: String,
    pub content: String,
}

/// Who an e-mail is for and which job sends it (for the ledger).
pub struct Envelope<'a> {
    pub to: &'a str,
    pub idempotency_key: &'a str,
    pub org_id: Option<Uuid>,
    pub job_id: Option<Uuid>,
    /// Where replies go (e.g. the sender an account e-mail names); the From address stays
    /// `DEFAULT_FROM_EMAIL`, the one the mail server may send for.
    pub reply_to: Option<&'a str>,
}

/// Further recipients of one message (CRM e-mails): more `To` addresses, `Cc` and `Bcc`.
#[derive(Default, Clone, Copy)]
pub struct Copies<'a> {
    pub to: &'a [String],
    pub cc: &'a [String],
    pub bcc: &'a [String],
}

impl Mailer {
    /// Stores e-mails in `mail_outbox` and the log only.
    pub fn outbox(from: &str, site_url: &str) -> anyhow::Result<Mailer> {
        Ok(Mailer {
            transport: Transport::Outbox,
            from: parse_from(from)?,
            site_url: site_url.into(),
            link_secret: None,
        })
    }

    pub fn smtp(settings: &SmtpSettings, from: &str, site_url: &str) -> anyhow::Result<Mailer> {
        Ok(Mailer {
            transport: Transport::Smtp(settings.transport()?),
            from: parse_from(from)?,
            site_url: site_url.into(),
            link_secret: None,
        })
    }

    /// `smtp` when EMAIL_URL or EMAIL_HOST is set, else `outbox`.
    pub fn from_env(cfg: &crate::Config) -> anyhow::Result<Mailer> {
        let mailer = match SmtpSettings::from_env()? {
            Some(s) => Self::smtp(&s, &cfg.default_from_email, &cfg.domain_name)?,
            None => Self::outbox(&cfg.default_from_email, &cfg.domain_name)?,
        };
        Ok(mailer.with_link_secret(&cfg.secret_key))
    }

    /// The key that signs the links of password-reset and invitation e-mails (SECRET_KEY).
    pub fn with_link_secret(mut self, secret: &str) -> Mailer {
        self.link_secret = Some(secret.to_string());
        self
    }

    pub fn link_secret(&self) -> Option<&str> {
        self.link_secret.as_deref()
    }

    pub fn transport_name(&self) -> &'static str {
        match self.transport {
            Transport::Outbox => "outbox",
            Transport::Smtp(_) => "smtp",
        }
    }

    pub fn site_url(&self) -> &str {
        &self.site_url
    }

    /// Sends `mail` unless its idempotency key is already in the ledger. Returns false when it
    /// was skipped as a duplicate. The ledger row is written right after the transport accepted
    /// the message, outside any job transaction, so it survives the job failing afterwards.
    pub async fn send(
        &self,
        pool: &PgPool,
        env: &Envelope<'_>,
        mail: &Rendered,
    ) -> anyhow::Result<bool> {
        self.send_with(pool, env, mail, Copies::default(), &[])
            .await
    }

    /// The Message-ID a message sent under `idempotency_key` carries.
    pub fn message_id(&self, idempotency_key: &str) -> String {
        let domain = self.from.email.domain().to_string();
        format!("<{}@{domain}>", idempotency_key.replace(':', "."))
    }

    /// `send`, to `env.to` and the `copies` too (one message, one ledger row whose `to_addr`
    /// lists every `To`), with `files` attached (e.g. an `.ics` invitation). The outbox ledger
    /// keeps the files' names, types and (outbox transport only) their text in `attachments`.
    pub async fn send_with(
        &self,
        pool: &PgPool,
        env: &Envelope<'_>,
        mail: &Rendered,
        copies: Copies<'_>,
        files: &[MailAttachment],
    ) -> anyhow::Result<bool> {
        let (sent,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM mail_outbox WHERE idempotency_key = $1)")
                .bind(env.idempotency_key)
                .fetch_one(pool)
                .await?;
        if sent {
            tracing::info!(
                key = env.idempotency_key,
                "e-mail already sent; not sending again"
            );
            return Ok(false);
        }
        // A stable Message-ID lets receiving systems drop a duplicate too.
        let message_id = self.message_id(env.idempotency_key);
        let mut all_to = vec![env.to.to_string()];
        all_to.extend(copies.to.iter().cloned());
        let to_addr = all_to.join(", ");
        match &self.transport {
            Transport::Outbox => {
                tracing::info!(target: "bottlecrm::outbox", to = %to_addr, cc = ?copies.cc, bcc = ?copies.bcc, subject = %mail.subject,
                    body = %mail.text, "e-mail stored in the outbox (EMAIL_URL not set)");
            }
            Transport::Smtp(t) => {
                let mb = |a: &str| -> anyhow::Result<Mailbox> {
                    a.parse()
                        .with_context(|| format!("invalid recipient {a:?}"))
                };
                let mut msg = Message::builder().from(self.from.clone());
                for a in &all_to {
                    msg = msg.to(mb(a)?);
                }
                for a in copies.cc {
                    msg = msg.cc(mb(a)?);
                }
                for a in copies.bcc {
                    msg = msg.bcc(mb(a)?);
                }
                if let Some(r) = env.reply_to.and_then(|r| r.parse::<Mailbox>().ok()) {
                    msg = msg.reply_to(r);
                }
                let body = MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone());
                let msg = msg
                    .subject(&mail.subject)
                    .message_id(Some(message_id.clone()));
                let msg = if files.is_empty() {
                    msg.multipart(body)?
                } else {
                    let mut mixed = MultiPart::mixed().multipart(body);
                    for f in files {
                        let ct = ContentType::parse(&f.content_type)
                            .with_context(|| format!("bad content type {:?}", f.content_type))?;
                        mixed = mixed.singlepart(
                            Attachment::new(f.filename.clone()).body(f.content.clone(), ct),
                        );
                    }
                    msg.multipart(mixed)?
                };
                t.send(msg).await.context("SMTP send failed")?;
                tracing::info!(to = env.to, subject = %mail.subject, "e-mail sent over SMTP");
            }
        }
        // Over SMTP the ledger keeps no bodies: they can hold secrets (reset links) and the
        // mail server has the message. The outbox transport keeps them: they are the message.
        let (text, html) = match self.transport {
            Transport::Outbox => (mail.text.as_str(), mail.html.as_str()),
            Transport::Smtp(_) => ("", ""),
        };
        let attachments = (!files.is_empty()).then(|| {
            serde_json::Value::Array(
                files
                    .iter()
                    .map(|f| {
                        let content = match self.transport {
                            Transport::Outbox => serde_json::json!(f.content),
                            Transport::Smtp(_) => serde_json::Value::Null,
                        };
                        serde_json::json!({"filename": f.filename, "content_type": f.content_type, "content": content})
                    })
                    .collect(),
            )
        });
        sqlx::query(
            "INSERT INTO mail_outbox (id, idempotency_key, tenant_org_id, job_id, transport, from_addr, to_addr,
                                      subject, text_body, html_body, message_id, attachments)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(Uuid::new_v4())
        .bind(env.idempotency_key)
        .bind(env.org_id)
        .bind(env.job_id)
        .bind(self.transport_name())
        .bind(self.from.to_string())
        .bind(&to_addr)
        .bind(&mail.subject)
        .bind(text)
        .bind(html)
        .bind(&message_id)
        .bind(attachments)
        .execute(pool)
        .await?;
        Ok(true)
    }
}

fn parse_from(from: &str) -> anyhow::Result<Mailbox> {
    from.parse()
        .with_context(|| format!("DEFAULT_FROM_EMAIL {from:?} is not a valid address"))
}
