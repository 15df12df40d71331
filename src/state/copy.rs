//! `s321d state migrate`: copies a single node's SQLite store into an empty
//! PostgreSQL store, table by table and row by row (both backends use the same
//! column encodings, so values copy verbatim), then checks it: the same row
//! count in every table, the same audit head, and a whole chain on the target.
//!
//! Tables and columns are read from both schemas rather than listed here, so
//! a migration added to both backends needs no change in this file; a SQLite
//! column the PostgreSQL schema lacks stops the copy, naming it.

use std::collections::BTreeMap;

use postgres::types::{ToSql, Type};
use rusqlite::types::ValueRef;

use super::StoreError;
use super::audit_query::AuditStore;
use super::pg::PgStore;
use super::sqlite::SqliteStore;

/// SQLite tables with no PostgreSQL twin: bookkeeping the other backend does
/// differently (identity columns never reuse an id; `kv` is gone by migration 8).
const SQLITE_ONLY: &[&str] = &["file_id_floor", "kv"];

/// Rows per INSERT statement.
const BATCH: usize = 500;

/// What was copied, for the command's report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Rows per table, as counted on both sides after the copy.
    pub tables: BTreeMap<String, u64>,
    /// The audit head both stores report.
    pub head: (i64, String),
}

/// One value read from SQLite, converted to the PostgreSQL column's type.
#[derive(Debug)]
enum Value {
    /// NULL, typed as its column is (the driver checks a NULL's type too).
    Null(Type),
    Int(i64),
    Text(String),
    Bool(bool),
    Float(f64),
}

impl Value {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Null(t) if *t == Type::INT8 => &None::<i64>,
            Value::Null(t) if *t == Type::BOOL => &None::<bool>,
            Value::Null(t) if *t == Type::FLOAT8 => &None::<f64>,
            Value::Null(_) => &None::<String>,
            Value::Int(v) => v,
            Value::Text(v) => v,
            Value::Bool(v) => v,
            Value::Float(v) => v,
        }
    }
}

/// Copies `from` into `to`, which must hold no rows, then verifies.
pub fn copy(from: &mut SqliteStore, to: &mut PgStore) -> Result<Copied, StoreError> {
    let tables = sqlite_tables(from)?;
    let target = pg_columns(to)?;
    for table in &tables {
        let Some(cols) = target.get(table) else {
            return Err(to.other(format!(
                "table {table} of {} has no twin in the PostgreSQL schema",
                from.location().display()
            )));
        };
        if pg_count(to, table)? > 0 && table != "audit_head" {
            return Err(to.other(format!(
                "table {table} already holds rows: migrate only into an empty store"
            )));
        }
        copy_table(from, to, table, cols)?;
    }
    // Identity columns continue after the copied ids; the head row follows the chain.
    let head = from.audit_head()?;
    to.with(|c| {
        let mut tx = c.transaction()?;
        for (table, cols) in &target {
            if cols.iter().any(|(n, _)| n == "id") && tables.contains(table) {
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                         GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1), \
                         (SELECT COUNT(*) > 0 FROM {table}))"
                    ),
                    &[],
                )?;
            }
        }
        tx.execute(
            "UPDATE audit_head SET seq = $1, hash = $2",
            &[&head.0, &head.1],
        )?;
        tx.commit()
    })?;
    if let Some(floor) = file_id_floor(from)? {
        to.with(|c| {
            c.execute(
                "SELECT setval(pg_get_serial_sequence('files', 'id'), \
                 GREATEST($1, (SELECT COALESCE(MAX(id), 0) FROM files), 1))",
                &[&floor],
            )
        })?;
    }
    verify(from, to, &tables, head)
}

fn verify(
    from: &SqliteStore,
    to: &mut PgStore,
    tables: &[String],
    head: (i64, String),
) -> Result<Copied, StoreError> {
    let mut copied = Copied {
        head: head.clone(),
        ..Copied::default()
    };
    for table in tables {
        let a = sqlite_count(from, table)?;
        let b = pg_count(to, table)?;
        if a != b {
            return Err(to.other(format!("table {table}: {a} rows in SQLite, {b} copied")));
        }
        copied.tables.insert(table.clone(), b);
    }
    let theirs = to.audit_head()?;
    if theirs != head {
        return Err(to.other(format!(
            "audit head: SQLite {}:{}, PostgreSQL {}:{}",
            head.0, head.1, theirs.0, theirs.1
        )));
    }
    let v = to.audit_verify()?;
    if let Some(b) = v.broken {
        return Err(to.other(format!("the copied audit chain is broken: {b}")));
    }
    Ok(copied)
}

fn sqlite_tables(from: &SqliteStore) -> Result<Vec<String>, StoreError> {
    let conn = from.conn();
    let q = || -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
        )?;
        let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
        names.collect()
    };
    Ok(q()
        .map_err(|e| from.err(e))?
        .into_iter()
        .filter(|t| !SQLITE_ONLY.contains(&t.as_str()))
        .collect())
}

