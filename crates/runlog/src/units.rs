//! Formatting of numbers for display: bytes in B, KiB, MiB, GiB and TiB, ε
//! with a precision that suits its magnitude, δ, percentages, durations and
//! UTC times.

/// Formats a byte count with a binary unit: `512 B`, `1.50 KiB`,
/// `6.10 MiB`, `1.20 GiB`.
pub fn bytes(value: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if value < 1024 {
        return format!("{value} B");
    }
    let mut scaled = value as f64 / 1024.0;
    let mut unit = 0;
    while scaled >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    format!("{} {}", three_digits(scaled), UNITS[unit])
}

/// Returns the unit that [`bytes`] would pick for `value`, with the unit's
/// size in bytes, so that a chart axis can use one unit for all its ticks.
pub fn byte_unit(value: f64) -> (&'static str, f64) {
    const UNITS: [(&str, f64); 5] = [
        ("B", 1.0),
        ("KiB", 1024.0),
        ("MiB", 1048576.0),
        ("GiB", 1073741824.0),
        ("TiB", 1099511627776.0),
    ];
    UNITS
        .iter()
        .rev()
        .find(|(_, size)| value.abs() >= *size)
        .copied()
        .unwrap_or(UNITS[0])
}

/// Formats a privacy loss ε with three significant digits below 10
/// (`0.0123`, `1.23`), one decimal below 100 (`12.3`) and none from 100 up.
/// Zero is `0`, infinity `∞` and NaN `NaN`.
pub fn epsilon(value: f64) -> String {
    if value.is_infinite() {
        return "∞".to_owned();
    }
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        let decimals = (2 - magnitude.log10().floor() as i32).max(2) as usize;
        format!("{value:.decimals$}")
    }
}

/// Formats δ in scientific notation: `1e-5`, `2.5e-6`.
pub fn delta(value: f64) -> String {
    let text = format!("{value:e}");
    text.replace("e-0", "e-")
}

/// Formats a fraction as a percentage with two decimals: `0.9565` ->
/// `95.65%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

/// Formats a duration in seconds: `850 ms`, `12.3 s`, `4 min 05 s`,
/// `1 h 02 min`.
pub fn seconds(value: f64) -> String {
    if value < 1.0 {
        return format!("{:.0} ms", value * 1000.0);
    }
    if value < 60.0 {
        return format!("{value:.1} s");
    }
    let whole = value.round() as u64;
    if whole < 3600 {
        return format!("{} min {:02} s", whole / 60, whole % 60);
    }
    format!("{} h {:02} min", whole / 3600, (whole % 3600) / 60)
}

/// Formats milliseconds since the Unix epoch as `2026-12-04 23:33:59 UTC`.
pub fn utc_time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

/// Converts a day count since 1970-01-01 to year, month and day (proleptic
/// Gregorian calendar, Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats `value` with two decimals below 10, one below 100 and none from
/// 100 up: `1.50`, `12.5`, `512`.
fn three_digits(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_switch_units_at_1024() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.00 KiB");
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(bytes(6_396_314), "6.10 MiB");
        assert_eq!(bytes(1024 * 1024 * 1024), "1.00 GiB");
        assert_eq!(bytes(150 * 1024 * 1024), "150 MiB");
        assert_eq!(bytes(u64::MAX), "16777216 TiB");
    }

    #[test]
    fn byte_unit_largest_not_above_value() {
        assert_eq!(byte_unit(0.0), ("B", 1.0));
        assert_eq!(byte_unit(1023.0), ("B", 1.0));
        assert_eq!(byte_unit(2048.0).0, "KiB");
        assert_eq!(byte_unit(5e6).0, "MiB");
    }

    #[test]
    fn epsilon_precision_follows_magnitude() {
        assert_eq!(epsilon(0.0), "0");
        assert_eq!(epsilon(0.012345), "0.0123");
        assert_eq!(epsilon(0.5), "0.500");
        assert_eq!(epsilon(1.23456), "1.23");
        assert_eq!(epsilon(8.0), "8.00");
        assert_eq!(epsilon(12.345), "12.3");
        assert_eq!(epsilon(1234.5), "1234");
        assert_eq!(epsilon(f64::INFINITY), "∞");
    }

    #[test]
    fn delta_and_percent() {
        assert_eq!(delta(1e-5), "1e-5");
        assert_eq!(delta(2.5e-6), "2.5e-6");
        assert_eq!(percent(0.9565), "95.65%");
        assert_eq!(percent(1.0), "100.00%");
    }

    #[test]
    fn durations() {
        assert_eq!(seconds(0.85), "850 ms");
        assert_eq!(seconds(12.34), "12.3 s");
        assert_eq!(seconds(245.0), "4 min 05 s");
        assert_eq!(seconds(3720.0), "1 h 02 min");
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
        // 2026-12-04 23:33:59 UTC.
        assert_eq!(utc_time(1_796_427_239_000), "2026-12-04 23:33:59 UTC");
        // A leap day.
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
