//! Typed configuration: `config/default.toml` (or `--config PATH`), then the environment
//! overrides of the contract. Every problem names the key it is about.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::persistence::StoreOptions;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub listen: String,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub auth: AuthSettings,
    #[serde(default)]
    pub admin: AdminSettings,
    #[serde(default)]
    pub whatsapp: WhatsAppSettings,
    #[serde(default)]
    pub media: MediaSettings,
    #[serde(default)]
    pub geocoder: GeocoderSettings,
}

/// The Nominatim-compatible search service behind "share a location by address".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeocoderSettings {
    /// Search URL, e.g. `https://nominatim.openstreetmap.org/search`; empty: none.
    pub url: String,
    pub timeout_seconds: u64,
}

impl Default for GeocoderSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            timeout_seconds: 10,
        }
    }
}

/// WhatsApp Cloud API channels: the webhook and the sender.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhatsAppSettings {
    /// Largest webhook body accepted (Meta batches up to 1,000 updates in one POST).
    pub max_webhook_bytes: usize,
    /// Timeout of one Graph API call.
    pub request_timeout_seconds: u64,
    /// Attempts at a send before the message is marked failed.
    pub send_max_attempts: i32,
    /// The first wait after a failed send; waits double from it.
    pub retry_base_ms: u64,
    /// The longest wait between two attempts.
    pub retry_max_seconds: u64,
    /// Webhook deliveries (POSTs) accepted per second per channel; more get `429` and Meta
    /// delivers them again later. 0: unlimited.
    #[serde(default = "default_webhook_per_second")]
    pub webhook_requests_per_second: u32,
}

fn default_webhook_per_second() -> u32 {
    200
}

impl Default for WhatsAppSettings {
    fn default() -> Self {
        Self {
            max_webhook_bytes: 8 * 1024 * 1024,
            request_timeout_seconds: 30,
            send_max_attempts: 12,
            retry_base_ms: 1000,
            retry_max_seconds: 300,
            webhook_requests_per_second: default_webhook_per_second(),
        }
    }
}

impl WhatsAppSettings {
    pub fn send_retry(&self) -> crate::channels::RetryPolicy {
        crate::channels::RetryPolicy {
            base: Duration::from_millis(self.retry_base_ms),
            max: Duration::from_secs(self.retry_max_seconds),
            max_attempts: self.send_max_attempts,
        }
    }
}

/// Received files (WhatsApp media), kept on disk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSettings {
    /// Directory of the media store; created at start-up.
    pub dir: String,
    /// Largest file kept.
    pub max_bytes: u64,
    /// Attempts at fetching a file before giving up on it.
    pub fetch_max_attempts: i32,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            dir: "data/media".into(),
            max_bytes: 100 * 1024 * 1024,
            fetch_max_attempts: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub read_pool_size: u32,
    pub max_batch: usize,
    pub sqlite_synchronous: String,
    pub busy_timeout_ms: u64,
    pub writers: usize,
}

