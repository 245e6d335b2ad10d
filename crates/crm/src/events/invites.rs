//! Invitees and RSVP: members and contacts invited by e-mail (a job per invitee, the `.ics`
//! invitation attached), answering accept/decline/tentative through a signed link without
//! logging in; the answers are on the event's detail (`invitees`).

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::handlers::editable_event;
use super::recur;
use crate::auth::links;
use crate::common::activity::{self, Action};
use crate::common::relations::{self, Kind, Rel};
use crate::db::Tenant;
use crate::db::tenant::{self, Tx};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::fields::{id_list, invalid};
use crate::http::parse_id;
use crate::jobs::{self, Job};
use crate::mail::{Envelope, MailAttachment, Mailer, templates};
use crate::state::AppState;

pub const RSVP: &str = "event-rsvp";
pub const RESPONSES: &[&str] = &["accepted", "declined", "tentative"];

/// The token of an invitee's RSVP link: `<org id>.<invitee id>.<signature>`.
pub fn rsvp_token(secret: &str, org: Uuid, invitee: Uuid) -> String {
    let value = format!("{}.{}", org.simple(), invitee.simple());
    format!("{value}.{}", links::sign(secret, RSVP, &value))
}

fn check_token(secret: &str, token: &str) -> Option<(Uuid, Uuid)> {
    let mut parts = token.trim().splitn(3, '.');
    let (org, inv, sig) = (parts.next()?, parts.next()?, parts.next()?);
    let ids = (Uuid::parse_str(org).ok()?, Uuid::parse_str(inv).ok()?);
    links::verify(secret, RSVP, &format!("{org}.{inv}"), sig).then_some(ids)
}

/// Invites members (`profiles`, profile or user ids) and contacts (`contacts`) of the org: each
/// new invitee gets an e-mail with the invitation attached (queued in this transaction). Someone
/// already invited is not invited twice. A contact without an e-mail address is a 400.
#[utoipa::path(post, path = "/api/events/{id}/invitees/", tag = "events", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = InviteBody,
    responses((status = 200, body = InvitedResponse), (status = 400), (status = 403), (status = 404)))]
pub async fn invite(
    mut t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let current = editable_event(&mut t, id).await?;
    let mut errors = FieldErrors::new();
    let mut profiles = id_list(&body, "profiles", &mut errors);
    let mut contacts = id_list(&body, "contacts", &mut errors);
    if profiles.as_ref().is_none_or(Vec::is_empty)
        && contacts.as_ref().is_none_or(Vec::is_empty)
        && errors.is_empty()
    {
        errors.add("profiles", "Name at least one member or contact to invite.");
    }
    let mut rels = [
        Rel::new("profiles", Kind::Profile, &mut profiles),
        Rel::new("contacts", Kind::Contact, &mut contacts),
    ];
    relations::check(&mut t.tx, t.org_id, &mut rels, None, &mut errors).await?;
    let contacts = contacts.unwrap_or_default();
    let no_email: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM contacts WHERE id = ANY($1) AND org_id = $2 AND coalesce(email, '') = ''",
    )
    .bind(&contacts)
    .bind(t.org_id)
    .fetch_all(&mut *t.tx)
    .await?;
    for c in no_email {
        errors.add(
            "contacts",
            format!("Contact \"{c}\" has no e-mail address."),
        );
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let added: Vec<(Uuid, String)> = sqlx::query_as(
        "INSERT INTO event_invitee (id, org_id, event_id, profile_id, contact_id, email)
         SELECT gen_random_uuid(), $1, $2, x.profile_id, x.contact_id, x.email FROM (
             SELECT p.id AS profile_id, NULL::uuid AS contact_id, lower(u.email) AS email
             FROM profile p JOIN users u ON u.id = p.user_id WHERE p.id = ANY($3) AND p.org_id = $1
             UNION ALL
             SELECT NULL, c.id, lower(c.email) FROM contacts c WHERE c.id = ANY($4) AND c.org_id = $1) x
         ON CONFLICT (event_id, email) DO NOTHING
         RETURNING id, email",
    )
    .bind(t.org_id)
    .bind(id)
    .bind(profiles.unwrap_or_default())
    .bind(&contacts)
    .fetch_all(&mut *t.tx)
    .await?;
    for (invitee, _) in &added {
        jobs::enqueue(
            &mut t.tx,
            Some(t.org_id),
            Job::EventInvitation {
                event_id: id,
                invitee_id: *invitee,
            },
        )
        .await?;
    }
    activity::record(&mut t, Action::Update, "Event", id, &current.name).await?;
    t.commit().await?;
    let emails: Vec<&str> = added.iter().map(|(_, e)| e.as_str()).collect();
    Ok(Json(
        json!({"error": false, "message": "Invitations sent", "invited": emails}),
    ))
}

