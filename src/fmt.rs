//! How numbers, sizes, times and durations are written, for the views and the headless commands
//! alike (and how a time the user types is read).

/// A duration as `1h02m`, `3m07s` or `4.2s`.
pub fn duration(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}.{}s", s, (ms % 1000) / 100)
    }
}

/// A size in bytes with a binary unit: `1.5 KiB`, `3.20 GiB`.
pub fn bytes(n: u64) -> String {
    humansize::format_size(n, humansize::BINARY)
}

/// A count with thousands separated: `1,000,000`.
pub fn count(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::with_capacity(d.len() + d.len() / 3);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A measured value, short, with an SI suffix: `1.23G`, `4.5k`, `120`, `0.42` (metrics).
pub fn si(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A value of a field or series, for axes and colour bars: two decimals, or scientific notation
/// when very large or very small (`1.25e5`, `3.00e-4`).
pub fn sci(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-2) {
        format!("{v:.2e}")
    } else {
        format!("{v:.2}")
    }
}

/// An id (a run's) short enough for a legend: its last 11 characters after `…` when longer than
/// 12, sanitised.
pub fn short_id(r: &str) -> String {
    let r = crate::observe::sanitize(r);
    let n = r.chars().count();
    if n > 12 {
        std::iter::once('…').chain(r.chars().skip(n - 11)).collect()
    } else {
        r.into_owned()
    }
}

/// The last `width` values as block characters, scaled between their min and max.
pub fn sparkline(vals: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let v = &vals[vals.len().saturating_sub(width)..];
    let (lo, hi) = v
        .iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    v.iter()
        .map(|x| {
            if !x.is_finite() {
                ' '
            } else if hi > lo {
                BARS[(((x - lo) / (hi - lo)) * 7.0).round() as usize]
            } else {
                BARS[3]
            }
        })
        .collect()
}

/// A time of day with milliseconds, `12:03:59.125`, from ms since the epoch (UTC).
pub fn stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| "--:--:--.---".into())
}

/// A time given as `10m`, `2h`, `90s`, `1d` (that long before `now_ms`), epoch milliseconds, or
/// RFC 3339; in ms since the epoch.
pub fn parse_when(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    let bad = || {
        format!("`{s}`: expected 30s, 10m, 2h, 1d (ago), epoch milliseconds or a time like 2026-11-26T05:00:00Z")
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if s.len() >= 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| bad());
    }
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    Ok(now_ms - n * ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(chrono::Duration::milliseconds(4200)), "4.2s");
        assert_eq!(duration(chrono::Duration::seconds(187)), "3m07s");
        assert_eq!(duration(chrono::Duration::seconds(3720)), "1h02m");
    }

    #[test]
    fn counts() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_000_000), "1,000,000");
    }

    #[test]
    fn numbers_for_metrics_and_for_axes() {
        assert_eq!(si(1.5e9), "1.50G");
        assert_eq!(si(12_345.0), "12.3k");
        assert_eq!(si(0.0), "0");
        assert_eq!(si(4.567), "4.57");
        assert_eq!(sci(123_456.0), "1.23e5");
        assert_eq!(sci(0.001), "1.00e-3");
        assert_eq!(sci(42.0), "42.00");
    }

    #[test]
    fn times_parse() {
        let now = 10_000_000_000;
        assert_eq!(parse_when("10m", now), Ok(now - 600_000));
        assert_eq!(parse_when("2h", now), Ok(now - 7_200_000));
        assert_eq!(parse_when("1700000000000", now), Ok(1_700_000_000_000));
        assert_eq!(
            parse_when("2026-11-26T05:00:00Z", now),
            Ok(1_795_669_200_000)
        );
        assert!(parse_when("soon", now).unwrap_err().contains("`soon`"));
        assert!(parse_when("5y", now).is_err());
    }

    #[test]
    fn sparkline_scales() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0], 10), "▁▅█");
        assert_eq!(sparkline(&[5.0, 5.0], 10), "▄▄");
        assert_eq!(sparkline(&[f64::NAN, 1.0, 2.0], 2), "▁█");
    }
}
