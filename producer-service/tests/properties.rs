//! Property tests of the request edge: arbitrary bytes, arbitrary JSON,
//! order-shaped JSON with arbitrary field values and arbitrary content types,
//! each sent over HTTP to the real service on a mock cluster. Every answer
//! must be the status an oracle predicts (201, 400, 413, 415 or 422), every
//! rejection a problem document, and exactly the 201 orders may reach the
//! topic.
//!
//! The oracle is written from the documented rules alone (the size limit,
//! the request's shape, the field limits as data below); it calls nothing
//! of the service or of `order-contract`, so a broken rule there cannot
//! pass by agreeing with itself.
//!
//! `PROPTEST_CASES=5000 cargo test -p producer-service --test properties`
//! searches longer than the default 256 cases per property.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use common::{TestApp, count_records, valid_order};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};
use test_support::MockKafka;

/// Small, so that 413 is reached by generated bodies too.
const MAX_BODY_BYTES: usize = 2048;

/// The business rules, as the README states them.
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
fn expected_status(body: &[u8]) -> u16 {
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

struct Answer {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// One service on one mock cluster, driven from proptest's synchronous runner.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: TestApp,
    kafka: MockKafka,
}

impl Fixture {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let kafka = MockKafka::start();
        let limit = MAX_BODY_BYTES.to_string();
        let app = runtime.block_on(async {
            let app = TestApp::spawn(&kafka, &["--max-body-bytes", &limit]).await;
            app.wait_ready().await;
            app
        });
        Self {
            runtime,
            app,
            kafka,
        }
    }

    fn post(&self, content_type: Option<&str>, body: Vec<u8>) -> Answer {
        self.runtime.block_on(async {
            let response = self.app.post_raw(content_type, body).await;
            Answer {
                status: response.status().as_u16(),
                content_type: response
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned()),
                body: response.bytes().await.unwrap().to_vec(),
            }
        })
    }

    /// Runs `property` over `strategy`, checks that the topic holds exactly
    /// the orders answered 201, and returns how often each status was seen.
    fn check<S: Strategy>(
        self,
        strategy: S,
        property: impl Fn(&Self, S::Value) -> Result<u16, TestCaseError>,
    ) -> BTreeMap<u16, i64> {
        let seen = RefCell::new(BTreeMap::new());
        TestRunner::new(Config::default())
            .run(&strategy, |input| {
                let status = property(&self, input)?;
                *seen.borrow_mut().entry(status).or_default() += 1;
                Ok(())
            })
            .unwrap();
        let seen = seen.into_inner();
        let stored = self.runtime.block_on(count_records(&self.kafka, "orders"));
        assert_eq!(
            stored,
            seen.get(&201).copied().unwrap_or_default(),
            "only 201 orders reach the topic"
        );
        self.runtime.block_on(self.app.shut_down());
        println!("answers by status: {seen:?}");
        seen
    }
}

/// The answer has the predicted status, and a rejection is a well-formed
/// RFC 9457 problem document that agrees with it.
fn assert_answer(answer: &Answer, expected: u16) -> Result<u16, TestCaseError> {
    prop_assert_eq!(
        answer.status,
        expected,
        "body: {}",
        String::from_utf8_lossy(&answer.body)
    );
    if expected != 201 {
        prop_assert_eq!(
            answer.content_type.as_deref(),
            Some("application/problem+json")
        );
        let problem: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| TestCaseError::fail(format!("problem body is not JSON: {e}")))?;
        prop_assert_eq!(&problem["status"], &Value::from(expected));
        prop_assert!(problem["type"].as_str().is_some_and(|t| !t.is_empty()));
        prop_assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    Ok(answer.status)
}

fn any_json() -> impl Strategy<Value = Value> {
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

fn order_shaped() -> impl Strategy<Value = Value> {
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

#[test]
fn arbitrary_bytes_sent_as_json_get_400_413_or_422_never_a_crash() {
    Fixture::start().check(
        prop::collection::vec(any::<u8>(), 0..MAX_BODY_BYTES + 512),
        |fixture, body| {
            let expected = expected_status(&body);
            assert_answer(&fixture.post(Some("application/json"), body), expected)
        },
    );
}

#[test]
fn arbitrary_json_documents_get_the_status_their_shape_and_rules_call_for() {
    Fixture::start().check(any_json(), |fixture, value| {
        let body = serde_json::to_vec(&value).unwrap();
        let expected = expected_status(&body);
        assert_answer(&fixture.post(Some("application/json"), body), expected)
    });
}

#[test]
fn order_shaped_json_is_accepted_exactly_when_it_is_a_valid_order() {
    let seen = Fixture::start().check(order_shaped(), |fixture, value| {
        let body = serde_json::to_vec(&value).unwrap();
        let expected = expected_status(&body);
        assert_answer(&fixture.post(Some("application/json"), body), expected)
    });
    for status in [201, 400, 422] {
        assert!(seen.contains_key(&status), "the strategy reaches {status}");
    }
}

#[test]
fn a_valid_order_truncated_or_with_one_byte_changed_never_gets_a_500() {
    let body = serde_json::to_vec(&valid_order()).unwrap();
    let strategy = (
        any::<prop::sample::Index>(),
        prop::option::of(any::<(prop::sample::Index, u8)>()),
    );
    Fixture::start().check(strategy, move |fixture, (cut, flip)| {
        let mut body = body[..=cut.index(body.len())].to_vec();
        if let Some((at, mask)) = flip {
            let at = at.index(body.len());
            body[at] ^= mask.max(1);
        }
        let expected = expected_status(&body);
        assert_answer(&fixture.post(Some("application/json"), body), expected)
    });
}

#[test]
fn only_json_media_types_are_accepted_whatever_the_content_type_says() {
    let json_type = prop_oneof![
        Just("application/json".to_owned()),
        "(application|Application|APPLICATION)/(json|JSON)(; ?charset=utf-8)?",
        "application/[a-z.-]{1,10}\\+json",
    ];
    let other_type = "[a-z]{1,12}/[a-z.-]{1,12}".prop_filter("not JSON", |t| {
        !t.eq_ignore_ascii_case("application/json") && !t.ends_with("+json")
    });
    let strategy = prop_oneof![
        json_type.prop_map(|t| (Some(t), 201)),
        other_type.prop_map(|t| (Some(t), 415)),
        Just((None, 415)),
    ];
    let body = serde_json::to_vec(&valid_order()).unwrap();
    Fixture::start().check(strategy, move |fixture, (content_type, expected)| {
        assert_answer(
            &fixture.post(content_type.as_deref(), body.clone()),
            expected,
        )
    });
}
