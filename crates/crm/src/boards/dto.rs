//! Request validation for boards, columns, cards and members (upstream's serializers, with its
//! 500s turned into field errors and the keys the frontend leaves out taken from the URL and the
//! caller), and the response shapes, declared for the OpenAPI document.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::sql::Val;
use crate::error::FieldErrors;
use crate::http::fields::{self, Kind, fk, id_list};

use super::model::Role;

const BOARD_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Required(255)),
    ("description", Kind::Text(usize::MAX)),
    ("is_archived", Kind::Bool),
];

const COLUMN_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Required(100)),
    ("limit", Kind::Int(0, i32::MAX as i64)),
];

const CARD_FIELDS: &[(&str, Kind)] = &[
    ("title", Kind::Required(255)),
    ("description", Kind::Text(usize::MAX)),
];

pub const PRIORITIES: &[&str] = &["low", "medium", "high", "urgent"];

/// `name` required (create) and present or absent otherwise.
fn require(fields: &[(&'static str, Val)], name: &str, required: bool, errors: &mut FieldErrors) {
    if required && !errors.has(name) && !fields.iter().any(|(c, _)| *c == name) {
        errors.add(name, "This field is required.");
    }
}

/// A position: an integer >= 0 (`null` or absent: none asked for).
fn position(body: &Map<String, Value>, errors: &mut FieldErrors) -> Option<i32> {
    let mut e = FieldErrors::new();
    let v = fields::validate(body, &[("order", Kind::Int(0, i32::MAX as i64))], &mut e);
    if let Some(msgs) = e.0.remove("order") {
        for m in msgs {
            errors.add("order", m);
        }
    }
    match v.first() {
        Some((_, Val::Int(n))) => *n,
        _ => None,
    }
}

/// A validated board body.
#[derive(Debug, Default)]
pub struct BoardInput {
    pub fields: Vec<(&'static str, Val)>,
    /// Create the three default columns (create only; default true).
    pub default_columns: bool,
}

pub fn board(body: &Map<String, Value>, required: bool, errors: &mut FieldErrors) -> BoardInput {
    let fields = fields::validate(body, BOARD_FIELDS, errors);
    require(&fields, "name", required, errors);
    // Upstream counted any value but JSON `false` as true (the form string "false" too).
    let default_columns =
        match fields::validate(body, &[("create_default_columns", Kind::Bool)], errors).first() {
            Some((_, Val::Bool(b))) => *b,
            _ => true,
        };
    BoardInput {
        fields,
        default_columns,
    }
}

/// A validated column body.
#[derive(Debug, Default)]
pub struct ColumnInput {
    pub fields: Vec<(&'static str, Val)>,
    pub order: Option<i32>,
}

impl ColumnInput {
    pub fn name(&self) -> Option<&str> {
        fields::text(&self.fields, "name")
    }
}

/// `#rgb` or `#rrggbb` (the frontend's `<input type=color>` sends lowercase `#rrggbb`).
fn is_color(s: &str) -> bool {
    s.strip_prefix('#')
        .is_some_and(|h| matches!(h.len(), 3 | 6) && h.chars().all(|c| c.is_ascii_hexdigit()))
}

pub fn column(body: &Map<String, Value>, required: bool, errors: &mut FieldErrors) -> ColumnInput {
    let mut fields = fields::validate(body, COLUMN_FIELDS, errors);
    require(&fields, "name", required, errors);
    match body.get("color") {
        None => {}
        Some(Value::String(s)) if is_color(s.trim()) => {
            fields.push(("color", Val::Text(Some(s.trim().to_string()))))
        }
        Some(Value::Null) => errors.add("color", "This field may not be null."),
        Some(_) => errors.add(
            "color",
            "Enter a colour as #rrggbb (or #rgb), e.g. \"#6B7280\".",
        ),
    }
    ColumnInput {
        order: position(body, errors),
        fields,
    }
}

/// A validated card body. `column`, `order` and `due_date` are written apart from `fields`.
#[derive(Debug, Default)]
pub struct CardInput {
    pub fields: Vec<(&'static str, Val)>,
    pub column: Option<Uuid>,
    pub order: Option<i32>,
    /// `Some(None)` clears it.
    pub due_date: Option<Option<DateTime<Utc>>>,
    pub account: Option<Option<Uuid>>,
    pub contact: Option<Option<Uuid>>,
    pub opportunity: Option<Option<Uuid>>,
    pub assigned_to: Option<Vec<Uuid>>,
    /// Sets (`true`) or clears `completed_at`.
    pub completed: Option<bool>,
}

impl CardInput {
    /// The columns `db::sql::update`/`insert` write.
    pub fn columns(&self) -> Vec<(&'static str, Val)> {
        let mut cols = self.fields.clone();
        for (col, v) in [
            ("account_id", self.account),
            ("contact_id", self.contact),
            ("opportunity_id", self.opportunity),
        ] {
            if let Some(v) = v {
                cols.push((col, Val::Uuid(v)));
            }
        }
        cols
    }

    pub fn title(&self) -> Option<&str> {
        fields::text(&self.fields, "title")
    }
}

/// An ISO date-time (a bare date is midnight UTC); `null`/`""` clear the date.
fn due_date(raw: &Value) -> Result<Option<DateTime<Utc>>, String> {
    let bad = || {
        "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].".to_string()
    };
    let s = match raw {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim(),
        _ => return Err(bad()),
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|t| Some(t.and_utc()))
    .ok_or_else(bad)
}

pub fn card(body: &Map<String, Value>, required: bool, errors: &mut FieldErrors) -> CardInput {
    let mut fields = fields::validate(body, CARD_FIELDS, errors);
    require(&fields, "title", required, errors);
    match body.get("priority") {
        None => {}
        Some(Value::String(s)) if PRIORITIES.contains(&s.trim().to_lowercase().as_str()) => {
            fields.push(("priority", Val::Text(Some(s.trim().to_lowercase()))))
        }
        Some(Value::Null) => errors.add("priority", "This field may not be null."),
        Some(v) => errors.add(
            "priority",
            format!(
                "\"{}\" is not a valid choice.",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            ),
        ),
    }
    let column = match fk(body, "column", errors) {
        Some(None) => {
            errors.add("column", "This field may not be null.");
            None
        }
        Some(id) => id,
        None => None,
    };
    let due_date = body.get("due_date").and_then(|raw| match due_date(raw) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.add("due_date", e);
            None
        }
    });
    let completed = match fields::validate(body, &[("is_completed", Kind::Bool)], errors).first() {
        Some((_, Val::Bool(b))) => Some(*b),
        _ => None,
    };
    // Upstream's write-only list is `assigned_to_ids`; the read shape's `assigned_to` (profile
    // objects or ids) is accepted too.
    let assigned_to = match id_list(body, "assigned_to_ids", errors) {
        Some(ids) => Some(ids),
        None => id_list(body, "assigned_to", errors),
    };
    CardInput {
        order: position(body, errors),
        column,
        due_date,
        account: fk(body, "account", errors),
        contact: fk(body, "contact", errors),
        opportunity: fk(body, "opportunity", errors),
        assigned_to,
        completed,
        fields,
    }
}

/// A member's role from a body (`owner` is not assignable: a board has one owner).
pub fn member_role(
    body: &Map<String, Value>,
    required: bool,
    errors: &mut FieldErrors,
) -> Option<Role> {
    match body.get("role") {
        None if required => {
            errors.add("role", "This field is required.");
            None
        }
        None => None,
        Some(Value::String(s)) => match Role::parse(&s.trim().to_lowercase()) {
            Some(Role::Owner) => {
                errors.add(
                    "role",
                    "A board has one owner; choose admin, member or viewer.",
                );
                None
            }
            Some(r) => Some(r),
            None => {
                errors.add("role", format!("\"{s}\" is not a valid choice."));
                None
            }
        },
        Some(v) => {
            errors.add("role", format!("\"{v}\" is not a valid choice."));
            None
        }
    }
}

// ---- Response shapes (documentation; handlers render them from SQL) ----

/// BoardListObj.
#[derive(Serialize, ToSchema)]
pub struct BoardListObj {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// ProfileObj of the owner.
    pub owner: Value,
    pub is_archived: bool,
    pub member_count: i64,
    pub column_count: i64,
    pub task_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /api/boards/`: DRF's page envelope with absolute links.
#[derive(Serialize, ToSchema)]
pub struct BoardListResponse {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<BoardListObj>,
}

/// BoardColumnListObj (a column in BoardObj).
#[derive(Serialize, ToSchema)]
pub struct BoardColumnListObj {
    pub id: Uuid,
    pub name: String,
    pub order: i32,
    pub color: String,
    pub limit: Option<i32>,
    pub task_count: i64,
}

/// BoardMemberObj.
#[derive(Serialize, ToSchema)]
pub struct BoardMemberObj {
    pub id: Uuid,
    /// ProfileObj.
    pub profile: Value,
    pub created_at: String,
    pub updated_at: String,
    /// owner, admin, member or viewer.
    pub role: String,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub board: Uuid,
    pub org: Uuid,
}

/// BoardObj: the board with its columns (and card counts) and members.
#[derive(Serialize, ToSchema)]
pub struct BoardObj {
    pub id: Uuid,
    /// ProfileObj of the owner.
    pub owner: Value,
    pub columns: Vec<BoardColumnListObj>,
    pub members: Vec<BoardMemberObj>,
    pub member_count: i64,
    pub task_count: i64,
    pub created_at: String,
    pub updated_at: String,
    pub name: String,
    pub description: Option<String>,
    pub is_archived: bool,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub org: Uuid,
}

/// BoardTaskObj: a card.
#[derive(Serialize, ToSchema)]
pub struct BoardTaskObj {
    pub id: Uuid,
    /// `[ProfileObj]`
    pub assigned_to: Vec<Value>,
    pub is_completed: bool,
    /// A due date in the past on a card not completed.
    pub is_overdue: bool,
    pub created_at: String,
    pub updated_at: String,
    pub title: String,
    pub description: Option<String>,
    /// Position in its column, 0..n-1.
    pub order: i32,
    /// low, medium, high or urgent.
    pub priority: String,
    pub due_date: Option<String>,
    pub completed_at: Option<String>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub column: Uuid,
    pub account: Option<Uuid>,
    pub contact: Option<Uuid>,
    pub opportunity: Option<Uuid>,
    pub org: Uuid,
}

/// BoardColumnObj: a column with its cards, by position.
#[derive(Serialize, ToSchema)]
pub struct BoardColumnObj {
    pub id: Uuid,
    pub tasks: Vec<BoardTaskObj>,
    pub task_count: i64,
    pub created_at: String,
    pub updated_at: String,
    pub name: String,
    /// Position on the board, 0..n-1.
    pub order: i32,
    pub color: String,
    /// WIP limit: at most this many cards (null: no limit).
    pub limit: Option<i32>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub board: Uuid,
    pub org: Uuid,
}

// ---- Request shapes (documentation: handlers validate the raw JSON for DRF-style errors) ----

/// Body of `POST /api/boards/` (`name` required) and `PUT`/`PATCH /api/boards/<id>/` (all
/// optional).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct BoardBody {
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_archived: Option<bool>,
    /// Create only: add the To Do / In Progress / Done columns (default true).
    pub create_default_columns: Option<bool>,
}

/// Body of `POST /api/boards/<id>/columns/` (`name` required; `org` is ignored: the caller's)
/// and `PUT`/`PATCH /api/boards/columns/<id>/` (all optional; `order` moves the column).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct ColumnBody {
    pub name: Option<String>,
    /// `#rrggbb` or `#rgb` (default `#6B7280`).
    pub color: Option<String>,
    /// Position on the board; absent on create: after the last column.
    pub order: Option<i32>,
    /// WIP limit (>= 0) or null.
    pub limit: Option<i32>,
}

/// Body of `POST /api/boards/columns/<id>/tasks/` (`title` required; `column` and `org` are
/// taken from the URL and the caller) and `PUT`/`PATCH /api/boards/tasks/<id>/` (all optional;
/// `column` and/or `order` move the card).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct CardBody {
    pub title: Option<String>,
    pub description: Option<String>,
    /// low, medium, high or urgent (any case).
    pub priority: Option<String>,
    /// ISO date-time or date; null clears it.
    pub due_date: Option<String>,
    /// A column of the same board.
    pub column: Option<Uuid>,
    /// Position in the column; absent on create: at the end.
    pub order: Option<i32>,
    pub account: Option<Uuid>,
    pub contact: Option<Uuid>,
    pub opportunity: Option<Uuid>,
    /// Profile ids of the org (replaces the assignees); `assigned_to` is read too.
    pub assigned_to_ids: Option<Vec<Uuid>>,
    /// Marks the card completed (sets `completed_at`) or open again.
    pub is_completed: Option<bool>,
}

/// Body of `POST /api/boards/<id>/members/`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct MemberBody {
    /// A profile id of the org (a member's user id is accepted too); `profile_id` is read too.
    pub profile: Option<Uuid>,
    /// admin, member (default) or viewer.
    pub role: Option<String>,
}

/// Body of `PUT`/`PATCH /api/boards/<id>/members/<member_id>/`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct MemberRoleBody {
    /// admin, member or viewer.
    pub role: String,
}
