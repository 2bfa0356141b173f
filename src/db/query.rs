//! The few dynamic queries both backends answer the same way, behind one trait, so
//! code that only needs text rows or one number is written once.

use std::future::Future;

use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Row};

use crate::db::errors::{Step, translate};
use crate::error::Error;

pub trait TextQueries {
    /// Every row of `sql`, each column read as text (the query casts).
    fn text_rows(&mut self, sql: String, step: &Step) -> impl Future<Output = Result<Vec<Vec<String>>, Error>>;
    /// The single (possibly NULL) integer `sql` returns.
    fn one_i64(&mut self, sql: String, step: &Step) -> impl Future<Output = Result<Option<i64>, Error>>;
}

macro_rules! text_queries {
    ($conn:ty) => {
        impl TextQueries for $conn {
            async fn text_rows(&mut self, sql: String, step: &Step) -> Result<Vec<Vec<String>>, Error> {
                let rows =
                    sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *self).await.map_err(|e| translate(e, step))?;
                Ok(rows.iter().map(|r| (0..r.len()).map(|i| r.get::<String, _>(i)).collect()).collect())
            }

            async fn one_i64(&mut self, sql: String, step: &Step) -> Result<Option<i64>, Error> {
                sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut *self).await.map_err(|e| translate(e, step))
            }
        }
    };
}

text_queries!(PgConnection);
text_queries!(SqliteConnection);
