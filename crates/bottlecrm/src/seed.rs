//! `bottlecrm seed`: realistic fake organizations for demos and benchmarks (options after
//! upstream's `seed_data`). With `--seed` the content (names, amounts, statuses, links) repeats. Rows go in with batched
//! `INSERT ... SELECT FROM unnest(...)`, one transaction per batch with the org's RLS context set,
//! so it works as the app role and a million leads take minutes.

use std::collections::HashSet;
use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use clap::Args;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sqlx::{ConnectOptions, PgPool};
use uuid::Uuid;

use crm::db::tenant::{self, Tx};

#[derive(Args, Debug)]
pub struct SeedArgs {
    /// Admin user: reused if it exists, else created with --password.
    #[arg(long)]
    email: String,
    /// Password of created users.
    #[arg(
        long,
        default_value = "testpass123",
        env = "BOTTLECRM_PASSWORD",
        hide_env_values = true
    )]
    password: String,
    /// Organizations to create.
    #[arg(long, default_value_t = 1)]
    orgs: usize,
    /// USER members per org (besides the admin).
    #[arg(long, default_value_t = 3)]
    users_per_org: usize,
    /// Teams per org (at most 6).
    #[arg(long, default_value_t = 2)]
    teams: usize,
    /// Tags per org (at most 15).
    #[arg(long, default_value_t = 5)]
    tags: usize,
    #[arg(long, default_value_t = 15)]
    contacts: usize,
    #[arg(long, default_value_t = 10)]
    accounts: usize,
    #[arg(long, default_value_t = 20)]
    leads: usize,
    /// Kanban boards per org (each with To Do / In Progress / Done and its owner as member).
    #[arg(long, default_value_t = 2)]
    boards: usize,
    /// Cards per board, spread over its three columns.
    #[arg(long, default_value_t = 12)]
    board_cards: usize,
    #[arg(long, default_value_t = 20)]
    tasks: usize,
    /// Cases per org (with their SLA state and a few solutions).
    #[arg(long, default_value_t = 10)]
    cases: usize,
    /// Opportunities per org (about a third with 1-3 product line items).
    #[arg(long, default_value_t = 10)]
    opportunities: usize,
    /// Invoices per org (with 1-3 line items each, payments on paid ones).
    #[arg(long, default_value_t = 20)]
    invoices: usize,
    /// Calendar events per org (a third of them recurring series).
    #[arg(long, default_value_t = 25)]
    events: usize,
    /// E-mails sent from contacts (history), plus templates, a contact form and submissions.
    #[arg(long, default_value_t = 20)]
    emails: usize,
    /// Random seed: the same seed gives the same data.
    #[arg(long)]
    seed: Option<u64>,
    /// Rows per INSERT (and per transaction).
    #[arg(long, default_value_t = 5000)]
    batch: usize,
}

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Steven",
    "Ashley",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Priya",
    "Arjun",
    "Wei",
    "Mei",
    "Omar",
    "Fatima",
    "Lukas",
    "Sofia",
    "Mateo",
    "Aiko",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Patel",
    "Sharma",
    "Chen",
    "Wang",
    "Kim",
    "Tanaka",
    "Muller",
    "Rossi",
    "Silva",
    "Novak",
];
const COMPANY_SUFFIX: &[&str] = &[
    "Inc",
    "LLC",
    "Group",
    "Labs",
    "Partners",
    "Systems",
    "Holdings",
    "& Co",
    "Industries",
    "Solutions",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("New York", "NY", "US"),
    ("Austin", "TX", "US"),
    ("Seattle", "WA", "US"),
    ("Denver", "CO", "US"),
    ("London", "England", "GB"),
    ("Manchester", "England", "GB"),
    ("Toronto", "ON", "CA"),
    ("Vancouver", "BC", "CA"),
    ("Sydney", "NSW", "AU"),
    ("Berlin", "BE", "DE"),
    ("Paris", "IDF", "FR"),
    ("Bengaluru", "KA", "IN"),
    ("Mumbai", "MH", "IN"),
];
const JOBS: &[&str] = &[
    "CEO",
    "CTO",
    "VP Sales",
    "Head of Marketing",
    "Procurement Manager",
    "Operations Director",
    "IT Manager",
    "Product Manager",
    "Founder",
    "Purchasing Agent",
    "CFO",
    "Engineering Lead",
];
const TITLES: &[&str] = &[
    "Product Inquiry",
    "Demo Request",
    "Pricing Question",
    "Partnership",
    "Renewal Discussion",
    "Trade Show Contact",
    "Referral",
    "Website Signup",
    "Expansion Opportunity",
    "Pilot Project",
];
const WORDS: &[&str] = &[
    "interested",
    "in",
    "a",
    "quote",
    "for",
    "the",
    "enterprise",
    "plan",
    "next",
    "quarter",
    "budget",
    "approved",
    "wants",
    "call",
    "back",
    "team",
    "evaluating",
    "vendors",
    "timeline",
    "decision",
];
const INDUSTRIES: &[&str] = &[
    "ADVERTISING",
    "AGRICULTURE",
    "AUTOMOTIVE",
    "BANKING",
    "COMPUTER",
    "EDUCATION",
    "ENERGY",
    "FINANCE",
    "HEALTHCARE",
    "INSURANCE",
    "MANUFACTURING",
    "REAL ESTATE",
    "SOFTWARE",
    "TECHNOLOGY",
    "TRANSPORTATION",
];
const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "INR", "CAD", "AUD"];
const TEAMS: &[(&str, &str)] = &[
    ("Sales Team", "Closes new business"),
    ("Enterprise Sales", "Large accounts"),
    ("SMB Team", "Small and medium businesses"),
    ("Customer Success", "Keeps customers happy"),
    ("Support Team", "Answers tickets"),
    ("Marketing Ops", "Campaigns and events"),
];
const TAGS: &[&str] = &[
    "Hot Lead",
    "Enterprise",
    "SMB",
    "Renewal",
    "Upsell",
    "High Priority",
    "Follow Up",
    "Decision Maker",
    "Influencer",
    "Champion",
    "At Risk",
    "New Customer",
    "VIP",
    "Partner Referral",
    "Inbound",
];
const COLORS: &[&str] = &[
    "gray", "red", "orange", "amber", "green", "teal", "blue", "indigo", "violet", "pink",
];
/// Upstream's weights: assigned 40, in process 30, converted 15, recycled 10, closed 5.
const STATUSES: &[(&str, u32)] = &[
    ("assigned", 40),
    ("in process", 30),
    ("converted", 15),
    ("recycled", 10),
    ("closed", 5),
];
const SOURCES: &[&str] = &[
    "call",
    "email",
    "existing customer",
    "partner",
    "public relations",
    "compaign",
    "other",
    "website",
];
const RATINGS: &[&str] = &["HOT", "WARM", "COLD"];

struct Gen {
    rng: StdRng,
    now: DateTime<Utc>,
}

impl Gen {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }
    /// Ids are random even with --seed (the content is what repeats), so seeding twice into one
    /// database works.
    fn id(&mut self) -> Uuid {
        Uuid::new_v4()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }
    fn weighted(&mut self, items: &[(&'static str, u32)]) -> &'static str {
        let total: u32 = items.iter().map(|i| i.1).sum();
        let mut n = self.rng.random_range(0..total);
        for (v, w) in items {
            if n < *w {
                return v;
            }
            n -= w;
        }
        items[0].0
    }
    /// Up to two years back.
    fn past(&mut self) -> DateTime<Utc> {
        self.now - Duration::seconds(self.rng.random_range(0..2 * 365 * 86400))
    }
    fn future_date(&mut self) -> NaiveDate {
        (self.now + Duration::days(self.rng.random_range(1..365))).date_naive()
    }
    fn phone(&mut self) -> String {
        format!(
            "+1-{}-{}-{:04}",
            self.rng.random_range(200..999),
            self.rng.random_range(200..999),
            self.rng.random_range(0..10000)
        )
    }
    fn company(&mut self) -> String {
        format!("{} {}", self.pick(LAST), self.pick(COMPANY_SUFFIX))
    }
    fn sentence(&mut self) -> String {
        let n = self.rng.random_range(6..14);
        let mut s: Vec<&str> = (0..n).map(|_| self.pick(WORDS)).collect();
        let first = s[0].to_string();
        let cap = first[..1].to_uppercase() + &first[1..];
        s[0] = &cap;
        s.join(" ") + "."
    }
    /// `k` distinct items of `pool` (fewer if the pool is smaller).
    fn some<T: Copy + PartialEq>(&mut self, pool: &[T], k: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(k);
        for _ in 0..k.min(pool.len()) * 3 {
            if out.len() == k.min(pool.len()) {
                break;
            }
            let x = pool[self.rng.random_range(0..pool.len())];
            if !out.contains(&x) {
                out.push(x);
            }
        }
        out
    }
}

fn progress(what: &str, done: usize, total: usize, started: Instant) {
    let secs = started.elapsed().as_secs_f64().max(0.001);
    eprint!(
        "\r  {what:<9} {done:>9}/{total} ({:>3}%)  {:>8.0} rows/s",
        done * 100 / total.max(1),
        done as f64 / secs
    );
    if done == total {
        eprintln!();
    }
    let _ = std::io::stderr().flush();
}

/// Bulk batches are slow by design: keep them out of the slow-statement log.
pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    let opts = crm::db::connect_options(url)?.log_slow_statements(
        tracing::log::LevelFilter::Off,
        std::time::Duration::from_secs(60),
    );
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(opts)
        .await?)
}

