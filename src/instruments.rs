//! What `GET /metrics` reports (Prometheus text format, `metrics` + `metrics-exporter-prometheus`).
//! Counters and histograms are recorded where things happen; the ticket and outbox gauges are
//! read from storage when scraped, so they are right after a restart too. Every name is here,
//! so the list of metrics is this file.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Messages received from customers (repeated deliveries not counted).
pub const MESSAGES_IN: &str = "switchboard_messages_received_total";
/// Messages written by operators and the daemon to customers.
pub const MESSAGES_OUT: &str = "switchboard_messages_sent_total";
/// Sends a channel gave up on or refused.
pub const SEND_FAILURES: &str = "switchboard_send_failures_total";
/// Sends waiting in the outbox.
pub const OUTBOX_PENDING: &str = "switchboard_outbox_pending";
/// From an inbound message reaching its department to its event being handed to the sockets.
pub const INBOUND_TO_EVENT: &str = "switchboard_inbound_to_event_seconds";
/// Open operator WebSockets.
pub const SOCKETS: &str = "switchboard_websockets";
/// WebSockets closed because their client fell behind.
pub const SLOW_SOCKETS: &str = "switchboard_websockets_too_slow_total";
/// Writes grouped into one transaction, and the transaction's time.
pub const COMMIT_BATCH: &str = "switchboard_commit_batch_size";
pub const COMMIT_SECONDS: &str = "switchboard_commit_seconds";
/// Tickets that are not closed, by department and state.
pub const TICKETS: &str = "switchboard_tickets";
/// Failed logins answered 401 or 429.
pub const LOGIN_FAILURES: &str = "switchboard_login_failures_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use (tests start several daemons in one process).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let seconds = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let batches = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(INBOUND_TO_EVENT.into()),
                &seconds,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(COMMIT_SECONDS.into()),
                    &seconds,
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(COMMIT_BATCH.into()),
                    &batches,
                )
            })
            .expect("bucket lists are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Histograms keep their samples until drained: without this they would grow between
        // scrapes (or forever, with nobody scraping).
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
        // Another recorder (a test's) already installed: keep recording into ours unseen.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!(MESSAGES_IN, "Messages received from customers");
    metrics::describe_counter!(MESSAGES_OUT, "Messages written to customers");
    metrics::describe_counter!(SEND_FAILURES, "Sends a channel refused or gave up on");
    metrics::describe_gauge!(OUTBOX_PENDING, "Sends waiting in the outbox");
    metrics::describe_histogram!(
        INBOUND_TO_EVENT,
        metrics::Unit::Seconds,
        "From an inbound message reaching its department to its operator event"
    );
    metrics::describe_gauge!(SOCKETS, "Open operator WebSockets");
    metrics::describe_counter!(
        SLOW_SOCKETS,
        "WebSockets closed because their client did not read events fast enough"
    );
    metrics::describe_histogram!(COMMIT_BATCH, "Writes grouped into one transaction");
    metrics::describe_histogram!(
        COMMIT_SECONDS,
        metrics::Unit::Seconds,
        "Time of one group commit"
    );
    metrics::describe_gauge!(TICKETS, "Tickets not closed, by department and state");
    metrics::describe_counter!(LOGIN_FAILURES, "Failed logins");
}

pub fn inbound_delivered(since: Instant) {
    metrics::counter!(MESSAGES_IN).increment(1);
    metrics::histogram!(INBOUND_TO_EVENT).record(since.elapsed().as_secs_f64());
}

pub fn message_out() {
    metrics::counter!(MESSAGES_OUT).increment(1);
}

pub fn send_failed() {
    metrics::counter!(SEND_FAILURES).increment(1);
}

pub fn socket_opened() {
    metrics::gauge!(SOCKETS).increment(1.0);
}

pub fn socket_closed() {
    metrics::gauge!(SOCKETS).decrement(1.0);
}

/// A WebSocket closed because its client did not read its events fast enough.
pub fn socket_too_slow() {
    metrics::counter!(SLOW_SOCKETS).increment(1);
}

pub fn committed(batch: usize, took: Duration) {
    metrics::histogram!(COMMIT_BATCH).record(batch as f64);
    metrics::histogram!(COMMIT_SECONDS).record(took.as_secs_f64());
}

pub fn login_failed() {
    metrics::counter!(LOGIN_FAILURES).increment(1);
}

/// The ticket gauges set at the last scrape: a pair missing from the next one went to zero.
static REPORTED: std::sync::Mutex<Vec<(String, &'static str)>> = std::sync::Mutex::new(Vec::new());

/// Sets the gauges read from storage at scrape time.
pub fn set_open_tickets(counts: &[(String, &'static str, i64)], outbox_pending: i64) {
    let mut reported = REPORTED.lock().unwrap_or_else(|e| e.into_inner());
    for (department, state) in reported.iter() {
        if !counts.iter().any(|(d, s, _)| d == department && s == state) {
            metrics::gauge!(TICKETS, "department" => department.clone(), "state" => *state)
                .set(0.0);
        }
    }
    reported.clear();
    for (department, state, n) in counts {
        metrics::gauge!(TICKETS, "department" => department.clone(), "state" => *state)
            .set(*n as f64);
        reported.push((department.clone(), *state));
    }
    metrics::gauge!(OUTBOX_PENDING).set(outbox_pending as f64);
}
