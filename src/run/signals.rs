//! Stopping a run from outside: SIGINT (Ctrl-C), SIGTERM (CI cancellation, `timeout`) and
//! SIGHUP (the terminal went away) all mean "interrupt": nothing new starts, running probes
//! are abandoned (their processes killed) and the honest result is still written. A second
//! signal exits at once, with 128 + its number, after killing whatever labcert started.
//!
//! The signals are watched on a thread of their own, with its own small runtime, so the
//! second signal is heard even when the run's runtime is shut down or its thread is stuck
//! (writing to a full pipe, say).

use tokio::signal::unix::{SignalKind, signal};

use super::Cancel;

/// Starts watching, for the rest of the process, and returns once the handlers are in
/// place (so a signal from now on is never the default "die at once"). The future resolves
/// when the first signal has interrupted `cancel`; it never does if the signals cannot be
/// watched.
pub fn watch(cancel: Cancel) -> impl Future<Output = ()> + Send + 'static {
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let started = std::thread::Builder::new()
        .name("labcert-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Some(mut signals) = Signals::new() else {
                    return;
                };
                let _ = ready_tx.send(());
                let sig = signals.next().await;
                cancel.interrupt();
                let _ = first_tx.send(());
                // Printed aside: stderr may be a full pipe, and this thread must hear the next.
                let _ = std::thread::Builder::new().spawn(move || {
                    eprintln!(
                        "\ninterrupted ({}): stopping; the result will say so (signal again to exit at once)",
                        name(sig)
                    );
                });
                let sig = signals.next().await;
                crate::probe::command::kill_leftovers();
                // SAFETY: _exit ends the process without running destructors or flushing
                // stdio, which is the point: the main thread may be blocked holding them.
                unsafe { libc::_exit(128 + sig) };
            });
        });
    if started.is_ok() {
        // Blocks only while a thread starts; a failure to register ends the wait too.
        let _ = ready_rx.recv_timeout(std::time::Duration::from_secs(5));
    }
    async move {
        if first_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP, as one stream.
struct Signals([(libc::c_int, tokio::signal::unix::Signal); 3]);

impl Signals {
    fn new() -> Option<Signals> {
        let one = |n: libc::c_int| signal(SignalKind::from_raw(n)).ok().map(|s| (n, s));
        Some(Signals([
            one(libc::SIGINT)?,
            one(libc::SIGTERM)?,
            one(libc::SIGHUP)?,
        ]))
    }

    /// The next signal's number.
    async fn next(&mut self) -> libc::c_int {
        let [(i, int), (t, term), (h, hup)] = &mut self.0;
        tokio::select! {
            _ = int.recv() => *i,
            _ = term.recv() => *t,
            _ = hup.recv() => *h,
        }
    }
}

fn name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}
