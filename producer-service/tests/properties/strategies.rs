//! The generators: arbitrary JSON, and JSON shaped like an order whose
//! fields take arbitrary values.

use proptest::prelude::*;
use serde_json::{Map, Value};

pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::from)),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Mostly the order's own field names, so that generated objects get past
/// the first missing field.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "order_id", "customer_id", "currency", "items", "sku", "quantity", "unit_price_cents",
        ])
        .prop_map(String::from),
        1 => "[a-z_]{1,10}",
    ]
}

/// Mostly a value of the right type, often on or just past the rules' bounds;
/// sometimes anything, sometimes missing. An order has up to 13 fields, so
/// the odds per field stay low for whole orders to get through.
fn field<S: Strategy<Value = Value> + 'static>(typed: S) -> BoxedStrategy<Option<Value>> {
    prop::option::weighted(0.99, prop_oneof![40 => typed, 1 => any_json()]).boxed()
}

pub fn order_shaped() -> impl Strategy<Value = Value> {
    let id = || prop_oneof![8 => "[A-Za-z0-9._-]{1,70}", 1 => ".{0,5}"].prop_map(Value::from);
    // Integers are sometimes written as floats (`3.0`), as JSON Schema allows.
    let integer = |n: i64| prop_oneof![3 => Just(Value::from(n)), 1 => Just(Value::from(n as f64))];
    let item = (
        field(id()),
        field(
            prop_oneof![
                4 => prop::sample::select(vec![0, 1, 10_000, 10_001]),
                8 => 0..=10_001_i64,
                1 => any::<i64>(),
            ]
            .prop_flat_map(integer),
        ),
        field(
            prop_oneof![
                4 => prop::sample::select(vec![0, 100_000_000, 100_000_001]),
                8 => 0..=100_000_001_u64,
                1 => any::<u64>(),
            ]
            .prop_map(Value::from),
        ),
    )
        .prop_map(|(sku, quantity, price)| {
            object([
                ("sku", sku),
                ("quantity", quantity),
                ("unit_price_cents", price),
            ])
        });
    (
        field(prop_oneof![
            any::<u128>().prop_map(|n| Value::from(uuid::Uuid::from_u128(n).to_string())),
            Just(Value::Null),
        ]),
        field(id()),
        field(prop_oneof![8 => "[A-Z]{3}", 1 => "[A-Za-z]{2,4}"].prop_map(Value::from)),
        field(prop::collection::vec(item, 0..=3).prop_map(Value::Array)),
    )
        .prop_map(|(order_id, customer_id, currency, items)| {
            object([
                ("order_id", order_id),
                ("customer_id", customer_id),
                ("currency", currency),
                ("items", items),
            ])
        })
}

/// A JSON object of the fields that are present.
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    let present = fields
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_owned(), value?)));
    Value::Object(present.collect::<Map<_, _>>())
}