impl DatabaseSettings {
    /// The database URL with its password masked: logs never carry credentials.
    pub fn url_for_logs(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            _ => self.url.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub workers: usize,
    pub max_body_bytes: usize,
    /// WebSockets one operator may hold open at once; more are refused with `429`.
    #[serde(default = "default_max_sockets_per_operator")]
    pub max_sockets_per_operator: usize,
    /// Inbound messages (`POST /channels/{id}/messages`) accepted per second per channel; more
    /// get `429`. 0: unlimited.
    #[serde(default)]
    pub inbound_per_second: u32,
    /// Bytes of events one WebSocket may have queued and unsent; past it the socket is closed
    /// (1008) and its client reconnects to a fresh snapshot.
    #[serde(default = "default_socket_backlog_bytes")]
    pub socket_backlog_bytes: usize,
    /// A connection whose peer leaves sent data unacknowledged this long (a client that stopped
    /// reading, or vanished) is dropped by the kernel (TCP_USER_TIMEOUT).
    #[serde(default = "default_stalled_peer_seconds")]
    pub stalled_peer_seconds: u32,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` names the caller, for
    /// keys that tell callers apart (login throttling). Empty: the connection's own address.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

fn default_max_sockets_per_operator() -> usize {
    20
}

fn default_socket_backlog_bytes() -> usize {
    4 * 1024 * 1024
}

fn default_stalled_peer_seconds() -> u32 {
    60
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub token_ttl_hours: u32,
    /// A token unused (no request, no open WebSocket) this long stops working.
    #[serde(default = "default_idle_timeout_seconds")]
    pub idle_timeout_seconds: u32,
    /// Failed logins allowed in a row per account and per address before `429`.
    #[serde(default = "default_login_failures")]
    pub login_failures: u32,
    /// After that, one more attempt is allowed every this many seconds.
    #[serde(default = "default_login_retry_seconds")]
    pub login_retry_seconds: u32,
}

fn default_login_failures() -> u32 {
    10
}

fn default_login_retry_seconds() -> u32 {
    60
}

fn default_idle_timeout_seconds() -> u32 {
    12 * 3600
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path}: {source}")]
    File {
        path: String,
        source: config::ConfigError,
    },
    #[error("configuration key `{key}`: {problem}")]
    Invalid { key: &'static str, problem: String },
}

/// The environment variables of the contract and the keys they set.
const ENV_OVERRIDES: [(&str, &str); 6] = [
    ("SWITCHBOARD_GEOCODER_URL", "geocoder.url"),
    ("SWITCHBOARD_MEDIA_DIR", "media.dir"),
    ("SWITCHBOARD_LISTEN", "listen"),
    ("DATABASE_URL", "database.url"),
    ("SWITCHBOARD_ADMIN_EMAIL", "admin.email"),
    ("SWITCHBOARD_ADMIN_PASSWORD", "admin.password"),
];

impl Settings {
    /// Reads `path`, applies the environment, and validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, |name| std::env::var(name).ok())
    }

    /// Like [`Settings::load`] with an explicit environment (for tests).
    pub fn load_with(
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file_error = |source| ConfigError::File {
            path: path.display().to_string(),
            source,
        };
        let mut builder = config::Config::builder().add_source(
            config::File::from(path)
                .format(config::FileFormat::Toml)
                .required(true),
        );
        for (var, key) in ENV_OVERRIDES {
            if let Some(value) = env(var) {
                builder = builder.set_override(key, value).map_err(file_error)?;
            }
        }
        let settings: Settings = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(file_error)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| {
            Err(ConfigError::Invalid {
                key,
                problem: problem.to_owned(),
            })
        };
        match self.listen.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
            _ => return invalid("listen", &format!("{:?} is not host:port", self.listen)),
        }
        if self.database.url.trim().is_empty() {
            return invalid("database.url", "must not be empty");
        }
        if self.database.read_pool_size == 0 {
            return invalid("database.read_pool_size", "must be at least 1");
        }
        if self.database.writers == 0 {
            return invalid("database.writers", "must be at least 1");
        }
        if self.database.max_batch == 0 {
            return invalid("database.max_batch", "must be at least 1");
        }
        if !["off", "normal", "full", "extra"].contains(&self.database.sqlite_synchronous.as_str())
        {
            return invalid(
                "database.sqlite_synchronous",
                &format!(
                    "{:?} is not one of off, normal, full, extra",
                    self.database.sqlite_synchronous
                ),
            );
        }
        if self.http.max_sockets_per_operator == 0 {
            return invalid("http.max_sockets_per_operator", "must be at least 1");
        }
        if self.http.socket_backlog_bytes < 64 * 1024 {
            return invalid("http.socket_backlog_bytes", "must be at least 65536");
        }
        if self.http.stalled_peer_seconds == 0 {
            return invalid("http.stalled_peer_seconds", "must be at least 1");
        }
        if let Err(problem) =
            crate::http::client_address::TrustedProxies::parse(&self.http.trusted_proxies)
        {
            return invalid("http.trusted_proxies", &problem);
        }
        if self.http.max_body_bytes < 1024 {
            return invalid("http.max_body_bytes", "must be at least 1024");
        }
        if self.auth.token_ttl_hours == 0 {
            return invalid("auth.token_ttl_hours", "must be at least 1");
        }
        if !(1..=20).contains(&self.auth.login_failures) {
            return invalid("auth.login_failures", "must be between 1 and 20");
        }
        if self.auth.login_retry_seconds == 0 {
            return invalid("auth.login_retry_seconds", "must be at least 1");
        }
        if self.auth.idle_timeout_seconds < 2 {
            return invalid("auth.idle_timeout_seconds", "must be at least 2");
        }
        if self.whatsapp.max_webhook_bytes < 64 * 1024 {
            return invalid("whatsapp.max_webhook_bytes", "must be at least 65536");
        }
        if self.whatsapp.send_max_attempts < 1 {
            return invalid("whatsapp.send_max_attempts", "must be at least 1");
        }
        if self.whatsapp.request_timeout_seconds == 0 {
            return invalid("whatsapp.request_timeout_seconds", "must be at least 1");
        }
        if self.media.dir.trim().is_empty() {
            return invalid("media.dir", "must not be empty");
        }
        if self.media.fetch_max_attempts < 1 {
            return invalid("media.fetch_max_attempts", "must be at least 1");
        }
        if self.admin.email.is_empty() != self.admin.password.is_empty() {
            return invalid("admin", "set both email and password, or neither");
        }
        Ok(())
    }

    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            url: self.database.url.clone(),
            read_pool_size: self.database.read_pool_size,
            max_batch: self.database.max_batch,
            sqlite_synchronous: self.database.sqlite_synchronous.clone(),
            busy_timeout: Duration::from_millis(self.database.busy_timeout_ms),
            writers: self.database.writers,
            wal_restart_frames: crate::persistence::WAL_RESTART_FRAMES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_file() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml")
    }

    #[test]
    fn default_file_loads_and_environment_wins() {
        let s = Settings::load_with(&default_file(), |_| None).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.database.url, "data/switchboard.sqlite3");
        let s = Settings::load_with(&default_file(), |k| match k {
            "SWITCHBOARD_LISTEN" => Some("0.0.0.0:9000".into()),
            "DATABASE_URL" => Some("postgres://localhost/x".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.listen, "0.0.0.0:9000");
        assert_eq!(s.database.url, "postgres://localhost/x");
    }

    #[test]
    fn database_passwords_stay_out_of_logs() {
        let mut s = Settings::load_with(&default_file(), |_| None).unwrap();
        s.database.url = "postgres://app:s3cr3t@db.internal:5432/switchboard".into();
        assert_eq!(
            s.database.url_for_logs(),
            "postgres://app:***@db.internal:5432/switchboard"
        );
        s.database.url = "data/switchboard.sqlite3".into();
        assert_eq!(s.database.url_for_logs(), "data/switchboard.sqlite3");
    }

    #[test]
    fn errors_name_the_key() {
        let err = Settings::load_with(&default_file(), |k| {
            (k == "SWITCHBOARD_LISTEN").then(|| "nowhere".into())
        })
        .unwrap_err();
        assert!(err.to_string().contains("`listen`"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        let text = std::fs::read_to_string(default_file())
            .unwrap()
            .replace("read_pool_size = 8", "read_pool_size = \"many\"");
        std::fs::write(&path, text).unwrap();
        let err = Settings::load_with(&path, |_| None).unwrap_err();
        assert!(err.to_string().contains("read_pool_size"), "{err}");

        let err = Settings::load_with(&dir.path().join("missing.toml"), |_| None).unwrap_err();
        assert!(err.to_string().contains("missing.toml"), "{err}");
    }
}
