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
mod tests {
    use super::*;
    use crate::domain::visibility::Role;

    struct World {
        sales: DepartmentId,
        support: DepartmentId,
        ana: Viewer,
        beto: Viewer,
        outsider: Viewer,
        boss: Viewer,
    }

    fn world() -> World {
        let sales = DepartmentId::new();
        let support = DepartmentId::new();
        let v = |role, deps: &[DepartmentId]| Viewer {
            id: OperatorId::new(),
            role,
            departments: deps.to_vec(),
        };
        World {
            sales,
            support,
            ana: v(Role::Operator, &[sales]),
            beto: v(Role::Operator, &[sales]),
            outsider: v(Role::Operator, &[support]),
            boss: v(Role::Supervisor, &[sales]),
        }
    }

    fn at(state: TicketState, dept: DepartmentId, owner: Option<&Viewer>) -> Placement {
        Placement {
            state,
            department_id: dept,
            operator_id: owner.map(|v| v.id),
        }
    }

    #[test]
    fn first_reply_claims_queued_tickets() {
        let w = world();
        for state in [TicketState::Waiting, TicketState::OutOfHours] {
            let change = decide(&at(state, w.sales, None), &w.ana, Action::Reply)
                .unwrap()
                .unwrap();
            assert_eq!(change.to.state, TicketState::Attending);
            assert_eq!(change.to.operator_id, Some(w.ana.id));
            assert_eq!(change.reason, Reason::Claimed);
        }
    }

    #[test]
    fn later_replies_by_members_are_told_the_ticket_was_taken() {
        let w = world();
        for state in [TicketState::Attending, TicketState::Paused] {
            let t = at(state, w.sales, Some(&w.ana));
            assert_eq!(
                decide(&t, &w.beto, Action::Reply),
                Err(TransitionError::TicketTaken {
                    owner: Some(w.ana.id)
                })
            );
            assert_eq!(
                decide(&t, &w.outsider, Action::Reply),
                Err(TransitionError::NotFound)
            );
        }
        let queued = at(TicketState::Waiting, w.sales, None);
        assert_eq!(
            decide(&queued, &w.outsider, Action::Reply),
            Err(TransitionError::NotFound)
        );
    }

    #[test]
    fn owner_replies_keep_or_resume_attention() {
        let w = world();
        let attending = at(TicketState::Attending, w.sales, Some(&w.ana));
        assert_eq!(decide(&attending, &w.ana, Action::Reply), Ok(None));
        let paused = at(TicketState::Paused, w.sales, Some(&w.ana));
        let change = decide(&paused, &w.ana, Action::Reply).unwrap().unwrap();
        assert_eq!(change.to, attending);
        assert_eq!(change.reason, Reason::Resumed);
    }

    #[test]
    fn only_the_owner_pauses_an_attended_ticket() {
        let w = world();
        let attending = at(TicketState::Attending, w.sales, Some(&w.ana));
        let change = decide(&attending, &w.ana, Action::Pause).unwrap().unwrap();
        assert_eq!(change.to.state, TicketState::Paused);
        assert_eq!(
            decide(&attending, &w.boss, Action::Pause),
            Err(TransitionError::Forbidden { action: "pause" })
        );
        assert_eq!(
            decide(&attending, &w.beto, Action::Pause),
            Err(TransitionError::TicketTaken {
                owner: Some(w.ana.id)
            })
        );
        for state in [TicketState::Waiting, TicketState::Paused] {
            let owner = state.is_owned().then_some(&w.ana);
            assert!(matches!(
                decide(&at(state, w.sales, owner), &w.ana, Action::Pause),
                Err(TransitionError::InvalidTransition {
                    action: "pause",
                    ..
                })
            ));
        }
    }

    #[test]
    fn transfer_to_a_department_queues_by_its_calendar() {
        let w = world();
        let attending = at(TicketState::Attending, w.sales, Some(&w.ana));
        for (open, expected) in [
            (true, TicketState::Waiting),
            (false, TicketState::OutOfHours),
        ] {
            let action = Action::Transfer {
                department_id: w.support,
                operator_id: None,
                department_open: open,
            };
            let change = decide(&attending, &w.ana, action).unwrap().unwrap();
            assert_eq!(change.to, at(expected, w.support, None));
            assert_eq!(change.reason, Reason::Transferred);
        }
    }