pub async fn run(pool: &PgPool, args: SeedArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        // A fixed clock when seeded, so the same seed gives the same rows.
        now: if args.seed.is_some() {
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
        } else {
            Utc::now()
        },
    };
    println!("seeding with --seed {seed}");
    let hash = crm::auth::password::hash(&args.password);
    let admin = get_or_create_user(pool, &args.email, &hash, true).await?;
    let batch = args.batch.max(1);
    for o in 0..args.orgs {
        let name = format!("{} {}", g.company(), o + 1);
        let mut tx = tenant::begin(pool, None, Some(admin)).await?;
        let org = crm::common::orgs::create_org(&mut tx, &name, admin)
            .await
            .context("cannot create organization")?;
        tx.commit().await?;
        println!("org {:?} ({org})", name);
        let short = &org.simple().to_string()[..8];

        // Members.
        let mut profiles = vec![profile_of(pool, org, admin).await?];
        for i in 0..args.users_per_org {
            let email = format!("user{}_{short}@example.com", i + 1);
            let user = get_or_create_user(pool, &email, &hash, false).await?;
            let mut tx = begin(pool, org).await?;
            let pid = g.id();
            sqlx::query(
                "INSERT INTO profile (created_at, updated_at, id, phone, role, has_sales_access, has_marketing_access,
                                      is_active, is_organization_admin, org_id, user_id, created_by_id)
                 VALUES (now(), now(), $1, $2, 'USER', $3, $4, true, false, $5, $6, $7)",
            )
            .bind(pid)
            .bind(g.phone())
            .bind(g.chance(0.7))
            .bind(g.chance(0.5))
            .bind(org)
            .bind(user)
            .bind(admin)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            profiles.push(pid);
        }

        // Teams and tags.
        let mut tx = begin(pool, org).await?;
        let mut teams = Vec::new();
        for (tname, desc) in TEAMS.iter().take(args.teams) {
            let id = g.id();
            sqlx::query("INSERT INTO teams (created_at, updated_at, id, name, description, created_by_id, org_id) VALUES (now(), now(), $1, $2, $3, $4, $5)")
                .bind(id).bind(tname).bind(desc).bind(admin).bind(org)
                .execute(&mut *tx).await?;
            let k = g.rng.random_range(1..=3);
            for m in g.some(&profiles, k) {
                sqlx::query("INSERT INTO teams_users (teams_id, profile_id) VALUES ($1, $2)")
                    .bind(id)
                    .bind(m)
                    .execute(&mut *tx)
                    .await?;
            }
            teams.push(id);
        }
        let mut tags = Vec::new();
        for tname in TAGS.iter().take(args.tags) {
            let id = g.id();
            let slug = tname.to_lowercase().replace(' ', "-");
            sqlx::query("INSERT INTO tags (created_at, updated_at, id, name, slug, created_by_id, org_id, color, description, is_active) VALUES (now(), now(), $1, $2, $3, $4, $5, $6, '', true)")
                .bind(id).bind(tname).bind(slug).bind(admin).bind(org).bind(g.pick(COLORS))
                .execute(&mut *tx).await?;
            tags.push(id);
        }
        tx.commit().await?;

        let mut ctx = LeadCtx {
            org,
            admin,
            profiles: &profiles,
            teams: &teams,
            tags: &tags,
            contacts: &[],
            companies: vec![],
        };
        let contacts = seed_contacts(pool, &mut g, &ctx, args.contacts, batch).await?;
        ctx.contacts = &contacts;
        ctx.companies = seed_accounts(pool, &mut g, &ctx, args.accounts, batch).await?;
        seed_leads(pool, &mut g, &ctx, args.leads, batch).await?;
        seed_boards(pool, seed, &ctx, args.boards, args.board_cards).await?;
        seed_tasks(pool, &mut g, &ctx, args.tasks, batch).await?;
        seed_cases(pool, &mut g, &ctx, args.cases, batch).await?;
        seed_opportunities(pool, &mut g, &ctx, args.opportunities, batch).await?;
        seed_invoices(pool, &mut g, org, admin, args.invoices, batch).await?;
        seed_events(pool, &mut g, &ctx, args.events, batch).await?;
        seed_emails(pool, &mut g, &ctx, args.emails, batch).await?;
    }
    // Fresh statistics, so the planner picks the list indexes at once.
    for table in [
        "lead",
        "accounts",
        "contacts",
        "task",
        "board",
        "board_column",
        "board_task",
        "\"case\"",
        "solution",
        "opportunity",
        "invoice",
        "invoice_line_item",
        "payment",
        "event",
        "crm_email",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
            .execute(pool)
            .await
            .ok();
    }
    println!(
        "Seeding complete! {} org(s), {} users, {} teams, {} tags, {} contacts, {} accounts, {} leads, {} tasks, {} cases, {} opportunities per org. Total time: {:.2} seconds",
        args.orgs,
        args.users_per_org + 1,
        args.teams.min(TEAMS.len()),
        args.tags.min(TAGS.len()),
        args.contacts,
        args.accounts,
        args.leads,
        args.tasks,
        args.cases,
        args.opportunities,
        started.elapsed().as_secs_f64()
    );
    println!(
        "log in as {} (password as given with --password)",
        args.email
    );
    Ok(())
}

