//! What the channels carry: an alert, or an office's digest, as a [`Notice`] (title, plain text for
//! mail, markdown for the robots, JSON for webhooks and the outbox).

use crate::alert::{ALERT_SCHEMA, AlertRecord};
use crate::deliver::Notice;
use nianbao_directory::Office;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// Schema tag of a digest's JSON.
pub const DIGEST_SCHEMA: &str = "nianbao.digest/v1";

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

fn strip_headline(head: &str) -> &str {
    head.split_once('】').map_or(head, |(_, rest)| rest)
}

/// The notice for one alert.
pub fn alert_notice(a: &AlertRecord) -> Notice {
    let title = a.headline();
    let (head, items) = split_message(&a.message);
    let mut text = format!("{head}\n");
    for i in &items {
        let _ = writeln!(text, "  {i}");
    }
    let _ = write!(
        text,
        "\n告警编号：{}  接收单位：{}",
        a.alert_id, a.office_name
    );
    let mut md = format!("### {title}\n\n**{}**\n\n", strip_headline(&head));
    for i in &items {
        let _ = writeln!(md, "{i}");
    }
    let _ = write!(md, "\n> 告警编号 {} ｜ {}", a.alert_id, a.office_name);
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
    let title = format!(
        "【年报检查·汇总】{} 收到 {} 条告警",
        office.name,
        alerts.len()
    );
    let mut text = format!("{title}\n");
    let mut md = format!("### {title}\n");
    for (n, a) in alerts.iter().enumerate() {
        let (head, items) = split_message(&a.message);
        let _ = write!(text, "\n{}. {}\n", n + 1, head);
        let _ = write!(md, "\n**{}. {}**\n\n", n + 1, head);
        for i in &items {
            let _ = writeln!(text, "    {i}");
            let _ = writeln!(md, "{i}");
        }
        let _ = writeln!(text, "    告警编号：{}", a.alert_id);
    }
    let _ = write!(md, "\n> 汇总编号 {id} ｜ {}", office.name);
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
    use super::*;

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
