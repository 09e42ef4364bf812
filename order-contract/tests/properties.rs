//! Properties of the contract that example tests cannot cover: the decoder
//! survives any input, valid orders survive a round trip in any JSON layout, each broken rule is
//! reported against the field that broke it, and the published JSON Schema
//! (`schema/order.schema.json`) agrees with the Rust type on all of it.
//!
//! `PROPTEST_CASES=100000 cargo test -p order-contract --test properties`
//! runs a longer search than the default 256 cases per property.

use std::sync::LazyLock;

use order_contract::{DecodeError, LineItem, Order, limits, validate};
use proptest::prelude::*;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

static SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../schema/order.schema.json")).expect("the schema is JSON")
});

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&SCHEMA)
        .expect("the schema is a valid JSON Schema")
});

fn as_json(order: &Order) -> Value {
    serde_json::from_slice(&order.encode()).unwrap()
}

#[test]
fn the_schema_accepts_the_fixture_and_names_every_field_of_the_type() {
    let fixture: Value = serde_json::from_str(include_str!("fixtures/order-v1.json")).unwrap();
    assert!(VALIDATOR.is_valid(&fixture));

    let order = Order::decode(fixture.to_string().as_bytes()).unwrap();
    let json = as_json(&order);
    let mut fields: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    let mut required: Vec<&str> = SCHEMA["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(required, fields, "every field is required, none is extra");

    let item = &SCHEMA["$defs"]["lineItem"]["properties"];
    assert_eq!(SCHEMA["properties"]["items"]["maxItems"], limits::MAX_ITEMS);
    assert_eq!(SCHEMA["$defs"]["id"]["maxLength"], limits::MAX_ID_LEN);
    assert_eq!(item["quantity"]["maximum"], limits::MAX_QUANTITY);
    assert_eq!(
        item["unit_price_cents"]["maximum"],
        limits::MAX_UNIT_PRICE_CENTS
    );
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{1,64}"
}

fn item() -> impl Strategy<Value = LineItem> {
    (
        id(),
        1..=limits::MAX_QUANTITY,
        0..=limits::MAX_UNIT_PRICE_CENTS,
    )
        .prop_map(|(sku, quantity, unit_price_cents)| LineItem {
            sku,
            quantity,
            unit_price_cents,
        })
}

fn valid_order() -> impl Strategy<Value = Order> {
    (
        any::<u128>(),
        id(),
        "[A-Z]{3}",
        prop::collection::vec(item(), 1..=8),
        0..4_000_000_000_000_000_000_i128,
    )
        .prop_map(|(id, customer_id, currency, items, nanos)| {
            let total_cents = items
                .iter()
                .map(|i| u64::from(i.quantity) * i.unit_price_cents)
                .sum();
            Order {
                order_id: Uuid::from_u128(id),
                customer_id,
                currency,
                items,
                total_cents,
                created_at: OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap(),
            }
        })
}

fn any_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

/// One way to break one rule, and the field the error must name.
#[derive(Debug, Clone)]
enum Break {
    CustomerId(String),
    Currency(String),
    NoItems,
    TooManyItems,
    Sku(String),
    Quantity(u32),
    UnitPrice(u64),
}

fn a_break() -> impl Strategy<Value = Break> {
    prop_oneof![
        prop_oneof![
            Just(String::new()),
            "[a-z]{65,80}",
            "[a-z]{0,5}[ /!é][a-z]{0,5}"
        ]
        .prop_map(Break::CustomerId),
        prop_oneof!["[A-Z]{0,2}", "[A-Z]{4,6}", "[a-z]{3}", "[A-Z][0-9][A-Z]"]
            .prop_map(Break::Currency),
        Just(Break::NoItems),
        Just(Break::TooManyItems),
        prop_oneof![Just(String::new()), "[a-z]{65,70}", "[a-z]{1,3} [a-z]{1,3}"]
            .prop_map(Break::Sku),
        prop_oneof![Just(0), limits::MAX_QUANTITY + 1..].prop_map(Break::Quantity),
        (limits::MAX_UNIT_PRICE_CENTS + 1..).prop_map(Break::UnitPrice),
    ]
}

impl Break {
    /// Applies the break to `order` and returns the field it breaks.
    fn apply(self, order: &mut Order) -> &'static str {
        match self {
            Self::CustomerId(value) => {
                order.customer_id = value;
                "customer_id"
            }
            Self::Currency(value) => {
                order.currency = value;
                "currency"
            }
            Self::NoItems => {
                order.items.clear();
                "items"
            }
            Self::TooManyItems => {
                let first = order.items[0].clone();
                order.items.resize(limits::MAX_ITEMS + 1, first);
                "items"
            }
            Self::Sku(value) => {
                order.items[0].sku = value;
                "items[0].sku"
            }
            Self::Quantity(value) => {
                order.items[0].quantity = value;
                "items[0].quantity"
            }
            Self::UnitPrice(value) => {
                order.items[0].unit_price_cents = value;
                "items[0].unit_price_cents"
            }
        }
    }
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Order::decode(&bytes);
    }

    #[test]
    fn a_valid_order_written_in_another_json_layout_decodes_to_the_same_order(
        order in valid_order(),
        unknown in prop::collection::btree_map("[a-z_]{1,12}", any_scalar(), 0..4),
        pretty in any::<bool>(),
        integers_as_floats in any::<bool>(),
    ) {
        let mut json = as_json(&order);
        let fields = json.as_object_mut().unwrap();
        // Fields a newer producer might add are ignored.
        for (name, value) in unknown {
            fields.entry(name).or_insert(value);
        }
        // JSON Schema's `integer` counts 3.0 as 3.
        if integers_as_floats {
            for item in fields["items"].as_array_mut().unwrap() {
                let quantity = item["quantity"].as_u64().unwrap();
                item["quantity"] = Value::from(quantity as f64);
            }
        }
        let bytes = if pretty {
            serde_json::to_vec_pretty(&json)
        } else {
            serde_json::to_vec(&json)
        }
        .unwrap();
        let decoded = Order::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &order);
        prop_assert_eq!(decoded.encode(), order.encode(), "encoding is canonical");
    }

    #[test]
    fn every_valid_order_survives_encoding_and_decoding(order in valid_order()) {
        prop_assert_eq!(Order::decode(&order.encode()).unwrap(), order);
    }

    #[test]
    fn a_truncated_or_corrupted_order_is_rejected_as_malformed_not_a_panic(
        order in valid_order(),
        cut in any::<prop::sample::Index>(),
        flip in any::<(prop::sample::Index, u8)>(),
    ) {
        let bytes = order.encode();
        let truncated = &bytes[..cut.index(bytes.len())];
        prop_assert!(matches!(Order::decode(truncated), Err(DecodeError::Malformed(_))));

        // One changed byte may still be a valid order (a digit of a price,
        // a letter of an id); it must never panic, and what it accepts
        // must itself be valid.
        let mut corrupted = bytes.clone();
        let at = flip.0.index(corrupted.len());
        corrupted[at] ^= flip.1.max(1);
        if let Ok(decoded) = Order::decode(&corrupted) {
            prop_assert!(validate(decoded.as_input()).is_ok());
        }
    }

    #[test]
    fn each_broken_rule_is_reported_against_its_field(
        mut order in valid_order(),
        broken in a_break(),
    ) {
        let field = broken.apply(&mut order);
        let errors = validate(order.as_input()).expect_err("a broken rule fails validation");
        prop_assert!(
            errors.iter().any(|e| e.field == field),
            "{field} not among {errors:?}"
        );
        let decoded = Order::decode(&order.encode());
        prop_assert!(matches!(decoded, Err(DecodeError::Invalid(_))), "{decoded:?}");
    }

    #[test]
    fn every_valid_order_matches_the_json_schema(order in valid_order()) {
        let json = as_json(&order);
        let errors: Vec<String> = VALIDATOR.iter_errors(&json).map(|e| e.to_string()).collect();
        prop_assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn each_broken_rule_is_rejected_by_the_json_schema_too(
        mut order in valid_order(),
        broken in a_break(),
    ) {
        broken.apply(&mut order);
        prop_assert!(!VALIDATOR.is_valid(&as_json(&order)));
    }

    #[test]
    fn a_total_that_does_not_match_the_items_is_rejected(
        mut order in valid_order(),
        delta in 1..u64::MAX,
    ) {
        order.total_cents = order.total_cents.wrapping_add(delta);
        match Order::decode(&order.encode()) {
            Err(DecodeError::Invalid(errors)) => {
                prop_assert!(errors.iter().any(|e| e.field == "total_cents"));
            }
            other => prop_assert!(false, "expected an invalid total, got {other:?}"),
        }
    }
}
