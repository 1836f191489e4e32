//! The `switchboard` command: `switchboard [serve] [--config PATH]`.

use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use switchboard::config::Settings;
use switchboard::{startup, telemetry};

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

/// Every password hash (argon2id) allocates 19 MiB. glibc serves such a block with `mmap` and
/// returns it on free, but its dynamic threshold then rises above 19 MiB, so later hashes come
/// from the heap arenas, which keep the memory: a login burst left ~250 MiB resident for good.
/// A fixed threshold keeps big blocks on `mmap` (measured: 20 MiB resident after 20
/// concurrent logins instead of 250 MiB).
///
/// Fixing it also fixes the trim threshold at glibc's 128 KiB, so a busy thread's arena gave
/// its free top back to the kernel after almost every burst and faulted it in again on the
/// next: 5% of the daemon's CPU under new tickets went to `sysmalloc`, `madvise` and page
/// faults on the store writer. Each arena now keeps up to 4 MiB of free top.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called first thing, before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 4 * 1024 * 1024);
    }
}
