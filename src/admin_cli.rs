//! `switchboard admin …`: the administration of the REST API, from the command line, on the
//! daemon's database (for a locked-out admin, provisioning scripts, or a key rotation).
//!
//! It writes the database directly, with an audit entry per change (actor `system`, name
//! `switchboard admin`). A running daemon honours what concerns access within 30 s (disabled
//! operators, reset passwords and revoked keys stop working as its caches expire and its
//! sockets recheck their tokens); new departments and channels, and releasing a disabled
//! operator's tickets, need the REST API or a restart.

use clap::Subcommand;
use serde::Serialize;

use crate::domain::ids::{ApiKeyId, ChannelId, DepartmentId, OperatorId};
use crate::domain::visibility::Role;
use crate::persistence::queries::audit::{self, AuditActor};
use crate::persistence::queries::directory;
use crate::persistence::{DbConn, Store, StoreError};
use crate::views::ApiKeyView;

#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Operators: list, create, reset a password, disable, enable.
    Operators {
        #[command(subcommand)]
        command: OperatorCmd,
    },
    /// List the departments.
    Departments,
    /// List the channels (never their secrets).
    Channels,
    /// Integration API keys: list, create, revoke.
    Keys {
        #[command(subcommand)]
        command: KeyCmd,
    },
}

#[derive(Debug, Subcommand)]
pub enum OperatorCmd {
    List,
    /// Create an operator; the password is read from the first line of standard input.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "operator")]
        role: String,
        /// A department the operator belongs to (repeat for several).
        #[arg(long = "department")]
        departments: Vec<DepartmentId>,
    },
    /// Set a new password (first line of standard input) and revoke every token.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
    /// Lock the operator out: no login, every token revoked.
    Disable {
        #[arg(long)]
        email: String,
    },
    Enable {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    List,
    /// Create a key; it is printed once and never again.
    Create {
        #[arg(long)]
        name: String,
        /// A channel the key may post to (repeat for several; none: every channel).
        #[arg(long = "channel")]
        channels: Vec<ChannelId>,
    },
    Revoke {
        id: ApiKeyId,
    },
}

/// Runs one command; what it prints is JSON.
pub fn run(
    store: &Store,
    command: AdminCmd,
    stdin: &mut dyn std::io::BufRead,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let printed = rt.block_on(execute(store, command, stdin))?;
    println!("{}", serde_json::to_string_pretty(&printed)?);
    Ok(())
}

async fn execute(
    store: &Store,
    command: AdminCmd,
    stdin: &mut dyn std::io::BufRead,
) -> anyhow::Result<serde_json::Value> {
    Ok(match command {
        AdminCmd::Departments => json(store.read(directory::departments).await?),
        AdminCmd::Channels => json(store.read(directory::channels).await?),
        AdminCmd::Operators { command } => operators(store, command, stdin).await?,
        AdminCmd::Keys { command } => keys(store, command).await?,
    })
}

