//! `crm ui` as a test runs it: the real process on a data dir, the address it prints, and plain
//! HTTP/1.1 requests written by hand (so a test can send any Host header, cookie or form).

use crate::Crm;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

/// A running `crm ui`; killed when dropped.
pub struct WebUi {
    child: Child,
    /// The sign-in address it printed (`http://127.0.0.1:PORT/?token=...`).
    pub sign_in: String,
    pub port: u16,
}

impl WebUi {
    /// Starts `crm ui` on the data dir of `crm` and reads the address it prints.
    pub fn start(crm: &Crm) -> WebUi {
        let mut child = crm
            .command()
            .arg("ui")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("crm ui can be started");
        let stdout = child.stdout.take().expect("crm ui's stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("crm ui prints its address");
        let sign_in = line.trim().to_string();
        let port = sign_in
            .strip_prefix("http://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("crm ui printed {sign_in:?}, not its address"));
        WebUi {
            child,
            sign_in,
            port,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The path and query of the sign-in address (`/?token=...`).
    pub fn sign_in_path(&self) -> String {
        self.sign_in.trim_start_matches(&self.base()).to_string()
    }

    /// Sends one request (`extra` headers, each ending in `\r\n`) to the server with `Host`
    /// set to `host`; returns the status, the head and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        host: &str,
        extra: &str,
        body: &str,
    ) -> Response {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("crm ui accepts");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("a read timeout can be set");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).expect("the request is sent");
        let mut raw = String::new();
        s.read_to_string(&mut raw).expect("a response comes");
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {head}"));
        Response {
            status,
            head: head.to_string(),
            body: body.to_string(),
        }
    }

    /// The host this server answers to.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Signs in with the printed address; returns the `Cookie` header line to send after.
    pub fn sign_in(&self) -> String {
        let r = self.request("GET", &self.sign_in_path(), &self.host(), "", "");
        assert_eq!(r.status, 303, "signing in redirects: {}", r.head);
        let cookie = r
            .header("set-cookie")
            .and_then(|c| c.split(';').next().map(str::to_string))
            .expect("signing in sets a cookie");
        format!("Cookie: {cookie}\r\n")
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for WebUi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response read by [`WebUi::request`].
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Response {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}
