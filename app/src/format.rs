//! Numbers and dates formatted for people.

use chrono::{DateTime, Utc};

/// `25 Nov 2026, 13:40 UTC`.
/// Percent-encodes a query-string value (names are plain already; hand-typed
/// addresses need not be).
pub fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A count with thousands separated: `12,345`.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A size for people: `950 bytes`, `1.2 MB` (powers of 1000).
pub fn bytes(size: i64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if size < 1000 {
        return format!("{size} bytes");
    }
    let mut value = size as f64;
    let mut unit = "bytes";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

pub fn datetime(at: &DateTime<Utc>) -> String {
    at.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// `4 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`.
pub fn duration_secs(total: i64) -> String {
    let total = total.max(0);
    let (d, h, m, s) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// `340 ms`, `2.4 s`, then as [`duration_secs`]: steps of pipelines often take less
/// than a second, and "0 s" would say nothing.
pub fn duration_ms(total: i64) -> String {
    let total = total.max(0);
    match total {
        0..1_000 => format!("{total} ms"),
        1_000..10_000 => format!("{:.1} s", total as f64 / 1000.0),
        _ => duration_secs(total / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn counts_have_thousands_separated() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn dates_read_like_a_person_writes_them() {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 5, 9, 7, 0)
            .single()
            .expect("valid");
        assert_eq!(datetime(&at), "5 Nov 2026, 09:07 UTC");
    }

    #[test]
    fn durations_pick_the_two_largest_units() {
        assert_eq!(duration_secs(0), "0 s");
        assert_eq!(duration_secs(59), "59 s");
        assert_eq!(duration_secs(200), "3 min 20 s");
        assert_eq!(duration_secs(7500), "2 h 5 min");
        assert_eq!(duration_secs(3 * 86_400 + 4 * 3600 + 5), "3 d 4 h");
        assert_eq!(duration_secs(-5), "0 s");
    }

    #[test]
    fn short_durations_keep_their_fraction() {
        assert_eq!(duration_ms(0), "0 ms");
        assert_eq!(duration_ms(340), "340 ms");
        assert_eq!(duration_ms(2_449), "2.4 s");
        assert_eq!(duration_ms(61_000), "1 min 1 s");
        assert_eq!(duration_ms(-3), "0 ms");
    }
}
