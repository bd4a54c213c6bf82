//! Calls that can block for ever, awaited with a deadline.
//!
//! PC/SC has no timeout on a transmit: pcsc-lite's `SCardTransmit` waits for pcscd, which waits for
//! the reader driver, which (vsmartcard's vpcd) waits on its socket for as long as the card takes.
//! So such calls run on a worker thread that owns their state, and the caller waits for the answer
//! up to a deadline. A call that misses it leaves the worker stuck inside the blocked call; the
//! worker is then abandoned (it ends with the process) and every later call fails at once, since
//! the state it owns cannot be used, nor even dropped, while that call is in progress.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Why a bounded call gave no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfinished {
    /// The deadline passed (now, or for an earlier call, which left the worker stuck).
    Expired,
    /// The worker thread ended without an answer (it panicked).
    WorkerLost,
}

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// A thread owning a state `S`, running calls on it one at a time.
pub struct Worker<S> {
    jobs: mpsc::Sender<Job<S>>,
    stuck: bool,
}

impl<S: 'static> Worker<S> {
    /// Starts a worker whose state `init` makes on the worker thread itself, waiting for it up to
    /// `timeout`. An `init` that fails ends the worker and returns its error.
    pub fn start<E: Send + 'static>(
        name: &str,
        timeout: Duration,
        init: impl FnOnce() -> Result<S, E> + Send + 'static,
    ) -> Result<Result<Self, E>, Unfinished> {
        let (jobs, queue) = mpsc::channel::<Job<S>>();
        let (started, start) = mpsc::sync_channel::<Result<(), E>>(1);
        thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut state = match init() {
                    Ok(state) => state,
                    Err(e) => {
                        let _ = started.send(Err(e));
                        return;
                    }
                };
                if started.send(Ok(())).is_err() {
                    return;
                }
                // Ends when the owner drops its sender; the state is dropped here, on this thread.
                for job in queue {
                    job(&mut state);
                }
            })
            .map_err(|_| Unfinished::WorkerLost)?;
        match start.recv_timeout(timeout) {
            Ok(Ok(())) => Ok(Ok(Worker { jobs, stuck: false })),
            Ok(Err(e)) => Ok(Err(e)),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Unfinished::Expired),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Unfinished::WorkerLost),
        }
    }

    /// Runs `call` on the worker's state and waits for its result up to `timeout`.
    pub fn call<R: Send + 'static>(
        &mut self,
        timeout: Duration,
        call: impl FnOnce(&mut S) -> R + Send + 'static,
    ) -> Result<R, Unfinished> {
        if self.stuck {
            return Err(Unfinished::Expired);
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job<S> = Box::new(move |state| {
            let _ = reply.send(call(state));
        });
        self.jobs.send(job).map_err(|_| Unfinished::WorkerLost)?;
        match answer.recv_timeout(timeout) {
            Ok(result) => Ok(result),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.stuck = true;
                Err(Unfinished::Expired)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Unfinished::WorkerLost),
        }
    }

    /// Whether a call missed its deadline and the worker is still inside it.
    pub fn is_stuck(&self) -> bool {
        self.stuck
    }
}

/// Runs `call` on a thread of its own and waits for its result up to `timeout`.
pub fn run<R: Send + 'static>(
    name: &str,
    timeout: Duration,
    call: impl FnOnce() -> R + Send + 'static,
) -> Result<R, Unfinished> {
    let worker = Worker::<()>::start(name, timeout, || Ok::<_, std::convert::Infallible>(()));
    match worker {
        Ok(Ok(mut worker)) => worker.call(timeout, move |_| call()),
        Ok(Err(never)) => match never {},
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn calls_run_in_order_on_the_workers_state() {
        let mut worker = Worker::start("test", Duration::from_secs(5), || Ok::<_, ()>(Vec::new()))
            .unwrap()
            .unwrap();
        for i in 0..3 {
            worker
                .call(Duration::from_secs(5), move |v: &mut Vec<i32>| v.push(i))
                .unwrap();
        }
        let seen = worker
            .call(Duration::from_secs(5), |v: &mut Vec<i32>| v.clone())
            .unwrap();
        assert_eq!(seen, [0, 1, 2]);
    }

    #[test]
    fn a_failed_start_returns_its_error() {
        let started = Worker::<()>::start("test", Duration::from_secs(5), || Err("no service"));
        assert!(matches!(started, Ok(Err("no service"))));
    }

    #[test]
    fn a_call_that_never_returns_is_abandoned_at_its_deadline() {
        let mut worker = Worker::start("test", Duration::from_secs(5), || Ok::<_, ()>(()))
            .unwrap()
            .unwrap();
        let (_hold, blocked) = mpsc::channel::<()>();
        let begun = Instant::now();
        let result = worker.call(Duration::from_millis(100), move |_| blocked.recv());
        assert_eq!(result, Err(Unfinished::Expired));
        assert!(begun.elapsed() < Duration::from_secs(2));
        assert!(worker.is_stuck());
        // The worker is still inside that call: later calls fail at once instead of queueing.
        let begun = Instant::now();
        assert_eq!(
            worker.call(Duration::from_secs(5), |_| 1),
            Err(Unfinished::Expired)
        );
        assert!(begun.elapsed() < Duration::from_millis(100));
    }

    #[test]
    fn a_start_that_never_finishes_is_abandoned_at_its_deadline() {
        let begun = Instant::now();
        let started = Worker::<()>::start("test", Duration::from_millis(100), || {
            thread::sleep(Duration::from_secs(3600));
            Ok::<_, ()>(())
        });
        assert!(matches!(started, Err(Unfinished::Expired)));
        assert!(begun.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_one_off_call_is_bounded() {
        assert_eq!(run("test", Duration::from_secs(5), || 7), Ok(7));
        let begun = Instant::now();
        let (_hold, blocked) = mpsc::channel::<()>();
        let result = run("test", Duration::from_millis(100), move || blocked.recv());
        assert_eq!(result, Err(Unfinished::Expired));
        assert!(begun.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_panicking_call_is_reported_not_waited_for() {
        let mut worker = Worker::start("test", Duration::from_secs(5), || Ok::<_, ()>(()))
            .unwrap()
            .unwrap();
        let result: Result<(), _> = worker.call(Duration::from_secs(5), |_| panic!("boom"));
        assert_eq!(result, Err(Unfinished::WorkerLost));
    }
}
