//! What the pages show, fetched from the services with the clerk's own credential, and the season
//! of one office's jurisdiction computed from it and the directory: who must report, who has, who
//! is late or missing, what is wrong.

use crate::ConsoleError;
use nianbao_auth::{AuthChannel, Bearer};
use nianbao_directory::{Agency, AgencyKind, Date, Directory, Office};
use nianbao_proto::v1::ingest_client::IngestClient;
use nianbao_proto::v1::notification_client::NotificationClient;
use nianbao_proto::v1::{
    AcknowledgeAlertRequest, Alert, GetReportRequest, ListAlertsRequest, ListReportsRequest,
    NotifyAgencyRequest, NotifyAgencyResponse, ReassignAlertRequest, Report,
    SetRectifyDeadlineRequest,
};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A call to a service that failed, as the page tells it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The credential is no longer accepted: the clerk logs in again.
    #[error("凭证已失效，请重新登录")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("服务暂不可用，请稍后重试（{0}）")]
    Unavailable(String),
}

impl From<tonic::Status> for ApiError {
    fn from(s: tonic::Status) -> ApiError {
        let msg = s.message().to_string();
        match s.code() {
            tonic::Code::Unauthenticated => ApiError::Unauthenticated,
            tonic::Code::PermissionDenied => ApiError::Forbidden(msg),
            tonic::Code::NotFound => ApiError::NotFound(msg),
            tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition => {
                ApiError::Invalid(msg)
            }
            _ => ApiError::Unavailable(msg),
        }
    }
}

/// Lazily connected channels to ingest and notification; each call carries the clerk's token.
#[derive(Clone)]
pub struct Services {
    ingest: tonic::transport::Channel,
    notification: tonic::transport::Channel,
}

/// Largest message the console accepts from ingest (a report's original document).
const MAX_MESSAGE: usize = 64 << 20;

