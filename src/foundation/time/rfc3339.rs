//! RFC 3339 timestamps (`2026-07-01T20:00:00Z`, `2026-07-01T22:00:00.5+02:00`) to and from the
//! Unix seconds the service functions and the database use.
//!
//! Written out instead of taking a date crate: the API needs exactly this one format, in UTC
//! out and with any offset in, at whole seconds.

use super::civil_from_days;

/// Unix seconds of an RFC 3339 `date-time`; `None` when `text` is not one. Fractions of a
/// second are dropped: every time Usher keeps is in whole seconds.
pub(crate) fn parse(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    // The fixed part: `YYYY-MM-DDTHH:MM:SS`.
    let fixed = bytes.get(..19)?;
    let punctuation = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if punctuation
        .iter()
        .any(|&(index, expected)| fixed.get(index) != Some(&expected))
        || !matches!(fixed.get(10), Some(b'T' | b't'))
    {
        return None;
    }
    let year = digits(fixed, 0, 4)?;
    let month = digits(fixed, 5, 2)?;
    let day = digits(fixed, 8, 2)?;
    let hour = digits(fixed, 11, 2)?;
    let minute = digits(fixed, 14, 2)?;
    // 60 is a leap second; it lands on the first second of the next minute.
    let second = digits(fixed, 17, 2)?;
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = bytes.get(19..)?;
    if let Some((b'.', fraction)) = rest.split_first() {
        let count = fraction.iter().take_while(|byte| byte.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        rest = fraction.get(count..)?;
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let hours = digits(rest, 1, 2)?;
            let minutes = digits(rest, 4, 2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// `seconds` as an RFC 3339 timestamp in UTC, e.g. `2026-07-01T20:00:00Z`.
pub(crate) fn format(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The number written in `count` ASCII digits at `start`.
fn digits(bytes: &[u8], start: usize, count: usize) -> Option<i64> {
    bytes
        .get(start..start + count)?
        .iter()
        .try_fold(0_i64, |value, byte| {
            byte.is_ascii_digit().then(|| value * 10 + i64::from(byte - b'0'))
        })
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`):
/// years are counted from March so the leap day ends them, in 400-year eras of 146 097 days.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps_read_as_unix_seconds() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse("2001-09-09T01:46:40Z"), Some(1_000_000_000));
        assert_eq!(parse("2030-03-17T17:46:40Z"), Some(1_900_000_000));
        assert_eq!(parse("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(parse("2024-02-29t12:00:00z"), Some(1_709_208_000));
    }

    #[test]
    fn offsets_are_taken_off_and_fractions_dropped() {
        assert_eq!(parse("2001-09-09T03:46:40+02:00"), Some(1_000_000_000));
        assert_eq!(parse("2001-09-08T20:16:40-05:30"), Some(1_000_000_000));
        assert_eq!(parse("2001-09-09T01:46:40.999Z"), Some(1_000_000_000));
        assert_eq!(parse("2001-09-09T01:46:40.1+00:00"), Some(1_000_000_000));
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "",
            "2001-09-09",
            "2001-09-09T01:46:40",
            "2001-09-09 01:46:40Z",
            "2001-9-09T01:46:40Z",
            "2001-13-01T00:00:00Z",
            "2001-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2001-04-31T00:00:00Z",
            "2001-09-09T24:00:00Z",
            "2001-09-09T01:60:00Z",
            "2001-09-09T01:46:61Z",
            "2001-09-09T01:46:40.Z",
            "2001-09-09T01:46:40+0200",
            "2001-09-09T01:46:40+24:00",
            "2001-09-09T01:46:40Zjunk",
            "+001-09-09T01:46:40Z",
            "1000000000",
            "２００１-09-09T01:46:40Z",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn a_leap_day_of_a_400th_year_exists() {
        assert_eq!(parse("2000-02-29T00:00:00Z"), Some(951_782_400));
    }

    #[test]
    fn formatting_is_utc_and_reads_back() {
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(1_900_000_000), "2030-03-17T17:46:40Z");
        assert_eq!(format(-1), "1969-12-31T23:59:59Z");
        for seconds in [
            -62_135_596_800, // 0001-01-01
            -1,
            0,
            951_782_400,
            1_709_208_000,
            4_102_444_800,   // 2100-01-01
            253_402_300_799, // 9999-12-31T23:59:59Z
        ] {
            assert_eq!(parse(&format(seconds)), Some(seconds), "{seconds}");
        }
    }

    #[test]
    fn every_day_of_four_centuries_reads_back() {
        let start = days_from_civil(1900, 1, 1);
        for days in start..start + 146_097 {
            let (year, month, day) = civil_from_days(days);
            assert!((1..=days_in_month(year, month)).contains(&day));
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }
}
