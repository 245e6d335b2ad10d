//! `/api/events/...`: HTTP in and out.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dto::{self, EventInput, Times, When};
use super::model::{self, Viewer};
use super::recur::{self, Rule};
use crate::common::activity::{self, Action};
use crate::common::comments::{self, EVENTS, envelope};
use crate::common::relations::{self, Kind, Rel};
use crate::db::Tenant;
use crate::db::sql::Val;
use crate::db::tenant::Tx;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::fields::{self, invalid};
use crate::http::list::{CacheSlot, Cached};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;
use crate::state::AppState;
use crate::storage::FormData;

fn no_permission() -> ApiError {
    envelope(
        StatusCode::FORBIDDEN,
        json!("You do not have Permission to perform this action"),
    )
}

/// The longest window `from`/`to` may span.
const MAX_WINDOW_DAYS: i64 = 400;
/// The most occurrences one window answers.
const MAX_OCCURRENCES: usize = 20_000;

/// Without `from`/`to`: the events (a series is one row) the caller may see, `limit`/`offset`
/// paginated. With both: every occurrence overlapping `[from, to)`, recurring series expanded in
/// their time zone, in `{"events": [...]}` ordered by start (`assigned_to`, `teams` and
/// `contacts` as ids there; the detail has the objects).
#[utoipa::path(get, path = "/api/events/", tag = "events", security(("jwt" = []), ("api_key" = [])),
    params(
        ("from" = Option<String>, Query, description = "window start: RFC 3339 or a date (midnight in `tz`)"),
        ("to" = Option<String>, Query, description = "window end (exclusive); at most 400 days after `from`"),
        ("tz" = Option<String>, Query, description = "IANA zone the occurrences' `start`/`end` are given in (default: each event's own)"),
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
        ("search" = Option<String>, Query), ("name" = Option<String>, Query),
        ("event_type" = Option<String>, Query), ("status" = Option<String>, Query),
        ("lead" = Option<Uuid>, Query), ("account" = Option<Uuid>, Query),
        ("opportunity" = Option<Uuid>, Query), ("case" = Option<Uuid>, Query),
        ("created_by" = Option<Uuid>, Query),
        ("assigned_to" = Option<Vec<Uuid>>, Query), ("teams" = Option<Vec<Uuid>>, Query),
        ("contacts" = Option<Vec<Uuid>>, Query),
        ("created_at__gte" = Option<String>, Query), ("created_at__lte" = Option<String>, Query),
        ("ordering" = Option<String>, Query, description = "e.g. `start_at`, `-created_at`, `name`"),
    ),
    responses((status = 200, body = dto::EventListResponse),
              (status = 400, description = "malformed filter or window")))]
pub async fn list(
    State(state): State<AppState>,
    t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let window = window_params(&q)?;
    let (mut t, slot) = match CacheSlot::lookup("events", &state.cache, t, &q).await? {
        Cached::Hit(page) => return Ok(page),
        Cached::Miss(t, slot) => (t, slot),
    };
    let v = Viewer::of(&t);
    let body = match window {
        None => model::list_json(&mut t.tx, &v, &q, page).await?,
        Some((from, to, tz)) => {
            let rows = model::window_json(&mut t.tx, &v, &q, from, to).await?;
            let events = expand(&rows, from, to, tz)?;
            json!({
                "from": from.to_rfc3339_opts(SecondsFormat::Secs, true),
                "to": to.to_rfc3339_opts(SecondsFormat::Secs, true),
                "timezone": tz.map(|z| z.name()),
                "count": events.len(),
                "events": events,
            })
            .to_string()
        }
    };
    slot.fill(&state.cache, t, body, "}").await
}

type Window = Option<(DateTime<Utc>, DateTime<Utc>, Option<Tz>)>;