/// Removes an invitee (editors of the event).
#[utoipa::path(delete, path = "/api/events/{id}/invitees/{invitee}/", tag = "events", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path), ("invitee" = Uuid, Path)),
    responses((status = 200, body = super::dto::EventMessage), (status = 403), (status = 404)))]
pub async fn uninvite(
    mut t: Tenant,
    Path((id, invitee)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (id, invitee) = (parse_id(&id)?, parse_id(&invitee)?);
    editable_event(&mut t, id).await?;
    let n =
        sqlx::query("DELETE FROM event_invitee WHERE id = $1 AND event_id = $2 AND org_id = $3")
            .bind(invitee)
            .bind(id)
            .bind(t.org_id)
            .execute(&mut *t.tx)
            .await?
            .rows_affected();
    if n == 0 {
        return Err(ApiError::not_found());
    }
    t.commit().await?;
    Ok(Json(json!({"error": false, "message": "Invitee removed"})))
}

/// What an RSVP link shows and answers.
async fn rsvp_row(tx: &mut Tx, invitee: Uuid) -> Result<Value, ApiError> {
    let row: Option<Value> = sqlx::query_scalar(
        "SELECT json_build_object('event', json_build_object('id', e.id, 'name', e.name,
                    'start', crm_ts_in(e.start_at, e.timezone), 'end', crm_ts_in(e.end_at, e.timezone),
                    'timezone', e.timezone, 'rrule', e.rrule, 'location', e.location),
                'email', i.email, 'response', i.response, 'responded_at', crm_ts(i.responded_at))
         FROM event_invitee i JOIN event e ON e.id = i.event_id WHERE i.id = $1",
    )
    .bind(invitee)
    .fetch_optional(&mut **tx)
    .await?;
    row.ok_or_else(ApiError::not_found)
}

async fn rsvp_tx(state: &AppState, token: &str) -> Result<(Tx, Uuid), ApiError> {
    let (org, invitee) =
        check_token(&state.cfg.secret_key, token).ok_or_else(ApiError::not_found)?;
    let tx = tenant::begin(&state.pool, Some(org), None).await?;
    Ok((tx, invitee))
}

/// The invitation an RSVP link names (no login: the signed token is the credential).
#[utoipa::path(get, path = "/api/events/rsvp/{token}/", tag = "events",
    params(("token" = String, Path)),
    responses((status = 200, body = RsvpResponse), (status = 404)))]
pub async fn rsvp_get(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    let (mut tx, invitee) = rsvp_tx(&state, &token).await?;
    let body = rsvp_row(&mut tx, invitee).await?;
    tx.commit().await?;
    Ok(Json(body))
}

/// Answers an invitation: `{"response": "accepted" | "declined" | "tentative"}` (no login).
#[utoipa::path(post, path = "/api/events/rsvp/{token}/", tag = "events",
    params(("token" = String, Path)), request_body = RsvpBody,
    responses((status = 200, body = RsvpResponse), (status = 400), (status = 404)))]
