//! HTML building blocks: escaping, the page frame with its inline style sheet (no external
//! assets: the console runs on intranets), small formatting helpers.

use crate::session::Session;
use std::fmt::Write as _;

/// `s` with the five HTML special characters escaped (text and attribute values alike).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A query-string component, percent-encoded.
pub fn url_enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `2025-02-01 08:00` in China time ("" for 0).
pub fn datetime(ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    let d = nianbao_directory::Date::from_ms_cst(ms);
    let secs = (ms.div_euclid(1000) + 8 * 3600).rem_euclid(86_400);
    format!("{d} {:02}:{:02}", secs / 3600, (secs % 3600) / 60)
}

/// The Chinese name of a finding severity.
pub fn severity_zh(s: &str) -> &'static str {
    match s {
        "error" => "错误",
        "warning" => "警告",
        "info" => "提示",
        _ => "其他",
    }
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font-family:"Microsoft YaHei","PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;font-size:14px;color:#1f2329;background:#f5f6f8}
header{background:#b3261e;color:#fff;padding:10px 24px;display:flex;align-items:center;gap:24px}
header h1{font-size:18px;margin:0;font-weight:600}
header nav a{color:#fff;text-decoration:none;margin-right:16px}
header nav a.on{border-bottom:2px solid #fff}
header .who{margin-left:auto;font-size:13px}
header .who button{margin-left:8px}
main{padding:16px 24px;max-width:1500px}
h2{font-size:17px;margin:20px 0 10px}
h3{font-size:15px;margin:16px 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #e0e3e8;border-radius:6px;padding:12px 16px;min-width:120px}
.card .n{font-size:26px;font-weight:600}
.card .l{color:#646a73}
.card.bad .n{color:#b3261e}.card.warn .n{color:#c77700}.card.ok .n{color:#1a7f37}
table{border-collapse:collapse;background:#fff;margin:6px 0 14px}
th,td{border:1px solid #d0d4da;padding:4px 8px;vertical-align:top}
th{background:#eef1f5;font-weight:600}
th a{color:inherit}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.st-missing{color:#b3261e;font-weight:600}.st-late{color:#c77700;font-weight:600}.st-ok{color:#1a7f37}
.sev-error{color:#b3261e;font-weight:600}.sev-warning{color:#c77700}.sev-info{color:#646a73}
form.inline{display:inline}
.filters{background:#fff;border:1px solid #e0e3e8;padding:8px 12px;margin:8px 0;border-radius:6px}
.filters label{margin-right:12px}
.grid td.hl{background:#ffd6d2;outline:2px solid #b3261e}
.grid td.hlw{background:#fff1c2;outline:2px solid #c77700}
.grid td.changed{background:#dbeafe}
.grid .lbl{background:#fafbfc;text-align:left}
.split{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
.notes{min-width:320px;max-width:560px}
.notes li{margin-bottom:6px}
.muted{color:#646a73}
.badge{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px}
.badge.overdue{background:#fde8e7;color:#c0392b;border:1px solid #e8a29e}
ul.actions{margin:4px 0;padding-left:16px;font-size:12px;color:#646a73}
form.reassign,form.notify,form.deadline{margin-top:4px}
.msg{background:#fff4e5;border:1px solid #f0c36d;padding:8px 12px;border-radius:6px;margin:8px 0}
.err{background:#fde8e7;border:1px solid #e8a29e;padding:8px 12px;border-radius:6px;margin:8px 0}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;border:1px solid #e0e3e8;padding:10px 14px;border-radius:6px}
dl.meta dt{color:#646a73}dl.meta dd{margin:0;word-break:break-all}
textarea,input[type=text],input[type=password],input[type=date],select{font:inherit;padding:3px 6px}
button{font:inherit;padding:3px 12px;cursor:pointer}
.login{max-width:520px;margin:60px auto;background:#fff;border:1px solid #e0e3e8;border-radius:8px;padding:24px 32px}
.login textarea{width:100%}
svg text{font-size:11px;fill:#444}
"#;

/// The navigation entries: (path, label).
const NAV: [(&str, &str); 5] = [
    ("/", "总览"),
    ("/alerts", "告警"),
    ("/tongbao", "通报与汇总"),
    ("/scoring", "评议"),
    ("/reports", "报告"),
];

/// A whole page: the frame, the navigation (with `active` marked) and `body`.
pub fn page(
    title: &str,
    session: Option<&Session>,
    office_name: &str,
    active: &str,
    body: &str,
) -> String {
    let mut h = String::with_capacity(body.len() + 4096);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · 年报检查控制台</title><style>{STYLE}</style></head><body><header><h1>年报检查控制台</h1>",
        esc(title)
    );
    if let Some(s) = session {
        h.push_str("<nav>");
        for (path, label) in NAV {
            let on = if path == active { " class=\"on\"" } else { "" };
            let _ = write!(h, "<a href=\"{path}\"{on}>{label}</a>");
        }
        let _ = write!(
            h,
            "</nav><div class=\"who\">{}（{}）<form class=\"inline\" method=\"post\" action=\"/logout\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">退出</button></form></div>",
            esc(&s.identity.name),
            esc(office_name),
            esc(&s.csrf)
        );
    }
    let _ = write!(h, "</header><main>{body}</main></body></html>");
    h
}

/// A hidden CSRF field for a form of `session`.
pub fn csrf_field(s: &Session) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&s.csrf)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(url_enc("清河 a&b"), "%E6%B8%85%E6%B2%B3%20a%26b");
        assert_eq!(datetime(0), "");
        assert_eq!(datetime(1_735_689_600_000), "2025-01-01 08:00");
    }
}
