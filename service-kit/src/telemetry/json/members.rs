//! Fields as JSON object members, `"name":value,"name":value`: the
//! visitors that write them, and the reader that finds them again in a
//! span's stored members.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};

/// Appends the members `more` to the members `to`.
pub(super) fn append(to: &mut String, more: &str) {
    if !to.is_empty() && !more.is_empty() {
        to.push(',');
    }
    to.push_str(more);
}

/// The members [`Members`] wrote, as (quoted name, whole member) pairs:
/// each is a quoted name, a colon, and a quoted string or a bare number or
/// boolean, separated by commas.
pub(super) fn member_spans(members: &str) -> impl Iterator<Item = (&str, &str)> {
    let bytes = members.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= bytes.len() {
            return None;
        }
        let start = at;
        let name_end = quoted_end(bytes, at);
        let value_start = name_end + 1;
        let end = if bytes.get(value_start) == Some(&b'"') {
            quoted_end(bytes, value_start)
        } else {
            bytes[value_start..]
                .iter()
                .position(|&b| b == b',')
                .map_or(bytes.len(), |offset| value_start + offset)
        };
        at = end + 1;
        Some((&members[start..name_end], &members[start..end]))
    })
}

/// Just past the JSON string that starts at `at`.
fn quoted_end(bytes: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    while i < bytes.len() && bytes[i] != b'"' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

/// Names the line itself uses, which an event field must not repeat.
pub(super) const RESERVED: [&str; 4] = ["timestamp", "level", "target", "span"];

/// An event's fields: each name once, none of the line's own, and none of
/// the `log.*` fields of an event from the `log` crate.
pub(super) struct EventMembers<'m, 'a, W: fmt::Write> {
    pub(super) members: &'m mut Members<'a, W>,
    pub(super) seen: Vec<&'static str>,
    pub(super) from_log: bool,
}

impl<W: fmt::Write> EventMembers<'_, '_, W> {
    /// Whether to write `field`; `Some(prefix)` says with which prefix.
    fn admit(&mut self, field: &Field) -> Option<&'static str> {
        let name = field.name();
        if (self.from_log && name.starts_with("log.")) || self.seen.contains(&name) {
            return None;
        }
        self.seen.push(name);
        Some(if RESERVED.contains(&name) {
            "field."
        } else {
            ""
        })
    }
}

macro_rules! admitted {
    ($($method:ident($type:ty)),*) => {
        $(fn $method(&mut self, field: &Field, value: $type) {
            if let Some(prefix) = self.admit(field) {
                self.members.prefix = prefix;
                self.members.$method(field, value);
            }
        })*
    };
}

impl<W: fmt::Write> Visit for EventMembers<'_, '_, W> {
    admitted!(
        record_str(&str),
        record_debug(&dyn fmt::Debug),
        record_error(&(dyn std::error::Error + 'static)),
        record_i64(i64),
        record_u64(u64),
        record_i128(i128),
        record_u128(u128),
        record_bool(bool),
        record_f64(f64)
    );
}

/// A field visitor writing `"name":value` members, comma-separated.
pub(super) struct Members<'a, W: fmt::Write> {
    pub(super) writer: &'a mut W,
    pub(super) first: bool,
    pub(super) result: fmt::Result,
    /// Written before the next member's name.
    prefix: &'static str,
}

impl<'a, W: fmt::Write> Members<'a, W> {
    pub(super) fn new(writer: &'a mut W) -> Self {
        Self {
            writer,
            first: true,
            result: Ok(()),
            prefix: "",
        }
    }

    /// After members written already: the first one here takes a comma.
    pub(super) fn continuing(writer: &'a mut W) -> Self {
        Self {
            first: false,
            ..Self::new(writer)
        }
    }

    /// Writes the member's name; the caller writes its value.
    fn name(&mut self, field: &Field) -> Result<&mut W, fmt::Error> {
        self.result?;
        if !std::mem::take(&mut self.first) {
            self.writer.write_char(',')?;
        }
        // Most names are Rust identifiers, but tracing also takes string
        // literals, which may hold anything.
        let name = field.name();
        self.writer.write_char('"')?;
        self.writer.write_str(std::mem::take(&mut self.prefix))?;
        Escaped(&mut *self.writer).write_str(name.strip_prefix("r#").unwrap_or(name))?;
        self.writer.write_str("\":")?;
        Ok(self.writer)
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        self.result = self.name(field).and_then(value);
    }
}

impl<W: fmt::Write> Visit for Members<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |w| string(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |w| {
            w.write_char('"')?;
            write!(Escaped(w), "{value:?}")?;
            w.write_char('"')
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.member(field, |w| {
            w.write_char('"')?;
            write!(Escaped(w), "{value}")?;
            w.write_char('"')
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity.
        self.member(field, |w| {
            if value.is_finite() {
                write!(w, "{value}")
            } else {
                write!(w, "\"{value}\"")
            }
        });
    }
}

/// A JSON string.
pub(super) fn string(w: &mut impl fmt::Write, value: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaped(w).write_str(value)?;
    w.write_char('"')
}

/// Writes what it is given as the inside of a JSON string: quotes,
/// backslashes and control characters escaped, the rest as it is.
struct Escaped<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        let mut plain = 0;
        // Runs of plain characters are copied whole.
        while let Some(offset) = bytes[plain..].iter().position(|&b| needs_escape(b)) {
            let at = plain + offset;
            self.0.write_str(&s[plain..at])?;
            match bytes[at] {
                b'"' => self.0.write_str("\\\"")?,
                b'\\' => self.0.write_str("\\\\")?,
                b'\n' => self.0.write_str("\\n")?,
                b'\r' => self.0.write_str("\\r")?,
                b'\t' => self.0.write_str("\\t")?,
                control => write!(self.0, "\\u{control:04x}")?,
            }
            plain = at + 1;
        }
        self.0.write_str(&s[plain..])
    }
}

/// Quotes, backslashes and control characters.
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\' || byte == 0x7f
}
