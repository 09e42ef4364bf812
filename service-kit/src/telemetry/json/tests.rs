//! Tests of `json.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::strategy::Strategy as _;
use serde_json::{Value, json};
use tracing::field::Visit;
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
fn a_line_holds_the_event_then_its_target_then_its_span() {
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
    // The order of the members.
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

/// The keys of a JSON object, in order, repeats included (a map would keep
/// only one of each, as a last-wins log parser does).
fn keys(line: &str) -> Vec<String> {
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                keys.push(key);
            }
            Ok(keys)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(line);
    serde::Deserializer::deserialize_map(&mut deserializer, Keys)
        .unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn assert_unique(keys: &[String]) {
    let mut sorted = keys.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), keys.len(), "a key twice: {keys:?}");
}

#[test]
fn names_the_line_uses_repeats_and_odd_names_still_give_one_value_per_key() {
    let raw = raw_lines(|| {
        let span = tracing::info_span!("s", x = 1, late = tracing::field::Empty);
        let _entered = span.enter();
        span.record("x", 2);
        span.record("late", "first");
        span.record("late", "second");
        tracing::info!(
            level = "mine",
            timestamp = 3,
            target = "t",
            span = "s",
            "a\"b" = 1,
            "m"
        );
    });
    let line: Value = serde_json::from_str(&raw[0]).unwrap();
    assert_unique(&keys(&raw[0]));
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["field.level"], "mine");
    assert_eq!(line["field.timestamp"], 3);
    assert_eq!(line["field.target"], "t");
    assert_eq!(line["field.span"], "s");
    assert_eq!(line["a\"b"], 1);
    assert_eq!(line["span"], json!({"x": 2, "late": "second", "name": "s"}));
    let span_line = serde_json::to_string(&line["span"]).unwrap();
    assert_unique(&keys(&span_line));
}

#[test]
fn an_event_from_the_log_crate_has_its_own_target_and_no_log_fields() {
    let lines = lines(|| {
        let record = log::Record::builder()
            .args(format_args!("from log"))
            .level(log::Level::Warn)
            .target("some_crate::module")
            .module_path_static(Some("some_crate::module"))
            .file_static(Some("src/module.rs"))
            .line(Some(7))
            .build();
        tracing_log::format_trace(&record).unwrap();
    });
    assert_eq!(lines[0]["target"], "some_crate::module");
    assert_eq!(lines[0]["message"], "from log");
    assert_eq!(lines[0]["level"], "WARN");
    let keys = keys(&serde_json::to_string(&lines[0]).unwrap());
    assert!(!keys.iter().any(|key| key.starts_with("log.")), "{keys:?}");
}

/// A callsite for fields named at run time.
struct Dynamic;
static DYNAMIC: Dynamic = Dynamic;
impl tracing::Callsite for Dynamic {
    fn set_interest(&self, _: tracing::subscriber::Interest) {}
    fn metadata(&self) -> &tracing::Metadata<'_> {
        unreachable!("only its fields are used")
    }
}

proptest::proptest! {
    #[test]
    fn any_field_names_and_values_give_a_line_with_one_value_per_key(
        fields in proptest::collection::vec(
            (proptest::prop_oneof![
                proptest::strategy::Just("level".to_owned()),
                proptest::strategy::Just("timestamp".to_owned()),
                proptest::strategy::Just("message".to_owned()),
                "[a-c\"\\\\]{1,2}",
                ".*",
            ], proptest::prop_oneof![
                ".*".prop_map(Value::from),
                proptest::num::i64::ANY.prop_map(Value::from),
                proptest::bool::ANY.prop_map(Value::from),
            ]),
            0..8,
        )
    ) {
        let names: Vec<&'static str> = fields
            .iter()
            .map(|(name, _)| &*Box::leak(name.clone().into_boxed_str()))
            .collect();
        let set = tracing::field::FieldSet::new(
            Box::leak(names.clone().into_boxed_slice()),
            tracing::callsite::Identifier(&DYNAMIC),
        );
        let mut line = String::from("{\"timestamp\":\"t\",\"level\":\"INFO\"");
        let mut members = Members::continuing(&mut line);
        let mut event = EventMembers { members: &mut members, seen: Vec::new(), from_log: false };
        for (field, (_, value)) in set.iter().zip(&fields) {
            match value {
                Value::String(text) => event.record_str(&field, text),
                Value::Number(n) => event.record_i64(&field, n.as_i64().unwrap()),
                Value::Bool(b) => event.record_bool(&field, *b),
                _ => unreachable!(),
            }
        }
        members.result.unwrap();
        line.push('}');
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_unique(&keys(&line));
        // The first value of each name is the one written.
        for (name, value) in &fields {
            let key = if RESERVED.contains(&name.as_str()) { format!("field.{name}") } else { name.clone() };
            let first = fields.iter().find(|(other, _)| other == name).unwrap();
            proptest::prop_assert_eq!(&parsed[&key], &first.1, "{}: {}", key, line);
            let _ = value;
        }
    }
}
