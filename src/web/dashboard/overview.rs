//! The overview (`GET /admin`): who holds which tier, the subscriptions that count, recent
//! pay-per-view sales and sign-ins, and how many streams played at once over the last day, as
//! charts drawn on the server ([`crate::web::dashboard::charts`]) with their numbers in tables
//! beside them.
//!
//! Every figure is a `GROUP BY` count in the database, or the per-minute count of live streams
//! that the sweep records: a bounded number of rows come back however many people there are.

use std::collections::HashMap;

use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::foundation::i18n::Locale;
use crate::foundation::store::entitlements::{self as store, Product, Tier};
use crate::foundation::store::streams as stream_store;
use crate::foundation::store::{DbConnection, StoreError, sessions, users};
use crate::foundation::time::format_utc;
use crate::web::dashboard::Admin;
use crate::web::dashboard::charts::{self, Column, Tick};
use crate::web::dashboard::{SignedInAs, notice, render};
use crate::web::i18n::PageText;
use crate::web::pages::PageError;
use crate::web::state::AppState;

const DAY: i64 = 86_400;
/// Sign-ins are shown for this many days, today (UTC) the last.
pub(crate) const SIGN_IN_DAYS: i64 = 14;
/// Pay-per-view grants are counted over this many days.
pub(crate) const GRANT_DAYS: i64 = 30;
/// Concurrent streams are shown for this long, up to now.
pub(crate) const STREAM_WINDOW_SECS: i64 = DAY;
/// The streams sweep counts once a minute; a longer silence than this breaks the line.
const STREAM_SAMPLE_GAP_SECS: i64 = 3 * 60;
/// Products shown by name; the rest are summed as one bar.
const TOP_PRODUCTS: usize = 8;
/// The subscription statuses that give a tier, in the order shown, and their messages.
const CURRENT_STATUSES: [(&str, &str); 3] = [
    ("active", "dash-status-active"),
    ("trialing", "dash-status-trialing"),
    ("past_due", "dash-status-past-due"),
];

/// How a sign-in began: the first value of the session's `amr`. A second step (TOTP, `otp`)
/// follows the first factor, so such a sign-in counts under that factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Password,
    Link,
    Passkey,
    Other,
}

impl Method {
    pub(crate) const ALL: [Self; 4] = [Self::Password, Self::Link, Self::Passkey, Self::Other];

    pub(crate) fn of(amr: &[String]) -> Self {
        match amr.first().map(String::as_str) {
            Some("pwd") => Self::Password,
            Some("email") => Self::Link,
            Some("hwk" | "swk") => Self::Passkey,
            _ => Self::Other,
        }
    }

    /// The message naming it.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Password => "dash-method-password",
            Self::Link => "dash-method-link",
            Self::Passkey => "dash-method-passkey",
            Self::Other => "dash-method-other",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Password => 0,
            Self::Link => 1,
            Self::Passkey => 2,
            Self::Other => 3,
        }
    }
}

/// What the page counts, straight from the database.
pub(crate) struct Figures {
    pub people: i64,
    pub tiers: Vec<Tier>,
    /// Current subscriptions: `(tier slug, status, how many)`.
    pub subscriptions: Vec<(String, String, i64)>,
    pub products: Vec<Product>,
    pub grants_per_product: Vec<(String, i64)>,
    /// `(UTC day, amr, sessions started)`.
    pub sign_ins: Vec<(i64, Vec<String>, i64)>,
    /// Streams live now.
    pub live_streams: i64,
    /// `(minute, live streams)` over the stream window, oldest first.
    pub stream_samples: Vec<(i64, i64)>,
}

/// The first UTC day shown (days since 1970-01-01) and the end of today.
fn sign_in_window(now: i64) -> (i64, i64) {
    let today = now.div_euclid(DAY);
    (today - (SIGN_IN_DAYS - 1), (today + 1) * DAY)
}

impl Figures {
    pub(crate) fn load(conn: &mut DbConnection, now: i64) -> Result<Self, StoreError> {
        let (first_day, end) = sign_in_window(now);
        Ok(Self {
            people: users::count(conn)?,
            tiers: store::list_tiers(conn)?,
            subscriptions: store::current_subscriptions(conn, now)?,
            products: store::list_products(conn)?,
            grants_per_product: store::grants_created_per_product(conn, now - GRANT_DAYS * DAY)?,
            // The sessions table keeps ended and expired sessions (nothing deletes them), so
            // every sign-in of the period is there.
            sign_ins: sessions::started_per_day(conn, first_day * DAY, end)?,
            live_streams: stream_store::count_live(conn, now)?,
            stream_samples: stream_store::samples_since(conn, now - STREAM_WINDOW_SECS)?,
        })
    }
}

