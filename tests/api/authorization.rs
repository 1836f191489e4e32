//! The authorization matrix (issue 12): every ticket route, the contact routes hanging off a
//! ticket, and the live events, for every kind of caller and every ticket state, against one
//! table written from CONTRACT.md ("Roles and visibility", the lifecycle, the side panel).
//!
//! Decisions the contract leaves open, recorded here and in docs/authorization.md:
//! - a member of the department may transfer or finalize a waiting (or out-of-hours) ticket
//!   without taking it, as any Chatwoot agent may resolve an unassigned conversation: it is how
//!   a misrouted or spam conversation leaves the shared list;
//! - an action on a ticket the caller cannot see is answered exactly as `GET` answers it
//!   (`404`), except that a member of its department learns `409 ticket_taken` for a ticket
//!   someone took, as the contract asks for replies;
//! - the ticket itself (`GET`, the lists, the live view) follows the visibility table, while
//!   its conversation (messages, timeline, transcript) is readable by whoever may see its
//!   contact, as "History" says: an earlier owner rereads what they wrote;
//! - an integration key is refused (`403`) on the operator routes, a missing or revoked token
//!   gets `401`.
//!
//! A refused action must leave the ticket as it was; each one is checked.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Admin,
    SupervisorHere,
    SupervisorElsewhere,
    Member,
    Owner,
    FormerOwner,
    Outsider,
    Integration,
    NoToken,
    RevokedToken,
}

const EVERYONE: [Who; 10] = [
    Who::Admin,
    Who::SupervisorHere,
    Who::SupervisorElsewhere,
    Who::Member,
    Who::Owner,
    Who::FormerOwner,
    Who::Outsider,
    Who::Integration,
    Who::NoToken,
    Who::RevokedToken,
];

/// The callers with a console: they hold sockets.
const OPERATORS: [Who; 7] = [
    Who::Admin,
    Who::SupervisorHere,
    Who::SupervisorElsewhere,
    Who::Member,
    Who::Owner,
    Who::FormerOwner,
    Who::Outsider,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum State {
    Waiting,
    Attending,
    Paused,
    OutOfHours,
    Closed,
}

const STATES: [State; 5] = [
    State::Waiting,
    State::Attending,
    State::Paused,
    State::OutOfHours,
    State::Closed,
];

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Attending => "attending",
            State::Paused => "paused",
            State::OutOfHours => "out_of_hours",
            State::Closed => "closed",
        }
    }

    fn queued(self) -> bool {
        matches!(self, State::Waiting | State::OutOfHours)
    }

    fn owned(self) -> bool {
        matches!(self, State::Attending | State::Paused)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    GetTicket,
    Messages,
    Timeline,
    Transcript,
    /// Whether `GET /tickets?state=…` lists it: 200 listed, 404 not.
    Listed,
    Contact,
    ContactNotes,
    ContactHistory,
    Reply,
    Pause,
    Transfer,
    Finalize,
    Classify,
    PatchContact,
    AddNote,
}

const ACTS: [Act; 15] = [
    Act::GetTicket,
    Act::Messages,
    Act::Timeline,
    Act::Transcript,
    Act::Listed,
    Act::Contact,
    Act::ContactNotes,
    Act::ContactHistory,
    Act::Reply,
    Act::Pause,
    Act::Transfer,
    Act::Finalize,
    Act::Classify,
    Act::PatchContact,
    Act::AddNote,
];

impl Act {
    /// Whether a success changes the ticket's state (and so needs a ticket of its own).
    fn moves_ticket(self) -> bool {
        matches!(
            self,
            Act::Reply | Act::Pause | Act::Transfer | Act::Finalize
        )
    }
}

/// The contract's visibility table.
fn sees_ticket(who: Who, state: State) -> bool {
    match who {
        Who::Admin | Who::SupervisorHere => true,
        // A member sees the shared lists; the owner sees what they hold or last held.
        Who::Member | Who::FormerOwner => state.queued(),
        Who::Owner => true,
        _ => false,
    }
}

