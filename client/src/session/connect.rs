//! Connecting to the sync server: TCP, TLS for `wss://`, and the WebSocket upgrade carrying the
//! token, with each failure mapped to the [`SyncError`] that tells the user what to do.
//!
//! TLS is rustls with the ring provider. A `wss://` server's certificate must chain to one of the
//! operating system's trusted roots (read once per process; `SSL_CERT_FILE` and `SSL_CERT_DIR`
//! are honoured) or to a certificate of `--ca-cert` (a private CA). When the system's roots
//! cannot be read, the `--ca-cert` certificates alone are trusted.

use super::{Socket, SyncError, SyncOptions};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::MaybeTlsStream;

/// How long the TCP connect, the TLS handshake and the upgrade may take together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The WebSocket URL for `server`: `/sync` unless a path is given.
pub fn endpoint(server: &str) -> Result<String, SyncError> {
    let rest = server
        .strip_prefix("ws://")
        .or_else(|| server.strip_prefix("wss://"))
        .ok_or_else(|| SyncError::BadUrl(server.to_string()))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(SyncError::BadUrl(server.to_string()));
    }
    Ok(if rest.contains('/') {
        server.to_string()
    } else {
        format!("{}/sync", server.trim_end_matches('/'))
    })
}

/// True for a `wss://` URL.
pub fn is_tls(server: &str) -> bool {
    server.starts_with("wss://")
}

/// Certificates trusted for `wss://` besides the operating system's roots: a private CA.
#[derive(Debug, Clone, Default)]
pub struct CaCerts {
    certs: Vec<CertificateDer<'static>>,
}

/// Why a `--ca-cert` file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaCertError {
    #[error("it holds no certificate (expected PEM blocks `-----BEGIN CERTIFICATE-----`)")]
    Empty,
    #[error("it is not valid PEM ({0})")]
    Pem(String),
    #[error("certificate {0} in it is not a valid X.509 certificate ({1})")]
    Invalid(usize, String),
}

impl CaCerts {
    /// The certificates of a PEM text (other PEM blocks, such as keys, are skipped): at least
    /// one, each a parseable X.509 certificate.
    pub fn from_pem(pem: &[u8]) -> Result<CaCerts, CaCertError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CaCertError::Pem(e.to_string()))?;
        if certs.is_empty() {
            return Err(CaCertError::Empty);
        }
        let mut roots = rustls::RootCertStore::empty();
        for (i, cert) in certs.iter().enumerate() {
            roots
                .add(cert.clone())
                .map_err(|e| CaCertError::Invalid(i + 1, e.to_string()))?;
        }
        Ok(CaCerts { certs })
    }

    /// How many certificates there are.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The certificates as PEM (only the certificates, whatever else the source held).
    pub fn to_pem(&self) -> String {
        let mut out = String::new();
        for cert in &self.certs {
            out.push_str("-----BEGIN CERTIFICATE-----\n");
            let b64 = STANDARD.encode(cert.as_ref());
            for line in b64.as_bytes().chunks(64) {
                out.push_str(std::str::from_utf8(line).unwrap_or_default());
                out.push('\n');
            }
            out.push_str("-----END CERTIFICATE-----\n");
        }
        out
    }
}