pub async fn rsvp_post(
    State(state): State<AppState>,
    Path(token): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let (mut tx, invitee) = rsvp_tx(&state, &token).await?;
    let response = body
        .get("response")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default();
    if !RESPONSES.contains(&response) {
        return Err(ApiError::field(
            "response",
            "Choose \"accepted\", \"declined\" or \"tentative\".",
        ));
    }
    let n =
        sqlx::query("UPDATE event_invitee SET response = $2, responded_at = now() WHERE id = $1")
            .bind(invitee)
            .bind(response)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if n == 0 {
        return Err(ApiError::not_found());
    }
    let body = rsvp_row(&mut tx, invitee).await?;
    tx.commit().await?;
    Ok(Json(body))
}

// ---- The invitation e-mail and its .ics ----

/// iCalendar TEXT escaping (RFC 5545 §3.3.11).
pub fn ics_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace('\n', "\\n")
}

/// Folds content lines at 75 octets (RFC 5545 §3.1) and ends each with CRLF.
pub fn ics_fold(lines: &[String]) -> String {
    let mut out = String::new();
    for line in lines {
        let mut len = 0;
        for c in line.chars() {
            if len + c.len_utf8() > 75 {
                out.push_str("\r\n ");
                len = 1;
            }
            out.push(c);
            len += c.len_utf8();
        }
        out.push_str("\r\n");
    }
    out
}

fn ics_utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// One event as VEVENT lines: times in UTC for a single event, in the event's zone (TZID) for a
/// series so its occurrences keep their wall-clock time; cancelled occurrences as EXDATE.
#[allow(clippy::too_many_arguments)]
pub fn vevent(
    id: Uuid,
    name: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: &str,
    rrule: Option<&str>,
    location: Option<&str>,
    description: Option<&str>,
    cancelled: &[DateTime<Utc>],
    attendees: &[(String, String)],
) -> Vec<String> {
    let zone: super::Tz = tz.parse().unwrap_or(super::Tz::UTC);
    let mut l = vec![
        "BEGIN:VEVENT".to_string(),
        format!("UID:{id}@bottlecrm"),
        format!("DTSTAMP:{}", ics_utc(Utc::now())),
        format!("SUMMARY:{}", ics_text(name)),
    ];
    match rrule {
        Some(rule) => {
            let f = |t| recur::local(zone, t).format("%Y%m%dT%H%M%S").to_string();
            l.push(format!("DTSTART;TZID={tz}:{}", f(start)));
            l.push(format!("DTEND;TZID={tz}:{}", f(end)));
            l.push(format!("RRULE:{rule}"));
            for x in cancelled {
                l.push(format!("EXDATE;TZID={tz}:{}", f(*x)));
            }
        }
        None => {
            l.push(format!("DTSTART:{}", ics_utc(start)));
            l.push(format!("DTEND:{}", ics_utc(end)));
        }
    }
    if let Some(loc) = location.filter(|s| !s.is_empty()) {
        l.push(format!("LOCATION:{}", ics_text(loc)));
    }
    if let Some(d) = description.filter(|s| !s.is_empty()) {
        l.push(format!("DESCRIPTION:{}", ics_text(d)));
    }
    for (email, partstat) in attendees {
        l.push(format!(
            "ATTENDEE;PARTSTAT={};RSVP=TRUE:mailto:{email}",
            partstat.to_ascii_uppercase()
        ));
    }
    l.push("END:VEVENT".into());
    l
}

/// `BEGIN:VCALENDAR` ... `END:VCALENDAR` around events.
pub fn vcalendar(method: Option<&str>, events: Vec<String>) -> String {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".to_string(),
        "PRODID:-//bottlecrm//events//EN".to_string(),
        "CALSCALE:GREGORIAN".to_string(),
    ];
    if let Some(m) = method {
        lines.push(format!("METHOD:{m}"));
    }
    lines.extend(events);
    lines.push("END:VCALENDAR".into());
    ics_fold(&lines)
}

type InviteRow = (
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Vec<DateTime<Utc>>,
);