fn json(value: impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn cli_actor() -> AuditActor {
    AuditActor {
        name: "switchboard admin".into(),
        ..AuditActor::system()
    }
}

fn audited(conn: &mut DbConn, action: &str, details: serde_json::Value) -> Result<(), StoreError> {
    let now = crate::persistence::now().naive_utc();
    audit::insert(conn, &cli_actor(), action, None, None, &details, now)
}

/// The first line of standard input, checked like a password chosen in the console.
fn read_password(stdin: &mut dyn std::io::BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    stdin.read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    crate::http::sessions::check_password_strength(&password)
        .map_err(|e| anyhow::anyhow!(e.message))?;
    Ok(password)
}

async fn operator_id(store: &Store, email: &str) -> anyhow::Result<OperatorId> {
    let email = email.trim().to_lowercase();
    let shown = email.clone();
    store
        .read(move |c| directory::operator_by_email(c, &email))
        .await?
        .map(|(op, _)| op.id)
        .ok_or_else(|| anyhow::anyhow!("no operator with e-mail {shown}"))
}

async fn operators(
    store: &Store,
    command: OperatorCmd,
    stdin: &mut dyn std::io::BufRead,
) -> anyhow::Result<serde_json::Value> {
    match command {
        OperatorCmd::List => Ok(json(store.read(directory::operators).await?)),
        OperatorCmd::Create {
            name,
            email,
            role,
            departments,
        } => {
            let email = crate::domain::email::normalize(&email)
                .map_err(|why| anyhow::anyhow!("--email: {why}"))?;
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("--role: {role:?} is not one of admin, supervisor, operator")
            })?;
            let known: Vec<DepartmentId> = store
                .read(directory::departments)
                .await?
                .iter()
                .map(|d| d.id)
                .collect();
            if let Some(unknown) = departments.iter().find(|d| !known.contains(d)) {
                anyhow::bail!("--department: no department {unknown}");
            }
            let hash = crate::http::password::hash_now(&read_password(stdin)?)
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let id = OperatorId::new();
            let created = store
                .write(move |c| {
                    directory::insert_operator(
                        c,
                        &directory::NewOperator {
                            id,
                            name: name.trim(),
                            email: &email,
                            password_hash: &hash,
                            role,
                            department_ids: &departments,
                            created_at: crate::persistence::now().naive_utc(),
                        },
                    )?;
                    audited(
                        c,
                        "operator.created",
                        serde_json::json!({"operator_id": id, "email": email}),
                    )?;
                    directory::operator(c, id)
                })
                .await
                .map_err(|e| match e.is_unique_violation() {
                    true => anyhow::anyhow!("an operator with that e-mail exists already"),
                    false => e.into(),
                })?;
            Ok(json(created))
        }
        OperatorCmd::ResetPassword { email } => {
            let id = operator_id(store, &email).await?;
            let hash = crate::http::password::hash_now(&read_password(stdin)?)
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let revoked = store
                .write(move |c| {
                    directory::set_password_hash(c, id, &hash)?;
                    // No token is kept: "" is no token's hash.
                    let revoked = directory::delete_tokens_of(c, id, "")?;
                    audited(
                        c,
                        "operator.password_reset",
                        serde_json::json!({"operator_id": id, "tokens_revoked": revoked}),
                    )?;
                    Ok(revoked)
                })
                .await?;
            Ok(serde_json::json!({"operator_id": id, "tokens_revoked": revoked}))
        }
        OperatorCmd::Disable { email } => set_active(store, &email, false).await,
        OperatorCmd::Enable { email } => set_active(store, &email, true).await,
    }
}

async fn set_active(store: &Store, email: &str, active: bool) -> anyhow::Result<serde_json::Value> {
    let id = operator_id(store, email).await?;
    let operator = store
        .write(move |c| {
            directory::update_operator(c, id, None, None, Some(active))?;
            audited(
                c,
                "operator.updated",
                serde_json::json!({"operator_id": id, "active": active}),
            )?;
            directory::operator(c, id)
        })
        .await?;
    Ok(json(operator))
}

async fn keys(store: &Store, command: KeyCmd) -> anyhow::Result<serde_json::Value> {
    match command {
        KeyCmd::List => Ok(json(store.read(directory::api_keys).await?)),
        KeyCmd::Create { name, channels } => {
            anyhow::ensure!(!name.trim().is_empty(), "--name: must not be empty");
            let known: Vec<ChannelId> = store
                .read(directory::channels)
                .await?
                .iter()
                .map(|c| c.id)
                .collect();
            if let Some(unknown) = channels.iter().find(|c| !known.contains(c)) {
                anyhow::bail!("--channel: no channel {unknown}");
            }
            let secret = crate::http::auth::new_api_key();
            let hash = crate::http::auth::secret_hash(&secret);
            let view = ApiKeyView {
                id: ApiKeyId::new(),
                name: name.trim().to_owned(),
                channel_ids: (!channels.is_empty()).then_some(channels),
                created_at: crate::persistence::now(),
                revoked_at: None,
            };
            let stored = view.clone();
            store
                .write(move |c| {
                    directory::insert_api_key(c, &stored, &hash)?;
                    audited(c, "api_key.created", json(&stored))
                })
                .await?;
            let mut printed = json(&view);
            printed["key"] = serde_json::Value::String(secret);
            Ok(printed)
        }
        KeyCmd::Revoke { id } => {
            let now = crate::persistence::now().naive_utc();
            let key = store
                .write(move |c| {
                    let key = directory::revoke_api_key(c, id, now)?;
                    if let Some(key) = &key {
                        audited(c, "api_key.revoked", json(key))?;
                    }
                    Ok(key)
                })
                .await?
                .ok_or_else(|| anyhow::anyhow!("no API key {id}"))?;
            Ok(json(key))
        }
    }
}
