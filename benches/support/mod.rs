//! What more than one benchmark sets up.

use chrono::Utc;
use switchboard::domain::ids::DepartmentId;
use switchboard::views::DepartmentView;

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
    }
}
