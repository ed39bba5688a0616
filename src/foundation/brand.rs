//! The platform's brand on pages and mail: its name, logo, accent colour and support address,
//! read from the configuration and checked once at start. A colour that would leave text on
//! buttons unreadable is refused there rather than shipped: WCAG 2.2 AA asks 4.5:1 for text.

use std::path::Path;

use crate::foundation::config::Config;
use crate::foundation::crypto::hashing::sha256_hex;

/// WCAG 2.2 AA contrast for normal text (success criterion 1.4.3).
pub const MIN_TEXT_CONTRAST: f64 = 4.5;
/// The largest logo accepted: it is sent with the login page, whose budget is 30 KB.
pub const MAX_LOGO_BYTES: usize = 10 * 1024;

/// The light page's colours the accent must stand out from: the cards and the page around them.
const LIGHT_SURFACES: [Rgb; 2] = [Rgb(0xff, 0xff, 0xff), Rgb(0xf4, 0xf4, 0xf8)];
/// The dark page's card and page colours.
const DARK_SURFACES: [Rgb; 2] = [Rgb(0x1d, 0x1d, 0x2b), Rgb(0x12, 0x12, 0x1c)];
/// Text on a light accent button.
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Brand {
    pub name: String,
    /// Where people get help, linked at the foot of pages and mail.
    pub support_url: Option<String>,
    /// The accent colours when `brand_color` is set; the built-in ones otherwise.
    pub palette: Option<Palette>,
    pub logo: Option<Logo>,
}

/// The accent for light pages (the configured colour, under white text) and the lighter tint of
/// it dark pages use (under dark text), both `#rrggbb`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Palette {
    pub light: String,
    pub dark: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logo {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    /// Changes whenever the file does: part of the logo's address, so it may be cached for good.
    pub version: String,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum BrandError {
    #[error("brand_name must not be empty")]
    EmptyName,
    #[error("brand_color {0:?} must be #rrggbb")]
    ColorSyntax(String),
    #[error(
        "brand_color {color} fails WCAG AA on buttons: white text on it has a contrast of \
         {contrast:.1}:1, at least 4.5:1 is needed; choose a darker colour"
    )]
    ColorContrast { color: String, contrast: f64 },
    #[error("brand_logo {path}: {cause}")]
    Logo { path: String, cause: String },
    #[error("brand_support_url {0:?} must be an https, http or mailto URL")]
    SupportUrl(String),
}

impl Brand {
    /// The brand the configuration describes; reads the logo file.
    pub fn from_config(config: &Config) -> Result<Self, BrandError> {
        let name = config.brand_name.trim();
        if name.is_empty() {
            return Err(BrandError::EmptyName);
        }
        let palette = config
            .brand_color
            .as_deref()
            .map(Palette::for_color)
            .transpose()?;
        let support_url = config.brand_support_url.as_deref().map(support_url).transpose()?;
        let logo = config.brand_logo.as_deref().map(Logo::read).transpose()?;
        Ok(Self {
            name: name.to_owned(),
            support_url,
            palette,
            logo,
        })
    }
}

impl Default for Brand {
    fn default() -> Self {
        Self {
            name: Config::default().brand_name,
            support_url: None,
            palette: None,
            logo: None,
        }
    }
}

impl Palette {
    /// The palette of an accent colour, refused when white text on it fails WCAG AA. Links and
    /// outlined buttons draw it on the light cards, which the same contrast covers.
    pub fn for_color(color: &str) -> Result<Self, BrandError> {
        let accent = Rgb::parse(color).ok_or_else(|| BrandError::ColorSyntax(color.to_owned()))?;
        let weakest = LIGHT_SURFACES
            .iter()
            .map(|surface| accent.contrast(*surface))
            .fold(f64::INFINITY, f64::min);
        if weakest < MIN_TEXT_CONTRAST {
            return Err(BrandError::ColorContrast {
                color: color.to_owned(),
                contrast: accent.contrast(WHITE),
            });
        }
        Ok(Self {
            light: accent.hex(),
            dark: accent.dark_tint().hex(),
        })
    }
}

impl Logo {
    fn read(path: &Path) -> Result<Self, BrandError> {
        let refuse = |cause: String| BrandError::Logo {
            path: path.display().to_string(),
            cause,
        };
        let bytes = std::fs::read(path).map_err(|error| refuse(error.to_string()))?;
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(refuse(format!(
                "{} bytes; at most {MAX_LOGO_BYTES} (it is sent with the login page)",
                bytes.len()
            )));
        }
        let content_type = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            "image/png"
        } else if is_svg(&bytes) {
            "image/svg+xml"
        } else {
            return Err(refuse("not an SVG or PNG image".to_owned()));
        };
        let version = sha256_hex(&bytes)[..16].to_owned();
        Ok(Self {
            bytes,
            content_type,
            version,
        })
    }

    /// The file extension of its type, for its address.
    pub fn extension(&self) -> &'static str {
        if self.content_type == "image/png" {
            "png"
        } else {
            "svg"
        }
    }
}

fn is_svg(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| text.contains("<svg"))
}

fn support_url(text: &str) -> Result<String, BrandError> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "https" | "http" | "mailto") => Ok(text.to_owned()),
        _ => Err(BrandError::SupportUrl(text.to_owned())),
    }
}

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rgb(u8, u8, u8);

