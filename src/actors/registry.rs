//! The directory of live actors. It owns no business state: it maps ids to addresses, starts a
//! ticket actor on first use, and hands new departments the admin sessions that see everything.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use actix::prelude::*;
use tokio::sync::Notify;

use super::department::{
    DepartmentActor, PublishContact, PublishStatus, Reconfigure, SetMembers, SetPresence, Subscribe,
};
use super::events::Event;
use super::operator::{CloseSession, CloseWhy};
use super::ticket::{InboundStored, TicketActor};
use crate::clock::Clock;
use crate::domain::calendar::Calendar;
use crate::domain::ids::{ChannelId, DepartmentId, OperatorId, TicketId};
use crate::domain::message::MessageStatus;
use crate::domain::visibility::Placement;
use crate::domain::visibility::Viewer;
use crate::persistence::Store;
use crate::persistence::outbox::StatusChange;
use crate::persistence::queries::directory;
use crate::persistence::queries::inbound::Ingested;
use crate::views::{ChannelView, ContactView, DepartmentView, Member, TicketView};

/// A department's address plus a read-only copy of its settings for quick checks elsewhere
/// (names in templates, mandatory fields). The actor holds the same `Arc`s.
#[derive(Clone)]
pub struct DepartmentEntry {
    pub addr: Addr<DepartmentActor>,
    pub view: Arc<DepartmentView>,
    pub calendar: Arc<Calendar>,
}

pub struct Registry {
    pub store: Store,
    departments: RwLock<HashMap<DepartmentId, DepartmentEntry>>,
    /// Channels never change once created; inbound routing reads them on every message.
    channels: RwLock<HashMap<ChannelId, ChannelView>>,
    tickets: Mutex<HashMap<TicketId, Addr<TicketActor>>>,
    /// Every live operator session: admins are subscribed to departments created after they
    /// connected, and all are told to close at shutdown.
    sessions: Mutex<HashMap<u64, LiveSession>>,
    /// Wakes the channels' sender when a send is committed to the outbox.
    pub outbox_wake: Arc<Notify>,
    /// Wakes the media fetcher when a received file is waiting to be fetched.
    pub media_wake: Arc<Notify>,
    /// The time routing reads (tests move it forward).
    pub clock: Arc<Clock>,
    /// Operators who said they are away. Presence lives with the connections, so this does
    /// not outlive the process: after a restart everyone who reconnects is online.
    away: Mutex<HashSet<OperatorId>>,
    /// Open sockets per operator, counted from before the upgrade so a burst cannot overshoot.
    sockets: Arc<Mutex<HashMap<OperatorId, usize>>>,
}

/// One socket counted against its operator's limit until dropped (with its session).
pub struct SocketSlot {
    operator: OperatorId,
    counts: Arc<Mutex<HashMap<OperatorId, usize>>>,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.get_mut(&self.operator) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.operator);
            }
        }
    }
}

#[derive(Clone)]
pub struct LiveSession {
    pub subscription: Subscribe,
    pub close: Recipient<CloseSession>,
    pub operator: OperatorId,
    /// The SHA-256 of the token the socket was opened with.
    pub token_hash: String,
}

impl Registry {
    pub fn new(store: Store) -> Arc<Self> {
        Arc::new(Self {
            store,
            departments: RwLock::default(),
            channels: RwLock::default(),
            tickets: Mutex::default(),
            sessions: Mutex::default(),
            outbox_wake: Arc::default(),
            media_wake: Arc::default(),
            clock: Arc::default(),
            away: Mutex::default(),
            sockets: Arc::default(),
        })
    }

    /// Starts the actor of a department, with its open tickets (at start-up) or none (new).
    pub fn start_department(
        self: &Arc<Self>,
        view: DepartmentView,
        calendar: Calendar,
        open_tickets: Vec<TicketView>,
        members: Vec<Member>,
    ) -> DepartmentEntry {
        let view = Arc::new(view);
        let calendar = Arc::new(calendar);
        let admins: Vec<Subscribe> = lock(&self.sessions)
            .values()
            .filter(|s| s.subscription.viewer.is_admin())
            .map(|s| s.subscription.clone())
            .collect();
        let actor = DepartmentActor::new(
            view.clone(),
            calendar.clone(),
            self.clone(),
            open_tickets,
            members,
        );
        let addr = actor.start();
        for admin in admins {
            addr.do_send(admin);
        }
        let entry = DepartmentEntry {
            addr,
            view,
            calendar,
        };
        write(&self.departments).insert(entry.view.id, entry.clone());
        entry
    }

    /// New settings for a department: its actor and the copy kept here.
    pub fn reconfigure_department(&self, view: DepartmentView, calendar: Calendar) {
        let mut all = write(&self.departments);
        if let Some(entry) = all.get_mut(&view.id) {
            entry.view = Arc::new(view);
            entry.calendar = Arc::new(calendar);
            entry.addr.do_send(Reconfigure {
                view: entry.view.clone(),
                calendar: entry.calendar.clone(),
            });
        }
    }

    /// Reads every department's members again and hands them to the actors (after an
    /// operator was created or changed).
    pub async fn refresh_members(&self) -> Result<(), crate::persistence::StoreError> {
        let mut members = self.store.read(directory::members).await?;
        for entry in read(&self.departments).values() {
            let list = members.remove(&entry.view.id).unwrap_or_default();
            entry.addr.do_send(SetMembers(list));
        }
        Ok(())
    }

