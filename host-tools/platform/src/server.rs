//! Running the service from a synchronous program (the `sscard` binary): a runtime, the store,
//! the listener, and shutdown on Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use axum::Router;
use file_structures::personalise::IssuerKeys;

use crate::api::{router, serve, AppState};
use crate::error::PlatformError;
use crate::store::Store;

/// Why the service could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the service stopped: {0}")]
    Io(#[source] std::io::Error),
    #[error("the e-card signing key {path}: {source}")]
    EcardKey {
        path: std::path::PathBuf,
        #[source]
        source: sscard_ecard::KeyError,
    },
}

/// The database URL for `--db`: none → a SQLite file in the working directory; a plain path →
/// that SQLite file; otherwise the URL as given.
pub fn db_url(arg: Option<&str>) -> String {
    match arg {
        None => format!("sqlite:{}", crate::DEFAULT_DB_FILE),
        Some(url) if url.contains("://") || url.starts_with("sqlite:") => url.to_owned(),
        Some(path) => format!("sqlite:{path}"),
    }
}

/// A runtime for the admin commands' calls into the store.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Serves the back office (and `extra`, e.g. the HSM service, merged in) on `listen` until
/// Ctrl-C or SIGTERM. `ready` is called with the bound address once it accepts connections.
pub fn run(
    listen: SocketAddr,
    db_url: &str,
    keys: IssuerKeys,
    extra: Option<Router>,
    ready: impl FnOnce(SocketAddr, &Store),
) -> Result<(), ServeError> {
    run_with(listen, db_url, keys, |_| Ok(extra), ready)
}

/// As [`run`], with the routes to merge made from the service's state: its store (the e-card
/// service needs it) and its credential check (the HSM's endpoints are guarded by it, see
/// [`crate::api::require_terminal`]).
pub fn run_with(
    listen: SocketAddr,
    db_url: &str,
    keys: IssuerKeys,
    extra: impl FnOnce(&AppState) -> Result<Option<Router>, ServeError>,
    ready: impl FnOnce(SocketAddr, &Store),
) -> Result<(), ServeError> {
    let runtime = runtime().map_err(ServeError::Io)?;
    runtime.block_on(async {
        let store = Store::open(db_url).await?;
        let state = AppState::new(store.clone(), keys);
        let mut app = router(state.clone());
        if let Some(extra) = extra(&state)? {
            app = app.merge(extra);
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: listen,
                source,
            })?;
        let bound = listener.local_addr().map_err(ServeError::Io)?;
        ready(bound, &store);
        serve(listener, app, shutdown_signal())
            .await
            .map_err(ServeError::Io)
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
