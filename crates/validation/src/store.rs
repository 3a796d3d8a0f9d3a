//! The validation service's own store: one row per validated report version, holding what the
//! cross-report rules compare later (表三 R02/R25, 表二 A01–A06, the narrative fingerprint) and the
//! findings that were published (so that a re-delivered event publishes exactly the same list, and
//! next year's report is compared with them: `previous-findings-recurring`).
//!
//! Portable SQL only (SQLite by default, PostgreSQL by URL): `$n` placeholders, BIGINT / TEXT /
//! DOUBLE PRECISION, `ON CONFLICT DO NOTHING`.

use crate::cross::ReportRow;
use crate::fingerprint::Fingerprint;
use nianbao_db::{Db, Migration, Row, Step, query, rows_per_statement, sql_params, sql_rows};
use nianbao_model::StoredFinding;
use std::collections::HashMap;

/// The validation schema, in order (see [`nianbao_db::migrate`]). Migration 1 is the schema as it
/// stood when migrations were introduced, idempotent so that it takes over a database of that time;
/// later changes are new migrations, never edits.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "validated reports",
        steps: &[
            Step::Sql(
                "CREATE TABLE IF NOT EXISTS validated (
        report_id TEXT NOT NULL,
        version TEXT NOT NULL,
        agency TEXT NOT NULL,
        agency_name TEXT NOT NULL,
        year BIGINT NOT NULL,
        received_order BIGINT NOT NULL,
        r02_json TEXT,
        r25_json TEXT,
        a01 DOUBLE PRECISION,
        a02 DOUBLE PRECISION,
        a03 DOUBLE PRECISION,
        a04 DOUBLE PRECISION,
        a05 DOUBLE PRECISION,
        a06 DOUBLE PRECISION,
        fingerprint TEXT NOT NULL,
        shingles BIGINT NOT NULL,
        sketch TEXT NOT NULL,
        findings_json TEXT NOT NULL,
        validated_at_ms BIGINT NOT NULL,
        PRIMARY KEY (report_id, version)
    )",
            ),
            // Peers are looked up by year (and arrival order), the previous report by agency and year.
            Step::Sql(
                "CREATE INDEX IF NOT EXISTS validated_year ON validated (year, received_order)",
            ),
            // With the arrival order, so that the latest report of an agency and year is found in the index
            // (it replaces the earlier (agency, year) index).
            Step::Sql(
                "CREATE INDEX IF NOT EXISTS validated_agency_year_order ON validated (agency, year, received_order)",
            ),
            Step::Sql("DROP INDEX IF EXISTS validated_agency_year"),
        ],
    },
    Migration {
        version: 2,
        name: "arrival order index, for instances catching up with each other",
        steps: &[Step::Sql(
            "CREATE INDEX IF NOT EXISTS validated_order ON validated (received_order)",
        )],
    },
    Migration {
        version: 3,
        name: "part five on its own: listed problems and fingerprint",
        // What next year's report is compared with (issue #25.3, #25.6): the problems part 五 names
        // (JSON list of phrases) and the fingerprint of part 五 alone. NULL in rows validated before.
        steps: &[
            Step::AddColumn {
                table: "validated",
                column: "problems_json",
                definition: "TEXT",
            },
            Step::AddColumn {
                table: "validated",
                column: "p5_fingerprint",
                definition: "TEXT",
            },
            Step::AddColumn {
                table: "validated",
                column: "p5_shingles",
                definition: "BIGINT",
            },
            Step::AddColumn {
                table: "validated",
                column: "p5_sketch",
                definition: "TEXT",
            },
        ],
    },
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] nianbao_db::DbError),
    #[error("database schema: {0}")]
    Migrate(#[from] nianbao_db::MigrateError),
    #[error("database: {0}")]
    Batch(String),
    #[error("stored row {0} is corrupt: {1}")]
    Corrupt(String, String),
}

/// The `validated` table.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
}

fn cells_json(v: &Option<[Option<f64>; 7]>) -> Option<String> {
    v.as_ref().and_then(|c| serde_json::to_string(c).ok())
}

fn cells_from(json: Option<String>) -> Option<[Option<f64>; 7]> {
    json.and_then(|s| serde_json::from_str(&s).ok())
}

impl Store {
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Opens the store and brings the schema up to date ([`MIGRATIONS`]).
    pub async fn open(db: Db) -> Result<Store, StoreError> {
        nianbao_db::migrate(&db, "validation", MIGRATIONS).await?;
        Ok(Store { db })
    }