/// Kanban boards, set-wise in PostgreSQL (ids derived from the seed, so the same seed gives the
/// same rows): `n` boards owned by the org's members in turn, each with its owner's membership
/// (and one more member), the three default columns and `cards` cards over them with dense
/// positions, a third of them assigned, some overdue. Boards are written in chunks of 100.
async fn seed_boards(
    pool: &PgPool,
    seed: u64,
    ctx: &LeadCtx<'_>,
    n: usize,
    cards: usize,
) -> anyhow::Result<()> {
    let key = format!("{seed}:{}", ctx.org);
    let mut start = 1usize;
    while start <= n {
        let end = (start + 99).min(n);
        let mut tx = begin(pool, ctx.org).await?;
        // Boards, memberships and columns; the columns' cards; their assignees.
        let statements = [
            "WITH b AS (
                INSERT INTO board (created_at, updated_at, id, name, description, is_archived, created_by_id, org_id, owner_id, updated_by_id)
                SELECT now() - make_interval(mins => g), now() - make_interval(mins => g), md5($1 || ':b:' || g)::uuid,
                       (ARRAY['Sprint', 'Roadmap', 'Onboarding', 'Support', 'Marketing', 'Hiring'])[1 + g % 6] || ' ' || g,
                       CASE WHEN g % 2 = 0 THEN 'Board ' || g || ' of the team' END, g % 25 = 0,
                       $2, $3, ($4::uuid[])[1 + g % cardinality($4::uuid[])], $2
                FROM generate_series($5::int, $6::int) g
                RETURNING id, owner_id, name),
             m AS (
                INSERT INTO board_member (created_at, updated_at, id, role, board_id, created_by_id, updated_by_id, org_id, profile_id)
                SELECT now(), now(), md5($1 || ':m:' || b.id || ':' || p.pid)::uuid, p.role, b.id, $2, $2, $3, p.pid
                FROM b CROSS JOIN LATERAL (
                    SELECT b.owner_id AS pid, 'owner' AS role
                    UNION SELECT ($4::uuid[])[1 + abs(hashtext(b.name)) % cardinality($4::uuid[])], 'member') p
                WHERE p.role = 'owner' OR p.pid <> b.owner_id)
             INSERT INTO board_column (created_at, updated_at, id, name, \"order\", color, \"limit\", board_id, created_by_id, org_id, updated_by_id)
             SELECT now(), now(), md5($1 || ':c:' || b.id || ':' || x.o)::uuid, x.name, x.o, x.color, NULL, b.id, $2, $3, $2
             FROM b CROSS JOIN (VALUES ('To Do', 0, '#EF4444'), ('In Progress', 1, '#F59E0B'), ('Done', 2, '#10B981')) x(name, o, color)
             WHERE $7::int >= 0",
            "WITH cols AS (
                SELECT c.id, c.\"order\" AS o, c.board_id FROM board_column c JOIN board b ON b.id = c.board_id
                WHERE b.org_id = $3 AND b.id IN (SELECT md5($1 || ':b:' || g)::uuid FROM generate_series($5::int, $6::int) g))
             INSERT INTO board_task (created_at, updated_at, id, title, description, \"order\", priority, due_date, completed_at,
                                     account_id, column_id, contact_id, created_by_id, opportunity_id, org_id, updated_by_id)
             SELECT now(), now(), md5($1 || ':t:' || c.id || ':' || k)::uuid,
                    (ARRAY['Call', 'Write', 'Review', 'Plan', 'Fix', 'Ship'])[1 + k % 6] || ' item ' || (k + 1),
                    CASE WHEN k % 3 = 0 THEN 'Details of item ' || (k + 1) END, k,
                    (ARRAY['low', 'medium', 'high', 'urgent'])[1 + k % 4],
                    CASE WHEN k % 4 = 1 THEN now() + make_interval(days => k % 30 - 10) END,
                    CASE WHEN c.o = 2 THEN now() END, NULL, c.id, NULL, $2, NULL, $3, $2
             FROM cols c CROSS JOIN LATERAL generate_series(0, ($7::int + 2 - c.o) / 3 - 1) k",
            // Apart: the link table's RLS policy must see the cards, which a data-modifying CTE
            // of the same statement would hide.
            "INSERT INTO board_task_assigned_to (boardtask_id, profile_id)
             SELECT t.id, ($4::uuid[])[1 + t.\"order\" % cardinality($4::uuid[])]
             FROM board_task t JOIN board_column c ON c.id = t.column_id
             WHERE c.org_id = $3 AND t.\"order\" % 3 = 0 AND $7::int >= 0 AND $2::uuid IS NOT NULL
               AND c.board_id IN (SELECT md5($1 || ':b:' || g)::uuid FROM generate_series($5::int, $6::int) g)",
        ];
        for text in statements {
            sqlx::query(text)
                .bind(&key)
                .bind(ctx.admin)
                .bind(ctx.org)
                .bind(ctx.profiles)
                .bind(start as i32)
                .bind(end as i32)
                .bind(cards as i32)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        start = end + 1;
    }
    if n > 0 {
        println!("  {n} boards, {cards} cards each");
    }
    Ok(())
}

/// A transaction in `org`'s RLS context. Seeding does not wait for each commit to reach disk:
/// a crash loses the last batches of fake data, nothing else.
async fn begin(pool: &PgPool, org: Uuid) -> anyhow::Result<Tx> {
    let mut tx = tenant::begin(pool, Some(org), None).await?;
    sqlx::query("SET LOCAL synchronous_commit TO off")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

async fn get_or_create_user(
    pool: &PgPool,
    email: &str,
    hash: &str,
    superuser: bool,
) -> anyhow::Result<Uuid> {
    let mut tx = tenant::begin(pool, None, None).await?;
    let id: Uuid = sqlx::query_scalar(
        "WITH ins AS (
            INSERT INTO users (id, password, is_superuser, email, is_active, is_staff)
            SELECT $1, $2, $3, $4, true, $3
            WHERE NOT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($4))
            RETURNING id)
         SELECT id FROM ins UNION ALL SELECT id FROM users WHERE lower(email) = lower($4) LIMIT 1",
    )
    .bind(Uuid::new_v4())
    .bind(hash)
    .bind(superuser)
    .bind(email)
    .fetch_one(&mut *tx)
    .await
    .with_context(|| format!("cannot create user {email}"))?;
    tx.commit().await?;
    Ok(id)
}

async fn profile_of(pool: &PgPool, org: Uuid, user: Uuid) -> anyhow::Result<Uuid> {
    let mut tx = begin(pool, org).await?;
    let id = sqlx::query_scalar("SELECT id FROM profile WHERE org_id = $1 AND user_id = $2")
        .bind(org)
        .bind(user)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

async fn link(
    tx: &mut Tx,
    table: &str,
    cols: (&str, &str),
    rows: &[(Uuid, Uuid)],
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let (a, b): (Vec<Uuid>, Vec<Uuid>) = rows.iter().copied().unzip();
    let sql = format!(
        "INSERT INTO {table} ({}, {}) SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING",
        cols.0, cols.1
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(a)
        .bind(b)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Contacts with their assignees, teams and tags (the account link comes with the accounts).
async fn seed_contacts(
    pool: &PgPool,
    g: &mut Gen,
    c: &LeadCtx<'_>,
    n: usize,
    batch: usize,
) -> anyhow::Result<Vec<Uuid>> {
    let (org, admin) = (c.org, c.admin);
    let started = Instant::now();
    let mut all = Vec::with_capacity(n);
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let (
            mut ids,
            mut at,
            mut first,
            mut last,
            mut email,
            mut phone,
            mut company,
            mut title,
            mut city,
        ) = (
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        );
        let links = &mut Links::default();
        for i in done..done + k {
            let (f, l) = (g.pick(FIRST), g.pick(LAST));
            let id = g.id();
            links.add(g, c, id, (0.6, 0.3, 0.4));
            ids.push(id);
            at.push(g.past());
            first.push(f.to_string());
            last.push(l.to_string());
            email.push(format!(
                "{}.{}.{i}@example.net",
                f.to_lowercase(),
                l.to_lowercase()
            ));
            phone.push(g.phone());
            company.push(g.company());
            title.push(g.pick(JOBS).to_string());
            city.push(
                g.pick(&CITIES.iter().map(|c| c.0).collect::<Vec<_>>())
                    .to_string(),
            );
        }
        let mut tx = begin(pool, org).await?;
        sqlx::query(
            "INSERT INTO contacts (created_at, updated_at, id, first_name, last_name, email, phone, organization, title,
                                   do_not_call, city, is_active, created_by_id, org_id, updated_by_id)
             SELECT t.at, t.at, t.id, t.f, t.l, t.e, t.p, t.c, t.t, false, t.city, true, $1, $2, $1
             FROM unnest($3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
                  AS t(id, at, f, l, e, p, c, t, city)",
        )
        .bind(admin).bind(org).bind(&ids).bind(at).bind(first).bind(last).bind(email).bind(phone).bind(company).bind(title).bind(city)
        .execute(&mut *tx)
        .await?;
        links.insert(&mut tx, "contacts", "contact_id").await?;
        tx.commit().await?;
        all.extend(ids);
        done += k;
        progress("contacts", done, n, started);
    }
    Ok(all)
}

const TASK_VERBS: &[&str] = &[
    "Call",
    "E-mail",
    "Send a quote to",
    "Follow up with",
    "Schedule a demo for",
    "Prepare the renewal of",
    "Review the contract of",
    "Meet",
];
const TASK_STATUSES: &[&str] = &["New", "In Progress", "Completed"];
const TASK_PRIORITIES: &[&str] = &["Low", "Medium", "High"];

/// Tasks with assignees, teams, tags and a contact: due dates from a month ago to a month ahead
/// (so the dashboard and the daily reminder have overdue and due-today work), unique titles.
async fn seed_tasks(
    pool: &PgPool,
    g: &mut Gen,
    c: &LeadCtx<'_>,
    n: usize,
    batch: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let today = Utc::now().date_naive();
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let (mut ids, mut at, mut title, mut status, mut priority, mut due, mut desc) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        let links = &mut Links::default();
        let mut contacts = vec![];
        for i in done..done + k {
            let id = g.id();
            links.add(g, c, id, (0.9, 0.3, 0.4));
            if g.chance(0.4) {
                contacts.extend(g.some(c.contacts, 1).into_iter().map(|x| (id, x)));
            }
            ids.push(id);
            at.push(g.past());
            title.push(format!(
                "{} {} {} #{}",
                g.pick(TASK_VERBS),
                g.pick(FIRST),
                g.pick(LAST),
                i + 1
            ));
            status.push(g.pick(TASK_STATUSES).to_string());
            priority.push(g.pick(TASK_PRIORITIES).to_string());
            due.push(
                g.chance(0.85)
                    .then(|| today + Duration::days(g.rng.random_range(-30..=30))),
            );
            desc.push(g.sentence());
        }
        let mut tx = begin(pool, c.org).await?;
        sqlx::query(
            "INSERT INTO task (created_at, updated_at, id, title, status, priority, due_date, description,
                               created_by_id, org_id, updated_by_id)
             SELECT t.at, t.at, t.id, t.title, t.status, t.priority, t.due, t.d, $1, $2, $1
             FROM unnest($3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::date[], $9::text[])
                  AS t(id, at, title, status, priority, due, d)",
        )
        .bind(c.admin).bind(c.org).bind(&ids).bind(at).bind(title).bind(status).bind(priority)
        .bind(due).bind(desc)
        .execute(&mut *tx)
        .await?;
        links.insert(&mut tx, "task", "task_id").await?;
        link(
            &mut tx,
            "task_contacts",
            ("task_id", "contact_id"),
            &contacts,
        )
        .await?;
        tx.commit().await?;
        done += k;
        progress("tasks", done, n, started);
    }
    Ok(())
}

