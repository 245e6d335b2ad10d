//! Lead conversion: account, contact (when the lead has an e-mail) and opportunity, created in
//! the caller's transaction, so a failure at any step leaves nothing behind.

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::common::activity::{self, Action};
use crate::db::Tenant;
use crate::error::{ApiError, FieldErrors};

use super::dto::lead_errors;

#[derive(Debug, Serialize)]
pub struct Converted {
    pub account_id: Uuid,
    pub contact_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
}

type LeadRow = (
    Option<String>, // status
    Option<String>, // company_name
    Option<String>, // first_name
    Option<String>, // last_name
    Option<String>, // title
    Option<String>, // email
    Option<String>, // opportunity_amount (text)
);

fn present(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Converts lead `id` (already locked by the caller). Errors are 400s with upstream's envelope.
pub async fn convert(t: &mut Tenant, id: Uuid) -> Result<Converted, ApiError> {
    let org = t.org_id;
    let (status, company, first, last, title, email, amount): LeadRow = sqlx::query_as(
        "SELECT status, company_name, first_name, last_name, title, email, opportunity_amount::text
         FROM lead WHERE org_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut *t.tx)
    .await?;
    let mut errors = FieldErrors::new();
    if status.as_deref() == Some("converted") {
        errors.add("status", "This lead has already been converted.");
        return Err(lead_errors(errors));
    }
    let person = [present(&first), present(&last)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    // Company name, else the person's name; never "X None".
    let account_name = present(&company)
        .map(str::to_string)
        .or_else(|| (!person.is_empty()).then(|| person.clone()))
        .or_else(|| present(&title).map(str::to_string))
        .or_else(|| present(&email).map(str::to_string));
    let Some(account_name) = account_name else {
        errors.add(
            "company_name",
            "A company name or a contact name is needed to convert a lead.",
        );
        return Err(lead_errors(errors));
    };
    let account_name: String = account_name.chars().take(255).collect();
    let email = present(&email).map(str::to_string);
    let (account_taken, contact_taken): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE org_id = $1 AND lower(name) = lower($2)),
                $3::text IS NOT NULL AND EXISTS (SELECT 1 FROM contacts WHERE org_id = $1 AND lower(email) = lower($3))",
    )
    .bind(org)
    .bind(&account_name)
    .bind(&email)
    .fetch_one(&mut *t.tx)
    .await?;
    if account_taken {
        errors.add(
            "company_name",
            format!("An account named \"{account_name}\" already exists."),
        );
    }
    if contact_taken {
        errors.add("email", "A contact with this email already exists.");
    }
    if !errors.is_empty() {
        return Err(lead_errors(errors));
    }

    let account_id = Uuid::new_v4();
    let contact_id = email.as_ref().map(|_| Uuid::new_v4());
    let opportunity_id =
        (present(&amount).is_some() || present(&first).is_some() || present(&company).is_some())
            .then(Uuid::new_v4);
    let opportunity_name = {
        let parts: Vec<&str> = [
            present(&company),
            (!person.is_empty()).then_some(person.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            format!("Opportunity {id}")
        } else {
            parts.join(" - ")
        }
    };

    // Rows first (one statement), then the links between them (a second statement, because
    // the join tables' RLS checks must see the new rows).
    sqlx::query(
        "WITH l AS (SELECT * FROM lead WHERE org_id = $1 AND id = $2),
         acc AS (
            INSERT INTO accounts (created_at, updated_at, id, name, email, phone, website, industry, address_line,
                                  city, state, postcode, country, description, is_active, created_by_id, org_id,
                                  updated_by_id, currency)
            SELECT now(), now(), $3, $6, nullif(l.email, ''), l.phone, left(l.website, 200), nullif(l.industry, ''),
                   l.address_line, l.city, l.state, l.postcode, l.country, l.description, true, $7, $1, $7, l.currency
            FROM l RETURNING id),
         con AS (
            INSERT INTO contacts (created_at, updated_at, id, first_name, last_name, email, phone, organization, title,
                                  do_not_call, linkedin_url, address_line, city, state, postcode, country, description,
                                  is_active, created_by_id, org_id, updated_by_id, account_id)
            SELECT now(), now(), $4, coalesce(l.first_name, ''), coalesce(l.last_name, ''), l.email, l.phone,
                   coalesce(l.company_name, ''), l.job_title, false,
                   CASE WHEN length(l.linkedin_url) <= 200 THEN l.linkedin_url END,
                   l.address_line, l.city, l.state, l.postcode, l.country, l.description, true, $7, $1, $7, $3
            FROM l, acc WHERE $4::uuid IS NOT NULL RETURNING id)
         INSERT INTO opportunity (created_at, updated_at, id, name, stage, currency, amount, probability, closed_on,
                                  lead_source, description, is_active, account_id, created_by_id, org_id,
                                  updated_by_id, amount_source)
         SELECT now(), now(), $5, left($8, 255), 'QUALIFICATION', l.currency, l.opportunity_amount,
                CASE WHEN coalesce(l.probability, 0) = 0 THEN 25 ELSE l.probability END, l.close_date,
                CASE WHEN l.source = 'compaign' THEN 'CAMPAIGN' ELSE upper(nullif(l.source, '')) END,
                l.description, true, (SELECT id FROM acc), $7, $1, $7, 'MANUAL'
         FROM l WHERE $5::uuid IS NOT NULL",
    )
    .bind(org)
    .bind(id)
    .bind(account_id)
    .bind(contact_id)
    .bind(opportunity_id)
    .bind(&account_name)
    .bind(t.user_id)
    .bind(&opportunity_name)
    .execute(&mut *t.tx)
    .await?;

    sqlx::query(
        "WITH
         a1 AS (INSERT INTO accounts_tags (account_id, tags_id) SELECT $3, tags_id FROM lead_tags WHERE lead_id = $2),
         a2 AS (INSERT INTO accounts_assigned_to (account_id, profile_id) SELECT $3, profile_id FROM lead_assigned_to WHERE lead_id = $2),
         a3 AS (INSERT INTO accounts_teams (account_id, teams_id) SELECT $3, teams_id FROM lead_teams WHERE lead_id = $2),
         a4 AS (INSERT INTO accounts_contacts (account_id, contact_id)
                SELECT $3, contact_id FROM lead_contacts WHERE lead_id = $2
                UNION SELECT $3, $4 WHERE $4::uuid IS NOT NULL),
         c1 AS (INSERT INTO contacts_assigned_to (contact_id, profile_id)
                SELECT $4, profile_id FROM lead_assigned_to WHERE lead_id = $2 AND $4::uuid IS NOT NULL),
         o1 AS (INSERT INTO opportunity_assigned_to (opportunity_id, profile_id)
                SELECT $5, profile_id FROM lead_assigned_to WHERE lead_id = $2 AND $5::uuid IS NOT NULL),
         o2 AS (INSERT INTO opportunity_teams (opportunity_id, teams_id)
                SELECT $5, teams_id FROM lead_teams WHERE lead_id = $2 AND $5::uuid IS NOT NULL),
         o3 AS (INSERT INTO opportunity_tags (opportunity_id, tags_id)
                SELECT $5, tags_id FROM lead_tags WHERE lead_id = $2 AND $5::uuid IS NOT NULL),
         o4 AS (INSERT INTO opportunity_contacts (opportunity_id, contact_id)
                SELECT $5, $4 WHERE $4::uuid IS NOT NULL AND $5::uuid IS NOT NULL),
         cm AS (UPDATE comment SET content_type_id = (SELECT id FROM django_content_type WHERE app_label = 'accounts' AND model = 'account'),
                       object_id = $3
                WHERE org_id = $1 AND object_id = $2
                  AND content_type_id = (SELECT id FROM django_content_type WHERE app_label = 'leads' AND model = 'lead')),
         at AS (UPDATE attachments SET content_type_id = (SELECT id FROM django_content_type WHERE app_label = 'accounts' AND model = 'account'),
                       object_id = $3
                WHERE org_id = $1 AND object_id = $2
                  AND content_type_id = (SELECT id FROM django_content_type WHERE app_label = 'leads' AND model = 'lead'))
         UPDATE lead SET status = 'converted', updated_at = now(), updated_by_id = $6 WHERE org_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(id)
    .bind(account_id)
    .bind(contact_id)
    .bind(opportunity_id)
    .bind(t.user_id)
    .execute(&mut *t.tx)
    .await?;

    activity::record(t, Action::Create, "Account", account_id, &account_name).await?;
    if let (Some(cid), Some(e)) = (contact_id, &email) {
        let name = if person.is_empty() {
            e.clone()
        } else {
            person.clone()
        };
        activity::record(t, Action::Create, "Contact", cid, &name).await?;
    }
    if let Some(oid) = opportunity_id {
        activity::record(t, Action::Create, "Opportunity", oid, &opportunity_name).await?;
    }
    Ok(Converted {
        account_id,
        contact_id,
        opportunity_id,
    })
}

impl Converted {
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": false,
            "message": "Lead Converted Successfully",
            "account_id": self.account_id,
            "contact_id": self.contact_id,
            "opportunity_id": self.opportunity_id,
        })
    }
}
