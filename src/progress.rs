//! Progress of long work for the person at the terminal: a bar on a terminal, a log line at every
//! tenth otherwise; read from the work's [`Cancel`] handle while it runs.

use std::io::IsTerminal;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::cancel::Cancel;

/// Shows the progress of `cancel`'s work until dropped; the drop ends it at once (a short command
/// does not wait out the refresh interval).
pub struct Shown {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

pub fn show(cancel: &Cancel, what: &'static str) -> Shown {
    let (stop, stopped) = mpsc::channel::<()>();
    let cancel = cancel.clone();
    let thread = std::thread::spawn(move || {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(1000);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:30}] {percent}% ETA {eta}",
                )
                .expect("constant template")
                .progress_chars("=> "),
            );
            bar.set_message(what);
            bar
        });
        let mut logged_tenths = 0;
        loop {
            let done = cancel.progress();
            match &bar {
                Some(bar) => bar.set_position((done * 1000.0) as u64),
                None => {
                    let tenths = (done * 10.0) as u32;
                    if tenths > logged_tenths {
                        logged_tenths = tenths;
                        tracing::info!("{what}: {}%", tenths * 10);
                    }
                }
            }
            if stopped.recv_timeout(Duration::from_millis(200))
                != Err(mpsc::RecvTimeoutError::Timeout)
            {
                break;
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    });
    Shown {
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Drop for Shown {
    fn drop(&mut self) {
        // The thread's receiver sees the sender gone.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
