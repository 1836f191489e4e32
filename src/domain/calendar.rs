//! A department's business-hours calendar: weekly opening intervals in the department's own
//! IANA time zone, plus holidays on which it stays closed.
//!
//! Rules, chosen to match how a contact centre writes its hours:
//! - an interval is `["HH:MM","HH:MM"]`, start inclusive, end exclusive; `"24:00"` ends a day;
//! - an interval whose end is earlier than its start crosses midnight (`["22:00","02:00"]` is
//!   open from 22:00 until 02:00 the next morning) and belongs to the day it starts on;
//! - a holiday (a local date) closes every interval that *starts* on it, so the early-morning
//!   tail of the previous night's shift still runs;
//! - the instant is converted to local time first, so daylight-saving changes need no special
//!   case: local times skipped in spring never occur, repeated ones in autumn are open or closed
//!   by the same wall-clock rule.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// The wire form of the weekly hours: `{"mon": [["09:00","18:00"]], …}`. A missing day is closed.
pub type WeeklyHoursSpec = BTreeMap<String, Vec<[String; 2]>>;

const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MINUTES_PER_DAY: u16 = 24 * 60;

/// Why a calendar could not be built; the message names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("timezone: unknown IANA time zone {0:?}")]
    UnknownTimeZone(String),
    #[error("business_hours: unknown day {0:?} (expected mon, tue, wed, thu, fri, sat or sun)")]
    UnknownDay(String),
    #[error("business_hours.{day}[{index}]: {problem}")]
    BadInterval {
        day: String,
        index: usize,
        problem: String,
    },
    #[error("holidays[{index}]: {value:?} is not a date in YYYY-MM-DD form")]
    BadHoliday { index: usize, value: String },
}

/// One opening interval in minutes after local midnight. `end <= start` means it crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interval {
    start: u16,
    end: u16,
}

impl Interval {
    fn crosses_midnight(self) -> bool {
        self.end <= self.start
    }
}