    /// An operator set their status: away (connected, handed nothing) or back online.
    pub fn set_away(&self, operator: OperatorId, away: bool) {
        {
            let mut set = lock(&self.away);
            if away {
                set.insert(operator);
            } else {
                set.remove(&operator);
            }
        }
        for entry in read(&self.departments).values() {
            entry.addr.do_send(SetPresence { operator, away });
        }
    }

    pub fn is_away(&self, operator: OperatorId) -> bool {
        lock(&self.away).contains(&operator)
    }

    pub fn add_channel(&self, channel: ChannelView) {
        write(&self.channels).insert(channel.id, channel);
    }

    pub fn channel(&self, id: ChannelId) -> Option<ChannelView> {
        read(&self.channels).get(&id).cloned()
    }

    pub fn department(&self, id: DepartmentId) -> Option<DepartmentEntry> {
        read(&self.departments).get(&id).cloned()
    }

    /// The departments whose events `viewer` receives: all of them for admins.
    pub fn departments_for(&self, viewer: &Viewer) -> Vec<DepartmentEntry> {
        let all = read(&self.departments);
        if viewer.is_admin() {
            all.values().cloned().collect()
        } else {
            viewer
                .departments
                .iter()
                .filter_map(|d| all.get(d).cloned())
                .collect()
        }
    }

    /// A slot for one more socket of `operator`, unless they already hold `limit`.
    pub fn socket_slot(&self, operator: OperatorId, limit: usize) -> Option<SocketSlot> {
        let mut counts = lock(&self.sockets);
        let n = counts.entry(operator).or_default();
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(SocketSlot {
            operator,
            counts: self.sockets.clone(),
        })
    }

    pub fn session_started(&self, session: u64, live: LiveSession) {
        lock(&self.sessions).insert(session, live);
    }

    pub fn session_ended(&self, session: u64) {
        lock(&self.sessions).remove(&session);
    }

    /// Asks every operator session to send a close frame and stop (at shutdown).
    pub fn close_all_sessions(&self) -> usize {
        let sessions = lock(&self.sessions);
        for s in sessions.values() {
            s.close.do_send(CloseSession(CloseWhy::Shutdown));
        }
        sessions.len()
    }

    /// Closes the sessions `which` picks (a revoked token, a disabled operator); how many.
    pub fn close_sessions(&self, why: CloseWhy, which: impl Fn(&LiveSession) -> bool) -> usize {
        let sessions = lock(&self.sessions);
        let mut closed = 0;
        for s in sessions.values().filter(|s| which(s)) {
            s.close.do_send(CloseSession(why));
            closed += 1;
        }
        closed
    }

    /// The actor of a ticket, started (and loaded from storage) on first use. A ticket that
    /// turns out to be closed or missing stops its actor at once; callers see a mailbox error.
    pub fn ticket(self: &Arc<Self>, id: TicketId) -> Addr<TicketActor> {
        let mut map = lock(&self.tickets);
        if let Some(addr) = map.get(&id).filter(|a| a.connected()) {
            return addr.clone();
        }
        let addr = TicketActor::load(id, self.clone()).start();
        map.insert(id, addr.clone());
        addr
    }

    /// Starts the actor of a ticket that was just opened; it announces itself to its department.
    pub fn open_ticket(self: &Arc<Self>, view: TicketView) -> Addr<TicketActor> {
        let id = view.id;
        let addr = TicketActor::opened(view, self.clone()).start();
        lock(&self.tickets).insert(id, addr.clone());
        addr
    }

    /// Called by a ticket actor as it stops; leaves a newer actor for the same id alone.
    pub fn ticket_stopped(&self, id: TicketId, addr: &Addr<TicketActor>) {
        let mut map = lock(&self.tickets);
        if map.get(&id) == Some(addr) {
            map.remove(&id);
        }
    }

    /// Hands a stored inbound message to its ticket's actor for delivery.
    pub fn deliver_inbound(self: &Arc<Self>, stored: &Ingested) {
        if stored.duplicate {
            return;
        }
        let addr = match &stored.opened {
            Some(view) => {
                tracing::info!(
                    ticket = %view.id,
                    number = view.number,
                    state = %view.state,
                    department = %view.department.id,
                    "ticket opened"
                );
                self.open_ticket(view.clone())
            }
            None => self.ticket(stored.ticket.id),
        };
        addr.do_send(InboundStored {
            messages: stored.messages.clone(),
        });
        if stored
            .messages
            .iter()
            .any(|m| m.status == MessageStatus::Queued)
        {
            self.outbox_wake.notify_one();
        }
        if stored
            .messages
            .iter()
            .any(|m| m.media.as_ref().is_some_and(|f| f.media_id.is_some()))
        {
            self.media_wake.notify_one();
        }
    }

    /// Tells whoever sees one of the contact's open tickets (at `placements`) that it changed.
    pub fn publish_contact(&self, contact: &ContactView, placements: &[Placement]) {
        let frame = Event::Contact { contact }.frame();
        let mut departments: Vec<DepartmentId> =
            placements.iter().map(|p| p.department_id).collect();
        departments.sort();
        departments.dedup();
        for d in departments {
            if let Some(department) = self.department(d) {
                department.addr.do_send(PublishContact {
                    frame: frame.clone(),
                    placements: placements
                        .iter()
                        .filter(|p| p.department_id == d)
                        .copied()
                        .collect(),
                });
            }
        }
    }

    /// Tells whoever sees the ticket that one of its messages changed status.
    pub fn publish_status(&self, change: StatusChange) {
        if let Some(department) = self.department(change.placement.department_id) {
            department.addr.do_send(PublishStatus(change));
        }
    }
}

// A poisoned lock means a thread panicked while holding it; the maps stay consistent
// (every critical section is a single insert or remove), so carry on with the data.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}
fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}
