//! CPU time of the processes in a run (the load generator, the service, the
//! broker), from `/proc`: on a machine where all three share two cores, it
//! shows whether a run was CPU-bound and which process spent what per order.

use std::time::{Duration, Instant};

use anyhow::Context;
use nix::unistd::{SysconfVar, sysconf};

/// The processes watched, by role.
#[derive(Clone, Copy)]
pub struct Processes {
    /// This process: the load generator's HTTP client, or the raw producer.
    pub load: u32,
    /// The service under test, idle during raw runs.
    pub service: u32,
    /// The broker.
    pub broker: u32,
}

/// CPU seconds each process had used at one instant.
pub struct Snapshot {
    at: Instant,
    seconds: [f64; 3],
}

/// What a run cost: CPU seconds per role and the wall time it took.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// CPU seconds of the load generator, the service and the broker.
    pub seconds: [f64; 3],
    /// Wall-clock length of the run.
    pub elapsed: Duration,
}

impl Processes {
    /// Reads each process's CPU time so far.
    pub fn snapshot(self) -> anyhow::Result<Snapshot> {
        Ok(Snapshot {
            at: Instant::now(),
            seconds: [
                cpu_seconds(self.load)?,
                cpu_seconds(self.service)?,
                cpu_seconds(self.broker)?,
            ],
        })
    }
}

impl Snapshot {
    /// The CPU each process used since this snapshot.
    pub fn since(&self, processes: Processes) -> anyhow::Result<Usage> {
        let now = processes.snapshot()?;
        Ok(Usage {
            seconds: std::array::from_fn(|i| now.seconds[i] - self.seconds[i]),
            elapsed: now.at - self.at,
        })
    }
}

impl Usage {
    /// Microseconds of CPU per order for each role, and for all three.
    pub fn micros_per_order(&self, orders: u64) -> [f64; 4] {
        #[allow(clippy::cast_precision_loss)] // order counts far below 2^52
        let per = |seconds: f64| seconds * 1e6 / orders.max(1) as f64;
        let [load, service, broker] = self.seconds;
        [
            per(load),
            per(service),
            per(broker),
            per(load + service + broker),
        ]
    }

    /// How many cores were busy on average.
    pub fn cores_busy(&self) -> f64 {
        self.seconds.iter().sum::<f64>() / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// User plus system CPU seconds of every thread of `pid`, living or exited
/// (fields 14 and 15 of `/proc/PID/stat`, in clock ticks).
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces;
    // the fields after it start at field 3.
    let after_name = stat
        .rsplit_once(") ")
        .context("no command name in /proc/PID/stat")?
        .1;
    let mut fields = after_name.split_whitespace().skip(11);
    let mut ticks =
        || -> anyhow::Result<u64> { Ok(fields.next().context("short /proc/PID/stat")?.parse()?) };
    let total = ticks()? + ticks()?;
    let per_second = sysconf(SysconfVar::CLK_TCK)?.context("no CLK_TCK")?;
    #[allow(clippy::cast_precision_loss)] // tick counts far below 2^52
    Ok(total as f64 / per_second as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_time_of_this_process_grows_while_it_works() {
        let before = cpu_seconds(std::process::id()).unwrap();
        let start = Instant::now();
        let mut x = 0_u64;
        // Spin until the kernel has counted some of it; on a busy machine
        // that can take a while, hence the generous cap.
        while cpu_seconds(std::process::id()).unwrap() <= before + 0.05
            && start.elapsed() < Duration::from_secs(20)
        {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        let after = cpu_seconds(std::process::id()).unwrap();
        assert!(after > before + 0.05, "{before} -> {after}");
    }
}
