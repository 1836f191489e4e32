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
        Cmd::Serve => actix_web::rt::System::new().block_on(serve(settings)),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&settings.listen)
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let app = startup::build(&settings, listener)?;
    tracing::info!(listen = %settings.listen, database = %settings.database.url, "switchboard ready");
    app.server.await?;
    Ok(())
}
