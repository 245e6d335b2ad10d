//! The one place invoice, estimate and recurring money is computed (exact decimals).
//!
//! Line: `subtotal = quantity × unit_price`; `discount = subtotal × value / 100` (PERCENTAGE) or
//! `value` (FIXED or none); `tax = (subtotal − discount) × rate / 100`; `total = subtotal −
//! discount + tax`.
//!
//! Header (upstream's finding 1 fixed: line discounts and taxes reach the header):
//! `subtotal = Σ line subtotal` (gross); the header discount applies to what the lines leave
//! (`Σ subtotal − Σ line discount`); `discount_amount = Σ line discount + header discount`;
//! `tax_amount = Σ line tax + (subtotal − discount_amount) × header rate / 100`;
//! `total = subtotal − discount_amount + tax_amount (+ shipping)`.
//!
//! Rounding happens once per stored column (2 places, half away from zero, as PostgreSQL
//! rounds `numeric(p,2)`), from the full-precision chain; header sums read the lines' stored
//! (rounded) columns. Responses render the stored values, so a write's response, later reads,
//! the portal and PDFs show the same figures.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

/// Largest value a `numeric(12,2)` column holds.
fn money_max() -> Decimal {
    Decimal::new(999_999_999_999, 2)
}

/// Two places, half away from zero.
pub fn round(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// `"12.50"`: the text of a stored 2-place value.
pub fn text(d: Decimal) -> String {
    let mut r = round(d);
    r.rescale(2);
    r.to_string()
}

/// A canonical decimal text (as `http::fields::parse_decimal` returns) as a `Decimal`.
pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiscountType {
    /// Stored as `""`: the value is an amount, as FIXED (upstream).
    #[default]
    None,
    Percentage,
    Fixed,
}

impl DiscountType {
    /// Upstream's choices, case-insensitively (the estimates page sends `"fixed"`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "" => Some(Self::None),
            "PERCENTAGE" => Some(Self::Percentage),
            "FIXED" => Some(Self::Fixed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Percentage => "PERCENTAGE",
            Self::Fixed => "FIXED",
        }
    }

    fn amount(self, base: Decimal, value: Decimal) -> Decimal {
        match self {
            Self::Percentage => base * value / Decimal::ONE_HUNDRED,
            _ => value,
        }
    }
}

/// A line's inputs (already validated to be >= 0 with 2 places).
#[derive(Debug, Clone, Default)]
pub struct LineIn {
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub discount_type: DiscountType,
    pub discount_value: Decimal,
    pub tax_rate: Decimal,
}

/// A line's stored (rounded) computed columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineTotals {
    pub subtotal: Decimal,
    pub discount_amount: Decimal,
    pub tax_amount: Decimal,
    pub total: Decimal,
}

/// A rule a document breaks: the field to name and the message.
pub type Broken = (&'static str, String);

fn percent_ok(field: &'static str, t: DiscountType, v: Decimal) -> Result<(), Broken> {
    if t == DiscountType::Percentage && v > Decimal::ONE_HUNDRED {
        return Err((
            field,
            "Ensure this value is less than or equal to 100.".into(),
        ));
    }
    Ok(())
}

fn rate_ok(field: &'static str, v: Decimal) -> Result<(), Broken> {
    if v > Decimal::ONE_HUNDRED {
        return Err((
            field,
            "Ensure this value is less than or equal to 100.".into(),
        ));
    }
    Ok(())
}

fn fits(field: &'static str, v: Decimal) -> Result<(), Broken> {
    if round(v).abs() > money_max() {
        return Err((
            field,
            "The amount is too large (at most 10 digits before the decimal point).".into(),
        ));
    }
    Ok(())
}

/// Computes a line; refuses a percentage above 100, a tax rate above 100, a fixed discount
/// larger than the line's subtotal and amounts that do not fit the columns.
pub fn line(l: &LineIn) -> Result<LineTotals, Broken> {
    percent_ok("discount_value", l.discount_type, l.discount_value)?;
    rate_ok("tax_rate", l.tax_rate)?;
    let subtotal = l.quantity * l.unit_price;
    fits("quantity", subtotal)?;
    let discount = l.discount_type.amount(subtotal, l.discount_value);
    if discount > subtotal {
        return Err((
            "discount_value",
            format!(
                "The discount ({}) cannot be larger than the line subtotal ({}).",
                text(discount),
                text(subtotal)
            ),
        ));
    }
    let taxable = subtotal - discount;
    let tax = taxable * l.tax_rate / Decimal::ONE_HUNDRED;
    let total = taxable + tax;
    fits("quantity", total)?;
    Ok(LineTotals {
        subtotal: round(subtotal),
        discount_amount: round(discount),
        tax_amount: round(tax),
        total: round(total),
    })
}

/// A document's header inputs; `shipping` is `None` for estimates and recurring templates.
#[derive(Debug, Clone, Default)]
pub struct HeaderIn {
    pub discount_type: DiscountType,
    pub discount_value: Decimal,
    pub tax_rate: Decimal,
    pub shipping: Option<Decimal>,
}

/// A document's stored (rounded) totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub subtotal: Decimal,
    pub discount_amount: Decimal,
    pub tax_amount: Decimal,
    pub total_amount: Decimal,
}

