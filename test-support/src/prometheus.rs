//! A strict reader of the Prometheus text format, so tests can both check
//! that `/metrics` parses and read the value of one series.

use std::collections::BTreeMap;

/// One sample: the metric name, its labels (sorted by name) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, with any `_bucket`/`_sum`/`_count` suffix.
    pub name: String,
    /// Label names and values.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// Every sample of an exposition.
#[derive(Debug, Clone, Default)]
pub struct Exposition(pub Vec<Sample>);

impl Exposition {
    /// Parses `text`, rejecting any line that is neither a comment nor a
    /// well-formed `name{label="value",...} value` sample.
    ///
    /// # Errors
    /// The first line that does not parse, and why.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| parse_sample(line).map_err(|why| format!("{why}: {line:?}")))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The value of the series `name` whose labels include all of `labels`;
    /// the sum if several series match, `None` if none does.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<f64> = self
            .0
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }
}

fn parse_sample(line: &str) -> Result<Sample, &'static str> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("bad metric name");
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = rest.split_once("=\"").ok_or("expected label=\"value\"")?;
            let (value, after) = read_quoted(after)?;
            labels.insert(key.to_owned(), value);
            rest = after.strip_prefix(',').unwrap_or(after);
        }
    }
    let value = rest.trim().split(' ').next().ok_or("no value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().map_err(|_| "value is not a number")?,
    };
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Reads a label value up to its closing quote, undoing `\\`, `\"` and `\n`.
fn read_quoted(text: &str) -> Result<(String, &str), &'static str> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => value.push('\n'),
                Some(c @ ('\\' | '"')) => value.push(c),
                _ => return Err("bad escape in label value"),
            },
            c => value.push(c),
        }
    }
    Err("unterminated label value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_and_without_labels_are_read() {
        let text = "# HELP a_total A.\n# TYPE a_total counter\na_total 3\n\
                    b{x=\"1\",y=\"q\\\"uote\"} 2.5\nc_bucket{le=\"+Inf\"} 4\n";
        let exposition = Exposition::parse(text).unwrap();
        assert_eq!(exposition.value("a_total", &[]), Some(3.0));
        assert_eq!(exposition.value("b", &[("y", "q\"uote")]), Some(2.5));
        assert_eq!(exposition.value("c_bucket", &[("le", "+Inf")]), Some(4.0));
        assert_eq!(exposition.value("b", &[("x", "2")]), None);
    }

    #[test]
    fn malformed_lines_are_rejected() {
        for line in ["a_total", "1a 2", "a{x=1} 2", "a{x=\"1} 2", "a two"] {
            assert!(Exposition::parse(line).is_err(), "{line}");
        }
    }
}
