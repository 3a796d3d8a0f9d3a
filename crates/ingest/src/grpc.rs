//! The `nianbao.v1.Ingest` gRPC service.
//!
//! Error messages are Chinese first (the officials and agencies who submit reports read them), then
//! English (the operators and tools).

use crate::outbox::publish_received;
use crate::status::Status;
use crate::store::{ListFilter, ReportRow, Store, StoreError};
use crate::submit::Submitter;
use nianbao_auth::Role;
use nianbao_auth::grpc::{denied, require};
use nianbao_bus::Bus;
use nianbao_model::StoredFinding;
use nianbao_proto::v1;
use nianbao_proto::v1::ingest_server::Ingest;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tonic::{Request, Response, Status as GrpcStatus};

/// Region code used when a submission names none (also the routing-key fallback of the bus).
pub const UNKNOWN_REGION: &str = "000000";
/// `ListReports` page size when the request says 0, and the largest page served.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// The service state shared by every request.
#[derive(Clone)]
pub struct IngestService {
    pub store: Store,
    /// Stores and publishes submissions in groups (see [`crate::submit`]).
    pub submitter: Submitter,
    pub bus: Bus,
    pub max_bytes: u64,
    /// Which office is responsible for which agency (offices read their jurisdiction's reports).
    pub directory: Option<Arc<nianbao_directory::Directory>>,
    pub inflight: Inflight,
    /// Bytes one agency may have stored; 0: no quota.
    pub agency_quota_bytes: u64,
}

/// Bounds the bytes of submissions held at once ([`crate::Config::max_inflight_bytes`]), counted
/// in KiB so that the semaphore's permits suffice for any configured size.
#[derive(Clone, Debug)]
pub struct Inflight {
    permits: Arc<tokio::sync::Semaphore>,
    total: u32,
}

/// How long a submission waits for room before it is told to come back.
const INFLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Inflight {
    pub fn new(max_bytes: u64) -> Inflight {
        let total = u32::try_from((max_bytes / 1024).max(1)).unwrap_or(u32::MAX >> 4);
        let total = total.min(tokio::sync::Semaphore::MAX_PERMITS as u32);
        Inflight {
            permits: Arc::new(tokio::sync::Semaphore::new(total as usize)),
            total,
        }
    }

    /// Room for `bytes`, waited for at most [`INFLIGHT_WAIT`].
    async fn acquire(&self, bytes: u64) -> Result<tokio::sync::OwnedSemaphorePermit, GrpcStatus> {
        let want = u32::try_from(bytes.div_ceil(1024).max(1))
            .unwrap_or(u32::MAX)
            .min(self.total);
        match tokio::time::timeout(INFLIGHT_WAIT, self.permits.clone().acquire_many_owned(want))
            .await
        {
            Ok(Ok(p)) => Ok(p),
            _ => Err(GrpcStatus::resource_exhausted(
                "服务繁忙，请稍后重试 / too many submissions in progress, retry later",
            )),
        }
    }
}

/// Longest accepted agency name, file name and source URL, in characters: a caller cannot make
/// the service store (and every event carry) arbitrarily long strings.
pub const MAX_AGENCY_CHARS: usize = 100;
pub const MAX_FILE_NAME_CHARS: usize = 255;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_ID_CHARS: usize = 64;
/// Longest accepted `ETag` / `Last-Modified` value (a crawler's provenance).
pub const MAX_VALIDATOR_CHARS: usize = 512;

fn too_long(field: &str, value: &str, max: usize) -> Result<(), GrpcStatus> {
    let n = value.chars().count();
    if n > max {
        return Err(GrpcStatus::invalid_argument(format!(
            "字段 {field} 过长（{n} 字符，上限 {max}）/ {field} is too long: {n} characters, the limit is {max}"
        )));
    }
    Ok(())
}

impl IngestService {
    /// Whether `caller` may read `row`: operators all, an agency what was submitted for it, an
    /// office what its office or one below it is responsible for.
    fn may_read(&self, caller: &nianbao_auth::Identity, row: &ReportRow) -> bool {
        match caller.role {
            Role::Operator | Role::Local => true,
            Role::Agency => row.agency_hint == caller.subject,
            Role::Office => {
                !row.office_id.is_empty()
                    && self
                        .directory
                        .as_ref()
                        .is_some_and(|d| d.is_within(&row.office_id, &caller.subject))
            }
            Role::Crawler | Role::Extraction => false,
        }
    }