/// Accounts in batches, with assignees, teams, tags and 1-3 linked contacts; the first linked
/// contact also gets the account as its `account` (as a contact created from an account page).
/// Returns the account names, which leads then use as their company names.
async fn seed_accounts(
    pool: &PgPool,
    g: &mut Gen,
    c: &LeadCtx<'_>,
    n: usize,
    batch: usize,
) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let mut taken = HashSet::with_capacity(n);
    let mut all_names = Vec::with_capacity(n);
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let mut cols = AccountCols::default();
        let links = &mut Links::default();
        let (mut linked, mut owner) = (vec![], vec![]);
        for i in done..done + k {
            let id = g.id();
            let mut name = g.company();
            if !taken.insert(name.to_lowercase()) {
                name = format!("{name} {}", i + 1);
                taken.insert(name.to_lowercase());
            }
            let (city, state, country) = CITIES[g.rng.random_range(0..CITIES.len())];
            cols.id.push(id);
            cols.at.push(g.past());
            cols.email.push(format!("info{i}@example.org"));
            cols.phone.push(g.phone());
            cols.website.push(format!("https://www.example{i}.com"));
            cols.industry.push(g.pick(INDUSTRIES).to_string());
            cols.employees.push(g.rng.random_range(1..20_000));
            cols.revenue
                .push(format!("{}.00", g.rng.random_range(100_000..50_000_000)));
            cols.currency.push(g.pick(CURRENCIES).to_string());
            cols.address
                .push(format!("{} Main Street", g.rng.random_range(1..999)));
            cols.city.push(city.to_string());
            cols.state.push(state.to_string());
            cols.postcode
                .push(format!("{:05}", g.rng.random_range(1000..99999)));
            cols.country.push(country.to_string());
            cols.description.push(g.sentence());
            cols.active.push(g.chance(0.85));
            cols.name.push(name);
            links.add(g, c, id, (1.0, 0.5, 0.5));
            let nc = g.rng.random_range(1..=3);
            let picked = g.some(c.contacts, nc);
            if let Some(first) = picked.first() {
                owner.push((*first, id));
            }
            linked.extend(picked.into_iter().map(|x| (id, x)));
        }
        let mut tx = begin(pool, c.org).await?;
        sqlx::query(
            "INSERT INTO accounts (created_at, updated_at, id, name, email, phone, website, industry, number_of_employees,
                                   annual_revenue, currency, address_line, city, state, postcode, country, description,
                                   is_active, created_by_id, org_id, updated_by_id)
             SELECT t.at, t.at, t.id, t.name, t.e, t.p, t.w, t.ind, t.emp, t.rev::numeric, t.cur, t.addr, t.city,
                    t.state, t.pc, t.country, t.d, t.active, $1, $2, $1
             FROM unnest($3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                         $10::int[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
                         $17::text[], $18::text[], $19::bool[])
                  AS t(id, at, name, e, p, w, ind, emp, rev, cur, addr, city, state, pc, country, d, active)",
        )
        .bind(c.admin).bind(c.org)
        .bind(cols.id).bind(cols.at).bind(&cols.name).bind(cols.email).bind(cols.phone).bind(cols.website)
        .bind(cols.industry).bind(cols.employees).bind(cols.revenue).bind(cols.currency).bind(cols.address)
        .bind(cols.city).bind(cols.state).bind(cols.postcode).bind(cols.country).bind(cols.description)
        .bind(cols.active)
        .execute(&mut *tx)
        .await?;
        links.insert(&mut tx, "accounts", "account_id").await?;
        link(
            &mut tx,
            "accounts_contacts",
            ("account_id", "contact_id"),
            &linked,
        )
        .await?;
        let (contacts, accounts): (Vec<Uuid>, Vec<Uuid>) = owner.into_iter().unzip();
        sqlx::query(
            "UPDATE contacts c SET account_id = x.a FROM unnest($1::uuid[], $2::uuid[]) AS x(c, a)
             WHERE c.id = x.c AND c.org_id = $3",
        )
        .bind(contacts)
        .bind(accounts)
        .bind(c.org)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        all_names.extend(cols.name);
        done += k;
        progress("accounts", done, n, started);
    }
    Ok(all_names)
}

#[derive(Default)]
struct AccountCols {
    id: Vec<Uuid>,
    at: Vec<DateTime<Utc>>,
    name: Vec<String>,
    email: Vec<String>,
    phone: Vec<String>,
    website: Vec<String>,
    industry: Vec<String>,
    employees: Vec<i32>,
    revenue: Vec<String>,
    currency: Vec<String>,
    address: Vec<String>,
    city: Vec<String>,
    state: Vec<String>,
    postcode: Vec<String>,
    country: Vec<String>,
    description: Vec<String>,
    active: Vec<bool>,
}

/// Assignee, team and tag links of a batch of records of one module.
#[derive(Default)]
struct Links {
    assigned: Vec<(Uuid, Uuid)>,
    teams: Vec<(Uuid, Uuid)>,
    tags: Vec<(Uuid, Uuid)>,
}

impl Links {
    /// Links record `id` with the given chances of an assignee (1-2), a team and tags (1-3).
    fn add(&mut self, g: &mut Gen, c: &LeadCtx<'_>, id: Uuid, chances: (f64, f64, f64)) {
        if g.chance(chances.0) {
            let k = g.rng.random_range(1..=2);
            self.assigned
                .extend(g.some(c.profiles, k).into_iter().map(|p| (id, p)));
        }
        if g.chance(chances.1) {
            self.teams
                .extend(g.some(c.teams, 1).into_iter().map(|t| (id, t)));
        }
        if g.chance(chances.2) {
            let k = g.rng.random_range(1..=3);
            self.tags
                .extend(g.some(c.tags, k).into_iter().map(|t| (id, t)));
        }
    }

    /// Into `<prefix>_assigned_to`, `<prefix>_teams`, `<prefix>_tags` (column `fk`).
    async fn insert(&self, tx: &mut Tx, prefix: &str, fk: &str) -> anyhow::Result<()> {
        for (suffix, col, rows) in [
            ("assigned_to", "profile_id", &self.assigned),
            ("teams", "teams_id", &self.teams),
            ("tags", "tags_id", &self.tags),
        ] {
            link(tx, &format!("{prefix}_{suffix}"), (fk, col), rows).await?;
        }
        Ok(())
    }
}

struct LeadCtx<'a> {
    org: Uuid,
    admin: Uuid,
    profiles: &'a [Uuid],
    teams: &'a [Uuid],
    tags: &'a [Uuid],
    contacts: &'a [Uuid],
    /// Account names: a lead's company is often an existing account.
    companies: Vec<String>,
}

#[derive(Default)]
struct LeadCols {
    id: Vec<Uuid>,
    at: Vec<DateTime<Utc>>,
    title: Vec<String>,
    first: Vec<String>,
    last: Vec<String>,
    email: Vec<String>,
    phone: Vec<String>,
    job: Vec<String>,
    status: Vec<String>,
    source: Vec<String>,
    industry: Vec<String>,
    rating: Vec<String>,
    amount: Vec<String>,
    currency: Vec<String>,
    probability: Vec<i32>,
    close: Vec<NaiveDate>,
    city: Vec<String>,
    state: Vec<String>,
    country: Vec<String>,
    description: Vec<String>,
    company: Vec<String>,
}

