//! What the channels carry: an alert, or an office's digest, as a [`Notice`] (title, plain text for
//! mail, markdown for the robots, JSON for webhooks and the outbox).
//!
//! Agency names and finding texts come from the reports, which anyone can write. What they put in a
//! robot's markdown or a mail must stay text: [`md_text`] and [`plain_text`] make sure that it
//! creates no link, image, mention, HTML tag or new line there (the JSON of webhooks carries the
//! text as it is; it is data, escaped by JSON).

use crate::alert::{ALERT_SCHEMA, AlertRecord};
use nianbao_directory::Office;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// Schema tag of a digest's JSON.
pub const DIGEST_SCHEMA: &str = "nianbao.digest/v1";

/// What one delivery carries: an alert, or an office's digest of several.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The alert id, or the digest id (`dg-…`).
    pub id: String,
    pub office_id: String,
    /// Subject line (mail) and robot title.
    pub title: String,
    /// Plain text, one finding per line (mail body).
    pub text: String,
    /// Markdown (企业微信, 钉钉).
    pub markdown: String,
    /// The JSON of webhooks, the outbox and stdout.
    pub json: serde_json::Value,
    pub created_at_ms: i64,
}

/// The message split into its lead sentence and its numbered items (`1. …；2. …`).
fn split_message(message: &str) -> (String, Vec<String>) {
    match message.split_once("：1. ") {
        Some((head, rest)) => {
            let items = format!("1. {rest}")
                .split('；')
                .map(|s| s.trim().trim_end_matches('。').to_string())
                .filter(|s| !s.is_empty())
                .collect();
            (head.to_string(), items)
        }
        None => (message.to_string(), Vec::new()),
    }
}

/// Marks a placeholder for report text in [`split_alert`] (private-use characters, which the
/// messages' own wording never contains).
const MASK_OPEN: char = '\u{E000}';
const MASK_CLOSE: char = '\u{E001}';

/// [`split_message`] of the alert's message, with the texts that come from the report (the agency,
/// the findings' messages) set aside first: a `；` or `：1. ` in them must not make items of its
/// own (a forged "2. [错误] …" line).
fn split_alert(a: &AlertRecord) -> (String, Vec<String>) {
    let mut quoted: Vec<&str> = std::iter::once(a.agency.trim())
        .chain(
            a.findings
                .iter()
                .map(|f| f.message.trim().trim_end_matches(['。', '；', ';'])),
        )
        .filter(|s| !s.is_empty())
        .collect();
    // Longer first, so that an agency name inside a finding's text stays part of that text.
    quoted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    quoted.dedup();
    let mut masked = a.message.clone();
    let mut used: Vec<(String, &str)> = Vec::new();
    for q in quoted {
        if masked.contains(q) {
            let token = format!("{MASK_OPEN}{}{MASK_CLOSE}", used.len());
            masked = masked.replace(q, &token);
            used.push((token, q));
        }
    }
    let unmask = |s: String| {
        // Restored in reverse order: a text masked later may have been masked inside an earlier
        // placeholder (a report text `0` inside `\u{E000}0\u{E001}`).
        used.iter()
            .rev()
            .fold(s, |s, (token, q)| s.replace(token.as_str(), q))
    };
    let (head, items) = split_message(&masked);
    (unmask(head), items.into_iter().map(unmask).collect())
}

/// Characters that turn text into something else in the robots' markdown, and the full-width
/// forms that read the same in Chinese text but are inert: links and images (`[x](url)` needs the
/// `(`; square brackets stay, the messages use them for `[错误]` and `[rule-id]`, and a reference
/// link would need a definition on a line of its own), HTML and autolinks (`<a>`, `<http://…>`,
/// 企业微信's `<font>` and `<@userid>` mentions), entities (`&lt;`), mentions (`@all`,
/// `@13800000000`), emphasis, code, tables, strike-through, escapes.
const MARKDOWN_INERT: [(char, char); 12] = [
    ('(', '（'),
    (')', '）'),
    ('<', '＜'),
    ('>', '＞'),
    ('&', '＆'),
    ('@', '＠'),
    ('*', '＊'),
    ('_', '＿'),
    ('`', '｀'),
    ('|', '｜'),
    ('~', '～'),
    ('\\', '＼'),
];

