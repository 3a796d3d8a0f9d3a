//! The offices' commands: `alerts` (the inbox), `ack`, `channels` (delivery health) and `export`
//! (an office's open findings as CSV or XLSX: the draft of a 通报 to open in Excel).

use crate::client::notification;
use crate::text::{datetime, location, severity_zh};
use anyhow::{Context, Result, bail};
use nianbao_proto::v1::{AcknowledgeAlertRequest, Alert, ListAlertsRequest, ListChannelsRequest};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};
use std::io::Write;
use std::path::Path;

fn status_zh(s: &str) -> &'static str {
    match s {
        "open" => "待处理",
        "acknowledged" => "已确认",
        "resolved" => "已关闭",
        _ => "未知",
    }
}

fn kind_zh(k: &str) -> &'static str {
    match k {
        "findings" => "问题",
        "resolution" => "整改",
        "escalation" => "督办",
        "report-missing" => "未报送",
        _ => "其他",
    }
}

fn print_alert(a: &Alert, out: &mut impl Write) -> Result<()> {
    let year = if a.year > 0 {
        format!("{}年度", a.year)
    } else {
        "年度未识别".to_string()
    };
    writeln!(
        out,
        "告警 {}  [{}·{}]  {}（{}） ← {} {year}",
        a.alert_id,
        kind_zh(&a.kind),
        status_zh(&a.status),
        a.office_name,
        a.office_id,
        a.agency,
    )?;
    for line in a.message.lines() {
        writeln!(out, "    {line}")?;
    }
    if a.acknowledged_at_ms > 0 {
        writeln!(
            out,
            "    确认：{} {}",
            a.acknowledged_by,
            datetime(a.acknowledged_at_ms)
        )?;
    }
    Ok(())
}

/// Every alert matching the filters (all pages).
async fn list_all(
    url: &str,
    office: Option<String>,
    status: Option<String>,
    kind: Option<String>,
) -> Result<Vec<Alert>> {
    let mut client = notification(url).await?;
    let mut all = Vec::new();
    loop {
        let resp = client
            .list_alerts(ListAlertsRequest {
                office_id: office.clone(),
                status: status.clone(),
                kind: kind.clone(),
                limit: 1000,
                offset: u32::try_from(all.len()).unwrap_or(u32::MAX),
            })
            .await
            .map_err(|s| anyhow::anyhow!("{}", s.message()))?
            .into_inner();
        let n = resp.alerts.len();
        all.extend(resp.alerts);
        if n == 0 || all.len() as u64 >= resp.total {
            return Ok(all);
        }
    }
}

/// The alert statuses and kinds the notification service knows (`ListAlerts` refuses others).
pub const STATUSES: &[&str] = &["open", "acknowledged", "resolved"];
pub const KINDS: &[&str] = &["findings", "resolution", "escalation", "report-missing"];

/// `value` when it is one of `allowed`; an unknown value is an error (exit status 2) rather than an
/// empty list that reads as "nothing to do".
fn one_of(field: &str, value: Option<String>, allowed: &[&str]) -> Result<Option<String>> {
    match value.map(|v| v.trim().to_string()) {
        Some(v) if !allowed.contains(&v.as_str()) => bail!(
            "--{field} 取值无效：{v:?}（可用：{list}）/ unknown {field} {v:?} (one of {list})",
            list = allowed.join(", ")
        ),
        other => Ok(other),
    }
}

/// Checks `--office` against the directory file when one is given (`--directory` or
/// `$NIANBAO_DIRECTORY`). Without one the service checks it against its own directory (it refuses
/// an office its directory does not name; a service run without a directory cannot tell).
fn known_office(office: Option<&str>, directory: Option<&Path>) -> Result<()> {
    let (Some(id), Some(path)) = (office, directory) else {
        return Ok(());
    };
    let dir = nianbao_directory::Directory::load(path)
        .with_context(|| format!("cannot load the directory {}", path.display()))?;
    if dir.office(id.trim()).is_none() {
        bail!(
            "目录中没有编号为 {id} 的政务公开办 / no office {id} in the directory {}",
            path.display()
        );
    }
    Ok(())
}

