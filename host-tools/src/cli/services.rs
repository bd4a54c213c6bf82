//! `sscard hsm serve` (the HSM service) and `sscard bridge serve` (the web bridge): each binds
//! its address (loopback unless told otherwise), prints the address it listens on, and serves
//! until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde_json::json;

use host_tools::interface::api::Driver;
use host_tools::interface::config::Config;
use host_tools::interface::hsm::Hsm;
use host_tools::services::auth::{AccessToken, TOKEN_ENV};
use host_tools::services::bridge::{
    bridge_router, BridgeState, DriverInterface, OriginPolicy, BRIDGE_DEFAULT_LISTEN,
};
use host_tools::services::hsm::{hsm_router, HsmState, HSM_DEFAULT_LISTEN};
use host_tools::services::is_loopback;
use host_tools::services::listener::{BoundedListener, ConnectionLimits};

use super::inputs::{keys_label, KeyArgs};
use super::{CliError, Global, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum HsmCommand {
    /// Answer the national interface's HSM Step1 strings with their pKey, over HTTP + JSON.
    Serve(HsmServeArgs),
}

#[derive(Debug, clap::Subcommand)]
pub enum BridgeCommand {
    /// Let browser pages call the national interface over a WebSocket, and serve the counter page.
    Serve(BridgeServeArgs),
}

#[derive(Debug, clap::Args)]
pub struct HsmServeArgs {
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR:PORT", default_value = HSM_DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The issuer's master keys; without --keys, the public TEST keys (simulated cards only).
    #[command(flatten)]
    pub keys: KeyArgs,
    /// The file holding the bearer token terminals must send (else $SSCARD_HSM_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Answer without any credential (tests on a closed machine only).
    #[arg(long, conflicts_with = "token_file")]
    pub insecure_no_auth: bool,
    /// Listen on an address other than loopback (put TLS and a firewall in front).
    #[arg(long)]
    pub allow_remote: bool,
}

#[derive(Debug, clap::Args)]
pub struct BridgeServeArgs {
    /// The address to listen on: loopback only (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR:PORT", default_value = BRIDGE_DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The driver configuration (SSCardDriver.toml); default: $SSCARD_DRIVER_CONFIG.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A web origin allowed to use the bridge besides its own page, exactly as the browser sends
    /// it (http://his.example:8080); repeat for several.
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// How long one call may take before the page is told so (PIN entry included).
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub call_timeout: u64,
}

const HSM_LIMITS: ConnectionLimits = ConnectionLimits {
    max_connections: 64,
    idle: Duration::from_secs(30),
};

/// A counter has one page open, perhaps a few tabs; an open page may sit idle between cards.
const BRIDGE_LIMITS: ConnectionLimits = ConnectionLimits {
    max_connections: 16,
    idle: Duration::from_secs(600),
};

/// The services take no card from the command line: the HSM holds none, and the bridge's readers
/// are the driver configuration's.
fn no_card_options(global: &Global, what: &str) -> Result<(), CliError> {
    if global.card.is_some() || global.reader.is_some() {
        return Err(CliError::Usage(format!(
            "{what} takes no --card or --reader{}",
            if what == "bridge serve" {
                ": its readers are the driver configuration's (--config)"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

pub fn run_hsm(global: &Global, command: &HsmCommand) -> Result<Outcome, CliError> {
    let HsmCommand::Serve(args) = command;
    no_card_options(global, "hsm serve")?;
    if !is_loopback(&args.listen) && !args.allow_remote {
        return Err(CliError::Usage(format!(
            "{} is not a loopback address: the HSM service listens on this machine only unless --allow-remote is given",
            args.listen
        )));
    }
    let token = match (&args.token_file, std::env::var(TOKEN_ENV)) {
        _ if args.insecure_no_auth => None,
        (Some(path), _) => Some(AccessToken::from_file(path)?),
        (None, Ok(text)) => Some(AccessToken::new(&text)?),
        (None, Err(_)) => {
            return Err(CliError::Usage(format!(
                "the HSM service needs a token: --token-file FILE or ${TOKEN_ENV} (or --insecure-no-auth for tests)"
            )))
        }
    };
    let keys = KeyArgs {
        keys: args.keys.keys.clone(),
        test_keys: args.keys.test_keys,
    }
    .load(true)?
    .ok_or_else(|| CliError::Usage("no issuer keys".into()))?;
    let label = keys_label(&keys);
    let backend = Arc::new(Hsm::new(keys.keys));
    let state = match token {
        Some(token) => HsmState::new(backend, token),
        None => HsmState::insecure_without_token(backend),
    };
    let notes = format!(
        "{label}; {}",
        if args.insecure_no_auth {
            "NO AUTHENTICATION (--insecure-no-auth)"
        } else {
            "bearer token required"
        }
    );
    serve(
        global,
        "hsm",
        args.listen,
        hsm_router(state),
        HSM_LIMITS,
        &notes,
    )
}

pub fn run_bridge(global: &Global, command: &BridgeCommand) -> Result<Outcome, CliError> {
    let BridgeCommand::Serve(args) = command;
    no_card_options(global, "bridge serve")?;
    if !is_loopback(&args.listen) {
        return Err(CliError::Usage(format!(
            "{} is not a loopback address: the bridge drives this machine's card reader and listens on it only",
            args.listen
        )));
    }
    if !(1..=3600).contains(&args.call_timeout) {
        return Err(CliError::Usage(
            "--call-timeout is 1 to 3600 seconds".into(),
        ));
    }
    // The configuration is read now, so a wrong one stops the bridge at once rather than every call.
    let config = match &args.config {
        Some(path) => Config::load(path),
        None => Config::locate(),
    }
    .map_err(|f| CliError::DriverConfig(f.message))?;
    let notes = format!("driver configuration {}", config.source.display());
    let interface = Arc::new(DriverInterface::new(Driver::with_config(config)));
    let policy = OriginPolicy {
        allowed: args.allow_origin.clone(),
    };
    let call_timeout = Duration::from_secs(args.call_timeout);
    let runtime = runtime()?;
    runtime.block_on(async {
        let listener = bind(args.listen).await?;
        let port = listener
            .local_addr()
            .map_err(|e| listen_error(args.listen, e))?
            .port();
        let state = BridgeState::new(interface, policy, port, call_timeout);
        run_listener(
            global,
            "bridge",
            listener,
            bridge_router(state),
            BRIDGE_LIMITS,
            &notes,
        )
        .await
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| CliError::Listen {
            address: "(runtime)".into(),
            source,
        })
}

fn listen_error(address: SocketAddr, source: std::io::Error) -> CliError {
    CliError::Listen {
        address: address.to_string(),
        source,
    }
}

async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| listen_error(address, e))
}

fn serve(
    global: &Global,
    what: &'static str,
    address: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    notes: &str,
) -> Result<Outcome, CliError> {
    runtime()?.block_on(async {
        let listener = bind(address).await?;
        run_listener(global, what, listener, router, limits, notes).await
    })
}

async fn run_listener(
    global: &Global,
    what: &'static str,
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    notes: &str,
) -> Result<Outcome, CliError> {
    let bound = listener
        .local_addr()
        .map_err(|e| listen_error(bound_fallback(), e))?;
    let url = match what {
        "bridge" => format!("http://{bound}/ (WebSocket ws://{bound}/)"),
        _ => format!("http://{bound}/api/v1/hsm/"),
    };
    // The first line on stdout says where: programs that started us on port 0 read it.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let line = if global.json {
            json!({ "listening": bound.to_string(), "service": what }).to_string()
        } else {
            format!("listening on {url}")
        };
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    if !global.json {
        eprintln!("sscard {what} serve: {notes} (Ctrl-C stops)");
    }
    axum::serve(BoundedListener::new(listener, limits), router)
        .with_graceful_shutdown(stop_signal())
        .await
        .map_err(|e| listen_error(bound, e))?;
    Ok(Outcome::new(
        format!("sscard {what} serve: stopped\n"),
        json!({ "stopped": true, "service": what }),
    ))
}

fn bound_fallback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
