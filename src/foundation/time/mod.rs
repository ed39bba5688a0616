//! One place for calendar arithmetic, RFC 3339 and the display of instants. Instants are
//! Unix seconds everywhere else.

pub(crate) mod local;
pub(crate) mod rfc3339;

pub(crate) use local::{Dates, TimeZone};

/// Unix seconds as "24 Nov 2026, 18:40 UTC", in English: for administrators and logs, who
/// compare instants across people and zones. Pages and mail for a person use
/// [`local::format_local`].
pub(crate) fn format_utc(unix: i64) -> String {
    match jiff::Timestamp::from_second(unix) {
        Ok(instant) => instant.strftime("%-d %b %Y, %H:%M UTC").to_string(),
        Err(_) => format!("{unix} seconds after 1970 (UTC)"),
    }
}

/// The day of the month and the English month abbreviation of the UTC day holding `unix`
/// (the dashboard's chart labels: "24", "Nov").
pub(crate) fn day_and_month_utc(unix: i64) -> (i64, String) {
    match jiff::Timestamp::from_second(unix) {
        Ok(instant) => (
            i64::from(jiff::tz::Offset::UTC.to_datetime(instant).day()),
            instant.strftime("%b").to_string(),
        ),
        Err(_) => (0, String::new()),
    }
}

/// Days since 1970-01-01 to the proleptic Gregorian (year, month 1–12, day): Howard
/// Hinnant's `civil_from_days`. Months are counted from March inside, so the leap day falls
/// at the end of the year.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(format_utc(1_795_545_600), "24 Nov 2026, 18:40 UTC");
        assert_eq!(format_utc(0), "1 Jan 1970, 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "29 Feb 2000, 00:00 UTC");
        assert_eq!(format_utc(-1), "31 Dec 1969, 23:59 UTC");
    }

    #[test]
    fn chart_days_read_as_utc_day_and_month() {
        assert_eq!(day_and_month_utc(1_795_545_600), (24, "Nov".to_owned()));
        assert_eq!(day_and_month_utc(951_782_400 + 86_399), (29, "Feb".to_owned()));
    }
}
