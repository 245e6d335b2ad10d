//! E-mail templates, embedded in the binary. Each e-mail has a subject, a plain-text body and an
//! HTML body (autoescaped). Every template also gets `app_name` and `site_url` (DOMAIN_NAME).
//! Undefined variables are errors (the job fails with the template's name), never blank text.
//!
//! Each template's context is built by its function in [`context`] (callers use them, and the
//! tests render every template with them under strict undefined), so a caller's keys and a
//! template's variables cannot drift apart:
//! - `activation`: `link`
//! - `password_reset`: `link`, `expires_minutes`
//! - `assignment`: `module` ("Lead", "Account", "Contact", "Opportunity", "Case", "Task",
//!   "Invoice", "Event", ...), `name`, `url` (full) or `path` (appended to `site_url`),
//!   optional `assigned_by`
//! - `mention`: `module`, `name`, `url` or `path`, `commented_by`, optional `comment`
//! - `account_status`: `active` (bool), `org_name`, optional `changed_by`
//! - `user_removed`: `org_name`, optional `removed_by`
//! - `invitation`: `link`, `token`, `org_name`, `invited_by`, `role`, `expires_days`
//! - `account_exists`: nothing (a registration attempt for an address that has an account)
//! - `task_reminder`: `name`, `due_date`, `overdue` (bool), `url` or `path`
//! - `sla_breach`: `module`, `name`, `url` or `path`, `breach` ("first response" or
//!   "resolution"), `due_at` (text)
//! - `form_submission`: `name`, `email`, `message`, `form`, `org_name`, `url` or `path`
//!   (a public contact form's submission, to the org's admins)

use std::sync::LazyLock;

use anyhow::{Context, bail};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Value, json};

/// Template name -> subject (a template too).
const SUBJECTS: &[(&str, &str)] = &[
    ("activation", "Activate your {{ app_name }} account"),
    ("password_reset", "Reset your {{ app_name }} password"),
    (
        "assignment",
        "You were assigned to the {{ module|lower }} {{ name }}",
    ),
    (
        "mention",
        "{{ commented_by }} mentioned you on the {{ module|lower }} {{ name }}",
    ),
    (
        "account_status",
        "Your {{ app_name }} account was {{ 'activated' if active else 'deactivated' }}",
    ),
    (
        "user_removed",
        "You were removed from {{ org_name }} on {{ app_name }}",
    ),
    (
        "invitation",
        "{{ invited_by }} invited you to {{ org_name }} on {{ app_name }}",
    ),
    ("account_exists", "Your {{ app_name }} account"),
    (
        "task_reminder",
        "{{ 'Overdue' if overdue else 'Due today' }}: {{ name }}",
    ),
    (
        "sla_breach",
        "SLA missed: {{ breach }} of the {{ module|lower }} {{ name }}",
    ),
    (
        "form_submission",
        "{{ name }} wrote through the form {{ form }}",
    ),
];

macro_rules! bodies {
    ($($name:literal),*) => {
        &[$(
            (concat!($name, ".txt"), include_str!(concat!("templates/", $name, ".txt"))),
            (concat!($name, ".html"), include_str!(concat!("templates/", $name, ".html"))),
        )*]
    };
}

const FILES: &[(&str, &str)] = bodies!(
    "activation",
    "password_reset",
    "assignment",
    "mention",
    "account_status",
    "user_removed",
    "invitation",
    "account_exists",
    "task_reminder",
    "sla_breach",
    "form_submission"
);

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template("base.html", include_str!("templates/base.html"))
        .expect("base.html parses");
    env.add_template("button.html", include_str!("templates/button.html"))
        .expect("button.html parses");
    for (name, src) in FILES {
        env.add_template(name, src).expect("e-mail template parses");
    }
    for (name, src) in SUBJECTS {
        env.add_template_owned(format!("{name}.subject"), *src)
            .expect("subject parses");
    }
    env
});

/// The names callers may use in `Job::Email { template, .. }`.
pub fn names() -> impl Iterator<Item = &'static str> {
    SUBJECTS.iter().map(|(n, _)| *n)
}

