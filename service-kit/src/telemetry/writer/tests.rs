//! Tests of `writer.rs`.

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
    log_from_threads(&lines, 4, 50_000, Duration::from_secs(60)).expect("logged");
    let dropped = writer.shared.state().dropped_total;
    writer.finish();
    let text: Vec<u8> = received.try_iter().flatten().collect();
    let arrived = check_in_order(&text, 4);
    // A writer thread kept off the processor may let the buffer fill.
    assert_eq!(
        arrived as u64 + dropped,
        200_000,
        "{arrived} written, {dropped} dropped"
    );
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

/// An output that takes nothing until its gate opens, as a pipe
/// nobody reads.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }
}

struct Gated(Gate, mpsc::Sender<Vec<u8>>);

impl Write for Gated {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let (open, opened) = &*self.0.0;
        let _open = opened
            .wait_while(open.lock().unwrap(), |open| !*open)
            .unwrap();
        self.1.send(bytes.to_vec()).unwrap();
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Logs `count` numbered lines of about 100 bytes from each of
/// `threads` threads; returns once all did, or `None` after `within`.
fn log_from_threads(lines: &Lines, threads: usize, count: usize, within: Duration) -> Option<()> {
    let (done, finished) = mpsc::channel();
    for thread in 0..threads {
        let (lines, done) = (lines.clone(), done.clone());
        std::thread::spawn(move || {
            for n in 0..count {
                let line = format!("{thread} {n:06} {}\n", "x".repeat(90));
                lines.make_writer().write_all(line.as_bytes()).unwrap();
            }
            done.send(()).unwrap();
        });
    }
    (0..threads)
        .map(|_| finished.recv_timeout(within).ok())
        .collect()
}

/// Each thread's numbers, checked to come in order without a gap
/// other than a dropped line; returns how many lines arrived.
fn check_in_order(text: &[u8], threads: usize) -> usize {
    let text = String::from_utf8(text.to_vec()).unwrap();
    let mut last = vec![None::<usize>; threads];
    let mut arrived = 0;
    for line in text.lines() {
        let mut parts = line.split(' ');
        let thread: usize = parts.next().unwrap().parse().unwrap();
        let n: usize = parts.next().unwrap().parse().unwrap();
        assert!(last[thread].is_none_or(|last| n > last), "{line}");
        assert_eq!(parts.next().unwrap().len(), 90, "a whole line");
        last[thread] = Some(n);
        arrived += 1;
    }
    arrived
}

#[test]
fn with_the_output_blocked_no_logging_thread_waits_and_every_line_is_written_or_counted() {
    let gate = Gate::default();
    let (sender, received) = mpsc::channel();
    let (writer, lines) = Writer::start(Gated(gate.clone(), sender)).unwrap();
    // 8 MiB of lines, eight times what may wait: with the output
    // blocked throughout, every thread still gets through.
    let logged = log_from_threads(&lines, 4, 20_000, Duration::from_secs(60));
    assert!(
        logged.is_some(),
        "a logging thread waited for a blocked output"
    );
    let dropped = writer.shared.state().dropped_total;
    assert!(
        dropped > 0,
        "more than MAX_PENDING was logged, so some was dropped"
    );
    gate.open();
    writer.finish();
    let text: Vec<u8> = received.try_iter().flatten().collect();
    let arrived = check_in_order(&text, 4);
    assert_eq!(
        arrived as u64 + dropped,
        80_000,
        "{arrived} written, {dropped} dropped"
    );
}

#[test]
fn finish_returns_within_its_timeout_when_the_output_never_takes_a_byte() {
    let gate = Gate::default();
    let (sender, _received) = mpsc::channel();
    let (writer, lines) = Writer::start(Gated(gate.clone(), sender)).unwrap();
    lines.make_writer().write_all(b"stuck\n").unwrap();
    let started = std::time::Instant::now();
    writer.finish();
    let took = started.elapsed();
    assert!(
        took < FINISH_TIMEOUT + Duration::from_secs(1),
        "finish took {took:?}"
    );
    // Logging after it neither blocks nor fails.
    lines.make_writer().write_all(b"later\n").unwrap();
    gate.open();
}

#[test]
fn lines_logged_while_finish_runs_are_written_or_counted_none_lost() {
    let (sender, received) = mpsc::channel();
    let (writer, lines) = Writer::start(Out(sender)).unwrap();
    let (first, started) = mpsc::channel();
    let logging = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            let marker = format!("4 000000 {}\n", "x".repeat(90));
            lines.make_writer().write_all(marker.as_bytes()).unwrap();
            first.send(()).unwrap();
            log_from_threads(&lines, 4, 50_000, Duration::from_secs(60))
        })
    };
    started.recv().unwrap();
    let dropped = {
        let shared = Arc::clone(&writer.shared);
        writer.finish();
        logging.join().unwrap().expect("every thread got through");
        shared.state().dropped_total
    };
    let text: Vec<u8> = received.try_iter().flatten().collect();
    // Less the marker, a fifth thread's line.
    let arrived = check_in_order(&text, 5) - 1;
    assert_eq!(
        arrived as u64 + dropped,
        200_000,
        "{arrived} written, {dropped} dropped"
    );
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
