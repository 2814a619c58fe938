//! Units as written in scenario files: durations (`30ms`, `1.5h`), byte sizes (`160B`, `2KiB`),
//! bandwidths (`5MB/s`, `10Mbit/s`) and rates (`30/h/user`, `4/h`).
//!
//! Grammar: a non-negative decimal number (`12`, `1.5`, `.5`, `2e3`), optional whitespace, then a
//! unit. Negative numbers, `NaN` and infinities are rejected.

use std::fmt;

/// Allowed duration units, for messages.
const DURATION_UNITS: &str = "ns, us (or µs), ms, s, m (or min), h, d (or day)";
/// Allowed byte units, for messages.
const BYTE_UNITS: &str = "B, KB, MB, GB (1000-based), KiB, MiB, GiB (1024-based)";
/// Allowed bandwidth units, for messages.
const BANDWIDTH_UNITS: &str =
    "B/s, KB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s, bit/s, kbit/s, Mbit/s, Gbit/s";
/// Allowed rate time units, for messages.
const RATE_UNITS: &str = "s, min (or m), h, day (or d)";

/// A rate of events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Events per second.
    pub per_second: f64,
    /// Whether the rate was written per user (`N/UNIT/user`) rather than organisation-wide.
    pub per_user: bool,
}

/// A value that does not follow the units grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    /// What was being parsed (`duration`, `byte size`, `bandwidth`, `rate`).
    what: &'static str,
    /// The offending text.
    input: String,
    /// Why it was rejected, with the allowed forms.
    reason: String,
}

impl UnitError {
    fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        UnitError {
            what,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// The kind of value that was being parsed (`duration`, `byte size`, `bandwidth`, `rate`).
    #[must_use]
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The text that was rejected.
    #[must_use]
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Why the text was rejected.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} `{}`: {}", self.what, self.input, self.reason)
    }
}

impl std::error::Error for UnitError {}

/// A parsed number: its value and whether it was written as a plain integer (digits only), in
/// which case `int` holds it exactly.
struct Number {
    value: f64,
    int: Option<u128>,
}

/// Splits `s` into a leading non-negative number and the (trimmed) rest.
fn split_number<'a>(what: &'static str, s: &'a str) -> Result<(Number, &'a str), UnitError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(UnitError::new(
            what,
            s,
            "empty value; expected a number followed by a unit",
        ));
    }
    if t.starts_with('-') {
        return Err(UnitError::new(what, s, "must not be negative"));
    }
    let bytes = t.as_bytes();
    let mut end = 0;
    let mut digits = 0;
    while end < bytes.len() && bytes.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
        digits += 1;
    }
    let int_end = end;
    if bytes.get(end) == Some(&b'.') {
        end += 1;
        while bytes.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return Err(UnitError::new(
            what,
            s,
            "expected a non-negative number followed by a unit",
        ));
    }
    // Optional exponent: `e` or `E`, an optional sign, then at least one digit. No unit starts
    // with `e`, so this is unambiguous.
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut k = end + 1;
        if matches!(bytes.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if bytes.get(k).is_some_and(u8::is_ascii_digit) {
            while bytes.get(k).is_some_and(u8::is_ascii_digit) {
                k += 1;
            }
            end = k;
        }
    }
    let (num, rest) = t.split_at(end);
    let value: f64 = num
        .parse()
        .map_err(|_| UnitError::new(what, s, format!("`{num}` is not a number")))?;
    if !value.is_finite() {
        return Err(UnitError::new(what, s, "number is too large"));
    }
    let int = if end == int_end {
        // Digits only. Anything longer than 38 digits overflows u128 and is absurd anyway.
        Some(
            num.parse::<u128>()
                .map_err(|_| UnitError::new(what, s, "number is too large"))?,
        )
    } else {
        None
    };
    Ok((Number { value, int }, rest.trim_start()))
}

