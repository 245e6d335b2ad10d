//! Boards, columns, cards and members: their SQL. Every read a page makes (the board list, a
//! board, its columns with every card) is one statement that also checks the caller's access,
//! whatever the board's size; nested profiles are rendered set-wise (`common::render`).
//! Positions are dense (0..n-1): `place` and `compact` renumber a card's column(s) or a board's
//! columns in one statement, with the board row locked by `access(.., lock)` first, so two moves
//! on one board run one after the other.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::common::render::{self, Nest, Obj, PROFILE_OBJ};
use crate::db::sql::{self, Bind, LinkList, Sql, Table};
use crate::db::tenant::Tx;
use crate::error::ApiError;
use crate::http::list::{Filter as F, ListSpec, Viewer};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;

pub const BOARDS: Table = Table {
    name: "board",
    returning: "name",
};
pub const COLUMNS: Table = Table {
    name: "board_column",
    returning: "name",
};
pub const CARDS: Table = Table {
    name: "board_task",
    returning: "title",
};

/// A member's role on a board, weakest first. An org admin acts as the owner of every board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "viewer" => Role::Viewer,
            "member" => Role::Member,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

/// What a path id names.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Board(Uuid),
    Column(Uuid),
    Card(Uuid),
}

impl Scope {
    pub fn id(self) -> Uuid {
        match self {
            Scope::Board(id) | Scope::Column(id) | Scope::Card(id) => id,
        }
    }
}

/// The caller's access to the board a path id belongs to. `$1` org, `$2` the id, `$3` admin
/// flag, `$4` profile id; `lock` locks the board row (every write of a board's columns and
/// cards takes it first).
fn access_sql(scope: Scope, lock: bool) -> String {
    let from = match scope {
        Scope::Board(_) => "board b WHERE b.org_id = $1 AND b.id = $2",
        Scope::Column(_) => {
            "board_column c JOIN board b ON b.id = c.board_id WHERE c.org_id = $1 AND c.id = $2"
        }
        Scope::Card(_) => {
            "board_task t JOIN board_column c ON c.id = t.column_id JOIN board b ON b.id = c.board_id
             WHERE t.org_id = $1 AND t.id = $2"
        }
    };
    let column = match scope {
        Scope::Board(_) => "NULL::uuid",
        Scope::Column(_) => "c.id",
        Scope::Card(_) => "t.column_id",
    };
    let (from, filter) = from.split_once(" WHERE ").expect("has WHERE");
    format!(
        "SELECT b.id AS board, {column} AS col, b.owner_id AS owner,
                CASE WHEN $3 OR b.owner_id = $4 THEN 'owner'
                     ELSE (SELECT m.role FROM board_member m WHERE m.board_id = b.id AND m.profile_id = $4) END AS role,
                $5::uuid AS extra
         FROM {from} WHERE {filter}{}",
        if lock { " FOR NO KEY UPDATE OF b" } else { "" }
    )
}

/// The board a path id belongs to and the caller's role on it (`None`: not a member).
#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub board: Uuid,
    pub column: Option<Uuid>,
    pub owner: Uuid,
    pub role: Option<Role>,
}

/// `None` when the id names nothing in the org.
pub async fn access(
    tx: &mut Tx,
    v: &Viewer,
    scope: Scope,
    lock: bool,
) -> Result<Option<Access>, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(access_sql(scope, lock)))
        .bind(v.org_id)
        .bind(scope.id())
        .bind(v.admin)
        .bind(v.profile_id)
        .bind(None::<Uuid>)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| -> Result<Access, ApiError> {
        let role: Option<String> = r.try_get(3)?;
        Ok(Access {
            board: r.try_get(0)?,
            column: r.try_get(1)?,
            owner: r.try_get(2)?,
            role: role.map(|s| Role::parse(&s).unwrap_or(Role::Viewer)),
        })
    })
    .transpose()
}

/// A card over alias `t`, its assignees from `n_assigned_to`.
const CARD_OBJ: &str = "json_build_object('id', t.id, 'assigned_to', coalesce(n_assigned_to.j, '[]'),
    'is_completed', t.completed_at IS NOT NULL,
    'is_overdue', t.completed_at IS NULL AND t.due_date IS NOT NULL AND t.due_date < now(),
    'created_at', crm_ts(t.created_at), 'updated_at', crm_ts(t.updated_at), 'title', t.title,
    'description', t.description, 'order', t.\"order\", 'priority', t.priority, 'due_date', crm_ts(t.due_date),
    'completed_at', crm_ts(t.completed_at), 'created_by', t.created_by_id, 'updated_by', t.updated_by_id,
    'column', t.column_id, 'account', t.account_id, 'contact', t.contact_id, 'opportunity', t.opportunity_id,
    'org', t.org_id)";

