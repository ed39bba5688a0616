//! The languages pages and mail speak: Fluent message catalogues, one directory per language
//! under `locales/` (`locales/en/*.ftl`, `locales/ur/*.ftl`), compiled into the binary and
//! loaded once. Adding a language is adding its directory: nothing here names one but the
//! fallback, English. Plural rules, number formatting and text direction come with the
//! language tag (Fluent and CLDR data), not from this code.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};
use unic_langid::CharacterDirection;

fluent_templates::static_loader! {
    static CATALOGUES = {
        locales: "./locales",
        fallback_language: "en",
        // Fluent wraps every argument in Unicode isolation marks (FSI … PDI) so a
        // left-to-right address or code keeps its order inside right-to-left text. Left to
        // right text needs no isolation, and plain arguments keep English text searchable.
        customise: |bundle| {
            let rtl = bundle
                .locales
                .first()
                .is_some_and(|tag| tag.character_direction() == CharacterDirection::RTL);
            bundle.set_use_isolating(rtl);
        },
    };
}

/// The language everything falls back to, and the default `default_locale`.
pub const FALLBACK: &str = "en";

/// One of the languages the catalogues hold; the handle pages and mail look their text up
/// with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Locale(&'static LanguageIdentifier);

impl Default for Locale {
    fn default() -> Self {
        Self(CATALOGUES.fallback())
    }
}

impl Locale {
    /// Every language the catalogues hold, ordered by tag.
    pub fn supported() -> Vec<Locale> {
        let mut all: Vec<Locale> = CATALOGUES.locales().map(Locale).collect();
        all.sort_by_key(|locale| locale.tag());
        all
    }

    /// The supported language a BCP 47 tag asks for: `ur-PK` and `ur-Arab` are `ur`. `None`
    /// for a malformed tag or a language without a catalogue.
    pub fn parse(tag: &str) -> Option<Locale> {
        let asked: LanguageIdentifier = tag.trim().parse().ok()?;
        CATALOGUES
            .locales()
            .find(|held| held.language == asked.language)
            .map(Locale)
    }

    /// The first supported language of a space-separated list, best first (OIDC `ui_locales`).
    pub fn first_of(tags: &str) -> Option<Locale> {
        tags.split_whitespace().find_map(Locale::parse)
    }