async fn seed_leads(
    pool: &PgPool,
    g: &mut Gen,
    c: &LeadCtx<'_>,
    n: usize,
    batch: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let mut cols = LeadCols::default();
        let links = &mut Links::default();
        let mut contacts = vec![];
        for i in done..done + k {
            let id = g.id();
            let (f, l) = (g.pick(FIRST), g.pick(LAST));
            let (city, state, country) = CITIES[g.rng.random_range(0..CITIES.len())];
            cols.id.push(id);
            cols.at.push(g.past());
            cols.title.push(g.pick(TITLES).to_string());
            cols.first.push(f.to_string());
            cols.last.push(l.to_string());
            cols.email.push(format!(
                "{}.{}.{i}@example.com",
                f.to_lowercase(),
                l.to_lowercase()
            ));
            cols.phone.push(g.phone());
            cols.job.push(g.pick(JOBS).to_string());
            cols.status.push(g.weighted(STATUSES).to_string());
            cols.source.push(g.pick(SOURCES).to_string());
            cols.industry.push(g.pick(INDUSTRIES).to_string());
            cols.rating.push(g.pick(RATINGS).to_string());
            cols.amount
                .push(format!("{}.00", g.rng.random_range(1_000..250_000)));
            cols.currency.push(g.pick(CURRENCIES).to_string());
            cols.probability.push(g.rng.random_range(0..=10) * 10);
            cols.close.push(g.future_date());
            cols.city.push(city.to_string());
            cols.state.push(state.to_string());
            cols.country.push(country.to_string());
            cols.description.push(g.sentence());
            let company = match c.companies.len() {
                n if n > 0 && g.chance(0.5) => c.companies[g.rng.random_range(0..n)].clone(),
                _ => g.company(),
            };
            cols.company.push(company);
            links.add(g, c, id, (1.0, 0.7, 0.6));
            if g.chance(0.3) {
                let nc = g.rng.random_range(1..=2);
                contacts.extend(g.some(c.contacts, nc).into_iter().map(|x| (id, x)));
            }
        }
        let mut tx = begin(pool, c.org).await?;
        sqlx::query(
            "INSERT INTO lead (created_at, updated_at, id, title, first_name, last_name, email, phone, job_title, status,
                               source, industry, rating, opportunity_amount, currency, probability, close_date, city,
                               state, country, description, company_name, is_active, created_by_id, org_id, updated_by_id)
             SELECT t.at, t.at, t.id, t.title, t.f, t.l, t.e, t.p, t.j, t.st, t.src, t.ind, t.r, t.amt::numeric, t.cur,
                    t.prob, t.cd, t.city, t.state, t.country, t.d, t.co, true, $1, $2, $1
             FROM unnest($3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                         $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
                         $17::int[], $18::date[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[])
                  AS t(id, at, title, f, l, e, p, j, st, src, ind, r, amt, cur, prob, cd, city, state, country, d, co)",
        )
        .bind(c.admin).bind(c.org)
        .bind(cols.id).bind(cols.at).bind(cols.title).bind(cols.first).bind(cols.last).bind(cols.email)
        .bind(cols.phone).bind(cols.job).bind(cols.status).bind(cols.source).bind(cols.industry).bind(cols.rating)
        .bind(cols.amount).bind(cols.currency).bind(cols.probability).bind(cols.close).bind(cols.city)
        .bind(cols.state).bind(cols.country).bind(cols.description).bind(cols.company)
        .execute(&mut *tx)
        .await?;
        links.insert(&mut tx, "lead", "lead_id").await?;
        link(
            &mut tx,
            "lead_contacts",
            ("lead_id", "contact_id"),
            &contacts,
        )
        .await?;
        tx.commit().await?;
        done += k;
        progress("leads", done, n, started);
    }
    Ok(())
}

const CASE_SUBJECTS: &[&str] = &[
    "Cannot log in",
    "Invoice total is wrong",
    "Printer offline",
    "Export fails",
    "Slow dashboard",
    "Password reset e-mail missing",
    "Data import stuck",
    "Wrong currency on quote",
    "Mobile app crashes",
    "Integration returns 500",
];
const CASE_STATUS_WEIGHTS: &[(&str, u32)] = &[
    ("New", 20),
    ("Assigned", 25),
    ("Pending", 15),
    ("Closed", 30),
    ("Rejected", 5),
    ("Duplicate", 5),
];
const CASE_PRIORITY_NAMES: &[&str] = &["Low", "Normal", "High", "Urgent"];
const CASE_TYPE_NAMES: &[&str] = &["Question", "Incident", "Problem"];