#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders template `name` with `context` (a JSON object).
pub fn render(name: &str, context: &Value, site_url: &str) -> anyhow::Result<Rendered> {
    if !names().any(|n| n == name) {
        bail!("unknown e-mail template {name:?}");
    }
    let mut ctx = match context {
        Value::Object(m) => m.clone(),
        Value::Null => Default::default(),
        _ => bail!("e-mail context for {name:?} must be a JSON object"),
    };
    ctx.insert("app_name".into(), json!("BottleCRM"));
    ctx.insert("site_url".into(), json!(site_url.trim_end_matches('/')));
    if !ctx.contains_key("link") {
        let link = match (ctx.get("url"), ctx.get("path")) {
            (Some(Value::String(u)), _) => Some(u.clone()),
            (_, Some(Value::String(p))) => Some(format!("{}{p}", site_url.trim_end_matches('/'))),
            _ => None,
        };
        if let Some(link) = link {
            ctx.insert("link".into(), json!(link));
        }
    }
    let render_one = |file: String, ctx: &serde_json::Map<String, Value>| {
        ENV.get_template(&file)
            .and_then(|t| t.render(minijinja::value::Serde(ctx)))
            .with_context(|| format!("rendering e-mail template {file}"))
    };
    let subject = render_one(format!("{name}.subject"), &ctx)?;
    // Header injection is impossible (lettre encodes headers), but keep subjects on one line.
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    ctx.insert("subject".into(), json!(subject));
    Ok(Rendered {
        text: render_one(format!("{name}.txt"), &ctx)?,
        html: render_one(format!("{name}.html"), &ctx)?,
        subject,
    })
}

/// The context of each template, one function per template. `path` is a page of the web app
/// (appended to `site_url`), e.g. from `comments::Target::page_path`.
pub mod context {
    use serde_json::{Value, json};

    pub fn activation(link: &str) -> Value {
        json!({ "link": link })
    }

    pub fn password_reset(link: &str, expires_minutes: i64) -> Value {
        json!({ "link": link, "expires_minutes": expires_minutes })
    }

    /// `module` is the record's kind as shown ("Lead"), `by` the e-mail of who assigned.
    pub fn assignment(module: &str, name: &str, path: &str, by: &str) -> Value {
        json!({ "module": module, "name": name, "path": path, "assigned_by": by })
    }

    /// `by` is the e-mail of the comment's author, `comment` its text.
    pub fn mention(module: &str, name: &str, path: &str, by: &str, comment: &str) -> Value {
        json!({ "module": module, "name": name, "path": path, "commented_by": by, "comment": comment })
    }

    pub fn account_status(active: bool, org_name: &str, changed_by: Option<&str>) -> Value {
        json!({ "active": active, "org_name": org_name, "changed_by": changed_by })
    }

    pub fn user_removed(org_name: &str, removed_by: Option<&str>) -> Value {
        json!({ "org_name": org_name, "removed_by": removed_by })
    }

    /// A task of the recipient's due on `due_date` (`YYYY-MM-DD`), `overdue` when before today.
    pub fn task_reminder(name: &str, due_date: &str, overdue: bool, path: &str) -> Value {
        json!({ "name": name, "due_date": due_date, "overdue": overdue, "path": path })
    }

    /// `breach` is "first response" or "resolution", `due_at` when it was due (UTC, as text).
    pub fn sla_breach(module: &str, name: &str, path: &str, breach: &str, due_at: &str) -> Value {
        json!({ "module": module, "name": name, "path": path, "breach": breach, "due_at": due_at })
    }

    /// A public form's submission (`marketing`), linking to the submissions page.
    pub fn form_submission(
        name: &str,
        email: &str,
        message: &str,
        form: &str,
        org_name: &str,
    ) -> Value {
        json!({ "name": name, "email": email, "message": message, "form": form,
                "org_name": org_name, "path": "/marketing/submissions" })
    }
}

