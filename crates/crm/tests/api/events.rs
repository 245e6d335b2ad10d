use axum::http::StatusCode;
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

const EVENT_KEYS: &[&str] = &[
    "id",
    "name",
    "event_type",
    "status",
    "start",
    "end",
    "all_day",
    "timezone",
    "rrule",
    "recurring",
    "location",
    "description",
    "assigned_to",
    "teams",
    "contacts",
    "lead",
    "account",
    "opportunity",
    "case",
    "series",
    "created_by",
    "created_at",
    "updated_at",
];

async fn create(app: &TestApp, who: &TestUser, body: Value) -> Uuid {
    let res = app.post("/api/events/", Some(&who.access), &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Event Created Successfully");
    res.body["id"].as_str().unwrap().parse().unwrap()
}

async fn window(app: &TestApp, who: &TestUser, query: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/api/events/?{query}"), Some(&who.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body["count"].as_u64().unwrap() as usize,
        res.body["events"].as_array().unwrap().len()
    );
    res.body["events"].as_array().unwrap().clone()
}

fn starts(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["start"].as_str().unwrap()).collect()
}

async fn count_events(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM event")
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

async fn contact(app: &TestApp, org: Uuid, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO contacts (created_at, updated_at, id, first_name, last_name, email, do_not_call, is_active, org_id)
         VALUES (now(), now(), $1, $2, 'Doe', $3, false, true, $4)",
    )
    .bind(id)
    .bind(name)
    .bind(format!("{}@contacts.example.com", name.to_lowercase()))
    .bind(org)
    .execute(&app.db.admin)
    .await
    .unwrap();
    id
}

