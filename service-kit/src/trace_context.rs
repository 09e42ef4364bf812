//! W3C trace context (`traceparent`) carried from an HTTP request through a
//! Kafka record to the consumer, so that every log line and exported span of
//! one order shares one trace id.
//!
//! The ids come from the incoming `traceparent` or are generated, and are
//! logged whether or not spans are exported. When OTLP export is on (see
//! [`crate::telemetry`]), the service's spans become children of the incoming
//! context and the outgoing `traceparent` names the exported span.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header name, in HTTP requests and in Kafka records alike.
pub const TRACEPARENT: &str = "traceparent";

/// The trace a unit of work (a request, a record) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trace {
    /// Shared by every span of the trace; what log lines carry.
    pub trace_id: TraceId,
    /// The caller's span, parent of ours.
    pub parent_span_id: SpanId,
    /// The caller's sampling decision, passed on.
    pub flags: TraceFlags,
}

impl Trace {
    /// Continues the trace in `traceparent`, or starts a new one if the value
    /// is absent or malformed (a bad header must not fail the request).
    pub fn continue_or_start(traceparent: Option<&str>) -> Self {
        let extracted = TraceContextPropagator::new().extract(&Single(traceparent));
        let span = extracted.span();
        let remote = span.span_context();
        if remote.is_valid() {
            return Self {
                trace_id: remote.trace_id(),
                parent_span_id: remote.span_id(),
                flags: remote.trace_flags(),
            };
        }
        let ids = RandomIdGenerator::default();
        Self {
            trace_id: ids.new_trace_id(),
            parent_span_id: ids.new_span_id(),
            flags: TraceFlags::SAMPLED,
        }
    }

    /// With OTLP export on, makes `span` a child of the caller's span, so
    /// the exported spans join the caller's trace. Create `span` with this
    /// trace's id as its `trace_id` field: recording a field later makes the
    /// JSON log layer format the span's fields a second time.
    pub fn adopt(&self, span: &tracing::Span) {
        let remote = SpanContext::new(
            self.trace_id,
            self.parent_span_id,
            self.flags,
            true,
            TraceState::default(),
        );
        // Fails only when no OpenTelemetry layer is installed: nothing to link.
        let _ = span.set_parent(Context::new().with_remote_span_context(remote));
    }

    /// The `traceparent` to send downstream from within `span`: the exported
    /// span when OTLP export is on, else a fresh span id in this trace with
    /// the caller's flags (its sampling decision) passed on.
    pub fn traceparent(&self, span: &tracing::Span) -> String {
        let mut context = span.context();
        if !context.span().span_context().is_valid() {
            let ours = SpanContext::new(
                self.trace_id,
                RandomIdGenerator::default().new_span_id(),
                self.flags,
                false,
                TraceState::default(),
            );
            context = Context::new().with_remote_span_context(ours);
        }
        let mut carrier = Outgoing(String::new());
        TraceContextPropagator::new().inject_context(&context, &mut carrier);
        carrier.0
    }
}

/// Receives the `traceparent` a propagator writes.
struct Outgoing(String);

impl Injector for Outgoing {
    fn set(&mut self, key: &str, value: String) {
        if key == TRACEPARENT {
            self.0 = value;
        }
    }
}

/// One header value as a propagator's carrier.
struct Single<'a>(Option<&'a str>);

impl Extractor for Single<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.filter(|_| key == TRACEPARENT)
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn an_incoming_traceparent_is_continued() {
        let trace = Trace::continue_or_start(Some(INCOMING));
        assert_eq!(
            trace.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(trace.parent_span_id.to_string(), "00f067aa0ba902b7");

        let outgoing = trace.traceparent(&tracing::Span::none());
        let parts: Vec<&str> = outgoing.split('-').collect();
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parts[2].len(), 16);
        assert_ne!(parts[2], "00f067aa0ba902b7", "a span of our own");
        assert_eq!(parts[3], "01");
    }

    #[test]
    fn the_callers_sampling_decision_is_passed_on() {
        for flags in ["00", "01"] {
            let incoming = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}");
            let trace = Trace::continue_or_start(Some(&incoming));
            let outgoing = trace.traceparent(&tracing::Span::none());
            assert!(outgoing.ends_with(&format!("-{flags}")), "{outgoing}");
        }
    }

    #[test]
    fn a_missing_or_malformed_traceparent_starts_a_new_trace() {
        let bad = [
            None,
            Some("garbage"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ];
        let mut seen = Vec::new();
        for value in bad {
            let trace = Trace::continue_or_start(value);
            assert_ne!(trace.trace_id, TraceId::INVALID);
            assert!(!seen.contains(&trace.trace_id), "each start is a new trace");
            seen.push(trace.trace_id);
        }
    }
}