/// A validated calendar. Build it with [`Calendar::parse`].
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: Tz,
    /// Indexed by `Weekday::num_days_from_monday()`.
    week: [Vec<Interval>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// Validates the wire form. Every problem is reported with the field that caused it.
    pub fn parse(
        timezone: &str,
        hours: &WeeklyHoursSpec,
        holidays: &[String],
    ) -> Result<Self, CalendarError> {
        let tz: Tz = timezone
            .parse()
            .map_err(|_| CalendarError::UnknownTimeZone(timezone.to_owned()))?;
        let mut week: [Vec<Interval>; 7] = Default::default();
        for (day, intervals) in hours {
            let slot = DAY_KEYS
                .iter()
                .position(|k| k == day)
                .ok_or_else(|| CalendarError::UnknownDay(day.clone()))?;
            for (index, [start, end]) in intervals.iter().enumerate() {
                let bad = |problem: String| CalendarError::BadInterval {
                    day: day.clone(),
                    index,
                    problem,
                };
                let start = parse_clock(start).map_err(|p| bad(format!("start {p}")))?;
                let end = parse_clock(end).map_err(|p| bad(format!("end {p}")))?;
                if start == MINUTES_PER_DAY {
                    return Err(bad("start 24:00 is not a start of anything".into()));
                }
                if start == end {
                    return Err(bad("start and end are equal".into()));
                }
                week[slot].push(Interval { start, end });
            }
        }
        let holidays = holidays
            .iter()
            .enumerate()
            .map(|(index, value)| {
                NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
                    CalendarError::BadHoliday {
                        index,
                        value: value.clone(),
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { tz, week, holidays })
    }

    /// A calendar that is always open, in UTC.
    pub fn always_open() -> Self {
        let all_day = vec![Interval {
            start: 0,
            end: MINUTES_PER_DAY,
        }];
        Self {
            tz: Tz::UTC,
            week: std::array::from_fn(|_| all_day.clone()),
            holidays: BTreeSet::new(),
        }
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Whether the department is open at `instant`.
    pub fn is_open(&self, instant: DateTime<Utc>) -> bool {
        let local = instant.with_timezone(&self.tz);
        let today = local.date_naive();
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let open_today = !self.holidays.contains(&today)
            && self
                .intervals(today.weekday())
                .iter()
                .any(|iv| minute >= iv.start && (iv.crosses_midnight() || minute < iv.end));
        if open_today {
            return true;
        }
        let yesterday = today - Duration::days(1);
        !self.holidays.contains(&yesterday)
            && self
                .intervals(yesterday.weekday())
                .iter()
                .any(|iv| iv.crosses_midnight() && minute < iv.end)
    }

    fn intervals(&self, day: Weekday) -> &[Interval] {
        &self.week[day.num_days_from_monday() as usize]
    }
}

/// Parses `HH:MM` (00:00 to 24:00) into minutes after midnight.
fn parse_clock(text: &str) -> Result<u16, String> {
    let invalid = || format!("{text:?} is not a time in HH:MM form (00:00 to 24:00)");
    let (h, m) = text.split_once(':').ok_or_else(invalid)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(invalid());
    }
    let h: u16 = h.parse().map_err(|_| invalid())?;
    let m: u16 = m.parse().map_err(|_| invalid())?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(invalid());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn hours(pairs: &[(&str, &[(&str, &str)])]) -> WeeklyHoursSpec {
        pairs
            .iter()
            .map(|(day, ivs)| {
                (
                    day.to_string(),
                    ivs.iter()
                        .map(|(a, b)| [a.to_string(), b.to_string()])
                        .collect(),
                )
            })
            .collect()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    const WEEKDAYS_9_18: &[(&str, &[(&str, &str)])] = &[
        ("mon", &[("09:00", "18:00")]),
        ("tue", &[("09:00", "18:00")]),
        ("wed", &[("09:00", "18:00")]),
        ("thu", &[("09:00", "18:00")]),
        ("fri", &[("09:00", "18:00")]),
    ];

    #[test]
    fn open_inside_interval_closed_outside_and_at_end() {
        // Buenos Aires is UTC-3 all year.
        let cal =
            Calendar::parse("America/Argentina/Buenos_Aires", &hours(WEEKDAYS_9_18), &[]).unwrap();
        // Wednesday 2026-11-25.
        assert!(!cal.is_open(utc(2026, 11, 25, 11, 59))); // 08:59 local
        assert!(cal.is_open(utc(2026, 11, 25, 12, 0))); // 09:00 local
        assert!(cal.is_open(utc(2026, 11, 25, 20, 59))); // 17:59 local
        assert!(!cal.is_open(utc(2026, 11, 25, 21, 0))); // 18:00 local: end is exclusive
        // Saturday is missing: closed all day.
        assert!(!cal.is_open(utc(2026, 11, 28, 15, 0)));
    }

    #[test]
    fn interval_across_midnight_belongs_to_its_start_day() {
        let cal = Calendar::parse("UTC", &hours(&[("fri", &[("22:00", "02:00")])]), &[]).unwrap();
        assert!(!cal.is_open(utc(2026, 11, 27, 21, 59))); // Fri 21:59
        assert!(cal.is_open(utc(2026, 11, 27, 23, 30))); // Fri 23:30
        assert!(cal.is_open(utc(2026, 11, 28, 1, 59))); // Sat 01:59, tail of Friday's shift
        assert!(!cal.is_open(utc(2026, 11, 28, 2, 0))); // Sat 02:00
        assert!(!cal.is_open(utc(2026, 11, 28, 23, 0))); // Sat night: no shift starts Saturday
    }

    #[test]
    fn holidays_close_shifts_that_start_on_them_only() {
        let cal = Calendar::parse(
            "UTC",
            &hours(&[
                ("thu", &[("22:00", "02:00")]),
                ("fri", &[("09:00", "18:00"), ("22:00", "02:00")]),
            ]),
            &["2026-11-27".into()],
        )
        .unwrap();
        // Friday 2026-11-27 is a holiday.
        assert!(cal.is_open(utc(2026, 11, 27, 1, 0))); // Thursday's shift still runs
        assert!(!cal.is_open(utc(2026, 11, 27, 10, 0)));
        assert!(!cal.is_open(utc(2026, 11, 27, 23, 0)));
        assert!(!cal.is_open(utc(2026, 11, 28, 1, 0))); // tail of the cancelled Friday shift
    }

    #[test]
    fn daylight_saving_follows_wall_clock() {
        // Madrid: CET (UTC+1) in winter, CEST (UTC+2) in summer; 2026-03-29 springs forward.
        let cal = Calendar::parse(
            "Europe/Madrid",
            &hours(&[
                ("sat", &[("09:00", "18:00")]),
                ("sun", &[("01:00", "05:00")]),
            ]),
            &[],
        )
        .unwrap();
        assert!(cal.is_open(utc(2026, 3, 28, 8, 0))); // Sat 09:00 CET
        assert!(!cal.is_open(utc(2026, 3, 28, 7, 59))); // Sat 08:59 CET
        // Sunday 29 March: 02:00 CET jumps to 03:00 CEST.
        assert!(cal.is_open(utc(2026, 3, 29, 0, 30))); // 01:30 CET
        assert!(cal.is_open(utc(2026, 3, 29, 1, 0))); // 03:00 CEST (02:xx never happens)
        assert!(cal.is_open(utc(2026, 3, 29, 2, 59))); // 04:59 CEST
        assert!(!cal.is_open(utc(2026, 3, 29, 3, 0))); // 05:00 CEST
        // After the change Saturday hours are two hours ahead of UTC.
        assert!(cal.is_open(utc(2026, 4, 4, 7, 0))); // Sat 09:00 CEST
        assert!(!cal.is_open(utc(2026, 4, 4, 6, 59)));
    }

    #[test]
    fn repeated_hour_in_autumn_is_open_both_times() {
        // New York falls back on 2026-11-01: 01:00-02:00 local happens twice.
        let cal = Calendar::parse(
            "America/New_York",
            &hours(&[("sun", &[("01:00", "02:00")])]),
            &[],
        )
        .unwrap();
        assert!(cal.is_open(utc(2026, 11, 1, 5, 30))); // 01:30 EDT
        assert!(cal.is_open(utc(2026, 11, 1, 6, 30))); // 01:30 EST
        assert!(!cal.is_open(utc(2026, 11, 1, 7, 0))); // 02:00 EST
    }

    #[test]
    fn time_zone_far_from_utc_changes_the_local_day() {
        // Kiritimati is UTC+14: Monday 09:00 local is Sunday 19:00 UTC.
        let cal = Calendar::parse(
            "Pacific/Kiritimati",
            &hours(&[("mon", &[("09:00", "10:00")])]),
            &[],
        )
        .unwrap();
        assert!(cal.is_open(utc(2026, 11, 29, 19, 0))); // Sunday in UTC
        assert!(!cal.is_open(utc(2026, 11, 30, 9, 30))); // Monday 09:30 UTC is Monday 23:30 local
    }

    #[test]
    fn full_day_intervals_mean_always_open() {
        let all: Vec<(&str, &[(&str, &str)])> = DAY_KEYS
            .iter()
            .map(|d| (*d, &[("00:00", "24:00")][..]))
            .collect();
        let cal = Calendar::parse("Asia/Tokyo", &hours(&all), &[]).unwrap();
        for h in 0..24 {
            assert!(cal.is_open(utc(2026, 11, 25, h, 17)));
        }
        assert!(Calendar::always_open().is_open(utc(2026, 1, 1, 0, 0)));
    }

    #[test]
    fn bad_input_names_the_field() {
        let err = Calendar::parse("Mars/Olympus", &hours(&[]), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "timezone: unknown IANA time zone \"Mars/Olympus\""
        );
        let err = Calendar::parse("UTC", &hours(&[("monday", &[])]), &[]).unwrap_err();
        assert!(err.to_string().contains("\"monday\""));
        let err =
            Calendar::parse("UTC", &hours(&[("tue", &[("09:00", "25:00")])]), &[]).unwrap_err();
        assert!(
            err.to_string().starts_with("business_hours.tue[0]: end"),
            "{err}"
        );
        let err =
            Calendar::parse("UTC", &hours(&[("tue", &[("9:00", "10:00")])]), &[]).unwrap_err();
        assert!(
            err.to_string().starts_with("business_hours.tue[0]: start"),
            "{err}"
        );
        let err =
            Calendar::parse("UTC", &hours(&[("tue", &[("10:00", "10:00")])]), &[]).unwrap_err();
        assert!(err.to_string().contains("equal"));
        let err = Calendar::parse("UTC", &hours(&[]), &["2026-13-01".into()]).unwrap_err();
        assert_eq!(
            err,
            CalendarError::BadHoliday {
                index: 0,
                value: "2026-13-01".into()
            }
        );
    }
}
