//! The ticket state machine: a command from an operator plus where the ticket stands gives
//! either the change to record or a typed refusal. Nothing here touches storage or actors;
//! the ticket actor applies the decision and persists it with its timeline entry.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::{DepartmentId, OperatorId};
use super::visibility::{Placement, Viewer, can_see};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    /// Esperando: in the department's queue, seen by all its members.
    Waiting,
    /// Atendiendo: owned by one operator.
    Attending,
    /// Pausado: owned, set aside; the contact is not told.
    Paused,
    /// Fuera de horario: arrived while the department was closed.
    OutOfHours,
    Closed,
}

impl TicketState {
    pub const ALL: [TicketState; 5] = [
        TicketState::Waiting,
        TicketState::Attending,
        TicketState::Paused,
        TicketState::OutOfHours,
        TicketState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Waiting => "waiting",
            TicketState::Attending => "attending",
            TicketState::Paused => "paused",
            TicketState::OutOfHours => "out_of_hours",
            TicketState::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_queued(self) -> bool {
        matches!(self, TicketState::Waiting | TicketState::OutOfHours)
    }

    pub fn is_owned(self) -> bool {
        matches!(self, TicketState::Attending | TicketState::Paused)
    }

    /// The state a ticket takes when it enters a department's queue.
    pub fn queued(department_open: bool) -> Self {
        if department_open {
            TicketState::Waiting
        } else {
            TicketState::OutOfHours
        }
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operator asks of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Reply,
    Pause,
    Transfer {
        department_id: DepartmentId,
        operator_id: Option<OperatorId>,
        /// The target department's calendar at this instant (decides waiting vs out of hours).
        department_open: bool,
    },
    Finalize {
        /// Mandatory classification fields the request left empty.
        missing_fields: Vec<String>,
    },
    /// Save the classification (the side panel) without closing the ticket.
    Classify,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Reply => "reply",
            Action::Pause => "pause",
            Action::Transfer { .. } => "transfer",
            Action::Finalize { .. } => "finalize",
            Action::Classify => "classify",
        }
    }
}

/// Why the timeline moved; stored as the entry's `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Opened,
    OpenedOutOfHours,
    Claimed,
    Paused,
    Resumed,
    Transferred,
    Finalized,
    /// Handed to an operator by the department's assignment policy.
    AutoAssigned,
    /// Back to the waiting list: the owner let the customer wait too long.
    OwnerTimeout,
    /// Back to the waiting list: an admin disabled the owner's account.
    OwnerDisabled,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Opened => "opened",
            Reason::OpenedOutOfHours => "opened_out_of_hours",
            Reason::Claimed => "claimed",
            Reason::Paused => "paused",
            Reason::Resumed => "resumed",
            Reason::Transferred => "transferred",
            Reason::Finalized => "finalized",
            Reason::AutoAssigned => "auto_assigned",
            Reason::OwnerTimeout => "owner_timeout",
            Reason::OwnerDisabled => "owner_disabled",
        }
    }

    pub fn for_opening(department_open: bool) -> Self {
        if department_open {
            Reason::Opened
        } else {
            Reason::OpenedOutOfHours
        }
    }
}

/// An accepted command's effect on the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub to: Placement,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The operator may not see the ticket: reported exactly like a ticket that does not exist.
    #[error("ticket not found")]
    NotFound,
    #[error("the ticket was already taken by another operator")]
    TicketTaken { owner: Option<OperatorId> },
    #[error("cannot {action} a ticket that is {from}")]
    InvalidTransition {
        from: TicketState,
        action: &'static str,
    },
    #[error("only the ticket's owner, a supervisor or an admin may {action} it")]
    Forbidden { action: &'static str },
    #[error("mandatory fields are missing: {}", .0.join(", "))]
    MissingFields(Vec<String>),
}

