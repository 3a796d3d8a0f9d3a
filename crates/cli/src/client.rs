//! The commands that talk to the ingest service (submit, status, reports, wait), and the clients
//! of both services. The offices' commands are in `alerts.rs`.

use anyhow::{Context, Result, bail};
use nianbao_auth::AuthChannel;
use nianbao_proto::v1::ingest_client::IngestClient;
use nianbao_proto::v1::notification_client::NotificationClient;
use nianbao_proto::v1::{GetReportRequest, ListReportsRequest, Report, SubmitReportRequest};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Reports up to this size go in one request (ingest enforces its own, configurable limit).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

pub fn ingest_url(arg: Option<String>) -> String {
    arg.or_else(|| std::env::var("NIANBAO_INGEST_URL").ok())
        .unwrap_or_else(|| "http://127.0.0.1:50051".into())
}

pub fn notification_url(arg: Option<String>) -> String {
    arg.or_else(|| std::env::var("NIANBAO_NOTIFICATION_URL").ok())
        .unwrap_or_else(|| "http://127.0.0.1:50054".into())
}

/// How the CLI reaches the services, from the environment: `NIANBAO_TOKEN` (or
/// `NIANBAO_TOKEN_FILE`) is the credential `nianbao credentials issue` printed, `NIANBAO_CA` the
/// CA certificate that signed the services' certificates (for `https://` endpoints),
/// `NIANBAO_CLIENT_CERT` / `NIANBAO_CLIENT_KEY` a client certificate for mTLS.
pub fn client_config() -> nianbao_auth::ClientConfig {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    nianbao_auth::ClientConfig {
        ca: var("NIANBAO_CA").into(),
        cert: var("NIANBAO_CLIENT_CERT").into(),
        key: var("NIANBAO_CLIENT_KEY").into(),
        token: var("NIANBAO_TOKEN"),
        token_file: var("NIANBAO_TOKEN_FILE").into(),
    }
}