    /// The supported language an `Accept-Language` header prefers most (RFC 9110 §12.5.4):
    /// the highest `q` wins, the earlier of two equal ones; `q=0` means "not this one".
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut ranked: Vec<(u16, usize, Locale)> = header
            .split(',')
            .enumerate()
            .filter_map(|(position, item)| {
                let mut parts = item.split(';');
                let locale = Locale::parse(parts.next()?)?;
                let quality = parts
                    .find_map(|param| param.trim().strip_prefix("q="))
                    .map_or(Some(1000), parse_quality)?;
                (quality > 0).then_some((quality, position, locale))
            })
            .collect();
        ranked.sort_by_key(|&(quality, position, _)| (std::cmp::Reverse(quality), position));
        ranked.first().map(|&(_, _, locale)| locale)
    }

    /// The language tag, as `lang` attributes and the `locale` claim carry it.
    pub fn tag(self) -> String {
        self.0.to_string()
    }

    /// Whether the language is written right to left.
    pub fn is_rtl(self) -> bool {
        self.0.character_direction() == CharacterDirection::RTL
    }

    /// The `dir` attribute's value.
    pub fn dir(self) -> &'static str {
        if self.is_rtl() { "rtl" } else { "ltr" }
    }

    /// The text of message `id`.
    pub fn get(self, id: &str) -> String {
        CATALOGUES.lookup(self.0, id)
    }

    /// The text of message `id` with one text argument.
    pub fn with(self, id: &str, name: &'static str, value: &str) -> String {
        self.lookup(id, [(name, FluentValue::from(value.to_owned()))])
    }

    /// The text of message `id` with two text arguments.
    pub fn with_two(self, id: &str, first: (&'static str, &str), second: (&'static str, &str)) -> String {
        self.lookup(
            id,
            [
                (first.0, FluentValue::from(first.1.to_owned())),
                (second.0, FluentValue::from(second.1.to_owned())),
            ],
        )
    }

    /// The text of message `id` for a number `$count`, chosen by the language's plural rules.
    pub fn count(self, id: &str, count: i64) -> String {
        self.lookup(id, [("count", FluentValue::from(count))])
    }

    /// The text of message `id` with any number of text arguments.
    pub fn with_all(self, id: &str, args: &[(&'static str, &str)]) -> String {
        self.lookup_all(id, None, args)
    }

    /// The text of message `id` for a number `$count` (chosen by the language's plural rules),
    /// with text arguments: such as the number as people read it, its thousands grouped.
    pub fn count_with(self, id: &str, count: i64, args: &[(&'static str, &str)]) -> String {
        self.lookup_all(id, Some(count), args)
    }

    fn lookup_all(self, id: &str, count: Option<i64>, args: &[(&'static str, &str)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue<'static>> = args
            .iter()
            .map(|&(name, value)| (Cow::Borrowed(name), FluentValue::from(value.to_owned())))
            .chain(count.map(|count| (Cow::Borrowed("count"), FluentValue::from(count))))
            .collect();
        CATALOGUES.lookup_with_args(self.0, id, &args)
    }

    fn lookup<const N: usize>(self, id: &str, args: [(&'static str, FluentValue<'static>); N]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue<'static>> = args
            .into_iter()
            .map(|(name, value)| (Cow::Borrowed(name), value))
            .collect();
        CATALOGUES.lookup_with_args(self.0, id, &args)
    }

    /// Whether message `id` exists in this language's own catalogue (no fallback).
    pub fn has(self, id: &str) -> bool {
        CATALOGUES
            .lookup_single_language::<&str>(self.0, id, None)
            .is_ok()
    }
}

/// `q=0.8` as thousandths; `None` for a malformed weight.
fn parse_quality(text: &str) -> Option<u16> {
    let value: f32 = text.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locale(tag: &str) -> Option<String> {
        Locale::parse(tag).map(Locale::tag)
    }

    #[test]
    fn english_and_urdu_are_supported_and_urdu_is_written_right_to_left() {
        let tags: Vec<String> = Locale::supported().into_iter().map(Locale::tag).collect();
        assert!(
            tags.contains(&"en".to_owned()) && tags.contains(&"ur".to_owned()),
            "{tags:?}"
        );
        assert_eq!(Locale::parse("ur").map(Locale::dir), Some("rtl"));
        assert_eq!(Locale::parse("en").map(Locale::dir), Some("ltr"));
    }

    #[test]
    fn a_regional_or_scripted_tag_finds_its_language() {
        assert_eq!(locale("ur-PK").as_deref(), Some("ur"));
        assert_eq!(locale("en-GB").as_deref(), Some("en"));
        assert_eq!(locale("fr"), None);
        assert_eq!(locale("not a tag"), None);
    }

    #[test]
    fn ui_locales_take_the_first_supported_language() {
        assert_eq!(
            Locale::first_of("fr-CA ur en").map(Locale::tag).as_deref(),
            Some("ur")
        );
        assert_eq!(Locale::first_of("fr de"), None);
    }

    #[test]
    fn accept_language_takes_the_highest_weight_then_the_earliest() {
        let pick = |header: &str| Locale::from_accept_language(header).map(Locale::tag);
        assert_eq!(pick("en;q=0.5, ur-PK;q=0.9").as_deref(), Some("ur"));
        assert_eq!(pick("fr, ur, en").as_deref(), Some("ur"));
        assert_eq!(pick("ur;q=0, en;q=0.1").as_deref(), Some("en"));
        assert_eq!(pick("de, *;q=0.5"), None);
        assert_eq!(pick("ur;q=bogus, en").as_deref(), Some("en"));
    }

    #[test]
    fn counts_follow_each_languages_plural_rules() -> Result<(), String> {
        let en = Locale::default();
        assert_eq!(en.count("recovery-codes-left", 1), "1 unused recovery code left.");
        assert_eq!(
            en.count("recovery-codes-left", 3),
            "3 unused recovery codes left."
        );
        let ur = Locale::parse("ur").ok_or("no ur")?;
        assert!(ur.count("recovery-codes-left", 1).starts_with("ایک "));
        assert!(ur.count("recovery-codes-left", 3).contains("\u{2068}3\u{2069}"));
        Ok(())
    }

    #[test]
    fn a_count_chooses_the_plural_while_its_text_argument_shows_the_number() {
        let en = Locale::default();
        let lead = |count, shown| {
            en.count_with(
                "dash-overview-lead",
                count,
                &[("shown", shown), ("date", "today")],
            )
        };
        assert_eq!(lead(1, "1"), "1 person, as of today.");
        assert_eq!(lead(12_345, "12,345"), "12,345 people, as of today.");
    }

    #[test]
    fn arguments_are_isolated_only_in_right_to_left_text() -> Result<(), String> {
        let en = Locale::default();
        let ur = Locale::parse("ur").ok_or("no ur")?;
        assert_eq!(
            en.with("signed-in-as", "email", "a@example.com"),
            "Signed in as a@example.com"
        );
        assert!(
            ur.with("signed-in-as", "email", "a@example.com")
                .contains("\u{2068}a@example.com\u{2069}")
        );
        Ok(())
    }
}