impl Services {
    pub fn new(cfg: &crate::Config) -> Result<Services, ConsoleError> {
        let client = nianbao_auth::ClientConfig {
            token: String::new(),
            token_file: Default::default(),
            ..cfg.client.clone()
        };
        let channel = |url: &str| -> Result<tonic::transport::Channel, ConsoleError> {
            Ok(client
                .endpoint(url)?
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(60))
                .connect_lazy())
        };
        Ok(Services {
            ingest: channel(&cfg.ingest_url)?,
            notification: channel(&cfg.notification_url)?,
        })
    }

    fn with(channel: &tonic::transport::Channel, token: &str) -> Result<AuthChannel, ApiError> {
        let bearer = Bearer::new(Some(token)).map_err(|_| ApiError::Unauthenticated)?;
        Ok(tonic::service::interceptor::InterceptedService::new(
            channel.clone(),
            bearer,
        ))
    }

    pub fn ingest(&self, token: &str) -> Result<IngestClient<AuthChannel>, ApiError> {
        Ok(IngestClient::new(Self::with(&self.ingest, token)?)
            .max_decoding_message_size(MAX_MESSAGE))
    }

    pub fn notification(&self, token: &str) -> Result<NotificationClient<AuthChannel>, ApiError> {
        Ok(
            NotificationClient::new(Self::with(&self.notification, token)?)
                .max_decoding_message_size(MAX_MESSAGE),
        )
    }

    /// Every report of `year` the clerk may read (all years when `None`).
    pub async fn reports(&self, token: &str, year: Option<i32>) -> Result<Vec<Report>, ApiError> {
        let mut c = self.ingest(token)?;
        let mut out = Vec::new();
        loop {
            let page = c
                .list_reports(ListReportsRequest {
                    year,
                    limit: 1000,
                    offset: u32::try_from(out.len()).unwrap_or(u32::MAX),
                    ..Default::default()
                })
                .await?
                .into_inner();
            let n = page.reports.len();
            out.extend(page.reports);
            if n == 0 || out.len() as u64 >= page.total {
                return Ok(out);
            }
        }
    }

    /// The reports of one agency name and year (its versions).
    pub async fn versions(
        &self,
        token: &str,
        agency: &str,
        year: i32,
    ) -> Result<Vec<Report>, ApiError> {
        let page = self
            .ingest(token)?
            .list_reports(ListReportsRequest {
                agency: Some(agency.to_string()),
                year: (year > 0).then_some(year),
                limit: 1000,
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok(page.reports)
    }

    pub async fn report(&self, token: &str, id: &str) -> Result<Report, ApiError> {
        Ok(self
            .ingest(token)?
            .get_report(GetReportRequest {
                report_id: id.to_string(),
            })
            .await?
            .into_inner())
    }

    /// The original document: (file name, bytes).
    pub async fn document(&self, token: &str, id: &str) -> Result<(String, Vec<u8>), ApiError> {
        let d = self
            .ingest(token)?
            .get_report_document(GetReportRequest {
                report_id: id.to_string(),
            })
            .await?
            .into_inner();
        Ok((d.file_name, d.content))
    }

    /// Every alert the clerk may see (their office's subtree), of `office` when given.
    pub async fn alerts(&self, token: &str, office: Option<&str>) -> Result<Vec<Alert>, ApiError> {
        let mut c = self.notification(token)?;
        let mut out = Vec::new();
        loop {
            let page = c
                .list_alerts(ListAlertsRequest {
                    office_id: office.map(str::to_string),
                    limit: 1000,
                    offset: u32::try_from(out.len()).unwrap_or(u32::MAX),
                    ..Default::default()
                })
                .await?
                .into_inner();
            let n = page.alerts.len();
            out.extend(page.alerts);
            if n == 0 || out.len() as u64 >= page.total {
                return Ok(out);
            }
        }
    }

    pub async fn acknowledge(&self, token: &str, id: &str, note: &str) -> Result<Alert, ApiError> {
        Ok(self
            .notification(token)?
            .acknowledge_alert(AcknowledgeAlertRequest {
                alert_id: id.to_string(),
                acknowledged_by: String::new(),
                note: note.to_string(),
            })
            .await?
            .into_inner())
    }

    /// Hands the alert to `office` (notification checks both against the clerk's jurisdiction
    /// and audits it, with the browser's address `client`).
    pub async fn reassign(
        &self,
        token: &str,
        id: &str,
        office: &str,
        note: &str,
        client: &str,
    ) -> Result<Alert, ApiError> {
        Ok(self
            .notification(token)?
            .reassign_alert(ReassignAlertRequest {
                alert_id: id.to_string(),
                office_id: office.to_string(),
                note: note.to_string(),
                client_address: client.to_string(),
            })
            .await?
            .into_inner())
    }

    /// Sets (`""`: clears) the alert's 整改期限.
    pub async fn set_rectify_by(
        &self,
        token: &str,
        id: &str,
        date: &str,
        client: &str,
    ) -> Result<Alert, ApiError> {
        Ok(self
            .notification(token)?
            .set_rectify_deadline(SetRectifyDeadlineRequest {
                alert_id: id.to_string(),
                rectify_by: date.to_string(),
                note: String::new(),
                client_address: client.to_string(),
            })
            .await?
            .into_inner())
    }

    /// Sends the alert's notice to its agency's channels.
    pub async fn notify_agency(
        &self,
        token: &str,
        id: &str,
        note: &str,
        client: &str,
    ) -> Result<NotifyAgencyResponse, ApiError> {
        Ok(self
            .notification(token)?
            .notify_agency(NotifyAgencyRequest {
                alert_id: id.to_string(),
                note: note.to_string(),
                client_address: client.to_string(),
            })
            .await?
            .into_inner())
    }
}

/// Whether the alert's 整改期限 has passed (`today` after it) while the alert is not resolved.
pub fn rectify_overdue(a: &Alert, today: Date) -> bool {
    a.status != "resolved" && Date::parse(&a.rectify_by).is_some_and(|due| today > due)
}

/// Where an agency stands in the season.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Standing {
    /// No report, the deadline has passed.
    Overdue,
    /// No report yet, the deadline is still ahead.
    Missing,
    /// Reported after the deadline.
    Late,
    /// Reported in time.
    OnTime,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Overdue => "overdue",
            Standing::Missing => "missing",
            Standing::Late => "late",
            Standing::OnTime => "ontime",
        }
    }

    pub fn chinese(self) -> &'static str {
        match self {
            Standing::Overdue => "逾期未报",
            Standing::Missing => "未报",
            Standing::Late => "逾期报送",
            Standing::OnTime => "按时报送",
        }
    }

    pub fn reported(self) -> bool {
        matches!(self, Standing::Late | Standing::OnTime)
    }

    pub fn late(self) -> bool {
        matches!(self, Standing::Late | Standing::Overdue)
    }

    pub fn css(self) -> &'static str {
        match self {
            Standing::Overdue => "st-missing",
            Standing::Missing => "st-missing",
            Standing::Late => "st-late",
            Standing::OnTime => "st-ok",
        }
    }
}

