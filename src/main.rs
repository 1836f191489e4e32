//! The `switchboard` command: `switchboard [serve] [--config PATH]`.

use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use switchboard::config::Settings;
use switchboard::{startup, telemetry};

/// Rust's allocations go to mimalloc (see Cargo.toml); the C libraries (SQLite, libpq) keep
/// glibc's malloc, tuned by [`tune_allocator`].
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Chat routing daemon for contact centres"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Configuration file.
    #[arg(long, global = true, default_value = "config/default.toml")]
    config: PathBuf,
    /// Log lines as text or as one JSON object per line.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: telemetry::LogFormat,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the daemon (the default).
    Serve,
    /// Administration on the daemon's database (operators, departments, channels, keys).
    Admin {
        #[command(subcommand)]
        command: switchboard::admin_cli::AdminCmd,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Load and validate the configuration (file and environment) and say what it selects;
    /// exits non-zero, naming the key, if something is wrong. Touches no database.
    Check,
}

fn main() -> anyhow::Result<()> {
    tune_allocator();
    let cli = Cli::parse();
    telemetry::init_with(cli.log_format);
    let settings = Settings::load(&cli.config)?;
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Serve => {
            let listener = TcpListener::bind(&settings.listen)
                .with_context(|| format!("cannot listen on {}", settings.listen))?;
            let prepared = startup::prepare(&settings)?;
            actix_web::rt::System::new().block_on(serve(settings, prepared, listener))
        }
        Cmd::Admin { command } => {
            let store = switchboard::persistence::Store::open(&settings.store_options())?;
            switchboard::admin_cli::run(&store, command, &mut std::io::stdin().lock())
        }
        Cmd::Config {
            command: ConfigCmd::Check,
        } => {
            println!(
                "configuration OK: {}\n  listen   {}\n  database {}",
                cli.config.display(),
                settings.listen,
                settings.database.url_for_logs()
            );
            Ok(())
        }
    }
}

async fn serve(
    settings: Settings,
    prepared: startup::Prepared,
    listener: TcpListener,
) -> anyhow::Result<()> {
    let app = startup::build(&settings, prepared, listener)?;
    tracing::info!(listen = %settings.listen, database = %settings.database.url_for_logs(), "switchboard ready");
    app.run_until_signal().await
}

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3 alike: the enum keeps retired options in
/// place); the bindings name only some of the options.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc (argon2's 19 MiB blocks among what it serves) purges freed memory only after a
/// delay (1 s in v3), and only when the thread that freed it allocates again, and backs its
/// arenas with transparent huge pages where the kernel allows them: the daemon sat at 45 MiB
/// idle and 54 MiB after bursts of logins, for good (glibc: 27 and 28 MiB). Purging at once,
/// and without huge pages (the `no_thp` feature in Cargo.toml), it stays at 31 and 33 MiB;
/// the inbound path kept its gain (benches/analysis.md).
///
/// glibc: a fixed mmap threshold keeps big blocks on `mmap` (its dynamic threshold would rise
/// after the first and serve later ones from arenas that keep the memory); fixing it also fixes
/// the trim threshold at 128 KiB, so a busy thread's arena gave its free top back to the kernel
/// after almost every burst and faulted it in again on the next (5% of the daemon's CPU under
/// new tickets went to `sysmalloc`, `madvise` and page faults on the store writer). Each arena
/// now keeps up to 4 MiB of free top.
fn tune_allocator() {
    // SAFETY: sets one of mimalloc's options, a plain integer it reads when it next purges.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called first thing, before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 4 * 1024 * 1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bindings do not name the purge delay, so its number is ours: option 15 must be the
    /// one whose default is v3's purge delay (1000 ms). (This test process never calls
    /// `tune_allocator`.)
    #[test]
    fn option_fifteen_is_mimallocs_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads one of mimalloc's options.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(
            delay, 1000,
            "option {MI_OPTION_PURGE_DELAY} is not the purge delay"
        );
    }
}