/// "Who may see a contact": whoever sees one of its tickets now or served one before.
fn sees_contact(who: Who, state: State) -> bool {
    sees_ticket(who, state) || matches!(who, Who::Owner | Who::FormerOwner)
}

fn member_here(who: Who) -> bool {
    matches!(
        who,
        Who::Member | Who::Owner | Who::FormerOwner | Who::SupervisorHere
    )
}

/// What the contract answers `who` doing `act` on a ticket in `state`: the one table.
fn expected(who: Who, state: State, act: Act) -> u16 {
    match who {
        Who::NoToken | Who::RevokedToken => return 401,
        Who::Integration => return 403,
        _ => {}
    }
    let sees = sees_ticket(who, state);
    // What a caller who cannot see the ticket learns from an action on it.
    let hidden = if state.owned() && member_here(who) {
        409
    } else {
        404
    };
    let may_move = who == Who::Owner || who == Who::Admin || who == Who::SupervisorHere;
    match act {
        Act::GetTicket | Act::Listed => {
            if sees {
                200
            } else {
                404
            }
        }
        // "History": a ticket's conversation is readable by whoever may see its contact.
        Act::Messages | Act::Timeline | Act::Transcript => {
            if sees_contact(who, state) {
                200
            } else {
                404
            }
        }
        Act::Contact | Act::ContactNotes | Act::ContactHistory | Act::PatchContact => {
            if sees_contact(who, state) {
                200
            } else {
                404
            }
        }
        Act::AddNote => {
            if sees_contact(who, state) {
                201
            } else {
                404
            }
        }
        Act::Reply => match state {
            _ if !sees => hidden,
            State::Waiting | State::OutOfHours => 201,
            State::Attending | State::Paused if who == Who::Owner => 201,
            // Supervisors see an owned ticket but do not write into it.
            State::Attending | State::Paused => 409,
            State::Closed => 409,
        },
        Act::Pause => match state {
            _ if !sees => hidden,
            State::Attending if who == Who::Owner => 200,
            State::Attending => 403,
            _ => 409,
        },
        Act::Transfer | Act::Finalize | Act::Classify => match state {
            _ if !sees => hidden,
            State::Closed => 409,
            _ if state.queued() => 200,
            _ if may_move => 200,
            _ => 403,
        },
    }
}

struct World {
    app: TestApp,
    open: String,
    closed: String,
    elsewhere: String,
    open_channel: String,
    closed_channel: String,
    tokens: HashMap<Who, Option<String>>,
    ids: HashMap<Who, String>,
    next_phone: std::cell::Cell<u32>,
}

/// A ticket in a state, and its contact.
#[derive(Clone)]
struct Case {
    ticket: String,
    contact: String,
}

