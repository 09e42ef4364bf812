//! `created_at` as RFC 3339 text: exactly what `time::serde::rfc3339` writes
//! (a tested equivalence), without its general formatting machinery, which
//! cost more than any other field of an order; read back with `time`'s own
//! parser.

use serde::{Deserializer, Serializer};
use time::{OffsetDateTime, UtcOffset};

/// Writes `at`: `2026-11-24T11:14:26.825870718Z`, the fraction without its
/// trailing zeros (none when whole). Instants outside UTC or years 0-9999
/// go through `time`'s formatter.
///
/// # Errors
/// What the serializer returns.
pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    if at.offset() != UtcOffset::UTC || !(0..=9999).contains(&at.year()) {
        return time::serde::rfc3339::serialize(at, serializer);
    }
    let mut text = [0_u8; 30];
    let mut len = 0;
    let mut push = |byte: u8| {
        text[len] = byte;
        len += 1;
    };
    let digits = |count: u32, value: u32, push: &mut dyn FnMut(u8)| {
        for place in (0..count).rev() {
            push(b'0' + u8::try_from(value / 10_u32.pow(place) % 10).expect("a digit"));
        }
    };
    let year = u32::try_from(at.year()).expect("years 0-9999");
    for (count, value, separator) in [
        (4, year, b'-'),
        (2, u32::from(u8::from(at.month())), b'-'),
        (2, u32::from(at.day()), b'T'),
        (2, u32::from(at.hour()), b':'),
        (2, u32::from(at.minute()), b':'),
    ] {
        digits(count, value, &mut push);
        push(separator);
    }
    digits(2, u32::from(at.second()), &mut push);
    let mut nanos = at.nanosecond();
    if nanos != 0 {
        let mut count = 9;
        while nanos % 10 == 0 {
            nanos /= 10;
            count -= 1;
        }
        push(b'.');
        digits(count, nanos, &mut push);
    }
    push(b'Z');
    serializer.serialize_str(std::str::from_utf8(&text[..len]).expect("ASCII"))
}

/// Reads RFC 3339 text, as `time::serde::rfc3339` does.
///
/// # Errors
/// If the text is not an RFC 3339 date-time.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    time::serde::rfc3339::deserialize(deserializer)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::format_description::well_known::Rfc3339;

    use super::*;

    fn ours(at: OffsetDateTime) -> String {
        serialize(&at, serde_json::value::Serializer)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    proptest! {
        #[test]
        fn the_text_is_what_times_own_formatter_writes(
            seconds in -62_135_596_800_i64..253_402_300_799,
            nanos in prop_oneof![Just(0_u32), Just(500_000_000), 0..1_000_000_000_u32],
            offset_minutes in prop_oneof![Just(0_i32), -720..840_i32],
        ) {
            let at = OffsetDateTime::from_unix_timestamp(seconds).unwrap()
                .replace_nanosecond(nanos).unwrap()
                .to_offset(UtcOffset::from_whole_seconds(offset_minutes * 60).unwrap());
            prop_assert_eq!(ours(at), at.format(&Rfc3339).unwrap());
        }
    }

    #[test]
    fn trailing_zeros_of_the_fraction_are_left_out() {
        let at = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
        assert_eq!(ours(at), "2025-11-24T16:00:00Z");
        let at = at.replace_nanosecond(825_870_000).unwrap();
        assert_eq!(ours(at), "2025-11-24T16:00:00.82587Z");
    }
}
