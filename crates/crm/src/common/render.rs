//! Set-wise rendering of the mini-objects every list nests (profile, user, team, tag, contact,
//! account), as SQL. A list statement selects its page into a CTE (columns `id` and
//! `created_by_id`), declares its join tables as `Nest`s, and gets CTEs that read each link once
//! per page and render each nested object once however many records share it; per record id,
//! `n_<key>` holds the JSON array of one list (in link order) and `n_um` the creator's UserMini.
//! Per-record PL/pgSQL calls cost ~8 ms a page; this costs a few joins.
//!
//! The shapes are those of `crm_profile_obj`, `crm_user_mini`, `crm_tag_obj`, `crm_team_obj` and
//! `crm_contact_obj` (migration 0030), which detail pages use; tests check they agree.

/// ProfileObj over aliases `p` (profile) and `u` (its user).
pub const PROFILE_OBJ: &str = "json_build_object('id', p.id,
    'user_details', json_build_object('email', u.email, 'id', u.id, 'is_active', u.is_active,
                                      'profile_pic', u.profile_pic, 'last_login', crm_ts(u.last_login)),
    'role', p.role, 'address', p.address_id, 'has_marketing_access', p.has_marketing_access,
    'has_sales_access', p.has_sales_access, 'phone', p.phone, 'date_of_joining', p.date_of_joining,
    'is_active', p.is_active, 'created_at', crm_ts(p.created_at))";
/// UserMini `{id, email, profile_pic}` over alias `u`.
pub const USER_MINI: &str =
    "json_build_object('id', u.id, 'email', u.email, 'profile_pic', u.profile_pic)";
/// TagObj over alias `t`.
pub const TAG_OBJ: &str =
    "json_build_object('id', t.id, 'name', t.name, 'slug', t.slug, 'color', t.color,
    'description', t.description, 'is_active', t.is_active, 'created_at', crm_ts(t.created_at))";
/// Account mini-object `{id, name}` over alias `a`.
pub const ACCOUNT_MINI: &str = "json_build_object('id', a.id, 'name', a.name)";

/// What a join table's other column points at, and how it is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obj {
    /// ProfileObj.
    Profile,
    /// TeamObj (with its members as ProfileObj and its creator as UserMini).
    Team,
    /// TagObj.
    Tag,
    /// The bare id (upstream renders some lists as ids).
    Id,
    /// ContactObj (with its assignees, teams and tag ids).
    Contact,
    /// `{id, name}`.
    Account,
    /// Not a list: how many links the record has (`count(key)`).
    Count,
}

/// One nested list of a record: join table, the record's column in it, the other column.
#[derive(Debug, Clone, Copy)]
pub struct Nest {
    pub key: &'static str,
    pub table: &'static str,
    pub fk: &'static str,
    pub col: &'static str,
    pub obj: Obj,
}

/// Links of join `table` whose `owner` is among `owners` (a query), as `(id, owner, obj)`.
fn links(name: &str, table: &str, owner: &str, col: &str, owners: &str) -> String {
    format!(
        "{name} AS MATERIALIZED (SELECT x.id, x.{owner} AS owner, x.{col} AS obj FROM {table} x WHERE x.{owner} IN ({owners}))"
    )
}

/// Per owner, the JSON array of the objects of `links`, in link order.
fn agg(name: &str, links: &str, objects: Option<&str>) -> String {
    if objects == Some("count") {
        return format!(
            "{name} AS MATERIALIZED (SELECT k.owner AS id, count(*) AS j FROM {links} k GROUP BY k.owner)"
        );
    }
    match objects {
        Some(objects) => format!(
            "{name} AS MATERIALIZED (SELECT k.owner AS id, json_agg(o.o ORDER BY k.id) AS j
                                     FROM {links} k LEFT JOIN {objects} o ON o.id = k.obj GROUP BY k.owner)"
        ),
        None => format!(
            "{name} AS MATERIALIZED (SELECT k.owner AS id, json_agg(k.obj ORDER BY k.id) AS j FROM {links} k GROUP BY k.owner)"
        ),
    }
}

fn union(parts: &[String]) -> String {
    parts.join(" UNION ")
}