impl Rgb {
    fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix('#')?;
        if hex.len() != 6 || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |at: usize| u8::from_str_radix(&hex[at..at + 2], 16).ok();
        Some(Self(channel(0)?, channel(2)?, channel(4)?))
    }

    fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Relative luminance (WCAG 2.2, "relative luminance").
    fn luminance(self) -> f64 {
        let linear = |channel: u8| {
            let value = f64::from(channel) / 255.0;
            if value <= 0.04045 {
                value / 12.92
            } else {
                ((value + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(self.0) + 0.7152 * linear(self.1) + 0.0722 * linear(self.2)
    }

    /// Contrast ratio (WCAG 2.2, "contrast ratio"), from 1 to 21.
    fn contrast(self, other: Rgb) -> f64 {
        let (lighter, darker) = {
            let (a, b) = (self.luminance(), other.luminance());
            if a > b { (a, b) } else { (b, a) }
        };
        (lighter + 0.05) / (darker + 0.05)
    }

    /// The colour mixed with white just far enough to read on the dark page: an accent dark
    /// enough for white text would vanish there. White itself always reads.
    fn dark_tint(self) -> Rgb {
        (0..=20)
            .map(|step| self.mix_with_white(f64::from(step) / 20.0))
            .find(|tint| {
                DARK_SURFACES
                    .iter()
                    .all(|surface| tint.contrast(*surface) >= MIN_TEXT_CONTRAST)
            })
            .unwrap_or(WHITE)
    }

    fn mix_with_white(self, share: f64) -> Rgb {
        let mix = |channel: u8| (f64::from(channel) + (255.0 - f64::from(channel)) * share).round() as u8;
        Rgb(mix(self.0), mix(self.1), mix(self.2))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    fn config() -> Config {
        Config::default()
    }

    #[test]
    fn without_settings_the_brand_is_usher_in_its_own_colours() {
        let brand = Brand::from_config(&config()).expect("brand");
        assert_eq!(brand.name, "Usher");
        assert_eq!(brand.palette, None);
        assert_eq!(brand.logo, None);
        assert_eq!(brand.support_url, None);
    }

    #[test]
    fn contrast_ratios_are_wcag_ones() {
        assert!((Rgb(0, 0, 0).contrast(WHITE) - 21.0).abs() < 1e-9);
        assert!((WHITE.contrast(WHITE) - 1.0).abs() < 1e-9);
        // #767676 on white is the classic lightest grey that passes AA: 4.54:1.
        let grey = Rgb::parse("#767676").expect("colour").contrast(WHITE);
        assert!((4.5..4.6).contains(&grey), "{grey}");
    }

    #[test]
    fn a_dark_enough_colour_is_accepted_with_a_readable_tint_for_dark_pages() {
        let palette = Palette::for_color("#0B6E4F").expect("accepted");
        assert_eq!(palette.light, "#0b6e4f");
        let tint = Rgb::parse(&palette.dark).expect("tint");
        for surface in DARK_SURFACES {
            assert!(tint.contrast(surface) >= MIN_TEXT_CONTRAST, "{}", palette.dark);
        }
        assert_ne!(palette.dark, "#ffffff", "a tint, not white");
    }

    #[test]
    fn a_colour_white_text_cannot_be_read_on_is_refused_with_its_contrast() {
        let refused = Palette::for_color("#ffcc00").expect_err("refused");
        let BrandError::ColorContrast { contrast, .. } = &refused else {
            panic!("{refused:?}");
        };
        assert!(*contrast < 2.0, "{contrast}");
        assert!(refused.to_string().contains("WCAG AA"), "{refused}");
        // Just under the line on the page's grey background, though fine on white cards.
        assert!(Palette::for_color("#767676").is_err());
    }

    #[test]
    fn a_colour_that_is_not_rrggbb_is_refused() {
        for color in ["red", "#fff", "#12345g", "123456", "#1234567"] {
            assert_eq!(
                Palette::for_color(color),
                Err(BrandError::ColorSyntax(color.to_owned())),
                "{color}"
            );
        }
    }

    #[test]
    fn an_empty_name_is_refused() {
        let config = Config {
            brand_name: "  ".into(),
            ..config()
        };
        assert_eq!(Brand::from_config(&config), Err(BrandError::EmptyName));
    }

    #[test]
    fn the_support_address_is_a_web_or_mail_url() {
        for accepted in ["https://help.example.com/", "mailto:help@example.com"] {
            let config = Config {
                brand_support_url: Some(accepted.into()),
                ..config()
            };
            let brand = Brand::from_config(&config).expect(accepted);
            assert_eq!(brand.support_url.as_deref(), Some(accepted));
        }
        for refused in ["javascript:alert(1)", "help.example.com"] {
            let config = Config {
                brand_support_url: Some(refused.into()),
                ..config()
            };
            assert!(Brand::from_config(&config).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_logo_is_an_svg_or_png_file_small_enough_for_the_login_page() {
        let dir = tempfile::tempdir().expect("dir");
        let svg = dir.path().join("logo.svg");
        std::fs::write(
            &svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"/>"#,
        )
        .expect("write");
        let logo = Logo::read(&svg).expect("svg");
        assert_eq!((logo.content_type, logo.extension()), ("image/svg+xml", "svg"));
        assert_eq!(logo.version.len(), 16);

        let png = dir.path().join("logo.png");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\nrest").expect("write");
        assert_eq!(Logo::read(&png).expect("png").content_type, "image/png");

        let text = dir.path().join("logo.txt");
        std::fs::write(&text, "hello").expect("write");
        assert!(Logo::read(&text).is_err());

        let big = dir.path().join("big.svg");
        std::fs::write(&big, format!("<svg>{}</svg>", " ".repeat(MAX_LOGO_BYTES))).expect("write");
        let refused = Logo::read(&big).expect_err("too big").to_string();
        assert!(refused.contains("at most"), "{refused}");

        assert!(Logo::read(&dir.path().join("missing.svg")).is_err());
    }
}