/// `from`, `to` and `tz` of a window query (None: a plain list).
fn window_params(q: &RawQuery) -> Result<Window, ApiError> {
    let get = |k: &str| {
        q.0.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let (from, to, tz) = (get("from"), get("to"), get("tz"));
    if from.is_none() && to.is_none() {
        return Ok(None);
    }
    let mut errors = FieldErrors::new();
    let tz = match tz.filter(|z| !z.is_empty()) {
        None => None,
        Some(z) => match dto::parse_tz(&z) {
            Ok(tz) => Some(tz),
            Err(m) => {
                errors.add("tz", m);
                None
            }
        },
    };
    let mut at = |key: &str, raw: Option<String>| -> Option<DateTime<Utc>> {
        let Some(raw) = raw else {
            errors.add(key, "This parameter is required with from/to.");
            return None;
        };
        match dto::parse_when(&Value::String(raw)) {
            Ok(When::At(t)) => Some(t),
            Ok(When::Day(d)) => Some(day_start(tz.unwrap_or(Tz::UTC), d)),
            Err(m) => {
                errors.add(key, m);
                None
            }
        }
    };
    let (from, to) = (at("from", from), at("to", to));
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            errors.add("to", "The window must end after it starts.");
        } else if t - f > Duration::days(MAX_WINDOW_DAYS) {
            errors.add(
                "to",
                format!("The window may span at most {MAX_WINDOW_DAYS} days."),
            );
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    Ok(Some((from.unwrap_or_default(), to.unwrap_or_default(), tz)))
}

fn day_start(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    recur::resolve(tz, d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

#[derive(Deserialize)]
struct Candidate {
    obj: Map<String, Value>,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    timezone: String,
    rrule: Option<String>,
    exceptions: Option<Vec<Exception>>,
}

#[derive(Deserialize)]
struct Exception {
    occurrence: DateTime<Utc>,
    cancelled: bool,
    name: Option<String>,
    status: Option<String>,
    start_at: Option<DateTime<Utc>>,
    end_at: Option<DateTime<Utc>>,
    location: Option<String>,
    description: Option<String>,
}

fn utc_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One item per occurrence overlapping `[from, to)`, by start.
fn expand(
    rows: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    shown: Option<Tz>,
) -> Result<Vec<Value>, ApiError> {
    let cands: Vec<Candidate> = serde_json::from_str(rows).map_err(ApiError::internal)?;
    let mut out: Vec<(DateTime<Utc>, Value)> = Vec::new();
    for mut c in cands {
        // Occurrences name the event's members, teams and contacts by id: a daily series of a
        // 1,000-member org would otherwise repeat 1,000 profile objects in each of its items.
        for key in ["assigned_to", "teams", "contacts"] {
            if let Some(Value::Array(items)) = c.obj.get_mut(key) {
                for item in items.iter_mut() {
                    *item = item["id"].clone();
                }
            }
        }
        let tz: Tz = c.timezone.parse().unwrap_or(Tz::UTC);
        let show = shown.unwrap_or(tz);
        let times = Times {
            start: c.start_at,
            end: c.end_at,
            tz,
            all_day: false,
            rule: None,
        };
        let len = times.len();
        let occs: Vec<DateTime<Utc>> = match c.rrule.as_deref().map(Rule::parse) {
            None => vec![c.start_at],
            Some(Ok(rule)) => rule.between(
                recur::local(tz, c.start_at),
                len,
                tz,
                from,
                to,
                MAX_OCCURRENCES,
            ),
            Some(Err(_)) => vec![c.start_at],
        };
        let excs: HashMap<DateTime<Utc>, &Exception> = c
            .exceptions
            .iter()
            .flatten()
            .map(|x| (x.occurrence, x))
            .collect();
        let recurring = c.rrule.is_some();
        let mut item = |occ: DateTime<Utc>, x: Option<&Exception>| {
            let occ_end = recur::resolve(tz, recur::local(tz, occ) + len);
            let (s, e) = match x {
                Some(x) => (x.start_at.unwrap_or(occ), x.end_at.unwrap_or(occ_end)),
                None => (occ, occ_end),
            };
            if x.is_some_and(|x| x.cancelled) || s >= to || e <= from {
                return;
            }
            let mut obj = c.obj.clone();
            obj.insert("start".into(), json!(recur::rfc3339(show, s)));
            obj.insert("end".into(), json!(recur::rfc3339(show, e)));
            obj.insert("occurrence".into(), json!(utc_text(occ)));
            obj.insert("modified".into(), json!(x.is_some()));
            if let Some(x) = x {
                for (k, v) in [
                    ("name", &x.name),
                    ("status", &x.status),
                    ("location", &x.location),
                    ("description", &x.description),
                ] {
                    if let Some(v) = v {
                        obj.insert(k.into(), json!(v));
                    }
                }
            }
            out.push((s, Value::Object(obj)));
        };
        let seen: HashSet<DateTime<Utc>> = occs.iter().copied().collect();
        for occ in occs {
            item(occ, excs.get(&occ).copied());
        }
        if recurring {
            // Occurrences moved into the window from outside it.
            for x in excs.values().filter(|x| !seen.contains(&x.occurrence)) {
                if x.start_at.is_some() || x.end_at.is_some() {
                    item(x.occurrence, Some(x));
                }
            }
        }
        if out.len() > MAX_OCCURRENCES {
            break;
        }
    }
    out.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1["id"].as_str().cmp(&b.1["id"].as_str()))
    });
    out.truncate(MAX_OCCURRENCES);
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// The detail JSON (404 outside the org, 403 when the caller may not see it).
async fn detail_body(state: &AppState, t: &mut Tenant, id: Uuid) -> Result<Value, ApiError> {
    let v = Viewer::of(t);
    let current = model::current(&mut t.tx, &v, id, true)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (true, Some(detail)) = (current.visible, current.detail) else {
        return Err(no_permission());
    };
    let mut body: Value = serde_json::from_str(&detail).map_err(ApiError::internal)?;
    let (comments, attachments) =
        comments::comments_and_attachments(state, &mut t.tx, t.org_id, &EVENTS, id).await?;
    body["comments"] = json!(comments);
    body["attachments"] = json!(attachments);
    Ok(body)
}

#[utoipa::path(get, path = "/api/events/{id}/", tag = "events", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::EventDetailResponse), (status = 403), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let body = detail_body(&state, &mut t, id).await?;
    t.commit().await?;
    Ok(Json(body))
}