/// A channel to `url` carrying the caller's credential. Errors name the endpoint without a
/// password or token it may carry.
async fn channel(url: &str) -> Result<AuthChannel> {
    let shown = nianbao_bus::redact_url(url);
    let cfg = client_config();
    let endpoint = cfg
        .endpoint(url)
        .with_context(|| format!("endpoint {shown}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60));
    let bearer = nianbao_auth::Bearer::new(cfg.token()?.as_deref())?;
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach {shown} (is the service running?)"))?;
    Ok(tonic::service::interceptor::InterceptedService::new(
        channel, bearer,
    ))
}

pub async fn ingest(url: &str) -> Result<IngestClient<AuthChannel>> {
    Ok(IngestClient::new(channel(url).await?)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

pub async fn notification(url: &str) -> Result<NotificationClient<AuthChannel>> {
    Ok(NotificationClient::new(channel(url).await?).max_decoding_message_size(MAX_MESSAGE))
}

pub struct SubmitArgs {
    pub files: Vec<PathBuf>,
    pub agency: Option<String>,
    pub region: Option<String>,
    pub source_url: Option<String>,
    pub published_on: Option<String>,
    /// Earlier years' reports: validated and stored, alerting nobody.
    pub backfill: bool,
}

/// Submits each file; prints `ID  FILE` (and "duplicate" for a re-submission). Returns the ids.
pub async fn submit(url: &str, a: SubmitArgs, out: &mut impl Write) -> Result<Vec<String>> {
    let mut client = ingest(url).await?;
    let mut ids = Vec::new();
    for path in &a.files {
        let content =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let file_name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let resp = client
            .submit_report(SubmitReportRequest {
                content,
                file_name,
                agency: a.agency.clone(),
                region: a.region.clone(),
                source_url: a.source_url.clone(),
                published_on: a.published_on.clone(),
                backfill: a.backfill,
                ..Default::default()
            })
            .await
            .map_err(|s| anyhow::anyhow!("{}: {}", path.display(), s.message()))?
            .into_inner();
        writeln!(
            out,
            "{}  {}{}",
            resp.report_id,
            path.display(),
            match (resp.duplicate, a.backfill) {
                (true, _) => "  (已提交过 duplicate)",
                (false, true) => "  (补录 backfill)",
                (false, false) => "",
            }
        )?;
        ids.push(resp.report_id);
    }
    Ok(ids)
}

fn status_zh(s: &str) -> &'static str {
    match s {
        "received" => "已接收",
        "extracted" => "已解析",
        "validated" => "已检查",
        "notified" => "已通知",
        "failed" => "处理失败",
        _ => "未知",
    }
}

fn print_report(r: &Report, out: &mut impl Write) -> Result<()> {
    writeln!(out, "报告 {}  {}", r.report_id, r.file_name)?;
    writeln!(
        out,
        "  机关：{}  年度：{}  状态：{}（{}）{}",
        if r.agency.is_empty() {
            "（未识别）"
        } else {
            &r.agency
        },
        if r.year == 0 {
            "（未识别）".to_string()
        } else {
            r.year.to_string()
        },
        status_zh(&r.status),
        r.status,
        if r.failure_reason.is_empty() {
            String::new()
        } else {
            format!("  原因：{}", r.failure_reason)
        }
    )?;
    if r.findings.is_empty() && matches!(r.status.as_str(), "validated" | "notified") {
        writeln!(out, "  检查结果：未发现问题。")?;
    }
    let mut findings: Vec<_> = r.findings.iter().collect();
    findings.sort_by_key(|f| crate::text::severity_rank(&f.severity));
    for f in findings {
        writeln!(out, "  {}", crate::text::finding_line(f))?;
    }
    if !r.alert_ids.is_empty() {
        writeln!(out, "  已通知：{}", r.alert_ids.join(", "))?;
    }
    Ok(())
}

fn report_json(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "report_id": r.report_id, "version": r.version, "file": r.file_name, "agency": r.agency,
        "region": r.region, "year": r.year, "status": r.status, "failure_reason": r.failure_reason,
        "alert_ids": r.alert_ids,
        "findings": r.findings.iter().map(|f| serde_json::json!({
            "rule": f.rule, "severity": f.severity, "message": f.message, "part": f.part,
            "cell": f.cell, "column": f.column, "expected": f.expected, "actual": f.actual, "line": f.line,
        })).collect::<Vec<_>>(),
    })
}

pub async fn status(url: &str, ids: &[String], json: bool, out: &mut impl Write) -> Result<()> {
    let mut client = ingest(url).await?;
    for id in ids {
        let r = client
            .get_report(GetReportRequest {
                report_id: id.clone(),
            })
            .await
            .map_err(|s| anyhow::anyhow!("{id}: {}", s.message()))?
            .into_inner();
        if json {
            writeln!(out, "{}", report_json(&r))?;
        } else {
            print_report(&r, out)?;
        }
    }
    Ok(())
}

pub struct ListArgs {
    pub agency: Option<String>,
    pub region: Option<String>,
    pub year: Option<i32>,
    pub status: Option<String>,
    pub limit: u32,
}

pub async fn reports(url: &str, a: ListArgs, json: bool, out: &mut impl Write) -> Result<()> {
    let mut client = ingest(url).await?;
    let resp = client
        .list_reports(ListReportsRequest {
            agency: a.agency,
            region: a.region,
            year: a.year,
            status: a.status,
            limit: a.limit,
            offset: 0,
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner();
    for r in &resp.reports {
        if json {
            writeln!(out, "{}", report_json(r))?;
        } else {
            let errors = r.findings.iter().filter(|f| f.severity == "error").count();
            let warnings = r
                .findings
                .iter()
                .filter(|f| f.severity == "warning")
                .count();
            writeln!(
                out,
                "{}  {:<6} {}  {}  错误{errors} 警告{warnings}  {}",
                r.report_id,
                r.status,
                if r.year == 0 {
                    "----".to_string()
                } else {
                    r.year.to_string()
                },
                r.agency,
                r.file_name
            )?;
        }
    }
    if !json {
        writeln!(
            out,
            "共 {} 份（显示 {} 份）",
            resp.total,
            resp.reports.len()
        )?;
    }
    Ok(())
}

/// Waits until every report reached `until` (or failed); errors on timeout.
pub async fn wait(
    url: &str,
    ids: &[String],
    until: &str,
    timeout: Duration,
) -> Result<Vec<Report>> {
    let order = |s: &str| match s {
        "received" => 0,
        "extracted" => 1,
        "validated" => 2,
        "notified" => 3,
        "failed" => 4,
        _ => -1,
    };
    let target = order(until);
    if target < 0 {
        bail!("unknown status {until} (received, extracted, validated, notified)");
    }
    let mut client = ingest(url).await?;
    let start = Instant::now();
    loop {
        let mut done = Vec::new();
        for id in ids {
            let r = client
                .get_report(GetReportRequest {
                    report_id: id.clone(),
                })
                .await
                .map_err(|s| anyhow::anyhow!("{id}: {}", s.message()))?
                .into_inner();
            if order(&r.status) >= target {
                done.push(r);
            }
        }
        if done.len() == ids.len() {
            return Ok(done);
        }
        if start.elapsed() > timeout {
            bail!(
                "{} of {} reports reached {until} within {timeout:?}",
                done.len(),
                ids.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