/// Computes the header from the lines' stored columns; refuses a percentage or tax rate above
/// 100 and a fixed discount larger than what the lines leave after their own discounts.
pub fn header(lines: &[LineTotals], h: &HeaderIn) -> Result<Totals, Broken> {
    percent_ok("discount_value", h.discount_type, h.discount_value)?;
    rate_ok("tax_rate", h.tax_rate)?;
    let subtotal: Decimal = lines.iter().map(|l| l.subtotal).sum();
    let line_discounts: Decimal = lines.iter().map(|l| l.discount_amount).sum();
    let line_taxes: Decimal = lines.iter().map(|l| l.tax_amount).sum();
    let net = subtotal - line_discounts;
    let own = h.discount_type.amount(net, h.discount_value);
    if own > net {
        return Err((
            "discount_value",
            format!(
                "The discount ({}) cannot be larger than the subtotal after line discounts ({}).",
                text(own),
                text(net)
            ),
        ));
    }
    let discount = line_discounts + own;
    let taxable = subtotal - discount;
    let tax = line_taxes + taxable * h.tax_rate / Decimal::ONE_HUNDRED;
    let total = taxable + tax + h.shipping.unwrap_or_default();
    fits("subtotal", subtotal)?;
    fits("total_amount", total)?;
    Ok(Totals {
        subtotal: round(subtotal),
        discount_amount: round(discount),
        tax_amount: round(tax),
        total_amount: round(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        dec(s)
    }

    fn li(q: &str, p: &str, t: DiscountType, v: &str, rate: &str) -> LineIn {
        LineIn {
            quantity: d(q),
            unit_price: d(p),
            discount_type: t,
            discount_value: d(v),
            tax_rate: d(rate),
        }
    }

    fn cols(t: &Totals) -> [String; 4] {
        [
            text(t.subtotal),
            text(t.discount_amount),
            text(t.tax_amount),
            text(t.total_amount),
        ]
    }

    use DiscountType::*;

    #[test]
    fn vector_a_lines_as_upstream_header_with_line_discounts_and_taxes() {
        let l1 = line(&li("3", "33.33", Percentage, "15", "10")).unwrap();
        assert_eq!(
            [l1.subtotal, l1.discount_amount, l1.tax_amount, l1.total].map(text),
            ["99.99", "15.00", "8.50", "93.49"]
        );
        let l2 = line(&li("1.5", "10.05", None, "0", "0")).unwrap();
        assert_eq!(text(l2.subtotal), "15.08");
        assert_eq!(text(l2.total), "15.08");
        let h = HeaderIn {
            discount_type: Percentage,
            discount_value: d("10"),
            tax_rate: d("8.25"),
            shipping: Some(d("5.00")),
        };
        // net 100.07 → own discount 10.007; discount 25.007; taxable 90.063;
        // tax 8.50 + 7.4301975; total 90.063 + 15.9301975 + 5.
        let t = header(&[l1, l2], &h).unwrap();
        assert_eq!(cols(&t), ["115.07", "25.01", "15.93", "110.99"]);
    }

    #[test]
    fn vector_b_fixed_header_discount() {
        let h = HeaderIn {
            discount_type: Fixed,
            discount_value: d("5"),
            tax_rate: d("10"),
            shipping: Some(d("2.50")),
        };
        let a = line(&li("2", "50", None, "0", "0")).unwrap();
        assert_eq!(
            cols(&header(&[a], &h).unwrap()),
            ["100.00", "5.00", "9.50", "107.00"]
        );
        let b = line(&li("1", "10", None, "0", "0")).unwrap();
        assert_eq!(
            cols(&header(&[a, b], &h).unwrap()),
            ["110.00", "5.00", "10.50", "118.00"]
        );
        let b = line(&li("1", "20", None, "0", "0")).unwrap();
        assert_eq!(
            cols(&header(&[a, b], &h).unwrap()),
            ["120.00", "5.00", "11.50", "129.00"]
        );
    }

    #[test]
    fn vector_c_and_d_round_half_away_from_zero_once() {
        let l = line(&li("1", "10.25", None, "0", "10")).unwrap();
        assert_eq!(text(l.tax_amount), "1.03");
        assert_eq!(text(l.total), "11.28");
        let h = HeaderIn {
            tax_rate: d("10"),
            shipping: Some(Decimal::ZERO),
            ..Default::default()
        };
        let plain = line(&li("1", "10.25", None, "0", "0")).unwrap();
        let t = header(&[plain], &h).unwrap();
        assert_eq!(cols(&t), ["10.25", "0.00", "1.03", "11.28"]);
        let l = line(&li("0.5", "0.05", None, "0", "0")).unwrap();
        assert_eq!(text(l.subtotal), "0.03");
    }

    #[test]
    fn vector_e_and_f_line_discounts_and_taxes_reach_the_header() {
        // E (recurring): header FIXED 1, tax 10; line 1 × 200, 10 % off, tax 5.
        let l = line(&li("1", "200", Percentage, "10", "5")).unwrap();
        assert_eq!(text(l.total), "189.00");
        let h = HeaderIn {
            discount_type: Fixed,
            discount_value: d("1"),
            tax_rate: d("10"),
            shipping: Some(Decimal::ZERO),
        };
        assert_eq!(
            cols(&header(&[l], &h).unwrap()),
            ["200.00", "21.00", "26.90", "205.90"]
        );
        // F (estimate): header 10 %, tax 5; line 2 × 50 with tax 10.
        let l = line(&li("2", "50", None, "0", "10")).unwrap();
        assert_eq!(text(l.total), "110.00");
        let h = HeaderIn {
            discount_type: Percentage,
            discount_value: d("10"),
            tax_rate: d("5"),
            shipping: Option::None,
        };
        assert_eq!(
            cols(&header(&[l], &h).unwrap()),
            ["100.00", "10.00", "14.50", "104.50"]
        );
    }

    #[test]
    fn nonsense_is_refused_with_the_field() {
        assert_eq!(
            line(&li("1", "10", Percentage, "101", "0")).unwrap_err().0,
            "discount_value"
        );
        assert_eq!(
            line(&li("1", "10", Fixed, "10.01", "0")).unwrap_err().0,
            "discount_value"
        );
        assert_eq!(
            line(&li("1", "10", None, "0", "100.01")).unwrap_err().0,
            "tax_rate"
        );
        let l = line(&li("1", "10", Fixed, "4", "0")).unwrap();
        let h = HeaderIn {
            discount_type: Fixed,
            discount_value: d("6.01"),
            ..Default::default()
        };
        assert_eq!(header(&[l], &h).unwrap_err().0, "discount_value");
        let h = HeaderIn {
            discount_type: Fixed,
            discount_value: d("6"),
            ..Default::default()
        };
        assert_eq!(text(header(&[l], &h).unwrap().total_amount), "0.00");
        assert_eq!(
            line(&li("99999999", "9999999999", None, "0", "0"))
                .unwrap_err()
                .0,
            "quantity"
        );
    }

    #[test]
    fn discount_types_parse_case_insensitively() {
        assert_eq!(DiscountType::parse("fixed"), Some(Fixed));
        assert_eq!(DiscountType::parse(""), Some(None));
        assert_eq!(DiscountType::parse("bogus"), Option::None);
    }
}