/// A column over alias `c`, its cards from `cards k`.
const COLUMN_OBJ: &str = "json_build_object('id', c.id, 'tasks', coalesce(k.j, '[]'), 'task_count', coalesce(k.n, 0),
    'created_at', crm_ts(c.created_at), 'updated_at', crm_ts(c.updated_at), 'name', c.name, 'order', c.\"order\",
    'color', c.color, 'limit', c.\"limit\", 'created_by', c.created_by_id, 'updated_by', c.updated_by_id,
    'board', c.board_id, 'org', c.org_id)";

/// A membership over aliases `m`, `p` (its profile) and `u` (the profile's user).
fn member_obj() -> String {
    format!(
        "json_build_object('id', m.id, 'profile', {PROFILE_OBJ}, 'created_at', crm_ts(m.created_at),
            'updated_at', crm_ts(m.updated_at), 'role', m.role, 'created_by', m.created_by_id,
            'updated_by', m.updated_by_id, 'board', m.board_id, 'org', m.org_id)"
    )
}

/// The owner's ProfileObj of board alias `b`.
fn owner_obj() -> String {
    format!(
        "(SELECT {PROFILE_OBJ} FROM profile p JOIN users u ON u.id = p.user_id WHERE p.id = b.owner_id)"
    )
}

/// How many cards board alias `b` holds.
const BOARD_TASK_COUNT: &str = "(SELECT count(*) FROM board_column c JOIN board_task t ON t.column_id = c.id WHERE c.board_id = b.id)";

