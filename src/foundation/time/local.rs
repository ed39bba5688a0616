//! Instants as a person reads them: in their language, with CLDR's words and patterns
//! (ICU4X, compiled in), and in their time zone, with the tz database's rules (jiff: the
//! system's `/usr/share/zoneinfo`, or a bundled copy on a machine without one).

use std::sync::LazyLock;

use icu_calendar::Gregorian;
use icu_datetime::FixedCalendarDateTimeFormatter;
use icu_datetime::fieldsets::YMD;
use icu_datetime::fieldsets::zone::SpecificShort;
use icu_datetime::input::{Date, Time, UtcOffset, ZonedDateTime};
use icu_time::zone::ZoneNameTimestamp;
use icu_time::zone::iana::IanaParserExtended;

use crate::foundation::i18n::Locale;

/// The longest zone name taken: the longest in the tz database has 30 characters.
const MAX_NAME_LEN: usize = 64;

/// A time zone of the tz database, under its canonical IANA name (`Asia/Karachi`).
#[derive(Clone, Debug)]
pub(crate) struct TimeZone {
    name: String,
    rules: jiff::tz::TimeZone,
    /// The zone as CLDR names it, for its localised name.
    cldr: icu_time::TimeZone,
}

impl TimeZone {
    /// Coordinated Universal Time, for whoever has no zone yet.
    pub(crate) fn utc() -> Self {
        Self {
            name: "Etc/UTC".to_owned(),
            rules: jiff::tz::TimeZone::UTC,
            cldr: IanaParserExtended::new().parse("Etc/UTC").time_zone,
        }
    }

    /// The zone `name` names, under its canonical name: `Asia/Calcutta` (which browsers
    /// still report) is `Asia/Kolkata`, `asia/karachi` is `Asia/Karachi`. `None` unless both
    /// CLDR and the tz database know it: a file of the database that is no zone
    /// (`posixrules`, `localtime`) is refused like any unknown name.
    pub(crate) fn named(name: &str) -> Option<Self> {
        if name.len() > MAX_NAME_LEN {
            return None;
        }
        let known = IanaParserExtended::new().parse(name);
        if known.time_zone == icu_time::TimeZone::UNKNOWN {
            return None;
        }
        let rules = jiff::tz::db().get(known.canonical).ok()?;
        Some(Self {
            name: known.canonical.to_owned(),
            rules,
            cldr: known.time_zone,
        })
    }

    /// The canonical IANA name, as the account saves it.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl PartialEq for TimeZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for TimeZone {}

/// The zones a person chooses from, by canonical name in alphabetical order: every zone of a
/// place (`Africa/…` to `Pacific/…`) and UTC, without the aliases and the fixed offsets
/// (`Etc/GMT+5`) the tz database also holds. Listed once, on first use.
pub(crate) fn choices() -> &'static [TimeZone] {
    static CHOICES: LazyLock<Vec<TimeZone>> = LazyLock::new(|| {
        let mut names: Vec<&'static str> = IanaParserExtended::new()
            .iter()
            .map(|zone| zone.canonical)
            .filter(|name| name.contains('/') && (!name.starts_with("Etc/") || *name == "Etc/UTC"))
            .collect();
        names.sort_unstable();
        names.into_iter().filter_map(TimeZone::named).collect()
    });
    &CHOICES
}

/// How one person reads instants: in their language and their time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dates {
    pub locale: Locale,
    pub zone: TimeZone,
}

impl Dates {
    /// `unix` as [`format_local`] shows it to this person.
    pub(crate) fn show(&self, unix: i64) -> String {
        format_local(unix, self.locale, &self.zone)
    }
}

/// Unix seconds as a date and time of medium length with the zone, in `locale` and `zone`:
/// "Nov 24, 2026, 11:40 PM GMT+5" in English, "24 نومبر، 2026، 11:40 PM GMT +5" in Urdu.
/// The zone is shown by its short name where the language has one everyone knows (EST in
/// English), else as an offset from GMT. An instant no calendar can hold (beyond the year
/// 9999) is shown as UTC.
pub(crate) fn format_local(unix: i64, locale: Locale, zone: &TimeZone) -> String {
    localised(unix, locale, zone).unwrap_or_else(|| super::format_utc(unix))
}

