//! Event bodies: validation (DRF-style field errors, never a 500) and the response shapes, declared
//! for the OpenAPI document.

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::recur::{self, Rule};
use crate::db::sql::Val;
use crate::error::FieldErrors;
use crate::http::fields::{self, Kind, id_list};

pub const EVENT_TYPES: &[&str] = &["meeting", "call", "other"];
/// Upstream's eight statuses.
pub const STATUSES: &[&str] = &[
    "Planned",
    "Held",
    "Not Held",
    "Not Started",
    "Started",
    "Completed",
    "Canceled",
    "Deferred",
];

fn is_type(s: &str) -> bool {
    EVENT_TYPES.contains(&s)
}
fn is_status(s: &str) -> bool {
    STATUSES.contains(&s)
}

/// Writable plain columns.
const FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Required(255)),
    ("event_type", Kind::Choice(is_type)),
    ("status", Kind::Choice(is_status)),
    ("all_day", Kind::Bool),
    ("location", Kind::Text(255)),
    ("description", Kind::Text(usize::MAX)),
];

/// The links to other records: body key, column.
pub const LINKS: &[(&str, &str)] = &[
    ("lead", "lead_id"),
    ("account", "account_id"),
    ("opportunity", "opportunity_id"),
    ("case", "case_id"),
];

/// A time as the body gives it: an instant with its offset, or a bare date (all-day events).
#[derive(Debug, Clone, Copy)]
pub enum When {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

#[derive(Debug, Default)]
pub struct EventInput {
    pub fields: Vec<(&'static str, Val)>,
    pub start: Option<When>,
    pub end: Option<When>,
    pub timezone: Option<Tz>,
    /// `Some(None)`: not recurring any more.
    pub rrule: Option<Option<Rule>>,
    /// `(column, Some(id) | None to clear)` for the links present.
    pub links: Vec<(&'static str, Option<Uuid>)>,
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub contacts: Option<Vec<Uuid>>,
}

impl EventInput {
    pub fn all_day(&self) -> Option<bool> {
        self.fields.iter().find_map(|(c, v)| match v {
            Val::Bool(b) if *c == "all_day" => Some(*b),
            _ => None,
        })
    }
}

/// RFC 3339 with an offset, or `YYYY-MM-DD`. Seconds are kept, fractions dropped.
pub fn parse_when(raw: &Value) -> Result<When, String> {
    let Some(s) = raw.as_str().map(str::trim) else {
        return Err("Enter a date-time (RFC 3339 with an offset) or a date (YYYY-MM-DD).".into());
    };
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(When::Day(d));
    }
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => Ok(When::At(
            t.with_timezone(&Utc).with_nanosecond(0).unwrap_or(t.with_timezone(&Utc)),
        )),
        Err(_) => Err(
            "Enter a date-time in RFC 3339 with an offset (2026-03-29T09:00:00+02:00) or a date (YYYY-MM-DD)."
                .into(),
        ),
    }
}

pub fn parse_tz(raw: &str) -> Result<Tz, String> {
    raw.trim()
        .parse::<Tz>()
        .map_err(|_| format!("\"{raw}\" is not a known IANA time zone (like Europe/Berlin)."))
}

fn one_id(v: &Value) -> Result<Option<Uuid>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        _ => {
            let raw = v.get("id").unwrap_or(v);
            match raw.as_str().map(|s| Uuid::parse_str(s.trim())) {
                Some(Ok(id)) => Ok(Some(id)),
                _ => {
                    let shown = raw.as_str().map_or_else(|| raw.to_string(), str::to_string);
                    Err(format!("“{shown}” is not a valid UUID."))
                }
            }
        }
    }
}

/// Validates a POST/PUT/PATCH body. `required`: `name`, `start` and `end` must be present (POST
/// and PUT). Unknown keys are ignored.
pub fn validate(body: &Map<String, Value>, required: bool, errors: &mut FieldErrors) -> EventInput {
    let fields = fields::validate(body, FIELDS, errors);
    if required {
        for key in ["name", "start", "end"] {
            if !body.contains_key(key) && !errors.has(key) {
                errors.add(key, "This field is required.");
            }
        }
    }
    let mut when = |key: &str| match body.get(key) {
        None => None,
        Some(v) => match parse_when(v) {
            Ok(w) => Some(w),
            Err(m) => {
                errors.add(key, m);
                None
            }
        },
    };
    let (start, end) = (when("start"), when("end"));
    let timezone = match body.get("timezone") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => match parse_tz(s) {
            Ok(tz) => Some(tz),
            Err(m) => {
                errors.add("timezone", m);
                None
            }
        },
        Some(_) => {
            errors.add("timezone", "Not a valid string.");
            None
        }
    };
    let rrule = match body.get("rrule") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        Some(Value::String(s)) => match Rule::parse(s) {
            Ok(r) => Some(Some(r)),
            Err(m) => {
                errors.add("rrule", m);
                None
            }
        },
        Some(_) => {
            errors.add("rrule", "Not a valid string.");
            None
        }
    };
    let mut links = Vec::new();
    for (key, col) in LINKS {
        if let Some(v) = body.get(*key) {
            match one_id(v) {
                Ok(id) => links.push((*col, id)),
                Err(m) => errors.add(key, m),
            }
        }
    }
    EventInput {
        fields,
        start,
        end,
        timezone,
        rrule,
        links,
        assigned_to: id_list(body, "assigned_to", errors),
        teams: id_list(body, "teams", errors),
        contacts: id_list(body, "contacts", errors),
    }
}