/// Alerts in an order that does not depend on when the pipeline happened to handle each report:
/// by office, agency and year, then oldest first (a resolution after the alert it closes), then id.
pub fn sort_alerts(list: &mut [Alert]) {
    list.sort_by(|a, b| {
        (
            &a.office_id,
            &a.agency,
            a.year,
            a.created_at_ms,
            &a.alert_id,
        )
            .cmp(&(
                &b.office_id,
                &b.agency,
                b.year,
                b.created_at_ms,
                &b.alert_id,
            ))
    });
}

pub struct AlertsArgs {
    pub office: Option<String>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub json: bool,
    pub directory: Option<std::path::PathBuf>,
}

pub async fn alerts(url: &str, a: AlertsArgs, out: &mut impl Write) -> Result<()> {
    let status = one_of("status", a.status, STATUSES)?;
    let kind = one_of("kind", a.kind, KINDS)?;
    known_office(a.office.as_deref(), a.directory.as_deref())?;
    let mut list = list_all(url, a.office, status, kind).await?;
    sort_alerts(&mut list);
    for al in &list {
        if a.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"alert_id": al.alert_id, "office_id": al.office_id, "office_name": al.office_name,
                    "report_id": al.report_id, "agency": al.agency, "year": al.year, "status": al.status,
                    "kind": al.kind, "message": al.message, "findings": al.findings.len(),
                    "source_alert_id": al.source_alert_id, "created_at_ms": al.created_at_ms,
                    "escalated_at_ms": al.escalated_at_ms, "resolved_at_ms": al.resolved_at_ms})
            )?;
        } else {
            print_alert(al, out)?;
        }
    }
    if !a.json {
        writeln!(out, "共 {} 条告警", list.len())?;
    }
    Ok(())
}

/// What `ack` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Acked {
    /// The acknowledgement was recorded under the caller's credential.
    Now,
    /// Someone had acknowledged the alert before: theirs stands, the caller's was not recorded.
    Before,
    /// The alert is closed (a corrected version arrived): there is nothing to acknowledge.
    Resolved,
}

/// The alert `id` as the caller may see it, if it is acknowledged (looked for among the caller's
/// acknowledged alerts: `ListAlerts` has no lookup by id).
async fn acknowledged_alert(url: &str, id: &str) -> Result<Option<Alert>> {
    let list = list_all(url, None, Some("acknowledged".into()), None).await?;
    Ok(list.into_iter().find(|a| a.alert_id == id))
}

/// Acknowledges alert `id` as the caller's credential (the service records who, from where, and
/// `note`). An alert acknowledged before keeps its first acknowledgement (the service records the
/// attempt in its audit); the caller is told who acknowledged it and when ([`Acked::Before`]).
pub async fn ack(url: &str, id: &str, note: &str, out: &mut impl Write) -> Result<Acked> {
    let id = id.trim();
    if let Some(before) = acknowledged_alert(url, id).await? {
        print_alert(&before, out)?;
        writeln!(
            out,
            "该告警已由 {} 于 {} 确认，本次未重复确认 / alert {id} was already acknowledged by {} at {}; yours was not recorded",
            before.acknowledged_by,
            datetime(before.acknowledged_at_ms),
            before.acknowledged_by,
            datetime(before.acknowledged_at_ms),
        )?;
        return Ok(Acked::Before);
    }
    let mut client = notification(url).await?;
    let a = client
        .acknowledge_alert(AcknowledgeAlertRequest {
            alert_id: id.to_string(),
            acknowledged_by: String::new(),
            note: note.to_string(),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{id}: {}", s.message()))?
        .into_inner();
    print_alert(&a, out)?;
    if a.status != "acknowledged" {
        writeln!(
            out,
            "该告警已关闭（{}），无需确认 / alert {id} is {}; there is nothing to acknowledge",
            status_zh(&a.status),
            a.status
        )?;
        return Ok(Acked::Resolved);
    }
    Ok(Acked::Now)
}

/// `nianbao channels`: every channel's deliveries; exit status 1 when one is failing.
pub async fn channels(url: &str, json: bool, out: &mut impl Write) -> Result<bool> {
    let mut client = notification(url).await?;
    let resp = client
        .list_channels(ListChannelsRequest {})
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner();
    let mut failing = false;
    for c in &resp.channels {
        failing |= c.failing;
        if json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"channel": c.channel, "delivered": c.delivered, "failed": c.failed,
                    "gave_up": c.gave_up, "pending": c.pending, "consecutive_failures": c.consecutive_failures,
                    "last_error": c.last_error, "last_delivered_ms": c.last_delivered_ms,
                    "last_failed_ms": c.last_failed_ms, "failing": c.failing})
            )?;
            continue;
        }
        let state = if c.failing { "故障" } else { "正常" };
        writeln!(
            out,
            "[{state}] {}  送达 {}  失败重试 {}  放弃 {}  进行中 {}  连续失败 {}",
            c.channel, c.delivered, c.failed, c.gave_up, c.pending, c.consecutive_failures
        )?;
        if !c.last_error.is_empty() {
            writeln!(
                out,
                "    最近错误（{}）：{}",
                datetime(c.last_failed_ms),
                c.last_error
            )?;
        }
    }
    if resp.channels.is_empty() && !json {
        writeln!(out, "尚无投递记录")?;
    }
    Ok(failing)
}

