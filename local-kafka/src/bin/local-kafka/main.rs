//! `local-kafka`: Apache Kafka in the foreground for people and scripts
//! (`scripts/local-broker.sh` runs it), started by the library the tests
//! use. See `local-kafka --help`.

mod args;
mod signals;

use std::process::ExitCode;
use std::time::Duration;

use local_kafka::{Cluster, Error, KAFKA_VERSION, Mode, Options, Ports, fetch};

use crate::args::Args;
use crate::signals::{Event, Signals};

fn main() -> ExitCode {
    // First, before any thread exists: every thread inherits the mask.
    let signals = match Signals::install() {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("cannot take the signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let args = Args::from_env();
    match run(args, &signals) {
        Ok(code) => code,
        Err(Error::Interrupted) => signals.stop_signal().map_or(ExitCode::FAILURE, signal_exit),
        Err(error @ Error::Refused(_)) => {
            eprintln!("{error}");
            ExitCode::from(2)
        }
        Err(Error::Failed(error)) => {
            eprintln!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args, signals: &Signals) -> Result<ExitCode, Error> {
    local_kafka::check_java()?;
    let (mode, version) = if args.zookeeper {
        (Mode::ZooKeeper, args.zk_kafka_version.as_str())
    } else {
        (Mode::KRaft, KAFKA_VERSION)
    };
    let cache = args.cache.clone().unwrap_or_else(fetch::default_cache);
    let home = fetch::install(&cache, version, &signals.interrupt)?;
    if args.install_only {
        println!("{}", home.libs().display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut options = Options::new(home, mode);
    options.brokers = args.brokers;
    options.ports = match args.port {
        0 => Ports::Free,
        port => Ports::From(port),
    };
    options.data = args.data;
    options.security.users = local_kafka::parse_users(args.sasl_users.as_deref().unwrap_or(""))?;
    options.heap = args.heap;
    options.log_level = args.log_level;
    options.start_timeout = Duration::from_secs(args.start_timeout);
    options.own_process_group = true;
    options.interrupt = signals.interrupt.clone();
    let mut cluster = Cluster::start(options)?;
    eprintln!("{}", cluster.ready_line());
    Ok(supervise(&mut cluster, signals))
}

/// Until a signal asks to stop, ZooKeeper exits, or no broker is left:
/// then stops what runs.
fn supervise(cluster: &mut Cluster, signals: &Signals) -> ExitCode {
    loop {
        match signals.events.recv() {
            Ok(Event::Stop(signal)) => {
                cluster.shutdown();
                return signal_exit(signal);
            }
            Ok(Event::Child) => {
                for exited in cluster.exited() {
                    if exited.node.is_none() {
                        eprintln!("ZooKeeper exited; stopping the brokers");
                        cluster.shutdown();
                        return ExitCode::FAILURE;
                    }
                    eprintln!("{exited}");
                }
                if cluster.running_brokers() == 0 {
                    eprintln!("every broker exited");
                    cluster.shutdown();
                    return ExitCode::FAILURE;
                }
            }
            Err(_) => {
                eprintln!("the signal thread ended; stopping");
                cluster.shutdown();
                return ExitCode::FAILURE;
            }
        }
    }
}

/// The exit status of a shell killed by `signal`: 128 + its number.
fn signal_exit(signal: nix::sys::signal::Signal) -> ExitCode {
    ExitCode::from(128 + u8::try_from(signal as i32).unwrap_or(0))
}