/// A labelled count in a table under a chart.
pub(crate) struct Row {
    pub label: String,
    pub count: String,
}

/// One day of the sign-in table.
pub(crate) struct DayRow {
    pub date: String,
    pub counts: Vec<String>,
    pub total: String,
}

/// A chart (its accessible name summarises the numbers) and the numbers in rows.
pub(crate) struct Chart {
    pub svg: String,
    pub rows: Vec<Row>,
}

fn rows(items: &[(String, i64)]) -> Vec<Row> {
    items
        .iter()
        .map(|(label, count)| Row {
            label: label.clone(),
            count: charts::group_digits(*count),
        })
        .collect()
}

/// A chart's items for its name: "Free 12, Premium 30".
fn summary(locale: Locale, items: &[(String, i64)]) -> String {
    items
        .iter()
        .map(|(label, count)| {
            locale.with_two(
                "dash-chart-item",
                ("label", label),
                ("count", &charts::group_digits(*count)),
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn bars(locale: Locale, title: &str, items: Vec<(String, i64)>) -> Chart {
    let label = if items.is_empty() {
        locale.with("dash-chart-bars-none", "title", title)
    } else {
        locale.with_two(
            "dash-chart-bars",
            ("title", title),
            ("items", &summary(locale, &items)),
        )
    };
    Chart {
        svg: charts::horizontal_bars(&items, &label),
        rows: rows(&items),
    }
}

/// People per tier, lowest rank first, then those without a current subscription.
pub(crate) fn tier_items(
    locale: Locale,
    people: i64,
    tiers: &[Tier],
    subscriptions: &[(String, String, i64)],
) -> Vec<(String, i64)> {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for (slug, _, count) in subscriptions {
        *counts.entry(slug.as_str()).or_default() += count;
    }
    let mut items: Vec<(String, i64)> = tiers
        .iter()
        .map(|tier| {
            (
                tier.name.clone(),
                counts.get(tier.slug.as_str()).copied().unwrap_or(0),
            )
        })
        .collect();
    let subscribed: i64 = subscriptions.iter().map(|(_, _, count)| count).sum();
    items.push((locale.get("dash-overview-no-tier"), (people - subscribed).max(0)));
    items
}

/// Current subscriptions per status, every status shown.
pub(crate) fn status_items(locale: Locale, subscriptions: &[(String, String, i64)]) -> Vec<(String, i64)> {
    CURRENT_STATUSES
        .iter()
        .map(|(status, message)| {
            let count = subscriptions
                .iter()
                .filter(|(_, found, _)| found == status)
                .map(|(_, _, count)| count)
                .sum();
            (locale.get(message), count)
        })
        .collect()
}

/// Grants per product title, most first; past [`TOP_PRODUCTS`] the rest as one bar.
pub(crate) fn product_items(
    locale: Locale,
    products: &[Product],
    per_product: &[(String, i64)],
) -> Vec<(String, i64)> {
    let titles: HashMap<&str, &str> = products
        .iter()
        .map(|product| (product.slug.as_str(), product.title.as_str()))
        .collect();
    let mut items: Vec<(String, i64)> = per_product
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(slug, count)| {
            let title = titles.get(slug.as_str()).map_or(slug.as_str(), |title| title);
            (title.to_owned(), *count)
        })
        .collect();
    items.sort_by(|(a_title, a), (b_title, b)| b.cmp(a).then_with(|| a_title.cmp(b_title)));
    if items.len() > TOP_PRODUCTS {
        let rest: Vec<(String, i64)> = items.split_off(TOP_PRODUCTS);
        let count = rest.iter().map(|(_, count)| count).sum();
        let others = i64::try_from(rest.len()).unwrap_or(i64::MAX);
        items.push((locale.count("dash-overview-other-products", others), count));
    }
    items
}

/// Sign-ins per day and method, every day of the window, zero where none.
pub(crate) fn daily_sign_ins(first_day: i64, sign_ins: &[(i64, Vec<String>, i64)]) -> Vec<[i64; 4]> {
    let mut days = vec![[0_i64; 4]; usize::try_from(SIGN_IN_DAYS).unwrap_or(14)];
    for (day, amr, count) in sign_ins {
        if let Some(slot) = usize::try_from(day - first_day)
            .ok()
            .and_then(|index| days.get_mut(index))
        {
            slot[Method::of(amr).index()] += count;
        }
    }
    days
}

/// The day of the month and the month of the UTC day numbered `day` since 1970.
fn date(day: i64) -> (i64, String) {
    crate::foundation::time::day_and_month_utc(day * 86_400)
}

/// The sign-in chart and its table.
pub(crate) struct SignIns {
    pub svg: String,
    pub total: i64,
    /// The methods' names, one column each.
    pub methods: Vec<String>,
    pub days: Vec<DayRow>,
}

pub(crate) fn sign_in_chart(locale: Locale, first_day: i64, sign_ins: &[(i64, Vec<String>, i64)]) -> SignIns {
    let days = daily_sign_ins(first_day, sign_ins);
    // "Other" only when some sign-in began some other way.
    let methods: Vec<Method> = Method::ALL
        .into_iter()
        .filter(|method| *method != Method::Other || days.iter().any(|day| day[method.index()] > 0))
        .collect();
    let mut columns = Vec::new();
    let mut table = Vec::new();
    let mut per_method = vec![0_i64; methods.len()];
    let mut busiest: Option<(i64, i64)> = None;
    for (offset, counts) in (0_i64..).zip(&days) {
        let day = first_day + offset;
        let (day_of_month, month) = date(day);
        let values: Vec<i64> = methods.iter().map(|method| counts[method.index()]).collect();
        let total: i64 = values.iter().sum();
        for (sum, value) in per_method.iter_mut().zip(&values) {
            *sum += value;
        }
        if total > 0 && busiest.is_none_or(|(_, most)| total > most) {
            busiest = Some((day, total));
        }
        columns.push(Column {
            label: day_of_month.to_string(),
            sublabel: (offset == 0 || day_of_month == 1).then(|| month.clone()),
            values: values.clone(),
        });
        table.push(DayRow {
            date: format!("{day_of_month} {month}"),
            counts: values.iter().map(|value| charts::group_digits(*value)).collect(),
            total: charts::group_digits(total),
        });
    }
    let total: i64 = per_method.iter().sum();
    let day_text = |day: i64| {
        let (day_of_month, month) = date(day);
        format!("{day_of_month} {month}")
    };
    let (first, last) = (day_text(first_day), day_text(first_day + SIGN_IN_DAYS - 1));
    let names: Vec<String> = methods
        .iter()
        .map(|method| locale.get(method.message()))
        .collect();
    let label = match busiest {
        Some((day, most)) => {
            let split: Vec<(String, i64)> = names.iter().cloned().zip(per_method.iter().copied()).collect();
            locale.with_all(
                "dash-chart-sign-ins",
                &[
                    ("first", &first),
                    ("last", &last),
                    ("total", &charts::group_digits(total)),
                    ("methods", &summary(locale, &split)),
                    ("busiest", &day_text(day)),
                    ("most", &charts::group_digits(most)),
                ],
            )
        }
        None => locale.with_two("dash-chart-sign-ins-none", ("first", &first), ("last", &last)),
    };
    let series: Vec<&str> = names.iter().map(String::as_str).collect();
    SignIns {
        svg: charts::stacked_columns(&columns, &series, &label),
        total,
        methods: names,
        days: table,
    }
}

/// "14:05": the time of day (UTC) of an instant.
fn time_of_day(at: i64) -> String {
    let seconds = at.rem_euclid(DAY);
    format!("{:02}:{:02}", seconds / 3600, seconds % 3600 / 60)
}

/// The concurrent streams chart, the count now, and the most at once in each hour.
pub(crate) struct Streams {
    pub svg: String,
    pub now: String,
    pub hours: Vec<Row>,
}

/// Live streams per minute over the [`STREAM_WINDOW_SECS`] up to `now`, from the sweep's
/// samples, with a mark every six hours (UTC).
pub(crate) fn streams_chart(locale: Locale, now: i64, live: i64, samples: &[(i64, i64)]) -> Streams {
    const SIX_HOURS: i64 = 6 * 3600;
    let start = now - STREAM_WINDOW_SECS;
    let ticks: Vec<Tick> = (start.div_euclid(SIX_HOURS) + 1..=now.div_euclid(SIX_HOURS))
        .map(|mark| Tick {
            at: mark * SIX_HOURS,
            label: time_of_day(mark * SIX_HOURS),
        })
        .collect();
    let mut hours: Vec<(i64, i64)> = Vec::new();
    for &(minute, streams) in samples {
        let hour = minute.div_euclid(3600);
        match hours.last_mut() {
            Some((last, most)) if *last == hour => *most = (*most).max(streams),
            _ => hours.push((hour, streams)),
        }
    }
    let live_text = charts::group_digits(live);
    // The earliest minute of the day's largest count.
    let peak = samples
        .iter()
        .copied()
        .reduce(|most, sample| if sample.1 > most.1 { sample } else { most });
    let label = match peak {
        Some((minute, most)) => locale.with_all(
            "dash-chart-streams",
            &[
                ("now", &live_text),
                ("most", &charts::group_digits(most)),
                ("time", &time_of_day(minute)),
            ],
        ),
        None => locale.with("dash-chart-streams-none", "now", &live_text),
    };
    Streams {
        svg: charts::step_line(samples, (start, now), 60, STREAM_SAMPLE_GAP_SECS, &ticks, &label),
        now: live_text,
        hours: hours
            .into_iter()
            .map(|(hour, most)| {
                let (day_of_month, month) = date(hour.div_euclid(24));
                Row {
                    label: format!("{day_of_month} {month}, {}", time_of_day(hour * 3600)),
                    count: charts::group_digits(most),
                }
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    t: PageText,
    section: &'static str,
    signed_in_as: SignedInAs,
    notice: Option<&'static str>,
    problem: Option<String>,
    // No form here, so no CSRF token; `render` still sets the cookie for the next page.
    /// How many people, as of when.
    lead: String,
    tiers: Chart,
    current: String,
    statuses: Chart,
    grants: Chart,
    grant_days: i64,
    sign_ins: SignIns,
    sign_in_days: i64,
    streams: Streams,
}

/// `GET /admin`.
pub(crate) async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: Admin,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let figures = state.store.run(move |conn| Figures::load(conn, now)).await?;
    let t = admin.text();
    let locale = t.locale;
    let statuses = status_items(locale, &figures.subscriptions);
    let current: i64 = statuses.iter().map(|(_, count)| count).sum();
    let (first_day, _) = sign_in_window(now);
    let page = OverviewPage {
        section: "overview",
        signed_in_as: admin.signed_in_as(),
        notice: notice(&request),
        problem: None,
        lead: locale.count_with(
            "dash-overview-lead",
            figures.people,
            &[
                ("shown", &charts::group_digits(figures.people)),
                ("date", &format_utc(now)),
            ],
        ),
        tiers: bars(
            locale,
            &locale.get("dash-overview-tiers"),
            tier_items(locale, figures.people, &figures.tiers, &figures.subscriptions),
        ),
        current: charts::group_digits(current),
        statuses: bars(
            locale,
            &locale.count_with(
                "dash-chart-subscriptions",
                current,
                &[("shown", &charts::group_digits(current))],
            ),
            statuses,
        ),
        grants: bars(
            locale,
            &locale.count("dash-chart-grants", GRANT_DAYS),
            product_items(locale, &figures.products, &figures.grants_per_product),
        ),
        grant_days: GRANT_DAYS,
        sign_ins: sign_in_chart(locale, first_day, &figures.sign_ins),
        sign_in_days: SIGN_IN_DAYS,
        streams: streams_chart(locale, now, figures.live_streams, &figures.stream_samples),
        t,
    };
    render(admin, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en() -> Locale {
        Locale::default()
    }

    fn amr(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    fn tier(slug: &str, name: &str) -> Tier {
        Tier {
            slug: slug.to_owned(),
            name: name.to_owned(),
            rank: 0,
            features: Vec::new(),
            max_streams: 1,
            stream_limit_policy: "refuse".into(),
            max_devices: None,
            max_profiles: 5,
            max_members: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_first_method_names_the_sign_in() {
        assert_eq!(Method::of(&amr(&["pwd"])), Method::Password);
        assert_eq!(Method::of(&amr(&["pwd", "otp", "mfa"])), Method::Password);
        assert_eq!(Method::of(&amr(&["email", "otp", "mfa"])), Method::Link);
        assert_eq!(Method::of(&amr(&["hwk", "user", "mfa"])), Method::Passkey);
        assert_eq!(Method::of(&amr(&["swk", "user", "mfa"])), Method::Passkey);
        assert_eq!(Method::of(&amr(&[])), Method::Other);
    }

    #[test]
    fn everyone_without_a_current_subscription_has_no_tier() {
        let tiers = [tier("free", "Free"), tier("premium", "Premium")];
        let subscriptions = [
            ("premium".to_owned(), "active".to_owned(), 2),
            ("premium".to_owned(), "past_due".to_owned(), 1),
        ];
        let items = tier_items(en(), 10, &tiers, &subscriptions);
        assert_eq!(
            items,
            vec![
                ("Free".to_owned(), 0),
                ("Premium".to_owned(), 3),
                ("No tier".to_owned(), 7)
            ]
        );
    }

    #[test]
    fn statuses_are_all_shown_in_order() {
        let items = status_items(
            en(),
            &[
                ("free".to_owned(), "past_due".to_owned(), 2),
                ("free".to_owned(), "active".to_owned(), 4),
                ("premium".to_owned(), "active".to_owned(), 1),
            ],
        );
        let names: Vec<&str> = items.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["Active", "Trialing", "Past due"]);
        assert_eq!(
            items.iter().map(|(_, count)| *count).collect::<Vec<_>>(),
            [5, 0, 2]
        );
    }

    #[test]
    fn products_are_named_and_the_long_tail_summed() {
        let products: Vec<Product> = (0..10)
            .map(|index| Product {
                slug: format!("p{index}"),
                title: format!("Product {index}"),
                starts_at: None,
                ends_at: None,
                rental_hours: None,
                created_at: 0,
                updated_at: 0,
                household: false,
            })
            .collect();
        let counts: Vec<(String, i64)> = (0..10).map(|index| (format!("p{index}"), index + 1)).collect();
        let items = product_items(en(), &products, &counts);
        assert_eq!(items.len(), TOP_PRODUCTS + 1);
        assert_eq!(items[0], ("Product 9".to_owned(), 10));
        assert_eq!(items[TOP_PRODUCTS], ("2 other products".to_owned(), 1 + 2));
    }

    #[test]
    fn sign_ins_fill_every_day_of_the_window() {
        // 2026-03-14 12:00 UTC.
        let now = 1_773_489_600;
        let (first_day, end) = sign_in_window(now);
        assert_eq!(end, (now / DAY + 1) * DAY);
        let rows = vec![
            (first_day, amr(&["pwd"]), 4),
            (first_day, amr(&["pwd", "otp", "mfa"]), 1),
            (first_day + 13, amr(&["hwk", "user", "mfa"]), 2),
            (first_day + 13, amr(&["email"]), 3),
            (first_day + 20, amr(&["pwd"]), 9),
        ];
        let chart = sign_in_chart(en(), first_day, &rows);
        assert_eq!(chart.days.len(), 14);
        assert_eq!(chart.total, 10);
        assert_eq!(chart.methods, ["Password", "Sign-in link", "Passkey"]);
        assert_eq!(chart.days[0].counts, ["5", "0", "0"]);
        assert_eq!(chart.days[13].counts, ["0", "3", "2"]);
        assert_eq!(chart.days[13].date, "14 Mar");
        assert_eq!(chart.days[0].date, "1 Mar");
        assert!(
            chart
                .svg
                .contains("aria-label=\"Sign-ins per day by method, 1 Mar to 14 Mar: 10 in all")
        );
        assert!(chart.svg.contains("most on 1 Mar, 5"), "{}", chart.svg);
    }

    #[test]
    fn the_streams_chart_names_the_count_now_and_the_days_peak_and_each_hours_most() {
        // 2026-03-14 12:00 UTC.
        let now = 1_773_489_600;
        let samples = [
            (now - 3 * 3600, 2),
            (now - 3 * 3600 + 60, 5),
            (now - 3 * 3600 + 120, 1),
            (now - 60, 5),
        ];
        let chart = streams_chart(en(), now, 3, &samples);
        assert_eq!(chart.now, "3");
        assert!(
            chart.svg.contains(
                "aria-label=\"Concurrent streams per minute, last 24 hours (UTC): 3 now; most 5 at 09:01.\""
            ),
            "{}",
            chart.svg
        );
        let hours: Vec<(&str, &str)> = chart
            .hours
            .iter()
            .map(|row| (row.label.as_str(), row.count.as_str()))
            .collect();
        assert_eq!(hours, [("14 Mar, 09:00", "5"), ("14 Mar, 11:00", "5")]);
        for mark in ["18:00", "00:00", "06:00", "12:00"] {
            assert!(chart.svg.contains(&format!(">{mark}<")), "{mark}: {}", chart.svg);
        }
    }

    #[test]
    fn other_methods_show_only_when_there_are_some() {
        let chart = sign_in_chart(en(), 100, &[(100, amr(&["weird"]), 1)]);
        assert_eq!(chart.methods, ["Password", "Sign-in link", "Passkey", "Other"]);
    }
}