/// The stored shape of an event's times, before and after a write.
#[derive(Debug, Clone)]
pub struct Times {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub tz: Tz,
    pub all_day: bool,
    pub rule: Option<Rule>,
}

impl Times {
    /// Nominal (wall-clock) length of each occurrence.
    pub fn len(&self) -> Duration {
        recur::local(self.tz, self.end) - recur::local(self.tz, self.start)
    }

    /// End of the last occurrence (None: the series never ends).
    pub fn last_end(&self) -> Option<DateTime<Utc>> {
        match &self.rule {
            None => Some(self.end),
            Some(r) => r.last_end(recur::local(self.tz, self.start), self.len(), self.tz),
        }
    }

    /// The rule's canonical text.
    pub fn rrule_text(&self) -> Option<String> {
        self.rule.as_ref().map(|r| r.to_text(self.tz))
    }
}

fn day_start(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    recur::resolve(tz, d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// The times after applying the body to `current` (None on create), with field errors for end
/// not after start, a missing end, or a rule without occurrences. A changed start without an
/// end keeps the event's length.
pub fn merge_times(
    input: &EventInput,
    current: Option<&Times>,
    errors: &mut FieldErrors,
) -> Option<Times> {
    let tz = input.timezone.or(current.map(|c| c.tz)).unwrap_or(Tz::UTC);
    let all_day = input
        .all_day()
        .or(current.map(|c| c.all_day))
        .unwrap_or(false);
    let instant = |w: When, is_end: bool| match w {
        When::At(t) => t,
        // An all-day end date is inclusive: the event ends at the next midnight.
        When::Day(d) => day_start(tz, if is_end { d.succ_opt().unwrap_or(d) } else { d }),
    };
    let start = match (input.start, current) {
        (Some(w), _) => instant(w, false),
        (None, Some(c)) => c.start,
        (None, None) => return None,
    };
    let end = match (input.end, current) {
        (Some(w), _) => instant(w, true),
        (None, Some(c)) => start + (c.end - c.start),
        (None, None) => return None,
    };
    let (start, end) = if all_day {
        let s = day_start(tz, recur::local(tz, start).date());
        let el = recur::local(tz, end);
        let e = if el.time() == chrono::NaiveTime::MIN {
            day_start(tz, el.date())
        } else {
            day_start(tz, el.date().succ_opt().unwrap_or(el.date()))
        };
        (s, e)
    } else {
        (start, end)
    };
    if end <= start {
        errors.add("end", "End must be after start.");
        return None;
    }
    let rule = match &input.rrule {
        Some(r) => r.clone(),
        None => current.and_then(|c| c.rule.clone()),
    };
    let times = Times {
        start,
        end,
        tz,
        all_day,
        rule,
    };
    if let Some(r) = &times.rule
        && r.bounded()
        && times.last_end().is_none()
    {
        errors.add("rrule", "The rule has no occurrence from the start on.");
        return None;
    }
    if let Some(r) = &times.rule
        && r.position(recur::local(tz, start), tz, start).is_none()
    {
        errors.add("rrule", "The start must be an occurrence of the rule (e.g. BYDAY must include the start's weekday).");
        return None;
    }
    Some(times)
}

// ---- Response shapes (documentation; handlers render them from SQL) ----

#[derive(Serialize, ToSchema)]
pub struct EventMessage {
    pub error: bool,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct EventCreated {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
}

/// EventObj.
#[derive(Serialize, ToSchema)]
pub struct EventObj {
    pub id: Uuid,
    pub name: String,
    /// meeting, call or other.
    pub event_type: String,
    /// Planned, Held, Not Held, Not Started, Started, Completed, Canceled or Deferred.
    pub status: String,
    /// RFC 3339 with the offset of `timezone` (the first occurrence of a series).
    pub start: String,
    pub end: String,
    pub all_day: bool,
    /// IANA name.
    pub timezone: String,
    /// RFC 5545 RRULE (canonical), null for a single event.
    pub rrule: Option<String>,
    pub recurring: bool,
    pub location: Option<String>,
    pub description: Option<String>,
    /// `[ProfileObj]`
    pub assigned_to: Vec<Value>,
    /// `[TeamObj]`
    pub teams: Vec<Value>,
    /// `[ContactObj]`
    pub contacts: Vec<Value>,
    /// `{id, title}` or null.
    pub lead: Option<Value>,
    /// `{id, name}` or null.
    pub account: Option<Value>,
    pub opportunity: Option<Value>,
    pub case: Option<Value>,
    /// The series this one was split from ("this and following").
    pub series: Option<Uuid>,
    /// UserMini or null.
    pub created_by: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
    /// Window items only: the occurrence's original start (RFC 3339, UTC), its id in the series.
    pub occurrence: Option<String>,
    /// Window items only: whether an exception changed this occurrence.
    pub modified: Option<bool>,
}

/// `GET /api/events/`: a page of events (`per_page`, `page_number`, `events_count`, `offset`), or
/// with `from`/`to` the window (`from`, `to`, `timezone`) with one item per occurrence.
#[derive(Serialize, ToSchema)]
pub struct EventListResponse {
    pub per_page: Option<i64>,
    pub page_number: Option<Vec<i64>>,
    pub count: i64,
    pub events_count: Option<i64>,
    /// The next page's offset; null on the last page.
    pub offset: Option<i64>,
    /// Window start (RFC 3339, UTC).
    pub from: Option<String>,
    pub to: Option<String>,
    /// The zone window times are given in (`tz`), or null for each event's own.
    pub timezone: Option<String>,
    /// Events (a series is one row), or the window's occurrences by start.
    pub events: Vec<EventObj>,
}

/// An invitee and their answer.
#[derive(Serialize, ToSchema)]
pub struct InviteeObj {
    pub id: Uuid,
    pub email: String,
    pub profile: Option<Uuid>,
    pub contact: Option<Uuid>,
    /// needs-action, accepted, declined or tentative.
    pub response: String,
    pub responded_at: Option<String>,
}

/// A changed or cancelled occurrence.
#[derive(Serialize, ToSchema)]
pub struct ExceptionObj {
    pub occurrence: String,
    pub cancelled: bool,
    pub name: Option<String>,
    pub status: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub location: Option<String>,
    pub description: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EventDetailResponse {
    pub event_obj: EventObj,
    pub invitees: Vec<InviteeObj>,
    pub exceptions: Vec<ExceptionObj>,
    /// `[CommentObj]`
    pub comments: Vec<Value>,
    /// `[AttachmentObj]`
    pub attachments: Vec<Value>,
    /// `[{user__email}]`
    pub users_mention: Vec<Value>,
}

// ---- Request shapes ----

/// Body of `POST /api/events/`, `PUT` and `PATCH /api/events/<id>/` (all optional in PATCH;
/// `name`, `start` and `end` required otherwise). Unknown keys are ignored.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct EventBody {
    pub name: Option<String>,
    pub event_type: Option<String>,
    pub status: Option<String>,
    /// RFC 3339 with an offset, or `YYYY-MM-DD` (all-day).
    pub start: Option<String>,
    /// After `start`; an all-day end date is inclusive.
    pub end: Option<String>,
    pub all_day: Option<bool>,
    /// IANA name (default UTC); the zone a series recurs in.
    pub timezone: Option<String>,
    /// RFC 5545 RRULE: FREQ DAILY/WEEKLY/MONTHLY/YEARLY, INTERVAL, COUNT or UNTIL, BYDAY,
    /// BYMONTHDAY, BYMONTH, WKST. Null for a single event.
    pub rrule: Option<String>,
    pub location: Option<String>,
    pub description: Option<String>,
    /// Profile ids (a member's user id is accepted too).
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub contacts: Option<Vec<Uuid>>,
    pub lead: Option<Uuid>,
    pub account: Option<Uuid>,
    pub opportunity: Option<Uuid>,
    pub case: Option<Uuid>,
}

/// Body of `PATCH /api/events/<id>/occurrences/<occurrence>/`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct OccurrenceBody {
    /// `this` (default) or `following`.
    pub scope: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub location: Option<String>,
    pub description: Option<String>,
}

/// Multipart body of `POST /api/events/<id>/`: a comment and/or a file.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct EventDetailForm {
    pub comment: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    pub event_attachment: Option<String>,
}
