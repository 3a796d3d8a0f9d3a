//! What the crawler remembers between passes, in its own database (SQLite under `data_dir` by
//! default, PostgreSQL by `database_url`, through [`nianbao_db`] like the services' stores).
//!
//! Per URL (`crawl_urls`): when it was first seen (the evidence of when a report was published),
//! the validators and status of the last answer, the last error, the links a list or report page
//! held (so that a 304 still leads to the pages behind it), and the hash of the last version
//! submitted to ingest. Validators of a document are stored only together with a successful
//! submission: a failed submission leaves the document to be fetched in full and tried again.
//! Per agency (`crawl_sites`): when its first complete pass ended; before that, a pass is the first
//! one and finds history (see [`crate::crawl`] for the backfill rule).

use crate::fetch::Validators;
use crate::links::Link;
use nianbao_db::{Db, Migration, Row, Step, query, query_scalar};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("crawler state database: {0}")]
    Db(#[from] nianbao_db::DbError),
    #[error("crawler state database schema: {0}")]
    Migrate(#[from] nianbao_db::MigrateError),
    #[error("crawler state: stored links unreadable: {0}")]
    Json(#[from] serde_json::Error),
}

/// One URL as remembered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UrlState {
    pub url: String,
    pub agency: String,
    /// `list`, `page` or `attachment`.
    pub kind: String,
    pub first_seen_at_ms: i64,
    pub last_checked_at_ms: i64,
    /// Status of the last answer (0: none, e.g. a timeout).
    pub http_status: i64,
    /// The last failure ("" after a success).
    pub error: String,
    pub validators: Validators,
    /// sha256 of the last body read (list and report pages).
    pub content_sha256: String,
    pub links: Vec<Link>,
    /// sha256 of the last version submitted to ingest ("" if none yet).
    pub submitted_sha256: String,
    pub submitted_at_ms: i64,
    pub report_id: String,
    /// Versions submitted from this URL so far.
    pub submissions: i64,
}

/// The crawler's database.
#[derive(Clone, Debug)]
pub struct State {
    db: Db,
}

const COLUMNS: &str = "url, agency, kind, first_seen_at_ms, last_checked_at_ms, http_status, error, \
    etag, last_modified, content_sha256, links_json, submitted_sha256, submitted_at_ms, report_id, \
    submissions";

/// The crawler's schema, in order (see [`nianbao_db::migrate`]); later changes are new migrations,
/// never edits.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "crawled URLs and sites",
    steps: &[
        Step::Sql(
            "CREATE TABLE IF NOT EXISTS crawl_urls (
                url TEXT PRIMARY KEY,
                agency TEXT NOT NULL DEFAULT '',
                kind TEXT NOT NULL DEFAULT '',
                first_seen_at_ms BIGINT NOT NULL,
                last_checked_at_ms BIGINT NOT NULL DEFAULT 0,
                http_status BIGINT NOT NULL DEFAULT 0,
                error TEXT NOT NULL DEFAULT '',
                etag TEXT NOT NULL DEFAULT '',
                last_modified TEXT NOT NULL DEFAULT '',
                content_sha256 TEXT NOT NULL DEFAULT '',
                links_json TEXT NOT NULL DEFAULT '[]',
                submitted_sha256 TEXT NOT NULL DEFAULT '',
                submitted_at_ms BIGINT NOT NULL DEFAULT 0,
                report_id TEXT NOT NULL DEFAULT '',
                submissions BIGINT NOT NULL DEFAULT 0
            )",
        ),
        Step::Sql(
            "CREATE TABLE IF NOT EXISTS crawl_sites (
                agency TEXT PRIMARY KEY,
                url TEXT NOT NULL DEFAULT '',
                first_pass_at_ms BIGINT NOT NULL,
                last_pass_at_ms BIGINT NOT NULL
            )",
        ),
    ],
}];

