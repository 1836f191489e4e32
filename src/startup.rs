//! Start-up: open storage, create the bootstrap admin, rebuild the actors from the database,
//! and serve HTTP on a listener the caller owns (tests bind port 0).

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, dev::Server, web};
use anyhow::Context as _;
use tracing_actix_web::TracingLogger;

use crate::actors::registry::Registry;
use crate::channels::whatsapp::graph::Graph;
use crate::channels::whatsapp::{Line, Lines, media, sender};
use crate::channels::{ChannelKind, RetryPolicy};
use crate::config::Settings;
use crate::domain::calendar::Calendar;
use crate::domain::ids::{DepartmentId, OperatorId};
use crate::domain::visibility::Role;
use crate::http::{self, AppState};
use crate::persistence::Store;
use crate::persistence::media_store::MediaStore;
use crate::persistence::queries::{directory, tickets};
use crate::views::{ChannelView, DepartmentView, Member, TicketView};

/// A built daemon: the HTTP server future and the pieces tests may want to inspect.
pub struct Application {
    pub server: Server,
    pub registry: Arc<Registry>,
    pub port: u16,
}

impl Application {
    /// Serves until SIGTERM or SIGINT, then shuts down gracefully: every WebSocket gets a
    /// close frame, the listener stops accepting, in-flight requests finish (each write has
    /// committed before its reply), and the future resolves so the process can exit 0.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let registry = self.registry.clone();
        actix_web::rt::spawn(async move {
            match wait_for_signal().await {
                Ok(signal) => tracing::info!(signal, "shutting down"),
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for signals; shutting down");
                }
            }
            let sessions = registry.close_all_sessions();
            tracing::info!(sessions, "closing operator sessions");
            handle.stop(true).await;
        });
        self.server.await?;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn wait_for_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

/// Everything start-up reads from the database, loaded before the actors exist.
pub struct Prepared {
    store: Store,
    /// The one-time setup token when no operator exists (see [`bootstrap_admin`]).
    setup: Option<String>,
    channels: Vec<ChannelView>,
    lines: Lines,
    files: MediaStore,
    departments: Vec<LoadedDepartment>,
}

/// Opens storage (running migrations), creates the bootstrap admin and loads the state the
/// actors are rebuilt from. Blocking: call it outside the actix event loop.
pub fn prepare(settings: &Settings) -> anyhow::Result<Prepared> {
    let store = Store::open(&settings.store_options())
        .with_context(|| format!("cannot open the database at {}", settings.database.url))?;
    let setup = bootstrap_admin(&store, settings)?;
    let departments = load_state(&store).context("cannot rebuild state from the database")?;
    let channels = store.read_blocking(directory::channels)?;
    let lines = load_lines(&store)?;
    let files = MediaStore::open(Path::new(&settings.media.dir), settings.media.max_bytes)
        .with_context(|| format!("cannot open the media store at {}", settings.media.dir))?;
    Ok(Prepared {
        store,
        setup,
        channels,
        lines,
        files,
        departments,
    })
}

