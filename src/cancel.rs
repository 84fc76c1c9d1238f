//! A long job's handle: a cancellation flag that Ctrl-C / SIGTERM (or a job's cancel) raise and the
//! work checks between steps, and how far the work has got, for a progress bar or a job's row.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    done_per_mille: Arc<AtomicU32>,
}

#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

impl Cancel {
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Notes how far the work has got, from 0.0 to 1.0.
    pub fn set_progress(&self, fraction: f64) {
        let per_mille = (fraction.clamp(0.0, 1.0) * 1000.0).round() as u32;
        self.done_per_mille.store(per_mille, Ordering::Relaxed);
    }

    /// How far the work has got, from 0.0 to 1.0.
    pub fn progress(&self) -> f64 {
        f64::from(self.done_per_mille.load(Ordering::Relaxed)) / 1000.0
    }

    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// Raises the flag on the first Ctrl-C or SIGTERM; a second Ctrl-C ends the process at once.
    pub fn on_signals(&self) {
        let cancel = self.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let terminated = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminated => {}
            }
            tracing::warn!("stopping: finishing cleanly (Ctrl-C again to abort at once)");
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    }
}
