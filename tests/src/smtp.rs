//! An SMTP server for the tests: a real listener on a loopback port speaking enough ESMTP for
//! `crm` (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeping each message it
//! accepted. It can refuse the next N transactions (`451`, as a busy server does) and hold the
//! next transaction unanswered after a number of accepted ones (to stop a sender mid-run).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};

/// One message the server accepted (answered `250` after its data).
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body, dots unstuffed).
    pub data: Vec<u8>,
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
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &shared);
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

fn serve(stream: TcpStream, shared: &(Mutex<State>, Condvar)) -> std::io::Result<()> {
    let (lock, cvar) = shared;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 sink.test ESMTP ready\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(b"250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("AUTH PLAIN") {
            let creds = b64(cmd.split_whitespace().nth(2).unwrap_or(""));
            let user = creds.split('\0').nth(1).unwrap_or("").to_string();
            lock.lock().unwrap().logins.push(user);
            out.write_all(b"235 2.7.0 Authenticated\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            let mut st = lock.lock().unwrap();
            if st.refuse > 0 {
                st.refuse -= 1;
                st.refused += 1;
                drop(st);
                out.write_all(b"451 4.3.0 Try again later\r\n")?;
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
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(cmd[8..].trim().trim_matches(['<', '>']).to_string());
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                if lines.read_until(b'\n', &mut l)? == 0 {
                    return Ok(());
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
            });
            out.write_all(b"250 2.0.0 Accepted\r\n")?;
        } else if upper.starts_with("RSET") {
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("QUIT") {
            out.write_all(b"221 Bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"502 5.5.2 Command not recognized\r\n")?;
        }
    }
}