/// The `EventInvitation` job: e-mails the invitee the event with the `.ics` attached and their
/// RSVP link. A removed invitee or event sends nothing.
pub(crate) async fn send_invitation(
    tx: &mut Tx,
    pool: &sqlx::PgPool,
    mailer: &Mailer,
    job_id: Uuid,
    org_id: Option<Uuid>,
    event_id: Uuid,
    invitee_id: Uuid,
) -> anyhow::Result<()> {
    let row: Option<InviteRow> = sqlx::query_as(
        "SELECT e.name, e.start_at, e.end_at, e.timezone, e.rrule, e.location, e.description, i.email,
                (SELECT u.email FROM users u WHERE u.id = e.created_by_id),
                ARRAY(SELECT x.occurrence FROM event_exception x WHERE x.event_id = e.id AND x.cancelled ORDER BY 1)
         FROM event_invitee i JOIN event e ON e.id = i.event_id WHERE i.id = $1 AND e.id = $2",
    )
    .bind(invitee_id)
    .bind(event_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((name, start, end, tz, rrule, location, description, to, organizer, cancelled)) = row
    else {
        return Ok(());
    };
    let secret = mailer
        .link_secret()
        .ok_or_else(|| anyhow::anyhow!("no SECRET_KEY to sign the RSVP link"))?;
    let org = org_id.ok_or_else(|| anyhow::anyhow!("an invitation job needs its org"))?;
    let token = rsvp_token(secret, org, invitee_id);
    let link = format!(
        "{}/events/rsvp?token={token}",
        mailer.site_url().trim_end_matches('/')
    );
    let zone: super::Tz = tz.parse().unwrap_or(super::Tz::UTC);
    let when = recur::rfc3339(zone, start);
    let mut ev = vevent(
        event_id,
        &name,
        start,
        end,
        &tz,
        rrule.as_deref(),
        location.as_deref(),
        description.as_deref(),
        &cancelled,
        &[(to.clone(), "needs-action".into())],
    );
    if let Some(o) = &organizer {
        ev.insert(ev.len() - 1, format!("ORGANIZER:mailto:{o}"));
    }
    let ics = vcalendar(Some("REQUEST"), ev);
    let context = json!({"name": name, "when": when, "tz": tz, "location": location, "link": link});
    let mail = templates::render_message(
        "Invitation: {{ name }}",
        "<p>You are invited to <b>{{ name }}</b>, {{ when }} ({{ tz }}){% if location %}, {{ location }}{% endif %}.</p>\
         <p>Answer (accept, decline or maybe): <a href=\"{{ link }}\">{{ link }}</a></p>\
         <p>The invitation is attached for your calendar.</p>",
        &context,
    )?;
    let key = format!("event-invitation:{invitee_id}:{job_id}");
    let env = Envelope {
        to: &to,
        idempotency_key: &key,
        org_id,
        job_id: Some(job_id),
        reply_to: organizer.as_deref(),
    };
    let file = MailAttachment {
        filename: "invite.ics".into(),
        content_type: "text/calendar; method=REQUEST; charset=UTF-8".into(),
        content: ics,
    };
    mailer
        .send_with(pool, &env, &mail, crate::mail::Copies::default(), &[file])
        .await?;
    Ok(())
}

// ---- Shapes ----

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct InviteBody {
    /// Members: profile ids (a member's user id is accepted too).
    pub profiles: Option<Vec<Uuid>>,
    /// Contacts of the org (with an e-mail address).
    pub contacts: Option<Vec<Uuid>>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct InvitedResponse {
    pub error: bool,
    pub message: String,
    /// Addresses newly invited (already invited ones are left out).
    pub invited: Vec<String>,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct RsvpBody {
    /// accepted, declined or tentative.
    pub response: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RsvpResponse {
    /// `{id, name, start, end, timezone, rrule, location}`
    pub event: Value,
    pub email: String,
    pub response: String,
    pub responded_at: Option<String>,
}
