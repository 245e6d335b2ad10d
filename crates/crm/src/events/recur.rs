//! RFC 5545 recurrence, the subset a CRM calendar needs: `FREQ` DAILY/WEEKLY/MONTHLY/YEARLY,
//! `INTERVAL`, `COUNT` or `UNTIL`, `BYDAY` (with ordinals in monthly/yearly rules), `BYMONTHDAY`,
//! `BYMONTH` and `WKST`. Occurrences are computed in the series' IANA time zone: the wall-clock
//! time of the first occurrence is kept across DST changes; a time that falls in a spring-forward
//! gap is shifted by the gap's length and an ambiguous one takes its first instant (RFC 5545
//! §3.3.5). Anything else in a rule (BYSETPOS, BYHOUR, HOURLY...) is refused, not ignored.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// `UNTIL=20260401`: occurrences on or before that local date.
    Date(NaiveDate),
    /// `UNTIL=20260401T120000Z`.
    Utc(DateTime<Utc>),
    /// `UNTIL=20260401T120000` (local time of the series).
    Local(NaiveDateTime),
}

/// A parsed RRULE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub freq: Freq,
    pub interval: u32,
    pub count: Option<u32>,
    until: Option<Until>,
    /// `(ordinal, weekday)`: `2TU` is `(Some(2), Tue)`.
    by_day: Vec<(Option<i32>, Weekday)>,
    by_month_day: Vec<i32>,
    by_month: Vec<u32>,
    wkst: Weekday,
}

/// The most occurrences a COUNT may ask for.
pub const MAX_COUNT: u32 = 5000;
/// How many periods (days, weeks...) an expansion walks at most: a rule that matches nothing
/// (`FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30`) ends instead of looping.
const MAX_PERIODS: u32 = 200_000;

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

fn int_list(v: &str, key: &str, ok: impl Fn(i32) -> bool) -> Result<Vec<i32>, String> {
    v.split(',')
        .map(|x| match x.trim().parse::<i32>() {
            Ok(n) if ok(n) => Ok(n),
            _ => Err(format!("{key} has an invalid value \"{x}\".")),
        })
        .collect()
}

