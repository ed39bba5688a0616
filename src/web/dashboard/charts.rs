//! Server-rendered SVG charts: small pure functions from numbers to markup, no script.
//!
//! Every chart is an `<svg role="img">` whose `aria-label` the caller writes (a summary of
//! the numbers, which the page also shows in a table). Text takes the card's colour
//! (`currentColor`); bars take [`PALETTE`], fixed colours with at least 3:1 contrast (WCAG
//! 1.4.11, graphical objects) against the card in both the light (`#fff`) and the dark
//! (`#1d1d2b`) scheme, and distinguishable with the common colour-vision deficiencies
//! (Okabe–Ito). The `viewBox` is as wide as a phone's card (about 310 px at a 390 px
//! viewport), the SVG scales to its container, and the stylesheet (`.chart svg` in
//! `templates/assets/pages.css`) lets it grow no wider than 28rem, so 13-unit text stays
//! under about 18 px on wide screens. No `style` attributes: the pages' Content Security
//! Policy allows none.

use std::fmt::Write;

/// Bar colours, in series order: blue, vermillion, bluish green, reddish purple.
pub(crate) const PALETTE: [&str; 4] = ["#0072b2", "#d55e00", "#009e73", "#b8569a"];

/// The card backgrounds of `templates/assets/pages.css`, light and dark.
#[cfg(test)]
const CARD_BACKGROUNDS: [&str; 2] = ["#ffffff", "#1d1d2b"];

/// Width of the drawing in user units.
const WIDTH: f64 = 320.0;
/// Rough width of a character of system-ui, as a share of the font size.
const CHAR_WIDTH: f64 = 0.6;

