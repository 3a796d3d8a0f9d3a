//! One pass over the directory's 专栏: list pages and their pagination, the report pages and
//! attachments they link to, and a submission to ingest for every document whose bytes ingest does
//! not have yet from that URL.
//!
//! **Exactly once.** A document is submitted when its bytes differ from the last version submitted
//! from its URL (sha256); a 304 to the conditional GET, or the same bytes again, submits nothing.
//! A changed document is submitted once more, as a new version; ingest keeps both and validation
//! raises `report-changed`.
//!
//! **Evidence of publication.** Each URL's first sighting is recorded; a submission carries it
//! (`first_seen_at_ms`) and, as `published_on`, the date (China time) its version was first seen:
//! the URL's first sighting for the first version, the pass that found a change for later ones. The
//! crawler cannot know when a page was really put online, only that it was there by then.
//!
//! **Backfill.** On the first pass over an agency's site (no complete pass recorded for it yet), a
//! report whose link or title names a year before the reporting year (`reporting_year`, by
//! default the year before the current one in China) is history, not news: it is submitted with
//! `backfill = true`, validated and stored for carry-over and 雷同 checks, and alerts nobody.
//! A report whose year cannot be told is submitted normally. On later passes every new or changed
//! document is submitted normally (an old report appearing or changing now is news).

use crate::fetch::{FetchError, Fetched, Fetcher, Response, Validators, host_key};
use crate::links::{self, Link, LinkKind};
use crate::state::{State, StateError, UrlState};
use futures_util::StreamExt;
use nianbao_auth::AuthChannel;
use nianbao_directory::{Agency, Date};
use nianbao_proto::v1::SubmitReportRequest;
use nianbao_proto::v1::ingest_client::IngestClient;
use sha2::{Digest, Sha256};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use url::Url;

/// What a pass does besides fetching (`Config`'s crawl settings).
#[derive(Clone, Debug)]
pub struct CrawlSettings {
    /// 0: the year before the current one (China time).
    pub reporting_year: i32,
    pub sites_in_parallel: usize,
    pub max_list_pages: usize,
    pub max_documents: usize,
}

/// A document handed to ingest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    pub agency: String,
    pub url: String,
    pub report_id: String,
    pub year: Option<i32>,
    pub backfill: bool,
    /// Ingest had these bytes for this agency already.
    pub duplicate: bool,
}

/// A URL that could not be fetched or submitted; recorded, the pass goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub agency: String,
    pub url: String,
    pub status: Option<u16>,
    pub error: String,
}

/// What one pass did.
#[derive(Clone, Debug, Default)]
pub struct PassReport {
    pub sites: usize,
    /// List pages read in full, and answered 304.
    pub list_pages: usize,
    pub not_modified: usize,
    /// Documents fetched whose bytes were those submitted before.
    pub unchanged: usize,
    pub submitted: Vec<Submitted>,
    pub problems: Vec<Problem>,
}

impl PassReport {
    fn merge(&mut self, o: PassReport) {
        self.sites += o.sites;
        self.list_pages += o.list_pages;
        self.not_modified += o.not_modified;
        self.unchanged += o.unchanged;
        self.submitted.extend(o.submitted);
        self.problems.extend(o.problems);
    }
}

/// The crawler: the directory, its state and an ingest client with the crawler's credential.
#[derive(Clone)]
pub struct Crawler {
    pub directory: Arc<nianbao_directory::Directory>,
    pub state: State,
    pub ingest: IngestClient<AuthChannel>,
    pub fetch: crate::fetch::FetchConfig,
    /// Hosts beyond the agencies' own that links and redirects may lead to.
    pub extra_hosts: Vec<String>,
    pub settings: CrawlSettings,
}

impl Crawler {
    /// The agencies with a 专栏, and the hosts their links may lead to.
    fn sites(&self) -> (Sites<'_>, crate::fetch::AllowedHosts) {
        let mut allowed = crate::fetch::AllowedHosts::default();
        for h in &self.extra_hosts {
            allowed.add_entry(h);
        }
        let sites: Vec<_> = self
            .directory
            .agencies()
            .iter()
            .filter_map(|a| {
                let raw = a.url.as_deref()?.trim();
                (!raw.is_empty()).then_some(())?;
                let parsed =
                    Url::parse(raw)
                        .map_err(|e| e.to_string())
                        .and_then(|u| match u.scheme() {
                            "http" | "https" => Ok(u),
                            s => Err(format!("scheme {s}")),
                        });
                if let Ok(u) = &parsed {
                    allowed.add_url(u);
                }
                Some((a, parsed))
            })
            .collect();
        (sites, allowed)
    }

