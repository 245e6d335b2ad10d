//! Shared enumerations from upstream's common/utils.py that the foundation needs.

pub const ROLES: &[&str] = &["ADMIN", "USER"];

pub const CURRENCY_CODES: &[(&str, &str)] = &[
    ("USD", "USD, Dollar"),
    ("EUR", "EUR, Euro"),
    ("GBP", "GBP, Pound"),
    ("INR", "INR, Rupee"),
    ("CAD", "CAD, Dollar"),
    ("AUD", "AUD, Dollar"),
    ("JPY", "JPY, Yen"),
    ("CNY", "CNY, Yuan"),
    ("CHF", "CHF, Franc"),
    ("SGD", "SGD, Dollar"),
    ("AED", "AED, Dirham"),
    ("BRL", "BRL, Real"),
    ("MXN", "MXN, Peso"),
];

/// Symbol for a currency code; unknown codes get `$`, as upstream.
pub fn currency_symbol(code: &str) -> &'static str {
    match code {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "INR" => "₹",
        "CAD" => "CA$",
        "AUD" => "A$",
        "JPY" | "CNY" => "¥",
        "CHF" => "CHF",
        "SGD" => "S$",
        "AED" => "د.إ",
        "BRL" => "R$",
        "MXN" => "MX$",
        _ => "$",
    }
}

pub fn is_currency(code: &str) -> bool {
    CURRENCY_CODES.iter().any(|(c, _)| *c == code)
}

/// ISO 3166 alpha-2 codes upstream accepts (its COUNTRIES list, in its order).
pub const COUNTRY_CODES: &[&str] = &[
    "GB", "AF", "AX", "AL", "DZ", "AS", "AD", "AO", "AI", "AQ", "AG", "AR", "AM", "AW", "AU", "AT",
    "AZ", "BS", "BH", "BD", "BB", "BY", "BE", "BZ", "BJ", "BM", "BT", "BO", "BA", "BW", "BV", "BR",
    "IO", "BN", "BG", "BF", "BI", "KH", "CM", "CA", "CV", "KY", "CF", "TD", "CL", "CN", "CX", "CC",
    "CO", "KM", "CG", "CD", "CK", "CR", "CI", "HR", "CU", "CY", "CZ", "DK", "DJ", "DM", "DO", "EC",
    "EG", "SV", "GQ", "ER", "EE", "ET", "FK", "FO", "FJ", "FI", "FR", "GF", "PF", "TF", "GA", "GM",
    "GE", "DE", "GH", "GI", "GR", "GL", "GD", "GP", "GU", "GT", "GG", "GN", "GW", "GY", "HT", "HM",
    "VA", "HN", "HK", "HU", "IS", "IN", "ID", "IR", "IQ", "IE", "IM", "IL", "IT", "JM", "JP", "JE",
    "JO", "KZ", "KE", "KI", "KP", "KR", "KW", "KG", "LA", "LV", "LB", "LS", "LR", "LY", "LI", "LT",
    "LU", "MO", "MK", "MG", "MW", "MY", "MV", "ML", "MT", "MH", "MQ", "MR", "MU", "YT", "MX", "FM",
    "MD", "MC", "MN", "ME", "MS", "MA", "MZ", "MM", "NA", "NR", "NP", "NL", "AN", "NC", "NZ", "NI",
    "NE", "NG", "NU", "NF", "MP", "NO", "OM", "PK", "PW", "PS", "PA", "PG", "PY", "PE", "PH", "PN",
    "PL", "PT", "PR", "QA", "RE", "RO", "RU", "RW", "BL", "SH", "KN", "LC", "MF", "PM", "VC", "WS",
    "SM", "ST", "SA", "SN", "RS", "SC", "SL", "SG", "SK", "SI", "SB", "SO", "ZA", "GS", "ES", "LK",
    "SD", "SR", "SJ", "SZ", "SE", "CH", "SY", "TW", "TJ", "TZ", "TH", "TL", "TG", "TK", "TO", "TT",
    "TN", "TR", "TM", "TC", "TV", "UG", "UA", "AE", "US", "UM", "UY", "UZ", "VU", "VE", "VN", "VG",
    "VI", "WF", "EH", "YE", "ZM", "ZW",
];

pub fn is_country(code: &str) -> bool {
    COUNTRY_CODES.contains(&code)
}
