//! The PostgreSQL lookup of a group's customers runs on a generic plan, made once for every
//! later group: it must probe by index whatever the statistics said when it was made.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::KnownByPhone;
use crate::persistence::writer::writer_setup;
use crate::persistence::{DbConn, scratch_postgres};

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

#[test]
fn known_customers_are_probed_by_index_on_a_generic_plan_made_while_the_tables_were_tiny() {
    let Some(mut db) = scratch_postgres() else {
        eprintln!("skipped: a PostgreSQL plan, and SWITCHBOARD_TEST_DATABASE_URL is not set");
        return;
    };
    let conn = db.conn();
    writer_setup(conn, false).unwrap();
    let DbConn::Pg(c) = conn else {
        unreachable!("scratch_postgres connects to PostgreSQL")
    };
    // A fresh installation's first customers, and the statistics autovacuum gathers on tables
    // of a page or none: a sequential scan is the cheapest probe of such a table.
    c.batch_execute(
        "INSERT INTO contacts (id, phone, name, name_edited, created_at, updated_at) VALUES \
         ('c1', '+1', 'A', false, now(), now()), ('c2', '+2', 'B', false, now(), now()); \
         ANALYZE contacts; ANALYZE tickets;",
    )
    .unwrap();
    // The plan every group after the fifth runs on (PostgreSQL's plan cache switches to it).
    c.batch_execute("SET plan_cache_mode = force_generic_plan")
        .unwrap();
    // The SQL the writers send, its binds as `$1` and `$2`.
    let (phones, channels) = (vec!["+1".to_owned()], vec!["ch".to_owned()]);
    let query = KnownByPhone {
        phones: &phones,
        channels: &channels,
    };
    let sql = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
    let (sql, _binds) = sql.split_once(" -- binds:").unwrap();
    c.batch_execute(&format!("PREPARE known (text[], text[]) AS {sql}"))
        .unwrap();
    let plan: Vec<PlanLine> = diesel::sql_query("EXPLAIN EXECUTE known ('{+1,+3}', '{ch}')")
        .load(c)
        .unwrap();
    let plan = plan
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(
        !plan.contains("Bitmap"),
        "no scan over a whole list: {plan}"
    );
    assert!(plan.contains("Index Cond: (phone = p.phone)"), "{plan}");
    assert!(plan.contains("Index Cond: (contact_id = "), "{plan}");
}