    /// One pass over every site; the state records it. Fails only when the fetcher cannot be
    /// built; everything about a single URL is a [`Problem`].
    pub async fn pass(&self) -> Result<PassReport, crate::fetch::BuildError> {
        let (sites, allowed) = self.sites();
        let fetcher = Fetcher::new(self.fetch.clone(), allowed)?;
        let reporting_year = match self.settings.reporting_year {
            y if y > 0 => y,
            _ => Date::from_ms_cst(nianbao_service::now_ms()).year - 1,
        };
        let mut report = PassReport::default();
        let fetcher = &fetcher;
        let mut runs = futures_util::stream::iter(sites)
            .map(|(agency, url)| async move {
                let name = agency.name.clone();
                match url {
                    Err(e) => PassReport {
                        problems: vec![Problem {
                            agency: name,
                            url: agency.url.clone().unwrap_or_default(),
                            status: None,
                            error: format!("专栏地址无效 / invalid 专栏 URL: {e}"),
                        }],
                        ..PassReport::default()
                    },
                    Ok(url) => {
                        let site = Site {
                            crawler: self,
                            fetcher,
                            agency,
                            reporting_year,
                            report: PassReport {
                                sites: 1,
                                ..PassReport::default()
                            },
                        };
                        match site.run(url.clone()).await {
                            Ok(r) => r,
                            Err(e) => PassReport {
                                sites: 1,
                                problems: vec![Problem {
                                    agency: name,
                                    url: url.to_string(),
                                    status: None,
                                    error: e.to_string(),
                                }],
                                ..PassReport::default()
                            },
                        }
                    }
                }
            })
            .buffer_unordered(self.settings.sites_in_parallel.max(1));
        while let Some(r) = runs.next().await {
            report.merge(r);
        }
        Ok(report)
    }
}

/// The agencies with a 专栏 URL, parsed (or why it does not parse).
type Sites<'a> = Vec<(&'a Agency, Result<Url, String>)>;

/// A document to look at.
struct Doc {
    url: String,
    kind: LinkKind,
    year: Option<i32>,
}

/// One agency's site during one pass.
struct Site<'a> {
    crawler: &'a Crawler,
    fetcher: &'a Fetcher,
    agency: &'a Agency,
    reporting_year: i32,
    report: PassReport,
}

