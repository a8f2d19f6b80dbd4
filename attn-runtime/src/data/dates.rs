//! Human-written dates paired with ISO 8601 dates: the classic attention-alignment task.
//!
//! [`generate_dates`] draws calendar dates uniformly from 1950-01-01 to 2049-12-31 and renders
//! each in one of [`date_formats`] human formats, chosen uniformly at random. Every format that
//! writes both the day and the month as numbers puts the day first ("03/04/21" is 3 April 2021),
//! and two-digit years map into the range (50-99 are 1950-1999, 00-49 are 2000-2049), so each
//! human string names exactly one date and the task is a function.
//!
//! The formats, shown for 2021-03-03 (a Wednesday; weekdays are always the true ones):
//! "3rd of March 2021", "March 3, 2021", "3 March 2021", "Mar 3 2021", "03/03/21", "3/3/2021",
//! "Wed, March 3, 2021", "Wednesday 3 March 2021", "03.03.2021", "3 mar 2021", "MARCH 3, 2021",
//! "the 3rd of march, 2021", "3-Mar-2021", "03-03-2021", "Wednesday, 3rd March 2021" and
//! "March 3rd, 2021".

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Longest human-written date [`generate_dates`] produces, in bytes (all output is ASCII).
pub const MAX_HUMAN_LEN: usize = 32;
/// Length of an ISO date, `YYYY-MM-DD`.
pub const ISO_LEN: usize = 10;

/// First year generated.
const FIRST_YEAR: i32 = 1950;
/// Last year generated.
const LAST_YEAR: i32 = 2049;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Weekday names, Sunday first.
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// One example pair: a date as a person might write it, and the same date in ISO form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatePair {
    /// The date as written by a person, e.g. "3rd of March 2021". Printable ASCII, at most
    /// [`MAX_HUMAN_LEN`] bytes.
    pub human: String,
    /// The same date as `YYYY-MM-DD`, e.g. "2021-03-03"; always [`ISO_LEN`] bytes.
    pub iso: String,
}

/// Number of human formats [`generate_dates`] chooses from.
pub fn date_formats() -> usize {
    Format::ALL.len()
}

/// Generates `count` date pairs, deterministically from `seed`.
///
/// Dates are uniform over the days from 1950-01-01 to 2049-12-31 inclusive; the human format of
/// each is uniform over the [`date_formats`] formats. The same `count` and `seed` always give the
/// same pairs, and a longer run with the same seed starts with the pairs of a shorter one.
pub fn generate_dates(count: usize, seed: u64) -> Vec<DatePair> {
    let mut rng = StdRng::seed_from_u64(seed);
    let first = days_from_civil(FIRST_YEAR, 1, 1);
    let last = days_from_civil(LAST_YEAR, 12, 31);
    (0..count)
        .map(|_| {
            let date = Date::from_days(rng.gen_range(first..=last));
            let format = Format::ALL[rng.gen_range(0..Format::ALL.len())];
            DatePair {
                human: format.render(date),
                iso: date.iso(),
            }
        })
        .collect()
}

/// A proleptic Gregorian calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Date {
    year: i32,
    /// 1..=12.
    month: u32,
    /// 1..=31.
    day: u32,
}

impl Date {
    fn from_days(days: i64) -> Self {
        let (year, month, day) = civil_from_days(days);
        Date { year, month, day }
    }

    fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// Day of the week, 0 = Sunday.
    fn weekday(self) -> usize {
        // 1970-01-01 (day 0) was a Thursday.
        (days_from_civil(self.year, self.month, self.day) + 4).rem_euclid(7) as usize
    }

    fn month_name(self) -> &'static str {
        MONTHS[self.month as usize - 1]
    }

    fn month_abbrev(self) -> &'static str {
        &self.month_name()[..3]
    }

    fn weekday_name(self) -> &'static str {
        WEEKDAYS[self.weekday()]
    }

    fn weekday_abbrev(self) -> &'static str {
        &self.weekday_name()[..3]
    }

    /// Two-digit year (unambiguous within 1950..=2049).
    fn short_year(self) -> i32 {
        self.year.rem_euclid(100)
    }
}

/// Days since 1970-01-01 of a Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

/// "1st", "2nd", "3rd", "4th", "11th", "21st", ...
fn ordinal(day: u32) -> String {
    let suffix = match (day % 100, day % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    format!("{day}{suffix}")
}

/// The human formats, in the order the module docs list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    OrdinalOfMonth,
    MonthDayComma,
    DayMonth,
    AbbrevMonthDay,
    SlashShortYear,
    SlashLongYear,
    ShortWeekdayMonthDay,
    WeekdayDayMonth,
    Dotted,
    LowerDayAbbrev,
    UpperMonthDay,
    LowerTheOrdinal,
    DashedAbbrev,
    DashedNumeric,
    WeekdayOrdinal,
    MonthOrdinal,
}