fn localised(unix: i64, locale: Locale, zone: &TimeZone) -> Option<String> {
    let instant = jiff::Timestamp::from_second(unix).ok()?;
    let offset = zone.rules.to_offset(instant);
    let local = offset.to_datetime(instant);
    let date = Date::try_new_gregorian(
        i32::from(local.year()),
        u8::try_from(local.month()).ok()?,
        u8::try_from(local.day()).ok()?,
    )
    .ok()?;
    let time = Time::try_new(
        u8::try_from(local.hour()).ok()?,
        u8::try_from(local.minute()).ok()?,
        u8::try_from(local.second()).ok()?,
        0,
    )
    .ok()?;
    let zone = zone
        .cldr
        .with_offset(UtcOffset::try_from_seconds(offset.seconds()).ok())
        .with_zone_name_timestamp(ZoneNameTimestamp::from_epoch_seconds(unix));
    let language = icu_locale_core::Locale::try_from_str(&locale.tag()).ok()?;
    let formatter = FixedCalendarDateTimeFormatter::<Gregorian, _>::try_new(
        language.into(),
        YMD::medium().with_time_hm().with_zone(SpecificShort),
    )
    .ok()?;
    Some(formatter.format(&ZonedDateTime { date, time, zone }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 24 Nov 2026, 18:40 UTC.
    const WINTER: i64 = 1_795_545_600;
    /// 1 Jul 2026, 12:00 UTC.
    const SUMMER: i64 = 1_782_907_200;

    fn zone(name: &str) -> Result<TimeZone, String> {
        TimeZone::named(name).ok_or_else(|| format!("{name} is unknown"))
    }

    fn english() -> Locale {
        Locale::default()
    }

    fn urdu() -> Result<Locale, String> {
        Locale::parse("ur").ok_or_else(|| "no Urdu".to_owned())
    }

    #[test]
    fn english_shows_the_zones_date_and_time_with_its_offset() -> Result<(), String> {
        assert_eq!(
            format_local(WINTER, english(), &zone("Asia/Karachi")?),
            "Nov 24, 2026, 11:40\u{202f}PM GMT+5"
        );
        assert_eq!(
            format_local(WINTER, english(), &TimeZone::utc()),
            "Nov 24, 2026, 6:40\u{202f}PM UTC"
        );
        Ok(())
    }

    #[test]
    fn a_half_hour_offset_moves_the_date_past_midnight() -> Result<(), String> {
        assert_eq!(
            format_local(WINTER, english(), &zone("Asia/Kolkata")?),
            "Nov 25, 2026, 12:10\u{202f}AM GMT+5:30"
        );
        Ok(())
    }

    #[test]
    fn summer_time_changes_the_offset_and_the_name() -> Result<(), String> {
        let new_york = zone("America/New_York")?;
        assert_eq!(
            format_local(WINTER, english(), &new_york),
            "Nov 24, 2026, 1:40\u{202f}PM EST"
        );
        assert_eq!(
            format_local(SUMMER, english(), &new_york),
            "Jul 1, 2026, 8:00\u{202f}AM EDT"
        );
        // English (`en`, American) has no short names for British time: offsets show the change.
        let london = zone("Europe/London")?;
        assert_eq!(
            format_local(WINTER, english(), &london),
            "Nov 24, 2026, 6:40\u{202f}PM GMT+0"
        );
        assert_eq!(
            format_local(SUMMER, english(), &london),
            "Jul 1, 2026, 1:00\u{202f}PM GMT+1"
        );
        Ok(())
    }

    #[test]
    fn urdu_names_the_month_in_urdu() -> Result<(), String> {
        let shown = format_local(WINTER, urdu()?, &zone("Asia/Karachi")?);
        assert!(shown.contains("نومبر"), "{shown}");
        assert!(shown.contains("2026"), "{shown}");
        assert!(shown.contains("11:40"), "{shown}");
        assert!(!shown.contains("Nov"), "{shown}");
        Ok(())
    }

    #[test]
    fn aliases_and_other_spellings_read_as_the_canonical_name() -> Result<(), String> {
        assert_eq!(zone("Asia/Calcutta")?.name(), "Asia/Kolkata");
        assert_eq!(zone("asia/karachi")?.name(), "Asia/Karachi");
        assert_eq!(zone("UTC")?, TimeZone::utc());
        Ok(())
    }

    #[test]
    fn names_outside_the_tz_database_are_refused() {
        for name in [
            "",
            "Mars/Olympus_Mons",
            "posixrules",
            "localtime",
            "../../etc/passwd",
            "+05:00",
        ] {
            assert!(TimeZone::named(name).is_none(), "{name}");
        }
        assert!(TimeZone::named(&"Asia/".repeat(100)).is_none());
    }

    #[test]
    fn the_choices_are_places_without_aliases() {
        let names: Vec<String> = choices().iter().map(|zone| zone.name().to_owned()).collect();
        for expected in ["Asia/Karachi", "Asia/Kolkata", "Europe/London", "Etc/UTC"] {
            assert!(names.iter().any(|name| name == expected), "{expected} missing");
        }
        for alias in ["Asia/Calcutta", "US/Eastern", "Etc/GMT+5"] {
            assert!(!names.iter().any(|name| name == alias), "{alias} listed");
        }
        assert!(names.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn an_instant_beyond_any_calendar_is_shown_in_utc() {
        assert_eq!(
            format_local(i64::MAX, english(), &TimeZone::utc()),
            crate::foundation::time::format_utc(i64::MAX)
        );
    }
}
