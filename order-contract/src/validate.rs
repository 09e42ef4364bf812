//! The business rules an order must meet, shared by the producer (before
//! publishing) and the consumer (before processing), so both sides agree on
//! what a valid order is.

use serde::Serialize;

use crate::LineItem;

/// The bounds the rules enforce.
pub mod limits {
    /// Longest `customer_id` or `sku`, in characters.
    pub const MAX_ID_LEN: usize = 64;
    /// Most line items in one order.
    pub const MAX_ITEMS: usize = 100;
    /// Largest `quantity` of one line item.
    pub const MAX_QUANTITY: u32 = 10_000;
    /// Largest `unit_price_cents` of one line item.
    pub const MAX_UNIT_PRICE_CENTS: u64 = 100_000_000;
}

/// The fields validation looks at, borrowed from whichever type holds them
/// (the producer's request or a consumed [`Order`](crate::Order)).
#[derive(Debug, Clone, Copy)]
pub struct OrderInput<'a> {
    /// See [`Order::customer_id`](crate::Order::customer_id).
    pub customer_id: &'a str,
    /// See [`Order::currency`](crate::Order::currency).
    pub currency: &'a str,
    /// See [`Order::items`](crate::Order::items).
    pub items: &'a [LineItem],
}

/// A rule one field broke, named by its path in the JSON document (`items[2].quantity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// Path of the offending field.
    pub field: String,
    /// What is wrong with it, as a sentence fragment that follows the field name.
    pub message: String,
}

impl FieldError {
    /// Creates an error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

/// Checks every rule and returns the order total in cents, or every broken rule.
///
/// All fields are checked, not just the first failing one, so a client can fix
/// its request in one round trip.
pub fn validate(order: OrderInput<'_>) -> Result<u64, Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Some(message) = id_problem(order.customer_id) {
        errors.push(FieldError::new("customer_id", message));
    }
    if !(order.currency.len() == 3 && order.currency.bytes().all(|b| b.is_ascii_uppercase())) {
        errors.push(FieldError::new(
            "currency",
            "must be three upper-case letters (ISO 4217, e.g. EUR)",
        ));
    }
    if order.items.is_empty() || order.items.len() > limits::MAX_ITEMS {
        errors.push(FieldError::new(
            "items",
            format!(
                "must hold between 1 and {} items, got {}",
                limits::MAX_ITEMS,
                order.items.len()
            ),
        ));
    }
    for (i, item) in order.items.iter().enumerate() {
        // Field paths are formatted only for a failing rule: this runs for
        // every order on both sides.
        if let Some(message) = id_problem(&item.sku) {
            errors.push(FieldError::new(format!("items[{i}].sku"), message));
        }
        if !(1..=limits::MAX_QUANTITY).contains(&item.quantity) {
            errors.push(FieldError::new(
                format!("items[{i}].quantity"),
                format!(
                    "must be between 1 and {}, got {}",
                    limits::MAX_QUANTITY,
                    item.quantity
                ),
            ));
        }
        if item.unit_price_cents > limits::MAX_UNIT_PRICE_CENTS {
            errors.push(FieldError::new(
                format!("items[{i}].unit_price_cents"),
                format!(
                    "must be between 0 and {}, got {}",
                    limits::MAX_UNIT_PRICE_CENTS,
                    item.unit_price_cents
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // With today's limits the largest total is 10^14, but the check keeps
    // the rule true if the limits are ever raised.
    order
        .items
        .iter()
        .try_fold(0_u64, |sum, item| {
            u64::from(item.quantity)
                .checked_mul(item.unit_price_cents)?
                .checked_add(sum)
        })
        .ok_or_else(|| {
            vec![FieldError::new(
                "items",
                "add up to a total that does not fit in 64 bits",
            )]
        })
}

/// What is wrong with a `customer_id` or `sku`, if anything.
fn id_problem(value: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let len = value.chars().count();
    if len == 0 || len > limits::MAX_ID_LEN {
        Some(format!(
            "must be 1 to {} characters long, got {len}",
            limits::MAX_ID_LEN
        ))
    } else if value.chars().all(allowed) {
        None
    } else {
        Some("may only contain letters, digits, '-', '_' and '.'".to_owned())
    }
}