/// Starts the actors and the HTTP server. Must be called inside an actix `System`.
pub fn build(
    settings: &Settings,
    prepared: Prepared,
    listener: TcpListener,
) -> anyhow::Result<Application> {
    let Prepared {
        store,
        setup,
        channels,
        lines,
        files,
        departments,
    } = prepared;
    let lines = Arc::new(lines);
    let registry = Registry::new(store.clone());
    for channel in channels {
        registry.add_channel(channel);
    }
    for (view, calendar, open, members) in departments {
        registry.start_department(view, calendar, open, members);
    }

    start_channel_workers(settings, &registry, &lines, &files);
    crate::instruments::handle();
    let state = web::Data::new(AppState {
        registry: registry.clone(),
        store,
        lines,
        files,
        geocoder: crate::geocoder::Geocoder::new(
            &settings.geocoder.url,
            Duration::from_secs(settings.geocoder.timeout_seconds),
        ),
        token_ttl: chrono::Duration::hours(settings.auth.token_ttl_hours.into()),
        token_idle: chrono::Duration::seconds(settings.auth.idle_timeout_seconds.into()),
        auth_cache: http::auth::AuthCache::new(Duration::from_secs(
            settings.auth.idle_timeout_seconds.into(),
        )),
        max_sockets_per_operator: settings.http.max_sockets_per_operator,
        socket_backlog_bytes: settings.http.socket_backlog_bytes,
        login_throttle: http::throttle::LoginThrottle::new(
            std::num::NonZeroU32::new(settings.auth.login_failures)
                .unwrap_or(std::num::NonZeroU32::MIN),
            Duration::from_secs(settings.auth.login_retry_seconds.into()),
        ),
        trusted_proxies: http::client_address::TrustedProxies::parse(
            &settings.http.trusted_proxies,
        )
        .map_err(|problem| anyhow::anyhow!("http.trusted_proxies: {problem}"))?,
        inbound_rate: http::throttle::RequestRate::new(
            settings.http.inbound_per_second,
            "inbound messages per second",
        ),
        webhook_rate: http::throttle::RequestRate::new(
            settings.whatsapp.webhook_requests_per_second,
            "webhook deliveries per second",
        ),
        setup: std::sync::Mutex::new(setup.map(|t| http::auth::secret_hash(&t))),
    });
    let max_body = settings.http.max_body_bytes;
    let max_webhook = settings.whatsapp.max_webhook_bytes;
    let port = listener.local_addr()?.port();
    let stalled_peer = Duration::from_secs(settings.http.stalled_peer_seconds.into());
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
            .app_data(state.clone())
            .configure(|cfg| http::configure(cfg, max_body, max_webhook))
    })
    .on_connect(move |connection, _| tune_connection(connection, stalled_peer))
    // Signals are ours (see `Application::run_until_signal`): sessions get a close frame first.
    .disable_signals()
    .shutdown_timeout(10)
    .listen(listener)?;
    if settings.http.workers > 0 {
        server = server.workers(settings.http.workers);
    }
    Ok(Application {
        server: server.run(),
        registry,
        port,
    })
}

/// The WhatsApp sender (the outbox) and media fetcher, on the actix system's runtime. Each
/// starts with a pass over its table, so work queued before a restart resumes at once.
fn start_channel_workers(
    settings: &Settings,
    registry: &Arc<Registry>,
    lines: &Arc<Lines>,
    files: &MediaStore,
) {
    let graph = Graph::new(Duration::from_secs(
        settings.whatsapp.request_timeout_seconds,
    ));
    let sender = sender::Sender {
        registry: registry.clone(),
        lines: lines.clone(),
        graph: graph.clone(),
        retry: settings.whatsapp.send_retry(),
    };
    actix_web::rt::spawn(sender.run());
    let fetcher = media::Fetcher {
        registry: registry.clone(),
        lines: lines.clone(),
        graph,
        files: files.clone(),
        retry: RetryPolicy {
            max_attempts: settings.media.fetch_max_attempts,
            ..settings.whatsapp.send_retry()
        },
    };
    actix_web::rt::spawn(fetcher.run());
}

/// Every WhatsApp channel's settings, as stored.
fn load_lines(store: &Store) -> anyhow::Result<Lines> {
    let lines = Lines::default();
    for (channel_id, settings) in
        store.read_blocking(|c| directory::channel_settings(c, ChannelKind::Whatsapp))?
    {
        let settings = serde_json::from_str(&settings)
            .with_context(|| format!("channel {channel_id} has invalid WhatsApp settings"))?;
        lines.add(Line {
            channel_id,
            settings,
        });
    }
    Ok(lines)
}

