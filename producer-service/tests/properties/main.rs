//! Property tests of the request edge: arbitrary bytes, arbitrary JSON,
//! order-shaped JSON with arbitrary field values and arbitrary content types,
//! each sent over HTTP to the real service on a mock cluster. Every answer
//! must be the status an oracle predicts (201, 400, 413, 415 or 422), every
//! rejection a problem document, and exactly the 201 orders may reach the
//! topic.
//!
//! The oracle is written from the documented rules alone (the size limit,
//! the request's shape, the field limits as data in `oracle.rs`); it calls nothing
//! of the service or of `order-contract`, so a broken rule there cannot
//! pass by agreeing with itself.
//!
//! `PROPTEST_CASES=5000 cargo test -p producer-service --test properties`
//! searches longer than the default 256 cases per property.

#[path = "../common/mod.rs"]
mod common;
mod oracle;
mod strategies;

use std::cell::RefCell;
use std::collections::BTreeMap;

use common::{TestApp, count_records, valid_order};
use oracle::expected_status;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use strategies::{any_json, order_shaped};
use test_support::MockKafka;

/// Small, so that 413 is reached by generated bodies too.
const MAX_BODY_BYTES: usize = 2048;

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