/// BoardObj of alias `b`.
fn board_obj() -> String {
    format!(
        "json_build_object('id', b.id, 'owner', {owner},
            'columns', (SELECT coalesce(json_agg(json_build_object('id', c.id, 'name', c.name, 'order', c.\"order\",
                            'color', c.color, 'limit', c.\"limit\",
                            'task_count', (SELECT count(*) FROM board_task t WHERE t.column_id = c.id))
                        ORDER BY c.\"order\", c.id), '[]') FROM board_column c WHERE c.board_id = b.id),
            'members', (SELECT coalesce(json_agg({member} ORDER BY m.created_at, m.id), '[]')
                        FROM board_member m JOIN profile p ON p.id = m.profile_id JOIN users u ON u.id = p.user_id
                        WHERE m.board_id = b.id),
            'member_count', (SELECT count(*) FROM board_member m WHERE m.board_id = b.id),
            'task_count', {BOARD_TASK_COUNT},
            'created_at', crm_ts(b.created_at), 'updated_at', crm_ts(b.updated_at), 'name', b.name,
            'description', b.description, 'is_archived', b.is_archived, 'created_by', b.created_by_id,
            'updated_by', b.updated_by_id, 'org', b.org_id)",
        owner = owner_obj(),
        member = member_obj(),
    )
}

const NESTS: &[Nest] = &[Nest {
    key: "assigned_to",
    table: "board_task_assigned_to",
    fk: "boardtask_id",
    col: "profile_id",
    obj: Obj::Profile,
}];

/// CTEs rendering the cards matching `filter` (alias `t`), per column: `cards(column_id, j, n)`.
fn card_ctes(filter: &str) -> String {
    format!(
        ", pg AS MATERIALIZED (SELECT t.* FROM board_task t WHERE t.org_id = $1 AND {filter}),
         {nested},
         cards AS MATERIALIZED (SELECT t.column_id, json_agg({CARD_OBJ} ORDER BY t.\"order\", t.id) AS j, count(*) AS n
                                FROM pg t LEFT JOIN n_assigned_to ON n_assigned_to.id = t.id GROUP BY t.column_id)",
        nested = render::nested_ctes("pg", NESTS),
    )
}

/// What a read renders (JSON text).
#[derive(Debug, Clone, Copy)]
pub enum View {
    /// BoardObj (scope: board).
    Board,
    /// `[BoardColumnObj]` with every card (scope: board).
    Columns,
    /// BoardColumnObj (scope: column).
    Column,
    /// `[BoardTaskObj]` of a column (scope: column).
    ColumnCards,
    /// BoardTaskObj (scope: card).
    Card,
    /// `[BoardMemberObj]` (scope: board).
    Members,
    /// One BoardMemberObj (scope: board; the membership id as `extra`).
    Member,
}

/// The rendered view of a path id with the caller's access, in one statement: `None` when the id
/// names nothing in the org; the JSON is `None` when the caller is not a member (or, for
/// `Member`, the membership is not on the board).
pub async fn view(
    tx: &mut Tx,
    v: &Viewer,
    scope: Scope,
    view: View,
    extra: Option<Uuid>,
) -> Result<Option<(Access, Option<String>)>, ApiError> {
    let (ctes, expr) = match view {
        View::Board => (
            String::new(),
            format!("(SELECT {} FROM board b WHERE b.org_id = $1 AND b.id = a.board)::text", board_obj()),
        ),
        View::Columns => (
            card_ctes("t.column_id IN (SELECT c.id FROM board_column c WHERE c.org_id = $1 AND c.board_id = $2)"),
            format!(
                "(SELECT coalesce(json_agg({COLUMN_OBJ} ORDER BY c.\"order\", c.id), '[]')
                  FROM board_column c LEFT JOIN cards k ON k.column_id = c.id WHERE c.org_id = $1 AND c.board_id = $2)::text"
            ),
        ),
        View::Column => (
            card_ctes("t.column_id = $2"),
            format!(
                "(SELECT {COLUMN_OBJ} FROM board_column c LEFT JOIN cards k ON k.column_id = c.id
                  WHERE c.org_id = $1 AND c.id = $2)::text"
            ),
        ),
        View::ColumnCards => (
            card_ctes("t.column_id = $2"),
            "coalesce((SELECT j FROM cards)::text, '[]')".to_string(),
        ),
        View::Card => (card_ctes("t.id = $2"), "(SELECT j -> 0 FROM cards)::text".to_string()),
        View::Members | View::Member => (
            String::new(),
            format!(
                "(SELECT {} FROM board_member m JOIN profile p ON p.id = m.profile_id JOIN users u ON u.id = p.user_id
                  WHERE m.org_id = $1 AND m.board_id = a.board{})::text",
                if matches!(view, View::Members) {
                    format!("coalesce(json_agg({} ORDER BY m.created_at, m.id), '[]')", member_obj())
                } else {
                    member_obj()
                },
                if matches!(view, View::Member) { " AND m.id = a.extra" } else { "" },
            ),
        ),
    };
    let text = format!(
        "WITH a AS MATERIALIZED ({access}){ctes}
         SELECT a.board, a.col, a.owner, a.role, CASE WHEN a.role IS NOT NULL THEN {expr} END FROM a",
        access = access_sql(scope, false),
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(v.org_id)
        .bind(scope.id())
        .bind(v.admin)
        .bind(v.profile_id)
        .bind(extra)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| -> Result<(Access, Option<String>), ApiError> {
        let role: Option<String> = r.try_get(3)?;
        Ok((
            Access {
                board: r.try_get(0)?,
                column: r.try_get(1)?,
                owner: r.try_get(2)?,
                role: role.map(|s| Role::parse(&s).unwrap_or(Role::Viewer)),
            },
            r.try_get(4)?,
        ))
    })
    .transpose()
}

pub const LIST: ListSpec = ListSpec {
    alias: "b",
    filters: &[F::Search("search", &["b.name"])],
    orderable: &["name", "created_at", "updated_at"],
};

