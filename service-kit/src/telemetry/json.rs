//! JSON log lines written straight into the output: one object per event,
//! `{"timestamp":…,"level":…,<the event's fields>,"target":…,"span":{<the
//! current span's fields>,"name":…}}`. tracing-subscriber's own JSON format
//! nests an event's fields under `fields` unless flattened, collects them
//! into a map and parses each span's stored fields back from JSON at every
//! event; at one line per order, that costs more than the order. Here a
//! span's fields are rendered once, as JSON members, and copied into each
//! line as they are.
//!
//! Every line is one JSON object with one value per key: names are escaped
//! like values; an event field named like a member of the line itself
//! (`timestamp`, `level`, `target`, `span`) is written as `field.<name>`; a
//! name an event repeats keeps its first value, and a span field recorded
//! again replaces its earlier value. Events from the `log` crate carry
//! their own target and none of the `log.*` fields tracing-log adds.

mod members;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

#[cfg(test)]
use members::RESERVED;
use members::{EventMembers, Members, append, member_spans, string};

/// Renders fields as JSON object members, `"key":value,"key":value`: a
/// span's, stored once in its extensions, and an event's.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFields;

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut members = Members::new(&mut writer);
        fields.record(&mut members);
        members.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut added = String::new();
        let mut members = Members::new(&mut added);
        fields.record(&mut members);
        members.result?;
        // A field recorded again replaces its earlier value; fields
        // recorded later go after the ones the span was created with.
        let stored = std::mem::take(&mut current.fields);
        let replaced: Vec<&str> = member_spans(&added).map(|(name, _)| name).collect();
        for (name, member) in member_spans(&stored) {
            if !replaced.contains(&name) {
                append(&mut current.fields, member);
            }
        }
        append(&mut current.fields, &added);
        Ok(())
    }
}

/// Writes whole lines: see the module's documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // An event from the `log` crate: its own target, not `log`.
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        writer.write_str("{\"timestamp\":\"")?;
        timestamp(&mut writer, SystemTime::now())?;
        write!(writer, "\",\"level\":\"{}\"", metadata.level())?;
        let mut members = Members::continuing(&mut writer);
        let mut event_members = EventMembers {
            members: &mut members,
            seen: Vec::new(),
            from_log: normalized.is_some(),
        };
        event.record(&mut event_members);
        members.result?;
        writer.write_str(",\"target\":")?;
        string(&mut writer, metadata.target())?;
        let span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = span {
            writer.write_str(",\"span\":{")?;
            let extensions = span.extensions();
            if let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() {
                if !fields.fields.is_empty() {
                    writer.write_str(&fields.fields)?;
                    writer.write_char(',')?;
                }
            }
            writer.write_str("\"name\":")?;
            string(&mut writer, span.metadata().name())?;
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

/// `2026-12-03T08:36:01.740127Z`: RFC 3339 in UTC, to the microsecond.
fn timestamp(w: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (year, month, day) = civil_date(seconds / 86_400);
    let of_day = seconds % 86_400;
    write!(
        w,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_micros()
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
