//! Log lines handed to a thread of their own: a line is appended to a
//! shared buffer (no allocation, no system call), and the writer thread
//! swaps the buffer out and writes it to standard output whole, at most
//! [`LINGER`] after its first line, or as soon as it holds [`ENOUGH`]. Under
//! load a write carries hundreds of lines and wakes the writer once.
//!
//! A full buffer makes the logging thread wait for the writer, so no line
//! is ever dropped; a process killed with SIGKILL loses what the buffer
//! held (milliseconds' worth), an orderly exit ([`Writer::finish`]) nothing.
//! Lines logged after the writer stopped (a thread that outlives shutdown,
//! a panic while unwinding) are written at once by the thread that logs them.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Longest a line waits for others to share its write.
const LINGER: Duration = Duration::from_millis(5);

/// Pending bytes worth a write without waiting for more.
const ENOUGH: usize = 64 * 1024;

/// Most bytes waiting for the writer before a logging thread waits too.
const MAX_PENDING: usize = 1024 * 1024;

/// What the logging threads and the writer share.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Lines arrived, or the end: for the writer.
    arrived: Condvar,
    /// The writer took the lines: for a logging thread that found it full.
    taken: Condvar,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    finished: bool,
    /// The output, handed back by the writer thread as it stops.
    out: Option<Box<dyn Write + Send>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves nothing half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writer thread; dropping it (or [`Writer::finish`]) writes what is
/// pending and stops it.
pub struct Writer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// The logging threads' side, for the log layer ([`MakeWriter`]).
#[derive(Clone)]
pub struct Lines(Arc<Shared>);

impl Writer {
    /// Starts the writer thread, writing to `out`; returns it and the
    /// handle the log layer writes lines through.
    ///
    /// # Errors
    /// If the thread cannot be started.
    pub fn start(out: impl Write + Send + 'static) -> io::Result<(Self, Lines)> {
        let mut out: Box<dyn Write + Send> = Box::new(out);
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn(move || {
                let mut batch = Vec::new();
                loop {
                    let mut state = theirs.state();
                    while state.pending.is_empty() && !state.finished {
                        state = theirs
                            .arrived
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    // The first line is in: give the next ones a moment.
                    state = theirs
                        .arrived
                        .wait_timeout_while(state, LINGER, |state| {
                            state.pending.len() < ENOUGH && !state.finished
                        })
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    if state.finished {
                        // Under the lock until `out` is handed back, so a
                        // line is either in this last write or finds `out`.
                        let _ = out.write_all(&state.pending).and_then(|()| out.flush());
                        state.pending = Vec::new();
                        state.out = Some(out);
                        drop(state);
                        theirs.taken.notify_all();
                        return;
                    }
                    std::mem::swap(&mut batch, &mut state.pending);
                    drop(state);
                    theirs.taken.notify_all();
                    // Nowhere to report a failed write: stdout is the log.
                    let _ = out.write_all(&batch).and_then(|()| out.flush());
                    batch.clear();
                }
            })?;
        let lines = Lines(Arc::clone(&shared));
        Ok((
            Self {
                shared,
                thread: Some(thread),
            },
            lines,
        ))
    }

    /// Writes what is pending and stops the thread.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.state().finished = true;
        self.shared.arrived.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One logging thread's way into the buffer.
pub struct Line<'a>(&'a Shared);

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut state = self.0.state();
        if let Some(out) = state.out.as_mut() {
            out.write_all(bytes)?;
            out.flush()?;
            return Ok(bytes.len());
        }
        while state.pending.len() >= MAX_PENDING && !state.finished {
            state = self
                .0
                .taken
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let before = state.pending.len();
        state.pending.extend_from_slice(bytes);
        let after = state.pending.len();
        drop(state);
        // The writer waits for a first line, then for enough of them.
        if before == 0 || (before < ENOUGH && after >= ENOUGH) {
            self.0.arrived.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// Hands every write to a channel.
    struct Out(mpsc::Sender<Vec<u8>>);

    impl Write for Out {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.send(bytes.to_vec()).unwrap();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_whole_and_in_order_from_many_threads() {
        let (sender, received) = mpsc::channel();
        let (writer, lines) = Writer::start(Out(sender)).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let lines = &lines;
                scope.spawn(move || {
                    for n in 0..50_000 {
                        let line = format!("{thread} {n:06} {}\n", "x".repeat(n % 100));
                        lines.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                });
            }
        });
        writer.finish();
        let text: Vec<u8> = received.try_iter().flatten().collect();
        let text = String::from_utf8(text).unwrap();
        let mut next = [0; 4];
        for line in text.lines() {
            let mut parts = line.split(' ');
            let thread: usize = parts.next().unwrap().parse().unwrap();
            let n: usize = parts.next().unwrap().parse().unwrap();
            assert_eq!(
                n, next[thread],
                "thread {thread}'s lines in order, none lost"
            );
            assert_eq!(parts.next().unwrap_or_default().len(), n % 100);
            next[thread] += 1;
        }
        assert_eq!(next, [50_000; 4]);
    }

    #[test]
    fn a_line_logged_after_the_writer_stopped_is_still_written() {
        let (sender, received) = mpsc::channel();
        let (writer, lines) = Writer::start(Out(sender)).unwrap();
        lines.make_writer().write_all(b"before\n").unwrap();
        writer.finish();
        lines.make_writer().write_all(b"after\n").unwrap();
        let text: Vec<u8> = received.try_iter().flatten().collect();
        assert_eq!(text, b"before\nafter\n");
    }

    #[test]
    fn a_lone_line_is_written_after_the_linger_without_waiting_for_more() {
        let (sender, received) = mpsc::channel();
        let (writer, lines) = Writer::start(Out(sender)).unwrap();
        lines.make_writer().write_all(b"alone\n").unwrap();
        let written = received.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(written.unwrap(), b"alone\n");
        writer.finish();
    }
}