impl Format {
    const ALL: [Format; 16] = [
        Format::OrdinalOfMonth,
        Format::MonthDayComma,
        Format::DayMonth,
        Format::AbbrevMonthDay,
        Format::SlashShortYear,
        Format::SlashLongYear,
        Format::ShortWeekdayMonthDay,
        Format::WeekdayDayMonth,
        Format::Dotted,
        Format::LowerDayAbbrev,
        Format::UpperMonthDay,
        Format::LowerTheOrdinal,
        Format::DashedAbbrev,
        Format::DashedNumeric,
        Format::WeekdayOrdinal,
        Format::MonthOrdinal,
    ];

    fn render(self, d: Date) -> String {
        let (y, m, day) = (d.year, d.month, d.day);
        match self {
            Format::OrdinalOfMonth => format!("{} of {} {y}", ordinal(day), d.month_name()),
            Format::MonthDayComma => format!("{} {day}, {y}", d.month_name()),
            Format::DayMonth => format!("{day} {} {y}", d.month_name()),
            Format::AbbrevMonthDay => format!("{} {day} {y}", d.month_abbrev()),
            Format::SlashShortYear => format!("{day:02}/{m:02}/{:02}", d.short_year()),
            Format::SlashLongYear => format!("{day}/{m}/{y}"),
            Format::ShortWeekdayMonthDay => {
                format!("{}, {} {day}, {y}", d.weekday_abbrev(), d.month_name())
            }
            Format::WeekdayDayMonth => {
                format!("{} {day} {} {y}", d.weekday_name(), d.month_name())
            }
            Format::Dotted => format!("{day:02}.{m:02}.{y}"),
            Format::LowerDayAbbrev => format!("{day} {} {y}", d.month_abbrev().to_lowercase()),
            Format::UpperMonthDay => format!("{} {day}, {y}", d.month_name().to_uppercase()),
            Format::LowerTheOrdinal => {
                format!(
                    "the {} of {}, {y}",
                    ordinal(day),
                    d.month_name().to_lowercase()
                )
            }
            Format::DashedAbbrev => format!("{day}-{}-{y}", d.month_abbrev()),
            Format::DashedNumeric => format!("{day:02}-{m:02}-{y}"),
            Format::WeekdayOrdinal => {
                format!(
                    "{}, {} {} {y}",
                    d.weekday_name(),
                    ordinal(day),
                    d.month_name()
                )
            }
            Format::MonthOrdinal => format!("{} {}, {y}", d.month_name(), ordinal(day)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn date(year: i32, month: u32, day: u32) -> Date {
        Date { year, month, day }
    }

    /// Independent month-length table for the reference calendar walk.
    fn reference_month_len(year: i32, month: u32) -> u32 {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// Every date in range, by walking the calendar one day at a time.
    fn all_dates() -> Vec<Date> {
        let mut out = Vec::new();
        for year in FIRST_YEAR..=LAST_YEAR {
            for month in 1..=12 {
                for day in 1..=reference_month_len(year, month) {
                    out.push(date(year, month, day));
                }
            }
        }
        out
    }

    /// Zeller's congruence, converted to 0 = Sunday.
    fn zeller_weekday(d: Date) -> usize {
        let (mut y, mut m) = (d.year, d.month as i32);
        if m < 3 {
            m += 12;
            y -= 1;
        }
        let (k, j) = (y % 100, y / 100);
        let h = (d.day as i32 + (13 * (m + 1)) / 5 + k + k / 4 + j / 4 + 5 * j) % 7;
        // h: 0 = Saturday, 1 = Sunday, ...
        ((h + 6) % 7) as usize
    }

    fn parse_iso(iso: &str) -> Date {
        let parts: Vec<&str> = iso.split('-').collect();
        assert_eq!(parts.len(), 3, "{iso}");
        assert_eq!(
            (parts[0].len(), parts[1].len(), parts[2].len()),
            (4, 2, 2),
            "{iso}"
        );
        let num = |s: &str| s.parse::<u32>().unwrap_or_else(|_| panic!("bad ISO {iso}"));
        date(num(parts[0]) as i32, num(parts[1]), num(parts[2]))
    }

    #[test]
    fn same_seed_same_output_different_seed_different() {
        assert_eq!(generate_dates(200, 7), generate_dates(200, 7));
        assert_ne!(generate_dates(200, 7), generate_dates(200, 8));
        assert_eq!(generate_dates(50, 7)[..], generate_dates(200, 7)[..50]);
        assert!(generate_dates(0, 7).is_empty());
    }

    #[test]
    fn known_date_in_every_format() {
        let d = date(2021, 3, 3);
        let expected = [
            "3rd of March 2021",
            "March 3, 2021",
            "3 March 2021",
            "Mar 3 2021",
            "03/03/21",
            "3/3/2021",
            "Wed, March 3, 2021",
            "Wednesday 3 March 2021",
            "03.03.2021",
            "3 mar 2021",
            "MARCH 3, 2021",
            "the 3rd of march, 2021",
            "3-Mar-2021",
            "03-03-2021",
            "Wednesday, 3rd March 2021",
            "March 3rd, 2021",
        ];
        assert_eq!(expected.len(), date_formats());
        for (format, want) in Format::ALL.iter().zip(expected) {
            assert_eq!(format.render(d), want, "{format:?}");
        }
        assert_eq!(d.iso(), "2021-03-03");
    }

    #[test]
    fn day_first_and_two_digit_years() {
        let d = date(1987, 4, 9);
        assert_eq!(Format::SlashShortYear.render(d), "09/04/87");
        assert_eq!(Format::SlashLongYear.render(d), "9/4/1987");
        assert_eq!(Format::Dotted.render(d), "09.04.1987");
        assert_eq!(Format::DashedNumeric.render(d), "09-04-1987");
        assert_eq!(
            Format::SlashShortYear.render(date(2005, 12, 25)),
            "25/12/05"
        );
        assert_eq!(
            Format::WeekdayDayMonth.render(date(2000, 2, 29)),
            "Tuesday 29 February 2000"
        );
    }

    #[test]
    fn ordinals() {
        let days = [1, 2, 3, 4, 10, 11, 12, 13, 21, 22, 23, 24, 30, 31];
        let want = [
            "1st", "2nd", "3rd", "4th", "10th", "11th", "12th", "13th", "21st", "22nd", "23rd",
            "24th", "30th", "31st",
        ];
        assert_eq!(days.map(ordinal), want);
        let d = date(1999, 12, 31);
        assert_eq!(
            Format::LowerTheOrdinal.render(d),
            "the 31st of december, 1999"
        );
    }

    #[test]
    fn calendar_matches_reference_walk() {
        let all = all_dates();
        assert_eq!(all.len(), 36_525); // 100 years, 25 leap days (1952..=2048; 2000 is leap).
        let first = days_from_civil(FIRST_YEAR, 1, 1);
        for (i, d) in all.iter().enumerate() {
            let days = first + i as i64;
            assert_eq!(days_from_civil(d.year, d.month, d.day), days, "{d:?}");
            assert_eq!(Date::from_days(days), *d);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert!(all.contains(&date(2000, 2, 29)));
        assert!(!all.contains(&date(2001, 2, 29)));
        assert_eq!(reference_month_len(1900, 2), 28);
    }

    #[test]
    fn weekdays_match_zeller() {
        assert_eq!(date(2021, 3, 3).weekday_name(), "Wednesday");
        assert_eq!(date(1970, 1, 1).weekday_name(), "Thursday");
        assert_eq!(date(2000, 2, 29).weekday_name(), "Tuesday");
        for d in all_dates() {
            assert_eq!(d.weekday(), zeller_weekday(d), "{d:?}");
        }
    }

    #[test]
    fn every_rendering_fits_and_names_one_date() {
        let mut seen: HashMap<String, Date> = HashMap::new();
        let mut longest = 0;
        for d in all_dates() {
            for format in Format::ALL {
                let human = format.render(d);
                longest = longest.max(human.len());
                assert!(human.len() <= MAX_HUMAN_LEN, "{human:?}");
                assert!(
                    human.bytes().all(|b| (0x20..=0x7e).contains(&b)),
                    "{human:?}"
                );
                if let Some(other) = seen.insert(human.clone(), d) {
                    assert_eq!(other, d, "{human:?} names two dates");
                }
            }
        }
        assert!(longest > 20);
    }

    #[test]
    fn generated_pairs_are_valid_and_consistent() {
        let pairs = generate_dates(10_000, 42);
        let mut format_counts = [0usize; Format::ALL.len()];
        let (mut min_year, mut max_year) = (i32::MAX, i32::MIN);
        for pair in &pairs {
            assert_eq!(pair.iso.len(), ISO_LEN);
            assert!(pair.human.len() <= MAX_HUMAN_LEN, "{pair:?}");
            assert!(
                pair.human.bytes().all(|b| (0x20..=0x7e).contains(&b)),
                "{pair:?}"
            );
            let d = parse_iso(&pair.iso);
            assert!((FIRST_YEAR..=LAST_YEAR).contains(&d.year), "{pair:?}");
            assert!((1..=12).contains(&d.month), "{pair:?}");
            assert!(
                d.day >= 1 && d.day <= reference_month_len(d.year, d.month),
                "{pair:?}"
            );
            min_year = min_year.min(d.year);
            max_year = max_year.max(d.year);
            let matching: Vec<usize> = (0..Format::ALL.len())
                .filter(|&f| Format::ALL[f].render(d) == pair.human)
                .collect();
            assert_eq!(matching.len(), 1, "{pair:?}");
            format_counts[matching[0]] += 1;
        }
        assert_eq!((min_year, max_year), (FIRST_YEAR, LAST_YEAR));
        // Expected 625 per format; binomial sd about 24.
        for (format, count) in Format::ALL.iter().zip(format_counts) {
            assert!(
                (500..=750).contains(&count),
                "{format:?} used {count} times"
            );
        }
    }
}