/// The CTEs rendering `nests` for the records of CTE `page` (see the module comment).
pub fn nested_ctes(page: &str, nests: &[Nest]) -> String {
    let mut ctes: Vec<String> = Vec::new();
    let owners = format!("SELECT id FROM {page}");
    let of = |obj: Obj| -> Vec<String> {
        nests
            .iter()
            .filter(|n| n.obj == obj)
            .map(|n| format!("SELECT obj FROM n_{}_l", n.key))
            .collect()
    };
    for n in nests {
        ctes.push(links(
            &format!("n_{}_l", n.key),
            n.table,
            n.fk,
            n.col,
            &owners,
        ));
    }
    let contacts = of(Obj::Contact);
    let mut profiles = of(Obj::Profile);
    let mut teams = of(Obj::Team);
    let tags = of(Obj::Tag);
    let accounts = of(Obj::Account);
    if !contacts.is_empty() {
        let cs = union(&contacts);
        ctes.push(links(
            "n_ca_l",
            "contacts_assigned_to",
            "contact_id",
            "profile_id",
            &cs,
        ));
        ctes.push(links(
            "n_cm_l",
            "contacts_teams",
            "contact_id",
            "teams_id",
            &cs,
        ));
        ctes.push(links(
            "n_cg_l",
            "contacts_tags",
            "contact_id",
            "tags_id",
            &cs,
        ));
        profiles.push("SELECT obj FROM n_ca_l".into());
        teams.push("SELECT obj FROM n_cm_l".into());
    }
    if !teams.is_empty() {
        ctes.push(links(
            "n_tu_l",
            "teams_users",
            "teams_id",
            "profile_id",
            &union(&teams),
        ));
        profiles.push("SELECT obj FROM n_tu_l".into());
    }
    if !profiles.is_empty() {
        ctes.push(format!(
            "n_po AS MATERIALIZED (SELECT p.id, {PROFILE_OBJ} AS o FROM profile p JOIN users u ON u.id = p.user_id
                                   WHERE p.id IN ({}))",
            union(&profiles)
        ));
    }
    if !teams.is_empty() {
        ctes.push(agg("n_tuj", "n_tu_l", Some("n_po")));
        ctes.push(format!(
            "n_tmo AS MATERIALIZED (SELECT t.id, json_build_object('id', t.id, 'name', t.name, 'description', t.description,
                     'users', coalesce(tuj.j, '[]'), 'created_at', crm_ts(t.created_at),
                     'created_by', CASE WHEN u.id IS NOT NULL THEN {USER_MINI} END) AS o
                 FROM teams t LEFT JOIN n_tuj tuj ON tuj.id = t.id LEFT JOIN users u ON u.id = t.created_by_id
                 WHERE t.id IN ({}))",
            union(&teams)
        ));
    }
    if !tags.is_empty() {
        ctes.push(format!(
            "n_tgo AS MATERIALIZED (SELECT t.id, {TAG_OBJ} AS o FROM tags t WHERE t.id IN ({}))",
            union(&tags)
        ));
    }
    if !accounts.is_empty() {
        ctes.push(format!(
            "n_ao AS MATERIALIZED (SELECT a.id, {ACCOUNT_MINI} AS o FROM accounts a WHERE a.id IN ({}))",
            union(&accounts)
        ));
    }
    if !contacts.is_empty() {
        ctes.push(agg("n_caj", "n_ca_l", Some("n_po")));
        ctes.push(agg("n_cmj", "n_cm_l", Some("n_tmo")));
        ctes.push(agg("n_cgj", "n_cg_l", None));
        ctes.push(format!(
            "n_co AS MATERIALIZED (SELECT c.id, json_build_object(
                 'id', c.id, 'first_name', c.first_name, 'last_name', c.last_name, 'email', c.email,
                 'phone', c.phone, 'organization', c.organization, 'title', c.title, 'department', c.department,
                 'do_not_call', c.do_not_call, 'linkedin_url', c.linkedin_url, 'address_line', c.address_line,
                 'city', c.city, 'state', c.state, 'postcode', c.postcode, 'country', c.country,
                 'assigned_to', coalesce(caj.j, '[]'), 'teams', coalesce(cmj.j, '[]'), 'tags', coalesce(cgj.j, '[]'),
                 'description', c.description, 'created_by', c.created_by_id, 'created_at', crm_ts(c.created_at),
                 'is_active', c.is_active,
                 'org', (SELECT json_build_object('id', o.id, 'name', o.name) FROM organization o WHERE o.id = c.org_id),
                 'account', c.account_id) AS o
             FROM contacts c LEFT JOIN n_caj caj ON caj.id = c.id LEFT JOIN n_cmj cmj ON cmj.id = c.id
                  LEFT JOIN n_cgj cgj ON cgj.id = c.id
             WHERE c.id IN ({}))",
            union(&contacts)
        ));
    }
    for n in nests {
        let objects = match n.obj {
            Obj::Profile => Some("n_po"),
            Obj::Team => Some("n_tmo"),
            Obj::Tag => Some("n_tgo"),
            Obj::Contact => Some("n_co"),
            Obj::Account => Some("n_ao"),
            Obj::Id => None,
            Obj::Count => Some("count"),
        };
        ctes.push(agg(
            &format!("n_{}", n.key),
            &format!("n_{}_l", n.key),
            objects,
        ));
    }
    ctes.push(format!(
        "n_um AS MATERIALIZED (SELECT u.id, {USER_MINI} AS o FROM users u WHERE u.id IN (SELECT created_by_id FROM {page}))"
    ));
    ctes.join(",\n")
}

/// The joins that bring the nested lists and the creator next to rows of alias `alias`.
pub fn nested_joins(alias: &str, nests: &[Nest]) -> String {
    let mut s = String::new();
    for n in nests {
        s.push_str(&format!(
            " LEFT JOIN n_{k} ON n_{k}.id = {alias}.id",
            k = n.key
        ));
    }
    s.push_str(&format!(
        " LEFT JOIN n_um ON n_um.id = {alias}.created_by_id"
    ));
    s
}

/// The JSON array of nested list `key` (empty when the record has none).
pub fn nested(key: &str) -> String {
    format!("coalesce(n_{key}.j, '[]')")
}

/// How many links of `Obj::Count` nest `key` the record has.
pub fn count(key: &str) -> String {
    format!("coalesce(n_{key}.j, 0)")
}

/// The creator's UserMini (null when none).
pub const CREATOR: &str = "n_um.o";
