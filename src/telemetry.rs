//! Logging through `tracing`, level from `RUST_LOG` (default `info`), as readable lines or as
//! one JSON object per line (`--log-format json`) for a log collector.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the global subscriber once; later calls (tests start many apps) do nothing.
pub fn init() {
    init_with(LogFormat::Text);
}

pub fn init_with(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Standard error, so that what a command prints (`config check`, `admin`) stays parsable.
    // Colours only for a terminal: a file or journald would keep the escape codes, and the
    // formatter would spend them on every span of every request.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// The root span of every HTTP request (`TracingLogger::<RequestSpan>`): a line logged while
/// serving a request names its method, route, request id and peer, and the span's status.
///
/// `tracing-actix-web`'s default span carries a dozen more fields (host, scheme, user agent,
/// OpenTelemetry names...) and computes them before it knows whether the span is enabled; the
/// log layer then formats them all as every request starts, whether or not anything is logged
/// in it. At `info` that halved `/healthz` and cost inbound messages about a tenth of their
/// rate. Here each value is computed only for an enabled span, and there are fewer. The
/// request's path is left out too: a WebSocket's carries its token in the query string.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        tracing::info_span!(
            "request",
            http.method = %request.method(),
            http.route = %request.match_pattern().as_deref().unwrap_or("default"),
            http.peer = %request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
            request_id = %request
                .extensions()
                .get::<tracing_actix_web::RequestId>()
                .map(|id| id.to_string())
                .unwrap_or_default(),
            http.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        // The default records the status and formats any error: only worth it if kept.
        if !span.is_disabled() {
            tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
        }
    }
}