/// Decides what `action` by `by` does to a ticket at `at`. `Ok(None)` means accepted with no
/// change of state (the owner replying to a ticket they are attending).
pub fn decide(
    at: &Placement,
    by: &Viewer,
    action: Action,
) -> Result<Option<Change>, TransitionError> {
    use TicketState::*;
    let is_owner = at.operator_id == Some(by.id) && at.state.is_owned();
    let sees = can_see(by, at);
    // A department member who cannot see an owned ticket learns that it was taken, so the
    // console can say someone was faster; anybody else learns nothing.
    let hidden = || {
        if at.state.is_owned() && by.is_member(at.department_id) {
            TransitionError::TicketTaken {
                owner: at.operator_id,
            }
        } else {
            TransitionError::NotFound
        }
    };
    let invalid = |action: &Action| TransitionError::InvalidTransition {
        from: at.state,
        action: action.name(),
    };

    match action {
        Action::Reply => match at.state {
            Waiting | OutOfHours if sees => Ok(Some(owned_by(at, by.id, Reason::Claimed))),
            Attending if is_owner => Ok(None),
            Paused if is_owner => Ok(Some(Change {
                to: Placement {
                    state: Attending,
                    ..*at
                },
                reason: Reason::Resumed,
            })),
            // Supervisors see owned tickets but do not write into someone else's conversation.
            Attending | Paused if sees => Err(TransitionError::TicketTaken {
                owner: at.operator_id,
            }),
            Closed if sees => Err(invalid(&action)),
            _ => Err(hidden()),
        },
        Action::Pause => match at.state {
            Attending if is_owner => Ok(Some(Change {
                to: Placement {
                    state: Paused,
                    ..*at
                },
                reason: Reason::Paused,
            })),
            Attending if sees => Err(TransitionError::Forbidden { action: "pause" }),
            _ if sees => Err(invalid(&action)),
            _ => Err(hidden()),
        },
        Action::Transfer {
            department_id,
            operator_id,
            department_open,
        } => {
            if !sees {
                return Err(hidden());
            }
            if at.state == Closed {
                return Err(invalid(&action));
            }
            // Queued tickets may be passed on by any member who sees them; owned ones only by
            // their owner or a supervisor.
            if at.state.is_owned() && !is_owner && !by.supervises(at.department_id) {
                return Err(TransitionError::Forbidden { action: "transfer" });
            }
            let to = match operator_id {
                Some(op) => Placement {
                    state: Attending,
                    department_id,
                    operator_id: Some(op),
                },
                None => Placement {
                    state: TicketState::queued(department_open),
                    department_id,
                    operator_id: None,
                },
            };
            Ok(Some(Change {
                to,
                reason: Reason::Transferred,
            }))
        }
        Action::Classify => {
            if !sees {
                return Err(hidden());
            }
            if at.state == Closed {
                return Err(invalid(&action));
            }
            if at.state.is_owned() && !is_owner && !by.supervises(at.department_id) {
                return Err(TransitionError::Forbidden { action: "classify" });
            }
            Ok(None)
        }
        Action::Finalize { missing_fields } => {
            if !sees {
                return Err(hidden());
            }
            if at.state == Closed {
                return Err(invalid(&Action::Finalize { missing_fields }));
            }
            if at.state.is_owned() && !is_owner && !by.supervises(at.department_id) {
                return Err(TransitionError::Forbidden { action: "finalize" });
            }
            if !missing_fields.is_empty() {
                return Err(TransitionError::MissingFields(missing_fields));
            }
            Ok(Some(Change {
                // A closed ticket remembers its last owner, who keeps seeing it in history.
                to: Placement {
                    state: Closed,
                    department_id: at.department_id,
                    operator_id: at.operator_id.or(Some(by.id)),
                },
                reason: Reason::Finalized,
            }))
        }
    }
}

/// What the department's routing asks of a ticket (no operator acts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Hand a waiting ticket to this operator (an automatic assignment policy).
    Assign(OperatorId),
    /// Take an attending ticket back to the waiting list (owner timeout).
    OwnerTimeout,
    /// Move an out-of-hours ticket to the waiting list (the department opened).
    Opened,
    /// Take an attending or paused ticket of this (disabled) operator back to the waiting list.
    OwnerDisabled(OperatorId),
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Assign(_) => "auto_assign",
            Route::OwnerTimeout => "owner_timeout",
            Route::Opened => "drain",
            Route::OwnerDisabled(_) => "release",
        }
    }
}

/// Decides a routing step. The department decided it on what it knew; the ticket may have
/// moved since (claimed, transferred), and then the step no longer applies.
pub fn route(at: &Placement, step: Route) -> Result<Change, TransitionError> {
    let queued = |reason| Change {
        to: Placement {
            state: TicketState::Waiting,
            department_id: at.department_id,
            operator_id: None,
        },
        reason,
    };
    match (step, at.state) {
        (Route::Assign(op), TicketState::Waiting) => Ok(owned_by(at, op, Reason::AutoAssigned)),
        (Route::OwnerTimeout, TicketState::Attending) => Ok(queued(Reason::OwnerTimeout)),
        (Route::Opened, TicketState::OutOfHours) => Ok(queued(Reason::Opened)),
        (Route::OwnerDisabled(op), TicketState::Attending | TicketState::Paused)
            if at.operator_id == Some(op) =>
        {
            Ok(queued(Reason::OwnerDisabled))
        }
        _ => Err(TransitionError::InvalidTransition {
            from: at.state,
            action: step.name(),
        }),
    }
}

fn owned_by(at: &Placement, operator: OperatorId, reason: Reason) -> Change {
    Change {
        to: Placement {
            state: TicketState::Attending,
            department_id: at.department_id,
            operator_id: Some(operator),
        },
        reason,
    }
}

#[cfg(test)]
mod tests;
