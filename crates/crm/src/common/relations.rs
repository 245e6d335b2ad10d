//! Related ids a write names (assignees, teams, tags, contacts, accounts), checked through the
//! caller's transaction before they are linked: foreign keys ignore RLS, so an id of another org
//! must be refused here (a 400 on its field), not by the database. One round trip for every list
//! of a body, plus an optional per-org uniqueness check.
//!
//! Where a profile id is expected, the BottleCRM frontend sometimes sends a *user* id (for a
//! record with no assignee it re-sends `[<created_by user id>]`): a user id of an active member
//! of the org is taken as that member's profile. Ids of nobody in the org stay a 400.

use sqlx::Row;
use uuid::Uuid;

use crate::db::sql::{Bind, Sql, run};
use crate::db::tenant::Tx;
use crate::error::{ApiError, FieldErrors};
use crate::jobs::{self, Job};

/// What an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A member's profile (or the user id of an active member).
    Profile,
    Team,
    Tag,
    Contact,
    Account,
    Lead,
    Opportunity,
    Case,
}

impl Kind {
    /// The id in the org that `u.x` names, as a scalar subquery.
    fn resolve(self) -> &'static str {
        match self {
            Kind::Profile => {
                "(SELECT p.id FROM profile p WHERE p.org_id = $1 AND (p.id = u.x OR (p.user_id = u.x AND p.is_active))
                  ORDER BY p.id = u.x DESC LIMIT 1)"
            }
            Kind::Team => "(SELECT t.id FROM teams t WHERE t.id = u.x AND t.org_id = $1)",
            Kind::Tag => "(SELECT t.id FROM tags t WHERE t.id = u.x AND t.org_id = $1)",
            Kind::Contact => "(SELECT c.id FROM contacts c WHERE c.id = u.x AND c.org_id = $1)",
            Kind::Account => "(SELECT a.id FROM accounts a WHERE a.id = u.x AND a.org_id = $1)",
            Kind::Lead => "(SELECT l.id FROM lead l WHERE l.id = u.x AND l.org_id = $1)",
            Kind::Opportunity => "(SELECT o.id FROM opportunity o WHERE o.id = u.x AND o.org_id = $1)",
            Kind::Case => "(SELECT c.id FROM \"case\" c WHERE c.id = u.x AND c.org_id = $1)",
        }
    }
}

/// One list of ids from a body (`None`: absent), under its field name. Ids are replaced by what
/// they resolve to (a user id by its profile id), duplicates dropped.
pub struct Rel<'a> {
    pub field: &'static str,
    pub kind: Kind,
    pub ids: &'a mut Option<Vec<Uuid>>,
}

impl<'a> Rel<'a> {
    pub fn new(field: &'static str, kind: Kind, ids: &'a mut Option<Vec<Uuid>>) -> Self {
        Rel { field, kind, ids }
    }
}

/// A value that must be unique in the org (case-insensitively), e.g. a contact's e-mail.
pub struct Unique<'a> {
    pub field: &'static str,
    /// Table and column: `lower(column) = lower(value)` is a clash.
    pub table: &'static str,
    pub column: &'static str,
    pub value: Option<&'a str>,
    /// The record being updated (not a clash with itself).
    pub except: Option<Uuid>,
    pub message: &'static str,
}

/// Resolves every list in one statement; unknown ids become errors on their field
/// (`Invalid pk "<id>" - object does not exist.`, DRF's text), a taken unique value an error on
/// its own field.
pub async fn check(
    tx: &mut Tx,
    org: Uuid,
    rels: &mut [Rel<'_>],
    unique: Option<Unique<'_>>,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let unique = unique.filter(|u| u.value.is_some_and(|v| !v.is_empty()));
    if rels
        .iter()
        .all(|r| r.ids.as_ref().is_none_or(Vec::is_empty))
        && unique.is_none()
    {
        return Ok(());
    }
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(org));
    let mut cols: Vec<String> = Vec::new();
    for r in rels.iter() {
        let p = sql.p(Bind::Uuids(r.ids.clone().unwrap_or_default()));
        cols.push(format!(
            "ARRAY(SELECT {} FROM unnest({p}::uuid[]) WITH ORDINALITY u(x, n) ORDER BY u.n)",
            r.kind.resolve()
        ));
    }
    if let Some(u) = &unique {
        let v = sql.p(Bind::OptText(u.value.map(str::to_string)));
        let e = sql.p(Bind::OptUuid(u.except));
        cols.push(format!(
            "EXISTS (SELECT 1 FROM {t} WHERE org_id = $1 AND lower({c}) = lower({v}) AND {c} IS NOT NULL
                     AND {c} <> '' AND id IS DISTINCT FROM {e})",
            t = u.table,
            c = u.column,
        ));
    }
    let row = run(format!("SELECT {}", cols.join(", ")), sql.binds)
        .fetch_one(&mut **tx)
        .await?;
    for (i, r) in rels.iter_mut().enumerate() {
        let Some(ids) = r.ids.as_mut() else { continue };
        let resolved: Vec<Option<Uuid>> = row.try_get(i)?;
        let mut out: Vec<Uuid> = Vec::with_capacity(resolved.len());
        for (given, found) in ids.iter().zip(resolved) {
            match found {
                Some(id) if !out.contains(&id) => out.push(id),
                Some(_) => {}
                None => errors.add(
                    r.field,
                    format!("Invalid pk \"{given}\" - object does not exist."),
                ),
            }
        }
        *ids = out;
    }
    if let Some(u) = unique
        && row.try_get::<bool, _>(rels.len())?
    {
        errors.add(u.field, u.message);
    }
    Ok(())
}

/// Enqueues one assignment e-mail per newly assigned member (`to`, from `db::sql::sync_links`),
/// in the request's transaction: `module` ("Lead", "Contact"...), the frontend `path` of the
/// record, its display `name`, and who assigned (`by`).
pub async fn notify_assigned(
    tx: &mut Tx,
    org: Uuid,
    to: Vec<String>,
    module: &str,
    path: &str,
    name: &str,
    by: &str,
) -> Result<(), ApiError> {
    for email in to {
        let job = Job::Email {
            template: "assignment".into(),
            to: email,
            context: crate::mail::templates::context::assignment(module, name, path, by),
        };
        jobs::enqueue(tx, Some(org), job).await?;
    }
    Ok(())
}
