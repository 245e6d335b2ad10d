//! Request validation (upstream's `TaskCreateSerializer` and `Task.clean`, with their 500s turned
//! into field errors) and the response shapes, declared for the OpenAPI document.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::sql::Val;
use crate::error::FieldErrors;
use crate::http::fields::{self, Kind, fk, id_list};

pub const STATUSES: &[(&str, &str)] = &[
    ("New", "New"),
    ("In Progress", "In Progress"),
    ("Completed", "Completed"),
];
pub const PRIORITIES: &[(&str, &str)] = &[("Low", "Low"), ("Medium", "Medium"), ("High", "High")];

fn is_status(v: &str) -> bool {
    STATUSES.iter().any(|(s, _)| *s == v)
}

fn is_priority(v: &str) -> bool {
    PRIORITIES.iter().any(|(p, _)| *p == v)
}

/// Writable columns in serializer order (the parents are read apart: ids checked in the org).
const FIELDS: &[(&str, Kind)] = &[
    ("title", Kind::Required(200)),
    ("status", Kind::Choice(is_status)),
    ("priority", Kind::Choice(is_priority)),
    ("due_date", Kind::Date),
    ("description", Kind::Text(usize::MAX)),
];

/// The four parent fields, their columns, and how they are named in the one-parent message.
pub const PARENTS: [(&str, &str, &str); 4] = [
    ("account", "account_id", "Account"),
    ("opportunity", "opportunity_id", "Opportunity"),
    ("case", "case_id", "Case"),
    ("lead", "lead_id", "Lead"),
];

/// A validated task body: the columns to write, the parents present in it (`Some(None)` clears
/// one) and the relation lists present in it.
#[derive(Debug, Default)]
pub struct TaskInput {
    pub fields: Vec<(&'static str, Val)>,
    /// account, opportunity, case, lead (as `PARENTS`).
    pub parents: [Option<Option<Uuid>>; 4],
    pub assigned_to: Option<Vec<Uuid>>,
    pub contacts: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
}

impl TaskInput {
    pub fn title(&self) -> Option<&str> {
        fields::text(&self.fields, "title")
    }

    /// PUT replaces every relation list: an absent one is emptied.
    pub fn replace_all_lists(&mut self) {
        for list in [
            &mut self.assigned_to,
            &mut self.contacts,
            &mut self.teams,
            &mut self.tags,
        ] {
            list.get_or_insert_with(Vec::new);
        }
    }

    /// The columns to write: the body's fields plus the parents it names.
    pub fn columns(&self) -> Vec<(&'static str, Val)> {
        let mut cols = self.fields.clone();
        for ((_, col, _), p) in PARENTS.iter().zip(self.parents) {
            if let Some(p) = p {
                cols.push((col, Val::Uuid(p)));
            }
        }
        cols
    }