    /// The findings published for this report version, if it was validated before.
    pub async fn findings_of(
        &self,
        report_id: &str,
        version: &str,
    ) -> Result<Option<String>, StoreError> {
        let row =
            query("SELECT findings_json FROM validated WHERE report_id = $1 AND version = $2")
                .bind(report_id)
                .bind(version)
                .fetch_optional(&self.db)
                .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<String, _>(0)?),
            None => None,
        })
    }

    /// [`Store::findings_of`] for several report versions in one query: (report id, version) →
    /// findings JSON, for those validated before.
    pub async fn findings_of_many(
        &self,
        keys: &[(&str, &str)],
    ) -> Result<HashMap<(String, String), String>, StoreError> {
        let mut ids: Vec<&str> = keys.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT report_id, version, findings_json FROM validated WHERE report_id IN ({})",
            sql_params(1, ids.len())
        );
        let mut q = query(sql);
        for id in &ids {
            q = q.bind(id.to_string());
        }
        let mut out = HashMap::new();
        for r in q.fetch_all(&self.db).await? {
            let key = (r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?);
            if keys.iter().any(|(id, v)| key.0 == *id && key.1 == *v) {
                out.insert(key, r.try_get::<String, _>(2)?);
            }
        }
        Ok(out)
    }

    /// [`Store::latest_of`] for several (agency, year) pairs in one query.
    pub async fn latest_of_many(
        &self,
        keys: &[(&str, i32)],
    ) -> Result<HashMap<(String, i32), ReportRow>, StoreError> {
        let mut agencies: Vec<&str> = keys.iter().map(|(a, _)| *a).collect();
        agencies.sort_unstable();
        agencies.dedup();
        let mut years: Vec<i32> = keys.iter().map(|(_, y)| *y).collect();
        years.sort_unstable();
        years.dedup();
        if agencies.is_empty() {
            return Ok(HashMap::new());
        }
        // Only the latest row of each (agency, year) is read in full: an agency may have sent many
        // versions, and decoding each one's sketch made this lookup grow with the store.
        let sql = format!(
            "SELECT v.report_id AS report_id, v.version AS version, v.agency AS agency, \
             v.agency_name AS agency_name, v.year AS year, v.received_order AS received_order, \
             v.r02_json AS r02_json, v.r25_json AS r25_json, v.a01 AS a01, v.a02 AS a02, \
             v.a03 AS a03, v.a04 AS a04, v.a05 AS a05, v.a06 AS a06, \
             v.fingerprint AS fingerprint, v.shingles AS shingles, v.sketch AS sketch, \
             v.problems_json AS problems_json, v.p5_fingerprint AS p5_fingerprint, \
             v.p5_shingles AS p5_shingles, v.p5_sketch AS p5_sketch, \
             v.findings_json AS findings_json \
             FROM validated v JOIN ( \
               SELECT agency, year, MAX(received_order) AS latest FROM validated \
               WHERE agency IN ({}) AND year IN ({}) GROUP BY agency, year \
             ) k ON v.agency = k.agency AND v.year = k.year AND v.received_order = k.latest",
            sql_params(1, agencies.len()),
            sql_params(agencies.len() + 1, years.len())
        );
        let mut q = query(sql);
        for a in &agencies {
            q = q.bind(a.to_string());
        }
        for y in &years {
            q = q.bind(i64::from(*y));
        }
        let mut out: HashMap<(String, i32), ReportRow> = HashMap::new();
        for r in q.fetch_all(&self.db).await? {
            // The query returns every asked agency in every asked year: decode (a sketch is 4 KiB
            // of hex) only the pairs that were asked for.
            let agency: String = r.try_get("agency")?;
            let year: i64 = r.try_get("year")?;
            if !keys
                .iter()
                .any(|(a, y)| agency == *a && i64::from(*y) == year)
            {
                continue;
            }
            let row = Store::full_row(&r)?;
            let key = (row.agency.clone(), row.year);
            let later = out
                .get(&key)
                .is_none_or(|o| o.received_order < row.received_order);
            if later {
                out.insert(key, row);
            }
        }
        Ok(out)
    }

    /// The arrival number for a new row (callers serialise validation, see `Validator`).
    pub async fn next_order(&self) -> Result<i64, StoreError> {
        let row = query("SELECT COALESCE(MAX(received_order), 0) FROM validated")
            .fetch_one(&self.db)
            .await?;
        Ok(row.try_get::<i64, _>(0)? + 1)
    }

    fn full_row(r: &Row) -> Result<ReportRow, StoreError> {
        let report_id: String = r.try_get("report_id")?;
        let fp: String = r.try_get("fingerprint")?;
        let shingles: i64 = r.try_get("shingles")?;
        let sketch: String = r.try_get("sketch")?;
        let fingerprint = Fingerprint::from_stored(&fp, shingles, &sketch)
            .ok_or_else(|| StoreError::Corrupt(report_id.clone(), "fingerprint".into()))?;
        let mut a = [None; 6];
        for (i, slot) in a.iter_mut().enumerate() {
            *slot = r.try_get::<Option<f64>, _>(format!("a0{}", i + 1).as_str())?;
        }
        let problems: Vec<String> = match r.try_get::<Option<String>, _>("problems_json")? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|_| StoreError::Corrupt(report_id.clone(), "problems_json".into()))?,
            None => Vec::new(),
        };
        let problems_fingerprint = match (
            r.try_get::<Option<String>, _>("p5_fingerprint")?,
            r.try_get::<Option<i64>, _>("p5_shingles")?,
            r.try_get::<Option<String>, _>("p5_sketch")?,
        ) {
            (Some(fp), Some(n), Some(sketch)) => Fingerprint::from_stored(&fp, n, &sketch)
                .ok_or_else(|| StoreError::Corrupt(report_id.clone(), "p5_fingerprint".into()))?,
            _ => Fingerprint::default(),
        };
        // The findings published for it (every row has them, since migration 1), as the rule ids
        // and severities `previous-findings-recurring` compares.
        let findings: Vec<StoredFinding> =
            serde_json::from_str(&r.try_get::<String, _>("findings_json")?)
                .map_err(|_| StoreError::Corrupt(report_id.clone(), "findings_json".into()))?;
        Ok(ReportRow {
            found: ReportRow::found_from_stored(&findings),
            problems,
            // Not stored: only the report being validated needs its own part 五 text.
            problems_text: String::new(),
            problems_fingerprint,
            version: r.try_get("version")?,
            agency: r.try_get("agency")?,
            agency_name: r.try_get("agency_name")?,
            year: i32::try_from(r.try_get::<i64, _>("year")?).unwrap_or(0),
            received_order: r.try_get("received_order")?,
            r02: cells_from(r.try_get("r02_json")?),
            r25: cells_from(r.try_get("r25_json")?),
            a,
            fingerprint,
            report_id,
        })
    }

    /// The agency's latest report of `year` (by arrival).
    pub async fn latest_of(
        &self,
        agency: &str,
        year: i32,
    ) -> Result<Option<ReportRow>, StoreError> {
        let row = query(
            "SELECT report_id, version, agency, agency_name, year, received_order, r02_json, \
             r25_json, a01, a02, a03, a04, a05, a06, fingerprint, shingles, sketch, \
             problems_json, p5_fingerprint, p5_shingles, p5_sketch, findings_json \
             FROM validated WHERE agency = $1 AND year = $2 \
             ORDER BY received_order DESC LIMIT 1",
        )
        .bind(agency)
        .bind(i64::from(year))
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(Store::full_row).transpose()
    }

    /// Rows of `year` stored before `before`, without their sketches (cheap: one short row each;
    /// the sketch is loaded only for the candidates that pass the prefilter).
    pub async fn same_year_before(
        &self,
        year: i32,
        before: i64,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let rows = query(
            "SELECT report_id, version, agency, agency_name, received_order, fingerprint, shingles \
             FROM validated WHERE year = $1 AND received_order < $2",
        )
        .bind(i64::from(year))
        .bind(before)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(|r| Self::light_row(r, year)).collect()
    }

    /// A row as the index holds it: no sketch, no table values.
    fn light_row(r: &Row, year: i32) -> Result<ReportRow, StoreError> {
        let report_id: String = r.try_get("report_id")?;
        let fp: String = r.try_get("fingerprint")?;
        let shingles: i64 = r.try_get("shingles")?;
        let fingerprint = Fingerprint::from_stored(&fp, shingles, "")
            .ok_or_else(|| StoreError::Corrupt(report_id.clone(), "fingerprint".into()))?;
        Ok(ReportRow {
            version: r.try_get("version")?,
            agency: r.try_get("agency")?,
            agency_name: r.try_get("agency_name")?,
            year,
            received_order: r.try_get("received_order")?,
            fingerprint,
            report_id,
            ..Default::default()
        })
    }

    /// The rows stored from arrival number `from` on, in order, as the index holds them: what
    /// other instances decided since this one last looked (see `Validator::catch_up`). Usually
    /// none, found in the `received_order` index.
    pub async fn stored_since(&self, from: i64) -> Result<Vec<ReportRow>, StoreError> {
        let rows = query(
            "SELECT report_id, version, agency, agency_name, year, received_order, fingerprint, \
             shingles FROM validated WHERE received_order >= $1 ORDER BY received_order",
        )
        .bind(from)
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|r| {
                let year: i64 = r.try_get("year")?;
                Self::light_row(r, i32::try_from(year).unwrap_or_default())
            })
            .collect()
    }

    /// Fills in the stored sketches of `rows` (as [`Store::same_year_before`] leaves them out), in
    /// one query: a report has many peers to compare with, and a query per peer was most of
    /// validation's time. Rows not in the store keep their (empty) sketch.
    pub async fn load_sketches(&self, rows: &mut [ReportRow]) -> Result<(), StoreError> {
        let mut ids: Vec<&str> = rows.iter().map(|r| r.report_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut sketches: HashMap<(String, String), String> = HashMap::new();
        for chunk in ids.chunks(rows_per_statement(1)) {
            let sql = format!(
                "SELECT report_id, version, sketch FROM validated WHERE report_id IN ({})",
                sql_params(1, chunk.len())
            );
            let mut q = query(sql);
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for r in q.fetch_all(&self.db).await? {
                sketches.insert(
                    (r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?),
                    r.try_get::<String, _>(2)?,
                );
            }
        }
        for row in rows.iter_mut() {
            let key = (row.report_id.clone(), row.version.clone());
            let Some(sketch) = sketches.get(&key) else {
                continue;
            };
            row.fingerprint.sketch = Fingerprint::sketch_from_stored(sketch)
                .ok_or_else(|| StoreError::Corrupt(row.report_id.clone(), "sketch".into()))?;
        }
        Ok(())
    }

    /// Stores a validated report; a row already there (a re-delivery) is left as it was.
    pub async fn insert(
        &self,
        row: &ReportRow,
        findings_json: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.insert_many(&[(row, findings_json)], now_ms).await
    }

    /// Stores several validated reports with one multi-row insert; rows already there are left.
    pub async fn insert_many(
        &self,
        rows: &[(&ReportRow, &str)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        const PER_ROW: usize = 23;
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO validated (report_id, version, agency, agency_name, year, received_order, \
             r02_json, r25_json, a01, a02, a03, a04, a05, a06, fingerprint, shingles, sketch, \
             findings_json, validated_at_ms, problems_json, p5_fingerprint, p5_shingles, \
             p5_sketch) VALUES {} \
             ON CONFLICT (report_id, version) DO NOTHING",
            sql_rows(rows.len(), PER_ROW)
        );
        let mut q = query(sql);
        for (row, findings_json) in rows {
            q = q
                .bind(row.report_id.clone())
                .bind(row.version.clone())
                .bind(row.agency.clone())
                .bind(row.agency_name.clone())
                .bind(i64::from(row.year))
                .bind(row.received_order)
                .bind(cells_json(&row.r02))
                .bind(cells_json(&row.r25));
            for v in row.a {
                q = q.bind(v);
            }
            q = q
                .bind(row.fingerprint.simhash_hex())
                .bind(i64::from(row.fingerprint.shingles))
                .bind(row.fingerprint.sketch_hex())
                .bind(findings_json.to_string())
                .bind(now_ms)
                .bind(serde_json::to_string(&row.problems).ok())
                .bind(row.problems_fingerprint.simhash_hex())
                .bind(i64::from(row.problems_fingerprint.shingles))
                .bind(row.problems_fingerprint.sketch_hex());
        }
        q.execute(&self.db).await?;
        Ok(())
    }

    /// Number of stored rows (tests, diagnostics).
    pub async fn count(&self) -> Result<i64, StoreError> {
        let r = query("SELECT COUNT(*) FROM validated")
            .fetch_one(&self.db)
            .await?;
        Ok(r.try_get::<i64, _>(0)?)
    }
}
