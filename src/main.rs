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
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the daemon (the default).
    Serve,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    let settings = Settings::load(&cli.config)?;
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Serve => {
            let listener = TcpListener::bind(&settings.listen)
                .with_context(|| format!("cannot listen on {}", settings.listen))?;
            let prepared = startup::prepare(&settings)?;
            actix_web::rt::System::new().block_on(serve(settings, prepared, listener))
        }
    }
}

async fn serve(
    settings: Settings,
    prepared: startup::Prepared,
    listener: TcpListener,
) -> anyhow::Result<()> {
    let app = startup::build(&settings, prepared, listener)?;
    tracing::info!(listen = %settings.listen, database = %settings.database.url, "switchboard ready");
    app.run_until_signal().await
}