/// Whether `c` is an invisible formatting character (zero-width, bidirectional override): a report
/// could use them to make a text read differently from what it is.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Text from a report made safe for one line of a plain-text message (mail, titles): line breaks
/// and other control characters become spaces, invisible formatting characters go, and URLs lose
/// what makes mail programs turn them into links (`http://` → `http：//`, `www.` → `www．`).
pub fn plain_text(s: &str) -> String {
    let one_line: String = s
        .chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect();
    defang_urls(&one_line)
}

/// Text from a report made safe for the robots' markdown: [`plain_text`], and every markdown or
/// HTML character in its inert full-width form (see [`MARKDOWN_INERT`]).
pub fn md_text(s: &str) -> String {
    plain_text(s)
        .chars()
        .map(|c| {
            MARKDOWN_INERT
                .iter()
                .find(|(from, _)| *from == c)
                .map_or(c, |(_, to)| *to)
        })
        .collect()
}

/// `scheme://` → `scheme：//` and `www.` → `www．` (any case), so that no client links them.
fn defang_urls(s: &str) -> String {
    let mut out = s.replace("://", "：//");
    for www in ["www.", "WWW.", "Www."] {
        out = out.replace(www, &format!("{}．", &www[..3]));
    }
    out
}

fn strip_headline(head: &str) -> &str {
    head.split_once('】').map_or(head, |(_, rest)| rest)
}

/// The notice for one alert.
pub fn alert_notice(a: &AlertRecord) -> Notice {
    let title = plain_text(&a.headline());
    let (head, items) = split_alert(a);
    let mut text = format!("{}\n", plain_text(&head));
    for i in &items {
        let _ = writeln!(text, "  {}", plain_text(i));
    }
    let _ = write!(
        text,
        "\n告警编号：{}  接收单位：{}",
        a.alert_id,
        plain_text(&a.office_name)
    );
    let mut md = format!(
        "### {}\n\n**{}**\n\n",
        md_text(&title),
        md_text(strip_headline(&head))
    );
    for i in &items {
        let _ = writeln!(md, "{}", md_text(i));
    }
    let _ = write!(
        md,
        "\n> 告警编号 {} ｜ {}",
        a.alert_id,
        md_text(&a.office_name)
    );
    Notice {
        id: a.alert_id.clone(),
        office_id: a.office_id.clone(),
        title,
        text,
        markdown: md,
        json: a.to_json(),
        created_at_ms: a.created_at_ms,
    }
}

/// The alert's notice handed to another office (`ReassignAlert`): the alert's own notice under a
/// new id (`ra-…`, so that the new office's channels get it even where the first office's had),
/// titled 转办 and naming who handed it over.
pub fn reassigned_notice(
    a: &AlertRecord,
    to: &Office,
    by: &str,
    note: &str,
    now_ms: i64,
) -> Notice {
    let mut n = alert_notice(a);
    n.id = format!("ra-{}-{now_ms}", a.alert_id);
    n.office_id = to.id.clone();
    let line = plain_text(&format!(
        "【转办】{} 将本告警转交 {} 处理{}",
        a.office_name,
        to.name,
        if note.trim().is_empty() {
            String::new()
        } else {
            format!("：{}", note.trim())
        }
    ));
    n.title = plain_text(&format!("【转办】{}", n.title));
    n.text = format!("{line}（{}）\n{}", plain_text(by), n.text);
    n.markdown = format!(
        "**{}**（{}）\n\n{}",
        md_text(&line),
        md_text(by),
        n.markdown
    );
    if let Some(o) = n.json.as_object_mut() {
        o.insert("reassigned_to".into(), to.id.clone().into());
        o.insert("reassigned_by".into(), by.into());
        o.insert("note".into(), note.trim().into());
    }
    n.created_at_ms = now_ms;
    n
}

