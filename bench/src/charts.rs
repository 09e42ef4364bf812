//! The chart data, as CSV files that `scripts/plot-bench.py` draws:
//! throughput and p99 against connections, and the drain rate against
//! consumer instances.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::figures::{Figures, PublishRun};

/// Writes `connections.csv` and `consumers.csv` into `dir`.
pub fn write(dir: &Path, figures: &Figures) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let millis = |run: &PublishRun| run.p99.map_or(0.0, |p| p.as_secs_f64() * 1e3);
    let mut connections =
        String::from("connections,ours_rate,ours_p99_ms,bridge_rate,bridge_p99_ms\n");
    for run in &figures.connections {
        let _ = writeln!(
            connections,
            "{},{:.1},{:.3},{:.1},{:.3}",
            run.connections,
            run.ours.rate,
            millis(&run.ours),
            run.bridge.as_ref().map_or(0.0, |b| b.rate),
            run.bridge.as_ref().map_or(0.0, millis)
        );
    }
    let mut consumers = String::from("instances,rate\n");
    for (instances, rate) in &figures.scaling {
        let _ = writeln!(consumers, "{instances},{rate:.1}");
    }
    for (name, content) in [
        ("connections.csv", connections),
        ("consumers.csv", consumers),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