impl Rule {
    /// Parses RRULE text (`FREQ=WEEKLY;BYDAY=MO,WE`, optionally prefixed `RRULE:`).
    pub fn parse(text: &str) -> Result<Rule, String> {
        let text = text.trim();
        let text = text
            .strip_prefix("RRULE:")
            .or_else(|| text.strip_prefix("rrule:"))
            .unwrap_or(text);
        let mut freq = None;
        let mut rule = Rule {
            freq: Freq::Daily,
            interval: 1,
            count: None,
            until: None,
            by_day: vec![],
            by_month_day: vec![],
            by_month: vec![],
            wkst: Weekday::Mon,
        };
        let mut seen: Vec<String> = Vec::new();
        for part in text.split(';').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("\"{part}\" is not NAME=VALUE."))?;
            let k = k.trim().to_ascii_uppercase();
            let v = v.trim().to_ascii_uppercase();
            if seen.contains(&k) {
                return Err(format!("{k} is given twice."));
            }
            seen.push(k.clone());
            match k.as_str() {
                "FREQ" => {
                    freq = Some(match v.as_str() {
                        "DAILY" => Freq::Daily,
                        "WEEKLY" => Freq::Weekly,
                        "MONTHLY" => Freq::Monthly,
                        "YEARLY" => Freq::Yearly,
                        _ => {
                            return Err(format!(
                                "FREQ={v} is not supported (DAILY, WEEKLY, MONTHLY or YEARLY)."
                            ));
                        }
                    })
                }
                "INTERVAL" => {
                    rule.interval = match v.parse::<u32>() {
                        Ok(n) if (1..=1000).contains(&n) => n,
                        _ => return Err("INTERVAL must be a whole number from 1 to 1000.".into()),
                    }
                }
                "COUNT" => {
                    rule.count = match v.parse::<u32>() {
                        Ok(n) if (1..=MAX_COUNT).contains(&n) => Some(n),
                        _ => {
                            return Err(format!(
                                "COUNT must be a whole number from 1 to {MAX_COUNT}."
                            ));
                        }
                    }
                }
                "UNTIL" => rule.until = Some(parse_until(&v)?),
                "BYDAY" => {
                    for d in v.split(',') {
                        let d = d.trim();
                        let (num, day) = d.split_at(d.len().saturating_sub(2));
                        let wd = weekday(day)
                            .ok_or_else(|| format!("BYDAY has an invalid day \"{d}\"."))?;
                        let ord = if num.is_empty() {
                            None
                        } else {
                            match num.trim_start_matches('+').parse::<i32>() {
                                Ok(n) if n != 0 && (-53..=53).contains(&n) => Some(n),
                                _ => return Err(format!("BYDAY has an invalid day \"{d}\".")),
                            }
                        };
                        rule.by_day.push((ord, wd));
                    }
                }
                "BYMONTHDAY" => {
                    rule.by_month_day =
                        int_list(&v, "BYMONTHDAY", |n| n != 0 && (-31..=31).contains(&n))?
                }
                "BYMONTH" => {
                    rule.by_month = int_list(&v, "BYMONTH", |n| (1..=12).contains(&n))?
                        .into_iter()
                        .map(|n| n as u32)
                        .collect()
                }
                "WKST" => {
                    rule.wkst =
                        weekday(&v).ok_or_else(|| format!("WKST has an invalid day \"{v}\"."))?
                }
                _ => return Err(format!("{k} is not supported.")),
            }
        }
        rule.freq = freq.ok_or("FREQ is required.")?;
        if rule.count.is_some() && rule.until.is_some() {
            return Err("COUNT and UNTIL cannot both be given.".into());
        }
        let ordinals = rule.by_day.iter().any(|(o, _)| o.is_some());
        if ordinals && matches!(rule.freq, Freq::Daily | Freq::Weekly) {
            return Err("BYDAY ordinals (like 2TU) need FREQ=MONTHLY or YEARLY.".into());
        }
        if ordinals && rule.freq == Freq::Yearly && !rule.by_month.is_empty() {
            // Ordinals then count within each month, as RFC 5545 says: allowed.
        }
        if !rule.by_month_day.is_empty() && rule.freq == Freq::Weekly {
            return Err("BYMONTHDAY cannot be used with FREQ=WEEKLY.".into());
        }
        Ok(rule)
    }

    /// The canonical text (what is stored and sent in feeds), UNTIL always in UTC for `tz`.
    pub fn to_text(&self, tz: Tz) -> String {
        let mut parts = vec![format!(
            "FREQ={}",
            match self.freq {
                Freq::Daily => "DAILY",
                Freq::Weekly => "WEEKLY",
                Freq::Monthly => "MONTHLY",
                Freq::Yearly => "YEARLY",
            }
        )];
        if self.interval != 1 {
            parts.push(format!("INTERVAL={}", self.interval));
        }
        if let Some(c) = self.count {
            parts.push(format!("COUNT={c}"));
        }
        match self.until {
            Some(Until::Date(d)) => parts.push(format!("UNTIL={}", d.format("%Y%m%d"))),
            Some(u) => parts.push(format!(
                "UNTIL={}",
                self.until_utc(u, tz).format("%Y%m%dT%H%M%SZ")
            )),
            None => {}
        }
        if !self.by_day.is_empty() {
            let days: Vec<String> = self
                .by_day
                .iter()
                .map(|(o, d)| {
                    format!(
                        "{}{}",
                        o.map(|o| o.to_string()).unwrap_or_default(),
                        day_code(*d)
                    )
                })
                .collect();
            parts.push(format!("BYDAY={}", days.join(",")));
        }
        if !self.by_month_day.is_empty() {
            let v: Vec<String> = self.by_month_day.iter().map(i32::to_string).collect();
            parts.push(format!("BYMONTHDAY={}", v.join(",")));
        }
        if !self.by_month.is_empty() {
            let v: Vec<String> = self.by_month.iter().map(u32::to_string).collect();
            parts.push(format!("BYMONTH={}", v.join(",")));
        }
        if self.wkst != Weekday::Mon {
            parts.push(format!("WKST={}", day_code(self.wkst)));
        }
        parts.join(";")
    }

    fn until_utc(&self, u: Until, tz: Tz) -> DateTime<Utc> {
        match u {
            Until::Utc(t) => t,
            Until::Local(l) => resolve(tz, l),
            Until::Date(d) => {
                resolve(
                    tz,
                    d.succ_opt()
                        .unwrap_or(d)
                        .and_hms_opt(0, 0, 0)
                        .unwrap_or_default(),
                ) - Duration::seconds(1)
            }
        }
    }

    /// The same rule ending just before `before` (an occurrence start): "this and following"
    /// cuts the old series there.
    pub fn ending_before(&self, before: DateTime<Utc>) -> Rule {
        let mut r = self.clone();
        r.count = None;
        r.until = Some(Until::Utc(before - Duration::seconds(1)));
        r
    }

    /// The same rule with `count` occurrences left (or unchanged when it has no COUNT).
    pub fn with_count(&self, count: Option<u32>) -> Rule {
        let mut r = self.clone();
        if r.count.is_some() {
            r.count = count;
        }
        r
    }

    /// Whether the rule ends (COUNT or UNTIL).
    pub fn bounded(&self) -> bool {
        self.count.is_some() || self.until.is_some()
    }

    /// Every occurrence start (local wall-clock time) in order, from `start` on, while `keep`
    /// says so (it gets each one; returning false stops).
    fn walk(&self, start: NaiveDateTime, tz: Tz, mut keep: impl FnMut(NaiveDateTime) -> bool) {
        let time = start.time();
        let d0 = start.date();
        let mut emitted = 0u32;
        let mut day_buf: Vec<NaiveDate> = Vec::new();
        for k in 0..MAX_PERIODS {
            day_buf.clear();
            let step = i64::from(k) * i64::from(self.interval);
            match self.freq {
                Freq::Daily => {
                    let Some(d) = d0.checked_add_signed(Duration::days(step)) else {
                        return;
                    };
                    if self.day_matches(d) {
                        day_buf.push(d);
                    }
                }
                Freq::Weekly => {
                    let back = (7 + d0.weekday().num_days_from_monday() as i64
                        - self.wkst.num_days_from_monday() as i64)
                        % 7;
                    let Some(week) = d0.checked_add_signed(Duration::days(step * 7 - back)) else {
                        return;
                    };
                    for i in 0..7 {
                        let d = week + Duration::days(i);
                        let wanted = if self.by_day.is_empty() {
                            d.weekday() == d0.weekday()
                        } else {
                            self.by_day.iter().any(|(_, w)| *w == d.weekday())
                        };
                        if wanted
                            && (self.by_month.is_empty() || self.by_month.contains(&d.month()))
                        {
                            day_buf.push(d);
                        }
                    }
                }
                Freq::Monthly => {
                    let m = i64::from(d0.year()) * 12 + i64::from(d0.month0()) + step;
                    let Some(first) =
                        NaiveDate::from_ymd_opt((m / 12) as i32, (m % 12) as u32 + 1, 1)
                    else {
                        return;
                    };
                    if self.by_month.is_empty() || self.by_month.contains(&first.month()) {
                        self.month_days(first, d0, &mut day_buf);
                    }
                }
                Freq::Yearly => {
                    let y = d0.year() as i64 + step;
                    if y > 9000 {
                        return;
                    }
                    let y = y as i32;
                    if !self.by_month.is_empty() {
                        for &m in &self.by_month {
                            if let Some(first) = NaiveDate::from_ymd_opt(y, m, 1) {
                                self.month_days(first, d0, &mut day_buf);
                            }
                        }
                    } else if !self.by_day.is_empty() && self.by_month_day.is_empty() {
                        // Weekdays of the whole year (ordinals count within the year).
                        let Some(jan1) = NaiveDate::from_ymd_opt(y, 1, 1) else {
                            return;
                        };
                        let days = if NaiveDate::from_ymd_opt(y, 2, 29).is_some() {
                            366
                        } else {
                            365
                        };
                        let all: Vec<NaiveDate> =
                            (0..days).map(|i| jan1 + Duration::days(i)).collect();
                        self.pick_weekdays(&all, &mut day_buf);
                    } else if !self.by_month_day.is_empty() {
                        // BYMONTHDAY alone recurs in the first occurrence's month.
                        if let Some(first) = NaiveDate::from_ymd_opt(y, d0.month(), 1) {
                            self.month_days(first, d0, &mut day_buf);
                        }
                    } else if let Some(d) = NaiveDate::from_ymd_opt(y, d0.month(), d0.day()) {
                        day_buf.push(d);
                    }
                }
            }
            day_buf.sort();
            day_buf.dedup();
            for &d in &day_buf {
                if d < d0 {
                    continue;
                }
                let local = d.and_time(time);
                if let Some(u) = self.until {
                    let past = match u {
                        Until::Date(ud) => d > ud,
                        Until::Local(ul) => local > ul,
                        Until::Utc(ut) => resolve(tz, local) > ut,
                    };
                    if past {
                        return;
                    }
                }
                if !keep(local) {
                    return;
                }
                emitted += 1;
                if self.count.is_some_and(|c| emitted >= c) {
                    return;
                }
            }
        }
    }

    /// BYMONTH/BYMONTHDAY/BYDAY filters of a DAILY rule.
    fn day_matches(&self, d: NaiveDate) -> bool {
        (self.by_month.is_empty() || self.by_month.contains(&d.month()))
            && (self.by_day.is_empty() || self.by_day.iter().any(|(_, w)| *w == d.weekday()))
            && (self.by_month_day.is_empty()
                || self.by_month_day.iter().any(|&md| month_day_is(d, md)))
    }

    /// The days of the month starting `first` that a MONTHLY (or YEARLY with BYMONTH) rule picks.
    fn month_days(&self, first: NaiveDate, d0: NaiveDate, out: &mut Vec<NaiveDate>) {
        let len = month_len(first);
        let all: Vec<NaiveDate> = (0..len).map(|i| first + Duration::days(i as i64)).collect();
        match (self.by_day.is_empty(), self.by_month_day.is_empty()) {
            (true, true) => {
                if let Some(d) = first.with_day(d0.day()) {
                    out.push(d);
                }
            }
            (true, false) => out.extend(
                all.iter()
                    .filter(|d| self.by_month_day.iter().any(|&md| month_day_is(**d, md))),
            ),
            (false, true) => self.pick_weekdays(&all, out),
            (false, false) => {
                let mut picked = Vec::new();
                self.pick_weekdays(&all, &mut picked);
                out.extend(
                    picked
                        .into_iter()
                        .filter(|d| self.by_month_day.iter().any(|&md| month_day_is(*d, md))),
                );
            }
        }
    }

    /// The days of `all` (one month or year, in order) that BYDAY names, ordinals counted in it.
    fn pick_weekdays(&self, all: &[NaiveDate], out: &mut Vec<NaiveDate>) {
        for (ord, wd) in &self.by_day {
            let of_day: Vec<NaiveDate> =
                all.iter().copied().filter(|d| d.weekday() == *wd).collect();
            match ord {
                None => out.extend(of_day),
                Some(n) if *n > 0 => out.extend(of_day.get(*n as usize - 1)),
                Some(n) => {
                    let back = (-*n) as usize;
                    if back <= of_day.len() {
                        out.push(of_day[of_day.len() - back]);
                    }
                }
            }
        }
    }

    /// Occurrence starts (UTC) of a series starting at local `start` whose occurrences of
    /// nominal length `len` overlap `[from, to)`, at most `limit` of them.
    pub fn between(
        &self,
        start: NaiveDateTime,
        len: Duration,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        self.walk(start, tz, |local| {
            let s = resolve(tz, local);
            if s >= to || out.len() >= limit {
                return false;
            }
            if resolve(tz, local + len) > from {
                out.push(s);
            }
            true
        });
        out
    }

    /// The last occurrence's end of a bounded rule (None: it never ends, or has no occurrence).
    pub fn last_end(&self, start: NaiveDateTime, len: Duration, tz: Tz) -> Option<DateTime<Utc>> {
        if !self.bounded() {
            return None;
        }
        let mut last = None;
        self.walk(start, tz, |local| {
            last = Some(local);
            true
        });
        last.map(|l| resolve(tz, l + len))
    }

    /// Whether `at` is an occurrence start, and how many occurrences come before it.
    pub fn position(&self, start: NaiveDateTime, tz: Tz, at: DateTime<Utc>) -> Option<u32> {
        let mut n = 0u32;
        let mut found = None;
        self.walk(start, tz, |local| {
            let s = resolve(tz, local);
            if s == at {
                found = Some(n);
            }
            n += 1;
            s < at
        });
        found
    }
}

