//! The opportunity's rules: stage defaults for the probability, closed stages (who closed it,
//! what a closed stage needs), and the line items' money math in exact decimals.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use super::dto::OpportunityInput;
use super::model::Current;
use crate::db::sql::Val;
use crate::error::FieldErrors;

pub const CLOSED_STAGES: &[&str] = &["CLOSED_WON", "CLOSED_LOST"];

/// The probability a stage implies when none (or 0) is given (upstream's `workflow.py`).
pub fn stage_probability(stage: &str) -> i32 {
    match stage {
        "PROSPECTING" => 10,
        "QUALIFICATION" => 25,
        "PROPOSAL" => 50,
        "NEGOTIATION" => 75,
        "CLOSED_WON" => 100,
        _ => 0,
    }
}

/// Applies the stage rules to a validated body (`current`: the stored row on update; `replace`:
/// a PUT, where an absent `closed_on` is cleared as upstream does):
/// * a probability that ends up 0 or null takes the stage's default (so an explicit 0 only
///   stays at CLOSED_LOST);
/// * a closed stage needs `closed_on`, and CLOSED_WON a non-zero `amount` (upstream's
///   `Opportunity.clean`, which it never runs): 400 on that field; a PATCH into a closed stage
///   that leaves `closed_on` out (the frontend's stage change) closes it today;
/// * moving into a closed stage (or between the two) stamps `closed_by` with the caller's
///   profile; moving back to an open stage clears it.
pub fn apply_stage_rules(
    input: &mut OpportunityInput,
    current: Option<&Current>,
    replace: bool,
    profile: Uuid,
    errors: &mut FieldErrors,
) {
    let stage = match input.get("stage") {
        Some(Val::Text(Some(s))) if !s.is_empty() => s.clone(),
        _ => current.map_or_else(|| "PROSPECTING".to_string(), |c| c.stage.clone()),
    };
    let probability = match input.get("probability") {
        Some(Val::Int(p)) => *p,
        _ => current.and_then(|c| c.probability),
    };
    if probability.unwrap_or(0) == 0 {
        input.set("probability", Val::Int(Some(stage_probability(&stage))));
    }
    let closed_on = match input.get("closed_on") {
        Some(v) => *v != Val::Date(None),
        None if replace => {
            input.set("closed_on", Val::Date(None));
            false
        }
        None => current.is_some_and(|c| c.closed_on.is_some()),
    };
    let amount = match input.get("amount") {
        Some(Val::Num(a)) => a.clone(),
        _ => current.and_then(|c| c.amount.clone()),
    };
    let closed = CLOSED_STAGES.contains(&stage.as_str());
    // The frontend's stage change (drag, inline select) PATCHes only `stage`: a PATCH into a
    // closed stage that does not mention `closed_on` closes it today. A body that clears it,
    // or a PUT without it, is still a 400.
    let closed_on = closed_on
        || (closed && !replace && input.get("closed_on").is_none() && {
            input.set(
                "closed_on",
                Val::Date(Some(chrono::Utc::now().date_naive())),
            );
            true
        });
    if closed && !closed_on && !errors.has("closed_on") {
        errors.add(
            "closed_on",
            "This field is required when the stage is Closed Won or Closed Lost.",
        );
    }
    let zero = amount
        .as_deref()
        .and_then(|a| Decimal::from_str(a).ok())
        .is_none_or(|a| a.is_zero());
    if stage == "CLOSED_WON" && zero && !errors.has("amount") {
        errors.add(
            "amount",
            "This field is required when the stage is Closed Won.",
        );
    }
    match current {
        None if closed => input.set("closed_by_id", Val::Uuid(Some(profile))),
        Some(c) if closed && c.stage != stage => {
            input.set("closed_by_id", Val::Uuid(Some(profile)))
        }
        Some(c) if !closed && c.closed_by.is_some() => input.set("closed_by_id", Val::Uuid(None)),
        _ => {}
    }
}