    /// Upstream's `Task.clean`: at most one parent among account, opportunity, case and lead,
    /// counting the stored ones (`current`) the body leaves as they are. An error on the first
    /// parent set (upstream: checked on the body only, then a 500 from the model on save).
    pub fn check_one_parent(&self, current: [Option<Uuid>; 4], errors: &mut FieldErrors) {
        let set: Vec<usize> = (0..4)
            .filter(|&i| self.parents[i].unwrap_or(current[i]).is_some())
            .collect();
        if set.len() > 1 {
            let names: Vec<&str> = set.iter().map(|&i| PARENTS[i].0).collect();
            errors.add(
                PARENTS[set[0]].0,
                format!(
                    "A task can only be linked to one parent entity (Account, Opportunity, Case, or Lead). Currently set: {}",
                    names.join(", ")
                ),
            );
        }
    }
}

/// Validates a POST/PUT/PATCH body. `required`: title, status and priority must be there (POST
/// and PUT). Unknown keys (`org`, `created_by`...) are ignored; `created_by` is not writable.
pub fn validate(body: &Map<String, Value>, required: bool, errors: &mut FieldErrors) -> TaskInput {
    let fields = fields::validate(body, FIELDS, errors);
    for name in ["title", "status", "priority"] {
        match fields.iter().find(|(c, _)| *c == name) {
            Some((_, Val::Text(None))) => errors.add(name, "This field may not be null."),
            Some((_, Val::Text(Some(s)))) if s.is_empty() && name != "title" => {
                errors.add(name, "\"\" is not a valid choice.")
            }
            None if required && !errors.has(name) => errors.add(name, "This field is required."),
            _ => {}
        }
    }
    TaskInput {
        fields,
        parents: PARENTS.map(|(key, _, _)| fk(body, key, errors)),
        assigned_to: id_list(body, "assigned_to", errors),
        contacts: id_list(body, "contacts", errors),
        teams: id_list(body, "teams", errors),
        tags: id_list(body, "tags", errors),
    }
}

// ---- Response shapes (documentation; handlers render them from SQL) ----

#[derive(Serialize, ToSchema)]
pub struct TaskMessage {
    pub error: bool,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct TaskCreated {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
}

/// `{id, name}` of a task's parent record.
#[derive(Serialize, ToSchema)]
pub struct TaskParent {
    pub id: Uuid,
    pub name: Option<String>,
}

/// TaskObj: upstream's TaskSerializer keys, with the parents as `{id, name}` (the frontend reads
/// an object or a bare id) plus `updated_at`.
#[derive(Serialize, ToSchema)]
pub struct TaskObj {
    pub id: Uuid,
    pub title: String,
    /// New, In Progress, Completed
    pub status: String,
    /// Low, Medium, High
    pub priority: String,
    /// `YYYY-MM-DD`
    pub due_date: Option<String>,
    pub description: Option<String>,
    pub account: Option<TaskParent>,
    pub opportunity: Option<TaskParent>,
    pub case: Option<TaskParent>,
    pub lead: Option<TaskParent>,
    /// UserMini `{id, email, profile_pic}` or null.
    pub created_by: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
    /// `[ContactObj]`
    pub contacts: Vec<Value>,
    /// `[TeamObj]`
    pub teams: Vec<Value>,
    /// `[ProfileObj]`
    pub assigned_to: Vec<Value>,
    /// `[TagObj]`
    pub tags: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskListResponse {
    pub tasks_count: i64,
    /// The next page's offset; null on the last page, 0 when the page is empty.
    pub offset: Option<i64>,
    pub per_page: i64,
    /// One-element array `[page]`, as the other lists.
    pub page_number: Vec<i64>,
    pub tasks: Vec<TaskObj>,
    /// `[{id, name}]` of the active accounts the caller may see (newest 1,000).
    pub accounts_list: Vec<Value>,
    /// `[{id, first_name, last_name, email}]` of the contacts the caller may see (newest 1,000).
    pub contacts_list: Vec<Value>,
    /// `[[value, label]]`
    pub status: Vec<Value>,
    pub priority: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskDetailResponse {
    pub task_obj: TaskObj,
    /// `[CommentObj]`
    pub comments: Vec<Value>,
    /// `[AttachmentObj]`
    pub attachments: Vec<Value>,
    /// `[{user__email}]`: admins, every active member; others, the assignees.
    pub users_mention: Vec<Value>,
    /// `[{id: profile id, user__email}]` of the assignees.
    pub assigned_data: Vec<Value>,
    /// `[ProfileObj]`: admins, every active member; others, the org's admins.
    pub users: Vec<Value>,
    /// `users` minus the members of the task's teams.
    pub users_excluding_team: Vec<Value>,
    /// `[{id, name}]` of the org's teams.
    pub teams: Vec<Value>,
    pub status: Vec<Value>,
    pub priority: Vec<Value>,
}

// ---- Request shapes (documentation: handlers validate the raw JSON for DRF-style errors) ----

/// Body of `POST /api/tasks/`, `PUT` and `PATCH /api/tasks/<id>/` (all optional in PATCH;
/// `title`, `status` and `priority` required otherwise). Unknown keys are ignored. At most one
/// of `account`, `opportunity`, `case`, `lead` may be set.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct TaskBody {
    pub title: Option<String>,
    /// New, In Progress, Completed
    pub status: Option<String>,
    /// Low, Medium, High
    pub priority: Option<String>,
    /// `YYYY-MM-DD`, or null.
    pub due_date: Option<String>,
    pub description: Option<String>,
    /// An account id of the org, or null.
    pub account: Option<Uuid>,
    pub opportunity: Option<Uuid>,
    pub case: Option<Uuid>,
    pub lead: Option<Uuid>,
    /// Profile ids (a member's user id is accepted too).
    pub assigned_to: Option<Vec<Uuid>>,
    pub contacts: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
}

/// Multipart body of `POST /api/tasks/<id>/`: a comment and/or a file.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct TaskDetailForm {
    pub comment: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    pub task_attachment: Option<String>,
}
