//! The ticket actor: the single writer of one open ticket. It takes operators' commands one
//! at a time — decide with the domain state machine, commit, then tell the departments — and
//! publishes the ticket's messages in the order they were stored. It stops when the ticket
//! closes; a ticket that is needed again after a restart is loaded on first use.

mod messages;

use std::sync::Arc;

use actix::prelude::*;
use tracing::Instrument;

pub use self::messages::*;
use super::department::{PublishMessage, QueueState, TicketChanged};
use super::registry::Registry;
use crate::domain::ids::TicketId;
use crate::domain::message::{MessageStatus, customer_window_open};
use crate::domain::template::{Variables, check, expand};
use crate::domain::ticket::{Action, Reason, Route, TicketState, decide, route};
use crate::domain::visibility::Placement;
use crate::persistence::conversation_key;
use crate::persistence::queries::directory::to_json;
use crate::persistence::queries::{contacts, directory, tickets};
use crate::views::{Content, MessageView, TicketView};

pub struct TicketActor {
    id: TicketId,
    /// `None` until loaded from storage.
    view: Option<TicketView>,
    registry: Arc<Registry>,
}

impl TicketActor {
    /// An actor for a ticket that was just opened.
    pub fn opened(view: TicketView, registry: Arc<Registry>) -> Self {
        Self {
            id: view.id,
            view: Some(view),
            registry,
        }
    }

    /// An actor that loads its ticket from storage before taking any message.
    pub fn load(id: TicketId, registry: Arc<Registry>) -> Self {
        Self {
            id,
            view: None,
            registry,
        }
    }
}

impl Actor for TicketActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Only a freshly opened ticket starts with its view: it introduces itself to its
        // department. Any other starts empty and loads itself before taking messages.
        if let Some(view) = &self.view {
            if let Some(dept) = self.registry.department(view.department.id) {
                dept.addr.do_send(TicketChanged {
                    before: None,
                    reason: None,
                    after: Arc::new(view.clone()),
                });
            }
            return;
        }
        let id = self.id;
        let store = self.registry.store.clone();
        ctx.wait(
            async move { store.read(move |c| tickets::ticket(c, id)).await }
                .into_actor(self)
                .map(|loaded, act, ctx| match loaded {
                    Ok(Some(view)) if view.state != TicketState::Closed => act.view = Some(view),
                    Ok(_) => ctx.stop(),
                    Err(e) => {
                        tracing::warn!(ticket = %act.id, error = %e, "cannot load ticket");
                        ctx.stop();
                    }
                }),
        );
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        self.registry.ticket_stopped(self.id, &ctx.address());
    }
}

/// What a committed command produced, ready to publish.
struct Committed {
    before: Placement,
    /// Why the ticket moved, if it did.
    reason: Option<Reason>,
    changed: bool,
    ticket: TicketView,
    message: Option<MessageView>,
}

impl Handler<Command> for TicketActor {
    type Result = AtomicResponse<Self, Result<CommandOutcome, CommandError>>;

    fn handle(&mut self, cmd: Command, _: &mut Self::Context) -> Self::Result {
        let Some(view) = self.view.clone() else {
            return AtomicResponse::new(Box::pin(fut::ready(Err(CommandError::NotOpen))));
        };
        let registry = self.registry.clone();
        let span = tracing::info_span!(
            "ticket_command",
            ticket = %view.id,
            number = view.number,
            action = cmd.action.name(),
            operator = %cmd.by.id,
        );
        let work = async move {
            let committed = run_command(&registry, view, cmd).await?;
            publish(&registry, &committed).await;
            if committed
                .message
                .as_ref()
                .is_some_and(|m| m.status == MessageStatus::Queued)
            {
                registry.outbox_wake.notify_one();
            }
            Ok(committed)
        }
        .instrument(span);
        AtomicResponse::new(Box::pin(work.into_actor(self).map(
            |result: Result<Committed, CommandError>, act, ctx| {
                let committed = act.settle(result?, ctx);
                Ok(CommandOutcome {
                    ticket: committed.ticket,
                    message: committed.message,
                })
            },
        )))
    }
}

impl TicketActor {
    /// Keeps the committed view, or stops once the ticket closed.
    fn settle(&mut self, committed: Committed, ctx: &mut Context<Self>) -> Committed {
        if committed.ticket.state == TicketState::Closed {
            self.view = None;
            ctx.stop();
        } else {
            self.view = Some(committed.ticket.clone());
        }
        committed
    }
}

impl Handler<RouteStep> for TicketActor {
    type Result = AtomicResponse<Self, Result<TicketView, CommandError>>;