/// The reminder that an alert's 整改期限 has passed with the alert still open: the alert's notice
/// under its own id (`ro-<alert>-<date>`, one per deadline), to the office the alert is with now,
/// titled 整改逾期.
pub fn rectify_overdue_notice(
    a: &AlertRecord,
    office: &Office,
    rectify_by: &str,
    now_ms: i64,
) -> Notice {
    let mut n = alert_notice(a);
    n.id = format!("ro-{}-{rectify_by}", a.alert_id);
    n.office_id = office.id.clone();
    let line = plain_text(&format!(
        "【整改逾期】整改期限 {rectify_by} 已过，{} {}年度报告的问题仍未整改（告警 {}），请督促整改",
        a.agency, a.year, a.alert_id
    ));
    n.title = plain_text(&format!("【整改逾期】{}", n.title));
    n.text = format!("{line}\n{}", n.text);
    n.markdown = format!("**{}**\n\n{}", md_text(&line), n.markdown);
    if let Some(o) = n.json.as_object_mut() {
        o.insert("reminder".into(), "rectify-overdue".into());
        o.insert("rectify_by".into(), rectify_by.into());
        o.insert("reminded_office_id".into(), office.id.clone().into());
    }
    n.created_at_ms = now_ms;
    n
}

/// The alert's notice for the agency that must fix its report (`NotifyAgency`): what is wrong,
/// the 整改期限 if one is set, the office's note, and who to answer. Its JSON says
/// `"audience": "agency"` and the agency's id, which is how an interrupted delivery finds the
/// agency's channels again.
pub fn agency_notice(
    a: &AlertRecord,
    agency_id: &str,
    office_name: &str,
    rectify_by: &str,
    note: &str,
    now_ms: i64,
) -> Notice {
    let mut n = alert_notice(a);
    n.id = format!("ag-{}-{now_ms}", a.alert_id);
    n.title = plain_text(&format!(
        "【年报检查·请整改】{} {}",
        crate::alert::display_agency(&a.agency),
        crate::alert::display_year(a.year)
    ));
    let mut lead = if a.kind == crate::alert::KIND_MISSING {
        format!("{office_name}通知：贵单位尚未报送政府信息公开工作年度报告，请尽快发布并报送")
    } else {
        format!("{office_name}通知：贵单位的政府信息公开工作年度报告存在以下问题，请核实整改")
    };
    if !rectify_by.is_empty() {
        let _ = write!(lead, "，整改期限 {rectify_by}");
    }
    lead.push('。');
    if !note.trim().is_empty() {
        let _ = write!(lead, "说明：{}", note.trim());
    }
    let lead = plain_text(&lead);
    n.text = format!("{}\n{lead}\n{}", n.title, n.text);
    n.markdown = format!(
        "### {}\n\n**{}**\n\n{}",
        md_text(&n.title),
        md_text(&lead),
        n.markdown
    );
    if let Some(o) = n.json.as_object_mut() {
        o.insert("audience".into(), "agency".into());
        o.insert("agency_id".into(), agency_id.into());
        o.insert("rectify_by".into(), rectify_by.into());
        o.insert("note".into(), note.trim().into());
    }
    n.created_at_ms = now_ms;
    n
}

/// The digest id of a set of alerts: the same set gives the same id.
pub fn digest_id(office_id: &str, alerts: &[AlertRecord]) -> String {
    let mut ids: Vec<&str> = alerts.iter().map(|a| a.alert_id.as_str()).collect();
    ids.sort_unstable();
    let mut h = Sha256::new();
    h.update(office_id.as_bytes());
    for id in ids {
        h.update([0u8]);
        h.update(id.as_bytes());
    }
    format!("dg-{}", &hex::encode(h.finalize())[..24])
}