/// One row of the export: one finding of one open alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub agency: String,
    pub year: i32,
    pub severity: String,
    pub rule: String,
    pub message: String,
    pub location: String,
    pub expected: String,
    pub actual: String,
    pub alert_id: String,
    pub status: String,
    pub created: String,
}

pub const HEADER: [&str; 12] = [
    "序号",
    "机关",
    "年度",
    "严重程度",
    "规则",
    "问题",
    "位置",
    "应为",
    "实为",
    "告警编号",
    "告警状态",
    "告警时间",
];

/// The open findings of an office: every finding of its alerts that are not closed (resolution
/// messages carry none), by agency and year, errors first; `year` keeps one reporting year.
pub fn rows(alerts: &[Alert], year: Option<i32>) -> Vec<Row> {
    let mut out = Vec::new();
    for a in alerts {
        if a.status == "resolved" || a.kind == "resolution" || year.is_some_and(|y| a.year != y) {
            continue;
        }
        for f in &a.findings {
            out.push(Row {
                agency: a.agency.clone(),
                year: a.year,
                severity: severity_zh(&f.severity).to_string(),
                rule: f.rule.clone(),
                message: f.message.trim().to_string(),
                location: location(f),
                expected: f.expected.clone().unwrap_or_default(),
                actual: f.actual.clone().unwrap_or_default(),
                alert_id: a.alert_id.clone(),
                status: status_zh(&a.status).to_string(),
                created: datetime(a.created_at_ms),
            });
        }
    }
    let rank = |s: &str| match s {
        "错误" => 0,
        "警告" => 1,
        _ => 2,
    };
    out.sort_by(|a, b| {
        (a.agency.as_str(), a.year, rank(&a.severity)).cmp(&(
            b.agency.as_str(),
            b.year,
            rank(&b.severity),
        ))
    });
    out
}

fn fields(i: usize, r: &Row) -> [String; 12] {
    [
        (i + 1).to_string(),
        r.agency.clone(),
        if r.year > 0 {
            r.year.to_string()
        } else {
            String::new()
        },
        r.severity.clone(),
        r.rule.clone(),
        r.message.clone(),
        r.location.clone(),
        r.expected.clone(),
        r.actual.clone(),
        r.alert_id.clone(),
        r.status.clone(),
        r.created.clone(),
    ]
}

