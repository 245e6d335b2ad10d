//! SMTP settings from `EMAIL_URL` (`smtp://user:pass@host:587`, `smtps://...:465`) or Django's
//! `EMAIL_HOST`, `EMAIL_PORT`, `EMAIL_HOST_USER`, `EMAIL_HOST_PASSWORD`. `EMAIL_TLS` =
//! `starttls` | `tls` | `none` overrides the encryption (default: `tls` for `smtps://` or port
//! 465, else `starttls`; `none` only for a relay on a trusted network or tests).

use std::time::Duration;

use anyhow::{Context, bail};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain connection upgraded with STARTTLS (required, not opportunistic).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub tls: Tls,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_tls(raw: &str) -> anyhow::Result<Tls> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "starttls" => Ok(Tls::StartTls),
        "tls" | "ssl" | "smtps" => Ok(Tls::Tls),
        "none" | "off" | "plain" => Ok(Tls::None),
        other => bail!("EMAIL_TLS: expected starttls, tls or none, got {other:?}"),
    }
}

impl SmtpSettings {
    /// None when neither EMAIL_URL nor EMAIL_HOST is set (the outbox transport is used).
    pub fn from_env() -> anyhow::Result<Option<SmtpSettings>> {
        let tls = var("EMAIL_TLS").map(|t| parse_tls(&t)).transpose()?;
        let mut s = if let Some(url) = var("EMAIL_URL") {
            Self::from_url(&url)?
        } else if let Some(host) = var("EMAIL_HOST") {
            let port = match var("EMAIL_PORT") {
                Some(p) => p
                    .trim()
                    .parse()
                    .with_context(|| format!("EMAIL_PORT: expected a port number, got {p:?}"))?,
                None => 587,
            };
            SmtpSettings {
                host,
                port,
                user: var("EMAIL_HOST_USER"),
                password: var("EMAIL_HOST_PASSWORD"),
                tls: if port == 465 { Tls::Tls } else { Tls::StartTls },
            }
        } else {
            return Ok(None);
        };
        if let Some(tls) = tls {
            s.tls = tls;
        }
        Ok(Some(s))
    }

    pub fn from_url(raw: &str) -> anyhow::Result<SmtpSettings> {
        let url = url::Url::parse(raw).context("EMAIL_URL is not a URL")?;
        let tls = match url.scheme() {
            "smtp" => Tls::StartTls,
            "smtps" => Tls::Tls,
            s => bail!("EMAIL_URL: scheme must be smtp:// or smtps://, got {s}://"),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .context("EMAIL_URL has no host")?
            .to_string();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = Some(decode(url.username())).filter(|u| !u.is_empty());
        let password = url.password().map(decode);
        let port = url
            .port()
            .unwrap_or(if tls == Tls::Tls { 465 } else { 587 });
        Ok(SmtpSettings {
            host,
            port,
            user,
            password,
            tls,
        })
    }

    pub fn transport(&self) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
        let builder = match self.tls {
            Tls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host)?,
            Tls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&self.host)?,
            Tls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host),
        };
        let mut builder = builder
            .port(self.port)
            .timeout(Some(Duration::from_secs(30)));
        if let Some(user) = &self.user {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                self.password.clone().unwrap_or_default(),
            ));
        }
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let s = SmtpSettings::from_url("smtp://AKIA%2Fx:p%40ss@email-smtp.eu-west-1.amazonaws.com")
            .unwrap();
        assert_eq!(s.host, "email-smtp.eu-west-1.amazonaws.com");
        assert_eq!((s.port, s.tls), (587, Tls::StartTls));
        assert_eq!(s.user.as_deref(), Some("AKIA/x"));
        assert_eq!(s.password.as_deref(), Some("p@ss"));
        let s = SmtpSettings::from_url("smtps://mail.example.com").unwrap();
        assert_eq!((s.port, s.tls, s.user), (465, Tls::Tls, None));
        assert!(SmtpSettings::from_url("http://x").is_err());
        assert_eq!(parse_tls("NONE").unwrap(), Tls::None);
        assert!(parse_tls("maybe").is_err());
    }
}
