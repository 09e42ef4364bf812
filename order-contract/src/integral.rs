//! Integers as JSON Schema counts them: `3` and `3.0` are the same integer,
//! so a client generated from the published schema may send either. serde
//! reads only the first into an integer type; these fields read both, and
//! nothing else.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{self, Unexpected, Visitor};

/// The largest integer a JSON number with a fraction part stands for
/// exactly (2^53): beyond it, `9007199254740993.0` is read as its neighbour.
const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

/// Reads a non-negative integer, written with or without a zero fraction,
/// into `T`.
pub(crate) fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    deserializer.deserialize_u64(Integral(PhantomData))
}

struct Integral<T>(PhantomData<T>);

impl<T: TryFrom<u64>> Visitor<'_> for Integral<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a non-negative integer that fits in {}",
            std::any::type_name::<T>()
        )
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        match u64::try_from(value) {
            Ok(value) => self.visit_u64(value),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(value), &self)),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        if value.fract() == 0.0 && (0.0..=MAX_EXACT_FLOAT).contains(&value) {
            // Exact: an integer no larger than 2^53.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            self.visit_u64(value as u64)
        } else {
            Err(E::invalid_value(Unexpected::Float(value), &self))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Field {
        #[serde(deserialize_with = "super::deserialize")]
        n: u32,
    }

    fn read(json: &str) -> Result<u32, String> {
        serde_json::from_str::<Field>(&format!("{{\"n\": {json}}}"))
            .map(|field| field.n)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn integers_are_read_with_or_without_a_zero_fraction() {
        assert_eq!(read("3923"), Ok(3923));
        assert_eq!(read("3923.0"), Ok(3923));
        assert_eq!(read("3.923e3"), Ok(3923));
        assert_eq!(read("0"), Ok(0));
        assert_eq!(read("-0.0"), Ok(0));
        assert_eq!(read("4294967295"), Ok(u32::MAX));
    }

    #[test]
    fn fractions_negatives_and_out_of_range_values_are_refused() {
        for refused in ["3.5", "-1", "-1.0", "4294967296", "1e300", "\"3\"", "null"] {
            let error = read(refused).expect_err(refused);
            assert!(!error.is_empty(), "{refused}");
        }
    }
}