/// A CSV cell: neutralised ([`inert_cell`]), then quoted where RFC 4180 needs it.
fn csv_field(s: &str) -> String {
    let s = inert_cell(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// The cell as Excel may read it from a CSV file without evaluating it: agency names and finding
/// texts come from the reports, and a cell that starts with `=`, `+`, `-`, `@`, a tab or a line
/// break (after spaces) is a formula to Excel (`=HYPERLINK(…)`, DDE). Such a cell gets a leading
/// `'`, which Excel shows as text; a plain number (`-1`) is left alone, it evaluates to itself.
fn inert_cell(s: &str) -> std::borrow::Cow<'_, str> {
    let risky = s
        .trim_start_matches(' ')
        .starts_with(['=', '+', '-', '@', '\t', '\r', '\n']);
    let number = s.parse::<f64>().is_ok_and(f64::is_finite)
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    if risky && !number {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// CSV (RFC 4180, CRLF) in UTF-8 with a byte-order mark, which Excel needs to read Chinese.
pub fn to_csv(rows: &[Row]) -> Vec<u8> {
    let mut s = String::from("\u{feff}");
    s.push_str(&HEADER.map(csv_field).join(","));
    s.push_str("\r\n");
    for (i, r) in rows.iter().enumerate() {
        s.push_str(&fields(i, r).map(|f| csv_field(&f)).join(","));
        s.push_str("\r\n");
    }
    s.into_bytes()
}

/// The XLSX 通报 draft: a title, a summary line, the table with a header row, filters and frozen
/// panes, column widths for Chinese text.
pub fn write_xlsx(path: &Path, office: &str, rows: &[Row], today: &str) -> Result<()> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("问题清单")?;
    let title = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center);
    let head = Format::new()
        .set_bold()
        .set_background_color("#D9E1F2")
        .set_border(FormatBorder::Thin)
        .set_text_wrap();
    let cell = Format::new()
        .set_border(FormatBorder::Thin)
        .set_text_wrap()
        .set_align(FormatAlign::Top);
    let last_col = u16::try_from(HEADER.len() - 1).unwrap_or(11);
    ws.merge_range(
        0,
        0,
        0,
        last_col,
        &format!("{office} 政府信息公开工作年度报告问题清单（通报草稿）"),
        &title,
    )?;
    let agencies: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.agency.as_str()).collect();
    let errors = rows.iter().filter(|r| r.severity == "错误").count();
    ws.merge_range(
        1,
        0,
        1,
        last_col,
        &format!(
            "截至 {today}，{} 个机关共 {} 项问题（错误 {errors} 项），均为未关闭告警。",
            agencies.len(),
            rows.len()
        ),
        &Format::new(),
    )?;
    for (c, h) in HEADER.iter().enumerate() {
        ws.write_string_with_format(2, u16::try_from(c).unwrap_or(0), *h, &head)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = u32::try_from(i + 3).context("too many rows for a worksheet")?;
        for (c, v) in fields(i, r).iter().enumerate() {
            let col = u16::try_from(c).unwrap_or(0);
            if (c == 0 || c == 2) && !v.is_empty() {
                let n: f64 = v.parse().unwrap_or(0.0);
                ws.write_number_with_format(row, col, n, &cell)?;
            } else {
                ws.write_string_with_format(row, col, v, &cell)?;
            }
        }
    }
    for (c, w) in [6, 28, 8, 10, 22, 60, 30, 10, 10, 30, 10, 18]
        .iter()
        .enumerate()
    {
        ws.set_column_width(u16::try_from(c).unwrap_or(0), *w)?;
    }
    ws.set_freeze_panes(3, 0)?;
    let last_row = u32::try_from(rows.len() + 2).unwrap_or(u32::MAX);
    ws.autofilter(2, 0, last_row, last_col)?;
    wb.save(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub struct ExportArgs {
    pub office: String,
    pub directory: Option<std::path::PathBuf>,
    pub year: Option<i32>,
    pub out: std::path::PathBuf,
    pub format: Option<String>,
}

/// `nianbao export`: the office's open findings to CSV or XLSX (by `--format`, else the file's
/// extension).
pub async fn export(url: &str, a: ExportArgs, out: &mut impl Write) -> Result<()> {
    let format = match a.format.as_deref() {
        Some(f) => f.to_ascii_lowercase(),
        None => a
            .out
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default(),
    };
    if format != "csv" && format != "xlsx" {
        bail!("give --format csv|xlsx or an output file ending in .csv or .xlsx");
    }
    known_office(Some(&a.office), a.directory.as_deref())?;
    let mut alerts = list_all(url, Some(a.office.clone()), Some("open".into()), None).await?;
    alerts.extend(
        list_all(
            url,
            Some(a.office.clone()),
            Some("acknowledged".into()),
            None,
        )
        .await?,
    );
    sort_alerts(&mut alerts);
    let office_name = alerts
        .first()
        .map_or_else(|| a.office.clone(), |al| al.office_name.clone());
    let rows = rows(&alerts, a.year);
    if format == "csv" {
        std::fs::write(&a.out, to_csv(&rows))
            .with_context(|| format!("cannot write {}", a.out.display()))?;
    } else {
        write_xlsx(&a.out, &office_name, &rows, &crate::text::date(now_ms()))?;
    }
    writeln!(
        out,
        "{} 项问题（{} 条告警）已导出到 {}",
        rows.len(),
        alerts.len(),
        a.out.display()
    )?;
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use nianbao_proto::v1::Finding;

    fn alert(id: &str, agency: &str, status: &str, kind: &str, findings: Vec<Finding>) -> Alert {
        Alert {
            alert_id: id.into(),
            office_id: "390121".into(),
            office_name: "清河县人民政府办公室".into(),
            agency: agency.into(),
            year: 2024,
            status: status.into(),
            kind: kind.into(),
            findings,
            created_at_ms: 1_738_339_200_000,
            ..Default::default()
        }
    }

    fn f(sev: &str, rule: &str, msg: &str) -> Finding {
        Finding {
            rule: rule.into(),
            severity: sev.into(),
            message: msg.into(),
            part: Some(3),
            cell: Some("R24".into()),
            column: Some(0),
            expected: Some("41".into()),
            actual: Some("40".into()),
            line: Some(57),
        }
    }

    fn sample() -> Vec<Alert> {
        vec![
            alert(
                "al-1",
                "清河县财政局",
                "open",
                "findings",
                vec![
                    f("warning", "t3-carryover-high", "结转偏高"),
                    f("error", "t3-balance", "表三 \"自然人\" 列，不平衡"),
                ],
            ),
            alert(
                "al-2",
                "清河县审计局",
                "resolved",
                "findings",
                vec![f("error", "t3-balance", "x")],
            ),
            alert("al-3", "清河县财政局", "resolved", "resolution", vec![]),
            alert(
                "al-4",
                "清河县河西街道办事处",
                "acknowledged",
                "report-missing",
                vec![Finding {
                    rule: "report-missing".into(),
                    severity: "error".into(),
                    message: "截至2025年2月28日（街道报送期限）未收到2024年度报告".into(),
                    ..Default::default()
                }],
            ),
        ]
    }

    #[test]
    fn rows_keep_open_findings_by_agency_errors_first() {
        let r = rows(&sample(), None);
        let got: Vec<(&str, &str, &str)> = r
            .iter()
            .map(|r| (r.agency.as_str(), r.severity.as_str(), r.rule.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("清河县河西街道办事处", "错误", "report-missing"),
                ("清河县财政局", "错误", "t3-balance"),
                ("清河县财政局", "警告", "t3-carryover-high"),
            ]
        );
        assert_eq!(r[1].location, "第三部分，单元格 R24（自然人列），第57行");
        assert_eq!(r[1].created, "2025-02-01 00:00 +08:00");
        assert_eq!(r[0].status, "已确认");
        assert!(rows(&sample(), Some(2023)).is_empty());
    }

    #[test]
    fn csv_has_a_bom_a_header_and_quoted_fields() {
        let csv = String::from_utf8(to_csv(&rows(&sample(), None))).unwrap();
        assert!(csv.starts_with("\u{feff}序号,机关,年度,严重程度,规则,问题,位置,应为,实为,告警编号,告警状态,告警时间\r\n"));
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines.len(), 5, "header, three rows, empty tail");
        assert_eq!(
            lines[2],
            "2,清河县财政局,2024,错误,t3-balance,\"表三 \"\"自然人\"\" 列，不平衡\",第三部分，单元格 R24（自然人列），第57行,41,40,al-1,待处理,2025-02-01 00:00 +08:00"
        );
    }

    /// Rows whose report texts Excel would take for formulas.
    fn formula_rows() -> Vec<Row> {
        let mut a = alert(
            "al-9",
            "=HYPERLINK(\"http://evil.example\",\"点此\")",
            "open",
            "findings",
            vec![
                f("error", "t3-balance", "+1+cmd|' /C calc'!A0"),
                f("error", "t3-balance", "-2+3"),
                f("error", "t3-balance", "@SUM(A1:A2)"),
                f("error", "t3-balance", "=1+1"),
            ],
        );
        a.findings[1].expected = Some("-1".into());
        a.findings[1].actual = Some("+3".into());
        rows(&[a], None)
    }

    #[test]
    fn csv_cells_that_excel_would_evaluate_are_text() {
        let csv = String::from_utf8(to_csv(&formula_rows())).unwrap();
        let mut messages = Vec::new();
        for line in csv.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
            // Every cell of a data row starts with a digit, a Chinese character, `'`, or a quote
            // followed by one of those; never with a formula character.
            assert!(line.starts_with(char::is_numeric), "{line:?}");
            assert!(line.contains(",\"'=HYPERLINK("), "{line:?}");
            messages.push(line.split(",t3-balance,").nth(1).unwrap().to_string());
        }
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("'+1+cmd|' /C calc'!A0,")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.starts_with("'-2+3,")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.starts_with("'@SUM(A1:A2),")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.starts_with("'=1+1,")),
            "{messages:?}"
        );
        // Whitespace in front does not hide a formula (the export trims messages, not agencies).
        assert_eq!(csv_field("\t=1+1"), "'\t=1+1");
        assert_eq!(csv_field("\r=1+1"), "\"'\r=1+1\"");
        assert_eq!(csv_field("  =1+1"), "'  =1+1");
        // Plain numbers stay numbers.
        assert!(csv.contains(",-1,+3,"), "{csv}");
        assert_eq!(inert_cell("-1.5"), "-1.5");
        assert_eq!(inert_cell("清河县财政局"), "清河县财政局");
        assert_eq!(inert_cell("-"), "'-");
    }

    #[test]
    fn xlsx_writes_formula_like_texts_as_strings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tongbao.xlsx");
        write_xlsx(&path, "清河县人民政府办公室", &formula_rows(), "2025-04-01").unwrap();
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut read = |name: &str| {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut s).unwrap();
            s
        };
        let sheet = read("xl/worksheets/sheet1.xml");
        let strings = read("xl/sharedStrings.xml");
        // Shared strings (t="s"), never formulas: Excel shows them as text.
        assert!(!sheet.contains("<f>") && !sheet.contains("<f "), "{sheet}");
        assert!(sheet.contains("t=\"s\""), "{sheet}");
        assert!(
            strings.contains("<t>=HYPERLINK(\"http://evil.example\""),
            "{strings}"
        );
        assert!(strings.contains("@SUM(A1:A2)"), "{strings}");
    }

    #[test]
    fn xlsx_is_a_workbook_with_the_rows() {
        let dir = std::env::temp_dir().join(format!("nianbao-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tongbao.xlsx");
        write_xlsx(
            &path,
            "清河县人民政府办公室",
            &rows(&sample(), None),
            "2025-04-01",
        )
        .unwrap();
        // Office Open XML: read the container back.
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut read = |name: &str| {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut s).unwrap();
            s
        };
        let sheet = read("xl/worksheets/sheet1.xml");
        let strings = read("xl/sharedStrings.xml");
        let book = read("xl/workbook.xml");
        assert!(book.contains("name=\"问题清单\""), "{book}");
        for s in [
            "清河县人民政府办公室 政府信息公开工作年度报告问题清单（通报草稿）",
            "截至 2025-04-01，2 个机关共 3 项问题（错误 2 项），均为未关闭告警。",
            "告警编号",
            "清河县河西街道办事处",
            "第三部分，单元格 R24（自然人列），第57行",
            "t3-carryover-high",
        ] {
            assert!(strings.contains(s), "{s} not in {strings}");
        }
        // Title, summary, header and three rows; the header frozen and filtered.
        assert!(sheet.contains("<row r=\"6\""), "{sheet}");
        assert!(!sheet.contains("<row r=\"7\""));
        assert!(sheet.contains("<autoFilter ref=\"A3:L6\""), "{sheet}");
        assert!(sheet.contains("ySplit=\"3\""));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
