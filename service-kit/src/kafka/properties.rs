//! The operator's own librdkafka properties: `KAFKA_PROPERTIES` (entries
//! separated by `;`, with `\;` and `\\` inside values) and
//! `KAFKA_PROPERTIES_FILE` (one `key=value` a line). No error or debug
//! output of these types carries any part of an entry: a value may be a
//! secret, and so may a "key" that an unescaped `;` cut out of a value.

use std::str::FromStr;

/// One librdkafka property.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaProperty {
    /// Property name, e.g. `security.protocol`.
    pub key: String,
    /// Its value, with surrounding whitespace trimmed.
    pub value: String,
}

impl std::fmt::Debug for KafkaProperty {
    /// Neither part: see the module's documentation.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KafkaProperty([redacted])")
    }
}

/// Where an operator's property was given, for messages that must name it
/// without quoting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The n-th entry (from 1) of `KAFKA_PROPERTIES` (`--kafka-properties`).
    Entry(usize),
    /// Line n of `KAFKA_PROPERTIES_FILE`.
    Line(usize),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Entry(n) => write!(f, "KAFKA_PROPERTIES entry {n}"),
            Self::Line(n) => write!(f, "KAFKA_PROPERTIES_FILE line {n}"),
        }
    }
}

/// A list of properties, each with where it came from.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Properties(pub Vec<(Source, KafkaProperty)>);

impl std::fmt::Debug for Properties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Properties({} redacted)", self.0.len())
    }
}

/// Why a property list is refused: which entry, never what it holds.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidProperty {
    /// An entry without `=`, or with an empty key.
    #[error("{0}: expected KEY=VALUE")]
    NotKeyValue(Source),
    /// A `\` followed by neither `;` nor `\`.
    #[error("{0}: a backslash must be followed by ';' or '\\'")]
    BadEscape(Source),
}

impl Properties {
    /// Parses `KAFKA_PROPERTIES`: entries separated by `;`, where `\;` is a
    /// `;` inside a value and `\\` a backslash. Empty entries (a trailing
    /// `;`) are skipped; entries are numbered as written.
    ///
    /// # Errors
    /// An entry that is not `key=value`, or a stray backslash.
    pub fn parse_list(text: &str) -> Result<Self, InvalidProperty> {
        let mut entries = Vec::new();
        let mut current = String::new();
        let mut number = 1;
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(c @ (';' | '\\')) => current.push(c),
                    _ => return Err(InvalidProperty::BadEscape(Source::Entry(number))),
                },
                ';' => {
                    push_entry(&mut entries, &current, Source::Entry(number))?;
                    current.clear();
                    number += 1;
                }
                c => current.push(c),
            }
        }
        push_entry(&mut entries, &current, Source::Entry(number))?;
        Ok(Self(entries))
    }

    /// Parses a `KAFKA_PROPERTIES_FILE`: one `key=value` a line, the value
    /// running to the end of the line (`;` and `\` included, as they are);
    /// blank lines and lines starting with `#` are skipped.
    ///
    /// # Errors
    /// A line that is not `key=value`.
    pub fn parse_file(text: &str) -> Result<Self, InvalidProperty> {
        text.lines()
            .enumerate()
            .filter(|(_, line)| {
                let line = line.trim();
                !line.is_empty() && !line.starts_with('#')
            })
            .map(|(index, line)| {
                let source = Source::Line(index + 1);
                entry(line, source).map(|property| (source, property))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// Adds `text` as the entry from `source`, unless it is blank.
fn push_entry(
    entries: &mut Vec<(Source, KafkaProperty)>,
    text: &str,
    source: Source,
) -> Result<(), InvalidProperty> {
    if !text.trim().is_empty() {
        entries.push((source, entry(text, source)?));
    }
    Ok(())
}

fn entry(text: &str, source: Source) -> Result<KafkaProperty, InvalidProperty> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok(KafkaProperty {
            key: key.trim().to_owned(),
            value: value.trim().to_owned(),
        }),
        _ => Err(InvalidProperty::NotKeyValue(source)),
    }
}

impl FromStr for Properties {
    type Err = InvalidProperty;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_list(s)
    }
}