/// Cases in batches with assignees, teams, tags, 0-2 contacts and often an account; SLA targets
/// by priority, most answered within a few hours, closed ones resolved. Breaches that are already
/// past at seeding time count as mailed, so the first SLA check does not mail the whole history.
/// Then a few solutions per org, linked to some cases.
async fn seed_cases(
    pool: &PgPool,
    g: &mut Gen,
    c: &LeadCtx<'_>,
    n: usize,
    batch: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let accounts: Vec<Uuid> = {
        let mut tx = begin(pool, c.org).await?;
        let ids = sqlx::query_scalar(
            "SELECT id FROM accounts WHERE org_id = $1 ORDER BY created_at DESC LIMIT 1000",
        )
        .bind(c.org)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        ids
    };
    let mut some_cases = Vec::new();
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let (mut ids, mut at, mut name, mut status, mut priority, mut kind) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let (mut desc, mut account, mut first_h, mut res_h, mut answered, mut resolved) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let links = &mut Links::default();
        let mut contacts = vec![];
        for i in done..done + k {
            let id = g.id();
            let created = g.past();
            let p = g.pick(CASE_PRIORITY_NAMES);
            let (fh, rh) = crm::cases::dto::sla_hours(p);
            let st = g.weighted(CASE_STATUS_WEIGHTS);
            ids.push(id);
            at.push(created);
            name.push(format!("{} #{}", g.pick(CASE_SUBJECTS), i + 1));
            status.push(st.to_string());
            priority.push(p.to_string());
            kind.push(g.pick(CASE_TYPE_NAMES).to_string());
            desc.push(g.sentence());
            account.push(match accounts.len() {
                0 => None,
                n if g.chance(0.7) => Some(accounts[g.rng.random_range(0..n)]),
                _ => None,
            });
            first_h.push(fh);
            res_h.push(rh);
            let answer =
                created + Duration::minutes(g.rng.random_range(5..(fh as i64 * 90).max(10)));
            answered.push((g.chance(0.8) && answer < g.now).then_some(answer));
            let done_at = created + Duration::hours(g.rng.random_range(1..(rh as i64 * 2).max(2)));
            resolved.push((crm::cases::dto::is_terminal(st) && done_at < g.now).then_some(done_at));
            links.add(g, c, id, (0.9, 0.4, 0.4));
            if g.chance(0.5) {
                let nc = g.rng.random_range(1..=2);
                contacts.extend(g.some(c.contacts, nc).into_iter().map(|x| (id, x)));
            }
            if some_cases.len() < 30 && g.chance(0.05) {
                some_cases.push(id);
            }
        }
        let mut tx = begin(pool, c.org).await?;
        sqlx::query(
            "INSERT INTO \"case\" (created_at, updated_at, id, name, status, priority, case_type, closed_on,
                                 description, is_active, account_id, created_by_id, org_id, updated_by_id,
                                 first_response_at, resolved_at, sla_first_response_hours, sla_resolution_hours,
                                 sla_first_response_breach_notified_at, sla_resolution_breach_notified_at)
             SELECT t.at, coalesce(t.res, t.at), t.id, t.n, t.st, t.p, t.k, (t.res)::date, t.d, true, t.acc, $1, $2, $1,
                    t.ans, t.res, t.fh, t.rh,
                    CASE WHEN now() > t.at + make_interval(hours => t.fh) THEN now() END,
                    CASE WHEN now() > t.at + make_interval(hours => t.rh) THEN now() END
             FROM unnest($3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                         $10::uuid[], $11::int[], $12::int[], $13::timestamptz[], $14::timestamptz[])
                  AS t(id, at, n, st, p, k, d, acc, fh, rh, ans, res)",
        )
        .bind(c.admin).bind(c.org)
        .bind(&ids).bind(at).bind(name).bind(status).bind(priority).bind(kind).bind(desc)
        .bind(account).bind(first_h).bind(res_h).bind(answered).bind(resolved)
        .execute(&mut *tx)
        .await?;
        links.insert(&mut tx, "case", "case_id").await?;
        link(
            &mut tx,
            "case_contacts",
            ("case_id", "contact_id"),
            &contacts,
        )
        .await?;
        tx.commit().await?;
        done += k;
        progress("cases", done, n, started);
    }
    if n == 0 {
        return Ok(());
    }
    let mut tx = begin(pool, c.org).await?;
    for (i, (title, status)) in [
        ("Resetting a password", "approved"),
        ("Fixing a stuck import", "approved"),
        ("Printer troubleshooting", "reviewed"),
        ("Reading an invoice", "draft"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = g.id();
        sqlx::query(
            "INSERT INTO solution (created_at, updated_at, id, title, description, status, is_published,
                                   created_by_id, org_id, updated_by_id)
             VALUES (now(), now(), $1, $2, $3, $4, $5, $6, $7, $6)",
        )
        .bind(id)
        .bind(title)
        .bind(g.sentence())
        .bind(status)
        .bind(status == "approved")
        .bind(c.admin)
        .bind(c.org)
        .execute(&mut *tx)
        .await?;
        let linked: Vec<(Uuid, Uuid)> = some_cases
            .iter()
            .skip(i)
            .step_by(4)
            .map(|case| (id, *case))
            .collect();
        link(
            &mut tx,
            "solution_cases",
            ("solution_id", "case_id"),
            &linked,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

const PRODUCTS: &[(&str, i64)] = &[
    ("Consulting hour", 15000),
    ("Onboarding package", 250000),
    ("Annual licence", 1199900),
    ("Support plan", 49999),
    ("Training day", 89000),
];
const STAGE_MIX: &[(&str, u32)] = &[
    ("PROSPECTING", 30),
    ("QUALIFICATION", 20),
    ("PROPOSAL", 15),
    ("NEGOTIATION", 10),
    ("CLOSED_WON", 15),
    ("CLOSED_LOST", 10),
];
const OPP_TYPES: &[&str] = &[
    "NEW_BUSINESS",
    "EXISTING_BUSINESS",
    "RENEWAL",
    "UPSELL",
    "CROSS_SELL",
];
const OPP_SOURCES: &[&str] = &["CALL", "EMAIL", "PARTNER", "CAMPAIGN", "WEBSITE", "OTHER"];

fn cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// Opportunities in batches, on the org's accounts and contacts, with assignees, teams, tags,
/// the stage rules (stage-default probability, closed stages closed and stamped) and, for about
/// a third, 1-3 line items of the org's products whose sum is the amount (CALCULATED). The
/// totals are integer cents, rounded half away from zero like the API's exact math.
async fn seed_opportunities(
    pool: &PgPool,
    g: &mut Gen,
    c: &LeadCtx<'_>,
    n: usize,
    batch: usize,
) -> anyhow::Result<()> {
    if n == 0 {
        return Ok(());
    }
    let started = Instant::now();
    let mut tx = begin(pool, c.org).await?;
    let mut products = Vec::new();
    for (name, price) in PRODUCTS {
        let id = g.id();
        sqlx::query(
            "INSERT INTO product (created_at, updated_at, id, name, price, currency, is_active, created_by_id, org_id)
             VALUES (now(), now(), $1, $2, $3::numeric, 'USD', true, $4, $5)",
        )
        .bind(id)
        .bind(name)
        .bind(cents(*price))
        .bind(c.admin)
        .bind(c.org)
        .execute(&mut *tx)
        .await?;
        products.push((id, *name, *price));
    }
    let accounts: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM accounts WHERE org_id = $1 ORDER BY created_at DESC LIMIT 5000",
    )
    .bind(c.org)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let mut o = OppCols::default();
        let mut li = LineCols::default();
        let links = &mut Links::default();
        let mut contacts = vec![];
        for i in done..done + k {
            let id = g.id();
            let stage = g.weighted(STAGE_MIX);
            let at = g.past();
            let closed = stage.starts_with("CLOSED");
            let mut amount = g.rng.random_range(50_000..50_000_000i64);
            let mut source = "MANUAL";
            if g.chance(0.33) {
                amount = 0;
                source = "CALCULATED";
                for order in 0..g.rng.random_range(1..=3) {
                    let (pid, pname, price) = products[g.rng.random_range(0..products.len())];
                    let qty = g.rng.random_range(1..=10i64);
                    let pct = [0i64, 0, 5, 10, 15, 20][g.rng.random_range(0..6)];
                    let sub = qty * price;
                    let disc = (sub * pct + 50) / 100;
                    amount += sub - disc;
                    li.id.push(g.id());
                    li.opp.push(id);
                    li.product.push(pid);
                    li.name.push(pname.to_string());
                    li.qty.push(format!("{qty}.00"));
                    li.price.push(cents(price));
                    li.dtype
                        .push(if pct > 0 { "PERCENTAGE" } else { "" }.to_string());
                    li.dvalue.push(format!("{pct}.00"));
                    li.damount.push(cents(disc));
                    li.sub.push(cents(sub));
                    li.total.push(cents(sub - disc));
                    li.order.push(order);
                    li.at.push(at);
                }
            }
            o.id.push(id);
            o.at.push(at);
            o.name.push(format!(
                "{} {} #{}",
                g.pick(LAST),
                g.pick(OPP_TYPES).to_lowercase().replace('_', " "),
                i + 1
            ));
            o.account.push(
                (!accounts.is_empty() && g.chance(0.8))
                    .then(|| accounts[g.rng.random_range(0..accounts.len())]),
            );
            o.stage.push(stage.to_string());
            o.otype.push(g.pick(OPP_TYPES).to_string());
            o.currency.push(
                if g.chance(0.8) {
                    "USD"
                } else {
                    g.pick(CURRENCIES)
                }
                .to_string(),
            );
            o.amount.push(cents(amount));
            o.source.push(source.to_string());
            o.probability
                .push(crm::opportunities::service::stage_probability(stage));
            o.closed_on.push(if closed {
                (at + Duration::days(g.rng.random_range(1..90))).date_naive()
            } else {
                g.future_date()
            });
            o.closed_by
                .push(closed.then(|| c.profiles[g.rng.random_range(0..c.profiles.len())]));
            o.lead_source.push(g.pick(OPP_SOURCES).to_string());
            o.description.push(g.sentence());
            links.add(g, c, id, (0.9, 0.4, 0.5));
            let nc = g.rng.random_range(0..=2);
            contacts.extend(g.some(c.contacts, nc).into_iter().map(|x| (id, x)));
        }
        let mut tx = begin(pool, c.org).await?;
        sqlx::query(
            "INSERT INTO opportunity (created_at, updated_at, id, name, account_id, stage, opportunity_type, currency,
                                      amount, amount_source, probability, closed_on, closed_by_id, lead_source,
                                      description, is_active, created_by_id, updated_by_id, org_id)
             SELECT t.at, t.at, t.id, t.name, t.acc, t.stage, t.ty, t.cur, t.amount::numeric, t.src, t.prob,
                    t.closed_on, t.cb, t.ls, t.d, true, $1, $1, $2
             FROM unnest($3::uuid[], $4::timestamptz[], $5::text[], $6::uuid[], $7::text[], $8::text[], $9::text[],
                         $10::text[], $11::text[], $12::int[], $13::date[], $14::uuid[], $15::text[], $16::text[])
                  AS t(id, at, name, acc, stage, ty, cur, amount, src, prob, closed_on, cb, ls, d)",
        )
        .bind(c.admin).bind(c.org)
        .bind(o.id).bind(o.at).bind(o.name).bind(o.account).bind(o.stage).bind(o.otype).bind(o.currency)
        .bind(o.amount).bind(o.source).bind(o.probability).bind(o.closed_on).bind(o.closed_by)
        .bind(o.lead_source).bind(o.description)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO opportunity_line_item (id, created_at, updated_at, created_by_id, updated_by_id, name,
                    description, quantity, unit_price, discount_type, discount_value, discount_amount, subtotal,
                    total, \"order\", opportunity_id, product_id, org_id)
             SELECT t.id, t.at, t.at, $1, $1, t.name, '', t.q::numeric, t.p::numeric, t.dt, t.dv::numeric,
                    t.da::numeric, t.s::numeric, t.tot::numeric, t.o, t.opp, t.pr, $2
             FROM unnest($3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                         $10::text[], $11::text[], $12::text[], $13::int[], $14::uuid[], $15::uuid[])
                  AS t(id, at, name, q, p, dt, dv, da, s, tot, o, opp, pr)",
        )
        .bind(c.admin).bind(c.org)
        .bind(li.id).bind(li.at).bind(li.name).bind(li.qty).bind(li.price).bind(li.dtype).bind(li.dvalue)
        .bind(li.damount).bind(li.sub).bind(li.total).bind(li.order).bind(li.opp).bind(li.product)
        .execute(&mut *tx)
        .await?;
        links
            .insert(&mut tx, "opportunity", "opportunity_id")
            .await?;
        link(
            &mut tx,
            "opportunity_contacts",
            ("opportunity_id", "contact_id"),
            &contacts,
        )
        .await?;
        tx.commit().await?;
        done += k;
        progress("opportunities", done, n, started);
    }
    Ok(())
}