    /// The offices whose reports `caller` may list (`None`: no restriction by office).
    fn readable_offices(&self, caller: &nianbao_auth::Identity) -> Option<Vec<String>> {
        (caller.role == Role::Office).then(|| {
            self.directory.as_ref().map_or_else(Vec::new, |d| {
                d.subtree(&caller.subject)
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            })
        })
    }
}

const READERS: &[Role] = &[Role::Agency, Role::Office, Role::Operator];

/// The report id: the first 24 hex digits of sha256(agency hint + "\n" + version). The same bytes
/// submitted for the same agency get the same id (idempotent re-submission); the same bytes from two
/// agencies (a template copied unchanged) are two reports.
pub fn report_id(agency_hint: &str, version: &str) -> String {
    let mut h = Sha256::new();
    h.update(agency_hint.as_bytes());
    h.update(b"\n");
    h.update(version.as_bytes());
    let mut id = hex::encode(h.finalize());
    id.truncate(24);
    id
}

fn unavailable(e: &StoreError) -> GrpcStatus {
    tracing::error!(error = %e, "database error");
    GrpcStatus::unavailable(format!(
        "数据库暂不可用，请稍后重试 / database unavailable, retry later: {e}"
    ))
}

fn not_found(id: &str) -> GrpcStatus {
    GrpcStatus::not_found(format!("没有编号为 {id} 的报告 / no report with id {id}"))
}

/// `YYYY-MM-DD` with plausible ranges (no calendar check: the date is informative only).
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    matches!(
        (digits(0..4), digits(5..7), digits(8..10)),
        (Some(_), Some(1..=12), Some(1..=31))
    )
}

fn is_region(s: &str) -> bool {
    !s.is_empty() && s.len() <= 12 && s.bytes().all(|c| c.is_ascii_alphanumeric())
}

