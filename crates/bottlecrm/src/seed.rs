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
        seed_emails(pool, &mut g, &ctx, args.emails, batch).await?;
    }
    // Fresh statistics, so the planner picks the list indexes at once.
    for table in ["lead", "accounts", "contacts", "crm_email"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
            .execute(pool)
            .await
            .ok();
    }
    println!(
        "Seeding complete! {} org(s), {} users, {} teams, {} tags, {} contacts, {} accounts, {} leads per org. Total time: {:.2} seconds",
        args.orgs,
        args.users_per_org + 1,
        args.teams.min(TEAMS.len()),
        args.tags.min(TAGS.len()),
        args.contacts,
        args.accounts,
        args.leads,
        started.elapsed().as_secs_f64()
    );
    println!(
        "log in as {} (password as given with --password)",
        args.email
    );
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