#[derive(Default)]
struct OppCols {
    id: Vec<Uuid>,
    at: Vec<DateTime<Utc>>,
    name: Vec<String>,
    account: Vec<Option<Uuid>>,
    stage: Vec<String>,
    otype: Vec<String>,
    currency: Vec<String>,
    amount: Vec<String>,
    source: Vec<String>,
    probability: Vec<i32>,
    closed_on: Vec<NaiveDate>,
    closed_by: Vec<Option<Uuid>>,
    lead_source: Vec<String>,
    description: Vec<String>,
}

#[derive(Default)]
struct LineCols {
    id: Vec<Uuid>,
    at: Vec<DateTime<Utc>>,
    opp: Vec<Uuid>,
    product: Vec<Uuid>,
    name: Vec<String>,
    qty: Vec<String>,
    price: Vec<String>,
    dtype: Vec<String>,
    dvalue: Vec<String>,
    damount: Vec<String>,
    sub: Vec<String>,
    total: Vec<String>,
    order: Vec<i32>,
}

/// Invoices in batches, generated set-wise by PostgreSQL (its `random()` seeded from `g`, so
/// `--seed` repeats them): statuses as a live org has them, 1-3 lines without line discounts,
/// a 0/10/18 % tax, totals rounded as `crm::invoices::money` rounds them, a payment on each
/// paid or partly paid invoice. Numbers use each invoice's issue date and its position.
async fn seed_invoices(
    pool: &PgPool,
    g: &mut Gen,
    org: Uuid,
    admin: Uuid,
    n: usize,
    batch: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let mut tx = begin(pool, org).await?;
        sqlx::query("SELECT setseed($1)")
            .bind(g.rng.random_range(-1.0..1.0f64))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "WITH acc AS MATERIALIZED (SELECT array_agg(id) AS a FROM (SELECT id FROM accounts WHERE org_id = $1 LIMIT 500) x),
                  con AS MATERIALIZED (SELECT array_agg(id) AS c FROM (SELECT id FROM contacts WHERE org_id = $1 LIMIT 500) x),
                  base AS MATERIALIZED (
                    SELECT s, gen_random_uuid() AS id, (current_date - (random() * 365)::int) AS d,
                           (ARRAY['Draft','Sent','Sent','Viewed','Paid','Paid','Partially_Paid','Overdue','Cancelled'])[1 + floor(random() * 9)::int] AS st,
                           (ARRAY[0, 10, 18])[1 + floor(random() * 3)::int] AS rate,
                           acc.a[1 + floor(random() * coalesce(array_length(acc.a, 1), 1))::int] AS account,
                           con.c[1 + floor(random() * coalesce(array_length(con.c, 1), 1))::int] AS contact
                      FROM generate_series($2::int, $3::int) s, acc, con),
                  ln AS MATERIALIZED (
                    SELECT b.id AS inv, gen_random_uuid() AS id, k, v.q, v.p, round(v.q * v.p, 2) AS sub
                      FROM base b, LATERAL generate_series(1, 1 + (random() * 2)::int + (b.s * 0)) k,
                           LATERAL (SELECT (1 + floor(random() * 10))::numeric AS q,
                                           round((10 + random() * 490)::numeric, 2) AS p, k AS kk) v),
                  agg AS MATERIALIZED (
                    SELECT b.*, t.sub, round(t.sub * b.rate / 100, 2) AS tax, t.sub + round(t.sub * b.rate / 100, 2) AS total
                      FROM base b JOIN (SELECT inv, sum(sub) AS sub FROM ln GROUP BY inv) t ON t.inv = b.id),
                  paid AS MATERIALIZED (
                    SELECT a.*, CASE a.st WHEN 'Paid' THEN a.total WHEN 'Partially_Paid' THEN round(a.total / 2, 2) ELSE 0 END AS pd
                      FROM agg a),
                  i1 AS (INSERT INTO invoice (created_at, updated_at, id, org_id, created_by_id, updated_by_id,
                            invoice_title, invoice_number, status, account_id, contact_id, client_name, client_email,
                            client_phone, billing_address_line, billing_city, billing_state, billing_postcode,
                            billing_country, client_address_line, client_city, client_state, client_postcode,
                            client_country, subtotal, discount_type, discount_value, discount_amount, tax_rate,
                            tax_amount, shipping_amount, total_amount, currency, amount_paid, amount_due, issue_date,
                            due_date, payment_terms, reminder_enabled, reminder_days_before, reminder_days_after,
                            reminder_frequency, reminder_count, public_token, public_link_enabled, notes, terms,
                            is_email_sent, sent_at, paid_at, cancelled_at)
                         SELECT p.d::timestamptz, p.d::timestamptz, p.id, $1, $4, $4,
                                'Invoice for ' || coalesce((SELECT name FROM accounts WHERE id = p.account), 'services'),
                                'INV-' || to_char(p.d, 'YYYYMMDD') || '-' || lpad(p.s::text, 6, '0'), p.st,
                                p.account, p.contact,
                                coalesce((SELECT concat_ws(' ', first_name, last_name) FROM contacts WHERE id = p.contact), ''),
                                coalesce((SELECT email FROM contacts WHERE id = p.contact), ''),
                                '', '', '', '', '', '', '', '', '', '', '',
                                p.sub, '', 0, 0, p.rate, p.tax, 0, p.total, 'USD', p.pd, p.total - p.pd, p.d, p.d + 30,
                                'NET_30', true, 3, 7, 'ONCE', 0,
                                replace(replace(rtrim(encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64'), '='), '+', '-'), '/', '_'),
                                true, '', '', p.st <> 'Draft',
                                CASE WHEN p.st <> 'Draft' THEN p.d::timestamptz END,
                                CASE WHEN p.st = 'Paid' THEN p.d::timestamptz + interval '10 days' END,
                                CASE WHEN p.st = 'Cancelled' THEN p.d::timestamptz + interval '5 days' END
                           FROM paid p),
                  i2 AS (INSERT INTO invoice_line_item (created_at, updated_at, id, org_id, created_by_id, updated_by_id,
                            invoice_id, name, description, quantity, unit_price, discount_type, discount_value,
                            discount_amount, tax_rate, tax_amount, subtotal, total, \"order\")
                         SELECT now(), now(), l.id, $1, $4, $4, l.inv, 'Item ' || l.k, 'Services', l.q, l.p, '', 0, 0, 0, 0,
                                l.sub, l.sub, l.k - 1 FROM ln l)
             INSERT INTO payment (created_at, updated_at, id, org_id, created_by_id, updated_by_id, invoice_id, amount,
                                  payment_date, payment_method, reference_number, notes)
             SELECT now(), now(), gen_random_uuid(), $1, $4, $4, p.id, p.pd, p.d + 10, 'BANK_TRANSFER', '', ''
               FROM paid p WHERE p.pd > 0",
        )
        .bind(org)
        .bind((done + 1) as i32)
        .bind((done + k) as i32)
        .bind(admin)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        done += k;
        progress("invoices", done, n, started);
    }
    Ok(())
}

const EVENT_NAMES: &[&str] = &[
    "Kick-off meeting",
    "Quarterly review",
    "Demo call",
    "Contract negotiation",
    "Weekly sync",
    "Onboarding session",
    "Follow-up call",
    "Site visit",
    "Pricing discussion",
    "Renewal check-in",
];
const EVENT_ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "UTC",
    "Asia/Kolkata",
    "Europe/London",
];

type EventRows = (
    Vec<Uuid>,
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<DateTime<Utc>>,
);
type EventTimes = (
    Vec<DateTime<Utc>>,
    Vec<String>,
    Vec<Option<String>>,
    Vec<Option<DateTime<Utc>>>,
);

/// Calendar events in batches: meetings and calls from a month back to two months ahead, a third
/// of them recurring (daily or weekly, bounded or not), each assigned to a member and often
/// linked to a contact.
async fn seed_events(
    pool: &PgPool,
    g: &mut Gen,
    c: &LeadCtx<'_>,
    n: usize,
    batch: usize,
) -> anyhow::Result<()> {
    use crm::events::{dto::Times, recur::Rule};
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let mut rows = EventRows::default();
        let mut more = EventTimes::default();
        let (mut assignees, mut contacts): (Vec<Uuid>, Vec<Option<Uuid>>) = (vec![], vec![]);
        for _ in 0..k {
            let hour = g.rng.random_range(8..18);
            let day = g.rng.random_range(-30..60);
            let zone = g.pick(EVENT_ZONES);
            let tz: crm::events::Tz = zone.parse().unwrap_or(crm::events::Tz::UTC);
            let local = (g.now + Duration::days(day))
                .date_naive()
                .and_hms_opt(hour, 0, 0)
                .unwrap_or_default();
            let start = crm::events::recur::resolve(tz, local);
            let end = start
                + Duration::minutes(
                    *[30i64, 45, 60, 90]
                        .get(g.rng.random_range(0..4))
                        .unwrap_or(&60),
                );
            let rule = if g.chance(0.33) {
                Some(g.pick(&[
                    "FREQ=WEEKLY;COUNT=12",
                    "FREQ=DAILY;COUNT=20",
                    "FREQ=WEEKLY",
                    "FREQ=MONTHLY;COUNT=6",
                ]))
            } else {
                None
            };
            let times = Times {
                start,
                end,
                tz,
                all_day: false,
                rule: rule.and_then(|r| Rule::parse(r).ok()),
            };
            rows.0.push(g.id());
            rows.1.push(g.pick(EVENT_NAMES).to_string());
            rows.2.push(
                g.weighted(&[("meeting", 6), ("call", 3), ("other", 1)])
                    .to_string(),
            );
            rows.3.push(
                g.weighted(&[
                    ("Planned", 6),
                    ("Held", 2),
                    ("Not Held", 1),
                    ("Canceled", 1),
                ])
                .to_string(),
            );
            rows.4.push(start);
            more.0.push(end);
            more.1.push(zone.to_string());
            more.2.push(times.rrule_text());
            more.3.push(times.last_end());
            assignees.push(c.profiles[g.rng.random_range(0..c.profiles.len())]);
            contacts.push(if !c.contacts.is_empty() && g.chance(0.5) {
                Some(c.contacts[g.rng.random_range(0..c.contacts.len())])
            } else {
                None
            });
        }
        let mut tx = begin(pool, c.org).await?;
        sqlx::query(
            "INSERT INTO event (created_at, updated_at, id, org_id, created_by_id, updated_by_id, name, event_type,
                                status, start_at, end_at, timezone, rrule, last_end_at)
             SELECT now(), now(), t.id, $1, $2, $2, t.n, t.ty, t.st, t.s, t.e, t.tz, t.r, t.l
             FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[],
                         $9::text[], $10::text[], $11::timestamptz[]) AS t(id, n, ty, st, s, e, tz, r, l)",
        )
        .bind(c.org).bind(c.admin).bind(&rows.0).bind(&rows.1).bind(&rows.2).bind(&rows.3).bind(&rows.4)
        .bind(&more.0).bind(&more.1).bind(&more.2).bind(&more.3)
        .execute(&mut *tx)
        .await?;
        // The links in statements of their own: their RLS policies look the event up, and rows
        // a CTE inserts are invisible to the rest of the same statement.
        sqlx::query(
            "INSERT INTO event_assigned_to (event_id, profile_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])",
        )
        .bind(&rows.0)
        .bind(&assignees)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO event_contacts (event_id, contact_id)
             SELECT x.id, x.c FROM unnest($1::uuid[], $2::uuid[]) AS x(id, c) WHERE x.c IS NOT NULL",
        )
        .bind(&rows.0)
        .bind(&contacts)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        done += k;
        progress("events", done, n, started);
    }
    Ok(())
}