/// Escapes text for an HTML or SVG text node or a quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A count as people read it: `12,345`.
pub(crate) fn group_digits(number: i64) -> String {
    let digits = number.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if number < 0 {
        grouped.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// Cuts `text` to about `width` units at `size`, ending with an ellipsis when cut.
fn fit(text: &str, width: f64, size: f64) -> String {
    let room = (width / (size * CHAR_WIDTH)).floor().max(1.0) as usize;
    if text.chars().count() <= room {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * CHAR_WIDTH
}

fn open_svg(height: f64, label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"100%\" \
         role=\"img\" aria-label=\"{}\" fill=\"currentColor\" \
         font-family=\"system-ui,-apple-system,'Segoe UI',Roboto,sans-serif\">",
        escape(label)
    )
}

/// One bar per item, longest for the largest value, each with its label above and its value
/// after it. `label`: the chart's accessible name.
pub(crate) fn horizontal_bars(items: &[(String, i64)], label: &str) -> String {
    const SIZE: f64 = 13.0;
    const ROW: f64 = 40.0;
    const BAR: f64 = 14.0;
    let max = items.iter().map(|(_, value)| *value).max().unwrap_or(0).max(0);
    // Bold digits run wider than text: room for them with some to spare.
    let widest_value = items
        .iter()
        .map(|(_, value)| text_width(&group_digits(*value), SIZE) * 1.15)
        .fold(0.0, f64::max);
    let room = WIDTH - widest_value - 10.0;
    let height = (items.len() as f64 * ROW).max(ROW);
    let mut svg = open_svg(height, label);
    for (index, (name, value)) in items.iter().enumerate() {
        let top = index as f64 * ROW;
        let width = if max == 0 {
            0.0
        } else {
            // A value too small to see still shows as a sliver.
            let share = (*value).max(0) as f64 / max as f64 * room;
            if *value > 0 { share.max(1.0) } else { 0.0 }
        };
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{:.1}\" font-size=\"{SIZE}\">{}</text>\
             <rect x=\"0\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{BAR}\" rx=\"2\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{SIZE}\" font-weight=\"600\">{}</text>",
            top + SIZE,
            escape(&fit(name, WIDTH, SIZE)),
            top + SIZE + 5.0,
            PALETTE[0],
            width + 6.0,
            top + SIZE + 5.0 + BAR - 2.5,
            group_digits(*value),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One column of a stacked chart: its label under it, an optional second line (the month
/// where it changes), and one value per series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    pub label: String,
    pub sublabel: Option<String>,
    pub values: Vec<i64>,
}

/// Vertical columns of stacked segments, one colour per series (in [`PALETTE`] order), the
/// tallest column as high as the plot, with a legend above. `label`: the accessible name.
/// The stylesheet strokes the segments in the card's colour (`.chart .column rect`), which
/// separates them.
pub(crate) fn stacked_columns(columns: &[Column], series: &[&str], label: &str) -> String {
    const LEGEND_SIZE: f64 = 12.0;
    const LEGEND_ROW: f64 = 18.0;
    const SWATCH: f64 = 11.0;
    const AXIS_SIZE: f64 = 11.0;
    const PLOT: f64 = 150.0;

    // The legend, wrapped into rows that fit.
    let mut legend = String::new();
    let (mut x, mut row) = (0.0, 0.0_f64);
    for (index, name) in series.iter().enumerate() {
        let name = fit(name, WIDTH - SWATCH - 4.0, LEGEND_SIZE);
        let width = SWATCH + 4.0 + text_width(&name, LEGEND_SIZE);
        if x > 0.0 && x + width > WIDTH {
            x = 0.0;
            row += 1.0;
        }
        let top = row * LEGEND_ROW;
        let _ = write!(
            legend,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{SWATCH}\" height=\"{SWATCH}\" rx=\"2\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{LEGEND_SIZE}\">{}</text>",
            top + 2.0,
            PALETTE[index % PALETTE.len()],
            x + SWATCH + 4.0,
            top + 11.5,
            escape(&name),
        );
        x += width + 14.0;
    }
    let legend_height = if series.is_empty() {
        0.0
    } else {
        (row + 1.0) * LEGEND_ROW
    };

    let totals: Vec<i64> = columns
        .iter()
        .map(|column| column.values.iter().map(|value| (*value).max(0)).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0);
    let max_text = group_digits(max);
    let left = (text_width(&max_text, AXIS_SIZE) + 6.0).max(16.0);
    let top = legend_height + 10.0;
    let base = top + PLOT;
    let has_sublabels = columns.iter().any(|column| column.sublabel.is_some());
    let height = base + 16.0 + if has_sublabels { 14.0 } else { 0.0 };

    let mut svg = open_svg(height, label);
    svg.push_str(&legend);
    // The scale: a line at the largest total and one at zero.
    let _ = write!(
        svg,
        "<line x1=\"{left:.1}\" y1=\"{top:.1}\" x2=\"{WIDTH}\" y2=\"{top:.1}\" stroke=\"currentColor\" \
         stroke-opacity=\"0.35\" stroke-dasharray=\"3 3\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{AXIS_SIZE}\" text-anchor=\"end\">{max_text}</text>\
         <text x=\"{:.1}\" y=\"{base:.1}\" font-size=\"{AXIS_SIZE}\" text-anchor=\"end\">0</text>",
        left - 4.0,
        top + 4.0,
        left - 4.0,
    );
    let slot = (WIDTH - left) / columns.len().max(1) as f64;
    let bar = (slot * 0.7).min(28.0);
    for (index, column) in columns.iter().enumerate() {
        let center = left + slot * (index as f64 + 0.5);
        let x = center - bar / 2.0;
        let _ = write!(svg, "<g class=\"column\">");
        let mut y = base;
        for (series_index, value) in column.values.iter().enumerate() {
            if *value <= 0 || max == 0 {
                continue;
            }
            let segment = *value as f64 / max as f64 * PLOT;
            y -= segment;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{segment:.1}\" fill=\"{}\" \
                 stroke-width=\"1\"/>",
                PALETTE[series_index % PALETTE.len()],
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{center:.1}\" y=\"{:.1}\" font-size=\"{AXIS_SIZE}\" text-anchor=\"middle\">{}</text>",
            base + 13.0,
            escape(&fit(&column.label, slot.max(AXIS_SIZE * 2.0), AXIS_SIZE)),
        );
        if let Some(sublabel) = &column.sublabel {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{AXIS_SIZE}\" font-weight=\"600\">{}</text>",
                x.max(0.0),
                base + 27.0,
                escape(sublabel),
            );
        }
        svg.push_str("</g>");
    }
    let _ = write!(
        svg,
        "<line x1=\"{left:.1}\" y1=\"{base:.1}\" x2=\"{WIDTH}\" y2=\"{base:.1}\" stroke=\"currentColor\" \
         stroke-opacity=\"0.6\"/>"
    );
    svg.push_str("</svg>");
    svg
}

/// A mark under a time axis: when (Unix seconds) and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tick {
    pub at: i64,
    pub label: String,
}

/// A count sampled over time, as a step line across `window` (Unix seconds, start and end):
/// each sample `(at, value)` holds until the next one, or for `step` seconds when the next is
/// more than `max_gap` away; there the line breaks, as nothing was counted meanwhile. The
/// scale runs from zero to the largest value; `ticks` label the time axis. `label`: the
/// accessible name. Only changes of value are drawn, so a day of samples a minute apart stays
/// a short path.
pub(crate) fn step_line(
    samples: &[(i64, i64)],
    window: (i64, i64),
    step: i64,
    max_gap: i64,
    ticks: &[Tick],
    label: &str,
) -> String {
    const AXIS_SIZE: f64 = 11.0;
    const TOP: f64 = 8.0;
    const PLOT: f64 = 120.0;
    let (start, end) = window;
    let max = samples.iter().map(|(_, value)| *value).max().unwrap_or(0).max(1);
    let max_text = group_digits(max);
    let left = (text_width(&max_text, AXIS_SIZE) + 6.0).max(16.0);
    let base = TOP + PLOT;
    let span = (end - start).max(1) as f64;
    let x = |at: i64| left + (at.clamp(start, end) - start) as f64 / span * (WIDTH - left);
    let y = |value: i64| base - value.max(0) as f64 / max as f64 * PLOT;

    let mut svg = open_svg(base + 20.0, label);
    let _ = write!(
        svg,
        "<line x1=\"{left:.1}\" y1=\"{TOP:.1}\" x2=\"{WIDTH}\" y2=\"{TOP:.1}\" stroke=\"currentColor\" \
         stroke-opacity=\"0.35\" stroke-dasharray=\"3 3\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{AXIS_SIZE}\" text-anchor=\"end\">{max_text}</text>\
         <text x=\"{:.1}\" y=\"{base:.1}\" font-size=\"{AXIS_SIZE}\" text-anchor=\"end\">0</text>",
        left - 4.0,
        TOP + 4.0,
        left - 4.0,
    );
    let mut path = String::new();
    let mut previous: Option<(i64, i64)> = None;
    for &(at, value) in samples {
        match previous {
            Some((last_at, last_value)) if at - last_at <= max_gap => {
                if value != last_value {
                    let _ = write!(path, "H{:.1}V{:.1}", x(at), y(value));
                }
            }
            Some((last_at, _)) => {
                let _ = write!(path, "H{:.1}M{:.1} {:.1}", x(last_at + step), x(at), y(value));
            }
            None => {
                let _ = write!(path, "M{:.1} {:.1}", x(at), y(value));
            }
        }
        previous = Some((at, value));
    }
    if let Some((last_at, _)) = previous {
        let _ = write!(path, "H{:.1}", x(last_at + step));
        let _ = write!(
            svg,
            "<path d=\"{path}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\"/>",
            PALETTE[0],
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"{left:.1}\" y1=\"{base:.1}\" x2=\"{WIDTH}\" y2=\"{base:.1}\" stroke=\"currentColor\" \
         stroke-opacity=\"0.6\"/>"
    );
    for tick in ticks {
        let at = x(tick.at);
        let half = text_width(&tick.label, AXIS_SIZE) / 2.0;
        // A label near an edge stays inside the drawing.
        let centre = at.min(WIDTH - half).max(half);
        let _ = write!(
            svg,
            "<line x1=\"{at:.1}\" y1=\"{base:.1}\" x2=\"{at:.1}\" y2=\"{:.1}\" stroke=\"currentColor\" \
             stroke-opacity=\"0.6\"/>\
             <text x=\"{centre:.1}\" y=\"{:.1}\" font-size=\"{AXIS_SIZE}\" text-anchor=\"middle\">{}</text>",
            base + 4.0,
            base + 16.0,
            escape(&tick.label),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(values: &[(&str, i64)]) -> Vec<(String, i64)> {
        values
            .iter()
            .map(|(name, value)| ((*name).to_owned(), *value))
            .collect()
    }

    /// The `width` of each `<rect`, in order.
    fn rect_attribute(svg: &str, attribute: &str) -> Vec<f64> {
        svg.split("<rect")
            .skip(1)
            .filter_map(|rect| {
                let start = rect.find(&format!(" {attribute}=\""))? + attribute.len() + 3;
                let end = start + rect[start..].find('"')?;
                rect[start..end].parse().ok()
            })
            .collect()
    }

    #[test]
    fn horizontal_bars_draw_one_bar_per_item_scaled_to_the_largest() {
        let svg = horizontal_bars(&items(&[("Free", 50), ("Premium", 100), ("None", 0)]), "People");
        let widths = rect_attribute(&svg, "width");
        assert_eq!(widths.len(), 3, "{svg}");
        let longest = widths[1];
        assert!(longest > 250.0 && longest <= WIDTH, "{svg}");
        assert!((widths[0] - longest / 2.0).abs() < 0.2, "{widths:?}");
        assert!(widths[2].abs() < f64::EPSILON, "{widths:?}");
        assert!(svg.contains("100") && svg.contains(">50<"), "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("role=\"img\"") && svg.contains("aria-label=\"People\""));
        assert!(svg.contains("viewBox=\"0 0 320 ") && svg.contains("width=\"100%\""));
    }

    #[test]
    fn chart_text_is_escaped() {
        let svg = horizontal_bars(&items(&[("<script>alert(1)</script> & \"x\"", 3)]), "a <b> \"c\"");
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(
            svg.contains("&lt;script&gt;") && svg.contains("&amp; &quot;x&quot;"),
            "{svg}"
        );
        assert!(svg.contains("aria-label=\"a &lt;b&gt; &quot;c&quot;\""), "{svg}");
        let column = Column {
            label: "<1>".to_owned(),
            sublabel: Some("<Mar>".to_owned()),
            values: vec![1],
        };
        let stacked = stacked_columns(&[column], &["<Password>"], "<label>");
        assert!(!stacked.contains("<1>") && !stacked.contains("<Mar>") && !stacked.contains("<Password>"));
        assert!(
            stacked.contains("&lt;Password&gt;") && stacked.contains("&lt;Mar&gt;"),
            "{stacked}"
        );
    }

    #[test]
    fn charts_carry_no_style_attributes() {
        // The pages' Content Security Policy allows the one stylesheet and no `style="…"`.
        let column = Column {
            label: "1".to_owned(),
            sublabel: Some("Mar".to_owned()),
            values: vec![2, 3],
        };
        let bars = horizontal_bars(&items(&[("Free", 5)]), "People");
        let stacked = stacked_columns(&[column], &["A", "B"], "Sign-ins");
        let steps = step_line(
            &[(0, 1), (60, 2)],
            (0, 120),
            60,
            180,
            &[tick(60, "00:01")],
            "Streams",
        );
        for svg in [bars, stacked, steps] {
            assert!(!svg.contains("style="), "{svg}");
        }
    }

    #[test]
    fn long_labels_are_cut_to_fit() {
        let long = "A very long product title that would run past the edge of a phone screen";
        let svg = horizontal_bars(&items(&[(long, 1)]), "x");
        assert!(!svg.contains(long) && svg.contains('…'), "{svg}");
    }

    #[test]
    fn empty_and_zero_charts_draw_no_visible_bars() {
        let svg = horizontal_bars(&[], "Nothing");
        assert!(svg.starts_with("<svg") && !svg.contains("<rect"), "{svg}");
        let zero = Column {
            label: "1".to_owned(),
            sublabel: None,
            values: vec![0, 0],
        };
        let stacked = stacked_columns(&[zero.clone(), zero], &["A", "B"], "None");
        // Only the two legend swatches.
        assert_eq!(stacked.matches("<rect").count(), 2, "{stacked}");
    }

    #[test]
    fn stacked_columns_stack_each_series_and_scale_to_the_tallest() {
        let columns = vec![
            Column {
                label: "1".to_owned(),
                sublabel: Some("Mar".to_owned()),
                values: vec![10, 5, 5],
            },
            Column {
                label: "2".to_owned(),
                sublabel: None,
                values: vec![5, 0, 5],
            },
            Column {
                label: "3".to_owned(),
                sublabel: None,
                values: vec![0, 0, 0],
            },
        ];
        let svg = stacked_columns(&columns, &["Password", "Sign-in link", "Passkey"], "Sign-ins");
        assert_eq!(svg.matches("<g class=\"column\">").count(), 3, "{svg}");
        // Three swatches, then the segments: 3 + 2 + 0.
        let heights = rect_attribute(&svg, "height");
        assert_eq!(heights.len(), 3 + 5, "{svg}");
        let segments = &heights[3..];
        let first: f64 = segments[..3].iter().sum();
        let second: f64 = segments[3..].iter().sum();
        assert!((first - 150.0).abs() < 0.2, "{segments:?}");
        assert!((second - 75.0).abs() < 0.2, "{segments:?}");
        assert!((segments[0] - 75.0).abs() < 0.2, "{segments:?}");
        // Each series has its colour, the same in the legend and the bars.
        assert_eq!(svg.matches(PALETTE[0]).count(), 3, "{svg}");
        assert_eq!(svg.matches(PALETTE[1]).count(), 2, "{svg}");
        assert!(svg.contains(">20<"), "the scale names the largest total: {svg}");
        assert!(svg.contains(">Sign-in link<") && svg.contains(">Mar<"), "{svg}");
    }

    #[test]
    fn a_legend_too_wide_for_one_line_wraps() {
        let names = ["Password", "Sign-in link", "Passkey", "Something else entirely"];
        let svg = stacked_columns(&[], &names, "x");
        let tops = rect_attribute(&svg, "y");
        assert!(tops.iter().any(|y| *y > 10.0), "{svg}");
        for x in rect_attribute(&svg, "x") {
            assert!(x < WIDTH, "{svg}");
        }
    }

    fn tick(at: i64, label: &str) -> Tick {
        Tick {
            at,
            label: label.to_owned(),
        }
    }

    /// The `d` of the chart's one `<path>`, if it has one.
    fn path_of(svg: &str) -> Option<&str> {
        let start = svg.find("<path d=\"")? + 9;
        Some(&svg[start..start + svg[start..].find('"')?])
    }

    #[test]
    fn a_step_line_draws_only_the_changes_and_scales_to_the_largest_value() {
        let samples = [(0, 2), (60, 2), (120, 4), (180, 4), (240, 0)];
        let svg = step_line(&samples, (0, 300), 60, 180, &[], "Streams");
        let path = path_of(&svg).expect("a path");
        // The first point, two changes of value, then on to the end of the last minute.
        assert_eq!(path.matches('V').count(), 2, "{path}");
        assert_eq!(path.matches('H').count(), 3, "{path}");
        assert_eq!(path.matches('M').count(), 1, "one unbroken line: {path}");
        assert!(path.ends_with(&format!("H{WIDTH:.1}")), "{path}");
        assert!(
            svg.contains(">4</text>"),
            "the scale names the largest value: {svg}"
        );
        assert!(svg.contains("aria-label=\"Streams\""), "{svg}");
    }

    #[test]
    fn a_step_line_breaks_where_nothing_was_counted() {
        let samples = [(0, 1), (60, 1), (3_600, 1), (3_660, 1)];
        let svg = step_line(&samples, (0, 3_720), 60, 180, &[], "Streams");
        let path = path_of(&svg).expect("a path");
        assert_eq!(path.matches('M').count(), 2, "{path}");
    }

    #[test]
    fn a_step_line_without_samples_draws_no_line_and_keeps_tick_labels_inside() {
        let svg = step_line(
            &[],
            (0, 86_400),
            60,
            180,
            &[tick(0, "00:00"), tick(86_400, "24:00")],
            "None",
        );
        assert!(path_of(&svg).is_none(), "{svg}");
        assert!(svg.contains(">00:00<") && svg.contains(">24:00<"), "{svg}");
        for x in svg
            .split("<text x=\"")
            .skip(1)
            .filter_map(|text| text.split('"').next())
        {
            let x: f64 = x.parse().unwrap();
            assert!((0.0..=WIDTH).contains(&x), "{svg}");
        }
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(100_000), "100,000");
        assert_eq!(group_digits(-1_234_567), "-1,234,567");
    }

    fn luminance(hex: &str) -> f64 {
        let channel = |index: usize| {
            let value =
                f64::from(u8::from_str_radix(&hex[1 + index * 2..3 + index * 2], 16).unwrap_or(0)) / 255.0;
            if value <= 0.04045 {
                value / 12.92
            } else {
                ((value + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
    }

    fn contrast(one: &str, other: &str) -> f64 {
        let (a, b) = (luminance(one), luminance(other));
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    #[test]
    fn every_bar_colour_stands_out_on_light_and_dark_cards() {
        for colour in PALETTE {
            for background in CARD_BACKGROUNDS {
                let ratio = contrast(colour, background);
                assert!(ratio >= 3.0, "{colour} on {background}: {ratio:.2}");
            }
        }
    }
}
