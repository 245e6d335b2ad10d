//! The daily reminder (`Job::TaskReminders`, scheduled per org in `jobs::schedule::SCHEDULES`):
//! each active assignee of an open task (not Completed) due today or earlier gets one e-mail per
//! task. The `task_reminder` ledger (task, assignee, day) is written in the job's transaction
//! with the e-mail jobs it queues, so a second run the same day (another worker, a retry, a
//! restart) sends nothing again. Days are UTC dates.

use chrono::Utc;
use uuid::Uuid;

use super::model;
use crate::common::comments::TASKS;
use crate::db::tenant::Tx;
use crate::jobs::{Job, queue};
use crate::mail::templates::context;

pub(crate) async fn run(tx: &mut Tx, org: Option<Uuid>) -> anyhow::Result<()> {
    // Scheduled per org: without one there is nothing to remind of.
    let Some(org) = org else { return Ok(()) };
    let today = Utc::now().date_naive();
    for r in model::take_reminders(tx, org, today).await? {
        let due = r.due_date.format("%Y-%m-%d").to_string();
        let job = Job::Email {
            template: "task_reminder".into(),
            to: r.email,
            context: context::task_reminder(
                &r.title,
                &due,
                r.due_date < today,
                &TASKS.page_path(r.task),
            ),
        };
        queue::insert(tx, Some(org), &job, None).await?;
    }
    Ok(())
}