impl World {
    async fn new() -> World {
        let app = spawn_app().await;
        // The ticket's department exists twice, always open and never open, with the same
        // people in both: the out-of-hours list needs a closed calendar.
        let open = app.open_department("Ventas").await;
        let closed = app
            .department("Ventas nocturno", json!({}), json!({}))
            .await;
        let elsewhere = app.open_department("Soporte").await;
        let here = [open.as_str(), closed.as_str()];
        let mut tokens = HashMap::new();
        let mut ids = HashMap::new();
        for (who, name, role, departments) in [
            (Who::SupervisorHere, "Sofía", "supervisor", &here[..]),
            (
                Who::SupervisorElsewhere,
                "Sergio",
                "supervisor",
                &[elsewhere.as_str()][..],
            ),
            (Who::Member, "Marta", "operator", &here[..]),
            (Who::Owner, "Olga", "operator", &here[..]),
            (Who::FormerOwner, "Fede", "operator", &here[..]),
            (Who::Outsider, "Omar", "operator", &[elsewhere.as_str()][..]),
        ] {
            let op = app.operator(name, role, departments).await;
            tokens.insert(who, Some(op.token.clone()));
            ids.insert(who, op.id.clone());
        }
        tokens.insert(Who::Admin, Some(app.admin.clone()));
        tokens.insert(Who::Integration, Some(app.api_key().await));
        tokens.insert(Who::NoToken, None);
        let revoked = app
            .login(
                &app.operator("Rita", "operator", &here).await.email,
                "password123",
            )
            .await;
        let (status, _) = app.post("/api/v1/auth/logout", &revoked, json!({})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        tokens.insert(Who::RevokedToken, Some(revoked));
        let open_channel = app.channel(&open).await;
        let closed_channel = app.channel(&closed).await;
        World {
            app,
            open,
            closed,
            elsewhere,
            open_channel,
            closed_channel,
            tokens,
            ids,
            next_phone: std::cell::Cell::new(0),
        }
    }

    fn token(&self, who: Who) -> &str {
        self.tokens[&who].as_deref().unwrap()
    }

    /// A fresh ticket (and contact) in `state`, taken through the lifecycle: the former owner
    /// claimed it and handed it to the owner, who holds, pauses, finalizes or returns it.
    async fn ticket(&self, state: State) -> Case {
        let n = self.next_phone.get();
        self.next_phone.set(n + 1);
        let (channel, department) = if state == State::OutOfHours {
            (&self.closed_channel, &self.closed)
        } else {
            (&self.open_channel, &self.open)
        };
        let inbound = self
            .app
            .inbound(channel, &format!("+5491150{n:06}"), "hola")
            .await;
        let ticket = inbound["ticket"]["id"].as_str().unwrap().to_owned();
        let step = |who: Who, path: &str, body: Value| {
            let path = format!("/api/v1/tickets/{ticket}/{path}");
            let token = self.token(who).to_owned();
            async move {
                let (status, body) = self.app.post(&path, &token, body).await;
                assert!(status.is_success(), "{path}: {status} {body}");
            }
        };
        step(Who::FormerOwner, "messages", json!({"text": "buenas"})).await;
        let owner = &self.ids[&Who::Owner];
        step(
            Who::FormerOwner,
            "transfer",
            json!({"department_id": department, "operator_id": owner}),
        )
        .await;
        match state {
            State::Attending => {}
            State::Paused => step(Who::Owner, "pause", json!({})).await,
            State::Closed => step(Who::Owner, "finalize", json!({})).await,
            State::Waiting | State::OutOfHours => {
                step(Who::Owner, "transfer", json!({"department_id": department})).await
            }
        }
        let case = Case {
            ticket,
            contact: inbound["ticket"]["contact_id"].as_str().unwrap().to_owned(),
        };
        assert_eq!(self.state_of(&case).await, state.name());
        case
    }

    async fn state_of(&self, case: &Case) -> String {
        let (status, body) = self
            .app
            .get(&format!("/api/v1/tickets/{}", case.ticket), &self.app.admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["state"].as_str().unwrap().to_owned()
    }

    /// Does `act` as `who`: the status, as the contract's table would state it.
    async fn attempt(&self, who: Who, state: State, act: Act, case: &Case) -> u16 {
        let t = &case.ticket;
        let c = &case.contact;
        let (method, path, body) = match act {
            Act::GetTicket => (Method::GET, format!("/api/v1/tickets/{t}"), None),
            Act::Messages => (Method::GET, format!("/api/v1/tickets/{t}/messages"), None),
            Act::Timeline => (Method::GET, format!("/api/v1/tickets/{t}/timeline"), None),
            Act::Transcript => (
                Method::GET,
                format!("/api/v1/tickets/{t}/transcript.pdf"),
                None,
            ),
            Act::Listed => (
                Method::GET,
                format!("/api/v1/tickets?state={}&limit=1000", state.name()),
                None,
            ),
            Act::Contact => (Method::GET, format!("/api/v1/contacts/{c}"), None),
            Act::ContactNotes => (Method::GET, format!("/api/v1/contacts/{c}/notes"), None),
            Act::ContactHistory => (Method::GET, format!("/api/v1/contacts/{c}/tickets"), None),
            Act::Reply => (
                Method::POST,
                format!("/api/v1/tickets/{t}/messages"),
                Some(json!({"text": "le escribo"})),
            ),
            Act::Pause => (
                Method::POST,
                format!("/api/v1/tickets/{t}/pause"),
                Some(json!({})),
            ),
            Act::Transfer => (
                Method::POST,
                format!("/api/v1/tickets/{t}/transfer"),
                Some(json!({"department_id": self.elsewhere})),
            ),
            Act::Finalize => (
                Method::POST,
                format!("/api/v1/tickets/{t}/finalize"),
                Some(json!({})),
            ),
            Act::Classify => (
                Method::PUT,
                format!("/api/v1/tickets/{t}/classification"),
                Some(json!({"rating": 4})),
            ),
            Act::PatchContact => (
                Method::PATCH,
                format!("/api/v1/contacts/{c}"),
                Some(json!({"company": "Acme"})),
            ),
            Act::AddNote => (
                Method::POST,
                format!("/api/v1/contacts/{c}/notes"),
                Some(json!({"text": "llamar el lunes"})),
            ),
        };
        let mut req = self.app.client.request(method, self.app.url(&path));
        if let Some(token) = &self.tokens[&who] {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        if act != Act::Listed || status != 200 {
            return status;
        }
        let listed: Vec<Value> = res.json().await.unwrap();
        if listed.iter().any(|x| x["id"] == case.ticket.as_str()) {
            200
        } else {
            404
        }
    }
}

#[tokio::test]
async fn every_route_role_and_state_answers_as_the_contract_table_says() {
    let world = World::new().await;
    let mut shared = HashMap::new();
    for state in STATES {
        shared.insert(state, world.ticket(state).await);
    }
    let mut wrong = Vec::new();
    let mut checked = 0;
    for state in STATES {
        for act in ACTS {
            for who in EVERYONE {
                let want = expected(who, state, act);
                let succeeds = (200..300).contains(&want);
                // A success that moves the ticket gets a ticket of its own; anything else
                // runs on the shared one, which must stay as it was.
                let case = if succeeds && act.moves_ticket() {
                    world.ticket(state).await
                } else {
                    shared[&state].clone()
                };
                let got = world.attempt(who, state, act, &case).await;
                checked += 1;
                if got != want {
                    wrong.push(format!(
                        "{who:?} {act:?} on {}: got {got}, want {want}",
                        state.name()
                    ));
                }
                if !(succeeds && act.moves_ticket()) {
                    let now = world.state_of(&case).await;
                    if now != state.name() {
                        wrong.push(format!(
                            "{who:?} {act:?} on {}: left the ticket {now}",
                            state.name()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} cases differ from the contract:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn live_events_reach_exactly_who_may_see_each_state() {
    let world = World::new().await;
    let mut sockets = HashMap::new();
    for who in OPERATORS {
        let mut ws = world.app.ws(world.token(who)).await;
        ws.snapshot().await;
        sockets.insert(who, ws);
    }
    let mut cases = HashMap::new();
    for state in STATES {
        cases.insert(state, world.ticket(state).await);
    }
    // A customer message on each open ticket: its event goes to whoever sees the ticket.
    for state in STATES {
        if state == State::Closed {
            continue;
        }
        let (status, body) = world
            .app
            .get(
                &format!("/api/v1/contacts/{}", cases[&state].contact),
                &world.app.admin,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let channel = if state == State::OutOfHours {
            &world.closed_channel
        } else {
            &world.open_channel
        };
        world
            .app
            .inbound(channel, body["phone"].as_str().unwrap(), "¿siguen ahí?")
            .await;
    }
    // Each socket is read until it has been quiet for a while.
    let mut wrong = Vec::new();
    for who in OPERATORS {
        let ws = sockets.get_mut(&who).unwrap();
        // Per ticket: present in the operator's view at the end, and messages seen after.
        let mut present: HashMap<String, bool> = HashMap::new();
        let mut late_messages: HashMap<String, usize> = HashMap::new();
        while let Some(event) = ws.next_within(Duration::from_millis(1500)).await {
            match event["type"].as_str().unwrap() {
                "ticket" => {
                    present.insert(event["ticket"]["id"].as_str().unwrap().into(), true);
                }
                "ticket_removed" => {
                    present.insert(event["ticket_id"].as_str().unwrap().into(), false);
                }
                "message" if event["message"]["text"] == "¿siguen ahí?" => {
                    *late_messages
                        .entry(event["message"]["ticket_id"].as_str().unwrap().into())
                        .or_default() += 1;
                }
                _ => {}
            }
        }
        for state in STATES {
            let id = &cases[&state].ticket;
            let in_view = present.get(id).copied().unwrap_or(false);
            let want = sees_ticket(who, state) && state != State::Closed;
            if in_view != want {
                wrong.push(format!(
                    "{who:?}: {} ticket in the live view: {in_view}, want {want}",
                    state.name()
                ));
            }
            if state != State::Closed {
                let got = late_messages.get(id).copied().unwrap_or(0);
                if got != usize::from(want) {
                    wrong.push(format!(
                        "{who:?}: {got} message events on the {} ticket, want {}",
                        state.name(),
                        usize::from(want)
                    ));
                }
            }
        }
        // A fresh snapshot agrees with the live view.
        let mut again = world.app.ws(world.token(who)).await;
        let snapshot: Vec<String> = again
            .snapshot()
            .await
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect();
        for state in STATES {
            let listed = snapshot.contains(&cases[&state].ticket);
            let want = sees_ticket(who, state) && state != State::Closed;
            if listed != want {
                wrong.push(format!(
                    "{who:?}: {} ticket in a snapshot: {listed}, want {want}",
                    state.name()
                ));
            }
        }
    }
    // Callers without a console get no socket.
    for who in [Who::Integration, Who::NoToken, Who::RevokedToken] {
        let url = format!(
            "{}/api/v1/ws?token={}",
            world.app.base.replace("http://", "ws://"),
            world.tokens[&who].as_deref().unwrap_or("")
        );
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                let status = res.status().as_u16();
                if !(status == 401 || status == 403) {
                    wrong.push(format!("{who:?}: socket refused with {status}"));
                }
            }
            other => wrong.push(format!("{who:?}: socket not refused: {:?}", other.is_ok())),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The routes that do not hang off a ticket, for every caller: one row per route, one column
/// per caller (admin, supervisor of the department, supervisor of another, member, integration
/// key, no token, revoked token), as "Resources", "Administration and sessions", the side panel
/// and "Routing policies" put them. Catalogues (and the channel list, which holds no secrets)
/// are written by admins and read by everyone with a console; a department's status is for its
/// own people, its report for its supervisors, and out of scope a department is `404`.
#[tokio::test]
async fn every_other_route_answers_each_caller_as_the_contract_table_says() {
    let world = World::new().await;
    let callers = [
        Who::Admin,
        Who::SupervisorHere,
        Who::SupervisorElsewhere,
        Who::Member,
        Who::Integration,
        Who::NoToken,
        Who::RevokedToken,
    ];
    let d = world.open.clone();
    let member = world.ids[&Who::Member].clone();
    let channel = world.open_channel.clone();
    let hours = always_open();
    let day = "from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z";
    // Columns: Admin, SupervisorHere, SupervisorElsewhere, Member, Integration, no token,
    // revoked token.
    let table: Vec<(Method, String, Option<Value>, [u16; 7])> = vec![
        (
            Method::GET,
            "/api/v1/me".into(),
            None,
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::PUT,
            "/api/v1/me/status".into(),
            Some(json!({"status": "away"})),
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::GET,
            "/api/v1/departments".into(),
            None,
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::GET,
            format!("/api/v1/departments/{d}"),
            None,
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::POST,
            "/api/v1/departments".into(),
            Some(json!({"name": "Nuevo", "timezone": "UTC", "business_hours": hours})),
            [201, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::PATCH,
            format!("/api/v1/departments/{d}"),
            Some(json!({"out_of_hours_message": "Volvemos pronto"})),
            [200, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::GET,
            format!("/api/v1/departments/{d}/status"),
            None,
            [200, 200, 404, 200, 403, 401, 401],
        ),
        (
            Method::GET,
            format!("/api/v1/reports/departments/{d}?{day}"),
            None,
            [200, 200, 404, 403, 403, 401, 401],
        ),
        (
            Method::GET,
            "/api/v1/operators".into(),
            None,
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::POST,
            "/api/v1/operators".into(),
            Some(
                json!({"name": "Nadia", "email": "nadia@example.com", "password": "password123", "role": "operator", "department_ids": [d]}),
            ),
            [201, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::PATCH,
            format!("/api/v1/operators/{member}"),
            Some(json!({"name": "Marta G."})),
            [200, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::GET,
            "/api/v1/channels".into(),
            None,
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::POST,
            "/api/v1/channels".into(),
            Some(json!({"name": "Otra", "kind": "api", "department_id": d})),
            [201, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::PATCH,
            format!("/api/v1/channels/{channel}"),
            Some(json!({"name": "Principal"})),
            [200, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::POST,
            format!("/api/v1/channels/{channel}/messages"),
            Some(json!({"from": {"phone": "+5491177700001"}, "text": "hola"})),
            [201, 403, 403, 403, 201, 401, 401],
        ),
        (
            Method::GET,
            "/api/v1/api-keys".into(),
            None,
            [200, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::POST,
            "/api/v1/api-keys".into(),
            Some(json!({"name": "erp"})),
            [201, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::GET,
            "/api/v1/tags".into(),
            None,
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::POST,
            "/api/v1/tags".into(),
            Some(json!({"name": "vip"})),
            [201, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::GET,
            "/api/v1/interests".into(),
            None,
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::POST,
            "/api/v1/interests".into(),
            Some(json!({"name": "seguros"})),
            [201, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::GET,
            "/api/v1/origins".into(),
            None,
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::POST,
            "/api/v1/origins".into(),
            Some(json!({"name": "tiktok"})),
            [201, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::GET,
            "/api/v1/canned-responses".into(),
            None,
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::POST,
            "/api/v1/canned-responses".into(),
            Some(json!({"shortcut": "hola", "text": "Hola {{contact.name}}"})),
            [201, 403, 403, 403, 403, 401, 401],
        ),
        (
            Method::GET,
            "/api/v1/variables".into(),
            None,
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::GET,
            "/api/v1/contacts".into(),
            None,
            [200, 200, 200, 200, 403, 401, 401],
        ),
        (
            Method::GET,
            format!("/api/v1/audit?{day}"),
            None,
            [200, 200, 200, 403, 403, 401, 401],
        ),
        // No geocoder is configured: allowed callers learn that (422), the others are refused.
        (
            Method::GET,
            "/api/v1/geocode?q=Corrientes%201234".into(),
            None,
            [422, 422, 422, 422, 403, 401, 401],
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, want) in &table {
        for (who, want) in callers.iter().zip(want) {
            let mut req = world
                .app
                .client
                .request(method.clone(), world.app.url(path));
            if let Some(token) = &world.tokens[who] {
                req = req.bearer_auth(token);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let got = req.send().await.unwrap().status().as_u16();
            if got != *want {
                wrong.push(format!("{who:?} {method} {path}: got {got}, want {want}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases differ from the contract:\n{}",
        wrong.len(),
        table.len() * callers.len(),
        wrong.join("\n")
    );
}
