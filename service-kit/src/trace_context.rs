//! W3C trace context (`traceparent`) carried from an HTTP request through a
//! Kafka record to the consumer, so that every log line and exported span of
//! one order shares one trace id.
//!
//! The ids come from the incoming `traceparent` or are generated, and are
//! logged whether or not spans are exported. When OTLP export is on (see
//! [`crate::telemetry`]), the service's spans become children of the incoming
//! context and the outgoing `traceparent` names the exported span.

use opentelemetry::Context;
use opentelemetry::propagation::{Injector, TextMapPropagator};
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
        if let Some(trace) = traceparent.and_then(Self::parse) {
            return trace;
        }
        let ids = RandomIdGenerator::default();
        Self {
            trace_id: ids.new_trace_id(),
            parent_span_id: ids.new_span_id(),
            flags: TraceFlags::SAMPLED,
        }
    }

    /// The trace id as log lines carry it: 32 lower-case hex digits, what
    /// `TraceId`'s `Display` writes, in one piece rather than digit by digit.
    pub fn trace_id_hex(&self) -> Hex<32> {
        Hex::of(&self.trace_id.to_bytes())
    }

    /// Reads a W3C `traceparent`, `{version}-{trace id}-{parent id}-{flags}`
    /// in lower-case hex, as OpenTelemetry's propagator does (a later
    /// version may add fields; ids of zeros are invalid; only the sampled
    /// flag is kept), but without building a context for it: this runs for
    /// every record and every request.
    fn parse(traceparent: &str) -> Option<Self> {
        let mut parts = traceparent.trim().split('-');
        let (version, trace_id, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let [version] = bytes_of_hex::<1>(version)?;
        if version == 0xff || (version == 0 && parts.next().is_some()) {
            return None;
        }
        let trace_id = TraceId::from_bytes(bytes_of_hex(trace_id)?);
        let parent_span_id = SpanId::from_bytes(bytes_of_hex(parent)?);
        let [flags] = bytes_of_hex::<1>(flags)?;
        if trace_id == TraceId::INVALID || parent_span_id == SpanId::INVALID {
            return None;
        }
        Some(Self {
            trace_id,
            parent_span_id,
            flags: TraceFlags::new(flags) & TraceFlags::SAMPLED,
        })
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
        let context = span.context();
        if !context.span().span_context().is_valid() {
            // No exported span: the header is written directly.
            let ours = RandomIdGenerator::default().new_span_id().to_bytes();
            let flags = Hex::<2>::of(&[self.flags.to_u8()]);
            return [
                "00-",
                self.trace_id_hex().as_str(),
                "-",
                Hex::<16>::of(&ours).as_str(),
                "-",
                flags.as_str(),
            ]
            .concat();
        }
        let mut carrier = Outgoing(String::new());
        TraceContextPropagator::new().inject_context(&context, &mut carrier);
        carrier.0
    }
}

/// The `N` bytes written as exactly `2 * N` lower-case hex digits.
fn bytes_of_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let hex = hex.as_bytes();
    if hex.len() != 2 * N {
        return None;
    }
    let mut bytes = [0; N];
    for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(bytes)
}

/// `N` lower-case hex digits of `N / 2` bytes, formatted without `fmt`.
#[derive(Clone, Copy)]
pub struct Hex<const N: usize>([u8; N]);

impl<const N: usize> Hex<N> {
    fn of(bytes: &[u8]) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0; N];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(bytes) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        Self(hex)
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl<const N: usize> std::fmt::Display for Hex<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::propagation::Extractor;

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
    fn hex_ids_read_as_the_ids_own_display_writes_them() {
        for traceparent in [
            INCOMING,
            "00-000000000000000000000000000000ff-00f067aa0ba902b7-00",
        ] {
            let trace = Trace::continue_or_start(Some(traceparent));
            assert_eq!(trace.trace_id_hex().to_string(), trace.trace_id.to_string());
            let outgoing = trace.traceparent(&tracing::Span::none());
            assert_eq!(outgoing.len(), 55, "{outgoing}");
            let back = Trace::continue_or_start(Some(&outgoing));
            assert_eq!(back.trace_id, trace.trace_id);
            assert_eq!(back.flags, trace.flags);
        }
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
    fn a_valid_traceparent_reads_as_opentelemetrys_propagator_reads_it() {
        let propagator = TraceContextPropagator::new();
        for traceparent in [
            INCOMING,
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-later",
        ] {
            let theirs = propagator.extract(&Single(traceparent));
            let theirs = theirs.span().span_context().clone();
            let ours = Trace::parse(traceparent).expect(traceparent);
            assert_eq!(ours.trace_id, theirs.trace_id(), "{traceparent:?}");
            assert_eq!(ours.parent_span_id, theirs.span_id(), "{traceparent:?}");
            assert_eq!(ours.flags, theirs.trace_flags(), "{traceparent:?}");
        }
    }

    #[test]
    fn a_traceparent_the_w3c_rules_refuse_is_not_continued() {
        for traceparent in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "",
        ] {
            assert!(Trace::parse(traceparent).is_none(), "{traceparent:?}");
        }
    }

    /// One header value as a propagator's carrier, for the comparison.
    struct Single<'a>(&'a str);

    impl Extractor for Single<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            (key == TRACEPARENT).then_some(self.0)
        }

        fn keys(&self) -> Vec<&str> {
            vec![TRACEPARENT]
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