/// `{`/`}` must balance, in order (upstream's "tags" check on a message body:
/// account e-mails, CRM e-mails, their templates).
pub fn braces_balanced(s: &str) -> bool {
    let mut depth = 0i64;
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// A message people wrote (an account e-mail): `subject` and the HTML `body` are templates over
/// `context` (a recipient's fields; values are HTML-escaped in the body, unknown names are
/// blank). The text part is the body without its tags.
pub fn render_message(subject: &str, body: &str, context: &Value) -> anyhow::Result<Rendered> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name == "html" {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.add_template_owned("subject", subject.to_string())
        .context("the subject is not a valid template")?;
    env.add_template_owned("html", body.to_string())
        .context("the message body is not a valid template")?;
    let subject = env
        .get_template("subject")?
        .render(minijinja::value::Serde(context))?;
    let html = env
        .get_template("html")?
        .render(minijinja::value::Serde(context))?;
    let text = strip_tags(&html);
    Ok(Rendered {
        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
        text,
        html,
    })
}

/// Text of an HTML fragment: tags dropped (`<br>`, `</p>` as line breaks), common entities decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut tag = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let name = tag.to_ascii_lowercase();
                let block =
                    |n: &str| name == format!("/{n}") || name.starts_with(&format!("/{n} "));
                if name.starts_with("br") || block("p") || block("div") {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A context for `name` built by its `context` function, for tests and previews.
pub fn sample_context(name: &str) -> Value {
    match name {
        "activation" => context::activation("https://crm.example.com/activate/abc"),
        "password_reset" => context::password_reset("https://crm.example.com/reset/abc", 60),
        "assignment" => {
            context::assignment("Lead", "ACME <renewal>", "/leads?view=1", "ann@example.com")
        }
        "mention" => context::mention(
            "Case",
            "Outage",
            "/cases",
            "bob@example.com",
            "@you look <here>",
        ),
        "account_status" => context::account_status(false, "ACME", Some("ann@example.com")),
        "user_removed" => context::user_removed("ACME", Some("ann@example.com")),
        "invitation" => {
            json!({"link": "https://crm.example.com/invitations/accept?token=abc", "token": "abc",
                   "org_name": "ACME <Ltd>", "invited_by": "ann@example.com", "role": "USER", "expires_days": 7})
        }
        "account_exists" => json!({}),
        "task_reminder" => context::task_reminder("Call <renewal>", "2026-11-24", true, "/tasks"),
        "sla_breach" => context::sla_breach(
            "Case",
            "Outage <east>",
            "/cases",
            "first response",
            "2026-12-01 10:00 UTC",
        ),
        "form_submission" => context::form_submission(
            "Ann <Lee>",
            "ann@example.com",
            "Call me <here>",
            "Contact us",
            "ACME",
        ),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_and_escapes_html() {
        for name in names() {
            let r = render(name, &sample_context(name), "https://crm.example.com/").unwrap();
            assert!(!r.subject.is_empty() && !r.text.is_empty(), "{name}");
            assert!(r.html.contains("<html"), "{name}");
            assert!(
                !r.html.contains("<renewal>") && !r.html.contains("<here>"),
                "{name}"
            );
        }
        let r = render(
            "assignment",
            &sample_context("assignment"),
            "https://crm.example.com",
        )
        .unwrap();
        assert_eq!(r.subject, "You were assigned to the lead ACME <renewal>");
        assert!(r.text.contains("https://crm.example.com/leads?view=1"));
        assert!(r.html.contains("ACME &lt;renewal&gt;"));
    }

    #[test]
    fn messages_render_recipient_fields() {
        let r = render_message(
            "Hello {{ first_name }}",
            "<p>Dear {{ first_name }} {{ nope }}</p>Bye<br>{{ last_name }}",
            &json!({"first_name": "Ann", "last_name": "<Lee>"}),
        )
        .unwrap();
        assert_eq!(r.subject, "Hello Ann");
        assert_eq!(r.html, "<p>Dear Ann </p>Bye<br>&lt;Lee&gt;");
        assert_eq!(r.text, "Dear Ann \nBye\n<Lee>");
        assert!(render_message("", "{% if %}", &json!({})).is_err());
    }

    #[test]
    fn missing_variables_and_unknown_templates_are_errors() {
        assert!(render("assignment", &json!({"module": "Lead"}), "").is_err());
        assert!(render("nope", &json!({}), "").is_err());
        // Optional variables may be left out.
        let r = render("user_removed", &json!({"org_name": "ACME"}), "").unwrap();
        assert!(r.text.contains("removed from ACME on BottleCRM.\n"));
        let r = render("user_removed", &context::user_removed("ACME", None), "").unwrap();
        assert!(r.text.contains("removed from ACME on BottleCRM.\n"));
    }

    #[test]
    fn the_mention_context_renders() {
        let ctx = context::mention("Lead", "Big deal", "/leads?view=7", "ann@example.com", "hi");
        let r = render("mention", &ctx, "http://app/").unwrap();
        assert_eq!(
            r.subject,
            "ann@example.com mentioned you on the lead Big deal"
        );
        assert!(r.text.contains("See the comment: http://app/leads?view=7"));
    }
}
