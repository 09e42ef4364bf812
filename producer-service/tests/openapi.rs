//! `GET /openapi.json` against the running service: every documented answer
//! of `POST /orders` happens, and every answer that happens is documented
//! with the body the service really sends.

mod common;

use std::collections::BTreeSet;

use common::{TestApp, read_answer, stalled_upload, valid_order};
use order_contract::limits;
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::MockKafka;

/// A stalled upload: the request timeout must answer. Returns the status.
async fn timed_out_upload(app: &TestApp) -> u16 {
    let stream = stalled_upload(app.addr, "authorization: Bearer test-token\r\n").await;
    let answer = read_answer(stream).await;
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("request-timeout"), "{answer}");
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}

/// The service's `GET /openapi.json`.
async fn document(app: &TestApp) -> Value {
    app.client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A validator for `schema`, a schema object of `document` whose `$ref`s
/// point into the document's components.
fn validator(document: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root["components"] = document["components"].clone();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .expect("a valid JSON Schema")
}

/// Checks that `response` to `POST /orders` is documented (status and
/// content type) and that its body matches the documented schema; returns
/// its status.
async fn check(document: &Value, response: reqwest::Response) -> u16 {
    check_path(document, "/orders", response).await
}

/// [`check`] for a response to `POST path`.
async fn check_path(document: &Value, path: &str, response: reqwest::Response) -> u16 {
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let documented = &document["paths"][path]["post"]["responses"][status.to_string()];
    let schema = &documented["content"][&content_type]["schema"];
    assert!(
        schema.is_object(),
        "{status} with {content_type} is not documented"
    );
    let errors: Vec<String> = validator(document, schema)
        .iter_errors(&body)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{status} body {body} breaks the schema: {errors:?}"
    );
    status
}

#[tokio::test]
async fn the_openapi_document_describes_every_answer_of_post_orders() {
    let kafka = MockKafka::start();
    let mut app = TestApp::spawn(
        &kafka,
        &[
            "--max-body-bytes",
            "1024",
            "--delivery-timeout-ms",
            "1000",
            "--request-timeout-ms",
            "3000",
            "--api-tokens",
            "test-token",
        ],
    )
    .await;
    app.wait_ready().await;
    let unauthenticated = app.post_order(&valid_order()).await;
    app.authorize("test-token");
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1."));
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert_eq!(paths, ["/orders", "/orders/batch"]);

    let example: Value = serde_json::from_str(include_str!("../../examples/order.json")).unwrap();
    let request = json!({"$ref": "#/components/schemas/OrderRequest"});
    assert!(validator(&document, &request).is_valid(&example));
    let item = &document["components"]["schemas"]["LineItem"]["properties"];
    assert_eq!(item["quantity"]["maximum"], limits::MAX_QUANTITY);
    assert_eq!(
        item["unit_price_cents"]["maximum"],
        limits::MAX_UNIT_PRICE_CENTS
    );
    assert_eq!(item["sku"]["maxLength"], limits::MAX_ID_LEN);
    let order = &document["components"]["schemas"]["OrderRequest"]["properties"];
    assert_eq!(order["items"]["maxItems"], limits::MAX_ITEMS);

    let mut invalid = valid_order();
    invalid["currency"] = json!("euro");
    let mut seen = BTreeSet::new();
    seen.insert(check(&document, unauthenticated).await);
    seen.insert(timed_out_upload(&app).await);
    seen.insert(check(&document, app.post_order(&valid_order()).await).await);
    seen.insert(check(&document, app.post_raw(Some("application/json"), "{").await).await);
    seen.insert(
        check(
            &document,
            app.post_raw(Some("application/json"), vec![b' '; 2048])
                .await,
        )
        .await,
    );
    seen.insert(check(&document, app.post_raw(Some("text/plain"), "hi").await).await);
    seen.insert(check(&document, app.post_order(&invalid).await).await);
    kafka.cluster.broker_down(1).unwrap();
    seen.insert(check(&document, app.post_order(&valid_order()).await).await);
    kafka.cluster.broker_up(1).unwrap();

    let mut documented: BTreeSet<u16> = document["paths"]["/orders"]["post"]["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|status| status.parse().unwrap())
        .collect();
    // 500 is documented for honesty, but only a bug (a panic) produces it:
    // the panic guard's own test covers it.
    assert!(documented.remove(&500));
    assert_eq!(seen, documented, "each documented answer was produced");
    app.shut_down().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_answers_of_post_orders_batch() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &["--max-batch-body-bytes", "4096"]).await;
    app.wait_ready().await;
    let document = document(&app).await;
    let post = |body: Value| app.client.post(app.url("/orders/batch")).json(&body).send();
    let mut invalid = valid_order();
    invalid["currency"] = json!("euro");
    let mixed = json!({"orders": [valid_order(), invalid, {"items": 3}]});
    let too_many = json!({"orders": vec![json!({}); 501]});
    let large = json!({"orders": vec![valid_order(); 40]});

    let mut seen = BTreeSet::new();
    for body in [mixed, too_many, large, json!({"orders": 1})] {
        seen.insert(check_path(&document, "/orders/batch", post(body).await.unwrap()).await);
    }
    assert_eq!(seen, BTreeSet::from([207, 400, 413, 422]));
    app.shut_down().await;
}

#[tokio::test]
async fn an_order_valid_by_the_published_schema_is_accepted_even_with_integers_written_as_floats() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    let document = document(&app).await;
    let request = validator(
        &document,
        &json!({"$ref": "#/components/schemas/OrderRequest"}),
    );
    // JSON Schema's `integer` is any number with a zero fraction.
    let order = json!({
        "customer_id": "cust-1",
        "currency": "EUR",
        "items": [{"sku": "A", "quantity": 3923.0, "unit_price_cents": 1e3}]
    });
    assert!(request.is_valid(&order));
    let response = app.post_order(&order).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["total_cents"], 3_923_000);
    app.shut_down().await;
}
