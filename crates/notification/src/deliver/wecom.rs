//! `wecom:<url>`: a 企业微信 group robot (`…/cgi-bin/webhook/send?key=…`), markdown message
//! `{"msgtype":"markdown","markdown":{"content":…}}`; an answer with `errcode` ≠ 0 is a failure.

use super::robot::truncate_bytes;
use super::sender::Deliverer;
use crate::render::Notice;

/// 企业微信 群机器人 markdown content is limited to 4096 bytes.
pub(super) const WECOM_MAX: usize = 4096;

impl Deliverer {
    pub(super) async fn post_wecom(&self, notice: &Notice, url: &str) -> Result<(), String> {
        let body = serde_json::json!({
            "msgtype": "markdown",
            "markdown": { "content": truncate_bytes(&notice.markdown, WECOM_MAX) },
        });
        self.post_robot(url, &body).await
    }
}
