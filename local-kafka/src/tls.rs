//! Throwaway certificates for a TLS client listener, made with `openssl`:
//! a CA, the broker's certificate for 127.0.0.1 signed by it, a client
//! certificate for mutual TLS, and a second CA that signed nothing here.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

/// The files clients need, all PEM.
#[derive(Debug, Clone)]
pub struct Certificates {
    /// The CA that signed the broker's (and the client's) certificate.
    pub ca: PathBuf,
    /// A CA unrelated to the broker: trusting it must fail.
    pub other_ca: PathBuf,
    /// A client certificate signed by `ca`, for mutual TLS.
    pub client_certificate: PathBuf,
    /// Its private key (PKCS#8, unencrypted).
    pub client_key: PathBuf,
    /// The broker's key and certificate in one file: a PEM keystore.
    pub(crate) keystore: PathBuf,
}

impl Certificates {
    /// Makes every file in `dir`.
    ///
    /// # Errors
    /// If `openssl` fails.
    pub(crate) fn make(dir: &Path) -> anyhow::Result<Self> {
        let dir = dir.join("tls");
        std::fs::create_dir_all(&dir).context("creating the tls directory")?;
        let path = |name: &str| dir.join(name);
        for ca in ["ca", "other-ca"] {
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-noenc",
                "-days",
                "2",
                "-subj",
                &format!("/CN=orders test {ca}"),
                "-keyout",
                &arg(&path(&format!("{ca}.key"))),
                "-out",
                &arg(&path(&format!("{ca}.pem"))),
            ])?;
        }
        std::fs::write(
            path("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .context("writing the extension file")?;
        for (name, extensions) in [("broker", true), ("client", false)] {
            openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-noenc",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &arg(&path(&format!("{name}.key"))),
                "-out",
                &arg(&path(&format!("{name}.csr"))),
            ])?;
            let mut sign = vec![
                "x509".to_owned(),
                "-req".to_owned(),
                "-days".to_owned(),
                "2".to_owned(),
                "-in".to_owned(),
                arg(&path(&format!("{name}.csr"))),
                "-CA".to_owned(),
                arg(&path("ca.pem")),
                "-CAkey".to_owned(),
                arg(&path("ca.key")),
                "-CAcreateserial".to_owned(),
                "-out".to_owned(),
                arg(&path(&format!("{name}.pem"))),
            ];
            if extensions {
                sign.extend(["-extfile".to_owned(), arg(&path("san.ext"))]);
            }
            openssl(&sign.iter().map(String::as_str).collect::<Vec<_>>())?;
        }
        let keystore = path("broker-keystore.pem");
        let key = std::fs::read_to_string(path("broker.key")).context("broker key")?;
        let certificate =
            std::fs::read_to_string(path("broker.pem")).context("broker certificate")?;
        std::fs::write(&keystore, key + &certificate).context("writing the keystore")?;
        Ok(Self {
            ca: path("ca.pem"),
            other_ca: path("other-ca.pem"),
            client_certificate: path("client.pem"),
            client_key: path("client.key"),
            keystore,
        })
    }
}

fn arg(path: &Path) -> String {
    path.display().to_string()
}

fn openssl(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .context("running openssl")?;
    anyhow::ensure!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
