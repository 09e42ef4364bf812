//! The oracle: what the service must answer for a body, written from the
//! documented rules alone.

use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use super::MAX_BODY_BYTES;

/// The business rules, as docs/api.md states them.
mod rules {
    use std::ops::RangeInclusive;

    /// Characters of `customer_id` and `sku`, and how many.
    pub const ID_LEN: RangeInclusive<usize> = 1..=64;
    pub fn id_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
    }
    pub const ITEMS: RangeInclusive<usize> = 1..=100;
    pub const QUANTITY: RangeInclusive<u64> = 1..=10_000;
    pub const UNIT_PRICE_CENTS: RangeInclusive<u64> = 0..=100_000_000;
}

/// What the service must answer for `body` sent as JSON: the size limit,
/// then JSON syntax and the order's shape (400), then the rules (422).
pub fn expected_status(body: &[u8]) -> u16 {
    if body.len() > MAX_BODY_BYTES {
        return 413;
    }
    let Ok(Value::Object(order)) = serde_json::from_slice::<Value>(body) else {
        return 400;
    };
    match OrderShape::read(&order) {
        None => 400,
        Some(order) if order.keeps_the_rules() => 201,
        Some(_) => 422,
    }
}

/// The fields of a well-shaped request.
struct OrderShape<'a> {
    customer_id: &'a str,
    currency: &'a str,
    items: Vec<(&'a str, u64, u64)>,
}

impl<'a> OrderShape<'a> {
    /// `None` unless the object has the request's shape: `order_id` absent,
    /// null or a UUID; `customer_id` and `currency` strings; `items` an
    /// array of items. Unknown fields are ignored.
    fn read(order: &'a Map<String, Value>) -> Option<Self> {
        match order.get("order_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) => {
                uuid::Uuid::parse_str(id).ok()?;
            }
            Some(_) => return None,
        }
        Some(Self {
            customer_id: order.get("customer_id")?.as_str()?,
            currency: order.get("currency")?.as_str()?,
            items: order
                .get("items")?
                .as_array()?
                .iter()
                .map(item)
                .collect::<Option<_>>()?,
        })
    }

    fn keeps_the_rules(&self) -> bool {
        let id = |value: &str| {
            rules::ID_LEN.contains(&value.chars().count()) && value.chars().all(rules::id_char)
        };
        id(self.customer_id)
            && self.currency.len() == 3
            && self.currency.bytes().all(|b| b.is_ascii_uppercase())
            && rules::ITEMS.contains(&self.items.len())
            && self.items.iter().all(|&(sku, quantity, price)| {
                id(sku)
                    && rules::QUANTITY.contains(&quantity)
                    && rules::UNIT_PRICE_CENTS.contains(&price)
            })
    }
}

/// An item: an object with `sku` (a string), `quantity` (fits in 32 bits)
/// and `unit_price_cents` (64 bits), or, as serde reads structs, an array
/// of exactly those three values.
fn item(value: &Value) -> Option<(&str, u64, u64)> {
    let (sku, quantity, price) = match value {
        Value::Object(item) => (
            item.get("sku")?,
            item.get("quantity")?,
            item.get("unit_price_cents")?,
        ),
        Value::Array(fields) if fields.len() == 3 => (&fields[0], &fields[1], &fields[2]),
        _ => return None,
    };
    Some((
        sku.as_str()?,
        integer(quantity, 0..=u64::from(u32::MAX))?,
        integer(price, 0..=u64::MAX)?,
    ))
}

/// A JSON integer in `range`: JSON Schema's `integer`, so `3.0` counts as
/// 3. Written with a fraction or exponent, only up to 2^53, where such
/// numbers stop being exact.
fn integer(value: &Value, range: RangeInclusive<u64>) -> Option<u64> {
    let number = value.as_number()?;
    let integer = match number.as_u64() {
        Some(integer) => integer,
        None => {
            let float = number.as_f64()?;
            let exact = float.fract() == 0.0 && (0.0..=2_f64.powi(53)).contains(&float);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            exact.then_some(float as u64)?
        }
    };
    range.contains(&integer).then_some(integer)
}
