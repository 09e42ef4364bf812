//! Tests of `json.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tracing_subscriber::fmt::MakeWriter;

use super::*;

/// Captures what the layer writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// The lines `log` writes, parsed.
fn lines(log: impl FnOnce()) -> Vec<Value> {
    raw_lines(log)
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The lines `log` writes.
fn raw_lines(log: impl FnOnce()) -> Vec<String> {
    let capture = Capture::default();
    let layer = tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields)
        .event_format(JsonLines)
        .with_writer(capture.clone());
    let subscriber =
        tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
    tracing::subscriber::with_default(subscriber, log);
    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    text.lines().map(str::to_owned).collect()
}

#[test]
fn a_line_has_the_shape_of_tracing_subscribers_json_format() {
    let weird = "quote \" backslash \\ newline \n tab \t bell \u{7} del \u{7f} é ✓";
    let raw = raw_lines(|| {
        let span = tracing::info_span!(
            "request",
            request_id = "r-1",
            trace_id = %"4bf9",
            late = tracing::field::Empty
        );
        let _entered = span.enter();
        span.record("late", 7);
        tracing::info!(
            order_id = %"01a2",
            partition = 3,
            offset = -1_i64,
            ratio = 0.5,
            nan = f64::NAN,
            ok = true,
            missing = ?None::<u8>,
            weird,
            "order {} processed", 42
        );
    });
    assert_eq!(raw.len(), 1);
    // The order of the members, as tracing-subscriber writes them.
    let text = &raw[0];
    let at = |key: &str| text.find(&format!("\"{key}\":")).unwrap();
    assert!(text.starts_with("{\"timestamp\":"), "{text}");
    assert!(at("level") < at("message") && at("message") < at("order_id"));
    assert!(at("weird") < at("target") && at("target") < at("span"));
    let line: Value = serde_json::from_str(text).unwrap();
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["message"], "order 42 processed");
    assert_eq!(line["order_id"], "01a2");
    assert_eq!(line["partition"], 3);
    assert_eq!(line["offset"], -1);
    assert_eq!(line["ratio"], 0.5);
    assert_eq!(line["nan"], "NaN");
    assert_eq!(line["ok"], true);
    assert_eq!(line["missing"], "None");
    assert_eq!(line["weird"], weird);
    assert_eq!(line["target"], "service_kit::telemetry::json::tests");
    assert_eq!(
        line["span"],
        json!({"request_id": "r-1", "trace_id": "4bf9", "late": 7, "name": "request"})
    );
    let stamp = line["timestamp"].as_str().unwrap();
    assert!(stamp.len() == 27 && stamp.ends_with('Z'), "{stamp}");
}

#[test]
fn an_event_outside_a_span_has_none_and_a_span_without_fields_only_a_name() {
    let lines = lines(|| {
        tracing::warn!("alone");
        let _entered = tracing::info_span!("bare").entered();
        tracing::error!(code = 7, "inside");
    });
    assert!(lines[0].get("span").is_none());
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(lines[1]["span"], json!({"name": "bare"}));
    assert_eq!(lines[1]["code"], 7);
}

proptest::proptest! {
    #[test]
    fn any_text_reads_back_as_it_was_logged(text in ".*", shown in "\\PC*") {
        let lines = lines(|| {
            let _entered = tracing::info_span!("s", shown = %shown).entered();
            tracing::info!(text = text.as_str(), "{shown}");
        });
        proptest::prop_assert_eq!(&lines[0]["text"], &json!(text));
        proptest::prop_assert_eq!(&lines[0]["message"], &json!(shown));
        proptest::prop_assert_eq!(&lines[0]["span"]["shown"], &json!(shown));
    }
}

#[test]
fn timestamps_are_rfc3339_in_utc() {
    let at = |seconds: u64, micros: u64| {
        let mut text = String::new();
        timestamp(
            &mut text,
            UNIX_EPOCH + Duration::from_micros(seconds * 1_000_000 + micros),
        )
        .unwrap();
        text
    };
    assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.000005Z");
    assert_eq!(at(1_796_285_761, 740_127), "2026-12-03T08:16:01.740127Z");
    assert_eq!(at(4_107_542_399, 999_999), "2100-02-28T23:59:59.999999Z");
}
