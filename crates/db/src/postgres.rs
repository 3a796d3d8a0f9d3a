//! A province deployment's engine: a sqlx pool, and the conversions between its rows and [`Value`]s.

use crate::{DbError, Kind, Query, Row, Value, Want};
use std::sync::Arc;

pub(crate) async fn connect(url: &str) -> Result<sqlx::PgPool, DbError> {
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(url)
        .await?)
}

pub(crate) async fn run<'e, E>(on: E, q: Query, rows: Want) -> Result<(Vec<Row>, u64), DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    let mut pq = sqlx::query(sqlx::AssertSqlSafe(q.sql.into_owned()));
    for v in q.args {
        pq = match v {
            Value::Null(Kind::Int) => pq.bind(None::<i64>),
            Value::Null(Kind::Real) => pq.bind(None::<f64>),
            Value::Null(Kind::Text) => pq.bind(None::<String>),
            Value::Null(Kind::Blob) => pq.bind(None::<Vec<u8>>),
            Value::Int(i) => pq.bind(i),
            Value::Real(f) => pq.bind(f),
            Value::Text(s) => pq.bind(s),
            Value::Blob(b) => pq.bind(b),
        };
    }
    let fetched = match rows {
        Want::Nothing => return Ok((Vec::new(), pq.execute(on).await?.rows_affected())),
        Want::First => pq.fetch_optional(on).await?.into_iter().collect(),
        Want::All => pq.fetch_all(on).await?,
    };
    let Some(first) = fetched.first() else {
        return Ok((Vec::new(), 0));
    };
    use sqlx::{Column, Row as _, TypeInfo};
    let columns: Arc<[String]> = first
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let kinds: Vec<String> = first
        .columns()
        .iter()
        .map(|c| c.type_info().name().to_string())
        .collect();
    let n = fetched.len() as u64;
    let mut out = Vec::with_capacity(fetched.len());
    for r in &fetched {
        let mut values = Vec::with_capacity(kinds.len());
        for (i, kind) in kinds.iter().enumerate() {
            values.push(value(r, i, kind)?);
        }
        out.push(Row {
            columns: columns.clone(),
            values,
        });
    }
    Ok((out, n))
}

fn value(r: &sqlx::postgres::PgRow, i: usize, kind: &str) -> Result<Value, DbError> {
    use sqlx::Row as _;
    Ok(match kind {
        "INT8" => r
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null(Kind::Int), Value::Int),
        "INT4" => r
            .try_get::<Option<i32>, _>(i)?
            .map_or(Value::Null(Kind::Int), |v| Value::Int(v.into())),
        "INT2" => r
            .try_get::<Option<i16>, _>(i)?
            .map_or(Value::Null(Kind::Int), |v| Value::Int(v.into())),
        "BOOL" => r
            .try_get::<Option<bool>, _>(i)?
            .map_or(Value::Null(Kind::Int), |v| Value::Int(v.into())),
        "FLOAT8" => r
            .try_get::<Option<f64>, _>(i)?
            .map_or(Value::Null(Kind::Real), Value::Real),
        "FLOAT4" => r
            .try_get::<Option<f32>, _>(i)?
            .map_or(Value::Null(Kind::Real), |v| Value::Real(v.into())),
        "BYTEA" => r
            .try_get::<Option<Vec<u8>>, _>(i)?
            .map_or(Value::Null(Kind::Blob), Value::Blob),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => r
            .try_get::<Option<String>, _>(i)?
            .map_or(Value::Null(Kind::Text), Value::Text),
        other => {
            return Err(DbError::Decode {
                column: i.to_string(),
                problem: format!("unsupported PostgreSQL type {other}"),
            });
        }
    })
}