/// Rounds to two places, half away from zero (how PostgreSQL stores numeric(…,2)).
pub fn round2(v: Decimal) -> Decimal {
    let mut r = v.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r
}

/// A line item's computed columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Decimal,
    pub discount_amount: Decimal,
    pub total: Decimal,
}

/// Upstream's math in exact decimals, each stored column rounded on its own (from the exact
/// values, as PostgreSQL rounds Python's full-precision ones): `subtotal = quantity × price`;
/// the discount is `subtotal × value / 100` for PERCENTAGE, else `value` (also for a blank
/// type); `total = subtotal − discount`.
pub fn totals(
    quantity: Decimal,
    unit_price: Decimal,
    discount_type: &str,
    value: Decimal,
) -> Totals {
    let subtotal = quantity * unit_price;
    let discount = if discount_type == "PERCENTAGE" {
        subtotal * value / Decimal::ONE_HUNDRED
    } else {
        value
    };
    Totals {
        subtotal: round2(subtotal),
        discount_amount: round2(discount),
        total: round2(subtotal - discount),
    }
}

/// The largest value of a numeric(12,2) column.
pub fn max_money() -> Decimal {
    Decimal::new(999_999_999_999, 2)
}

/// Checks computed totals: a percentage above 100 or a discount above the subtotal (a negative
/// total, which upstream writes and then fails on with a 500) is a 400 on `discount_value`;
/// a subtotal beyond numeric(12,2) a 400 on `quantity`.
pub fn check_totals(t: &Totals, discount_type: &str, value: Decimal, errors: &mut FieldErrors) {
    if discount_type == "PERCENTAGE" && value > Decimal::ONE_HUNDRED {
        errors.add(
            "discount_value",
            "Ensure this value is less than or equal to 100.",
        );
    } else if t.total.is_sign_negative() && !t.total.is_zero() {
        errors.add(
            "discount_value",
            "The discount may not exceed the subtotal (the total would be negative).",
        );
    }
    if t.subtotal > max_money() {
        errors.add(
            "quantity",
            "Ensure that the line total has no more than 10 digits before the decimal point.",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// The spec's verified vectors (crm.md §5.2), with the rounding it asks for.
    #[test]
    fn verified_vectors() {
        let t = totals(d("3"), d("19.99"), "", d("0"));
        assert_eq!(t.total.to_string(), "59.97");
        let t = totals(d("2"), d("100"), "PERCENTAGE", d("10"));
        assert_eq!(
            (t.discount_amount.to_string(), t.total.to_string()),
            ("20.00".into(), "180.00".into())
        );
        let t = totals(d("1.5"), d("33.33"), "FIXED", d("5"));
        assert_eq!(
            (t.subtotal.to_string(), t.total.to_string()),
            ("50.00".into(), "45.00".into())
        );
        // Upstream stores -40.00 and then 500s; here it is refused.
        let t = totals(d("1"), d("10"), "FIXED", d("50"));
        assert_eq!(t.total.to_string(), "-40.00");
        let mut e = FieldErrors::new();
        check_totals(&t, "FIXED", d("50"), &mut e);
        assert!(e.has("discount_value"));
    }

    #[test]
    fn half_away_from_zero() {
        assert_eq!(round2(d("0.125")).to_string(), "0.13");
        assert_eq!(round2(d("0.135")).to_string(), "0.14");
        assert_eq!(round2(d("-0.125")).to_string(), "-0.13");
        assert_eq!(round2(d("49.995")).to_string(), "50.00");
        // 12.5% of 0.10 = 0.0125 -> 0.01; the total 0.0875 -> 0.09 (each from exact values).
        let t = totals(d("1"), d("0.10"), "PERCENTAGE", d("12.5"));
        assert_eq!(
            (t.discount_amount.to_string(), t.total.to_string()),
            ("0.01".into(), "0.09".into())
        );
    }

    #[test]
    fn probabilities() {
        assert_eq!(stage_probability("NEGOTIATION"), 75);
        assert_eq!(stage_probability("CLOSED_LOST"), 0);
    }
}
