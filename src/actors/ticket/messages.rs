//! Messages a ticket actor handles.

use actix::prelude::*;

use crate::domain::classification::Classification;
use crate::domain::ids::{DepartmentId, OperatorId};
use crate::domain::ticket::TransitionError;
use crate::domain::visibility::Viewer;
use crate::persistence::StoreError;
use crate::views::{Content, MessageView, TicketView};

/// From the REST API: an operator acts on the ticket. Commands run one at a time, each to
/// its commit, which is what makes "first reply wins" hold without locks or retries.
#[derive(Message)]
#[rtype(result = "Result<CommandOutcome, CommandError>")]
pub struct Command {
    pub by: Viewer,
    pub by_name: String,
    pub action: TicketCommand,
}

#[derive(Debug, Clone)]
pub enum TicketCommand {
    Reply(Content),
    Pause,
    Transfer {
        department_id: DepartmentId,
        operator_id: Option<OperatorId>,
    },
    Finalize(Classification),
    /// Save the classification while the ticket is open.
    Classify(Classification),
}

impl TicketCommand {
    pub fn name(&self) -> &'static str {
        match self {
            TicketCommand::Reply(_) => "reply",
            TicketCommand::Pause => "pause",
            TicketCommand::Transfer { .. } => "transfer",
            TicketCommand::Finalize(_) => "finalize",
            TicketCommand::Classify(_) => "classify",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CommandOutcome {
    pub ticket: TicketView,
    pub message: Option<MessageView>,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("department_id: no department {0}")]
    UnknownDepartment(DepartmentId),
    #[error("operator {operator} is not a member of department {department}")]
    OperatorNotInDepartment {
        operator: OperatorId,
        department: DepartmentId,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the customer's last message is more than 24 hours old: WhatsApp only delivers templates now"
    )]
    OutsideCustomerWindow,
    #[error(transparent)]
    UnknownVariable(#[from] crate::domain::template::UnknownVariable),
    #[error("template: templates can only be sent on WhatsApp channels")]
    TemplateOffWhatsApp,
    /// The ticket closed (or never existed) before the command reached it.
    #[error("the ticket is not open")]
    NotOpen,
}

/// From the ticket's department: a routing step it decided (auto-assignment, owner timeout,
/// the opening drain), with an optional notice for the customer (the queue message), or the
/// notice alone (`step: None`). Refused with `InvalidTransition` when the ticket moved on
/// before the step reached it.
#[derive(Message)]
#[rtype(result = "Result<TicketView, CommandError>")]
pub struct RouteStep {
    pub step: Option<crate::domain::ticket::Route>,
    pub notice: Option<String>,
}

/// From the department after an inbound message for this ticket was committed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InboundStored {
    pub messages: Vec<MessageView>,
}
