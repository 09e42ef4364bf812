//! Credentials that must never be printed: Kafka passwords, API tokens.

use std::str::FromStr;

/// A credential: its `Debug` output is `Secret("[redacted]")`, it has no
/// `Display`, and only [`Secret::expose`] reads it, so it cannot reach a log
/// line or a panic message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that hands it to librdkafka.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret file; one trailing newline (as editors and `echo`
    /// leave) is not part of the secret.
    ///
    /// # Errors
    /// If the file cannot be read; the message names the path, never the content.
    pub fn from_file(path: &str) -> Result<Self, String> {
        let content = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {path}: {error}"))?;
        let value = content
            .strip_suffix('\n')
            .map_or(content.as_str(), |v| v.strip_suffix('\r').unwrap_or(v));
        Ok(Self(value.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(\"[redacted]\")")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_is_read_without_its_trailing_newline() {
        let path = std::env::temp_dir().join(format!("secret-{}", std::process::id()));
        std::fs::write(&path, "from-a-file\n").unwrap();
        let secret = Secret::from_file(path.to_str().unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(secret.expose(), "from-a-file");
        assert_eq!(format!("{secret:?}"), "Secret(\"[redacted]\")");
        let missing = Secret::from_file("/nonexistent/password").unwrap_err();
        assert!(missing.contains("/nonexistent/password"), "{missing}");
    }
}
