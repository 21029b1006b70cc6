//! TLS of a node: the files named by `tls_cert`, `tls_key`, `tls_client_ca` and
//! `[cluster] tls_ca`, read once at start. Serving uses them as a
//! [`ServerTlsConfig`]; forwarding to peers uses them as the client
//! [`TlsOptions`] (the node's own certificate as its identity), through the same
//! client code as every other connection.

use std::path::Path;

use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use tusk_client::{TlsIdentity, TlsOptions};

use crate::config::{ConfigError, ServerConfig};

/// A node's TLS material, read and checked.
#[derive(Debug, Clone)]
pub struct NodeTls {
    /// What the gRPC listener serves.
    pub server: ServerTlsConfig,
    /// How this node dials its peers.
    pub peers: TlsOptions,
}

/// The node's TLS material, or `None` when `config` has no TLS. Each file must be
/// readable and PEM of the right kind; an error names the field and the path.
/// (Whether the key matches the certificate is checked when the listener is set
/// up, see [`identity_error`].)
pub fn load(config: &ServerConfig, origin: &str) -> Result<Option<NodeTls>, ConfigError> {
    let (Some(cert_path), Some(key_path)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let cert = read_pem(origin, "tls_cert", cert_path, PemKind::Certificate)?;
    let key = read_pem(origin, "tls_key", key_path, PemKind::PrivateKey)?;
    let client_ca = match &config.tls_client_ca {
        Some(path) => Some(read_pem(
            origin,
            "tls_client_ca",
            path,
            PemKind::Certificate,
        )?),
        None => None,
    };
    let peer_ca = match config.cluster.as_ref().and_then(|c| c.tls_ca.as_ref()) {
        Some(path) => Some(read_pem(
            origin,
            "cluster.tls_ca",
            path,
            PemKind::Certificate,
        )?),
        None => client_ca.clone(),
    };
    let mut server = ServerTlsConfig::new().identity(Identity::from_pem(&cert, &key));
    if let Some(ca) = &client_ca {
        server = server.client_ca_root(Certificate::from_pem(ca));
    }
    Ok(Some(NodeTls {
        server,
        peers: TlsOptions {
            ca: peer_ca,
            identity: Some(TlsIdentity { cert, key }),
            domain_name: None,
        },
    }))
}

/// The error for a certificate and key that tonic could not turn into a TLS
/// listener (most often: the key is not the certificate's).
pub fn identity_error(
    config: &ServerConfig,
    origin: &str,
    error: &tonic::transport::Error,
) -> ConfigError {
    let path = |p: &Option<std::path::PathBuf>| {
        p.as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    ConfigError::Invalid {
        origin: origin.to_string(),
        field: "tls_key".into(),
        detail: format!(
            "{} with certificate {} (tls_cert) is unusable (does the key match the certificate? \
             is the client CA a CA?): {detail}",
            path(&config.tls_key),
            path(&config.tls_cert),
        ),
    }
}

/// What a PEM file must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PemKind {
    Certificate,
    PrivateKey,
}

/// True when `text` holds at least one PEM block of `kind`.
fn holds_pem(text: &[u8], kind: PemKind) -> bool {
    let text = String::from_utf8_lossy(text);
    text.lines().any(|line| {
        let line = line.trim();
        match kind {
            PemKind::Certificate => line == "-----BEGIN CERTIFICATE-----",
            PemKind::PrivateKey => {
                line.starts_with("-----BEGIN ") && line.ends_with("PRIVATE KEY-----")
            }
        }
    })
}

fn read_pem(origin: &str, field: &str, path: &Path, kind: PemKind) -> Result<Vec<u8>, ConfigError> {
    let invalid = |detail: String| ConfigError::Invalid {
        origin: origin.to_string(),
        field: field.to_string(),
        detail,
    };
    let bytes =
        std::fs::read(path).map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
    if !holds_pem(&bytes, kind) {
        let want = match kind {
            PemKind::Certificate => "a PEM certificate (-----BEGIN CERTIFICATE-----)",
            PemKind::PrivateKey => "a PEM private key (-----BEGIN ... PRIVATE KEY-----)",
        };
        return Err(invalid(format!("{} is not {want}", path.display())));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_told_apart() {
        let cert = b"junk\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let key = b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";
        let ec_key = b"-----BEGIN EC PRIVATE KEY-----\nMIIB\n";
        assert!(holds_pem(cert, PemKind::Certificate));
        assert!(!holds_pem(cert, PemKind::PrivateKey));
        assert!(holds_pem(key, PemKind::PrivateKey));
        assert!(holds_pem(ec_key, PemKind::PrivateKey));
        assert!(!holds_pem(key, PemKind::Certificate));
        assert!(!holds_pem(b"\x30\x82\x01\x0a", PemKind::Certificate));
    }
}