    #[test]
    fn transfer_to_an_operator_hands_over_ownership() {
        let w = world();
        let paused = at(TicketState::Paused, w.sales, Some(&w.ana));
        let action = Action::Transfer {
            department_id: w.support,
            operator_id: Some(w.outsider.id),
            department_open: false,
        };
        let change = decide(&paused, &w.ana, action.clone()).unwrap().unwrap();
        assert_eq!(
            change.to,
            at(TicketState::Attending, w.support, Some(&w.outsider))
        );
        // A colleague may not move someone else's conversation; a supervisor may.
        assert!(matches!(
            decide(&paused, &w.beto, action.clone()),
            Err(TransitionError::TicketTaken { .. })
        ));
        assert!(decide(&paused, &w.boss, action.clone()).is_ok());
        // Queued tickets may be passed on by any member.
        assert!(decide(&at(TicketState::Waiting, w.sales, None), &w.beto, action).is_ok());
    }

    #[test]
    fn finalize_requires_mandatory_fields_and_remembers_the_owner() {
        let w = world();
        let attending = at(TicketState::Attending, w.sales, Some(&w.ana));
        assert_eq!(
            decide(
                &attending,
                &w.ana,
                Action::Finalize {
                    missing_fields: vec!["outcome".into()]
                }
            ),
            Err(TransitionError::MissingFields(vec!["outcome".into()]))
        );
        let change = decide(
            &attending,
            &w.ana,
            Action::Finalize {
                missing_fields: vec![],
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(change.to, at(TicketState::Closed, w.sales, Some(&w.ana)));
        // Closed is final.
        for action in [
            Action::Reply,
            Action::Pause,
            Action::Finalize {
                missing_fields: vec![],
            },
        ] {
            assert!(matches!(
                decide(&change.to, &w.ana, action),
                Err(TransitionError::InvalidTransition {
                    from: TicketState::Closed,
                    ..
                })
            ));
        }
    }

    #[test]
    fn routing_steps_apply_only_where_the_ticket_still_stands() {
        let w = world();
        let waiting = at(TicketState::Waiting, w.sales, None);
        let change = route(&waiting, Route::Assign(w.ana.id)).unwrap();
        assert_eq!(change.to, at(TicketState::Attending, w.sales, Some(&w.ana)));
        assert_eq!(change.reason, Reason::AutoAssigned);
        let attending = at(TicketState::Attending, w.sales, Some(&w.beto));
        let back = route(&attending, Route::OwnerTimeout).unwrap();
        assert_eq!((back.to, back.reason), (waiting, Reason::OwnerTimeout));
        let night = at(TicketState::OutOfHours, w.sales, None);
        let opened = route(&night, Route::Opened).unwrap();
        assert_eq!((opened.to, opened.reason), (waiting, Reason::Opened));
        let paused = at(TicketState::Paused, w.sales, Some(&w.beto));
        for owned in [attending, paused] {
            let released = route(&owned, Route::OwnerDisabled(w.beto.id)).unwrap();
            assert_eq!(
                (released.to, released.reason),
                (waiting, Reason::OwnerDisabled)
            );
        }
        // Claimed meanwhile, paused, already queued, closed: nothing to do.
        for (t, step) in [
            (attending, Route::Assign(w.ana.id)),
            (night, Route::Assign(w.ana.id)),
            (
                at(TicketState::Paused, w.sales, Some(&w.ana)),
                Route::OwnerTimeout,
            ),
            (waiting, Route::OwnerTimeout),
            (waiting, Route::Opened),
            (attending, Route::OwnerDisabled(w.ana.id)),
            (waiting, Route::OwnerDisabled(w.beto.id)),
            (
                at(TicketState::Closed, w.sales, Some(&w.ana)),
                Route::Opened,
            ),
        ] {
            assert!(matches!(
                route(&t, step),
                Err(TransitionError::InvalidTransition { .. })
            ));
        }
    }

    #[test]
    fn every_state_name_round_trips() {
        for s in TicketState::ALL {
            assert_eq!(TicketState::parse(s.as_str()), Some(s));
        }
    }
}