/// Parses `KAFKA_PROPERTIES` for clap. clap's own error for a failed parse
/// quotes the value; this one does not.
#[derive(Debug, Clone, Copy)]
pub(super) struct ListParser;

impl clap::builder::TypedValueParser for ListParser {
    type Value = Properties;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Properties, clap::Error> {
        let text = value
            .to_str()
            .ok_or_else(|| invalid(&"KAFKA_PROPERTIES is not UTF-8"))?;
        Properties::parse_list(text).map_err(|error| invalid(&error))
    }
}

/// Reads and parses `KAFKA_PROPERTIES_FILE` for clap; errors name the path
/// and the line, never the content.
#[derive(Debug, Clone, Copy)]
pub(super) struct FileParser;

impl clap::builder::TypedValueParser for FileParser {
    type Value = Properties;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Properties, clap::Error> {
        let path = std::path::Path::new(value);
        let text = std::fs::read_to_string(path)
            .map_err(|error| invalid(&format_args!("cannot read {}: {error}", path.display())))?;
        Properties::parse_file(&text).map_err(|error| invalid(&error))
    }
}

fn invalid(why: &dyn std::fmt::Display) -> clap::Error {
    clap::Error::raw(
        clap::error::ErrorKind::ValueValidation,
        format!("invalid Kafka properties: {why}\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(properties: &Properties) -> Vec<(Source, &str, &str)> {
        properties
            .0
            .iter()
            .map(|(source, p)| (*source, p.key.as_str(), p.value.as_str()))
            .collect()
    }

    #[test]
    fn entries_are_split_on_semicolons_and_values_keep_escaped_ones() {
        let list = Properties::parse_list(
            r"linger.ms=5; sasl.password=hunter\;zz9qk=word77 ;debug=broker,topic=x;path=C:\\kafka;",
        )
        .unwrap();
        assert_eq!(
            pairs(&list),
            [
                (Source::Entry(1), "linger.ms", "5"),
                (Source::Entry(2), "sasl.password", "hunter;zz9qk=word77"),
                (Source::Entry(3), "debug", "broker,topic=x"),
                (Source::Entry(4), "path", r"C:\kafka"),
            ]
        );
        assert_eq!(Properties::parse_list("").unwrap(), Properties::default());
    }

    #[test]
    fn a_bad_entry_is_named_by_its_position_only() {
        let errors = [
            Properties::parse_list("acks=1;hunter2-secret").unwrap_err(),
            Properties::parse_list(r"acks=1;;sasl.password=a\b").unwrap_err(),
            Properties::parse_list("=hunter2-secret").unwrap_err(),
        ];
        assert_eq!(
            errors,
            [
                InvalidProperty::NotKeyValue(Source::Entry(2)),
                InvalidProperty::BadEscape(Source::Entry(3)),
                InvalidProperty::NotKeyValue(Source::Entry(1)),
            ]
        );
        for error in errors {
            assert!(!error.to_string().contains("hunter"), "{error}");
        }
    }

    #[test]
    fn a_file_holds_one_property_a_line_with_semicolons_as_they_are() {
        let file = Properties::parse_file(
            "# SASL\nsasl.password = hunter;zz9qk=word77\n\n  linger.ms=5\r\nnot a property\n",
        );
        assert_eq!(
            file.unwrap_err(),
            InvalidProperty::NotKeyValue(Source::Line(5))
        );
        let file =
            Properties::parse_file("# SASL\nsasl.password = a;b\\c\n\nlinger.ms=5\n").unwrap();
        assert_eq!(
            pairs(&file),
            [
                (Source::Line(2), "sasl.password", r"a;b\c"),
                (Source::Line(4), "linger.ms", "5"),
            ]
        );
    }

    #[test]
    fn debug_output_shows_no_part_of_any_entry() {
        let list = Properties::parse_list("sasl.password=hunter;zz9qk=word77").unwrap();
        let shown = format!("{list:?} {:?}", list.0[1].1);
        for part in ["hunter", "zz9qk", "word77", "sasl"] {
            assert!(!shown.contains(part), "{shown}");
        }
    }
}