/// The detail form: `POST /api/events/<id>/` with a `comment` and/or an `event_attachment` file;
/// answers with the detail, like GET.
#[utoipa::path(post, path = "/api/events/{id}/", tag = "events", params(("id" = Uuid, Path)),
    security(("jwt" = []), ("api_key" = [])),
    request_body(content_type = "multipart/form-data", content = dto::EventDetailForm, description = "`comment` and/or an `event_attachment` file"),
    responses((status = 200, body = dto::EventDetailResponse), (status = 400), (status = 404), (status = 413)))]
pub async fn detail_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: FormData,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let mut t = form.tenant(&state).await?;
    comments::detail_post(&state, &mut t, &EVENTS, id, form).await?;
    let body = detail_body(&state, &mut t, id).await?;
    t.commit().await?;
    Ok(Json(body))
}

/// Checks the relation ids against the org (another org's id is a 400 on its field).
async fn check(
    tx: &mut Tx,
    org: Uuid,
    input: &mut EventInput,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let one = |col: &str| -> Option<Vec<Uuid>> {
        input
            .links
            .iter()
            .find(|(c, _)| *c == col)
            .and_then(|(_, id)| id.map(|i| vec![i]))
    };
    let (mut lead, mut account, mut opp, mut case) = (
        one("lead_id"),
        one("account_id"),
        one("opportunity_id"),
        one("case_id"),
    );
    let mut rels = [
        Rel::new("assigned_to", Kind::Profile, &mut input.assigned_to),
        Rel::new("teams", Kind::Team, &mut input.teams),
        Rel::new("contacts", Kind::Contact, &mut input.contacts),
        Rel::new("lead", Kind::Lead, &mut lead),
        Rel::new("account", Kind::Account, &mut account),
        Rel::new("opportunity", Kind::Opportunity, &mut opp),
        Rel::new("case", Kind::Case, &mut case),
    ];
    relations::check(tx, org, &mut rels, None, errors).await
}