    fn handle(&mut self, msg: RouteStep, _: &mut Self::Context) -> Self::Result {
        let Some(view) = self.view.clone() else {
            return AtomicResponse::new(Box::pin(fut::ready(Err(CommandError::NotOpen))));
        };
        let registry = self.registry.clone();
        let span = tracing::info_span!(
            "route_step",
            ticket = %view.id,
            number = view.number,
            step = msg.step.map_or("notice", Route::name),
        );
        let work = async move {
            let committed = run_route(&registry, view, msg).await?;
            publish(&registry, &committed).await;
            if committed.message.is_some() {
                registry.outbox_wake.notify_one();
            }
            Ok(committed)
        }
        .instrument(span);
        AtomicResponse::new(Box::pin(work.into_actor(self).map(
            |result: Result<Committed, CommandError>, act, ctx| Ok(act.settle(result?, ctx).ticket),
        )))
    }
}

/// Decides and commits one routing step.
async fn run_route(
    registry: &Arc<Registry>,
    view: TicketView,
    msg: RouteStep,
) -> Result<Committed, CommandError> {
    let before = view.placement();
    let change = msg.step.map(|step| route(&before, step)).transpose()?;
    let sends_out = registry
        .channel(view.channel.id)
        .is_some_and(|c| c.kind.sends_out());
    let record = tickets::Record {
        ticket_id: view.id,
        channel_id: view.channel.id,
        expected: before.state,
        change,
        by: None,
        by_name: String::new(),
        message: None,
        notice: msg.notice.map(|text| (view.department.name.clone(), text)),
        send_to: sends_out.then(|| view.contact.phone.clone()),
        classification: None,
        now: crate::persistence::now().naive_utc(),
    };
    let (ticket, message) = commit(registry, &view, record).await?;
    Ok(Committed {
        before,
        reason: change.map(|c| c.reason),
        changed: change.is_some(),
        ticket,
        message,
    })
}

/// Decides and commits one command.
async fn run_command(
    registry: &Arc<Registry>,
    view: TicketView,
    cmd: Command,
) -> Result<Committed, CommandError> {
    let before = view.placement();
    let (action, classification) = match &cmd.action {
        TicketCommand::Reply(_) => (Action::Reply, None),
        TicketCommand::Pause => (Action::Pause, None),
        TicketCommand::Transfer {
            department_id,
            operator_id,
        } => {
            let target = registry
                .department(*department_id)
                .ok_or(CommandError::UnknownDepartment(*department_id))?;
            if let Some(op) = *operator_id {
                let dept = *department_id;
                let member = registry
                    .store
                    .read(move |c| directory::is_member(c, op, dept))
                    .await?;
                if !member {
                    return Err(CommandError::OperatorNotInDepartment {
                        operator: op,
                        department: dept,
                    });
                }
            }
            let queued = target
                .addr
                .send(QueueState)
                .await
                .unwrap_or(TicketState::Waiting);
            (
                Action::Transfer {
                    department_id: *department_id,
                    operator_id: *operator_id,
                    department_open: queued == TicketState::Waiting,
                },
                None,
            )
        }
        TicketCommand::Finalize(body) => {
            let required = registry
                .department(before.department_id)
                .map(|d| d.view.required_fields.clone())
                .unwrap_or_default();
            // The body goes over what was saved while the ticket was open.
            let classification = view.classification.clone().unwrap_or_default().merged(body);
            (
                Action::Finalize {
                    missing_fields: classification.missing(&required),
                },
                Some(to_json(&classification)),
            )
        }
        TicketCommand::Classify(body) => {
            let classification = view.classification.clone().unwrap_or_default().merged(body);
            (Action::Classify, Some(to_json(&classification)))
        }
    };
    let change = decide(&before, &cmd.by, action)?;
    let sends_out = registry
        .channel(view.channel.id)
        .is_some_and(|c| c.kind.sends_out());
    if let TicketCommand::Reply(content) = &cmd.action {
        check_channel_allows(registry, &view, content, sends_out).await?;
    }
    let message = match cmd.action {
        TicketCommand::Reply(Content::Text(text)) => Some(Content::Text(
            expand_variables(registry, &view, &cmd.by_name, &text).await?,
        )),
        TicketCommand::Reply(other) => Some(other),
        _ => None,
    };
    // A saved classification changes the ticket as its viewers see it.
    let classified = classification.is_some();
    let record = tickets::Record {
        ticket_id: view.id,
        channel_id: view.channel.id,
        expected: before.state,
        change,
        by: Some(cmd.by.id),
        by_name: cmd.by_name,
        message,
        notice: None,
        send_to: sends_out.then(|| view.contact.phone.clone()),
        classification,
        now: crate::persistence::now().naive_utc(),
    };
    let (ticket, message) = commit(registry, &view, record).await?;
    Ok(Committed {
        before,
        reason: change.map(|c| c.reason),
        changed: change.is_some() || classified,
        ticket,
        message,
    })
}