async fn account(app: &TestApp, org: Uuid, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO accounts (created_at, updated_at, id, name, is_active, org_id) VALUES (now(), now(), $1, $2, true, $3)",
    )
    .bind(id)
    .bind(name)
    .bind(org)
    .execute(&app.db.admin)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn create_detail_list_update_delete_with_the_keys_clients_read() {
    let app = TestApp::new().await;
    let admin = app.admin("ev-admin@example.com").await;
    let user = app
        .member(admin.org_id, "ev-user@example.com", "USER")
        .await;
    let c = contact(&app, admin.org_id, "Ann").await;
    let a = account(&app, admin.org_id, "Acme").await;
    let id = create(
        &app,
        &admin,
        json!({"name": "Kick-off", "event_type": "meeting", "status": "Planned",
               "start": "2026-06-01T10:00:00+02:00", "end": "2026-06-01T11:30:00+02:00",
               "timezone": "Europe/Berlin", "location": "Room 1", "description": "Agenda",
               "assigned_to": [user.profile_id], "contacts": [c], "account": a, "lead": "", "unknown": 1}),
    )
    .await;
    let res = app
        .get(&format!("/api/events/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let obj = &res.body["event_obj"];
    for k in EVENT_KEYS {
        assert!(obj.get(*k).is_some(), "event_obj lacks {k}: {obj}");
    }
    for k in [
        "invitees",
        "exceptions",
        "comments",
        "attachments",
        "users_mention",
    ] {
        assert!(res.body[k].is_array(), "{k}: {}", res.text);
    }
    assert_eq!(obj["start"], "2026-06-01T10:00:00+02:00");
    assert_eq!(obj["end"], "2026-06-01T11:30:00+02:00");
    assert_eq!(obj["timezone"], "Europe/Berlin");
    assert_eq!(obj["rrule"], Value::Null);
    assert_eq!(obj["recurring"], false);
    assert_eq!(obj["account"], json!({"id": a, "name": "Acme"}));
    assert_eq!(obj["lead"], Value::Null);
    assert_eq!(obj["contacts"][0]["id"], json!(c));
    assert_eq!(obj["assigned_to"][0]["id"], json!(user.profile_id));
    assert_eq!(obj["created_by"]["email"], "ev-admin@example.com");

    // The assignee gets an e-mail through the queue; the activity stream names the event.
    let (jobs,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM jobs WHERE kind = 'email' AND payload->>'to' = 'ev-user@example.com'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(jobs, 1);
    let (acts,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM activity WHERE entity_type = 'Event' AND entity_id = $1 AND action = 'CREATE'",
    )
    .bind(id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(acts, 1);

    // The contact list counts the contact's events; the event list filters by a linked record.
    let res = app.get("/api/contacts/", Some(&admin.access)).await;
    assert_eq!(
        res.body["contact_obj_list"][0]["event_count"], 1,
        "{}",
        res.text
    );
    let res = app
        .get(
            &format!("/api/events/?contacts={c}&account={a}"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.body["count"], 1, "{}", res.text);
    let res = app
        .get(
            &format!("/api/events/?account={}", Uuid::new_v4()),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.body["count"], 0, "{}", res.text);

    let res = app.get("/api/events/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["count"], 1);
    assert_eq!(res.body["events_count"], 1);
    for k in EVENT_KEYS {
        assert!(
            res.body["events"][0].get(*k).is_some(),
            "list item lacks {k}"
        );
    }

    // PATCH moves the start and keeps the length.
    let res = app
        .patch(
            &format!("/api/events/{id}/"),
            Some(&user.access),
            &json!({"start": "2026-06-02T09:00:00+02:00", "status": "Held"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .get(&format!("/api/events/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.body["event_obj"]["end"], "2026-06-02T10:30:00+02:00");
    assert_eq!(res.body["event_obj"]["status"], "Held");
    assert_eq!(res.body["event_obj"]["contacts"][0]["id"], json!(c));

    // PUT replaces everything: lists and links not sent are emptied.
    let res = app
        .put(
            &format!("/api/events/{id}/"),
            Some(&admin.access),
            &json!({"name": "Kick-off 2", "start": "2026-06-03", "end": "2026-06-03", "all_day": true,
                    "timezone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .get(&format!("/api/events/{id}/"), Some(&admin.access))
        .await;
    let obj = &res.body["event_obj"];
    assert_eq!(obj["name"], "Kick-off 2");
    assert_eq!(obj["all_day"], true);
    assert_eq!(obj["start"], "2026-06-03T00:00:00+02:00");
    assert_eq!(obj["end"], "2026-06-04T00:00:00+02:00");
    assert_eq!(obj["contacts"], json!([]));
    assert_eq!(obj["account"], Value::Null);

    // Comments through the shared mechanism.
    let res = app
        .post(
            &format!("/api/events/comment/{id}/"),
            Some(&admin.access),
            &json!({"comment": "Bring slides"}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    let res = app
        .get(&format!("/api/events/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.body["comments"][0]["comment"], "Bring slides");

    // Only an admin or the creator deletes.
    let res = app
        .delete(&format!("/api/events/{id}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let res = app
        .delete(&format!("/api/events/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(count_events(&app).await, 0);
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM comment WHERE object_id = $1")
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn every_validation_rule_is_a_400_on_its_field_and_writes_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin("ev-val@example.com").await;
    let ok = json!({"name": "X", "start": "2026-06-01T10:00:00Z", "end": "2026-06-01T11:00:00Z"});
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "name"),
        (json!({"name": "X", "end": "2026-06-01T11:00:00Z"}), "start"),
        (json!({"name": "X", "start": "2026-06-01T11:00:00Z"}), "end"),
        (
            json!({"name": "", "start": "2026-06-01T10:00:00Z", "end": "2026-06-01T11:00:00Z"}),
            "name",
        ),
        (
            json!({"name": "X", "start": "2026-06-01T11:00:00Z", "end": "2026-06-01T10:00:00Z"}),
            "end",
        ),
        (
            json!({"name": "X", "start": "2026-06-01T11:00:00Z", "end": "2026-06-01T11:00:00Z"}),
            "end",
        ),
        (
            json!({"name": "X", "start": "tomorrow", "end": "2026-06-01T11:00:00Z"}),
            "start",
        ),
        (
            json!({"name": "X", "start": "2026-06-01T10:00:00", "end": "2026-06-01T11:00:00Z"}),
            "start",
        ),
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"event_type": "party"}), "event_type"),
        (json!({"status": "Done"}), "status"),
        (json!({"rrule": "FREQ=HOURLY"}), "rrule"),
        (json!({"rrule": "FREQ=DAILY;BYSETPOS=1"}), "rrule"),
        (
            json!({"rrule": "FREQ=DAILY;COUNT=2;UNTIL=20270101"}),
            "rrule",
        ),
        (json!({"rrule": "FREQ=DAILY;INTERVAL=0"}), "rrule"),
        (json!({"rrule": "FREQ=WEEKLY;BYDAY=XX"}), "rrule"),
        (json!({"rrule": "COUNT=3"}), "rrule"),
        // 2026-06-01 is a Monday: a Tuesday rule does not start there.
        (json!({"rrule": "FREQ=WEEKLY;BYDAY=TU"}), "rrule"),
        // Ends before it starts.
        (json!({"rrule": "FREQ=DAILY;UNTIL=20260501"}), "rrule"),
        (json!({"location": "x".repeat(256)}), "location"),
        (json!({"contacts": ["nope"]}), "contacts"),
        (json!({"lead": "nope"}), "lead"),
        (json!({"assigned_to": [Uuid::new_v4()]}), "assigned_to"),
    ];
    for (patch, field) in cases {
        let mut body = ok.clone();
        if patch.as_object().unwrap().is_empty() {
            body = json!({});
        }
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        if field == "start" && patch.get("start").is_none() {
            body.as_object_mut().unwrap().remove("start");
        }
        if field == "end" && patch.get("end").is_none() {
            body.as_object_mut().unwrap().remove("end");
        }
        let res = app.post("/api/events/", Some(&admin.access), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert!(
            res.body["errors"][field].is_array(),
            "{body}: expected an error on {field}: {}",
            res.text
        );
    }
    assert_eq!(count_events(&app).await, 0);
}

#[tokio::test]
async fn daily_series_keeps_its_wall_clock_time_across_the_spring_dst_change() {
    let app = TestApp::new().await;
    let admin = app.admin("ev-dst@example.com").await;
    let id = create(
        &app,
        &admin,
        json!({"name": "Standup", "start": "2026-03-27T09:00:00+01:00", "end": "2026-03-27T09:15:00+01:00",
               "timezone": "Europe/Berlin", "rrule": "RRULE:FREQ=DAILY;COUNT=5", "assigned_to": [admin.profile_id]}),
    )
    .await;
    let items = window(
        &app,
        &admin,
        "from=2026-03-26T00:00:00Z&to=2026-04-10T00:00:00Z",
    )
    .await;
    assert_eq!(
        starts(&items),
        vec![
            "2026-03-27T09:00:00+01:00",
            "2026-03-28T09:00:00+01:00",
            "2026-03-29T09:00:00+02:00",
            "2026-03-30T09:00:00+02:00",
            "2026-03-31T09:00:00+02:00",
        ]
    );
    assert_eq!(items[2]["end"], "2026-03-29T09:15:00+02:00");
    assert_eq!(items[2]["occurrence"], "2026-03-29T07:00:00Z");
    assert_eq!(items[2]["id"], json!(id));
    assert_eq!(items[2]["rrule"], "FREQ=DAILY;COUNT=5");
    assert_eq!(items[2]["assigned_to"], json!([admin.profile_id]));
    // In the caller's zone: 08:00 UTC, then 07:00 UTC once Berlin is on summer time.
    let items = window(&app, &admin, "from=2026-03-28&to=2026-03-30&tz=UTC").await;
    assert_eq!(
        starts(&items),
        vec!["2026-03-28T08:00:00+00:00", "2026-03-29T07:00:00+00:00"]
    );
    // A window that only overlaps the end of an occurrence still shows it.
    let items = window(
        &app,
        &admin,
        "from=2026-03-31T07:10:00Z&to=2026-03-31T07:11:00Z",
    )
    .await;
    assert_eq!(starts(&items), vec!["2026-03-31T09:00:00+02:00"]);
    // Past the last occurrence: nothing.
    assert!(
        window(&app, &admin, "from=2026-04-01&to=2026-04-30")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_time_in_the_spring_forward_gap_moves_by_the_gap_and_weekly_rules_cross_the_fall_back() {
    let app = TestApp::new().await;
    let admin = app.admin("ev-gap@example.com").await;
    create(
        &app,
        &admin,
        json!({"name": "Backup", "start": "2026-03-28T02:30:00+01:00", "end": "2026-03-28T02:45:00+01:00",
               "timezone": "Europe/Berlin", "rrule": "FREQ=DAILY;COUNT=3"}),
    )
    .await;
    let items = window(&app, &admin, "from=2026-03-27&to=2026-04-02").await;
    assert_eq!(
        starts(&items),
        vec![
            "2026-03-28T02:30:00+01:00",
            "2026-03-29T03:30:00+02:00",
            "2026-03-30T02:30:00+02:00",
        ]
    );
    // New York leaves summer time on Sunday 2026-11-01: Mon/Wed/Fri at 09:00 local stay 09:00.
    create(
        &app,
        &admin,
        json!({"name": "Sync", "start": "2026-10-30T09:00:00-04:00", "end": "2026-10-30T09:30:00-04:00",
               "timezone": "America/New_York", "rrule": "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=3"}),
    )
    .await;
    let items = window(&app, &admin, "from=2026-10-29&to=2026-11-10&name=Sync").await;
    assert_eq!(
        starts(&items),
        vec![
            "2026-10-30T09:00:00-04:00",
            "2026-11-02T09:00:00-05:00",
            "2026-11-04T09:00:00-05:00",
        ]
    );
    let occurrences: Vec<&str> = items
        .iter()
        .map(|i| i["occurrence"].as_str().unwrap())
        .collect();
    assert_eq!(
        occurrences,
        vec![
            "2026-10-30T13:00:00Z",
            "2026-11-02T14:00:00Z",
            "2026-11-04T14:00:00Z"
        ]
    );
}

#[tokio::test]
async fn monthly_yearly_interval_and_until_rules_expand_as_rfc_5545_says() {
    let app = TestApp::new().await;
    let admin = app.admin("ev-rules@example.com").await;
    let mk = |name: &str, start: &str, end: &str, rule: &str| json!({"name": name, "start": start, "end": end, "rrule": rule, "timezone": "UTC"});
    create(
        &app,
        &admin,
        mk(
            "LastFri",
            "2026-01-30T15:00:00Z",
            "2026-01-30T16:00:00Z",
            "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
        ),
    )
    .await;
    create(
        &app,
        &admin,
        mk(
            "Fortnight",
            "2026-02-02T10:00:00Z",
            "2026-02-02T11:00:00Z",
            "FREQ=WEEKLY;INTERVAL=2;UNTIL=20260301",
        ),
    )
    .await;
    create(
        &app,
        &admin,
        mk(
            "Day31",
            "2026-01-31T08:00:00Z",
            "2026-01-31T09:00:00Z",
            "FREQ=MONTHLY;COUNT=3",
        ),
    )
    .await;
    create(
        &app,
        &admin,
        mk(
            "SecondTue",
            "2026-01-13T08:00:00Z",
            "2026-01-13T09:00:00Z",
            "FREQ=MONTHLY;BYDAY=2TU;UNTIL=20260430T000000Z",
        ),
    )
    .await;
    create(
        &app,
        &admin,
        mk(
            "Anniv",
            "2026-02-10T08:00:00Z",
            "2026-02-10T09:00:00Z",
            "FREQ=YEARLY",
        ),
    )
    .await;
    let q = |name: &str| format!("from=2026-01-01&to=2027-01-31&name={name}");
    assert_eq!(
        starts(&window(&app, &admin, &q("LastFri")).await),
        vec![
            "2026-01-30T15:00:00+00:00",
            "2026-02-27T15:00:00+00:00",
            "2026-03-27T15:00:00+00:00"
        ]
    );
    assert_eq!(
        starts(&window(&app, &admin, &q("Fortnight")).await),
        vec!["2026-02-02T10:00:00+00:00", "2026-02-16T10:00:00+00:00"]
    );
    // Months without a 31st are skipped, not clamped.
    assert_eq!(
        starts(&window(&app, &admin, &q("Day31")).await),
        vec![
            "2026-01-31T08:00:00+00:00",
            "2026-03-31T08:00:00+00:00",
            "2026-05-31T08:00:00+00:00"
        ]
    );
    assert_eq!(
        starts(&window(&app, &admin, &q("SecondTue")).await),
        vec![
            "2026-01-13T08:00:00+00:00",
            "2026-02-10T08:00:00+00:00",
            "2026-03-10T08:00:00+00:00",
            "2026-04-14T08:00:00+00:00",
        ]
    );
    assert_eq!(
        starts(&window(&app, &admin, "from=2026-02-01&to=2027-03-01&name=Anniv").await),
        vec!["2026-02-10T08:00:00+00:00", "2027-02-10T08:00:00+00:00"]
    );
    // The plain list shows each series once.
    let res = app.get("/api/events/", Some(&admin.access)).await;
    assert_eq!(res.body["count"], 5);
}

#[tokio::test]
async fn window_parameters_are_checked() {
    let app = TestApp::new().await;
    let admin = app.admin("ev-win@example.com").await;
    for (query, field) in [
        ("from=2026-01-01", "to"),
        ("to=2026-01-01", "from"),
        ("from=2026-02-01&to=2026-01-01", "to"),
        ("from=2026-01-01&to=2027-06-01", "to"),
        ("from=soon&to=2026-01-01", "from"),
        ("from=2026-01-01&to=2026-02-01&tz=Nowhere/Land", "tz"),
    ] {
        let res = app
            .get(&format!("/api/events/?{query}"), Some(&admin.access))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{query}: {}", res.text);
        assert!(res.body[field].is_array(), "{query}: {}", res.text);
    }
}

#[tokio::test]
async fn single_occurrences_and_this_and_following_can_be_changed_or_cancelled() {
    let app = TestApp::new().await;
    let admin = app.admin("ev-occ@example.com").await;
    let c = contact(&app, admin.org_id, "Bea").await;
    let id = create(
        &app,
        &admin,
        json!({"name": "Daily", "start": "2026-05-04T10:00:00Z", "end": "2026-05-04T10:30:00Z",
               "rrule": "FREQ=DAILY;COUNT=5", "contacts": [c]}),
    )
    .await;
    let occ = |t: &str| format!("/api/events/{id}/occurrences/{t}/");
    let all = "from=2026-05-01&to=2026-06-01";

    // Cancel one.
    let res = app
        .delete(&occ("2026-05-05T10:00:00Z"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Move and rename another (iCalendar form of the id works too).
    let res = app
        .patch(
            &occ("20260506T100000Z"),
            Some(&admin.access),
            &json!({"name": "Moved", "start": "2026-05-06T14:00:00Z"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Not an occurrence: 404; a bad scope: 400.
    let res = app
        .patch(
            &occ("2026-05-06T11:00:00Z"),
            Some(&admin.access),
            &json!({"name": "No"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    let res = app
        .patch(
            &occ("2026-05-06T10:00:00Z"),
            Some(&admin.access),
            &json!({"scope": "all"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);

    let items = window(&app, &admin, all).await;
    assert_eq!(
        starts(&items),
        vec![
            "2026-05-04T10:00:00+00:00",
            "2026-05-06T14:00:00+00:00",
            "2026-05-07T10:00:00+00:00",
            "2026-05-08T10:00:00+00:00",
        ]
    );
    assert_eq!(items[1]["name"], "Moved");
    assert_eq!(items[1]["end"], "2026-05-06T14:30:00+00:00");
    assert_eq!(items[1]["modified"], true);
    assert_eq!(items[1]["occurrence"], "2026-05-06T10:00:00Z");
    assert_eq!(items[0]["modified"], false);
    // The moved occurrence is found by a window around its new time only.
    assert_eq!(
        window(
            &app,
            &admin,
            "from=2026-05-06T13:00:00Z&to=2026-05-06T15:00:00Z"
        )
        .await
        .len(),
        1
    );
    assert_eq!(
        window(
            &app,
            &admin,
            "from=2026-05-06T09:00:00Z&to=2026-05-06T11:00:00Z"
        )
        .await
        .len(),
        0
    );

    // This and following: renamed from 05-07 on, in a new series with what COUNT had left.
    let res = app
        .patch(
            &occ("2026-05-07T10:00:00Z"),
            Some(&admin.access),
            &json!({"scope": "following", "name": "Renamed"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let new_id = res.body["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, id.to_string());
    let items = window(&app, &admin, all).await;
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Daily", "Moved", "Renamed", "Renamed"]);
    assert_eq!(items[2]["id"], json!(new_id));
    let res = app
        .get(&format!("/api/events/{new_id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.body["event_obj"]["rrule"], "FREQ=DAILY;COUNT=2");
    assert_eq!(res.body["event_obj"]["series"], json!(id));
    assert_eq!(res.body["event_obj"]["contacts"][0]["id"], json!(c));
    let res = app
        .get(&format!("/api/events/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(
        res.body["event_obj"]["rrule"],
        "FREQ=DAILY;UNTIL=20260507T095959Z"
    );
    assert_eq!(res.body["exceptions"].as_array().unwrap().len(), 2);

    // Cancelling this and following of the new series ends it after its first occurrence.
    let res = app
        .delete(
            &format!("/api/events/{new_id}/occurrences/2026-05-08T10:00:00Z/?scope=following"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(window(&app, &admin, all).await.len(), 3);
    // From the first occurrence, "following" is the whole series.
    let res = app
        .delete(
            &format!("/api/events/{new_id}/occurrences/2026-05-07T10:00:00Z/?scope=following"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(count_events(&app).await, 1);
    // A single event has no occurrences to edit.
    let single = create(
        &app,
        &admin,
        json!({"name": "One", "start": "2026-05-04T10:00:00Z", "end": "2026-05-04T11:00:00Z"}),
    )
    .await;
    let res = app
        .delete(
            &format!("/api/events/{single}/occurrences/2026-05-04T10:00:00Z/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
}

#[tokio::test]
async fn a_user_sees_and_edits_only_their_own_assigned_or_team_events() {
    let app = TestApp::new().await;
    let admin = app.admin("ev-vis@example.com").await;
    let user = app
        .member(admin.org_id, "ev-vis-user@example.com", "USER")
        .await;
    let body = |name: &str| json!({"name": name, "start": "2026-07-01T10:00:00Z", "end": "2026-07-01T11:00:00Z"});
    let hidden = create(&app, &admin, body("Hidden")).await;
    let own = create(&app, &user, body("Own")).await;
    let mut assigned_body = body("Assigned");
    assigned_body["assigned_to"] = json!([user.profile_id]);
    let assigned = create(&app, &admin, assigned_body).await;

    let res = app
        .get("/api/events/?ordering=name", Some(&user.access))
        .await;
    let names: Vec<&str> = res.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Assigned", "Own"]);
    assert_eq!(
        window(&app, &user, "from=2026-07-01&to=2026-07-02")
            .await
            .len(),
        2
    );
    assert_eq!(
        window(&app, &admin, "from=2026-07-01&to=2026-07-02")
            .await
            .len(),
        3
    );

    let res = app
        .get(&format!("/api/events/{hidden}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let res = app
        .patch(
            &format!("/api/events/{hidden}/"),
            Some(&user.access),
            &json!({"name": "Mine"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let res = app
        .put(
            &format!("/api/events/{hidden}/"),
            Some(&user.access),
            &body("Mine"),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let res = app
        .patch(
            &format!("/api/events/{assigned}/"),
            Some(&user.access),
            &json!({"location": "Here"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .delete(&format!("/api/events/{assigned}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let res = app
        .delete(&format!("/api/events/{own}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

#[tokio::test]
async fn another_orgs_ids_are_404_in_the_path_and_400_in_the_body() {
    let app = TestApp::new().await;
    let a = app.admin("ev-a@example.com").await;
    let b = app.admin("ev-b@example.com").await;
    let b_contact = contact(&app, b.org_id, "Bob").await;
    let b_account = account(&app, b.org_id, "Bco").await;
    let id = create(
        &app,
        &a,
        json!({"name": "A's", "start": "2026-07-01T10:00:00Z", "end": "2026-07-01T11:00:00Z",
                                     "rrule": "FREQ=DAILY;COUNT=2"}),
    )
    .await;
    for path in [
        format!("/api/events/{id}/"),
        format!("/api/events/{id}/occurrences/2026-07-01T10:00:00Z/"),
    ] {
        let res = app
            .patch(&path, Some(&b.access), &json!({"name": "B's"}))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}: {}", res.text);
        let res = app.delete(&path, Some(&b.access)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}: {}", res.text);
    }
    let res = app
        .get(&format!("/api/events/{id}/"), Some(&b.access))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(
        window(&app, &b, "from=2026-07-01&to=2026-07-03")
            .await
            .is_empty()
    );
    for (key, val) in [
        ("contacts", json!([b_contact])),
        ("account", json!(b_account)),
        ("assigned_to", json!([b.profile_id])),
    ] {
        let res = app
            .patch(
                &format!("/api/events/{id}/"),
                Some(&a.access),
                &json!({key: val}),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{key}: {}", res.text);
        assert!(res.body["errors"][key].is_array(), "{key}: {}", res.text);
    }
    let (name, links): (String, i64) = sqlx::query_as(
        "SELECT name, (SELECT count(*) FROM event_contacts WHERE event_id = $1) FROM event WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!((name.as_str(), links), ("A's", 0));
}

fn worker(app: &TestApp) -> crm::jobs::Worker {
    let mailer = crm::mail::Mailer::outbox("no-reply@bottlecrm.local", "http://localhost:5173")
        .unwrap()
        .with_link_secret(&app.state.cfg.secret_key);
    let opts = crm::jobs::WorkerOptions {
        poll_interval: std::time::Duration::from_millis(50),
        backoff_base: std::time::Duration::from_millis(100),
        ..crm::jobs::WorkerOptions::default()
    };
    crm::jobs::Worker::new(app.db.app.clone(), opts, mailer)
}

#[tokio::test]
async fn invitees_get_an_ics_by_email_and_answer_through_a_signed_link_without_login() {
    let app = TestApp::new().await;
    let admin = app.admin("ev-inv@example.com").await;
    let other = app.admin("ev-inv-other@example.com").await;
    let user = app
        .member(admin.org_id, "ev-inv-user@example.com", "USER")
        .await;
    let c = contact(&app, admin.org_id, "Cleo").await;
    let no_mail = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO contacts (created_at, updated_at, id, first_name, last_name, do_not_call, is_active, org_id)
         VALUES (now(), now(), $1, 'No', 'Mail', false, true, $2)",
    )
    .bind(no_mail)
    .bind(admin.org_id)
    .execute(&app.db.admin)
    .await
    .unwrap();
    let foreign = contact(&app, other.org_id, "Fred").await;
    let id = create(
        &app,
        &admin,
        json!({"name": "Review; Q3, plan", "start": "2026-03-27T09:00:00+01:00", "end": "2026-03-27T10:00:00+01:00",
               "timezone": "Europe/Berlin", "rrule": "FREQ=WEEKLY;COUNT=4", "location": "HQ"}),
    )
    .await;
    let res = app
        .delete(
            &format!("/api/events/{id}/occurrences/2026-04-03T07:00:00Z/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let path = format!("/api/events/{id}/invitees/");
    for (body, field) in [
        (json!({"contacts": [no_mail]}), "contacts"),
        (json!({"contacts": [foreign]}), "contacts"),
        (json!({"profiles": [other.profile_id]}), "profiles"),
        (json!({}), "profiles"),
    ] {
        let res = app.post(&path, Some(&admin.access), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert!(res.body["errors"][field].is_array(), "{body}: {}", res.text);
    }
    let res = app
        .post(
            &path,
            Some(&admin.access),
            &json!({"profiles": [user.user_id], "contacts": [c]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["invited"].as_array().unwrap().len(), 2);
    // Inviting again invites nobody twice.
    let res = app
        .post(&path, Some(&admin.access), &json!({"contacts": [c]}))
        .await;
    assert_eq!(res.body["invited"], json!([]));
    // A USER who is not an editor may not invite; an invited member sees the event.
    let res = app
        .post(&path, Some(&user.access), &json!({"contacts": [c]}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let res = app
        .get(&format!("/api/events/{id}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    assert_eq!(worker(&app).drain().await.unwrap(), 2);
    let (subject, text, files): (String, String, Value) = sqlx::query_as(
        "SELECT subject, text_body, attachments FROM mail_outbox WHERE to_addr = 'cleo@contacts.example.com'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(subject, "Invitation: Review; Q3, plan");
    assert_eq!(files[0]["filename"], "invite.ics");
    assert!(
        files[0]["content_type"]
            .as_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let ics = files[0]["content"].as_str().unwrap();
    for line in [
        "BEGIN:VCALENDAR",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        &format!("UID:{id}@bottlecrm"),
        "SUMMARY:Review\\; Q3\\, plan",
        "DTSTART;TZID=Europe/Berlin:20260327T090000",
        "DTEND;TZID=Europe/Berlin:20260327T100000",
        "RRULE:FREQ=WEEKLY;COUNT=4",
        "EXDATE;TZID=Europe/Berlin:20260403T090000",
        "LOCATION:HQ",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:cleo@contacts.example.com",
        "ORGANIZER:mailto:ev-inv@example.com",
        "END:VCALENDAR",
    ] {
        assert!(
            ics.split("\r\n").any(|l| l == line),
            "{line} missing in {ics}"
        );
    }
    // The RSVP link's token works without logging in; a forged one is a 404.
    let token = text
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(['.', ')', '"'])
        .to_string();
    let res = app.get(&format!("/api/events/rsvp/{token}/"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["response"], "needs-action");
    assert_eq!(res.body["event"]["name"], "Review; Q3, plan");
    let res = app
        .post(
            &format!("/api/events/rsvp/{token}/"),
            None,
            &json!({"response": "maybe"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    let res = app
        .post(
            &format!("/api/events/rsvp/{token}/"),
            None,
            &json!({"response": "tentative"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["response"], "tentative");
    let last = if token.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let res = app.get(&format!("/api/events/rsvp/{forged}/"), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    // The answer is on the event.
    let res = app
        .get(&format!("/api/events/{id}/"), Some(&admin.access))
        .await;
    let invitees = res.body["invitees"].as_array().unwrap();
    let cleo = invitees.iter().find(|i| i["contact"] == json!(c)).unwrap();
    assert_eq!(cleo["response"], "tentative");
    assert!(cleo["responded_at"].is_string());
    let member = invitees
        .iter()
        .find(|i| i["profile"] == json!(user.profile_id))
        .unwrap();
    assert_eq!(member["response"], "needs-action");
    // Removing an invitee.
    let inv = member["id"].as_str().unwrap();
    let res = app
        .delete(
            &format!("/api/events/{id}/invitees/{inv}/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .get(&format!("/api/events/{id}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
}
