//! Who may see a ticket. One function answers it for REST reads, WebSocket fan-out and the
//! snapshot alike, so the three can never disagree.

use serde::{Deserialize, Serialize};

use super::ids::{DepartmentId, OperatorId};
use super::ticket::TicketState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, everywhere.
    Admin,
    /// Every ticket of its departments; may transfer and finalize them.
    Supervisor,
    /// Its departments' queues and its own tickets.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Role::Admin),
            "supervisor" => Some(Role::Supervisor),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// An authenticated operator as far as visibility is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub id: OperatorId,
    pub role: Role,
    pub departments: Vec<DepartmentId>,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn is_member(&self, department: DepartmentId) -> bool {
        self.departments.contains(&department)
    }

    /// Admins supervise everything; supervisors their own departments.
    pub fn supervises(&self, department: DepartmentId) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Supervisor => self.is_member(department),
            Role::Operator => false,
        }
    }
}

/// Where a ticket stands: the part of it that decides who sees it and what may happen to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub state: TicketState,
    pub department_id: DepartmentId,
    /// The owner while attending or paused; the last owner once closed; `None` in a queue.
    pub operator_id: Option<OperatorId>,
}

/// The contract's visibility table.
pub fn can_see(viewer: &Viewer, ticket: &Placement) -> bool {
    if viewer.supervises(ticket.department_id) {
        return true;
    }
    match ticket.state {
        TicketState::Waiting | TicketState::OutOfHours => viewer.is_member(ticket.department_id),
        TicketState::Attending | TicketState::Paused | TicketState::Closed => {
            ticket.operator_id == Some(viewer.id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(role: Role, departments: &[DepartmentId]) -> Viewer {
        Viewer {
            id: OperatorId::new(),
            role,
            departments: departments.to_vec(),
        }
    }

    fn placed(state: TicketState, dept: DepartmentId, owner: Option<OperatorId>) -> Placement {
        Placement {
            state,
            department_id: dept,
            operator_id: owner,
        }
    }

    #[test]
    fn queues_are_seen_by_every_member_only() {
        let sales = DepartmentId::new();
        let support = DepartmentId::new();
        let member = viewer(Role::Operator, &[sales]);
        let outsider = viewer(Role::Operator, &[support]);
        for state in [TicketState::Waiting, TicketState::OutOfHours] {
            let t = placed(state, sales, None);
            assert!(can_see(&member, &t));
            assert!(!can_see(&outsider, &t));
        }
    }

    #[test]
    fn owned_tickets_are_seen_by_owner_supervisors_and_admins() {
        let sales = DepartmentId::new();
        let owner = viewer(Role::Operator, &[sales]);
        let colleague = viewer(Role::Operator, &[sales]);
        let supervisor = viewer(Role::Supervisor, &[sales]);
        let other_supervisor = viewer(Role::Supervisor, &[DepartmentId::new()]);
        let admin = viewer(Role::Admin, &[]);
        for state in [
            TicketState::Attending,
            TicketState::Paused,
            TicketState::Closed,
        ] {
            let t = placed(state, sales, Some(owner.id));
            assert!(can_see(&owner, &t), "{state:?}");
            assert!(!can_see(&colleague, &t), "{state:?}");
            assert!(can_see(&supervisor, &t), "{state:?}");
            assert!(!can_see(&other_supervisor, &t), "{state:?}");
            assert!(can_see(&admin, &t), "{state:?}");
        }
    }

    #[test]
    fn role_names_round_trip() {
        for role in [Role::Admin, Role::Supervisor, Role::Operator] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