/// One message for an office listing several alerts (digest grouping).
pub fn digest_notice(office: &Office, alerts: &[AlertRecord], now_ms: i64) -> Notice {
    let id = digest_id(&office.id, alerts);
    let title = plain_text(&format!(
        "【年报检查·汇总】{} 收到 {} 条告警",
        office.name,
        alerts.len()
    ));
    let mut text = format!("{title}\n");
    let mut md = format!("### {}\n", md_text(&title));
    for (n, a) in alerts.iter().enumerate() {
        let (head, items) = split_alert(a);
        let _ = write!(text, "\n{}. {}\n", n + 1, plain_text(&head));
        let _ = write!(md, "\n**{}. {}**\n\n", n + 1, md_text(&head));
        for i in &items {
            let _ = writeln!(text, "    {}", plain_text(i));
            let _ = writeln!(md, "{}", md_text(i));
        }
        let _ = writeln!(text, "    告警编号：{}", a.alert_id);
    }
    let _ = write!(md, "\n> 汇总编号 {id} ｜ {}", md_text(&office.name));
    let json = serde_json::json!({
        "schema": DIGEST_SCHEMA,
        "digest_id": id,
        "office_id": office.id,
        "office_name": office.name,
        "count": alerts.len(),
        "message": text,
        "alerts": alerts.iter().map(AlertRecord::to_json).collect::<Vec<_>>(),
        "alert_schema": ALERT_SCHEMA,
        "created_at_ms": now_ms,
    });
    Notice {
        id,
        office_id: office.id.clone(),
        title,
        text,
        markdown: md,
        json,
        created_at_ms: now_ms,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::alert::{KIND_FINDINGS, STATUS_OPEN, format_message};
    use nianbao_model::StoredFinding;

    /// A report whose title and text try to make the robots link, mention, format and break lines.
    const HOSTILE_AGENCY: &str = "恶意局\n### 紧急通知 [点此领取](http://evil.example/a) <a href=\"http://evil.example\">x</a> <@zhangsan> @all @13800000000\u{202E}";
    const HOSTILE_TEXT: &str = "表三 ![图](https://evil.example/i.png)\r\n> 伪造引用；2. [错误] 伪造条目：1. 又一条 <font color=\"warning\">红</font> *粗* `码` www.evil.example\u{2028}新行";

    fn hostile_alert() -> AlertRecord {
        let findings = vec![
            StoredFinding {
                rule: "t3-balance".into(),
                severity: "error".into(),
                message: HOSTILE_TEXT.into(),
                part: Some(3),
                cell: Some("R24".into()),
                column: Some(0),
                expected: None,
                actual: None,
                line: Some(57),
            },
            StoredFinding {
                rule: "part-missing".into(),
                severity: "warning".into(),
                message: "缺少第五部分".into(),
                part: None,
                cell: None,
                column: None,
                expected: None,
                actual: None,
                line: None,
            },
        ];
        AlertRecord {
            alert_id: "al-1".into(),
            office_id: "390121".into(),
            office_name: "清河县人民政府办公室".into(),
            report_id: "r1".into(),
            version: "v1".into(),
            agency: HOSTILE_AGENCY.into(),
            year: 2024,
            region: "390121".into(),
            status: STATUS_OPEN.into(),
            kind: KIND_FINDINGS.into(),
            message: format_message(HOSTILE_AGENCY, 2024, &findings, ""),
            findings,
            route_note: String::new(),
            created_at_ms: 1,
            acknowledged_at_ms: 0,
            acknowledged_by: String::new(),
            report_key: String::new(),
            fingerprint: String::new(),
            has_error: true,
            escalated_at_ms: 0,
            resolved_at_ms: 0,
            source_alert_id: String::new(),
            digest_state: String::new(),
        }
    }

    /// No link, image, autolink, HTML tag, entity, mention or emphasis can form in `md`.
    fn assert_inert_markdown(md: &str) {
        for bad in [
            "](", "<", ">", "&", "@", "://", "www.", "*粗", "`", "\u{202E}", "\r", "\u{2028}",
        ] {
            // Our own quote line is the one `>` allowed, at the start of the last line.
            let body = md.rsplit_once("\n> ").map_or(md, |(b, _)| b);
            assert!(!body.contains(bad), "{bad:?} in\n{md}");
        }
    }

    #[test]
    fn report_text_makes_no_links_mentions_or_lines_in_robot_markdown() {
        let n = alert_notice(&hostile_alert());
        assert_inert_markdown(&n.markdown);
        // Exactly the layout of two findings: title, lead, two items, the footer.
        let lines: Vec<&str> = n.markdown.lines().collect();
        assert_eq!(lines.len(), 8, "{}", n.markdown);
        // A `#` inside a line is no heading.
        assert!(
            lines[0].starts_with("### 【年报检查】恶意局 ### 紧急通知"),
            "{}",
            lines[0]
        );
        assert!(
            lines[4].starts_with("1. [错误] 表三 ![图]（https：//evil"),
            "{}",
            lines[4]
        );
        assert!(
            lines[4].contains("伪造引用；2. [错误] 伪造条目：1. 又一条"),
            "{}",
            lines[4]
        );
        assert!(
            lines[5].starts_with("2. [警告] 缺少第五部分"),
            "{}",
            lines[5]
        );
        assert!(lines[7].starts_with("> 告警编号 al-1 ｜ "), "{}", lines[7]);
        // The text is all there, in inert characters.
        assert!(
            n.markdown.contains("[点此领取]（http：//evil.example/a）"),
            "{}",
            n.markdown
        );
        assert!(
            n.markdown.contains("＜＠zhangsan＞ ＠all ＠13800000000"),
            "{}",
            n.markdown
        );
        assert!(
            n.markdown.contains("＜font color=\"warning\"＞红＜/font＞"),
            "{}",
            n.markdown
        );
    }

    #[test]
    fn report_text_makes_no_lines_or_links_in_mail_and_titles() {
        let n = alert_notice(&hostile_alert());
        for s in [&n.title, &n.text] {
            assert!(
                !s.contains(['\r', '\u{2028}', '\u{202E}']) && !s.contains("://"),
                "{s}"
            );
        }
        assert!(!n.title.contains('\n'), "{}", n.title);
        // Lead, two items, blank, the footer.
        let lines: Vec<&str> = n.text.lines().collect();
        assert_eq!(lines.len(), 5, "{}", n.text);
        assert!(
            lines[1].starts_with("  1. [错误] 表三 ![图](https：//evil"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("  2. [警告] 缺少第五部分"),
            "{}",
            lines[2]
        );
        // The JSON keeps the report's text as it is: JSON escapes it.
        assert_eq!(n.json["agency"], HOSTILE_AGENCY);
    }

    #[test]
    fn digests_escape_report_text_too() {
        let office = nianbao_directory::Directory::empty("province")
            .default_office()
            .clone();
        let n = digest_notice(&office, &[hostile_alert(), hostile_alert()], 1);
        assert_inert_markdown(&n.markdown);
        assert!(
            !n.text.contains("://") && !n.text.contains('\r'),
            "{}",
            n.text
        );
        // Title, then per alert: blank, lead, blank, two items; blank, footer.
        assert_eq!(n.markdown.lines().count(), 1 + 2 * 5 + 2, "{}", n.markdown);
    }

    #[test]
    fn plain_and_markdown_text_of_ordinary_messages_is_unchanged() {
        let s = "表三 自然人 列：第一项加第二项之和(41)不等于第三项加第四项之和(40)，相差1";
        assert_eq!(plain_text(s), s);
        assert_eq!(
            md_text(s),
            "表三 自然人 列：第一项加第二项之和（41）不等于第三项加第四项之和（40），相差1"
        );
        assert_eq!(md_text("[错误] 甲[t3-balance]"), "[错误] 甲[t3-balance]");
    }

    #[test]
    fn messages_split_into_a_lead_and_items() {
        let (h, items) = split_message(
            "【年报检查】某局 2024年度报告发现 2 个错误：1. [错误] 甲（第三部分）[t3-balance]；2. [错误] 乙[part-missing]。",
        );
        assert_eq!(h, "【年报检查】某局 2024年度报告发现 2 个错误");
        assert_eq!(
            items,
            vec![
                "1. [错误] 甲（第三部分）[t3-balance]",
                "2. [错误] 乙[part-missing]"
            ]
        );
        let (h, items) = split_message("【年报检查·已整改】某局 已整改。");
        assert_eq!(h, "【年报检查·已整改】某局 已整改。");
        assert!(items.is_empty());
    }
}