/// One agency that must report, with its reports of the year.
#[derive(Clone, Debug)]
pub struct AgencyRow<'a> {
    pub agency: &'a Agency,
    /// The office that supervises it.
    pub office: &'a Office,
    pub deadline: Date,
    pub standing: Standing,
    /// Its reports of the year, newest first (backfill excluded).
    pub reports: Vec<&'a Report>,
    /// The day it counts as published (the first report's `published_on`, else its arrival).
    pub reported_on: Option<Date>,
    /// Errors and warnings of the newest report.
    pub errors: usize,
    pub warnings: usize,
    /// The newest change of any of its reports (ms).
    pub last_change_ms: i64,
}

impl AgencyRow<'_> {
    pub fn latest(&self) -> Option<&Report> {
        self.reports.first().copied()
    }
}

/// Counts of a group of agencies (an office's subtree).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// 应报
    pub due: usize,
    /// 已报
    pub reported: usize,
    /// 未报
    pub missing: usize,
    /// 逾期 (late reports and overdue missing ones)
    pub late: usize,
    /// 有错误
    pub with_errors: usize,
}

impl Counts {
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a AgencyRow<'a>>) -> Counts {
        let mut c = Counts::default();
        for r in rows {
            c.due += 1;
            if r.standing.reported() {
                c.reported += 1;
            } else {
                c.missing += 1;
            }
            if r.standing.late() {
                c.late += 1;
            }
            if r.errors > 0 {
                c.with_errors += 1;
            }
        }
        c
    }
}

/// The day a report counts from: its `published_on`, else the day it arrived (China time).
pub fn report_day(r: &Report) -> Date {
    Date::parse(&r.published_on).unwrap_or_else(|| Date::from_ms_cst(r.received_at_ms))
}

/// The directory agency a report is about: the id the submitter gave, else its name (and region).
pub fn agency_of<'d>(dir: &'d Directory, r: &Report) -> Option<&'d Agency> {
    if let Some(a) = dir.agency_by_id(&r.agency) {
        return Some(a);
    }
    let region = (!r.region.is_empty() && r.region != "000000").then_some(r.region.as_str());
    let route = dir.resolve_in(&r.agency, region);
    route.id.and_then(|id| dir.agency_by_id(id))
}

/// The season of the agencies under `scope` (an office id; its subtree) for `year`, as of
/// `today`.
pub fn season<'a>(
    dir: &'a Directory,
    scope: &str,
    year: i32,
    reports: &'a [Report],
    today: Date,
) -> Vec<AgencyRow<'a>> {
    let offices: std::collections::HashSet<&str> = dir.subtree(scope).into_iter().collect();
    let mut by_agency: HashMap<&str, Vec<&Report>> = HashMap::new();
    for r in reports {
        if r.backfill || r.year != year {
            continue;
        }
        if let Some(a) = agency_of(dir, r) {
            by_agency.entry(a.id.as_str()).or_default().push(r);
        }
    }
    let mut rows = Vec::new();
    for a in dir.agencies() {
        let route = dir.route_to(a, nianbao_directory::MatchKind::Name, None);
        if !offices.contains(route.office.id.as_str()) {
            continue;
        }
        let deadline = dir.deadline(a, year);
        let mut reps = by_agency.remove(a.id.as_str()).unwrap_or_default();
        reps.sort_by_key(|r| std::cmp::Reverse((r.received_at_ms, r.report_id.clone())));
        let reported_on = reps.iter().map(|r| report_day(r)).min();
        let standing = match reported_on {
            Some(d) if d > deadline => Standing::Late,
            Some(_) => Standing::OnTime,
            None if today > deadline => Standing::Overdue,
            None => Standing::Missing,
        };
        let count = |sev: &str| {
            reps.first().map_or(0, |r| {
                r.findings.iter().filter(|f| f.severity == sev).count()
            })
        };
        rows.push(AgencyRow {
            agency: a,
            office: route.office,
            deadline,
            standing,
            errors: count("error"),
            warnings: count("warning"),
            last_change_ms: reps.iter().map(|r| r.updated_at_ms).max().unwrap_or(0),
            reported_on,
            reports: reps,
        });
    }
    rows
}

