//! What one WebSocket client can make the daemon hold (CONTRACT.md, "Live events", v2): a
//! bounded backlog for a client that does not read, client frames refused on their header, and a
//! close frame on protocol errors.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::helpers::*;
use crate::whatsapp::{Graph, PNID, delivery, profile, text_message, whatsapp_setup};

const POLICY_VIOLATION: u16 = 1008;
const MESSAGE_TOO_BIG: u16 = 1009;
const PROTOCOL_ERROR: u16 = 1002;

/// Resident memory of this process, which runs the daemon under test.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

/// A WhatsApp channel into a department with one operator whose socket has read its snapshot.
async fn one_operator_socket(app: &TestApp, graph: &Graph) -> (Ws, String, Operator) {
    let (_, channel, ana) = whatsapp_setup(app, graph).await;
    let mut socket = app.ws(&ana.token).await;
    socket.snapshot().await;
    (socket, channel, ana)
}

/// Longest text a message may carry.
const TEXT: usize = 4096;

/// Delivers `batches` webhooks of 100 messages of the longest text each, from one customer:
/// returns the bytes of text the operator's socket is sent.
async fn flood(app: &TestApp, channel: &str, batches: usize) -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let customer = "5491100000001";
    let text = "x".repeat(TEXT);
    for _ in 0..batches {
        let messages: Vec<_> = (0..100)
            .map(|_| {
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                text_message(customer, &format!("wamid.flood{n}"), &text, Duration::ZERO)
            })
            .collect();
        let body = delivery(
            PNID,
            profile(customer, "Cliente"),
            messages.into(),
            serde_json::Value::Null,
        );
        app.webhook_json(channel, &body).await;
    }
    batches * 100 * TEXT
}

async fn too_slow_closes(app: &TestApp) -> f64 {
    sample(&app.scrape().await, "switchboard_websockets_too_slow_total").unwrap_or(0.0)
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_1008_and_memory_stays_flat() {
    let graph = Graph::start().await;
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), |s| {
        s.http.socket_backlog_bytes = 256 * 1024;
    })
    .await;
    let (mut socket, channel, ana) = one_operator_socket(&app, &graph).await;
    // Warm up every allocation the message path makes, then stop reading.
    flood(&app, &channel, 1).await;
    for _ in 0..100 {
        socket.next().await;
    }
    let before = resident_bytes();

    // 24 MB of events, far more than the kernel's socket buffers and the backlog together.
    let sent = flood(&app, &channel, 60).await;
    let grown = resident_bytes().saturating_sub(before);
    eprintln!("resident memory grew by {grown} bytes while {sent} bytes of events were sent");
    assert_eq!(
        too_slow_closes(&app).await,
        1.0,
        "the slow socket was closed"
    );
    assert!(
        grown < sent as u64 / 3,
        "{grown} bytes more resident after {sent} bytes of events to a client that does not read"
    );

    // When it reads again it finds what was already on its way, then the close frame.
    assert_eq!(socket.closed_with().await, POLICY_VIOLATION);
    // Reconnecting gives a fresh snapshot holding the ticket.
    let mut again = app.ws(&ana.token).await;
    assert_eq!(again.snapshot().await.len(), 1);
}

#[tokio::test]
async fn a_client_that_never_reads_again_is_dropped() {
    let graph = Graph::start().await;
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), |s| {
        s.http.socket_backlog_bytes = 128 * 1024;
        s.http.stalled_peer_seconds = 2;
    })
    .await;
    let (mut socket, channel, _) = one_operator_socket(&app, &graph).await;
    // Whichever comes first, the backlog filling up (the session ends, its close frame waits
    // behind the shut window) or the user timeout, the kernel gives up on the peer and resets
    // the connection: nothing of it stays.
    flood(&app, &channel, 30).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let ended = loop {
        match socket.raw_next().await {
            Some(Ok(Message::Close(_))) => panic!("the close frame could not have been sent"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => break format!("{e}"),
            None => break "end of stream".into(),
        }
    };
    assert!(
        ended.contains("reset") || ended.contains("end of stream"),
        "the connection ended: {ended}"
    );
}

#[tokio::test]
async fn a_client_frame_over_64_kib_is_refused_on_its_header() {
    let graph = Graph::start().await;
    let app = spawn_app().await;
    let (mut socket, _, _) = one_operator_socket(&app, &graph).await;
    let before = resident_bytes();
    // A masked binary frame whose header claims 2^62 bytes, then its "payload" as fast as the
    // daemon takes it: the daemon must answer on the header, not buffer what follows.
    let mut header = vec![0x82, 0xFF];
    header.extend_from_slice(&(1u64 << 62).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    socket.tcp().write_all(&header).await.unwrap();
    let chunk = vec![0u8; 1 << 20];
    let started = Instant::now();
    let mut streamed = 0usize;
    while streamed < 64 << 20 && started.elapsed() < Duration::from_secs(20) {
        match tokio::time::timeout(Duration::from_secs(2), socket.tcp().write_all(&chunk)).await {
            Ok(Ok(())) => streamed += chunk.len(),
            // Refused and closed, or no longer read: either way, not buffered.
            Ok(Err(_)) | Err(_) => break,
        }
    }
    let grown = resident_bytes().saturating_sub(before);
    assert!(
        grown < 16 << 20,
        "{grown} bytes more resident after {streamed} bytes of an oversized frame"
    );
    assert_eq!(socket.closed_with().await, MESSAGE_TOO_BIG);
}

#[tokio::test]
async fn a_protocol_error_gets_a_close_frame() {
    let graph = Graph::start().await;
    let app = spawn_app().await;
    let (mut socket, _, _) = one_operator_socket(&app, &graph).await;
    // Clients must mask their frames; this text frame is not masked.
    socket.tcp().write_all(b"\x81\x05hello").await.unwrap();
    assert_eq!(socket.closed_with().await, PROTOCOL_ERROR);
}

#[tokio::test]
async fn small_client_frames_are_read_and_a_client_close_is_answered() {
    let graph = Graph::start().await;
    let app = spawn_app().await;
    let (mut socket, _, _) = one_operator_socket(&app, &graph).await;
    // A client ping of the largest control size is answered with its payload.
    socket.send(Message::Ping(vec![7; 125])).await;
    let pong = loop {
        match socket.raw_next().await {
            Some(Ok(Message::Pong(payload))) => break payload,
            Some(Ok(_)) => continue,
            other => panic!("no pong: {other:?}"),
        }
    };
    assert_eq!(pong, vec![7u8; 125]);
    socket
        .send(Message::Close(Some(tungstenite::protocol::CloseFrame {
            code: tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason: "bye".into(),
        })))
        .await;
    assert_eq!(socket.closed_with().await, 1000);
    assert!(socket.raw_next().await.is_none_or(|r| r.is_err()));
}
