//! The cluster's directory: kept or temporary, the layout it remembers,
//! the logging configuration, and the KRaft cluster id.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;

use crate::{Error, Home};

/// The data directory: `kept` (created if missing), or a new temporary one
/// (`remove` is then true).
///
/// # Errors
/// If it cannot be made.
pub(crate) fn data_dir(kept: Option<&Path>) -> Result<(PathBuf, bool), Error> {
    if let Some(dir) = kept {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("resolving {}", dir.display()))?;
        return Ok((dir, false));
    }
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "local-kafka.{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok((dir, true))
}

/// Records `layout` (mode and broker count) in `dir`, or checks that it is
/// the one recorded: a KRaft cluster's data cannot serve ZooKeeper mode,
/// nor a node's data another node count.
///
/// # Errors
/// [`Error::Refused`] for another layout.
pub(crate) fn check_layout(dir: &Path, layout: &str) -> Result<(), Error> {
    let file = dir.join("layout");
    match std::fs::read_to_string(&file) {
        Ok(found) if found.trim() == layout => Ok(()),
        Ok(found) => Err(Error::Refused(format!(
            "KAFKA_DATA={} holds a cluster of another layout ({}, not {layout}): use another directory or the same ZOOKEEPER and BROKERS",
            dir.display(),
            found.trim()
        ))),
        Err(_) => {
            std::fs::write(&file, format!("{layout}\n")).context("writing the layout")?;
            Ok(())
        }
    }
}

/// Writes the logging configuration `home`'s Kafka reads into `dir`, and
/// returns its path. Written at each start rather than cached with the
/// jars, so that a change to it needs no new fetch.
///
/// # Errors
/// If it cannot be written.
pub(crate) fn write_log_config(home: &Home, dir: &Path) -> Result<PathBuf, Error> {
    let (name, text) = if home.reload4j() {
        ("log4j.properties", include_str!("log4j.properties"))
    } else {
        ("log4j2.xml", include_str!("log4j2.xml"))
    };
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The cluster id a formatted node's `meta.properties` in `logs` holds.
pub(crate) fn formatted_cluster_id(logs: &Path) -> Option<String> {
    std::fs::read_to_string(logs.join("meta.properties"))
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("cluster.id="))
        .map(str::to_owned)
}

/// A new cluster id, as `kafka-storage random-uuid` makes them: 16 bytes
/// in URL-safe base64 without padding (22 characters). A UUIDv7's bytes:
/// it starts with the time, so never with `-`, which the tool would take
/// for an option.
pub(crate) fn new_cluster_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = String::new();
    for chunk in uuid::Uuid::now_v7().as_bytes().chunks(3) {
        let bits = chunk
            .iter()
            .fold(0_u32, |bits, &b| bits << 8 | u32::from(b))
            << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            id.push(char::from(
                ALPHABET[((bits >> (18 - 6 * i)) & 0x3f) as usize],
            ));
        }
    }
    id
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_ids_are_22_url_safe_characters_not_starting_with_a_dash() {
        let id = super::new_cluster_id();
        assert_eq!(id.len(), 22);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert!(!id.starts_with('-'));
        assert_ne!(id, super::new_cluster_id());
    }

    #[test]
    fn a_data_directory_keeps_its_layout_and_refuses_another() {
        let (dir, remove) = super::data_dir(None).expect("temporary directory");
        assert!(remove);
        super::check_layout(&dir, "KRaft 1").expect("first use records it");
        super::check_layout(&dir, "KRaft 1").expect("the same layout again");
        let error = super::check_layout(&dir, "ZooKeeper 3").unwrap_err();
        assert!(
            error.to_string().contains("(KRaft 1, not ZooKeeper 3)"),
            "{error}"
        );
        std::fs::write(dir.join("meta.properties"), "version=1\ncluster.id=abc\n").unwrap();
        assert_eq!(super::formatted_cluster_id(&dir).as_deref(), Some("abc"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