/// The body's columns with its links.
fn columns(input: &EventInput) -> Vec<(&'static str, Val)> {
    let mut cols = input.fields.clone();
    for (col, id) in &input.links {
        cols.push((col, Val::Uuid(*id)));
    }
    cols
}

/// Writes the relations, records the activity and queues the assignment e-mails.
async fn apply(
    t: &mut Tenant,
    id: Uuid,
    input: &EventInput,
    name: &str,
    action: Action,
) -> Result<(), ApiError> {
    let assigned = model::sync_relations(
        &mut t.tx,
        id,
        t.profile_id,
        input.assigned_to.as_deref(),
        input.teams.as_deref(),
        input.contacts.as_deref(),
    )
    .await?;
    activity::record(t, action, "Event", id, name).await?;
    let by = t.email.clone();
    relations::notify_assigned(
        &mut t.tx,
        t.org_id,
        assigned,
        "Event",
        &EVENTS.page_path(id),
        name,
        &by,
    )
    .await
}

/// Any member may create.
#[utoipa::path(post, path = "/api/events/", tag = "events", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::EventBody,
    responses((status = 200, body = dto::EventCreated),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`")))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, true, &mut errors);
    let times = dto::merge_times(&input, None, &mut errors);
    check(&mut t.tx, t.org_id, &mut input, &mut errors).await?;
    let Some(times) = times.filter(|_| errors.is_empty()) else {
        return Err(invalid(errors));
    };
    let id = Uuid::new_v4();
    let name = model::save(
        &mut t.tx,
        t.org_id,
        t.user_id,
        id,
        true,
        &columns(&input),
        &times,
        None,
    )
    .await?;
    apply(&mut t, id, &input, &name, Action::Create).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Event Created Successfully", "id": id}),
    ))
}

fn current_times(c: &model::Current) -> Times {
    let tz: Tz = c.timezone.parse().unwrap_or(Tz::UTC);
    Times {
        start: c.start,
        end: c.end,
        tz,
        all_day: c.all_day,
        rule: c.rrule.as_deref().and_then(|r| Rule::parse(r).ok()),
    }
}

/// Loads an event for a write: 404 outside the org, 403 unless the caller may edit it.
pub async fn editable_event(t: &mut Tenant, id: Uuid) -> Result<model::Current, ApiError> {
    editable(t, id).await
}

async fn editable(t: &mut Tenant, id: Uuid) -> Result<model::Current, ApiError> {
    let v = Viewer::of(t);
    let current = model::current(&mut t.tx, &v, id, false)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !current.editable {
        return Err(no_permission());
    }
    Ok(current)
}

/// PUT and PATCH: admin, creator, assignee (directly or through a team). PUT requires `name`,
/// `start` and `end` and replaces every relation list; PATCH only what it names. Changing a
/// series' start, time zone or rule drops its per-occurrence changes.
async fn write(
    mut t: Tenant,
    raw_id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let id = parse_id(raw_id)?;
    let current = editable(&mut t, id).await?;
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, !partial, &mut errors);
    if !partial {
        for list in [
            &mut input.assigned_to,
            &mut input.teams,
            &mut input.contacts,
        ] {
            list.get_or_insert_with(Vec::new);
        }
        for (_, col) in dto::LINKS {
            if !input.links.iter().any(|(c, _)| c == col) {
                input.links.push((col, None));
            }
        }
    }
    let before = current_times(&current);
    let times = dto::merge_times(&input, Some(&before), &mut errors);
    check(&mut t.tx, t.org_id, &mut input, &mut errors).await?;
    let Some(times) = times.filter(|_| errors.is_empty()) else {
        return Err(invalid(errors));
    };
    if times.start != before.start
        || times.tz != before.tz
        || times.rrule_text() != before.rrule_text()
    {
        sqlx::query("DELETE FROM event_exception WHERE event_id = $1")
            .bind(id)
            .execute(&mut *t.tx)
            .await?;
    }
    let name = model::save(
        &mut t.tx,
        t.org_id,
        t.user_id,
        id,
        false,
        &columns(&input),
        &times,
        None,
    )
    .await?;
    apply(&mut t, id, &input, &name, Action::Update).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Event Updated Successfully"}),
    ))
}

#[utoipa::path(put, path = "/api/events/{id}/", tag = "events", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::EventBody,
    responses((status = 200, body = dto::EventMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, false).await
}

#[utoipa::path(patch, path = "/api/events/{id}/", tag = "events", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::EventBody, description = "Any of these"),
    responses((status = 200, body = dto::EventMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, true).await
}

async fn delete_event(
    state: &AppState,
    t: &mut Tenant,
    id: Uuid,
    current: &model::Current,
) -> Result<(), ApiError> {
    if !(t.is_admin() || current.created_by == Some(t.user_id)) {
        return Err(envelope(
            StatusCode::FORBIDDEN,
            json!("You don't have permission to perform this action."),
        ));
    }
    let files = comments::delete_all_for(&mut t.tx, t.org_id, &EVENTS, id).await?;
    let name = model::delete(&mut t.tx, t.org_id, id).await?;
    activity::record(t, Action::Delete, "Event", id, &name).await?;
    for key in &files {
        state.storage.delete(key).await;
    }
    Ok(())
}

/// Admins, or the event's creator: the whole series with its comments, attachments, exceptions
/// and invitees.
#[utoipa::path(delete, path = "/api/events/{id}/", tag = "events", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::EventMessage), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let v = Viewer::of(&t);
    let current = model::current(&mut t.tx, &v, id, false)
        .await?
        .ok_or_else(ApiError::not_found)?;
    delete_event(&state, &mut t, id, &current).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Event Deleted Successfully"}),
    ))
}

// ---- Single occurrences and "this and following" ----

/// The occurrence in a path: RFC 3339 (`2026-03-29T07:00:00Z`) or iCalendar UTC
/// (`20260329T070000Z`).
fn parse_occurrence(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(raw.trim().trim_end_matches('Z'), "%Y%m%dT%H%M%S")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// The series and the occurrence a request names: 404 when the event is not in the org or the
/// time is not one of its occurrences, 400 when it does not recur.
async fn occurrence_of(
    t: &mut Tenant,
    raw_id: &str,
    raw_occ: &str,
) -> Result<(Uuid, model::Current, Times, Rule, DateTime<Utc>, u32), ApiError> {
    let id = parse_id(raw_id)?;
    let current = editable(t, id).await?;
    let times = current_times(&current);
    let Some(rule) = times.rule.clone() else {
        return Err(ApiError::bad_request(
            "This event does not recur: edit the event itself.",
        ));
    };
    let occ = parse_occurrence(raw_occ).ok_or_else(ApiError::not_found)?;
    let pos = rule
        .position(recur::local(times.tz, times.start), times.tz, occ)
        .ok_or_else(ApiError::not_found)?;
    Ok((id, current, times, rule, occ, pos))
}

fn scope_of(v: Option<&str>) -> Result<bool, ApiError> {
    match v.map(str::trim) {
        None | Some("") | Some("this") => Ok(false),
        Some("following") => Ok(true),
        Some(_) => Err(ApiError::field(
            "scope",
            "Choose \"this\" or \"following\".",
        )),
    }
}

const OCC_FIELDS: &[(&str, fields::Kind)] = &[
    ("name", fields::Kind::Required(255)),
    ("location", fields::Kind::Text(255)),
    ("description", fields::Kind::Text(usize::MAX)),
];

/// Changes one occurrence (`scope` `this`, the default: an exception of the series) or this and
/// the following ones (`following`: the series ends before it and a new series, split from it,
/// starts there with the changes; its COUNT is what was left). `start`/`end` move the
/// occurrence(s); a start alone keeps the length.
#[utoipa::path(patch, path = "/api/events/{id}/occurrences/{occurrence}/", tag = "events",
    security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path), ("occurrence" = String, Path, description = "the occurrence's original start, RFC 3339 (or 20260329T070000Z)")),
    request_body = dto::OccurrenceBody,
    responses((status = 200, body = dto::EventCreated, description = "`id`: the series now holding the occurrence"),
              (status = 400), (status = 403), (status = 404)))]
pub async fn occurrence_patch(
    mut t: Tenant,
    Path((raw_id, raw_occ)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let following = scope_of(body.get("scope").and_then(Value::as_str))?;
    let (id, current, times, rule, occ, pos) = occurrence_of(&mut t, &raw_id, &raw_occ).await?;
    let mut errors = FieldErrors::new();
    let mut cols = fields::validate(&body, OCC_FIELDS, &mut errors);
    let status = match body.get("status") {
        None => None,
        Some(Value::String(s)) if dto::STATUSES.contains(&s.as_str()) => Some(s.clone()),
        Some(v) => {
            errors.add(
                "status",
                format!(
                    "\"{}\" is not a valid choice.",
                    v.as_str().unwrap_or_default()
                ),
            );
            None
        }
    };
    let at = |key: &str, errors: &mut FieldErrors| match body.get(key).map(dto::parse_when) {
        None => None,
        Some(Ok(When::At(t))) => Some(t),
        Some(Ok(When::Day(_))) => {
            errors.add(key, "Enter a date-time in RFC 3339 with an offset.");
            None
        }
        Some(Err(m)) => {
            errors.add(key, m);
            None
        }
    };
    let (start, end) = (at("start", &mut errors), at("end", &mut errors));
    let occ_end = recur::resolve(times.tz, recur::local(times.tz, occ) + times.len());
    let new_start = start.unwrap_or(occ);
    let new_end = end.unwrap_or(new_start + (occ_end - occ));
    if new_end <= new_start {
        errors.add("end", "End must be after start.");
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    if following && pos > 0 {
        // The old series ends before this occurrence; a new one starts here.
        let mut old = times.clone();
        old.rule = Some(rule.ending_before(occ));
        let new_id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO event (created_at, updated_at, id, org_id, created_by_id, updated_by_id, name, event_type, status,
                                start_at, end_at, all_day, timezone, rrule, last_end_at, location, description,
                                lead_id, account_id, opportunity_id, case_id, series_id)
             SELECT now(), now(), $2, org_id, $3, $3, name, event_type, status, start_at, end_at, all_day, timezone,
                    rrule, last_end_at, location, description, lead_id, account_id, opportunity_id, case_id, id
             FROM event WHERE id = $1",
        )
        .bind(id)
        .bind(new_id)
        .bind(t.user_id)
        .execute(&mut *t.tx)
        .await?;
        model::copy_links(&mut t.tx, id, new_id).await?;
        let remaining = rule.count.map(|c| c.saturating_sub(pos));
        let new_times = Times {
            start: new_start,
            end: new_end,
            tz: times.tz,
            all_day: times.all_day,
            rule: Some(rule.with_count(remaining)),
        };
        let mut check_errors = FieldErrors::new();
        let new_input = EventInput::default();
        if dto::merge_times(&new_input, Some(&new_times), &mut check_errors).is_none() {
            return Err(invalid(check_errors));
        }
        // Later exceptions follow the occurrences they change when the times stay; otherwise
        // they no longer name occurrences and go.
        let moved = if new_start == occ {
            "UPDATE event_exception SET event_id = $3 WHERE event_id = $1 AND occurrence >= $2"
        } else {
            "DELETE FROM event_exception WHERE event_id = $1 AND occurrence >= $2 AND $3::uuid IS NOT NULL"
        };
        sqlx::query(moved)
            .bind(id)
            .bind(occ)
            .bind(new_id)
            .execute(&mut *t.tx)
            .await?;
        model::save(&mut t.tx, t.org_id, t.user_id, id, false, &[], &old, None).await?;
        if let Some(s) = status {
            cols.push(("status", Val::Text(Some(s))));
        }
        let name = model::save(
            &mut t.tx,
            t.org_id,
            t.user_id,
            new_id,
            false,
            &cols,
            &new_times,
            Some(id),
        )
        .await?;
        activity::record(&mut t, Action::Create, "Event", new_id, &name).await?;
        t.commit().await?;
        return Ok(Json(
            json!({"error": false, "message": "Event Updated Successfully", "id": new_id}),
        ));
    }
    if following {
        // From the first occurrence on: the whole series.
        let mut patch = body.clone();
        patch.remove("scope");
        return write(t, &raw_id, patch, true).await.map(|Json(mut v)| {
            v["id"] = json!(id);
            Json(v)
        });
    }
    if new_start < times.start || times.last_end().is_some_and(|l| new_end > l) {
        return Err(ApiError::field(
            "start",
            "An occurrence cannot move before the series' first occurrence or after its last.",
        ));
    }
    let text = |k: &str| fields::text(&cols, k).map(str::to_string);
    let moved = start.is_some() || end.is_some();
    sqlx::query(
        "INSERT INTO event_exception (id, org_id, event_id, occurrence, cancelled, name, status, start_at, end_at,
                                      location, description)
         VALUES ($1, $2, $3, $4, false, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (event_id, occurrence) DO UPDATE SET cancelled = false,
             name = coalesce($5, event_exception.name), status = coalesce($6, event_exception.status),
             start_at = coalesce($7, event_exception.start_at), end_at = coalesce($8, event_exception.end_at),
             location = coalesce($9, event_exception.location), description = coalesce($10, event_exception.description),
             updated_at = now()",
    )
    .bind(Uuid::new_v4())
    .bind(t.org_id)
    .bind(id)
    .bind(occ)
    .bind(text("name"))
    .bind(status)
    .bind(moved.then_some(new_start))
    .bind(moved.then_some(new_end))
    .bind(text("location"))
    .bind(text("description"))
    .execute(&mut *t.tx)
    .await?;
    activity::record(&mut t, Action::Update, "Event", id, &current.name).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Event Updated Successfully", "id": id}),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ScopeQuery {
    /// `this` (default) or `following`.
    pub scope: Option<String>,
}

/// Cancels one occurrence (`scope=this`, the default) or this and the following ones
/// (`scope=following`: the series ends before it; from its first occurrence, the event goes,
/// which only an admin or its creator may do).
#[utoipa::path(delete, path = "/api/events/{id}/occurrences/{occurrence}/", tag = "events",
    security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path), ("occurrence" = String, Path), ScopeQuery),
    responses((status = 200, body = dto::EventMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn occurrence_delete(
    State(state): State<AppState>,
    mut t: Tenant,
    Path((raw_id, raw_occ)): Path<(String, String)>,
    q: RawQuery,
) -> ApiResult<Json<Value>> {
    let scope =
        q.0.iter()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.as_str());
    let following = scope_of(scope)?;
    let (id, current, times, rule, occ, pos) = occurrence_of(&mut t, &raw_id, &raw_occ).await?;
    if following && pos == 0 {
        delete_event(&state, &mut t, id, &current).await?;
    } else if following {
        let mut old = times.clone();
        old.rule = Some(rule.ending_before(occ));
        sqlx::query("DELETE FROM event_exception WHERE event_id = $1 AND occurrence >= $2")
            .bind(id)
            .bind(occ)
            .execute(&mut *t.tx)
            .await?;
        model::save(&mut t.tx, t.org_id, t.user_id, id, false, &[], &old, None).await?;
        activity::record(&mut t, Action::Update, "Event", id, &current.name).await?;
    } else {
        sqlx::query(
            "INSERT INTO event_exception (id, org_id, event_id, occurrence, cancelled) VALUES ($1, $2, $3, $4, true)
             ON CONFLICT (event_id, occurrence) DO UPDATE SET cancelled = true, updated_at = now()",
        )
        .bind(Uuid::new_v4())
        .bind(t.org_id)
        .bind(id)
        .bind(occ)
        .execute(&mut *t.tx)
        .await?;
        activity::record(&mut t, Action::Update, "Event", id, &current.name).await?;
    }
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Occurrence cancelled"}),
    ))
}
