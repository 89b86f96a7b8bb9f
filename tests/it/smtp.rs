//! SMTP servers on loopback for the mail tests: a real one (mailin-embedded) that records what it
//! receives, and can refuse, fail for a while, or ask for STARTTLS and a login; and a listener
//! that accepts connections and drops them.

use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mailin_embedded::response::{AUTH_OK, INTERNAL_ERROR, INVALID_CREDENTIALS, NO_MAILBOX, OK};
use mailin_embedded::{AuthMechanism, Handler, Response, Server, SslConfig};

/// The user and password the TLS server accepts.
pub const USER: &str = "recon";
pub const PASSWORD: &str = "s3cret-pw";

/// A message as it arrived: envelope and raw bytes.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Debug, Default)]
struct Log {
    messages: Vec<Received>,
    connections: usize,
    data_ends: usize,
    logins: Vec<(String, String)>,
}

/// How the server answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Accepts every message.
    Accept,
    /// Refuses every recipient with 550.
    RefuseRecipients,
    /// Answers 451 (try again later) to the first n messages, then accepts.
    FailFirst(usize),
}

#[derive(Clone)]
struct Recorder {
    log: Arc<Mutex<Log>>,
    behaviour: Behaviour,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Recorder {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        self.log.lock().unwrap().connections += 1;
        OK
    }

    fn rcpt(&mut self, _to: &str) -> Response {
        if matches!(self.behaviour, Behaviour::RefuseRecipients) { NO_MAILBOX } else { OK }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut log = self.log.lock().unwrap();
        log.data_ends += 1;
        if let Behaviour::FailFirst(n) = self.behaviour
            && log.data_ends <= n
        {
            return INTERNAL_ERROR;
        }
        log.messages.push(Received { from: self.from.clone(), to: self.to.clone(), data: self.data.clone() });
        OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, user: &str, password: &str) -> Response {
        self.log.lock().unwrap().logins.push((user.to_string(), password.to_string()));
        if user == USER && password == PASSWORD { AUTH_OK } else { INVALID_CREDENTIALS }
    }
}

/// A running server on 127.0.0.1 with a port the OS chose; it runs until the test binary ends.
pub struct SmtpServer {
    pub port: u16,
    log: Arc<Mutex<Log>>,
}

impl SmtpServer {
    /// A plain server (no TLS, no login).
    pub fn start(behaviour: Behaviour) -> Self {
        Self::start_with(behaviour, false)
    }

    /// A server that offers STARTTLS with the test certificate of `tests/data/tls/` and wants an
    /// AUTH PLAIN login ([`USER`], [`PASSWORD`]) before it takes mail.
    pub fn start_tls() -> Self {
        Self::start_with(Behaviour::Accept, true)
    }

    fn start_with(behaviour: Behaviour, tls: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let log = Arc::new(Mutex::new(Log::default()));
        let handler =
            Recorder { log: log.clone(), behaviour, from: String::new(), to: Vec::new(), data: Vec::new() };
        let mut server = Server::new(handler);
        server.with_name("localhost").with_num_threads(2).with_tcp_listener(listener);
        if tls {
            // Both rustls providers are compiled into the tests (lettre's ring, mailin's
            // aws-lc-rs): name one for the server.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let dir = crate::util::repo().join("tests/data/tls");
            server
                .with_ssl(SslConfig::SelfSigned {
                    cert_path: dir.join("localhost.pem").display().to_string(),
                    key_path: dir.join("localhost.key").display().to_string(),
                })
                .expect("TLS set-up")
                .with_auth(AuthMechanism::Plain);
        }
        std::thread::spawn(move || {
            // Runs until the test binary ends; its error (not Send) is only printed.
            if let Err(e) = server.serve() {
                eprintln!("test SMTP server stopped: {e}");
            }
        });
        Self { port, log }
    }

    /// Messages accepted so far.
    pub fn messages(&self) -> Vec<Received> {
        self.log.lock().unwrap().messages.clone()
    }

    /// Sessions opened (EHLO/HELO seen).
    pub fn connections(&self) -> usize {
        self.log.lock().unwrap().connections
    }

    /// Messages whose data was sent, accepted or not.
    pub fn data_ends(&self) -> usize {
        self.log.lock().unwrap().data_ends
    }

    /// Logins tried.
    pub fn logins(&self) -> Vec<(String, String)> {
        self.log.lock().unwrap().logins.clone()
    }

    /// `smtp://127.0.0.1:PORT?tls=none`.
    pub fn plain_url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }
}

/// A listener on 127.0.0.1 that accepts connections and closes them at once, before any
/// greeting (at most 50, then it stops); returns its port and the count of connections taken.
pub fn dropping_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, count)
}
