//! The serve loop: connect to vpcd, answer it, and when the connection ends, come back.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::frame::millis;
use super::{
    session, RemovalCause, ServeEvent, ServeOptions, ServeSummary, VpcdError, MIN_REINSERT_DELAY,
};
use crate::transport::CardTransport;

/// How often a waiting loop looks at its control flags: the latency of stop and remove.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Serves `card` in vpcd's reader on 127.0.0.1 until `options.control` is stopped.
///
/// vpcd's control codes map onto the transport: `00` → `power_off`, `01` → `reset(Cold)`, `02` →
/// `reset(Warm)`, `04` → `atr`; every longer message is a C-APDU for `transmit`. An empty ATR (a
/// mute chip) is sent, and the card put back at once, since vpcd takes it for a removal: pcscd
/// then shows a card present and mute, as a reader shows a dead chip. A transport error
/// drops the card: the connection closes (PC/SC clients see the card removed) and the card comes
/// back 1 s later, powered off, as a card re-inserted. When vpcd goes away (pcscd stopped), the loop
/// reconnects with back-off. A pulled card is powered off. Returns an error only when
/// `give_up_after` is set and vpcd stayed unreachable that long.
pub fn serve(
    card: &mut dyn CardTransport,
    options: &ServeOptions,
) -> Result<ServeSummary, VpcdError> {
    serve_with_events(card, options, &mut |_| {})
}

/// [`serve`], telling `on_event` what happens as it happens.
pub fn serve_with_events(
    card: &mut dyn CardTransport,
    options: &ServeOptions,
    on_event: &mut dyn FnMut(ServeEvent),
) -> Result<ServeSummary, VpcdError> {
    let mut summary = ServeSummary::default();
    let mut retry = options.retry_initial;
    let mut unreachable_since: Option<Instant> = None;
    let mut silent_since: Option<Instant> = None;
    let mut pull_after = options.remove_after;
    // The earliest moment the card may go (back) into the reader.
    let mut not_before = Instant::now();
    loop {
        if !wait_until_insertable(options, not_before) {
            return Ok(summary);
        }
        let pulls_at_insertion = options.control.pulls();
        let mut stream = match connect(options) {
            Ok(stream) => stream,
            Err(error) => {
                let since = *unreachable_since.get_or_insert_with(Instant::now);
                if let Some(limit) = options.give_up_after {
                    if since.elapsed() >= limit {
                        return Err(VpcdError::Unreachable {
                            port: options.port,
                            waited_ms: millis(since.elapsed()),
                            source: error,
                        });
                    }
                }
                on_event(ServeEvent::ConnectFailed {
                    port: options.port,
                    error,
                    retry_in: retry,
                });
                not_before = Instant::now() + retry;
                retry = (retry * 2).min(options.retry_max);
                continue;
            }
        };
        unreachable_since = None;
        retry = options.retry_initial;
        summary.insertions += 1;
        on_event(ServeEvent::Inserted { port: options.port });

        let pull_at = pull_after.take().map(|after| Instant::now() + after);
        let (cause, powered) = session::run(
            card,
            &mut stream,
            options,
            pull_at,
            pulls_at_insertion,
            &mut summary,
            on_event,
        );
        // Closing the socket is how vpcd learns the card is gone.
        let _ = stream.shutdown(std::net::Shutdown::Both);
        drop(stream);
        if powered {
            if let Err(e) = card.power_off() {
                on_event(ServeEvent::PowerOffFailed(e));
            }
        }
        not_before = Instant::now()
            + match cause {
                // Back before vpcd's next presence poll (every 400 ms), so the reader never shows
                // the mute card gone.
                RemovalCause::NoAtr => Duration::ZERO,
                RemovalCause::Timer => options.reinsert_after.max(MIN_REINSERT_DELAY),
                RemovalCause::VpcdClosed
                | RemovalCause::Failed(
                    VpcdError::Connection(_)
                    | VpcdError::Truncated
                    | VpcdError::Stalled(_)
                    | VpcdError::Silent(_),
                ) => options.retry_initial,
                _ => MIN_REINSERT_DELAY,
            };
        // A vpcd that accepts the connection and then says nothing is as good as unreachable.
        if let RemovalCause::Failed(VpcdError::Silent(ms)) = cause {
            let now = Instant::now();
            let began = now.checked_sub(Duration::from_millis(ms)).unwrap_or(now);
            let since = *silent_since.get_or_insert(began);
            if options
                .give_up_after
                .is_some_and(|limit| since.elapsed() >= limit)
            {
                on_event(ServeEvent::Removed(cause));
                return Err(VpcdError::Silent(millis(since.elapsed())));
            }
        } else {
            silent_since = None;
        }
        let stopped = matches!(cause, RemovalCause::Stopped);
        on_event(ServeEvent::Removed(cause));
        if stopped {
            return Ok(summary);
        }
    }
}

/// Waits until `not_before` has passed and the card is not held out by command. Returns false when
/// stopped meanwhile.
fn wait_until_insertable(options: &ServeOptions, mut not_before: Instant) -> bool {
    let control = &options.control;
    let mut held_out_since: Option<Instant> = None;
    loop {
        if control.is_stopped() {
            return false;
        }
        let now = Instant::now();
        if control.held_out() {
            // A card pulled between connections also stays out for the minimum time.
            let since = *held_out_since.get_or_insert(now);
            not_before = not_before.max(since + MIN_REINSERT_DELAY);
            std::thread::sleep(POLL_INTERVAL);
        } else if now >= not_before {
            return true;
        } else {
            std::thread::sleep((not_before - now).min(POLL_INTERVAL));
        }
    }
}

fn connect(options: &ServeOptions) -> io::Result<TcpStream> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
    let stream = TcpStream::connect_timeout(&address, options.connect_timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(POLL_INTERVAL))?;
    stream.set_write_timeout(Some(options.io_timeout))?;
    Ok(stream)
}
