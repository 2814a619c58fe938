//! Numbers as a person reads them: latencies with the unit that suits their size.

/// A latency in milliseconds with a unit that keeps it short: `850 µs`, `36.4 ms`, `1.23 s`,
/// `12.5 min`, `5.5 h`; `–` for a value that is not a finite, non-negative number.
#[must_use]
pub fn latency(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "–".to_owned();
    }
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1000.0)
    } else if ms < 1000.0 {
        format!("{} ms", three_digits(ms))
    } else if ms < 60_000.0 {
        format!("{} s", three_digits(ms / 1000.0))
    } else if ms < 3_600_000.0 {
        format!("{} min", three_digits(ms / 60_000.0))
    } else {
        format!("{} h", three_digits(ms / 3_600_000.0))
    }
}

/// A byte count with a binary unit: `512 B`, `3.4 KiB`, `12 MiB`.
#[must_use]
pub fn bytes(n: f64) -> String {
    if !n.is_finite() || n < 0.0 {
        return "–".to_owned();
    }
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{} {}", three_digits(v), units[u])
    }
}

/// About three significant digits, without trailing zeros after the point: 1.23, 12.3, 123.
fn three_digits(v: f64) -> String {
    super::plots::number(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_take_the_unit_that_fits() {
        assert_eq!(latency(0.85), "850 µs");
        assert_eq!(latency(36.4), "36.4 ms");
        assert_eq!(latency(104.7), "105 ms");
        assert_eq!(latency(1234.0), "1.23 s");
        assert_eq!(latency(750_000.0), "12.5 min");
        assert_eq!(latency(19_713_228.8), "5.48 h");
        assert_eq!(latency(2.0), "2 ms");
        assert_eq!(latency(f64::NAN), "–");
    }

    #[test]
    fn bytes_take_binary_units() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(3481.6), "3.4 KiB");
        assert_eq!(bytes(12.0 * 1024.0 * 1024.0), "12 MiB");
    }
}