/// The boards the caller belongs to (an org admin: all of the org's), archived or not as asked:
/// `(count, [BoardListObj] as JSON text)`, in one statement.
pub async fn list_json(
    tx: &mut Tx,
    v: &Viewer,
    q: &RawQuery,
    page: Page,
) -> Result<(i64, String), ApiError> {
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(v.org_id));
    // Upstream: `true`, `1` or `yes` (any case) lists archived boards; anything else, or nothing,
    // the others.
    let archived = q
        .get("archived")
        .is_some_and(|s| matches!(s.trim().to_lowercase().as_str(), "true" | "1" | "yes"));
    let pa = sql.p(Bind::Bool(archived));
    let mut cond = format!("b.org_id = $1 AND b.is_archived = {pa}");
    for c in LIST.conditions(q, &mut sql)? {
        cond.push_str(" AND ");
        cond.push_str(&c);
    }
    if !v.admin {
        let p = sql.p(Bind::Uuid(v.profile_id));
        cond.push_str(&format!(
            " AND b.id IN (SELECT id FROM board WHERE org_id = $1 AND owner_id = {p}
                           UNION SELECT board_id FROM board_member WHERE profile_id = {p})"
        ));
    }
    let order = LIST.order_by(q);
    let (limit, offset) = (page.limit, page.offset);
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT s.*, row_number() OVER () AS rn FROM
                (SELECT b.* FROM board b WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}) s)
         SELECT (SELECT count(*) FROM board b WHERE {cond}),
                (SELECT coalesce(json_agg(json_build_object('id', b.id, 'name', b.name, 'description', b.description,
                    'owner', {owner}, 'is_archived', b.is_archived,
                    'member_count', (SELECT count(*) FROM board_member m WHERE m.board_id = b.id),
                    'column_count', (SELECT count(*) FROM board_column c WHERE c.board_id = b.id),
                    'task_count', {BOARD_TASK_COUNT},
                    'created_at', crm_ts(b.created_at), 'updated_at', crm_ts(b.updated_at)) ORDER BY b.rn), '[]')::text
                 FROM pg b)",
        owner = owner_obj(),
    );
    let row = sql::run(text, sql.binds).fetch_one(&mut **tx).await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// The three columns a new board gets unless asked not to.
const DEFAULT_COLUMNS: [(&str, &str); 3] = [
    ("To Do", "#EF4444"),
    ("In Progress", "#F59E0B"),
    ("Done", "#10B981"),
];