fn day_code(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn month_len(first: NaiveDate) -> u32 {
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    next.map_or(31, |n| (n - first).num_days() as u32)
}

/// Whether `d` is day `md` of its month (negative: counted from the end).
fn month_day_is(d: NaiveDate, md: i32) -> bool {
    if md > 0 {
        d.day() as i32 == md
    } else {
        let len = month_len(d.with_day(1).unwrap_or(d)) as i32;
        d.day() as i32 == len + 1 + md
    }
}

fn parse_until(v: &str) -> Result<Until, String> {
    let bad =
        || format!("UNTIL=\"{v}\" is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSSZ).");
    if v.len() == 8 {
        return NaiveDate::parse_from_str(v, "%Y%m%d")
            .map(Until::Date)
            .map_err(|_| bad());
    }
    if let Some(z) = v.strip_suffix('Z') {
        return NaiveDateTime::parse_from_str(z, "%Y%m%dT%H%M%S")
            .map(|t| Until::Utc(t.and_utc()))
            .map_err(|_| bad());
    }
    NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S")
        .map(Until::Local)
        .map_err(|_| bad())
}

/// The instant of local wall-clock time `local` in `tz`: the first of two in a fall-back
/// overlap, and for a time in a spring-forward gap the time with the offset before the gap
/// (02:30 in a one-hour gap is 03:30), as RFC 5545 says.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        LocalResult::None => {
            // Gaps are at most a few hours: step back until a time exists, keep its offset.
            for h in 1..=24 {
                let before = local - Duration::hours(h);
                if let LocalResult::Single(t) | LocalResult::Ambiguous(t, _) =
                    tz.from_local_datetime(&before)
                {
                    return t.with_timezone(&Utc) + Duration::hours(h);
                }
            }
            local.and_utc()
        }
    }
}

/// Wall-clock time of `t` in `tz`.
pub fn local(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

/// RFC 3339 text of `t` with the offset `tz` has at that instant.
pub fn rfc3339(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}
