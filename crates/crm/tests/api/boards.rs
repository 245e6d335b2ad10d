use axum::http::StatusCode;
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

/// What the frontend's board page reads of each card (frontend-api.md, boards), plus upstream's
/// keys.
const CARD_KEYS: &[&str] = &[
    "id",
    "assigned_to",
    "is_completed",
    "is_overdue",
    "created_at",
    "updated_at",
    "title",
    "description",
    "order",
    "priority",
    "due_date",
    "completed_at",
    "created_by",
    "updated_by",
    "column",
    "account",
    "contact",
    "opportunity",
    "org",
];

const COLUMN_KEYS: &[&str] = &[
    "id",
    "tasks",
    "task_count",
    "created_at",
    "updated_at",
    "name",
    "order",
    "color",
    "limit",
    "created_by",
    "updated_by",
    "board",
    "org",
];

fn id_of(v: &Value) -> Uuid {
    v["id"].as_str().expect("id").parse().expect("uuid")
}

async fn board(app: &TestApp, who: &TestUser, name: &str) -> Value {
    let res = app
        .post("/api/boards/", Some(&who.access), &json!({"name": name}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

/// The frontend's createColumn body: `{name, color}`, no `org`, no `order`.
async fn column(app: &TestApp, who: &TestUser, board: Uuid, name: &str) -> Uuid {
    let res = app
        .post(
            &format!("/api/boards/{board}/columns/"),
            Some(&who.access),
            &json!({"name": name, "color": "#6b7280"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    id_of(&res.body)
}

/// The frontend's createTask body: `{title, description, priority, column}`, no `org`.
async fn card(app: &TestApp, who: &TestUser, col: Uuid, title: &str) -> Uuid {
    let res = app
        .post(
            &format!("/api/boards/columns/{col}/tasks/"),
            Some(&who.access),
            &json!({"title": title, "description": "", "priority": "medium", "column": col}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    id_of(&res.body)
}

/// Each column's card titles by position, and the positions themselves.
async fn layout(
    app: &TestApp,
    who: &TestUser,
    board: Uuid,
) -> Vec<(String, Vec<String>, Vec<i64>)> {
    let res = app
        .get(&format!("/api/boards/{board}/columns/"), Some(&who.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body
        .as_array()
        .expect("bare array")
        .iter()
        .map(|c| {
            let tasks = c["tasks"].as_array().unwrap();
            (
                c["name"].as_str().unwrap().to_string(),
                tasks
                    .iter()
                    .map(|t| t["title"].as_str().unwrap().to_string())
                    .collect(),
                tasks.iter().map(|t| t["order"].as_i64().unwrap()).collect(),
            )
        })
        .collect()
}

/// Positions straight from the table (as the superuser): per column, sorted.
async fn positions(app: &TestApp, board: Uuid) -> Vec<Vec<i32>> {
    let rows: Vec<(Uuid, Vec<i32>)> = sqlx::query_as(
        "SELECT c.id, coalesce(array_agg(t.\"order\" ORDER BY t.\"order\") FILTER (WHERE t.id IS NOT NULL), '{}')
         FROM board_column c LEFT JOIN board_task t ON t.column_id = c.id
         WHERE c.board_id = $1 GROUP BY c.id, c.\"order\" ORDER BY c.\"order\"",
    )
    .bind(board)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    rows.into_iter().map(|(_, o)| o).collect()
}

fn dense(v: &[i32]) -> bool {
    v.iter().enumerate().all(|(i, o)| *o == i as i32)
}

async fn add_member(app: &TestApp, owner: &TestUser, board: Uuid, who: &TestUser, role: &str) {
    let res = app
        .post(
            &format!("/api/boards/{board}/members/"),
            Some(&owner.access),
            &json!({"profile": who.profile_id, "role": role}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["role"], role);
    assert_eq!(res.body["profile"]["id"], json!(who.profile_id));
}

#[tokio::test]
async fn board_create_gives_default_columns_owner_membership_and_lists() {
    let app = TestApp::new().await;
    let admin = app.admin("b-admin@example.com").await;
    let user = app.member(admin.org_id, "b-user@example.com", "USER").await;
    let b = board(&app, &user, "Sprint").await;
    for k in [
        "id",
        "owner",
        "columns",
        "members",
        "member_count",
        "task_count",
        "created_at",
        "updated_at",
        "name",
        "description",
        "is_archived",
        "created_by",
        "updated_by",
        "org",
    ] {
        assert!(b.get(k).is_some(), "missing {k}");
    }
    assert_eq!(b["owner"]["id"], json!(user.profile_id));
    assert_eq!(b["members"][0]["role"], "owner");
    assert_eq!(b["member_count"], 1);
    let cols: Vec<(&str, i64, &str)> = b["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["order"].as_i64().unwrap(),
                c["color"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cols,
        vec![
            ("To Do", 0, "#EF4444"),
            ("In Progress", 1, "#F59E0B"),
            ("Done", 2, "#10B981")
        ]
    );
    // Without default columns; the form string "false" counts as false (upstream: true).
    let res = app
        .post(
            "/api/boards/",
            Some(&user.access),
            &json!({"name": "Empty", "create_default_columns": "false"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["columns"], json!([]));
    // Upstream's validation envelope.
    let res = app
        .post(
            "/api/boards/",
            Some(&user.access),
            &json!({"description": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": {"name": ["This field is required."]}})
    );

    // List: DRF envelope with absolute links, newest first, counts.
    let res = app.get("/api/boards/?limit=1", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["count"], 2);
    assert!(
        res.body["next"]
            .as_str()
            .unwrap()
            .ends_with("/api/boards/?limit=1&offset=1"),
        "{}",
        res.text
    );
    assert_eq!(res.body["previous"], Value::Null);
    let row = &res.body["results"][0];
    assert_eq!(row["name"], "Empty");
    for k in [
        "id",
        "name",
        "description",
        "owner",
        "is_archived",
        "member_count",
        "column_count",
        "task_count",
        "created_at",
        "updated_at",
    ] {
        assert!(row.get(k).is_some(), "missing {k}");
    }
    let res = app.get("/api/boards/?search=spr", Some(&user.access)).await;
    assert_eq!(res.body["count"], 1);
    assert_eq!(res.body["results"][0]["column_count"], 3);
    // Archived boards are listed only when asked for.
    let id = id_of(&b);
    let res = app
        .patch(
            &format!("/api/boards/{id}/"),
            Some(&user.access),
            &json!({"is_archived": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["is_archived"], true);
    assert_eq!(
        app.get("/api/boards/", Some(&user.access)).await.body["count"],
        1
    );
    let res = app
        .get("/api/boards/?archived=Yes", Some(&user.access))
        .await;
    assert_eq!(res.body["count"], 1);
    assert_eq!(res.body["results"][0]["name"], "Sprint");
    // Another member of the org is on none of them; an org admin sees every board.
    let other = app
        .member(admin.org_id, "b-other@example.com", "USER")
        .await;
    assert_eq!(
        app.get("/api/boards/", Some(&other.access)).await.body["count"],
        0
    );
    assert_eq!(
        app.get("/api/boards/", Some(&admin.access)).await.body["count"],
        1
    );
}

/// The frontend's board page, end to end: create a column and cards without `org`, read the
/// columns, drag a card with PATCH `{column, order: 0}` (405 upstream), edit, delete.
#[tokio::test]
async fn frontend_board_page_flow_works_without_org_and_with_patch() {
    let app = TestApp::new().await;
    let admin = app.admin("bf-admin@example.com").await;
    let b = id_of(&board(&app, &admin, "Flow").await);
    let review = column(&app, &admin, b, "Review").await;
    let todo = layout(&app, &admin, b).await;
    assert_eq!(
        todo.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["To Do", "In Progress", "Done", "Review"]
    );
    let res = app
        .get(&format!("/api/boards/{b}/columns/"), Some(&admin.access))
        .await;
    let cols = res.body.as_array().unwrap();
    assert_eq!(cols[3]["order"], 3, "a column without `order` goes last");
    for k in COLUMN_KEYS {
        assert!(cols[0].get(*k).is_some(), "column key {k}");
    }
    let first: Uuid = cols[0]["id"].as_str().unwrap().parse().unwrap();
    let a = card(&app, &admin, first, "A").await;
    let c2 = card(&app, &admin, first, "B").await;
    let res = app
        .get(&format!("/api/boards/tasks/{a}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for k in CARD_KEYS {
        assert!(res.body.get(*k).is_some(), "card key {k}");
    }
    assert_eq!(res.body["priority"], "medium");
    assert_eq!(res.body["order"], 0);
    assert_eq!(res.body["is_completed"], false);
    // Drag B onto Review, at the top.
    let res = app
        .patch(
            &format!("/api/boards/tasks/{c2}/"),
            Some(&admin.access),
            &json!({"column": review, "order": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["column"], json!(review));
    let l = layout(&app, &admin, b).await;
    assert_eq!(l[0].1, ["A"]);
    assert_eq!(l[3].1, ["B"]);
    // Edit (updateTask body), completion, due date in the past.
    let res = app
        .patch(
            &format!("/api/boards/tasks/{a}/"),
            Some(&admin.access),
            &json!({"title": "A2", "description": "d", "priority": "High", "due_date": "2020-01-02"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["title"], "A2");
    assert_eq!(res.body["priority"], "high");
    assert_eq!(res.body["is_overdue"], true);
    assert!(
        res.body["due_date"]
            .as_str()
            .unwrap()
            .starts_with("2020-01-02T00:00:00")
    );
    let res = app
        .patch(
            &format!("/api/boards/tasks/{a}/"),
            Some(&admin.access),
            &json!({"is_completed": true}),
        )
        .await;
    assert_eq!(res.body["is_completed"], true);
    assert_eq!(res.body["is_overdue"], false);
    assert!(res.body["completed_at"].is_string());
    // Column tasks list (bare array) and counts on the board.
    let res = app
        .get(
            &format!("/api/boards/columns/{review}/tasks/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body.as_array().unwrap().len(), 1);
    let res = app
        .get(&format!("/api/boards/{b}/"), Some(&admin.access))
        .await;
    assert_eq!(res.body["task_count"], 2);
    assert_eq!(res.body["columns"][3]["task_count"], 1);
    // Delete.
    let res = app
        .delete(&format!("/api/boards/tasks/{a}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = app
        .get(&format!("/api/boards/tasks/{a}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body["detail"], "No BoardTask matches the given query.");
}

#[tokio::test]
async fn moves_renumber_the_old_and_new_columns() {
    let app = TestApp::new().await;
    let admin = app.admin("bm-admin@example.com").await;
    let b = board(&app, &admin, "Moves").await;
    let (bid, todo, doing) = (id_of(&b), id_of(&b["columns"][0]), id_of(&b["columns"][1]));
    let mut ids = Vec::new();
    for t in ["a", "b", "c", "d", "e"] {
        ids.push(card(&app, &admin, todo, t).await);
    }
    card(&app, &admin, doing, "x").await;
    // Inserting with an explicit order shifts the others.
    let res = app
        .post(
            &format!("/api/boards/columns/{doing}/tasks/"),
            Some(&admin.access),
            &json!({"title": "top", "order": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let move_to = |id: Uuid, col: Uuid, order: i64| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            let res = app
                .patch(
                    &format!("/api/boards/tasks/{id}/"),
                    Some(&token),
                    &json!({"column": col, "order": order}),
                )
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        }
    };
    move_to(ids[1], doing, 1).await; // b between top and x
    move_to(ids[4], todo, 0).await; // e to the top of its own column
    move_to(ids[0], doing, 99).await; // a past the end: last
    let l = layout(&app, &admin, bid).await;
    assert_eq!(l[0].1, ["e", "c", "d"]);
    assert_eq!(l[0].2, [0, 1, 2]);
    assert_eq!(l[1].1, ["top", "b", "x", "a"]);
    assert_eq!(l[1].2, [0, 1, 2, 3]);
    // Only `order`: within the column. Only `column`: to its end.
    let res = app
        .patch(
            &format!("/api/boards/tasks/{}/", ids[3]),
            Some(&admin.access),
            &json!({"order": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .patch(
            &format!("/api/boards/tasks/{}/", ids[2]),
            Some(&admin.access),
            &json!({"column": doing}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    // An edit that re-sends the card's own column keeps its place.
    let res = app
        .patch(
            &format!("/api/boards/tasks/{}/", ids[0]),
            Some(&admin.access),
            &json!({"column": doing, "title": "a"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let l = layout(&app, &admin, bid).await;
    assert_eq!(l[0].1, ["d", "e"]);
    assert_eq!(l[1].1, ["top", "b", "x", "a", "c"]);
    // Deleting closes the gap.
    let res = app
        .delete(
            &format!("/api/boards/tasks/{}/", ids[1]),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(layout(&app, &admin, bid).await[1].2, [0, 1, 2, 3]);

    // Columns move too: Done to the front; deleting a column takes its cards and closes the gap.
    let done = id_of(&b["columns"][2]);
    let res = app
        .patch(
            &format!("/api/boards/columns/{done}/"),
            Some(&admin.access),
            &json!({"order": 0, "limit": 5, "color": "#abc"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["order"], 0);
    assert_eq!(res.body["limit"], 5);
    let names: Vec<String> = layout(&app, &admin, bid)
        .await
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(names, ["Done", "To Do", "In Progress"]);
    let res = app
        .delete(&format!("/api/boards/columns/{todo}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = app
        .get(&format!("/api/boards/{bid}/"), Some(&admin.access))
        .await;
    let orders: Vec<(String, i64)> = res.body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["order"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        orders,
        [("Done".to_string(), 0), ("In Progress".to_string(), 1)]
    );
    assert_eq!(
        res.body["task_count"], 4,
        "the deleted column's cards went with it"
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM board_task WHERE column_id = $1")
        .bind(todo)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

/// Twenty moves at once on one board (cards between two columns, and a column reorder among
/// them) never leave two cards on one position or a gap.
#[tokio::test]
async fn concurrent_moves_keep_positions_dense() {
    let app = TestApp::new().await;
    let admin = app.admin("bc-admin@example.com").await;
    let b = board(&app, &admin, "Race").await;
    let (bid, left, right) = (id_of(&b), id_of(&b["columns"][0]), id_of(&b["columns"][1]));
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(card(&app, &admin, left, &format!("l{i}")).await);
        ids.push(card(&app, &admin, right, &format!("r{i}")).await);
    }
    let moves = ids.iter().enumerate().map(|(i, id)| {
        let (app, token) = (&app, admin.access.clone());
        let target = if i % 3 == 0 { left } else { right };
        let order = (i * 7 % 5) as i64;
        // Some only reorder within the card's column, wherever a concurrent move left it.
        let body = if i % 4 == 3 {
            json!({"order": order})
        } else {
            json!({"column": target, "order": order})
        };
        async move {
            app.patch(&format!("/api/boards/tasks/{id}/"), Some(&token), &body)
                .await
        }
    });
    let (col_path, col_body) = (
        format!("/api/boards/columns/{}/", id_of(&b["columns"][2])),
        json!({"order": 0}),
    );
    let column_move = app.patch(&col_path, Some(&admin.access), &col_body);
    let (results, col) = tokio::join!(futures_util::future::join_all(moves), column_move);
    assert_eq!(col.status, StatusCode::OK, "{}", col.text);
    for r in &results {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let pos = positions(&app, bid).await;
    let total: usize = pos.iter().map(Vec::len).sum();
    assert_eq!(total, 20);
    for p in &pos {
        assert!(dense(p), "positions {pos:?}");
    }
    let cols: Vec<i32> =
        sqlx::query_scalar("SELECT \"order\" FROM board_column WHERE board_id = $1 ORDER BY 1")
            .bind(bid)
            .fetch_all(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(cols, [0, 1, 2]);
}

#[tokio::test]
async fn wip_limit_exceeded_is_a_400_naming_the_column() {
    let app = TestApp::new().await;
    let admin = app.admin("bw-admin@example.com").await;
    let b = board(&app, &admin, "Wip").await;
    let (todo, doing) = (id_of(&b["columns"][0]), id_of(&b["columns"][1]));
    let res = app
        .patch(
            &format!("/api/boards/columns/{doing}/"),
            Some(&admin.access),
            &json!({"limit": 1}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let a = card(&app, &admin, todo, "a").await;
    let c = card(&app, &admin, todo, "c").await;
    let res = app
        .patch(
            &format!("/api/boards/tasks/{a}/"),
            Some(&admin.access),
            &json!({"column": doing, "order": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Full: a second card cannot move in or be created there.
    let res = app
        .patch(
            &format!("/api/boards/tasks/{c}/"),
            Some(&admin.access),
            &json!({"column": doing, "order": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    let msg = res.body["column"][0].as_str().unwrap();
    assert!(
        msg.contains("\"In Progress\"") && msg.contains("WIP limit of 1"),
        "{msg}"
    );
    let res = app
        .post(
            &format!("/api/boards/columns/{doing}/tasks/"),
            Some(&admin.access),
            &json!({"title": "z"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.body["column"][0]
            .as_str()
            .unwrap()
            .contains("In Progress")
    );
    // Moving within the full column is fine; nothing was written by the refused requests.
    let res = app
        .patch(
            &format!("/api/boards/tasks/{a}/"),
            Some(&admin.access),
            &json!({"column": doing, "order": 0, "title": "a2"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let l = layout(&app, &admin, id_of(&b)).await;
    assert_eq!(l[0].1, ["c"]);
    assert_eq!(l[1].1, ["a2"]);
    // A negative limit is a field error (the database's CHECK is not reached).
    let res = app
        .patch(
            &format!("/api/boards/columns/{doing}/"),
            Some(&admin.access),
            &json!({"limit": -1}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["limit"].is_array());
}

#[tokio::test]
async fn roles_are_enforced_viewer_cannot_move_cards() {
    let app = TestApp::new().await;
    let owner = app.admin("br-owner@example.com").await;
    let viewer = app
        .member(owner.org_id, "br-viewer@example.com", "USER")
        .await;
    let member = app
        .member(owner.org_id, "br-member@example.com", "USER")
        .await;
    let badmin = app
        .member(owner.org_id, "br-badmin@example.com", "USER")
        .await;
    let outsider = app.member(owner.org_id, "br-out@example.com", "USER").await;
    // A USER owns this board (the org admin would be owner-equivalent anyway).
    let b = board(&app, &badmin, "Roles").await;
    let (bid, todo, doing) = (id_of(&b), id_of(&b["columns"][0]), id_of(&b["columns"][1]));
    add_member(&app, &badmin, bid, &viewer, "viewer").await;
    add_member(&app, &badmin, bid, &member, "member").await;
    let c = card(&app, &member, todo, "by member").await;

    // Viewer: reads, but cannot move, edit, create or delete cards.
    assert_eq!(
        app.get(&format!("/api/boards/{bid}/columns/"), Some(&viewer.access))
            .await
            .status,
        StatusCode::OK
    );
    let res = app
        .patch(
            &format!("/api/boards/tasks/{c}/"),
            Some(&viewer.access),
            &json!({"column": doing, "order": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.body["error"], "Access denied");
    let res = app
        .put(
            &format!("/api/boards/tasks/{c}/"),
            Some(&viewer.access),
            &json!({"title": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "PUT has the same check");
    let res = app
        .post(
            &format!("/api/boards/columns/{todo}/tasks/"),
            Some(&viewer.access),
            &json!({"title": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.delete(&format!("/api/boards/tasks/{c}/"), Some(&viewer.access))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let (col,): (Uuid,) = sqlx::query_as("SELECT column_id FROM board_task WHERE id = $1")
        .bind(c)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(col, todo, "nothing moved");

    // Member: moves cards, but cannot change columns, the board or its members.
    let res = app
        .patch(
            &format!("/api/boards/tasks/{c}/"),
            Some(&member.access),
            &json!({"column": doing, "order": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .post(
            &format!("/api/boards/{bid}/columns/"),
            Some(&member.access),
            &json!({"name": "No"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.body["error"], "Permission denied");
    let res = app
        .patch(
            &format!("/api/boards/{bid}/"),
            Some(&member.access),
            &json!({"name": "No"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .post(
            &format!("/api/boards/{bid}/members/"),
            Some(&member.access),
            &json!({"profile": outsider.profile_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // Promoted to admin: manages columns; still cannot delete the board.
    let mid: String = sqlx::query_scalar(
        "SELECT id::text FROM board_member WHERE board_id = $1 AND profile_id = $2",
    )
    .bind(bid)
    .bind(member.profile_id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    let res = app
        .patch(
            &format!("/api/boards/{bid}/members/{mid}/"),
            Some(&badmin.access),
            &json!({"role": "admin"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["role"], "admin");
    assert_eq!(
        app.post(
            &format!("/api/boards/{bid}/columns/"),
            Some(&member.access),
            &json!({"name": "Yes"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let res = app
        .delete(&format!("/api/boards/{bid}/"), Some(&member.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.body["error"], "Only board owner can delete the board");
    // The owner's membership is not for changing.
    let oid: String = sqlx::query_scalar(
        "SELECT id::text FROM board_member WHERE board_id = $1 AND role = 'owner'",
    )
    .bind(bid)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    let res = app
        .patch(
            &format!("/api/boards/{bid}/members/{oid}/"),
            Some(&member.access),
            &json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .delete(
            &format!("/api/boards/{bid}/members/{oid}/"),
            Some(&member.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .patch(
            &format!("/api/boards/{bid}/members/{mid}/"),
            Some(&badmin.access),
            &json!({"role": "owner"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // Not on the board: upstream's 404 everywhere (the board is not revealed).
    for path in [
        format!("/api/boards/{bid}/"),
        format!("/api/boards/{bid}/columns/"),
        format!("/api/boards/tasks/{c}/"),
    ] {
        let res = app.get(&path, Some(&outsider.access)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.body["error"], "Board not found or access denied");
    }
    let res = app
        .patch(
            &format!("/api/boards/tasks/{c}/"),
            Some(&outsider.access),
            &json!({"order": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // A viewer may leave; the org admin (not a member) acts as owner; the owner deletes.
    let vid: String = sqlx::query_scalar(
        "SELECT id::text FROM board_member WHERE board_id = $1 AND profile_id = $2",
    )
    .bind(bid)
    .bind(viewer.profile_id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(
        app.delete(
            &format!("/api/boards/{bid}/members/{vid}/"),
            Some(&viewer.access)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/boards/{bid}/"), Some(&viewer.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let res = app
        .get(&format!("/api/boards/{bid}/members/"), Some(&owner.access))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body.as_array().unwrap().len(), 2);
    let res = app
        .delete(&format!("/api/boards/{bid}/"), Some(&badmin.access))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    for table in ["board_member", "board_column"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE board_id = $1"
        )))
        .bind(bid)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
        assert_eq!(n, 0, "{table} cascaded");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM board_task WHERE id = $1")
        .bind(c)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn validation_errors_are_400s_not_500s() {
    let app = TestApp::new().await;
    let admin = app.admin("bv-admin@example.com").await;
    let b = board(&app, &admin, "Valid").await;
    let (bid, todo) = (id_of(&b), id_of(&b["columns"][0]));
    let c = card(&app, &admin, todo, "x").await;
    let cases: Vec<(String, Value, &str)> = vec![
        (
            format!("/api/boards/{bid}/columns/"),
            json!({"color": "#fff"}),
            "name",
        ),
        // Upstream: duplicate column name on a board -> 500.
        (
            format!("/api/boards/{bid}/columns/"),
            json!({"name": "To Do"}),
            "name",
        ),
        (
            format!("/api/boards/{bid}/columns/"),
            json!({"name": "Q", "color": "red"}),
            "color",
        ),
        (
            format!("/api/boards/{bid}/columns/"),
            json!({"name": "Q", "color": "#1234567"}),
            "color",
        ),
        (
            format!("/api/boards/{bid}/columns/"),
            json!({"name": "Q", "limit": "many"}),
            "limit",
        ),
        (
            format!("/api/boards/{bid}/columns/"),
            json!({"name": "x".repeat(101)}),
            "name",
        ),
        (
            format!("/api/boards/{bid}/columns/"),
            json!({"name": "Q", "order": -1}),
            "order",
        ),
        (
            format!("/api/boards/columns/{todo}/tasks/"),
            json!({"description": "no title"}),
            "title",
        ),
        (
            format!("/api/boards/columns/{todo}/tasks/"),
            json!({"title": "t", "priority": "urgentissimo"}),
            "priority",
        ),
        (
            format!("/api/boards/columns/{todo}/tasks/"),
            json!({"title": "t", "due_date": "tomorrow"}),
            "due_date",
        ),
        (
            format!("/api/boards/columns/{todo}/tasks/"),
            json!({"title": "t", "assigned_to_ids": ["nope"]}),
            "assigned_to_ids",
        ),
        (
            format!("/api/boards/columns/{todo}/tasks/"),
            json!({"title": "t", "account": Uuid::new_v4()}),
            "account",
        ),
        (
            format!("/api/boards/columns/{todo}/tasks/"),
            json!({"title": "t", "opportunity": Uuid::new_v4()}),
            "opportunity",
        ),
        (
            format!("/api/boards/{bid}/members/"),
            json!({"role": "viewer"}),
            "profile",
        ),
        (
            format!("/api/boards/{bid}/members/"),
            json!({"profile": admin.profile_id, "role": "boss"}),
            "role",
        ),
    ];
    for (path, body, field) in cases {
        let res = app.post(&path, Some(&admin.access), &body).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{path} {body}: {}",
            res.text
        );
        assert!(res.body[field].is_array(), "{path} {body}: {}", res.text);
    }
    for (body, field) in [
        (json!({"title": ""}), "title"),
        (json!({"column": "not-a-uuid"}), "column"),
        (json!({"column": null}), "column"),
        (json!({"column": Uuid::new_v4()}), "column"),
        (json!({"order": "first"}), "order"),
    ] {
        let res = app
            .patch(
                &format!("/api/boards/tasks/{c}/"),
                Some(&admin.access),
                &body,
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert!(res.body[field].is_array(), "{body}: {}", res.text);
    }
    // Renaming a column to its own name is not a clash; to another's is.
    let res = app
        .patch(
            &format!("/api/boards/columns/{todo}/"),
            Some(&admin.access),
            &json!({"name": "To Do"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .patch(
            &format!("/api/boards/columns/{todo}/"),
            Some(&admin.access),
            &json!({"name": "Done"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // Unknown keys (`org`, `column` on create) are ignored; non-uuid path ids are 404s.
    let res = app
        .post(
            &format!("/api/boards/columns/{todo}/tasks/"),
            Some(&admin.access),
            &json!({"title": "t", "org": "whatever", "column": "junk", "foo": 1}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["column"], json!(todo), "the URL's column wins");
    assert_eq!(
        app.get("/api/boards/nope/", Some(&admin.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let res = app
        .get(
            &format!("/api/boards/{}/", Uuid::new_v4()),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body["detail"], "No Board matches the given query.");
    let res = app
        .patch(
            &format!("/api/boards/{bid}/"),
            Some(&admin.access),
            &json!({"name": ""}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error"], true);
    assert!(res.body["errors"]["name"].is_array());
}

/// Upstream let a card move into any column of the org, even on a board the caller cannot see.
#[tokio::test]
async fn upstream_card_move_to_another_boards_column_is_refused() {
    let app = TestApp::new().await;
    let admin = app.admin("bx-admin@example.com").await;
    let user = app
        .member(admin.org_id, "bx-user@example.com", "USER")
        .await;
    let mine = board(&app, &user, "Mine").await;
    let theirs = board(&app, &admin, "Theirs").await;
    let c = card(&app, &user, id_of(&mine["columns"][0]), "c").await;
    let res = app
        .patch(
            &format!("/api/boards/tasks/{c}/"),
            Some(&user.access),
            &json!({"column": id_of(&theirs["columns"][0]), "order": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["column"].is_array());
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM board_task t JOIN board_column c ON c.id = t.column_id WHERE c.board_id = $1")
        .bind(id_of(&theirs))
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

/// Another org's ids: in the path a 404, in the body a 400 on the field; nothing written.
#[tokio::test]
async fn other_orgs_ids_are_404_in_the_path_and_400_in_the_body() {
    let app = TestApp::new().await;
    let a = app.admin("bo-a@example.com").await;
    let b = app.admin("bo-b@example.com").await;
    let mine = board(&app, &a, "A board").await;
    let theirs = board(&app, &b, "B board").await;
    let (my_col, their_col) = (id_of(&mine["columns"][0]), id_of(&theirs["columns"][0]));
    let their_card = card(&app, &b, their_col, "secret").await;
    let my_card = card(&app, &a, my_col, "mine").await;
    let tb = id_of(&theirs);
    for path in [
        format!("/api/boards/{tb}/"),
        format!("/api/boards/{tb}/columns/"),
        format!("/api/boards/{tb}/members/"),
        format!("/api/boards/columns/{their_col}/"),
        format!("/api/boards/columns/{their_col}/tasks/"),
        format!("/api/boards/tasks/{their_card}/"),
    ] {
        let res = app.get(&path, Some(&a.access)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!res.text.contains("secret"));
    }
    assert_eq!(
        app.patch(
            &format!("/api/boards/tasks/{their_card}/"),
            Some(&a.access),
            &json!({"title": "pwned"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/api/boards/{tb}/"), Some(&a.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            &format!("/api/boards/columns/{their_col}/tasks/"),
            Some(&a.access),
            &json!({"title": "x"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // In the body.
    let account = Uuid::new_v4();
    sqlx::query("INSERT INTO accounts (created_at, updated_at, id, name, is_active, org_id) VALUES (now(), now(), $1, 'B acct', true, $2)")
        .bind(account)
        .bind(b.org_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    for (body, field) in [
        (json!({"column": their_col, "order": 0}), "column"),
        (
            json!({"assigned_to_ids": [b.profile_id]}),
            "assigned_to_ids",
        ),
        (json!({"account": account}), "account"),
    ] {
        let res = app
            .patch(
                &format!("/api/boards/tasks/{my_card}/"),
                Some(&a.access),
                &body,
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert!(res.body[field].is_array(), "{body}: {}", res.text);
    }
    let res = app
        .post(
            &format!("/api/boards/{}/members/", id_of(&mine)),
            Some(&a.access),
            &json!({"profile": b.profile_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["profile"].is_array());
    let (title, col, acct): (String, Uuid, Option<Uuid>) =
        sqlx::query_as("SELECT title, column_id, account_id FROM board_task WHERE id = $1")
            .bind(my_card)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!((title.as_str(), col, acct), ("mine", my_col, None));
    let (title,): (String,) = sqlx::query_as("SELECT title FROM board_task WHERE id = $1")
        .bind(their_card)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(title, "secret");
}

/// Assignees: profile ids of the org (a member's user id is taken as their profile, as the
/// frontend sometimes sends it); they are rendered as ProfileObj and e-mailed once.
#[tokio::test]
async fn card_assignees_links_and_assignment_mail() {
    let app = TestApp::new().await;
    let admin = app.admin("ba-admin@example.com").await;
    let user = app
        .member(admin.org_id, "ba-user@example.com", "USER")
        .await;
    let b = board(&app, &admin, "Assign").await;
    let todo = id_of(&b["columns"][0]);
    let account = Uuid::new_v4();
    sqlx::query("INSERT INTO accounts (created_at, updated_at, id, name, is_active, org_id) VALUES (now(), now(), $1, 'Acme', true, $2)")
        .bind(account)
        .bind(admin.org_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let res = app
        .post(
            &format!("/api/boards/columns/{todo}/tasks/"),
            Some(&admin.access),
            &json!({"title": "Call", "assigned_to_ids": [user.user_id], "account": account, "due_date": "2999-01-01T10:00:00Z"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["assigned_to"][0]["id"], json!(user.profile_id));
    assert_eq!(
        res.body["assigned_to"][0]["user_details"]["email"],
        "ba-user@example.com"
    );
    assert_eq!(res.body["account"], json!(account));
    assert_eq!(res.body["is_overdue"], false);
    let id = id_of(&res.body);
    let mails: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE payload::text LIKE '%ba-user@example.com%'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(mails, 1);
    // Unassign, clear the account.
    let res = app
        .patch(
            &format!("/api/boards/tasks/{id}/"),
            Some(&admin.access),
            &json!({"assigned_to_ids": [], "account": null}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["assigned_to"], json!([]));
    assert_eq!(res.body["account"], Value::Null);
}

/// Upstream fixed bugs, one test each: the frontend's column and card creates (400: `org`
/// missing), a duplicate column name (500), `assigned_to_ids` on create (500), a non-uuid board
/// id (500) and the drag-and-drop PATCH (405).
#[tokio::test]
async fn upstream_bugs_frontend_creates_without_org_duplicate_column_and_patch_405() {
    let app = TestApp::new().await;
    let admin = app.admin("bu-admin@example.com").await;
    let b = board(&app, &admin, "Bugs").await;
    let (bid, todo, done) = (id_of(&b), id_of(&b["columns"][0]), id_of(&b["columns"][2]));
    // upstream_column_create_without_org_400: the frontend's exact body.
    let res = app
        .post(
            &format!("/api/boards/{bid}/columns/"),
            Some(&admin.access),
            &json!({"name": "QA", "color": "#6B7280"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["color"], "#6B7280");
    assert_eq!(res.body["tasks"], json!([]));
    // upstream_duplicate_column_name_500.
    let res = app
        .post(
            &format!("/api/boards/{bid}/columns/"),
            Some(&admin.access),
            &json!({"name": "QA", "color": "#6B7280"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["name"][0].as_str().unwrap().contains("QA"));
    // upstream_card_create_without_org_400 and upstream_assigned_to_ids_on_create_500.
    let res = app
        .post(
            &format!("/api/boards/columns/{todo}/tasks/"),
            Some(&admin.access),
            &json!({"title": "T", "description": "", "priority": "medium", "column": todo, "assigned_to_ids": [admin.profile_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["assigned_to"][0]["id"], json!(admin.profile_id));
    let card = id_of(&res.body);
    // upstream_patch_card_405: the frontend's drag and drop.
    let res = app
        .patch(
            &format!("/api/boards/tasks/{card}/"),
            Some(&admin.access),
            &json!({"column": done, "order": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["column"], json!(done));
    assert_eq!(res.body["order"], 0);
    // upstream_non_uuid_board_id_500.
    for path in [
        "/api/boards/1/",
        "/api/boards/x/columns/",
        "/api/boards/tasks/1/",
        "/api/boards/columns/zz/tasks/",
    ] {
        assert_eq!(
            app.get(path, Some(&admin.access)).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}
