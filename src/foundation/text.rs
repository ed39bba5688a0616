//! Names people type that others read: the dashboard, the audit log, consent pages and
//! mail show them as they are, so a name must not be able to change how it, or the text
//! around it, is displayed.

use std::ops::RangeInclusive;

/// Every Unicode format character (general category Cf, Unicode 16). They are invisible,
/// yet U+202E turns the text after it right to left (an app called U+202E "moc.knab" reads
/// "bank.com"), U+200B hides a break and the tags at U+E0020 hide whole words.
const FORMAT_CHARACTERS: [RangeInclusive<char>; 21] = [
    '\u{00AD}'..='\u{00AD}',
    '\u{0600}'..='\u{0605}',
    '\u{061C}'..='\u{061C}',
    '\u{06DD}'..='\u{06DD}',
    '\u{070F}'..='\u{070F}',
    '\u{0890}'..='\u{0891}',
    '\u{08E2}'..='\u{08E2}',
    '\u{180E}'..='\u{180E}',
    '\u{200B}'..='\u{200F}',
    '\u{202A}'..='\u{202E}',
    '\u{2060}'..='\u{2064}',
    '\u{2066}'..='\u{206F}',
    '\u{FEFF}'..='\u{FEFF}',
    '\u{FFF9}'..='\u{FFFB}',
    '\u{110BD}'..='\u{110BD}',
    '\u{110CD}'..='\u{110CD}',
    '\u{13430}'..='\u{1343F}',
    '\u{1BCA0}'..='\u{1BCA3}',
    '\u{1D173}'..='\u{1D17A}',
    '\u{E0001}'..='\u{E0001}',
    '\u{E0020}'..='\u{E007F}',
];

/// Why a name was refused, as each boundary words after the field's name.
pub(crate) const HIDDEN_CHARACTERS: &str =
    "must not contain control characters or invisible formatting characters (such as U+202E)";

/// Whether `character` is a Unicode format character (general category Cf).
pub(crate) fn is_format(character: char) -> bool {
    FORMAT_CHARACTERS.iter().any(|range| range.contains(&character))
}

/// Whether `name` shows exactly what it says: no control characters (general category Cc)
/// and no format characters (Cf).
pub(crate) fn is_plain_name(name: &str) -> bool {
    !name
        .chars()
        .any(|character| character.is_control() || is_format(character))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_character_is_refused_in_a_name() {
        for character in FORMAT_CHARACTERS.iter().flat_map(|range| range.clone()) {
            assert!(
                !is_plain_name(&format!("Gold{character}")),
                "U+{:04X}",
                u32::from(character)
            );
        }
    }

    #[test]
    fn bidi_overrides_and_isolates_are_refused() {
        for name in ["\u{202E}moc.knab", "Gold\u{2066}", "Gold\u{200F}", "\u{FEFF}Gold"] {
            assert!(!is_plain_name(name), "{name:?}");
        }
    }

    #[test]
    fn control_characters_are_refused() {
        for name in ["Gold\n", "Gold\u{0}", "Gold\u{7}", "Gold\u{1B}[31m", "Gold\u{85}"] {
            assert!(!is_plain_name(name), "{name:?}");
        }
    }

    #[test]
    fn names_in_any_script_are_plain() {
        for name in [
            "Ada Lovelace",
            "Gold – 4K",
            "Zoë Ørsted",
            "محمد",
            "עברית",
            "李小龙",
            "🎬 Premium",
        ] {
            assert!(is_plain_name(name), "{name:?}");
        }
    }

    #[test]
    fn neighbours_of_the_format_ranges_are_plain() {
        for character in [
            '\u{00AC}',
            '\u{00AE}',
            '\u{2065}',
            '\u{2070}',
            '\u{E0000}',
            '\u{E0080}',
        ] {
            assert!(!is_format(character), "U+{:04X}", u32::from(character));
        }
    }
}