/// Scales `n` by an integer `factor` into a `u64`, exactly for integers and rounded to the
/// nearest unit otherwise.
fn scale_u64(
    what: &'static str,
    input: &str,
    n: &Number,
    factor: u64,
    smallest: &str,
) -> Result<u64, UnitError> {
    let too_large = || UnitError::new(what, input, "value is too large");
    if let Some(i) = n.int {
        let v = i.checked_mul(u128::from(factor)).ok_or_else(too_large)?;
        return u64::try_from(v).map_err(|_| too_large());
    }
    #[allow(clippy::cast_precision_loss)]
    let v = n.value * factor as f64;
    // u64::MAX as f64 rounds up to 2^64, which does not fit: reject it and everything above.
    #[allow(clippy::cast_precision_loss)]
    if !v.is_finite() || v >= u64::MAX as f64 {
        return Err(too_large());
    }
    let r = v.round();
    if r == 0.0 && v > 0.0 {
        return Err(UnitError::new(
            what,
            input,
            format!("value is below the resolution of 1{smallest}"),
        ));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(r as u64)
}

/// Parses a duration into nanoseconds: `30ms`, `1.5h`, `2 d`, `250us`; a bare `0` is zero.
///
/// Units: `ns`, `us` (or `µs`), `ms`, `s`, `m` (or `min`), `h`, `d` (or `day`). Limits (for
/// example at most 365 days for a scenario's duration) are checked by the caller.
///
/// # Errors
/// A missing or unknown unit, a negative or malformed number, or a value over `u64::MAX` ns.
pub fn parse_duration(s: &str) -> Result<u64, UnitError> {
    const WHAT: &str = "duration";
    let (n, unit) = split_number(WHAT, s)?;
    let factor: u64 = match unit {
        "" => {
            if n.value == 0.0 {
                return Ok(0);
            }
            return Err(UnitError::new(
                WHAT,
                s,
                format!("missing unit; allowed units: {DURATION_UNITS} (for example `30ms`)"),
            ));
        }
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" | "day" => 86_400_000_000_000,
        other => {
            return Err(UnitError::new(
                WHAT,
                s,
                format!("unknown unit `{other}`; allowed units: {DURATION_UNITS}"),
            ))
        }
    };
    scale_u64(WHAT, s, &n, factor, "ns")
}

/// Factor of a byte unit, if `unit` is one.
fn byte_factor(unit: &str) -> Option<u64> {
    Some(match unit {
        "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    })
}

/// Parses a byte size: `160B`, `2KB` (2000), `2KiB` (2048), `1.5MB`; a bare integer is bytes.
///
/// Fractional results are rounded to the nearest byte.
///
/// # Errors
/// An unknown unit, a bare non-integer, a negative or malformed number, or a value over
/// `u64::MAX`.
pub fn parse_bytes(s: &str) -> Result<u64, UnitError> {
    const WHAT: &str = "byte size";
    let (n, unit) = split_number(WHAT, s)?;
    if unit.is_empty() {
        if n.int.is_none() {
            return Err(UnitError::new(
                WHAT,
                s,
                format!("a bare number must be a whole number of bytes; otherwise use a unit: {BYTE_UNITS}"),
            ));
        }
        return scale_u64(WHAT, s, &n, 1, "B");
    }
    let Some(factor) = byte_factor(unit) else {
        return Err(UnitError::new(
            WHAT,
            s,
            format!("unknown unit `{unit}`; allowed units: {BYTE_UNITS}"),
        ));
    };
    scale_u64(WHAT, s, &n, factor, "B")
}

/// Parses a bandwidth into bytes per second: `5MB/s`, `512KiB/s`, `10Mbit/s`, `1Gbit/s`.
///
/// # Errors
/// A missing or unknown unit, a negative or malformed number, or a non-finite result.
pub fn parse_bandwidth(s: &str) -> Result<f64, UnitError> {
    const WHAT: &str = "bandwidth";
    let (n, unit) = split_number(WHAT, s)?;
    let unknown = |u: &str| {
        UnitError::new(
            WHAT,
            s,
            format!("unknown unit `{u}`; allowed units: {BANDWIDTH_UNITS}"),
        )
    };
    if unit.is_empty() {
        return Err(UnitError::new(
            WHAT,
            s,
            format!("missing unit; allowed units: {BANDWIDTH_UNITS} (for example `5MB/s`)"),
        ));
    }
    let Some((num, den)) = unit.rsplit_once('/') else {
        return Err(UnitError::new(
            WHAT,
            s,
            format!("a bandwidth is per second (`/s`); allowed units: {BANDWIDTH_UNITS}"),
        ));
    };
    if den.trim() != "s" {
        return Err(unknown(unit));
    }
    #[allow(clippy::cast_precision_loss)]
    let factor: f64 = match num.trim() {
        "bit" => 1.0 / 8.0,
        "kbit" | "Kbit" => 1e3 / 8.0,
        "Mbit" => 1e6 / 8.0,
        "Gbit" => 1e9 / 8.0,
        other => match byte_factor(other) {
            Some(f) => f as f64,
            None => return Err(unknown(unit)),
        },
    };
    let v = n.value * factor;
    if !v.is_finite() {
        return Err(UnitError::new(WHAT, s, "value is too large"));
    }
    Ok(v)
}

/// Parses a rate: `30/h/user` (per user), `4/h` (organisation-wide), `3/day/user`, `0.5/s`; a
/// bare `0` is a zero rate (and counts as either form).
///
/// Time units: `s`, `min` (or `m`), `h`, `day` (or `d`).
///
/// # Errors
/// A missing or unknown time unit, a suffix other than `/user`, a negative or malformed number.
pub fn parse_rate(s: &str) -> Result<Rate, UnitError> {
    const WHAT: &str = "rate";
    let (n, rest) = split_number(WHAT, s)?;
    if rest.is_empty() {
        if n.value == 0.0 {
            return Ok(Rate {
                per_second: 0.0,
                per_user: false,
            });
        }
        return Err(UnitError::new(
            WHAT,
            s,
            format!(
                "missing time unit; write N/UNIT or N/UNIT/user with UNIT one of {RATE_UNITS} (for example `30/h/user` or `4/h`)"
            ),
        ));
    }
    let Some(after) = rest.strip_prefix('/') else {
        return Err(UnitError::new(
            WHAT,
            s,
            format!("expected `/` after the number; write N/UNIT or N/UNIT/user with UNIT one of {RATE_UNITS}"),
        ));
    };
    let mut parts = after.split('/').map(str::trim);
    let unit = parts.next().unwrap_or("");
    let seconds: f64 = match unit {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" | "day" => 86_400.0,
        "" => {
            return Err(UnitError::new(
                WHAT,
                s,
                format!("missing time unit after `/`; allowed: {RATE_UNITS}"),
            ))
        }
        other => {
            return Err(UnitError::new(
                WHAT,
                s,
                format!("unknown time unit `{other}`; allowed: {RATE_UNITS}"),
            ))
        }
    };
    let per_user = match parts.next() {
        None => false,
        Some("user") => true,
        Some(other) => {
            return Err(UnitError::new(
                WHAT,
                s,
                format!("expected `/user` or nothing after the time unit, found `/{other}`"),
            ))
        }
    };
    if parts.next().is_some() {
        return Err(UnitError::new(
            WHAT,
            s,
            "too many `/`; write N/UNIT or N/UNIT/user",
        ));
    }
    let per_second = n.value / seconds;
    if !per_second.is_finite() {
        return Err(UnitError::new(WHAT, s, "value is too large"));
    }
    Ok(Rate {
        per_second,
        per_user,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const SEC: u64 = 1_000_000_000;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30ms"), Ok(30 * MS));
        assert_eq!(parse_duration("30 ms"), Ok(30 * MS));
        assert_eq!(parse_duration("1.5h"), Ok(5400 * SEC));
        assert_eq!(parse_duration("2d"), Ok(2 * 86_400 * SEC));
        assert_eq!(parse_duration("1day"), Ok(86_400 * SEC));
        assert_eq!(parse_duration("20m"), Ok(1200 * SEC));
        assert_eq!(parse_duration("20min"), Ok(1200 * SEC));
        assert_eq!(parse_duration("250us"), Ok(250_000));
        assert_eq!(parse_duration("250µs"), Ok(250_000));
        assert_eq!(parse_duration("7ns"), Ok(7));
        assert_eq!(parse_duration("0.1s"), Ok(100 * MS));
        assert_eq!(parse_duration(".5s"), Ok(500 * MS));
        assert_eq!(parse_duration("1e3ms"), Ok(SEC));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration(" 0ms "), Ok(0));
        assert_eq!(parse_duration("365d"), Ok(365 * 86_400 * SEC));
    }

    #[test]
    fn bad_durations() {
        for bad in [
            "abc",
            "5 parsecs",
            "-1s",
            "NaN",
            "nan",
            "inf",
            "infs",
            "",
            "   ",
            "30",
            "1.5",
            "s",
            "1e400s",
            "99999999999999999999999999999999999999999999d",
            "1000000000000d",
            "0.1ns",
            "1..5s",
            "1 h x",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
        let e = parse_duration("5 parsecs").unwrap_err();
        assert!(e.to_string().contains("unknown unit `parsecs`"), "{e}");
        assert!(e.to_string().contains("ms"), "{e}");
        let e = parse_duration("-1s").unwrap_err();
        assert!(e.to_string().contains("negative"), "{e}");
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("160B"), Ok(160));
        assert_eq!(parse_bytes("160"), Ok(160));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("2KB"), Ok(2000));
        assert_eq!(parse_bytes("2 KiB"), Ok(2048));
        assert_eq!(parse_bytes("1.5MB"), Ok(1_500_000));
        assert_eq!(parse_bytes("1MiB"), Ok(1 << 20));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("3GB"), Ok(3_000_000_000));
    }

    #[test]
    fn bad_bytes() {
        for bad in [
            "abc",
            "1.5",
            "-1B",
            "12 parsecs",
            "NaN",
            "1e30GB",
            "5Mb",
            "1/s",
            "",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn bandwidths() {
        assert_eq!(parse_bandwidth("5MB/s"), Ok(5e6));
        assert_eq!(parse_bandwidth("512KiB/s"), Ok(512.0 * 1024.0));
        assert_eq!(parse_bandwidth("10Mbit/s"), Ok(1.25e6));
        assert_eq!(parse_bandwidth("1 Gbit/s"), Ok(1.25e8));
        assert_eq!(parse_bandwidth("8bit/s"), Ok(1.0));
        assert_eq!(parse_bandwidth("100 kbit/s"), Ok(12_500.0));
    }

    #[test]
    fn bad_bandwidths() {
        for bad in [
            "5MB",
            "5",
            "abc",
            "-5MB/s",
            "5MB/h",
            "5parsecs/s",
            "NaN",
            "5 Mbps",
            "1e400B/s",
        ] {
            assert!(parse_bandwidth(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn rates() {
        let r = parse_rate("30/h/user").unwrap();
        assert!(r.per_user);
        assert!((r.per_second - 30.0 / 3600.0).abs() < 1e-15);
        let r = parse_rate("3/day/user").unwrap();
        assert!(r.per_user);
        assert!((r.per_second - 3.0 / 86_400.0).abs() < 1e-15);
        let r = parse_rate("4/h").unwrap();
        assert!(!r.per_user);
        assert!((r.per_second - 4.0 / 3600.0).abs() < 1e-15);
        let r = parse_rate("2 / min").unwrap();
        assert!((r.per_second - 2.0 / 60.0).abs() < 1e-15);
        assert_eq!(
            parse_rate("0.5/s"),
            Ok(Rate {
                per_second: 0.5,
                per_user: false
            })
        );
        assert_eq!(parse_rate("1/d").map(|r| r.per_second), Ok(1.0 / 86_400.0));
        assert_eq!(
            parse_rate("0"),
            Ok(Rate {
                per_second: 0.0,
                per_user: false
            })
        );
        assert_eq!(parse_rate("0/h/user").map(|r| r.per_second), Ok(0.0));
    }

    #[test]
    fn bad_rates() {
        for bad in [
            "abc",
            "30",
            "30/",
            "30/parsec",
            "30/h/users",
            "30/h/user/x",
            "-1/h",
            "NaN/h",
            "inf/h",
            "30h",
            "",
            "1e400/s",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad:?} should be rejected");
        }
        let e = parse_rate("-1/h").unwrap_err();
        assert!(e.to_string().contains("negative"), "{e}");
    }
}