fn now() -> i64 {
    nianbao_service::now_ms()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Site<'_> {
    fn state(&self) -> &State {
        &self.crawler.state
    }

    async fn run(mut self, start: Url) -> Result<PassReport, StateError> {
        let name = self.agency.name.clone();
        let first_pass = !self.state().site_known(&name).await?;
        // Pagination stays within the list's own folder on its host.
        let scope_host = host_key(&start);
        let scope_path = match start.path().rfind('/') {
            Some(i) => start.path()[..=i].to_string(),
            None => "/".to_string(),
        };
        let mut lists: VecDeque<Url> = VecDeque::from([start.clone()]);
        let mut seen_lists: HashSet<String> = HashSet::new();
        let mut docs: Vec<Doc> = Vec::new();
        let mut seen_docs: HashSet<String> = HashSet::new();
        let mut start_read = false;
        while let Some(u) = lists.pop_front() {
            if !seen_lists.insert(u.to_string()) {
                continue;
            }
            if seen_lists.len() > self.crawler.settings.max_list_pages {
                tracing::warn!(agency = %name, url = %u, "max_list_pages reached; the rest of the list waits for the next pass");
                break;
            }
            let Some((links, _, _)) = self.page(&u, "list").await? else {
                continue;
            };
            if u == start {
                start_read = true;
            }
            for l in links {
                let Ok(target) = Url::parse(&l.url) else {
                    continue;
                };
                match l.kind {
                    LinkKind::Pagination => {
                        if host_key(&target) == scope_host && target.path().starts_with(&scope_path)
                        {
                            lists.push_back(target);
                        }
                    }
                    LinkKind::Report => {
                        if seen_docs.insert(l.url.clone()) {
                            docs.push(Doc {
                                url: l.url,
                                kind: LinkKind::Report,
                                year: l.year,
                            });
                        }
                    }
                    LinkKind::Attachment => {
                        if l.looks_like_report && seen_docs.insert(l.url.clone()) {
                            docs.push(Doc {
                                url: l.url,
                                kind: LinkKind::Attachment,
                                year: l.year,
                            });
                        }
                    }
                }
            }
        }
        let max_docs = self.crawler.settings.max_documents;
        if docs.len() > max_docs {
            tracing::warn!(agency = %name, found = docs.len(), max_docs, "max_documents reached; the rest wait for the next pass");
            docs.truncate(max_docs);
        }
        for doc in docs {
            match doc.kind {
                LinkKind::Attachment => {
                    self.document(&doc.url, doc.year, first_pass).await?;
                }
                _ => {
                    self.report_page(&doc, first_pass, &mut seen_docs).await?;
                }
            }
        }
        // Only a pass that read the 专栏 itself counts: a site that was down stays "first".
        if start_read {
            self.state().site_done(&name, start.as_str(), now()).await?;
        }
        Ok(self.report)
    }

    fn problem(&mut self, url: &str, status: Option<u16>, error: String) {
        tracing::info!(agency = %self.agency.name, %url, ?status, %error, "not fetched");
        self.report.problems.push(Problem {
            agency: self.agency.name.clone(),
            url: url.to_string(),
            status,
            error,
        });
    }

    /// Fetches a list or report page: its links (the stored ones after a 304), the response when
    /// read in full, and the page. `None` after a failure (recorded).
    #[allow(clippy::type_complexity)]
    async fn page(
        &mut self,
        url: &Url,
        kind: &str,
    ) -> Result<Option<(Vec<Link>, Option<Response>, Option<links::Page>)>, StateError> {
        let st = self
            .state()
            .seen(url.as_str(), &self.agency.name, kind, now())
            .await?;
        match self.fetcher.fetch(url, &st.validators).await {
            Ok(Fetched::NotModified) => {
                self.state().not_modified(url.as_str(), now()).await?;
                if kind == "list" {
                    self.report.list_pages += 1;
                }
                self.report.not_modified += 1;
                Ok(Some((st.links, None, None)))
            }
            Ok(Fetched::Body(resp)) => {
                if kind == "list" {
                    self.report.list_pages += 1;
                }
                let page = match links::scan(&resp.body, &resp.url) {
                    Ok(p) => p,
                    Err(e) => {
                        let msg = e.to_string();
                        self.state()
                            .failed(url.as_str(), i64::from(resp.status), &msg, now())
                            .await?;
                        self.problem(url.as_str(), Some(resp.status), msg);
                        return Ok(None);
                    }
                };
                // A report page's validators are stored with its submission (see `report_page`).
                let validators = if kind == "list" {
                    resp.validators.clone()
                } else {
                    Validators::default()
                };
                self.state()
                    .read_page(
                        url.as_str(),
                        resp.status,
                        &validators,
                        &sha256(&resp.body),
                        &page.links,
                        now(),
                    )
                    .await?;
                Ok(Some((page.links.clone(), Some(resp), Some(page))))
            }
            Err(e) => {
                self.fetch_failed(url.as_str(), &e).await?;
                Ok(None)
            }
        }
    }

    async fn fetch_failed(&mut self, url: &str, e: &FetchError) -> Result<(), StateError> {
        let status = e.status();
        self.state()
            .failed(url, status.map_or(0, i64::from), &e.to_string(), now())
            .await?;
        self.problem(url, status, e.to_string());
        Ok(())
    }

    /// A report page: the page itself when it holds the report's text, and its attachments.
    async fn report_page(
        &mut self,
        doc: &Doc,
        first_pass: bool,
        seen_docs: &mut HashSet<String>,
    ) -> Result<(), StateError> {
        let Ok(url) = Url::parse(&doc.url) else {
            return Ok(());
        };
        let Some((links, resp, page)) = self.page(&url, "page").await? else {
            return Ok(());
        };
        let year = doc.year.or(page.as_ref().and_then(|p| p.year));
        if let (Some(resp), Some(page)) = (resp, &page) {
            if page.has_report_body {
                let st = self
                    .state()
                    .seen(url.as_str(), &self.agency.name, "page", now())
                    .await?;
                self.submit(&st, &resp, year, first_pass).await?;
            } else {
                // Only links: the page's validators can be kept at once.
                self.state()
                    .read_page(
                        url.as_str(),
                        resp.status,
                        &resp.validators,
                        &sha256(&resp.body),
                        &page.links,
                        now(),
                    )
                    .await?;
            }
        }
        for l in links {
            if l.kind == LinkKind::Attachment && seen_docs.insert(l.url.clone()) {
                self.document(&l.url, l.year.or(year), first_pass).await?;
            }
        }
        Ok(())
    }

    /// An attachment: fetched conditionally, submitted if its bytes are new for its URL.
    async fn document(
        &mut self,
        url: &str,
        year: Option<i32>,
        first_pass: bool,
    ) -> Result<(), StateError> {
        let Ok(parsed) = Url::parse(url) else {
            return Ok(());
        };
        let st = self
            .state()
            .seen(url, &self.agency.name, "attachment", now())
            .await?;
        match self.fetcher.fetch(&parsed, &st.validators).await {
            Ok(Fetched::NotModified) => {
                self.state().not_modified(url, now()).await?;
                self.report.not_modified += 1;
            }
            Ok(Fetched::Body(resp)) => {
                self.submit(&st, &resp, year, first_pass).await?;
            }
            Err(e) => self.fetch_failed(url, &e).await?,
        }
        Ok(())
    }

    /// Submits `resp`'s bytes unless they are the version last submitted from this URL.
    async fn submit(
        &mut self,
        st: &UrlState,
        resp: &Response,
        year: Option<i32>,
        first_pass: bool,
    ) -> Result<(), StateError> {
        let sha = sha256(&resp.body);
        let url = st.url.as_str();
        if st.submitted_sha256 == sha {
            self.state()
                .submitted(
                    url,
                    resp.status,
                    &resp.validators,
                    &sha,
                    &st.report_id,
                    false,
                    now(),
                )
                .await?;
            self.report.unchanged += 1;
            return Ok(());
        }
        let backfill = first_pass && year.is_some_and(|y| y < self.reporting_year);
        // The date this version was first seen: the URL's first sighting for its first version.
        let version_seen_ms = if st.submitted_sha256.is_empty() {
            st.first_seen_at_ms
        } else {
            now()
        };
        let mut file_name = links::file_name(&resp.url);
        if file_name.is_empty() {
            file_name = "index.html".into();
        }
        let file_name: String = file_name.chars().take(200).collect();
        let region = self.agency.region.trim();
        let req = SubmitReportRequest {
            content: resp.body.clone(),
            file_name,
            agency: Some(self.agency.id.clone()),
            region: (!region.is_empty()).then(|| region.to_string()),
            source_url: Some(url.chars().take(2048).collect()),
            published_on: Some(Date::from_ms_cst(version_seen_ms).to_string()),
            backfill,
            first_seen_at_ms: st.first_seen_at_ms,
            etag: resp.validators.etag.chars().take(512).collect(),
            last_modified: resp.validators.last_modified.chars().take(512).collect(),
            http_status: u32::from(resp.status),
        };
        let mut ingest = self.crawler.ingest.clone();
        match ingest.submit_report(req).await {
            Ok(r) => {
                let r = r.into_inner();
                self.state()
                    .submitted(
                        url,
                        resp.status,
                        &resp.validators,
                        &sha,
                        &r.report_id,
                        true,
                        now(),
                    )
                    .await?;
                tracing::info!(agency = %self.agency.name, %url, report_id = %r.report_id, backfill, duplicate = r.duplicate, "submitted");
                self.report.submitted.push(Submitted {
                    agency: self.agency.name.clone(),
                    url: url.to_string(),
                    report_id: r.report_id,
                    year,
                    backfill,
                    duplicate: r.duplicate,
                });
            }
            Err(status) => {
                // Nothing stored: the next pass fetches the document in full and tries again.
                let msg = format!("提交失败 / submission failed: {}", status.message());
                self.state()
                    .failed(url, i64::from(resp.status), &msg, now())
                    .await?;
                self.problem(url, Some(resp.status), msg);
            }
        }
        Ok(())
    }
}
