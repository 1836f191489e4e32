//! Throw-away PostgreSQL databases for the benchmarks that run there too (`mod postgres` by
//! path, so a benchmark that never uses them does not compile them).

/// A throw-away database on the PostgreSQL server at `server` (a URL): its URL.
pub fn fresh_database(server: &str) -> anyhow::Result<String> {
    use diesel::{Connection, RunQueryDsl, pg::PgConnection};
    let name = format!("switchboard_bench_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::establish(server)?;
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
    let (base, _) = server
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("{server}: not a database URL"))?;
    Ok(format!("{base}/{name}"))
}

/// Drops a database [`fresh_database`] made (best effort: a benchmark is over).
pub fn drop_database(server: &str, url: &str) {
    use diesel::{Connection, RunQueryDsl, pg::PgConnection};
    if let (Ok(mut admin), Some((_, name))) =
        (PgConnection::establish(server), url.rsplit_once('/'))
    {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin);
    }
}