impl State {
    /// Connects and creates the tables if needed.
    pub async fn open(url: &str) -> Result<State, StateError> {
        let db = nianbao_db::connect(url).await?;
        nianbao_db::migrate(&db, "crawler", MIGRATIONS).await?;
        Ok(State { db })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The URL's state, recording it as first seen now if it is new.
    pub async fn seen(
        &self,
        url: &str,
        agency: &str,
        kind: &str,
        now_ms: i64,
    ) -> Result<UrlState, StateError> {
        query(
            "INSERT INTO crawl_urls (url, agency, kind, first_seen_at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (url) DO NOTHING",
        )
        .bind(url.to_string())
        .bind(agency.to_string())
        .bind(kind.to_string())
        .bind(now_ms)
        .execute(&self.db)
        .await?;
        match self.get(url).await? {
            Some(s) => Ok(s),
            None => Ok(UrlState {
                url: url.to_string(),
                agency: agency.to_string(),
                kind: kind.to_string(),
                first_seen_at_ms: now_ms,
                ..UrlState::default()
            }),
        }
    }

    pub async fn get(&self, url: &str) -> Result<Option<UrlState>, StateError> {
        let row = query(format!("SELECT {COLUMNS} FROM crawl_urls WHERE url = $1"))
            .bind(url.to_string())
            .fetch_optional(&self.db)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Every URL remembered, by URL (for `nianbao-crawler --status` and the tests).
    pub async fn all(&self) -> Result<Vec<UrlState>, StateError> {
        let rows = query(format!("SELECT {COLUMNS} FROM crawl_urls ORDER BY url"))
            .fetch_all(&self.db)
            .await?;
        rows.iter().map(decode).collect()
    }

    /// A failed fetch or submission: the status (0 if none) and the reason.
    pub async fn failed(
        &self,
        url: &str,
        status: i64,
        error: &str,
        now_ms: i64,
    ) -> Result<(), StateError> {
        query(
            "UPDATE crawl_urls SET http_status = $1, error = $2, last_checked_at_ms = $3 \
             WHERE url = $4",
        )
        .bind(status)
        .bind(error.to_string())
        .bind(now_ms)
        .bind(url.to_string())
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// A 304: nothing changed but the time of the check.
    pub async fn not_modified(&self, url: &str, now_ms: i64) -> Result<(), StateError> {
        query(
            "UPDATE crawl_urls SET http_status = 304, error = '', last_checked_at_ms = $1 \
             WHERE url = $2",
        )
        .bind(now_ms)
        .bind(url.to_string())
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// A page read in full: its validators, hash and links.
    pub async fn read_page(
        &self,
        url: &str,
        status: u16,
        validators: &Validators,
        sha256: &str,
        links: &[Link],
        now_ms: i64,
    ) -> Result<(), StateError> {
        query(
            "UPDATE crawl_urls SET http_status = $1, error = '', last_checked_at_ms = $2, \
             etag = $3, last_modified = $4, content_sha256 = $5, links_json = $6 WHERE url = $7",
        )
        .bind(i64::from(status))
        .bind(now_ms)
        .bind(validators.etag.clone())
        .bind(validators.last_modified.clone())
        .bind(sha256.to_string())
        .bind(serde_json::to_string(links)?)
        .bind(url.to_string())
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// A document whose bytes ingest has (submitted now, or the same as the last submission):
    /// its validators become the ones sent next time.
    #[allow(clippy::too_many_arguments)] // one row's columns
    pub async fn submitted(
        &self,
        url: &str,
        status: u16,
        validators: &Validators,
        sha256: &str,
        report_id: &str,
        new_version: bool,
        now_ms: i64,
    ) -> Result<(), StateError> {
        // Only a new version counts as a submission; the same bytes found again (a server
        // without validators) refresh the validators and the check time.
        let q = if new_version {
            query(
                "UPDATE crawl_urls SET http_status = $1, error = '', last_checked_at_ms = $2, \
                 etag = $3, last_modified = $4, content_sha256 = $5, submitted_sha256 = $6, \
                 report_id = $7, submitted_at_ms = $8, submissions = submissions + 1 WHERE url = $9",
            )
            .bind(i64::from(status))
            .bind(now_ms)
            .bind(validators.etag.clone())
            .bind(validators.last_modified.clone())
            .bind(sha256.to_string())
            .bind(sha256.to_string())
            .bind(report_id.to_string())
            .bind(now_ms)
        } else {
            query(
                "UPDATE crawl_urls SET http_status = $1, error = '', last_checked_at_ms = $2, \
                 etag = $3, last_modified = $4, content_sha256 = $5 WHERE url = $6",
            )
            .bind(i64::from(status))
            .bind(now_ms)
            .bind(validators.etag.clone())
            .bind(validators.last_modified.clone())
            .bind(sha256.to_string())
        };
        q.bind(url.to_string()).execute(&self.db).await?;
        Ok(())
    }

    /// Whether a complete pass over `agency`'s site has been recorded.
    pub async fn site_known(&self, agency: &str) -> Result<bool, StateError> {
        let n = query_scalar::<i64>("SELECT COUNT(*) FROM crawl_sites WHERE agency = $1")
            .bind(agency.to_string())
            .fetch_one(&self.db)
            .await?;
        Ok(n > 0)
    }

    /// Records a complete pass over `agency`'s site.
    pub async fn site_done(&self, agency: &str, url: &str, now_ms: i64) -> Result<(), StateError> {
        query(
            "INSERT INTO crawl_sites (agency, url, first_pass_at_ms, last_pass_at_ms) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (agency) DO UPDATE SET url = excluded.url, last_pass_at_ms = excluded.last_pass_at_ms",
        )
        .bind(agency.to_string())
        .bind(url.to_string())
        .bind(now_ms)
        .bind(now_ms)
        .execute(&self.db)
        .await?;
        Ok(())
    }
}

fn decode(r: &Row) -> Result<UrlState, StateError> {
    let links: String = r.try_get("links_json")?;
    Ok(UrlState {
        url: r.try_get("url")?,
        agency: r.try_get("agency")?,
        kind: r.try_get("kind")?,
        first_seen_at_ms: r.try_get("first_seen_at_ms")?,
        last_checked_at_ms: r.try_get("last_checked_at_ms")?,
        http_status: r.try_get("http_status")?,
        error: r.try_get("error")?,
        validators: Validators {
            etag: r.try_get("etag")?,
            last_modified: r.try_get("last_modified")?,
        },
        content_sha256: r.try_get("content_sha256")?,
        // Links written by an older build that no longer decode are forgotten, not fatal: the
        // page is read in full next time.
        links: serde_json::from_str(&links).unwrap_or_default(),
        submitted_sha256: r.try_get("submitted_sha256")?,
        submitted_at_ms: r.try_get("submitted_at_ms")?,
        report_id: r.try_get("report_id")?,
        submissions: r.try_get("submissions")?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::links::LinkKind;

    /// The state survives a restart (a new connection to the same file).
    #[tokio::test]
    async fn urls_and_sites_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/crawler.sqlite?mode=rwc", dir.path().display());
        let s = State::open(&url).await.unwrap();
        let first = s.seen("http://a/x.html", "某局", "page", 10).await.unwrap();
        assert_eq!(first.first_seen_at_ms, 10);
        // Seen again later: the first sighting stays.
        assert_eq!(
            s.seen("http://a/x.html", "某局", "page", 99)
                .await
                .unwrap()
                .first_seen_at_ms,
            10
        );
        let v = Validators {
            etag: "\"e1\"".into(),
            last_modified: "Mon, 20 Jan 2025 08:00:00 GMT".into(),
        };
        let links = vec![Link {
            url: "http://a/f.pdf".into(),
            text: "附件".into(),
            kind: LinkKind::Attachment,
            year: Some(2024),
            looks_like_report: false,
        }];
        s.read_page("http://a/x.html", 200, &v, "h0", &links, 20)
            .await
            .unwrap();
        s.submitted("http://a/x.html", 200, &v, "h1", "r1", true, 30)
            .await
            .unwrap();
        s.submitted("http://a/x.html", 200, &v, "h1", "r1", false, 40)
            .await
            .unwrap();
        s.failed("http://a/y.html", 404, "HTTP 404", 50)
            .await
            .unwrap();
        assert!(!s.site_known("某局").await.unwrap());
        s.site_done("某局", "http://a/", 60).await.unwrap();
        s.site_done("某局", "http://a/", 70).await.unwrap();
        s.close().await;

        let s = State::open(&url).await.unwrap();
        let x = s.get("http://a/x.html").await.unwrap().unwrap();
        assert_eq!(
            (
                x.first_seen_at_ms,
                x.submitted_sha256.as_str(),
                x.submissions,
                x.submitted_at_ms
            ),
            (10, "h1", 1, 30)
        );
        assert_eq!((x.validators, x.links), (v, links));
        assert!(s.site_known("某局").await.unwrap());
        assert_eq!(s.all().await.unwrap().len(), 1);
    }
}
