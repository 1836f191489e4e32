//! What more than one benchmark sets up.

use std::time::Duration;

use chrono::Utc;
use switchboard::domain::ids::DepartmentId;
use switchboard::persistence::{Store, StoreOptions, WAL_RESTART_FRAMES};
use switchboard::views::DepartmentView;

/// A store at `url` (a fresh SQLite file, or an empty PostgreSQL database), schema created; on
/// SQLite commits do not wait for the disk: benchmarks measure CPU, not this machine's fsync.
pub fn open_store(url: &str) -> Store {
    Store::open(&StoreOptions {
        url: url.to_owned(),
        read_pool_size: 1,
        max_batch: 1,
        sqlite_synchronous: "off".into(),
        busy_timeout: Duration::from_secs(5),
        writers: 1,
        wal_restart_frames: WAL_RESTART_FRAMES,
    })
    .expect("a store on a fresh SQLite file")
}

/// A department open around the clock, so every new ticket waits in its queue.
pub fn department_view() -> DepartmentView {
    let day = vec![["00:00".to_owned(), "24:00".to_owned()]];
    DepartmentView {
        id: DepartmentId::new(),
        name: "Ventas".into(),
        timezone: "UTC".into(),
        business_hours: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| (d.to_string(), day.clone()))
            .collect(),
        holidays: vec![],
        out_of_hours_message: None,
        required_fields: vec![],
        created_at: Utc::now(),
        routing: Default::default(),
    }
}
