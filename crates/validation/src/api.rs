//! The gRPC API `nianbao.v1.Validation`: `Validate` for an agency's self-check, `ListRules`.

use nianbao_model::RuleId;
use nianbao_model::finding::RuleScope;
use nianbao_proto::v1;
use nianbao_proto::v1::validation_server::Validation;
use nianbao_rules::{Checker, RuleConfig};
use std::sync::Arc;
use std::time::Duration;

/// The gRPC `nianbao.v1.Validation` service.
pub struct Api {
    checker: Arc<Checker>,
    limits: nianbao_extract::Limits,
    /// `validate_concurrency`: a flood of Validate calls queues here instead of filling the
    /// blocking pool (the consumer's extractions share it).
    slots: Arc<tokio::sync::Semaphore>,
    deadline: Duration,
}

impl Api {
    pub fn new(checker: Arc<Checker>, limits: nianbao_extract::Limits) -> Api {
        Api::bounded(checker, limits, 2, Duration::from_secs(30))
    }

    pub fn bounded(
        checker: Arc<Checker>,
        limits: nianbao_extract::Limits,
        concurrency: usize,
        deadline: Duration,
    ) -> Api {
        Api {
            checker,
            limits,
            slots: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
            deadline,
        }
    }
}

/// Who may self-check a report with `Validate` (and list the rules): every credential but the
/// extraction workers'.
const CHECKERS: &[nianbao_auth::Role] = &[
    nianbao_auth::Role::Agency,
    nianbao_auth::Role::Office,
    nianbao_auth::Role::Crawler,
    nianbao_auth::Role::Operator,
];

fn scope_str(s: RuleScope) -> &'static str {
    match s {
        RuleScope::Single => "single",
        RuleScope::CrossReport => "cross-report",
        RuleScope::Roster => "roster",
    }
}

/// The catalogue as this deployment applies it.
pub fn rule_infos(cfg: &RuleConfig) -> Vec<v1::RuleInfo> {
    RuleId::ALL
        .iter()
        .map(|&r| v1::RuleInfo {
            id: r.as_str().into(),
            severity: cfg.severity(r).as_str().into(),
            title: r.title().into(),
            scope: scope_str(r.scope()).into(),
            enabled: cfg.is_enabled(r),
        })
        .collect()
}

#[tonic::async_trait]
impl Validation for Api {
    async fn validate(
        &self,
        request: tonic::Request<v1::ValidateRequest>,
    ) -> Result<tonic::Response<v1::ValidateResponse>, tonic::Status> {
        nianbao_auth::grpc::require(&request, CHECKERS, "自查报告 Validate")?;
        let req = request.into_inner();
        let checker = self.checker.clone();
        let limits = self.limits.clone();
        let too_slow = || {
            tonic::Status::deadline_exceeded(format!(
                "检查未能在 {} 秒内完成，请稍后重试 / validation did not finish within {} s",
                self.deadline.as_secs(),
                self.deadline.as_secs()
            ))
        };
        let started = tokio::time::Instant::now();
        let _slot = tokio::time::timeout(self.deadline, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| too_slow())?
            .map_err(|_| tonic::Status::unavailable("the service is stopping"))?;
        // Extraction of a large document takes milliseconds of CPU: keep it off the async workers.
        // The document's own time limit (`[limits] max_time_ms`) stops the work itself; the deadline
        // answers the caller.
        let work = tokio::task::spawn_blocking(move || {
            let x = nianbao_extract::extract_bytes_with(&req.content, &limits);
            let findings = checker.check(&x);
            (x, findings)
        });
        let (x, findings) =
            tokio::time::timeout(self.deadline.saturating_sub(started.elapsed()), work)
                .await
                .map_err(|_| too_slow())?
                .map_err(|e| tonic::Status::internal(format!("validation task failed: {e}")))?;
        let extraction_json = serde_json::to_vec(&x)
            .map_err(|e| tonic::Status::internal(format!("cannot encode the extraction: {e}")))?;
        Ok(tonic::Response::new(v1::ValidateResponse {
            agency: x.agency.clone().unwrap_or_default(),
            year: x.year.unwrap_or(0),
            findings: findings.iter().map(v1::Finding::from).collect(),
            extraction_json,
        }))
    }

    async fn list_rules(
        &self,
        request: tonic::Request<v1::ListRulesRequest>,
    ) -> Result<tonic::Response<v1::ListRulesResponse>, tonic::Status> {
        nianbao_auth::grpc::require(&request, CHECKERS, "规则目录 ListRules")?;
        Ok(tonic::Response::new(v1::ListRulesResponse {
            rules: rule_infos(self.checker.config()),
        }))
    }
}