/// The offices directly below `office`.
pub fn children<'a>(dir: &'a Directory, office: &str) -> Vec<&'a Office> {
    dir.offices()
        .iter()
        .filter(|o| o.parent.as_deref() == Some(office))
        .collect()
}

/// The Chinese name of an agency kind.
pub fn kind_zh(k: AgencyKind) -> &'static str {
    k.chinese()
}

/// Findings of the newest reports counted by rule: rule → (errors, warnings, infos).
pub fn findings_by_rule(rows: &[AgencyRow<'_>]) -> BTreeMap<String, [usize; 3]> {
    let mut m: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for r in rows {
        if let Some(rep) = r.latest() {
            for f in &rep.findings {
                let e = m.entry(f.rule.clone()).or_default();
                match f.severity.as_str() {
                    "error" => e[0] += 1,
                    "warning" => e[1] += 1,
                    _ => e[2] += 1,
                }
            }
        }
    }
    m
}

/// The Chinese title of a rule id (the id itself when unknown).
pub fn rule_title(id: &str) -> String {
    id.parse::<nianbao_model::RuleId>()
        .map_or_else(|_| id.to_string(), |r| r.title().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = r#"
default_office = "city"
[[offices]]
id = "city"
name = "江州市人民政府办公室"
level = "city"
region = "390100"
[[offices]]
id = "qh"
name = "清河县人民政府办公室"
level = "county"
region = "390121"
parent = "city"
[[offices]]
id = "ap"
name = "安平县人民政府办公室"
level = "county"
region = "390122"
parent = "city"
[[agencies]]
name = "清河县财政局"
office = "qh"
region = "390121"
[[agencies]]
name = "清河县水利局"
office = "qh"
region = "390121"
[[agencies]]
name = "清河县河西街道办事处"
office = "qh"
region = "390121"
[[agencies]]
name = "安平县财政局"
office = "ap"
region = "390122"
"#;

    fn report(agency: &str, published_on: &str, errors: usize) -> Report {
        Report {
            report_id: format!("r-{agency}"),
            agency: agency.into(),
            year: 2024,
            published_on: published_on.into(),
            received_at_ms: 1,
            updated_at_ms: 2,
            findings: (0..errors)
                .map(|_| nianbao_proto::v1::Finding {
                    rule: "t3-balance".into(),
                    severity: "error".into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_season_of_a_county() {
        let dir = Directory::from_toml(DIR).unwrap_or_else(|e| panic!("{e}"));
        let reports = vec![
            report("清河县财政局", "2025-01-20", 1),
            report("清河县水利局", "2025-02-03", 0),
            report("安平县财政局", "2025-01-10", 0),
        ];
        // 1 March 2025: the departments' deadline (31 January) and the streets' (31 March by
        // default) are on either side.
        let today = Date::new(2025, 3, 1).unwrap_or_else(|| panic!("date"));
        let rows = season(&dir, "qh", 2024, &reports, today);
        assert_eq!(rows.len(), 3, "the county's agencies only");
        let by = |name: &str| {
            rows.iter()
                .find(|r| r.agency.name == name)
                .map(|r| (r.standing, r.errors))
        };
        assert_eq!(by("清河县财政局"), Some((Standing::OnTime, 1)));
        assert_eq!(by("清河县水利局"), Some((Standing::Late, 0)));
        assert_eq!(by("清河县河西街道办事处"), Some((Standing::Missing, 0)));
        let c = Counts::of(&rows);
        assert_eq!(
            (c.due, c.reported, c.missing, c.late, c.with_errors),
            (3, 2, 1, 1, 1)
        );
        // The city sees both counties.
        assert_eq!(season(&dir, "city", 2024, &reports, today).len(), 4);
        let by_rule = findings_by_rule(&rows);
        assert_eq!(by_rule.get("t3-balance"), Some(&[1, 0, 0]));
    }
}
