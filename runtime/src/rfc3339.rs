//! RFC 3339 timestamps in UTC with nanoseconds, as runc writes `created` in the state JSON
//! and `time` in its JSON log lines (Go's `time.RFC3339Nano`, trailing zeros dropped).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as `2026-12-03T07:14:31.1366983Z`.
pub fn now() -> String {
    format(SystemTime::now())
}

pub fn format(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let nanos = since.subsec_nanos();
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    );
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// Howard Hinnant's days-to-civil: the proleptic Gregorian date of a day count since
/// 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // `date -u -d @951782400.5` → 2000-02-29 (a leap day of a century leap year).
        let leap = UNIX_EPOCH + Duration::new(951_782_400, 500_000_000);
        assert_eq!(format(leap), "2000-02-29T00:00:00.5Z");
        // `date -u -d @1796282071.136698330`
        let later = UNIX_EPOCH + Duration::new(1_796_282_071, 136_698_330);
        assert_eq!(format(later), "2026-12-03T07:14:31.13669833Z");
        let end_of_year = UNIX_EPOCH + Duration::from_secs(1_703_980_799);
        assert_eq!(format(end_of_year), "2023-12-30T23:59:59Z");
    }
}