fn file_id_floor(from: &SqliteStore) -> Result<Option<i64>, StoreError> {
    use rusqlite::OptionalExtension;
    from.conn()
        .query_row("SELECT floor FROM file_id_floor", [], |r| r.get(0))
        .optional()
        .or_else(|e| match e {
            // A store from before migration 9.
            rusqlite::Error::SqliteFailure(..) => Ok(None),
            e => Err(e),
        })
        .map_err(|e| from.err(e))
}

/// Columns (name, type) of every table of the PostgreSQL store.
fn pg_columns(to: &PgStore) -> Result<BTreeMap<String, Vec<(String, Type)>>, StoreError> {
    let rows = to.with(|c| {
        c.query(
            "SELECT c.table_name::text, c.column_name::text, c.ordinal_position::bigint, \
             a.atttypid FROM information_schema.columns c \
             JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_name))::regclass \
             AND a.attname = c.column_name \
             WHERE c.table_schema = current_schema() ORDER BY 1, 3",
            &[],
        )
    })?;
    let mut out: BTreeMap<String, Vec<(String, Type)>> = BTreeMap::new();
    for r in rows {
        let oid: u32 = r.get(3);
        let ty = Type::from_oid(oid).unwrap_or(Type::TEXT);
        out.entry(r.get(0)).or_default().push((r.get(1), ty));
    }
    Ok(out)
}

fn pg_count(to: &PgStore, table: &str) -> Result<u64, StoreError> {
    let n: i64 = to.with(|c| {
        Ok(c.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
            .get(0))
    })?;
    Ok(n as u64)
}

fn sqlite_count(from: &SqliteStore, table: &str) -> Result<u64, StoreError> {
    from.conn()
        .query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u64)
        .map_err(|e| from.err(e))
}

fn copy_table(
    from: &SqliteStore,
    to: &mut PgStore,
    table: &str,
    target: &[(String, Type)],
) -> Result<(), StoreError> {
    let conn = from.conn();
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM \"{table}\""))
        .map_err(|e| from.err(e))?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut types = Vec::new();
    for n in &names {
        match target.iter().find(|(t, _)| t == n) {
            Some((_, ty)) => types.push(ty.clone()),
            None => {
                return Err(to.other(format!(
                    "column {table}.{n} has no twin in the PostgreSQL schema"
                )));
            }
        }
    }
    let mut rows = stmt.query([]).map_err(|e| from.err(e))?;
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(BATCH);
    while let Some(r) = rows.next().map_err(|e| from.err(e))? {
        let mut values = Vec::with_capacity(names.len());
        for (i, ty) in types.iter().enumerate() {
            let v = r.get_ref(i).map_err(|e| from.err(e))?;
            let v = convert(v, ty).map_err(|m| to.other(format!("{table}.{}: {m}", names[i])))?;
            values.push(v);
        }
        batch.push(values);
        if batch.len() == BATCH {
            insert(to, table, &names, &batch)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        insert(to, table, &names, &batch)?;
    }
    Ok(())
}

/// A SQLite value as the PostgreSQL column's type wants it.
fn convert(v: ValueRef<'_>, ty: &Type) -> Result<Value, String> {
    Ok(match v {
        ValueRef::Null => Value::Null(ty.clone()),
        ValueRef::Integer(i) if *ty == Type::BOOL => Value::Bool(i != 0),
        ValueRef::Integer(i) if *ty == Type::INT8 => Value::Int(i),
        ValueRef::Integer(i) if *ty == Type::TEXT => Value::Text(i.to_string()),
        ValueRef::Real(f) if *ty == Type::FLOAT8 => Value::Float(f),
        ValueRef::Text(b) if *ty == Type::TEXT => Value::Text(
            String::from_utf8(b.to_vec()).map_err(|_| "text that is not UTF-8".to_owned())?,
        ),
        ValueRef::Text(b) if *ty == Type::INT8 => Value::Int(
            std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| "text where a number belongs".to_owned())?,
        ),
        other => {
            return Err(format!(
                "a SQLite {:?} value for a PostgreSQL {ty} column",
                other.data_type()
            ));
        }
    })
}

fn insert(
    to: &mut PgStore,
    table: &str,
    names: &[String],
    batch: &[Vec<Value>],
) -> Result<(), StoreError> {
    let width = names.len();
    let rows: Vec<String> = (0..batch.len())
        .map(|r| {
            let cells: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) OVERRIDING SYSTEM VALUE VALUES {}",
        names.join(", "),
        rows.join(", ")
    );
    let params: Vec<&(dyn ToSql + Sync)> = batch
        .iter()
        .flat_map(|row| row.iter().map(Value::as_sql))
        .collect();
    to.with(|c| c.execute(&sql, &params).map(|_| ()))
}