/// Writes a decided change in the conversation's write order, and logs it.
async fn commit(
    registry: &Arc<Registry>,
    view: &TicketView,
    record: tickets::Record,
) -> Result<(TicketView, Option<MessageView>), CommandError> {
    let key = conversation_key(view.channel.id, &view.contact.phone);
    let (from, change, by) = (record.expected, record.change, record.by);
    let (ticket, message) = registry
        .store
        .write_keyed(key, move |c| tickets::record(c, &record))
        .await?;
    if message.is_some() {
        crate::instruments::message_out();
    }
    if let Some(change) = change {
        tracing::info!(
            ticket = %ticket.id,
            number = ticket.number,
            %from,
            to = %ticket.state,
            reason = change.reason.as_str(),
            by = ?by,
            owner = ?ticket.operator.as_ref().map(|o| o.id),
            department = %ticket.department.id,
            "ticket {}", change.reason.as_str()
        );
    }
    Ok((ticket, message))
}

/// The text with its variables filled in for this ticket; an unknown variable refuses it.
async fn expand_variables(
    registry: &Arc<Registry>,
    view: &TicketView,
    operator: &str,
    text: &str,
) -> Result<String, CommandError> {
    check(text)?;
    // Only a text with variables needs the rest of the profile.
    let profile = if text.contains("{{") {
        let contact = view.contact.id;
        registry
            .store
            .read(move |c| contacts::profile(c, contact))
            .await?
    } else {
        None
    };
    let profile = profile.unwrap_or_default();
    Ok(expand(
        text,
        &Variables {
            contact_name: &view.contact.name,
            contact_phone: &view.contact.phone,
            contact_email: profile.email.as_deref(),
            contact_company: profile.company.as_deref(),
            operator_name: operator,
            department_name: &view.department.name,
            ticket_number: view.number,
            channel_name: &view.channel.name,
            queue: None,
        },
    )?)
}

/// What the ticket's channel lets an operator send now: templates only on WhatsApp, and there
/// free-form messages only within 24 hours of the customer's last message.
async fn check_channel_allows(
    registry: &Arc<Registry>,
    view: &TicketView,
    content: &Content,
    whatsapp: bool,
) -> Result<(), CommandError> {
    if !whatsapp {
        return match content {
            Content::Template(_) => Err(CommandError::TemplateOffWhatsApp),
            _ => Ok(()),
        };
    }
    if !content.is_free_form() {
        return Ok(());
    }
    let id = view.id;
    let last = registry
        .store
        .read(move |c| tickets::last_customer_message_at(c, id))
        .await?;
    if customer_window_open(last, crate::persistence::now()) {
        Ok(())
    } else {
        Err(CommandError::OutsideCustomerWindow)
    }
}

/// Tells the departments about a committed command. On a transfer both departments are awaited,
/// so a session that listens to both never sees this change after the ticket's next one.
async fn publish(registry: &Arc<Registry>, c: &Committed) {
    let after = c.ticket.placement();
    let home = registry.department(after.department_id);
    if c.changed {
        let changed = || TicketChanged {
            before: Some(c.before),
            reason: c.reason,
            after: Arc::new(c.ticket.clone()),
        };
        if c.before.department_id != after.department_id {
            if let Some(old) = registry.department(c.before.department_id) {
                let _ = old.addr.send(changed()).await;
            }
            if let Some(new) = &home {
                let _ = new.addr.send(changed()).await;
            }
        } else if let Some(home) = &home {
            home.addr.do_send(changed());
        }
    }
    if let (Some(message), Some(home)) = (&c.message, &home) {
        home.addr.do_send(PublishMessage {
            placement: after,
            message: Arc::new(message.clone()),
        });
    }
}

impl Handler<InboundStored> for TicketActor {
    type Result = ();

    fn handle(&mut self, msg: InboundStored, _: &mut Self::Context) {
        let Some(view) = &self.view else {
            return;
        };
        let Some(home) = self.registry.department(view.department.id) else {
            return;
        };
        for message in msg.messages {
            home.addr.do_send(PublishMessage {
                placement: view.placement(),
                message: Arc::new(message),
            });
        }
    }
}