const EMAIL_SUBJECTS: &[&str] = &[
    "Following up on our call",
    "Your quote",
    "Meeting next week?",
    "Welcome aboard",
    "Renewal reminder",
    "Thanks for your time",
    "Proposal attached",
    "Quick question",
];

/// E-mails from contacts (mostly sent, some queued, failed or drafts), two templates, a contact
/// form with a few submissions.
async fn seed_emails(
    pool: &PgPool,
    g: &mut Gen,
    c: &LeadCtx<'_>,
    n: usize,
    batch: usize,
) -> anyhow::Result<()> {
    let (org, admin) = (c.org, c.admin);
    let mut tx = begin(pool, org).await?;
    for (name, subject, shared) in [
        ("Follow-up", "Following up, {{ first_name }}", true),
        ("Welcome", "Welcome, {{ first_name }}", false),
    ] {
        sqlx::query(
            "INSERT INTO crm_email_template (id, org_id, name, subject, body, is_shared, created_by_id)
             VALUES ($1, $2, $3, $4, '<p>Hello {{ first_name }},</p><p>Best regards</p>', $5, $6)",
        )
        .bind(g.id())
        .bind(org)
        .bind(name)
        .bind(subject)
        .bind(shared)
        .bind(admin)
        .execute(&mut *tx)
        .await?;
    }
    let form = g.id();
    sqlx::query(
        "INSERT INTO contact_form (id, org_id, key, name, created_by_id) VALUES ($1, $2, $3, 'Contact us', $4)",
    )
    .bind(form)
    .bind(org)
    .bind(g.id().simple().to_string())
    .bind(admin)
    .execute(&mut *tx)
    .await?;
    for i in 0..5 {
        let (f, l) = (g.pick(FIRST), g.pick(LAST));
        sqlx::query(
            "INSERT INTO contact_form_submission (created_at, updated_at, id, name, email, message, reason, status,
                                                  org_id, form_id)
             VALUES ($1, $1, $2, $3, $4, 'Please get in touch about pricing.', 'general', $5, $6, $7)",
        )
        .bind(g.past())
        .bind(g.id())
        .bind(format!("{f} {l}"))
        .bind(format!("{}.{i}@example.org", f.to_lowercase()))
        .bind(if i < 3 { "new" } else { "replied" })
        .bind(org)
        .bind(form)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    if c.contacts.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let (mut ids, mut at, mut rec, mut subj, mut status) =
            (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..k {
            ids.push(g.id());
            at.push(g.past());
            rec.push(c.contacts[g.rng.random_range(0..c.contacts.len())]);
            subj.push(g.pick(EMAIL_SUBJECTS).to_string());
            let r: f64 = g.rng.random();
            status.push(
                match r {
                    r if r < 0.9 => "sent",
                    r if r < 0.95 => "failed",
                    r if r < 0.98 => "draft",
                    _ => "queued",
                }
                .to_string(),
            );
        }
        let mut tx = begin(pool, org).await?;
        sqlx::query(
            "INSERT INTO crm_email (id, org_id, record_type, record_id, thread_id, from_email, to_addrs, subject, body,
                                    status, error, sent_at, message_id, rendered_subject, rendered_html, rendered_text,
                                    created_by_id, created_at, updated_at)
             SELECT t.id, $1, 'contact', t.rid, t.id, u.email, ARRAY[c.email::text], t.subj,
                    '<p>Hello {{ first_name }},</p><p>' || t.subj || '.</p>', t.st,
                    CASE WHEN t.st = 'failed' THEN 'SMTP send failed: connection refused' END,
                    CASE WHEN t.st = 'sent' THEN t.at END,
                    CASE WHEN t.st = 'sent' THEN '<crm_email.' || t.id || '@example.com>' END,
                    CASE WHEN t.st = 'sent' THEN t.subj END,
                    CASE WHEN t.st = 'sent' THEN '<p>Hello ' || c.first_name || ',</p><p>' || t.subj || '.</p>' END,
                    CASE WHEN t.st = 'sent' THEN 'Hello ' || c.first_name || ',' || E'\n' || t.subj || '.' END,
                    $2, t.at, t.at
             FROM unnest($3::uuid[], $4::timestamptz[], $5::uuid[], $6::text[], $7::text[]) AS t(id, at, rid, subj, st)
             JOIN contacts c ON c.id = t.rid
             CROSS JOIN (SELECT email FROM users WHERE id = $2) u
             WHERE coalesce(c.email, '') <> ''",
        )
        .bind(org)
        .bind(admin)
        .bind(&ids)
        .bind(at)
        .bind(rec)
        .bind(subj)
        .bind(status)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        done += k;
        progress("emails", done, n, started);
    }
    Ok(())
}
