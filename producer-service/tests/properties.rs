//! Property tests of the request edge: arbitrary bytes, arbitrary JSON,
//! order-shaped JSON with arbitrary field values and arbitrary content types,
//! each sent over HTTP to the real service on a mock cluster. Every answer
//! must be the status an oracle predicts without the HTTP stack (from the
//! size limit, serde and the contract's rules: 201, 400, 413, 415 or 422),
//! every rejection a problem document, and exactly the 201 orders may
//! reach the topic.
//!
//! `PROPTEST_CASES=5000 cargo test -p producer-service --test properties`
//! searches longer than the default 256 cases per property.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;

use common::{TestApp, count_records, valid_order};
use order_contract::validate;
use producer_service::handler::OrderRequest;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};
use test_support::MockKafka;

/// Small, so that 413 is reached by generated bodies too.
const MAX_BODY_BYTES: usize = 2048;

/// What the service must answer for `body` sent as JSON, worked out without
/// the service: the size limit, then JSON syntax and the order's shape
/// (400), then the business rules (422).
fn expected_status(body: &[u8]) -> u16 {
    if body.len() > MAX_BODY_BYTES {
        return 413;
    }
    let is_object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    match serde_json::from_slice::<OrderRequest>(body) {
        Ok(request) if is_object => {
            if validate(request.as_input()).is_ok() {
                201
            } else {
                422
            }
        }
        _ => 400,
    }
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

/// Mostly a value of the right type, near or past the rules' bounds;
/// sometimes anything, sometimes missing. An order has up to 13 fields, so
/// the odds per field stay low for whole orders to get through.
fn field<S: Strategy<Value = Value> + 'static>(typed: S) -> BoxedStrategy<Option<Value>> {
    prop::option::weighted(0.99, prop_oneof![40 => typed, 1 => any_json()]).boxed()
}

fn order_shaped() -> impl Strategy<Value = Value> {
    let id = || prop_oneof![8 => "[A-Za-z0-9._-]{1,70}", 1 => ".{0,5}"].prop_map(Value::from);
    let item = (
        field(id()),
        field(prop_oneof![12 => 0..=10_001_i64, 1 => any::<i64>()].prop_map(Value::from)),
        field(prop_oneof![12 => 0..=100_000_001_u64, 1 => any::<u64>()].prop_map(Value::from)),
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
