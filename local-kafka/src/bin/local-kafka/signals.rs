//! Signals as events: SIGINT, SIGTERM and SIGHUP ask to stop (a second one
//! to stop at once), SIGCHLD says a JVM may have exited. They are blocked
//! in every thread and taken by one, so that no JVM is left running by a
//! signal that arrives at an unlucky moment; children start with no signal
//! blocked (the standard library resets the mask).

use std::sync::mpsc::{self, Receiver};

use local_kafka::Interrupt;
use nix::sys::signal::{SigSet, Signal};

/// What the signal thread reports.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// The first request to stop, by this signal.
    Stop(Signal),
    /// A child exited (or stopped, or continued).
    Child,
}

/// The events, and the interrupt the start-up and the shutdown watch.
pub struct Signals {
    pub interrupt: Interrupt,
    pub events: Receiver<Event>,
}

impl Signals {
    /// Blocks the signals and starts the thread that takes them. Call
    /// before any other thread starts: threads inherit the mask.
    ///
    /// # Errors
    /// If the mask cannot be set.
    pub fn install() -> nix::Result<Self> {
        let mut set = SigSet::empty();
        for signal in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGCHLD,
        ] {
            set.add(signal);
        }
        set.thread_block()?;
        let interrupt = Interrupt::default();
        let raised = interrupt.clone();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            let mut stopping = false;
            while let Ok(signal) = set.wait() {
                let event = match signal {
                    Signal::SIGCHLD => Event::Child,
                    _ if stopping => {
                        raised.raise();
                        continue;
                    }
                    _ => Event::Stop(signal),
                };
                // Sent before the interrupt is raised, so that whoever sees
                // the interrupt finds the signal in the channel.
                let _ = tx.send(event);
                if let Event::Stop(_) = event {
                    stopping = true;
                    raised.raise();
                }
            }
        });
        Ok(Self { interrupt, events })
    }

    /// The signal that asked to stop, once the interrupt is raised.
    pub fn stop_signal(&self) -> Option<Signal> {
        self.events.try_iter().find_map(|event| match event {
            Event::Stop(signal) => Some(signal),
            Event::Child => None,
        })
    }
}