/// Inserts a board owned by `profile`, its owner membership and (when asked) the default
/// columns; returns its name.
pub async fn insert_board(
    tx: &mut Tx,
    v: &Viewer,
    id: Uuid,
    fields: &[(&'static str, sql::Val)],
    default_columns: bool,
) -> Result<String, ApiError> {
    let mut cols = fields.to_vec();
    cols.push(("owner_id", sql::Val::Uuid(Some(v.profile_id))));
    let defaults = [("is_archived", sql::Val::Bool(false))];
    let name = sql::insert(tx, &BOARDS, v.org_id, Some(v.user_id), id, &cols, &defaults).await?;
    let names: Vec<String> = DEFAULT_COLUMNS.iter().map(|(n, _)| n.to_string()).collect();
    let colors: Vec<String> = DEFAULT_COLUMNS.iter().map(|(_, c)| c.to_string()).collect();
    sqlx::query(
        "WITH m AS (INSERT INTO board_member (created_at, updated_at, id, role, board_id, created_by_id, updated_by_id, org_id, profile_id)
                    VALUES (now(), now(), gen_random_uuid(), 'owner', $1, $3, $3, $2, $4))
         INSERT INTO board_column (created_at, updated_at, id, name, \"order\", color, \"limit\", board_id, created_by_id, org_id, updated_by_id)
         SELECT now(), now(), gen_random_uuid(), x.name, (x.n - 1)::int, x.color, NULL, $1, $3, $2, $3
         FROM unnest($5::text[], $6::text[]) WITH ORDINALITY x(name, color, n) WHERE $7",
    )
    .bind(id)
    .bind(v.org_id)
    .bind(v.user_id)
    .bind(v.profile_id)
    .bind(names)
    .bind(colors)
    .bind(default_columns)
    .execute(&mut **tx)
    .await?;
    Ok(name)
}

/// Deletes a board with its columns, cards, card assignees and memberships; returns its name.
pub async fn delete_board(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    Ok(sqlx::query_scalar(
        "WITH cols AS (SELECT id FROM board_column WHERE org_id = $1 AND board_id = $2),
              cards AS (SELECT id FROM board_task WHERE org_id = $1 AND column_id IN (SELECT id FROM cols)),
              j1 AS (DELETE FROM board_task_assigned_to WHERE boardtask_id IN (SELECT id FROM cards)),
              j2 AS (DELETE FROM board_task WHERE id IN (SELECT id FROM cards)),
              j3 AS (DELETE FROM board_column WHERE id IN (SELECT id FROM cols)),
              j4 AS (DELETE FROM board_member WHERE org_id = $1 AND board_id = $2)
         DELETE FROM board WHERE org_id = $1 AND id = $2 RETURNING name",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?)
}

/// What is positioned: cards in a column, columns on a board.
#[derive(Debug, Clone, Copy)]
pub enum Pos {
    Card,
    Column,
}

impl Pos {
    fn table_parent(self) -> (&'static str, &'static str) {
        match self {
            Pos::Card => ("board_task", "column_id"),
            Pos::Column => ("board_column", "board_id"),
        }
    }
}

/// Puts row `id` at position `pos` (None or past the end: last) under `parent` (for a card, its
/// new column; None: where it is now, as read by this statement), renumbering its old and new
/// siblings 0..n-1, in one statement. The caller holds the board's lock.
pub async fn place(
    tx: &mut Tx,
    what: Pos,
    id: Uuid,
    parent: Option<Uuid>,
    pos: Option<i32>,
    user: Uuid,
) -> Result<(), ApiError> {
    let (table, parent_col) = what.table_parent();
    let text = format!(
        "WITH me AS (SELECT {parent_col} AS old, coalesce($2::uuid, {parent_col}) AS dst FROM {table} WHERE id = $1),
              others AS (SELECT x.id, x.{parent_col} AS parent,
                                row_number() OVER (PARTITION BY x.{parent_col} ORDER BY x.\"order\", x.created_at, x.id) - 1 AS pos
                         FROM {table} x, me WHERE x.{parent_col} IN (me.dst, me.old) AND x.id <> $1),
              tgt AS (SELECT me.dst, least($3::bigint, (SELECT count(*) FROM others WHERE parent = me.dst)) AS pos FROM me),
              placed AS (SELECT o.id, o.parent, CASE WHEN o.parent = tgt.dst AND o.pos >= tgt.pos THEN o.pos + 1 ELSE o.pos END AS pos
                         FROM others o, tgt
                         UNION ALL SELECT $1, tgt.dst, tgt.pos FROM tgt)
         UPDATE {table} x SET \"order\" = p.pos, {parent_col} = p.parent,
                updated_at = CASE WHEN x.id = $1 THEN now() ELSE x.updated_at END,
                updated_by_id = CASE WHEN x.id = $1 THEN $4 ELSE x.updated_by_id END
         FROM placed p WHERE x.id = p.id AND (x.\"order\" <> p.pos OR x.{parent_col} <> p.parent OR x.id = $1)"
    );
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(id)
        .bind(parent)
        .bind(i64::from(pos.unwrap_or(i32::MAX)))
        .bind(user)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes a card (its assignees first) and closes the gap in its column.
pub async fn delete_card(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let (title, column): (String, Uuid) = sqlx::query_as(
        "WITH j AS (DELETE FROM board_task_assigned_to WHERE boardtask_id = $2)
         DELETE FROM board_task WHERE org_id = $1 AND id = $2 RETURNING title, column_id",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    compact(tx, Pos::Card, column, id).await?;
    Ok(title)
}

/// Deletes a column with its cards and closes the gap on its board.
pub async fn delete_column(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let (name, board): (String, Uuid) = sqlx::query_as(
        "WITH cards AS (SELECT id FROM board_task WHERE org_id = $1 AND column_id = $2),
              j1 AS (DELETE FROM board_task_assigned_to WHERE boardtask_id IN (SELECT id FROM cards)),
              j2 AS (DELETE FROM board_task WHERE id IN (SELECT id FROM cards))
         DELETE FROM board_column WHERE org_id = $1 AND id = $2 RETURNING name, board_id",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    compact(tx, Pos::Column, board, id).await?;
    Ok(name)
}

/// Renumbers `parent`'s rows 0..n-1 in their order, leaving out `gone` (deleted in this
/// statement's transaction already).
async fn compact(tx: &mut Tx, what: Pos, parent: Uuid, gone: Uuid) -> Result<(), ApiError> {
    let (table, parent_col) = what.table_parent();
    let text = format!(
        "UPDATE {table} x SET \"order\" = r.pos
         FROM (SELECT id, row_number() OVER (ORDER BY \"order\", created_at, id) - 1 AS pos
               FROM {table} WHERE {parent_col} = $1 AND id <> $2) r
         WHERE x.id = r.id AND x.\"order\" <> r.pos"
    );
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(parent)
        .bind(gone)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether another column of the board already has this name.
pub async fn column_name_taken(
    tx: &mut Tx,
    board: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM board_column WHERE board_id = $1 AND name = $2 AND id IS DISTINCT FROM $3)",
    )
    .bind(board)
    .bind(name)
    .bind(except)
    .fetch_one(&mut **tx)
    .await?)
}

/// A column a card is created in or moved to, as the board's lock holder sees it.
pub struct Target {
    pub board: Uuid,
    pub name: String,
    pub limit: Option<i32>,
    /// Cards in it, not counting the card being moved.
    pub others: i64,
    /// The moving card's current column.
    pub card_column: Option<Uuid>,
}

/// `(board, name, limit, others, card's column)` of `target_column`.
type TargetRow = (Uuid, String, Option<i32>, i64, Option<Uuid>);

pub async fn target_column(
    tx: &mut Tx,
    org: Uuid,
    column: Uuid,
    card: Option<Uuid>,
) -> Result<Option<Target>, ApiError> {
    let row: Option<TargetRow> = sqlx::query_as(
        "SELECT c.board_id, c.name, c.\"limit\",
                (SELECT count(*) FROM board_task x WHERE x.column_id = c.id AND x.id IS DISTINCT FROM $3),
                (SELECT column_id FROM board_task WHERE id = $3)
         FROM board_column c WHERE c.org_id = $1 AND c.id = $2",
    )
    .bind(org)
    .bind(column)
    .bind(card)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(board, name, limit, others, card_column)| Target {
        board,
        name,
        limit,
        others,
        card_column,
    }))
}

/// Whether an opportunity id is in the org.
pub async fn opportunity_exists(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM opportunity WHERE org_id = $1 AND id = $2)",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?)
}

/// Writes a card's due date and completion when the body names them.
pub async fn set_card_dates(
    tx: &mut Tx,
    id: Uuid,
    due: Option<Option<DateTime<Utc>>>,
    completed: Option<bool>,
) -> Result<(), ApiError> {
    if due.is_none() && completed.is_none() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE board_task SET
            due_date = CASE WHEN $2 THEN $3 ELSE due_date END,
            completed_at = CASE WHEN $4 IS NULL THEN completed_at
                                WHEN $4 THEN coalesce(completed_at, now()) ELSE NULL END
         WHERE id = $1",
    )
    .bind(id)
    .bind(due.is_some())
    .bind(due.flatten())
    .bind(completed)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Replaces a card's assignees (ids checked in the org); returns the e-mails of the newly
/// assigned, except the actor's.
pub async fn sync_assignees(
    tx: &mut Tx,
    card: Uuid,
    actor_profile: Uuid,
    ids: Option<&[Uuid]>,
) -> Result<Vec<String>, ApiError> {
    let lists = [LinkList {
        table: "board_task_assigned_to",
        col: "profile_id",
        ids,
    }];
    sql::sync_links(
        tx,
        "boardtask_id",
        card,
        actor_profile,
        "board_task_assigned_to",
        &lists,
    )
    .await
}

/// A membership of a board: `(profile, role)`.
pub async fn membership(
    tx: &mut Tx,
    org: Uuid,
    board: Uuid,
    id: Uuid,
) -> Result<Option<(Uuid, String)>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT profile_id, role FROM board_member WHERE org_id = $1 AND board_id = $2 AND id = $3",
    )
    .bind(org)
    .bind(board)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Adds `profile` to the board (`None` when already a member).
pub async fn insert_member(
    tx: &mut Tx,
    v: &Viewer,
    board: Uuid,
    profile: Uuid,
    role: Role,
) -> Result<Option<Uuid>, ApiError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO board_member (created_at, updated_at, id, role, board_id, created_by_id, updated_by_id, org_id, profile_id)
         VALUES (now(), now(), gen_random_uuid(), $1, $2, $3, $3, $4, $5)
         ON CONFLICT (board_id, profile_id) DO NOTHING RETURNING id",
    )
    .bind(role.as_str())
    .bind(board)
    .bind(v.user_id)
    .bind(v.org_id)
    .bind(profile)
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn set_member_role(
    tx: &mut Tx,
    v: &Viewer,
    id: Uuid,
    role: Role,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE board_member SET role = $1, updated_at = now(), updated_by_id = $2 WHERE org_id = $3 AND id = $4",
    )
    .bind(role.as_str())
    .bind(v.user_id)
    .bind(v.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_member(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM board_member WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
