//! How the service commands write a finding and a time, in one place: `status`, `alerts`, `ack`,
//! `channels` and `export` all go through these functions, so that a location or a time reads the
//! same wherever it is printed (and the same as in the alerts the offices receive).

use nianbao_proto::v1::Finding;

/// `第三部分，单元格 R24（自然人列），第57行`, as `nianbao check` and the alerts write it; empty
/// when the finding has no location (a cross-report rule such as `report-changed`).
pub fn location(f: &Finding) -> String {
    nianbao_model::StoredFinding::from(f).location()
}

/// The severity word an official reads; an unknown word (a newer validator's) counts as a warning,
/// as notification counts it.
pub fn severity_zh(s: &str) -> &'static str {
    match s {
        "error" => "错误",
        "info" => "提示",
        _ => "警告",
    }
}

/// Errors first, then warnings, then notes (the order of `nianbao check` and of the alerts).
pub fn severity_rank(s: &str) -> u8 {
    match s {
        "error" => 0,
        "info" => 2,
        _ => 1,
    }
}

/// `[错误] …（第三部分，单元格 R24（自然人列），第57行）[t3-balance]`: a finding the way the
/// alerts list it (notification's `alert::finding_line`, without the number); no brackets when the
/// finding has no location.
pub fn finding_line(f: &Finding) -> String {
    let loc = location(f);
    let msg = f.message.trim().trim_end_matches(['。', '；', ';']);
    let mut s = format!("[{}] {msg}", severity_zh(&f.severity));
    if !loc.is_empty() {
        s.push_str(&format!("（{loc}）"));
    }
    s.push_str(&format!("[{}]", f.rule));
    s
}

/// China's offset from UTC: the reports, deadlines and offices are all on China time.
const CHINA_OFFSET_SECS: i64 = 8 * 3600;

/// `2025-02-01 08:00 +08:00`: a time in China time, with its offset so that nobody reads it as
/// their own zone; empty for 0 (never).
pub fn datetime(ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    format!("{} +08:00", china_minutes(ms))
}

/// `2025-02-01`, the date in China time; empty for 0.
pub fn date(ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    let s = china_minutes(ms);
    s.split(' ').next().unwrap_or_default().to_string()
}

/// `2025-02-01 08:00` in China time (no offset written).
fn china_minutes(ms: i64) -> String {
    let secs = ms.div_euclid(1000) + CHINA_OFFSET_SECS;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_china_time_with_the_offset() {
        assert_eq!(datetime(0), "");
        assert_eq!(datetime(1_738_339_199_000), "2025-01-31 23:59 +08:00");
        assert_eq!(datetime(1_738_339_200_000), "2025-02-01 00:00 +08:00");
        assert_eq!(date(1_738_339_200_000), "2025-02-01");
        assert_eq!(date(0), "");
    }

    #[test]
    fn a_finding_without_a_location_has_no_empty_brackets() {
        let f = Finding {
            rule: "report-changed".into(),
            severity: "info".into(),
            message: "报告已更改。".into(),
            ..Default::default()
        };
        assert_eq!(finding_line(&f), "[提示] 报告已更改[report-changed]");
        let g = Finding {
            rule: "t3-balance".into(),
            severity: "error".into(),
            message: "不平衡".into(),
            part: Some(3),
            cell: Some("R24".into()),
            column: Some(0),
            line: Some(57),
            ..Default::default()
        };
        assert_eq!(
            finding_line(&g),
            "[错误] 不平衡（第三部分，单元格 R24（自然人列），第57行）[t3-balance]"
        );
    }
}
