//! What the two group robots (企业微信, 钉钉) share: the answer's `errcode`, the size limit of a
//! message, and the pace of one message per robot per `robot_interval`.

use super::sender::Deliverer;
use super::webhook::{answer_excerpt, http_error};

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub(super) fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    const MORE: &str = "\n……（内容过长，详见收件箱）";
    let mut end = max.saturating_sub(MORE.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MORE}", &s[..end])
}

impl Deliverer {
    /// POSTs to a 企业微信 / 钉钉 robot: HTTP 2xx and `errcode` 0 is success. The error never
    /// quotes `url` (it holds the robot's key), nor a secret of it that the answer repeats.
    pub(super) async fn post_robot(
        &self,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<(), String> {
        let r = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| http_error(e, url))?;
        let status = r.status();
        let text = r.text().await.map_err(|e| http_error(e, url))?;
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("robot answered {status} with no JSON ({e})"))?;
        match v.get("errcode").and_then(serde_json::Value::as_i64) {
            Some(0) => Ok(()),
            Some(code) => Err(format!(
                "robot errcode {code}: {}",
                answer_excerpt(
                    v.get("errmsg")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default(),
                    url
                )
            )),
            None => Err(format!(
                "robot answer without errcode: {}",
                answer_excerpt(&text, url)
            )),
        }
    }

    /// Waits for this robot's next slot and books the one after it, so that one robot gets at most
    /// one message per `robot_interval` from this service.
    pub(super) async fn robot_slot(&self, name: &str) {
        if self.webhook.robot_interval.is_zero() {
            return;
        }
        let wait_until = {
            let mut slots = self.robot_slots.lock().await;
            let now = tokio::time::Instant::now();
            let slot = slots.get(name).copied().filter(|t| *t > now).unwrap_or(now);
            slots.insert(name.to_string(), slot + self.webhook.robot_interval);
            slot
        };
        tokio::time::sleep_until(wait_until).await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::wecom::WECOM_MAX;
    use super::super::{SmtpSettings, WebhookSettings};
    use super::*;
    use crate::store::Store;
    use std::time::Duration;

    #[tokio::test]
    async fn robots_get_one_message_per_interval() {
        let dir = std::env::temp_dir().join(format!("nianbao-slots-{}", std::process::id()));
        let store = Store::connect(&format!(
            "sqlite://{}?mode=rwc",
            dir.with_extension("db").display()
        ))
        .await
        .unwrap();
        let (_stop, rx) = nianbao_service::Shutdown::new();
        let d = Deliverer::new(
            store,
            dir.join("outbox.jsonl"),
            WebhookSettings {
                timeout: Duration::from_secs(1),
                retries: 0,
                backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(1),
                failing_after: 3,
                robot_interval: Duration::from_millis(150),
            },
            &SmtpSettings::default(),
            rx,
        )
        .unwrap();
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            d.robot_slot("wecom:a").await;
        }
        // The third message waits two intervals; another robot does not wait for them.
        let three = start.elapsed();
        assert!(three >= Duration::from_millis(300), "{three:?}");
        d.robot_slot("wecom:b").await;
        assert!(start.elapsed() - three < Duration::from_millis(100));
        let _ = std::fs::remove_file(dir.with_extension("db"));
    }

    #[test]
    fn long_robot_texts_are_cut_on_a_character() {
        let s = "问题".repeat(3000);
        let t = truncate_bytes(&s, WECOM_MAX);
        assert!(t.len() <= WECOM_MAX);
        assert!(t.ends_with("详见收件箱）"));
        assert_eq!(truncate_bytes("短", 10), "短");
    }
}