/// Socket options actix does not set:
/// - Nagle's algorithm off: otherwise a WebSocket event written while the socket's previous one
///   is unacknowledged waits for the ACK, which the browser (or any reader that sends nothing
///   back) delays by up to 40 ms;
/// - a user timeout: a peer that leaves sent data unacknowledged that long (its receive window
///   stays shut because it stopped reading) is dropped by the kernel. actix has no write
///   timeout, so without it such a connection and its buffers would be held forever.
fn tune_connection(connection: &dyn std::any::Any, stalled_peer: Duration) {
    let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot disable Nagle's algorithm on a connection");
    }
    if let Err(e) = socket2::SockRef::from(tcp).set_tcp_user_timeout(Some(stalled_peer)) {
        tracing::debug!(error = %e, "cannot set a user timeout on a connection");
    }
}

/// Creates the first admin from the configuration when no operator exists yet. Without one
/// configured, a newcomer is not locked out: a one-time setup link is printed, whose page
/// creates the first admin (`POST /api/v1/setup`). Returns that link's token, if any.
fn bootstrap_admin(store: &Store, settings: &Settings) -> anyhow::Result<Option<String>> {
    if store.read_blocking(directory::operator_count)? > 0 {
        return Ok(None);
    }
    let admin = &settings.admin;
    if admin.email.is_empty() {
        let token = http::auth::new_secret("setup_");
        let host = settings.listen.replace("0.0.0.0", "127.0.0.1");
        // On stderr as well as in the log: the one thing a newcomer must see, whatever RUST_LOG says.
        eprintln!(
            "\nswitchboard: no operator exists yet. Open this link once to create the first admin:\n\n    http://{host}/#setup={token}\n"
        );
        tracing::warn!("no operator exists: waiting for the one-time setup link printed above");
        return Ok(Some(token));
    }
    let hash = http::password::hash_now(&admin.password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = OperatorId::new();
    let email = admin.email.trim().to_lowercase();
    let op = directory::NewOperator {
        id,
        name: "admin",
        email: &email,
        password_hash: &hash,
        role: Role::Admin,
        department_ids: &[],
        created_at: crate::persistence::now().naive_utc(),
    };
    // A one-off write before the server starts: no other writer exists yet.
    store.read_blocking(|c| directory::insert_operator(c, &op))?;
    tracing::info!(operator = %id, %email, "bootstrap admin created");
    Ok(None)
}

/// A department with its calendar, its open tickets and its members.
type LoadedDepartment = (DepartmentView, Calendar, Vec<TicketView>, Vec<Member>);

/// Every department with its calendar, open tickets and members: what the actors start from.
/// Ticket actors themselves start on first use.
fn load_state(store: &Store) -> anyhow::Result<Vec<LoadedDepartment>> {
    let departments = store.read_blocking(directory::departments)?;
    let mut members = store.read_blocking(directory::members)?;
    let mut open: HashMap<DepartmentId, Vec<TicketView>> = HashMap::new();
    let mut count = 0usize;
    for t in store.read_blocking(tickets::open_tickets)? {
        count += 1;
        open.entry(t.department.id).or_default().push(t);
    }
    let mut loaded = Vec::with_capacity(departments.len());
    for d in departments {
        let calendar = Calendar::parse(&d.timezone, &d.business_hours, &d.holidays)
            .with_context(|| format!("department {} has an invalid calendar", d.id))?;
        let tickets = open.remove(&d.id).unwrap_or_default();
        let members = members.remove(&d.id).unwrap_or_default();
        loaded.push((d, calendar, tickets, members));
    }
    tracing::info!(open_tickets = count, "state loaded from the database");
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn accepted_connections_get_nagle_off_and_a_user_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        accepted.set_nonblocking(true).unwrap();
        let accepted = actix_web::rt::net::TcpStream::from_std(accepted).unwrap();
        assert!(!accepted.nodelay().unwrap(), "Nagle is on by default");
        tune_connection(&accepted, Duration::from_secs(7));
        assert!(accepted.nodelay().unwrap());
        let timeout = socket2::SockRef::from(&accepted)
            .tcp_user_timeout()
            .unwrap();
        assert_eq!(timeout, Some(Duration::from_secs(7)));
        drop(client);
    }
}
