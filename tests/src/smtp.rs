//! An SMTP server for the tests: a real listener on a loopback port speaking enough ESMTP for
//! `crm` (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT), plain, with STARTTLS
//! or with TLS from the first byte (rustls), keeping each message it accepted. It can refuse the next N transactions (`451`, as a busy server does) and hold the
//! next transaction unanswered after a number of accepted ones (to stop a sender mid-run).

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};

/// How the server secures its connections.
#[derive(Clone)]
pub enum Secure {
    Plain,
    /// Offers STARTTLS after EHLO.
    Starttls(Arc<ServerConfig>),
    /// TLS from the first byte.
    Tls(Arc<ServerConfig>),
}

impl Secure {
    /// A TLS configuration from a certificate and its PKCS#8 key, both DER.
    pub fn config(cert_der: Vec<u8>, key_der: Vec<u8>) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der));
        Arc::new(
            ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![CertificateDer::from(cert_der)], key)
                .unwrap(),
        )
    }
}

/// One message the server accepted (answered `250` after its data).
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body, dots unstuffed).
    pub data: Vec<u8>,
    /// It came over TLS.
    pub tls: bool,
}

#[derive(Default)]
struct State {
    accepted: Vec<Received>,
    /// Transactions to refuse with 451 at MAIL FROM.
    refuse: u32,
    refused: u32,
    /// Hold a transaction at MAIL FROM once this many are accepted.
    hold_after: Option<usize>,
    held: bool,
    logins: Vec<String>,
}

/// The running server; it stops listening when the test process ends.
pub struct SmtpSink {
    port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        Self::start_with(Secure::Plain)
    }

    pub fn start_with(secure: Secure) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                let secure = secure.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &shared, &secure);
                });
            }
        });
        SmtpSink { port, state }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Answers the next `n` transactions `451 4.3.0 Try again later`.
    pub fn refuse_next(&self, n: u32) {
        self.state.0.lock().unwrap().refuse = n;
    }

    /// Transactions refused so far.
    pub fn refused(&self) -> u32 {
        self.state.0.lock().unwrap().refused
    }

    /// Leaves the transaction after the `n`th accepted message unanswered until [`release`].
    pub fn hold_after(&self, n: usize) {
        self.state.0.lock().unwrap().hold_after = Some(n);
    }

    /// True while a transaction waits unanswered.
    pub fn holding(&self) -> bool {
        self.state.0.lock().unwrap().held
    }

    pub fn release(&self) {
        let (lock, cvar) = &*self.state;
        lock.lock().unwrap().hold_after = None;
        cvar.notify_all();
    }

    /// The messages accepted so far.
    pub fn messages(&self) -> Vec<Received> {
        self.state.0.lock().unwrap().accepted.clone()
    }

    /// The user names that logged in.
    pub fn logins(&self) -> Vec<String> {
        self.state.0.lock().unwrap().logins.clone()
    }

    /// The flags of `crm config smtp` for this server (plain, on this host).
    pub fn config_args(&self) -> Vec<String> {
        [
            "config",
            "smtp",
            "--host",
            "127.0.0.1",
            "--port",
            &self.port.to_string(),
            "--tls",
            "none",
            "--from",
            "reports@example.com",
        ]
        .map(String::from)
        .to_vec()
    }
}

fn b64(text: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn serve(tcp: TcpStream, shared: &(Mutex<State>, Condvar), secure: &Secure) -> std::io::Result<()> {
    let tls = |config: &Arc<ServerConfig>, tcp| {
        let conn = ServerConnection::new(config.clone()).map_err(std::io::Error::other)?;
        Ok::<_, std::io::Error>(StreamOwned::new(conn, tcp))
    };
    match secure {
        Secure::Plain => session(tcp, shared, true, false, false).map(|_| ()),
        Secure::Tls(config) => session(tls(config, tcp)?, shared, true, false, true).map(|_| ()),
        Secure::Starttls(config) => match session(tcp, shared, true, true, false)? {
            Some(tcp) => session(tls(config, tcp)?, shared, false, false, true).map(|_| ()),
            None => Ok(()),
        },
    }
}

/// One SMTP session on `stream`; returns the stream when the client asked for STARTTLS.
fn session<S: Read + Write>(
    stream: S,
    shared: &(Mutex<State>, Condvar),
    greet: bool,
    offer_starttls: bool,
    tls: bool,
) -> std::io::Result<Option<S>> {
    let (lock, cvar) = shared;
    let mut lines = BufReader::new(stream);
    let reply = |lines: &mut BufReader<S>, text: &[u8]| {
        let out = lines.get_mut();
        out.write_all(text)?;
        out.flush()
    };
    if greet {
        reply(&mut lines, b"220 sink.test ESMTP ready\r\n")?;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            if offer_starttls {
                reply(
                    &mut lines,
                    b"250-sink.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
                )?;
            } else {
                reply(
                    &mut lines,
                    b"250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
                )?;
            }
        } else if upper == "STARTTLS" && offer_starttls {
            reply(&mut lines, b"220 2.0.0 Ready to start TLS\r\n")?;
            return Ok(Some(lines.into_inner()));
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            reply(&mut lines, b"250 OK\r\n")?;
        } else if upper.starts_with("AUTH PLAIN") {
            let creds = b64(cmd.split_whitespace().nth(2).unwrap_or(""));
            let user = creds.split('\0').nth(1).unwrap_or("").to_string();
            lock.lock().unwrap().logins.push(user);
            reply(&mut lines, b"235 2.7.0 Authenticated\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            let mut st = lock.lock().unwrap();
            if st.refuse > 0 {
                st.refuse -= 1;
                st.refused += 1;
                drop(st);
                reply(&mut lines, b"451 4.3.0 Try again later\r\n")?;
                continue;
            }
            while st.hold_after.is_some_and(|n| st.accepted.len() >= n) {
                st.held = true;
                st = cvar.wait(st).unwrap();
            }
            st.held = false;
            drop(st);
            from = cmd[10..].trim().trim_matches(['<', '>']).to_string();
            to.clear();
            reply(&mut lines, b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(cmd[8..].trim().trim_matches(['<', '>']).to_string());
            reply(&mut lines, b"250 OK\r\n")?;
        } else if upper == "DATA" {
            reply(&mut lines, b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                if lines.read_until(b'\n', &mut l)? == 0 {
                    return Ok(None);
                }
                if l == b".\r\n" || l == b".\n" {
                    break;
                }
                let l = if l.starts_with(b"..") {
                    &l[1..]
                } else {
                    &l[..]
                };
                data.extend_from_slice(l);
            }
            lock.lock().unwrap().accepted.push(Received {
                from: from.clone(),
                to: to.clone(),
                data,
                tls,
            });
            reply(&mut lines, b"250 2.0.0 Accepted\r\n")?;
        } else if upper.starts_with("RSET") {
            to.clear();
            reply(&mut lines, b"250 OK\r\n")?;
        } else if upper.starts_with("QUIT") {
            reply(&mut lines, b"221 Bye\r\n")?;
            return Ok(None);
        } else {
            reply(&mut lines, b"502 5.5.2 Command not recognized\r\n")?;
        }
    }
}
