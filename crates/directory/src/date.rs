//! Calendar dates in China Standard Time (UTC+8, no daylight saving), and yearly month-days.
//!
//! They live with the directory because the directory's deadlines are month-days and
//! [`Directory::deadline`](crate::Directory::deadline) answers with a [`Date`]; the services read
//! "now" from their own clocks and turn it into a date here ([`Date::from_ms_cst`]).

use std::fmt;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// China Standard Time is UTC+8 all year.
const CST_OFFSET_MS: i64 = 8 * HOUR_MS;

/// A calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Date {
    /// `2026年1月31日`.
    pub fn chinese(&self) -> String {
        format!("{}年{}月{}日", self.year, self.month, self.day)
    }

    /// A valid date, or `None`.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let d = Date { year, month, day };
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)).then_some(d)
    }

    /// `YYYY-MM-DD` (also `YYYY/MM/DD`, `YYYY.MM.DD`, `YYYY年M月D日`).
    pub fn parse(s: &str) -> Option<Date> {
        let s = s.trim().trim_end_matches('日');
        let parts: Vec<&str> = s.split(['-', '/', '.', '年', '月']).collect();
        match parts.as_slice() {
            [y, m, d] => Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?),
            _ => None,
        }
    }

    /// The date in China at `ms`.
    pub fn from_ms_cst(ms: i64) -> Date {
        civil_from_days((ms + CST_OFFSET_MS).div_euclid(DAY_MS))
    }

    /// Midnight at the start of this date in China, in Unix milliseconds.
    pub fn start_ms_cst(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * DAY_MS - CST_OFFSET_MS
    }

    /// The first moment after this date has ended in China (a deadline "by 1月31日" has passed at
    /// 2月1日 00:00 Beijing time).
    pub fn end_ms_cst(&self) -> i64 {
        self.start_ms_cst() + DAY_MS
    }
}

/// A month and day without a year (`01-31`): a yearly deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonthDay {
    pub month: u32,
    pub day: u32,
}

impl MonthDay {
    /// `MM-DD` (also `M月D日`).
    pub fn parse(s: &str) -> Option<MonthDay> {
        let s = s.trim().trim_end_matches('日');
        let (m, d) = s.split_once(['-', '月'])?;
        let (month, day): (u32, u32) = (m.trim().parse().ok()?, d.trim().parse().ok()?);
        // 2000 is a leap year: 02-29 is accepted and clamped in other years.
        Date::new(2000, month, day).map(|_| MonthDay { month, day })
    }

    /// This month-day in `year` (02-29 becomes 02-28 in a common year).
    pub fn in_year(&self, year: i32) -> Date {
        let day = self.day.min(days_in_month(year, self.month));
        Date {
            year,
            month: self.month,
            day,
        }
    }
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = y + i64::from(m <= 2);
    Date {
        year: i32::try_from(y).unwrap_or(i32::MAX),
        month: u32::try_from(m).unwrap_or(1),
        day: u32::try_from(d).unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_in_china_time() {
        // 2026-01-31 16:00 UTC is already 2026-02-01 00:00 in Beijing.
        let d = Date::new(2026, 1, 31).unwrap();
        assert_eq!(d.end_ms_cst(), 1_769_875_200_000);
        assert_eq!(Date::from_ms_cst(d.end_ms_cst() - 1), d);
        assert_eq!(
            Date::from_ms_cst(d.end_ms_cst()),
            Date::new(2026, 2, 1).unwrap()
        );
        for days in [-800_000i64, -1, 0, 1, 11_000, 20_454, 800_000] {
            let date = civil_from_days(days);
            assert_eq!(
                days_from_civil(date.year, date.month, date.day),
                days,
                "{date}"
            );
        }
        assert_eq!(Date::from_ms_cst(0).to_string(), "1970-01-01");
    }

    #[test]
    fn parsing() {
        assert_eq!(Date::parse("2025-03-31"), Date::new(2025, 3, 31));
        assert_eq!(Date::parse("2025年3月31日"), Date::new(2025, 3, 31));
        assert_eq!(Date::parse("2025-02-30"), None);
        assert_eq!(Date::parse(""), None);
        let md = MonthDay::parse("01-31").unwrap();
        assert_eq!(md.in_year(2026).chinese(), "2026年1月31日");
        assert_eq!(MonthDay::parse("3月31日").unwrap().to_string(), "03-31");
        assert_eq!(
            MonthDay::parse("02-29").unwrap().in_year(2025),
            Date::new(2025, 2, 28).unwrap()
        );
        assert!(MonthDay::parse("13-01").is_none());
    }
}