/// The operating system's trusted roots, read once per process (none when they cannot be read).
fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// The TLS client configuration: the system's roots plus `extra`.
fn tls_config(extra: &CaCerts) -> Result<rustls::ClientConfig, SyncError> {
    let mut roots = rustls::RootCertStore::empty();
    // Certificates the system holds but rustls cannot use are skipped, as browsers do.
    roots.add_parsable_certificates(native_roots().iter().cloned());
    roots.add_parsable_certificates(extra.certs.iter().cloned());
    if roots.is_empty() {
        return Err(SyncError::Untrusted {
            cause: "this computer's trusted certificates cannot be read".into(),
            next:
                "pass --ca-cert FILE with the certificate (PEM) of the CA that signed the server's",
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SyncError::Socket(format!("TLS cannot be set up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Connects to the server of `opts`: TCP, TLS for `wss://`, then the WebSocket upgrade with the
/// token as `Authorization: Bearer`.
pub(super) async fn connect(opts: &SyncOptions) -> Result<Socket, SyncError> {
    let url = endpoint(&opts.url)?;
    match tokio::time::timeout(CONNECT_TIMEOUT, open(opts, &url)).await {
        Err(_) => Err(SyncError::Connect {
            url,
            cause: "timed out".into(),
        }),
        Ok(result) => result,
    }
}

async fn open(opts: &SyncOptions, url: &str) -> Result<Socket, SyncError> {
    let mut request = url
        .into_client_request()
        .map_err(|_| SyncError::BadUrl(opts.url.clone()))?;
    if let Some(token) = &opts.token {
        request
            .headers_mut()
            .insert("authorization", bearer(token)?);
    }
    let stream = transport(&opts.url, url, &opts.ca_certs).await?;
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(http_refusal(
            url,
            resp.status().as_u16(),
            resp.body().as_deref().unwrap_or_default(),
        )),
        Err(e) => Err(SyncError::Connect {
            url: url.to_string(),
            cause: if is_tls(url) {
                e.to_string()
            } else {
                // A TLS server drops a plain request at once; so does a busy server.
                format!(
                    "{e}: the server closed the connection without answering (busy, or it \
                     serves TLS: then use a wss:// URL)"
                )
            },
        }),
    }
}

/// The `Authorization` header value carrying `token`.
pub(super) fn bearer(token: &str) -> Result<HeaderValue, SyncError> {
    HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| SyncError::Socket("the token holds characters a header cannot carry".into()))
}

/// The byte stream to the server of `url` (the server's URL as given, `server`, names it in
/// errors): TCP, then TLS for `wss://`, trusting the system's roots and `ca_certs`.
pub(super) async fn transport(
    server: &str,
    url: &str,
    ca_certs: &CaCerts,
) -> Result<MaybeTlsStream<tokio::net::TcpStream>, SyncError> {
    let uri: tokio_tungstenite::tungstenite::http::Uri = url
        .parse()
        .map_err(|_| SyncError::BadUrl(server.to_string()))?;
    let tls = is_tls(url);
    // An IPv6 literal comes bracketed, as in the URL.
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| SyncError::BadUrl(server.to_string()))?;
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let config = tls.then(|| tls_config(ca_certs)).transpose()?;

    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| SyncError::Connect {
            url: url.to_string(),
            cause: e.to_string(),
        })?;
    Ok(match config {
        None => MaybeTlsStream::Plain(tcp),
        Some(config) => {
            let name =
                ServerName::try_from(host).map_err(|_| SyncError::BadUrl(server.to_string()))?;
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| tls_error(url, e))?;
            MaybeTlsStream::Rustls(tls)
        }
    })
}

/// The error for an HTTP answer that is not what was asked for: 401/403 is a refused token
/// (with the server's reason), anything else says what answered.
pub(super) fn http_refusal(url: &str, status: u16, body: &[u8]) -> SyncError {
    // Only an authentication answer means "check the token"; anything else (a proxy's
    // 502/503, a web server's 404) is worth retrying and says what answered.
    if status == 401 || status == 403 {
        let reason = refusal_reason(body);
        use crm_shared::protocol::token_refusal as why;
        let next = match reason.as_str() {
            why::EXPIRED | why::REVOKED => {
                "ask an admin for a new token (`crm-sync-server token issue USER`), then `crm sync --token NEW`"
            }
            _ => "check the token (`crm sync --token TOKEN` sets it)",
        };
        SyncError::Refused {
            status,
            reason,
            next,
        }
    } else if status == 429 || status == 503 {
        // The sync server's own limits (too many connections: of this user, or in all).
        SyncError::Busy {
            status,
            reason: refusal_reason(body),
        }
    } else {
        SyncError::NotSyncServer {
            url: url.to_string(),
            status,
        }
    }
}

/// The error for a failed TLS handshake: a certificate this client does not trust, or a
/// server that does not speak TLS on that port.
fn tls_error(url: &str, e: std::io::Error) -> SyncError {
    use rustls::CertificateError as C;
    let Some(rustls::Error::InvalidCertificate(cert)) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return SyncError::Connect {
            url: url.to_string(),
            cause: format!(
                "the TLS handshake failed ({e}); check that the server serves wss:// on that port"
            ),
        };
    };
    let ca =
        "if your organization runs its own CA, pass --ca-cert FILE with the CA's certificate (PEM)";
    let (cause, next) = match cert {
        C::UnknownIssuer => ("issued by a certificate authority this computer does not know".to_string(), ca),
        C::BadSignature => ("its signature does not match the CA it names".to_string(), ca),
        C::NotValidForName | C::NotValidForNameContext { .. } => (
            cert.to_string(),
            "connect with a name the certificate holds (--server), or have it reissued for this one",
        ),
        C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => (
            cert.to_string(),
            "the server's certificate must be renewed, or this computer's clock is wrong",
        ),
        other => (other.to_string(), ca),
    };
    SyncError::Untrusted { cause, next }
}

/// The first line of a refusal's body, if it reads as one: at most 120 printable characters.
fn refusal_reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() || line.len() > 120 || line.chars().any(char::is_control) {
        return String::new();
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reason_is_one_short_printable_line_or_nothing() {
        assert_eq!(
            refusal_reason(b"this token expired\n"),
            "this token expired"
        );
        assert_eq!(refusal_reason(b"  unknown token  \nmore"), "unknown token");
        assert_eq!(refusal_reason(b""), "");
        assert_eq!(refusal_reason(b"bad\x1b[31m red"), "");
        assert_eq!(refusal_reason(&[b'x'; 500]), "");
    }

    #[test]
    fn ca_files_without_a_usable_certificate_are_refused() {
        assert!(matches!(
            CaCerts::from_pem(b"not a certificate"),
            Err(CaCertError::Empty)
        ));
        assert!(matches!(
            CaCerts::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Err(CaCertError::Empty)
        ));
        assert!(matches!(
            CaCerts::from_pem(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
            Err(CaCertError::Pem(_))
        ));
        assert!(matches!(
            CaCerts::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(CaCertError::Invalid(1, _))
        ));
    }

    #[test]
    fn urls_get_the_sync_path_unless_they_have_one() {
        assert_eq!(endpoint("ws://h:1").unwrap(), "ws://h:1/sync");
        assert_eq!(endpoint("wss://h:1/crm").unwrap(), "wss://h:1/crm");
        assert!(endpoint("http://h:1").is_err());
        assert!(endpoint("wss://").is_err());
        assert!(endpoint("ws:///sync").is_err());
    }
}
