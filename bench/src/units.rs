//! How the report writes its numbers.

/// `12345.6` as `12,346`.
pub fn thousands(value: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    // rates are small and positive
    let digits = (value.round() as u64).to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[allow(clippy::cast_precision_loss)] // KiB counts far below 2^52
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
