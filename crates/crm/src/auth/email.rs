//! The one e-mail address check of the API (users, registration, login, password reset, org
//! settings, leads...): Django's `EmailValidator`, a little stricter.
//!
//! - Local part: Django's dot-atom (ASCII letters, digits and ``!#$%&'*+/=?^_`{|}~-``, dots
//!   between non-empty atoms), at most 64 characters. Django's *quoted* form (`"a b"@x.io`) is
//!   refused: it lets quotes, spaces, `<`, `>` and `@` into an address that is shown in pages and
//!   put in mail headers, and no real account needs it.
//! - Domain: `localhost`, a literal IP in brackets (`[192.0.2.1]`, `[::1]`), or host labels after
//!   IDNA conversion to punycode (1-63 of `a-z0-9-`, no `-` at either end), at least two labels,
//!   the last one not all digits.
//! - Homoglyphs: the letters of an internationalised domain must come from one script (Latin may
//!   mix with Han, Hiragana, Katakana, Hangul and Bopomofo, as Unicode TS #39's "highly
//!   restrictive" level allows), so `аpple.com` with a Cyrillic `а` is refused while `bücher.de`,
//!   `пример.рф` and `日本.jp` pass.
//! - At most 254 characters in all.

use std::net::IpAddr;

/// Django's e-mail normalisation: surrounding spaces dropped, the domain part lower-cased.
pub fn normalize_email(email: &str) -> String {
    let email = email.trim();
    match email.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => email.to_string(),
    }
}

pub fn is_valid_email(email: &str) -> bool {
    if email.is_empty() || email.len() > 254 {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    valid_local_part(local) && valid_domain(domain)
}

fn is_atom_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c)
}

fn valid_local_part(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atom_char))
}

fn valid_domain(domain: &str) -> bool {
    if domain.is_empty() {
        return false;
    }
    let lower = domain.to_lowercase();
    if lower == "localhost" {
        return true;
    }
    if let Some(literal) = lower.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        return literal
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            && literal.parse::<IpAddr>().is_ok();
    }
    if !lower.is_ascii() && !single_script(&lower) {
        return false;
    }
    let ascii = if lower.is_ascii() {
        lower
    } else {
        // Only characters a host name may hold go to IDNA (it maps some others to ASCII).
        if lower
            .chars()
            .any(|c| !(c.is_alphanumeric() || c == '-' || c == '.' || is_combining_mark(c)))
        {
            return false;
        }
        match url::Host::parse(&lower) {
            Ok(url::Host::Domain(d)) => d,
            _ => return false,
        }
    };
    if ascii.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()))
}

fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Script {
    Latin,
    Greek,
    Cyrillic,
    Armenian,
    Hebrew,
    Arabic,
    Devanagari,
    Thai,
    Georgian,
    Han,
    Hiragana,
    Katakana,
    Hangul,
    Bopomofo,
    Other,
}

/// The script of a letter; None for what every script shares (digits, `-`, `.`, marks).
fn script(c: char) -> Option<Script> {
    use Script::*;
    if c.is_ascii_digit() || c == '-' || c == '.' || is_combining_mark(c) {
        return None;
    }
    Some(match c as u32 {
        0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F | 0x1E00..=0x1EFF | 0x2C60..=0x2C7F => Latin,
        0xA720..=0xA7FF | 0xAB30..=0xAB6F | 0xFF21..=0xFF3A | 0xFF41..=0xFF5A => Latin,
        0x370..=0x3FF | 0x1F00..=0x1FFF => Greek,
        0x400..=0x52F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Cyrillic,
        0x530..=0x58F => Armenian,
        0x590..=0x5FF => Hebrew,
        0x600..=0x6FF | 0x750..=0x77F | 0x8A0..=0x8FF => Arabic,
        0x900..=0x97F => Devanagari,
        0xE00..=0xE7F => Thai,
        0x10A0..=0x10FF | 0x2D00..=0x2D2F => Georgian,
        0x2E80..=0x2FDF | 0x3005 | 0x3007 | 0x3021..=0x3029 | 0x3400..=0x4DBF => Han,
        0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF => Han,
        0x3040..=0x309F => Hiragana,
        0x30A0..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Katakana,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Hangul,
        0x3100..=0x312F | 0x31A0..=0x31BF => Bopomofo,
        _ => Other,
    })
}

/// One script for the whole domain, or Latin with the CJK scripts UTS #39 lets it mix with.
fn single_script(domain: &str) -> bool {
    use Script::*;
    let mut seen: Vec<Script> = Vec::new();
    for s in domain.chars().filter_map(script) {
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    if seen.len() <= 1 {
        return true;
    }
    let allowed: [&[Script]; 3] = [
        &[Latin, Han, Hiragana, Katakana],
        &[Latin, Han, Bopomofo],
        &[Latin, Han, Hangul],
    ];
    allowed
        .iter()
        .any(|set| seen.iter().all(|s| set.contains(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_table() {
        let accepted = [
            "a@example.com",
            "a.b+c@sub.example.co",
            "first.last@example.org",
            "o'brien@example.ie",
            "x_y-z@ex-ample.com",
            "a!#$%&*+/=?^_`{|}~-b@example.com",
            "user@localhost",
            "user@[192.0.2.1]",
            "user@[::1]",
            "user@bücher.de",
            "user@пример.рф",
            "user@日本語.jp",
            "user@xn--bcher-kva.de",
            "user@EXAMPLE.COM",
            "user@a1.io",
        ];
        let rejected = [
            "",
            "nope",
            "a@b",
            "@example.com",
            "a@",
            "a b@example.com",
            "<script>x@example.com",
            "x@<script>.com",
            "\"quoted\"@example.com",
            "\"a b\"@example.com",
            "a\"b@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a.@example.com",
            "a@b@example.com",
            "a@-example.com",
            "a@example-.com",
            "a@example..com",
            "a@example.123",
            "a@exa_mple.com",
            "a@[300.1.1.1]",
            "a@[example.com]",
            "josé@example.com",
            "a@\u{0430}pple.com",                      // Cyrillic а + Latin
            "a@p\u{0430}ypal.com",                     // Cyrillic а inside a Latin label
            "a@\u{0430}\u{0440}\u{0440}l\u{0435}.com", // mostly Cyrillic + Latin l
            "a@g\u{03bf}\u{03bf}gle.com",              // Greek omicrons
            "a\u{0000}@example.com",
            "a@exam\u{0000}ple.com",
            "a@example.com\n",
            "a@ex\u{2024}ample.com", // one-dot leader looks like a dot
            "a@example\u{ff0e}com",  // fullwidth full stop
        ];
        for e in accepted {
            assert!(is_valid_email(&normalize_email(e)), "should accept {e:?}");
        }
        for e in rejected {
            assert!(!is_valid_email(e), "should reject {e:?}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(!is_valid_email(&long_local));
        let long = format!("a@{}.com", "b".repeat(250));
        assert!(!is_valid_email(&long));
        assert_eq!(normalize_email(" Q@EXAMPLE.COM "), "Q@example.com");
    }
}
