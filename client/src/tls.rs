//! TLS for every connection a client (or a node forwarding to its peers) makes:
//! [`TlsOptions`], and the one decision of whether an address is dialled over TLS
//! ([`plan`]).
//!
//! - `https://host:port` uses TLS, and needs [`TlsOptions::ca`] to trust.
//! - `http://host:port` is plaintext; given together with TLS options it is refused
//!   (a client configured for TLS never silently talks plaintext).
//! - a bare `host:port` is plaintext, or TLS when TLS options are given.
//! - any other scheme is refused.

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::ClientError;

/// How a client speaks TLS: whom it trusts and, for mTLS, which certificate it
/// presents. All PEM bytes, as read from files.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// CA certificate(s) (PEM) that the server's certificate must chain to. Required
    /// to dial over TLS: no system roots are consulted.
    pub ca: Option<Vec<u8>>,
    /// This client's certificate and key, presented to servers that require one
    /// (mTLS).
    pub identity: Option<TlsIdentity>,
    /// The name the server's certificate must carry, when it is not the host of
    /// the address dialled (e.g. dialling an IP whose certificate names a host).
    pub domain_name: Option<String>,
}

/// A certificate chain and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsIdentity {
    /// The certificate chain (PEM), leaf first.
    pub cert: Vec<u8>,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: Vec<u8>,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field(
                "ca",
                &self.ca.as_ref().map(|c| format!("{} bytes", c.len())),
            )
            .field("identity", &self.identity)
            .field("domain_name", &self.domain_name)
            .finish()
    }
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("TlsIdentity")
            .field("cert", &format!("{} bytes", self.cert.len()))
            .finish_non_exhaustive()
    }
}

/// How to dial one address: the URI to connect to and whether over TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dial {
    /// `http://…` or `https://…`.
    pub uri: String,
    /// True for TLS.
    pub tls: bool,
}

/// Decides how `addr` is dialled given the TLS options (if any); see the module
/// documentation for the rules. Pure: no I/O.
pub(crate) fn plan(addr: &str, tls: Option<&TlsOptions>) -> Result<Dial, ClientError> {
    let addr = addr.trim();
    let refuse = |detail: String| ClientError::Tls {
        addr: addr.to_string(),
        detail,
    };
    let dial = match addr.split_once("://") {
        None if tls.is_some() => Dial {
            uri: format!("https://{addr}"),
            tls: true,
        },
        None => Dial {
            uri: format!("http://{addr}"),
            tls: false,
        },
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => Dial {
            uri: addr.to_string(),
            tls: true,
        },
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("http") => {
            if tls.is_some() {
                return Err(refuse(
                    "an http:// address is plaintext but TLS options are given: \
                     use https:// or a bare host:port"
                        .into(),
                ));
            }
            Dial {
                uri: addr.to_string(),
                tls: false,
            }
        }
        Some((scheme, _)) => {
            return Err(refuse(format!(
                "unsupported scheme {scheme:?}: use https://, http:// or host:port"
            )));
        }
    };
    if dial.tls && tls.and_then(|t| t.ca.as_ref()).is_none() {
        return Err(refuse(
            "TLS needs a CA certificate to trust the server (TlsOptions::ca; \
             the CLI's --tls-ca)"
                .into(),
        ));
    }
    Ok(dial)
}

/// `endpoint` with `tls` applied (the CA, the identity, the name).
pub(crate) fn apply(
    endpoint: Endpoint,
    addr: &str,
    tls: &TlsOptions,
) -> Result<Endpoint, ClientError> {
    let mut config = ClientTlsConfig::new();
    if let Some(ca) = &tls.ca {
        config = config.ca_certificate(Certificate::from_pem(ca));
    }
    if let Some(identity) = &tls.identity {
        config = config.identity(Identity::from_pem(&identity.cert, &identity.key));
    }
    if let Some(name) = &tls.domain_name {
        config = config.domain_name(name.clone());
    }
    endpoint.tls_config(config).map_err(|e| ClientError::Tls {
        addr: addr.trim().to_string(),
        detail: error_chain(&e),
    })
}

/// `error` and its sources, joined by `: `.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_ca() -> TlsOptions {
        TlsOptions {
            ca: Some(b"pem".to_vec()),
            ..TlsOptions::default()
        }
    }

    #[test]
    fn schemes_decide_tls_and_bare_addresses_follow_the_options() {
        let plain = plan("127.0.0.1:7070", None).expect("plain");
        assert_eq!(
            (plain.uri.as_str(), plain.tls),
            ("http://127.0.0.1:7070", false)
        );
        let plain = plan(" http://h:1 ", None).expect("plain");
        assert_eq!((plain.uri.as_str(), plain.tls), ("http://h:1", false));
        let tls = plan("127.0.0.1:7070", Some(&with_ca())).expect("tls");
        assert_eq!(
            (tls.uri.as_str(), tls.tls),
            ("https://127.0.0.1:7070", true)
        );
        let tls = plan("https://h:1", Some(&with_ca())).expect("tls");
        assert_eq!((tls.uri.as_str(), tls.tls), ("https://h:1", true));
    }

    #[test]
    fn nothing_is_silently_downgraded() {
        for (addr, tls, needle) in [
            ("https://h:1", None, "CA certificate"),
            ("https://h:1", Some(TlsOptions::default()), "CA certificate"),
            ("h:1", Some(TlsOptions::default()), "CA certificate"),
            ("http://h:1", Some(with_ca()), "http://"),
            ("unix:///tmp/s", None, "unsupported scheme"),
            ("ftp://h:1", Some(with_ca()), "unsupported scheme"),
        ] {
            let err = plan(addr, tls.as_ref()).expect_err(addr);
            assert!(matches!(err, ClientError::Tls { .. }), "{addr}: {err}");
            let text = err.to_string();
            assert!(
                text.contains(needle) && text.contains(addr),
                "{addr}: {text}"
            );
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{addr}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let options = TlsOptions {
            identity: Some(TlsIdentity {
                cert: b"cert".to_vec(),
                key: b"SECRET".to_vec(),
            }),
            ..with_ca()
        };
        assert!(!format!("{options:?}").contains("SECRET"));
    }
}
