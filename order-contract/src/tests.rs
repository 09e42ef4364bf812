//! Unit tests of the rules (each bound on both sides) and of the wire format.

use super::*;
use time::macros::datetime;

fn item(sku: &str, quantity: u32, unit_price_cents: u64) -> LineItem {
    LineItem {
        sku: sku.to_owned(),
        quantity,
        unit_price_cents,
    }
}

fn input<'a>(customer_id: &'a str, currency: &'a str, items: &'a [LineItem]) -> OrderInput<'a> {
    OrderInput {
        customer_id,
        currency,
        items,
    }
}

fn failing_fields(result: Result<u64, Vec<FieldError>>) -> Vec<String> {
    result
        .expect_err("validation should fail")
        .into_iter()
        .map(|e| e.field)
        .collect()
}

fn fixture() -> Order {
    Order {
        order_id: "0190f3c4-5b6a-7d8e-9f01-23456789abcd".parse().unwrap(),
        customer_id: "cust-42".to_owned(),
        currency: "EUR".to_owned(),
        items: vec![item("BOOK-1", 2, 1299), item("PEN-7", 1, 250)],
        total_cents: 2848,
        created_at: datetime!(2026-11-24 10:15:30.123 UTC),
    }
}

#[test]
fn a_valid_order_yields_its_total() {
    let items = [item("BOOK-1", 2, 1299), item("PEN-7", 1, 250)];
    assert_eq!(validate(input("cust-42", "EUR", &items)), Ok(2848));
}

#[test]
fn ids_may_be_one_to_sixty_four_letters_digits_dashes_underscores_and_dots() {
    let items = [item("A", 1, 1)];
    for ok in ["a", "A.b-c_9", &"x".repeat(64)] {
        assert!(
            validate(input(ok, "EUR", &items)).is_ok(),
            "{ok:?} should pass"
        );
    }
    for bad in [
        "",
        &"x".repeat(65),
        "has space",
        "slash/",
        "ümlaut",
        "emoji🙂",
    ] {
        assert_eq!(
            failing_fields(validate(input(bad, "EUR", &items))),
            ["customer_id"],
            "{bad:?}"
        );
    }
}

#[test]
fn skus_follow_the_same_rule_as_customer_ids() {
    let items = [
        item("ok", 1, 1),
        item("", 1, 1),
        item(&"s".repeat(65), 1, 1),
        item("a b", 1, 1),
    ];
    assert_eq!(
        failing_fields(validate(input("c", "EUR", &items))),
        ["items[1].sku", "items[2].sku", "items[3].sku"]
    );
}

#[test]
fn currency_must_be_three_upper_case_letters() {
    let items = [item("A", 1, 1)];
    assert!(validate(input("c", "USD", &items)).is_ok());
    for bad in ["", "EU", "EURO", "eur", "E1R", "ÉUR"] {
        assert_eq!(
            failing_fields(validate(input("c", bad, &items))),
            ["currency"],
            "{bad:?}"
        );
    }
}

#[test]
fn an_order_holds_one_to_a_hundred_items() {
    let hundred = vec![item("A", 1, 1); 100];
    assert_eq!(validate(input("c", "EUR", &hundred)), Ok(100));
    assert_eq!(failing_fields(validate(input("c", "EUR", &[]))), ["items"]);
    let too_many = vec![item("A", 1, 1); 101];
    assert_eq!(
        failing_fields(validate(input("c", "EUR", &too_many))),
        ["items"]
    );
}

#[test]
fn quantity_is_between_one_and_ten_thousand() {
    assert!(validate(input("c", "EUR", &[item("A", 1, 1)])).is_ok());
    assert!(validate(input("c", "EUR", &[item("A", 10_000, 1)])).is_ok());
    for bad in [0, 10_001, u32::MAX] {
        assert_eq!(
            failing_fields(validate(input("c", "EUR", &[item("A", bad, 1)]))),
            ["items[0].quantity"]
        );
    }
}

#[test]
fn unit_price_is_between_zero_and_a_hundred_million_cents() {
    assert_eq!(validate(input("c", "EUR", &[item("A", 3, 0)])), Ok(0));
    assert_eq!(
        validate(input("c", "EUR", &[item("A", 1, 100_000_000)])),
        Ok(100_000_000)
    );
    for bad in [100_000_001, u64::MAX] {
        assert_eq!(
            failing_fields(validate(input("c", "EUR", &[item("A", 1, bad)]))),
            ["items[0].unit_price_cents"]
        );
    }
}

#[test]
fn the_largest_allowed_order_total_fits() {
    let items = vec![item("A", 10_000, 100_000_000); 100];
    assert_eq!(validate(input("c", "EUR", &items)), Ok(100_000_000_000_000));
}

#[test]
fn every_failing_field_is_reported_at_once() {
    let items = [item("", 0, 100_000_001)];
    assert_eq!(
        failing_fields(validate(input("", "eu", &items))),
        [
            "customer_id",
            "currency",
            "items[0].sku",
            "items[0].quantity",
            "items[0].unit_price_cents"
        ]
    );
}

#[test]
fn the_fixed_example_message_still_decodes() {
    let bytes = include_bytes!("../tests/fixtures/order-v1.json");
    assert_eq!(Order::decode(bytes).unwrap(), fixture());
}

#[test]
fn an_order_survives_a_round_trip() {
    let order = fixture();
    assert_eq!(Order::decode(&order.encode()).unwrap(), order);
}

#[test]
fn the_wire_format_uses_these_field_names() {
    let value: serde_json::Value = serde_json::from_slice(&fixture().encode()).unwrap();
    let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "currency",
            "customer_id",
            "items",
            "order_id",
            "total_cents"
        ]
    );
    assert_eq!(value["created_at"], "2026-11-24T10:15:30.123Z");
}

#[test]
fn unknown_fields_are_ignored_so_newer_producers_keep_working() {
    let mut value: serde_json::Value = serde_json::from_slice(&fixture().encode()).unwrap();
    value["loyalty_points"] = 12.into();
    value["items"][0]["gift_wrap"] = true.into();
    let order = Order::decode(&serde_json::to_vec(&value).unwrap()).unwrap();
    assert_eq!(order, fixture());
}

#[test]
fn a_total_that_does_not_match_the_items_is_invalid() {
    let mut order = fixture();
    order.total_cents += 1;
    match Order::decode(&order.encode()) {
        Err(DecodeError::Invalid(errors)) => assert_eq!(errors[0].field, "total_cents"),
        other => panic!("expected an invalid total, got {other:?}"),
    }
}

#[test]
fn bytes_that_are_not_an_order_are_malformed() {
    for bad in [
        &b""[..],
        b"not json",
        b"{\"order_id\": 1}",
        b"[]",
        b"{\"order_id\"",
    ] {
        assert!(
            matches!(Order::decode(bad), Err(DecodeError::Malformed(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn a_well_formed_order_breaking_a_rule_is_invalid() {
    let mut order = fixture();
    order.currency = "euro".to_owned();
    let error = Order::decode(&order.encode()).unwrap_err();
    assert!(matches!(error, DecodeError::Invalid(_)));
    assert!(
        error
            .to_string()
            .contains("currency must be three upper-case letters")
    );
}