fn opt_trim(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The row as the API shows it.
pub fn to_proto(r: ReportRow) -> v1::Report {
    let findings: Vec<StoredFinding> = serde_json::from_str(&r.findings_json).unwrap_or_else(|e| {
        tracing::warn!(report_id = %r.report_id, error = %e, "stored findings unreadable");
        Vec::new()
    });
    let alert_ids: Vec<String> = serde_json::from_str(&r.alert_ids_json).unwrap_or_default();
    let agency = if r.agency.is_empty() {
        r.agency_hint
    } else {
        r.agency
    };
    v1::Report {
        report_id: r.report_id,
        version: r.version,
        file_name: r.file_name,
        agency,
        region: r.region,
        year: i32::try_from(r.year).unwrap_or(0),
        status: r.status.as_str().to_string(),
        failure_reason: r.failure_reason,
        findings: findings.into_iter().map(v1::Finding::from).collect(),
        received_at_ms: r.received_at_ms,
        updated_at_ms: r.updated_at_ms,
        source_url: r.source_url,
        published_on: r.published_on,
        alert_ids,
        size: u64::try_from(r.size).unwrap_or(0),
        submitted_by: r.submitted_by,
        agency_verified: r.agency_verified,
        office_id: r.office_id,
        backfill: r.backfill,
        first_seen_at_ms: r.first_seen_at_ms,
        etag: r.etag,
        last_modified: r.last_modified,
        http_status: u32::try_from(r.http_status).unwrap_or(0),
    }
}

#[tonic::async_trait]
impl Ingest for IngestService {
    async fn submit_report(
        &self,
        request: Request<v1::SubmitReportRequest>,
    ) -> Result<Response<v1::SubmitReportResponse>, GrpcStatus> {
        // This call's span (child of the caller's, when it sent one) is the parent of every stage,
        // also when the outbox publishes the event later.
        let traceparent = nianbao_telemetry::current_traceparent().unwrap_or_else(|| {
            request
                .metadata()
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        });
        let caller = require(
            &request,
            &[Role::Agency, Role::Crawler, Role::Operator],
            "提交报告 SubmitReport",
        )?;
        let req = request.into_inner();
        let size = req.content.len() as u64;
        if size == 0 {
            return Err(GrpcStatus::invalid_argument(
                "报告内容为空 / the report content is empty",
            ));
        }
        if size > self.max_bytes {
            return Err(GrpcStatus::invalid_argument(format!(
                "报告过大：{size} 字节，上限 {max} 字节 / report too large: {size} bytes, the limit is {max} bytes",
                max = self.max_bytes
            )));
        }
        let named = opt_trim(req.agency);
        too_long(
            "agency",
            named.as_deref().unwrap_or_default(),
            MAX_AGENCY_CHARS,
        )?;
        too_long("file_name", &req.file_name, MAX_FILE_NAME_CHARS)?;
        too_long(
            "source_url",
            req.source_url.as_deref().unwrap_or_default(),
            MAX_URL_CHARS,
        )?;
        // The agency of a submission is the authenticated one: an agency submits only as itself;
        // an operator may name the agency it acts for; a crawler's naming is a claim only.
        let (agency_hint, agency_verified) = match caller.role {
            Role::Agency => {
                if named.as_deref().is_some_and(|n| n != caller.subject) {
                    return Err(denied(
                        &format!("只能以本机关（{}）名义提交报告", caller.subject),
                        &format!("an agency submits only as itself ({})", caller.subject),
                    ));
                }
                (caller.subject.clone(), true)
            }
            Role::Operator | Role::Local => {
                let verified = named.is_some();
                (named.unwrap_or_default(), verified)
            }
            _ => (named.unwrap_or_default(), false),
        };
        if caller.role == Role::Agency
            && req
                .published_on
                .as_deref()
                .is_some_and(|p| !p.trim().is_empty())
        {
            // A back-dated publication date would hide a late report: the date an agency's own
            // submission arrived is the evidence.
            return Err(denied(
                "发布日期只能由采集程序或运维人员提供，报告机关提交的报告以接收时间为准",
                "published_on may be stated by a crawler or an operator only; an agency's submission counts from its arrival",
            ));
        }
        if req.backfill && !matches!(caller.role, Role::Crawler | Role::Operator | Role::Local) {
            // An agency marking its own report as an earlier year's would keep it from alerting
            // anyone: only the people loading history may.
            return Err(denied(
                "只有运维人员或采集程序可以补录往年报告（backfill），报告机关提交的报告都会进入检查和提醒",
                "backfill is for operators and crawlers only; an agency's submission is always checked and alerted on",
            ));
        }
        too_long("etag", &req.etag, MAX_VALIDATOR_CHARS)?;
        too_long("last_modified", &req.last_modified, MAX_VALIDATOR_CHARS)?;
        if req.http_status > 599 || req.first_seen_at_ms < 0 {
            return Err(GrpcStatus::invalid_argument(format!(
                "来源信息无效：HTTP 状态 {}，首次发现时间 {} / invalid provenance: http_status {}, first_seen_at_ms {}",
                req.http_status, req.first_seen_at_ms, req.http_status, req.first_seen_at_ms
            )));
        }
        let region = opt_trim(req.region).unwrap_or_else(|| UNKNOWN_REGION.to_string());
        if !is_region(&region) {
            return Err(GrpcStatus::invalid_argument(format!(
                "地区代码无效：{region:?}（应为数字或字母，最多12位）/ invalid region code {region:?} (letters and digits, at most 12)"
            )));
        }
        let published_on = opt_trim(req.published_on).unwrap_or_default();
        if !published_on.is_empty() && !is_date(&published_on) {
            return Err(GrpcStatus::invalid_argument(format!(
                "发布日期格式应为 YYYY-MM-DD：{published_on:?} / published_on must be YYYY-MM-DD: {published_on:?}"
            )));
        }

        if self.agency_quota_bytes > 0 && !agency_hint.is_empty() {
            let stored = self
                .store
                .stored_bytes(&agency_hint)
                .await
                .map_err(|e| unavailable(&e))?;
            if stored.saturating_add(size) > self.agency_quota_bytes {
                return Err(GrpcStatus::resource_exhausted(format!(
                    "{agency_hint} 的存储配额已满（已存 {stored} 字节，上限 {max} 字节），请联系运维人员 / storage quota of {agency_hint} reached: {stored} bytes stored, the limit is {max} bytes",
                    max = self.agency_quota_bytes
                )));
            }
        }
        let _room = self.inflight.acquire(size).await?;
        let version = hex::encode(Sha256::digest(&req.content));
        // An unverified claim to be an agency gets an id of its own, so that it can never stand
        // in for (or block, as a duplicate) the agency's own submission of the same bytes.
        // A backfilled copy has an id of its own too: the agency's own later submission of the
        // same bytes is its report (checked, alerted on, its arrival), not a duplicate of the copy.
        let id = match (agency_verified, req.backfill) {
            (true, false) => report_id(&agency_hint, &version),
            (true, true) => report_id(&format!("backfill:{agency_hint}"), &version),
            (false, false) => report_id(&format!("unverified:{agency_hint}"), &version),
            (false, true) => report_id(&format!("unverified-backfill:{agency_hint}"), &version),
        };
        let now = nianbao_service::now_ms();
        let row = ReportRow {
            report_id: id.clone(),
            version: version.clone(),
            file_name: req.file_name,
            agency_hint,
            agency: String::new(),
            region,
            year: 0,
            status: Status::Received,
            failure_reason: String::new(),
            findings_json: "[]".into(),
            alert_ids_json: "[]".into(),
            received_at_ms: now,
            updated_at_ms: now,
            source_url: opt_trim(req.source_url).unwrap_or_default(),
            published_on,
            size: i64::try_from(size).unwrap_or(i64::MAX),
            published: false,
            progress: 0,
            traceparent,
            submitted_by: caller.describe(),
            agency_verified,
            office_id: String::new(),
            backfill: req.backfill,
            first_seen_at_ms: req.first_seen_at_ms,
            etag: req.etag.trim().to_string(),
            last_modified: req.last_modified.trim().to_string(),
            http_status: i64::from(req.http_status),
        };
        let mut row = row;
        if let Some(d) = &self.directory
            && agency_verified
        {
            row.office_id = crate::follower::office_of(d, &row.agency_hint);
        }
        let inserted = self.submitter.submit(row, req.content).await.map_err(|e| {
            tracing::error!(error = %e, "could not store a submission");
            GrpcStatus::unavailable(format!(
                "数据库暂不可用，请稍后重试 / database unavailable, retry later: {e}"
            ))
        })?;
        if !inserted {
            // A re-submission: no second pass, unless the first event never reached the broker.
            let existing = self.store.get(&id).await.map_err(|e| unavailable(&e))?;
            if let Some(existing) = existing.filter(|r| !r.published) {
                publish_received(&self.bus, &self.store, &existing).await;
            }
            tracing::info!(report_id = %id, "duplicate submission");
        }
        Ok(Response::new(v1::SubmitReportResponse {
            report_id: id,
            version,
            duplicate: !inserted,
        }))
    }

    async fn get_report(
        &self,
        request: Request<v1::GetReportRequest>,
    ) -> Result<Response<v1::Report>, GrpcStatus> {
        let caller = require(&request, READERS, "查看报告 GetReport")?;
        let id = request.into_inner().report_id;
        too_long("report_id", &id, MAX_ID_CHARS)?;
        let row = self
            .store
            .get(id.trim())
            .await
            .map_err(|e| unavailable(&e))?;
        match row {
            // Someone else's report is reported as absent: its existence is not for the caller.
            Some(r) if self.may_read(&caller, &r) => Ok(Response::new(to_proto(r))),
            Some(_) => Err(denied(
                &format!("报告 {id} 不在您的管辖范围内"),
                &format!("report {id} is outside your jurisdiction"),
            )),
            None => Err(not_found(&id)),
        }
    }

    async fn list_reports(
        &self,
        request: Request<v1::ListReportsRequest>,
    ) -> Result<Response<v1::ListReportsResponse>, GrpcStatus> {
        let caller = require(&request, READERS, "查看报告列表 ListReports")?;
        let req = request.into_inner();
        too_long(
            "agency",
            req.agency.as_deref().unwrap_or_default(),
            MAX_AGENCY_CHARS,
        )?;
        too_long("region", req.region.as_deref().unwrap_or_default(), 12)?;
        let status = match opt_trim(req.status) {
            None => None,
            Some(s) => Some(s.parse::<Status>().map_err(|_| {
                GrpcStatus::invalid_argument(format!(
                    "未知状态 {s:?}（可用：received、extracted、validated、notified、failed）/ unknown status {s:?} (received, extracted, validated, notified, failed)"
                ))
            })?),
        };
        let limit = match req.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let filter = ListFilter {
            agency: opt_trim(req.agency),
            region: opt_trim(req.region),
            year: req.year.map(i64::from),
            status,
            submitted_for: caller.agency().map(str::to_string),
            offices: self.readable_offices(&caller),
            limit: i64::from(limit),
            offset: i64::from(req.offset),
        };
        let (rows, total) = self
            .store
            .list(&filter)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(Response::new(v1::ListReportsResponse {
            reports: rows.into_iter().map(to_proto).collect(),
            total,
        }))
    }

    async fn fetch_report(
        &self,
        request: Request<v1::FetchReportRequest>,
    ) -> Result<Response<v1::FetchReportResponse>, GrpcStatus> {
        require(&request, &[Role::Extraction], "读取原始报告 FetchReport")?;
        let id = request.into_inner().report_id;
        too_long("report_id", &id, MAX_ID_CHARS)?;
        let found = self
            .store
            .fetch(id.trim())
            .await
            .map_err(|e| unavailable(&e))?;
        let (row, content) = found.ok_or_else(|| not_found(&id))?;
        Ok(Response::new(v1::FetchReportResponse {
            content,
            file_name: row.file_name,
            version: row.version,
        }))
    }

    async fn get_report_document(
        &self,
        request: Request<v1::GetReportRequest>,
    ) -> Result<Response<v1::FetchReportResponse>, GrpcStatus> {
        let caller = require(&request, READERS, "查看报告原文 GetReportDocument")?;
        let id = request.into_inner().report_id;
        too_long("report_id", &id, MAX_ID_CHARS)?;
        let found = self
            .store
            .fetch(id.trim())
            .await
            .map_err(|e| unavailable(&e))?;
        match found {
            Some((row, content)) if self.may_read(&caller, &row) => {
                Ok(Response::new(v1::FetchReportResponse {
                    content,
                    file_name: row.file_name,
                    version: row.version,
                }))
            }
            Some(_) => Err(denied(
                &format!("报告 {id} 不在您的管辖范围内"),
                &format!("report {id} is outside your jurisdiction"),
            )),
            None => Err(not_found(&id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Submissions hold their size while stored; one that finds no room within the wait is told
    /// to come back (RESOURCE_EXHAUSTED), and room comes back when a submission is done. Paused
    /// time: the 30 s wait passes at once.
    #[tokio::test(start_paused = true)]
    async fn submissions_wait_for_room_then_are_refused() {
        let inflight = Inflight::new(100 * 1024);
        let held = inflight
            .acquire(80 * 1024)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let Err(e) = inflight.acquire(30 * 1024).await else {
            panic!("more than max_inflight_bytes held at once");
        };
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(e.message().contains("服务繁忙"), "{}", e.message());
        // A submission larger than the whole budget waits for all of it rather than never running.
        let waiter = {
            let inflight = inflight.clone();
            tokio::spawn(async move { inflight.acquire(500 * 1024).await.is_ok() })
        };
        tokio::task::yield_now().await;
        drop(held);
        assert!(waiter.await.unwrap_or(false));
        let whole = inflight.acquire(100 * 1024).await;
        assert!(whole.is_ok(), "all of the room came back: {whole:?}");
    }

    #[test]
    fn report_ids_depend_on_agency_and_bytes() {
        let v = hex::encode(Sha256::digest(b"report"));
        let a = report_id("某县人民政府", &v);
        assert_eq!(a.len(), 24);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, report_id("某县人民政府", &v));
        assert_ne!(a, report_id("", &v));
        assert_ne!(
            a,
            report_id("某县人民政府", &hex::encode(Sha256::digest(b"other")))
        );
    }

    #[test]
    fn dates_and_regions() {
        assert!(is_date("2025-01-20"));
        assert!(!is_date("2025-1-20"));
        assert!(!is_date("2025-13-01"));
        assert!(!is_date("２０２５-01-01"));
        assert!(is_region("410000"));
        assert!(!is_region("41.00"));
        assert!(!is_region(""));
    }
}
