//! The accept loop: plain TCP or TLS, HTTP/1.1 with upgrades, and limits on connections that
//! have not become WebSockets yet (a flood of half-open connections): each must finish its TLS
//! handshake and send its request headers within `--handshake-timeout-secs`; one source address
//! (an IPv6 /64) may hold at most `--max-pending-per-ip` of them (more are dropped at once); and
//! when `--max-pending-connections` are pending, a new connection makes room by closing the
//! oldest pending connection of the address holding the most. A genuine handshake takes
//! milliseconds and a rep has one or two at a time, so that is most likely a peer that stalls on
//! purpose; dropping new connections instead would let anyone who keeps the pool full lock every
//! rep out.

use crate::limits::LimitCounters;
use crate::metrics::Limit;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

/// How connections are accepted.
pub struct Accept {
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub handshake_timeout: Duration,
    /// Pending connections at most (at least 1).
    pub max_pending: usize,
    /// Pending connections from one source address at most (0: no limit per address).
    pub max_pending_per_ip: usize,
    pub counters: Arc<LimitCounters>,
}

/// Accepts connections until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    accept: Accept,
    stop: watch::Receiver<bool>,
) {
    let pool = Arc::new(Pool::new(accept.max_pending, accept.max_pending_per_ip));
    serve_with(listener, router, accept, pool, stop).await
}

async fn serve_with(
    listener: TcpListener,
    router: Router,
    accept: Accept,
    pool: Arc<Pool>,
    mut stop: watch::Receiver<bool>,
) {
    let accept = Arc::new(accept);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a little,
                    // never spin, never stop serving.
                    tracing::warn!(cause = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let Admitted {
            slot,
            closed,
            evicted,
        } = match pool.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(OverShare) => {
                accept.counters.refuse(Limit::PendingPerIp);
                tracing::debug!(%peer, "too many pending connections from this address: dropping one");
                drop(tcp);
                continue;
            }
        };
        if let Some(oldest) = evicted {
            accept.counters.refuse(Limit::PendingConnections);
            tracing::debug!(%peer, "too many pending connections: closing the busiest address's oldest");
            drop(oldest);
        }
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(cause = %e, "cannot set TCP_NODELAY");
        }
        let router = router.clone();
        let accept = accept.clone();
        tokio::spawn(async move {
            // The slot lives as long as this task: it is given back however the pending phase
            // ends (upgrade, short request, timeout, error, failed TLS, closed to make room, or
            // the task dropped at shutdown).
            tokio::select! {
                _ = handshake(tcp, peer, router, &accept) => {}
                _ = closed => {
                    tracing::debug!(%peer, "closed to make room for a newer connection");
                }
            }
            drop(slot);
        });
    }
}

/// TLS (if configured) and HTTP/1.1 on one connection, until the request headers arrived and the
/// connection either upgraded (it then counts as a WebSocket) or ended.
async fn handshake(tcp: TcpStream, peer: std::net::SocketAddr, router: Router, accept: &Accept) {
    match &accept.tls {
        None => {
            // A peer that connects and says nothing: closed after the handshake timeout
            // (hyper's header timeout starts with the first byte).
            let mut first = [0u8; 1];
            match tokio::time::timeout(accept.handshake_timeout, tcp.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => http(tcp, router, accept).await,
                Ok(_) => {}
                Err(_) => {
                    accept.counters.refuse(Limit::HandshakeTimeout);
                    tracing::debug!(%peer, "nothing received in time: closing");
                }
            }
        }
        Some(tls) => match tokio::time::timeout(accept.handshake_timeout, tls.accept(tcp)).await {
            Ok(Ok(stream)) => http(stream, router, accept).await,
            Ok(Err(e)) => {
                accept.counters.refuse(Limit::TlsHandshake);
                tracing::debug!(%peer, cause = %e, "TLS handshake failed");
            }
            Err(_) => {
                accept.counters.refuse(Limit::HandshakeTimeout);
                tracing::debug!(%peer, "TLS handshake timed out");
            }
        },
    }
}

/// HTTP/1.1 on one connection. Returns when the connection upgraded (the WebSocket then lives on
/// its own task) or ended.
async fn http<I>(io: I, router: Router, accept: &Accept)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(accept.handshake_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    if let Err(e) = conn.await {
        if e.is_timeout() {
            accept.counters.refuse(Limit::HandshakeTimeout);
        }
        tracing::debug!(cause = %e, "HTTP connection ended");
    }
}

/// Whom a pending connection counts against: its IPv4 address (an IPv4-mapped IPv6 address is
/// its IPv4 address), or the /64 network of its IPv6 address (the smallest block one customer
/// is given, so an attacker holds at least that many addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Source {
    V4(Ipv4Addr),
    V6Net(u64),
}

impl From<IpAddr> for Source {
    fn from(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(v4) => Source::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source::V4(v4),
                None => Source::V6Net((v6.to_bits() >> 64) as u64),
            },
        }
    }
}

/// A connection refused because its source holds its share of the pool already.
#[derive(Debug, PartialEq, Eq)]
struct OverShare;

/// The connections in their pending phase, by source and in the order they came. When the pool
/// is full, the source holding the most places gives up its oldest one (the oldest of all when
/// every source holds as many): a lone rep on a slow link is the last to go.
struct Pool {
    max: usize,
    /// 0: no limit per source.
    max_per_source: usize,
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    next: u64,
    /// The connections holding a place, by arrival number: dropping one's sender tells its
    /// task to close it.
    places: HashMap<u64, oneshot::Sender<()>>,
    /// Every source with a live slot (and none other).
    sources: HashMap<Source, Held>,
    /// The sources holding places: the most places first, then the oldest place first.
    ranking: BTreeSet<(Reverse<usize>, u64, Source)>,
}

/// What one source holds.
#[derive(Debug, Default, Clone)]
struct Held {
    /// Live slots: what its share counts (a connection told to close counts until its task
    /// ended).
    slots: usize,
    /// The arrival numbers of its connections that hold a place.
    places: BTreeSet<u64>,
}

impl Held {
    fn rank(&self, source: Source) -> Option<(Reverse<usize>, u64, Source)> {
        let oldest = *self.places.first()?;
        Some((Reverse(self.places.len()), oldest, source))
    }
}

impl PoolState {
    /// Changes what `source` holds, keeping the ranking, and forgets a source left with nothing.
    fn update(&mut self, source: Source, change: impl FnOnce(&mut Held)) {
        let held = self.sources.entry(source).or_default();
        if let Some(rank) = held.rank(source) {
            self.ranking.remove(&rank);
        }
        change(held);
        if let Some(rank) = held.rank(source) {
            self.ranking.insert(rank);
        }
        if held.slots == 0 {
            self.sources.remove(&source);
        }
    }
}

/// One pending connection's place in the [`Pool`], given back when dropped.
struct Slot {
    pool: Arc<Pool>,
    seq: u64,
    source: Source,
}

/// A connection let into the [`Pool`].
struct Admitted {
    slot: Slot,
    /// Resolves when the connection is to close, to make room for a newer one.
    closed: oneshot::Receiver<()>,
    /// When the pool was full: the sender of the connection that gave up its place, which
    /// closes that connection when dropped.
    evicted: Option<oneshot::Sender<()>>,
}

impl Pool {
    fn new(max: usize, max_per_source: usize) -> Pool {
        Pool {
            max: max.max(1),
            max_per_source,
            state: Mutex::new(PoolState::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Nothing panics while the lock is held; if something did, the counts are still whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a new connection from `ip`, unless its source holds its share already; if
    /// the pool is full, another connection gives up its place (and is to close).
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, OverShare> {
        let source = Source::from(ip);
        let (tx, rx) = oneshot::channel();
        let mut state = self.lock();
        let slots = state.sources.get(&source).map_or(0, |h| h.slots);
        if self.max_per_source > 0 && slots >= self.max_per_source {
            return Err(OverShare);
        }
        let mut evicted = None;
        if state.places.len() >= self.max {
            if let Some(&(_, seq, victim)) = state.ranking.first() {
                state.update(victim, |h| {
                    h.places.remove(&seq);
                });
                evicted = state.places.remove(&seq);
            }
        }
        let seq = state.next;
        state.next += 1;
        state.places.insert(seq, tx);
        state.update(source, |h| {
            h.slots += 1;
            h.places.insert(seq);
        });
        drop(state);
        let slot = Slot {
            pool: self.clone(),
            seq,
            source,
        };
        Ok(Admitted {
            slot,
            closed: rx,
            evicted,
        })
    }

    /// The places held, and what each source holds; checks that the books agree.
    #[cfg(test)]
    fn counts(&self) -> (usize, HashMap<Source, usize>) {
        let state = self.lock();
        let mut ranking = BTreeSet::new();
        let mut places = 0;
        for (source, held) in &state.sources {
            assert!(
                held.slots >= 1 && held.slots >= held.places.len(),
                "{held:?}"
            );
            assert!(held.places.iter().all(|seq| state.places.contains_key(seq)));
            places += held.places.len();
            ranking.extend(held.rank(*source));
        }
        assert_eq!(places, state.places.len());
        assert!(places <= self.max);
        assert_eq!(ranking, state.ranking);
        let slots = state.sources.iter().map(|(s, h)| (*s, h.slots)).collect();
        (state.places.len(), slots)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        state.places.remove(&self.seq);
        let seq = self.seq;
        state.update(self.source, |h| {
            h.slots = h.slots.saturating_sub(1);
            h.places.remove(&seq);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv6Addr, SocketAddr};
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn told_to_close(a: &mut Admitted) -> bool {
        matches!(
            a.closed.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        )
    }

    fn sources(pool: &Pool) -> usize {
        pool.counts().1.len()
    }

    #[test]
    fn one_source_holds_at_most_its_share_and_leaves_the_map_when_done() {
        let pool = Arc::new(Pool::new(100, 3));
        let mut a: Vec<Admitted> = (0..3)
            .map(|_| pool.admit(ip("10.0.0.1")).unwrap())
            .collect();
        assert_eq!(pool.admit(ip("10.0.0.1")).err(), Some(OverShare));
        let b = pool.admit(ip("10.0.0.2")).unwrap();
        assert!(b.evicted.is_none());
        let (n, by_source) = pool.counts();
        assert_eq!(n, 4);
        assert_eq!(by_source[&Source::from(ip("10.0.0.1"))], 3);
        // A slot given back makes room for its source again.
        a.pop();
        let again = pool.admit(ip("10.0.0.1")).unwrap();
        assert!(pool.admit(ip("10.0.0.1")).is_err());
        drop((a, again, b));
        let (n, by_source) = pool.counts();
        assert_eq!(n, 0);
        assert!(by_source.is_empty(), "{by_source:?}");
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4_and_ipv6_by_its_64() {
        let pool = Arc::new(Pool::new(100, 2));
        let _v4 = pool.admit(ip("192.0.2.7")).unwrap();
        let _mapped = pool.admit(ip("::ffff:192.0.2.7")).unwrap();
        assert!(pool.admit(ip("192.0.2.7")).is_err());
        assert!(pool.admit(ip("::ffff:192.0.2.7")).is_err());
        let _other = pool.admit(ip("192.0.2.8")).unwrap();
        // Two addresses of one /64 are one source; the next /64 is another.
        let _x = pool.admit(ip("2001:db8:1:2::1")).unwrap();
        let _y = pool.admit(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")).unwrap();
        assert!(pool.admit(ip("2001:db8:1:2:abcd::9")).is_err());
        let _z = pool.admit(ip("2001:db8:1:3::1")).unwrap();
        assert_eq!(
            Source::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            Source::V6Net(0)
        );
        assert_eq!(
            Source::from(ip("2001:db8:1:2::1")),
            Source::V6Net(0x2001_0db8_0001_0002)
        );
        assert_eq!(sources(&pool), 4);
    }

    #[test]
    fn no_share_per_source_when_it_is_zero() {
        let pool = Arc::new(Pool::new(10, 0));
        let slots: Vec<Admitted> = (0..10)
            .map(|_| pool.admit(ip("10.0.0.1")).unwrap())
            .collect();
        assert!(slots.iter().all(|a| a.evicted.is_none()));
        assert_eq!(pool.counts().1[&Source::from(ip("10.0.0.1"))], 10);
        drop(slots);
        assert_eq!(sources(&pool), 0);
    }

    #[test]
    fn a_full_pool_closes_the_oldest_connection_of_the_busiest_source() {
        let pool = Arc::new(Pool::new(4, 0));
        let mut lone = pool.admit(ip("10.0.0.1")).unwrap();
        let mut busy: Vec<Admitted> = (0..3)
            .map(|_| pool.admit(ip("10.0.0.9")).unwrap())
            .collect();
        assert!(busy.iter().all(|a| a.evicted.is_none()));
        // Full: the busiest source gives up its oldest place, not the oldest of all.
        let mut new = pool.admit(ip("10.0.0.2")).unwrap();
        // Its connection is told to close when the accept loop drops the sender.
        assert!(!told_to_close(&mut busy[0]));
        drop(new.evicted.take().expect("the pool was full"));
        assert!(told_to_close(&mut busy[0]));
        assert!(!told_to_close(&mut lone) && !told_to_close(&mut busy[1]));
        // The pool holds 4 places; the one told to close counts against its source until its
        // task ends and drops it.
        let (n, by_source) = pool.counts();
        assert_eq!(n, 4);
        assert_eq!(by_source[&Source::from(ip("10.0.0.9"))], 3);
        drop(busy.remove(0));
        assert_eq!(pool.counts().1[&Source::from(ip("10.0.0.9"))], 2);
        // 10.0.0.9 still holds the most (2).
        let mut next = pool.admit(ip("10.0.0.3")).unwrap();
        drop(next.evicted.take().expect("the pool was full"));
        assert!(told_to_close(&mut busy[0]) && !told_to_close(&mut busy[1]));
        drop(busy.remove(0));
        // Every source holds one place now: the oldest of all goes, the lone one.
        let mut last = pool.admit(ip("10.0.0.4")).unwrap();
        drop(last.evicted.take().expect("the pool was full"));
        assert!(told_to_close(&mut lone));
        assert!(!told_to_close(&mut busy[0]) && !told_to_close(&mut new));
        // A slot given back before the pool is full again leaves nothing to close.
        drop(busy);
        let fresh = pool.admit(ip("10.0.0.5")).unwrap();
        assert!(fresh.evicted.is_none());
        drop((lone, new, next, last, fresh));
        assert_eq!((pool.counts().0, sources(&pool)), (0, 0));
    }

    #[test]
    fn the_counts_stay_exact_under_concurrency() {
        let pool = Arc::new(Pool::new(64, 8));
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    let mut seed = t + 1;
                    for _ in 0..5_000 {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        let source = IpAddr::V4(Ipv4Addr::new(10, 0, 0, (seed >> 60) as u8));
                        if (seed >> 32) % 3 == 0 && !held.is_empty() {
                            held.swap_remove((seed >> 40) as usize % held.len());
                        } else if let Ok(mut admitted) = pool.admit(source) {
                            drop(admitted.evicted.take());
                            held.push(admitted);
                        }
                        let (n, by_source) = pool.counts();
                        assert!(n <= 64, "{n}");
                        assert!(by_source.values().all(|&c| (1..=8).contains(&c)));
                    }
                    held
                })
            })
            .collect();
        let mut all: Vec<Admitted> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        // Every live slot counts once against its source; a slot not told to close holds a place.
        let (n, by_source) = pool.counts();
        for (source, held) in &by_source {
            let live = all.iter().filter(|a| a.slot.source == *source).count();
            assert_eq!(live, *held);
        }
        let not_told = all
            .iter_mut()
            .map(told_to_close)
            .filter(|told| !told)
            .count();
        assert_eq!(not_told, n);
        all.clear();
        assert_eq!((pool.counts().0, sources(&pool)), (0, 0));
    }

    /// Real sockets through the accept loop: every way a pending connection ends gives its slot
    /// back.
    #[tokio::test]
    async fn every_ending_gives_the_slot_back() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route("/", axum::routing::get(|| async { "hello" }));
        let counters = Arc::new(LimitCounters::default());
        let accept = Accept {
            tls: None,
            handshake_timeout: Duration::from_secs(1),
            max_pending: 4,
            max_pending_per_ip: 2,
            counters: counters.clone(),
        };
        let pool = Arc::new(Pool::new(accept.max_pending, accept.max_pending_per_ip));
        let (_stop_tx, stop) = watch::channel(false);
        tokio::spawn(serve_with(listener, router, accept, pool.clone(), stop));
        let drained = |what: &'static str| {
            let pool = pool.clone();
            async move {
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    let (n, by_source) = pool.counts();
                    if n == 0 && by_source.is_empty() {
                        return;
                    }
                    assert!(Instant::now() < deadline, "{what}: {n} {by_source:?}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };
        // A short request, answered.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.ends_with("hello"), "{answer}");
        drained("a request").await;
        // A peer that connects and leaves.
        drop(TcpStream::connect(addr).await.unwrap());
        drained("closed at once").await;
        // Garbage instead of HTTP.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"\x16\x03\x01 not http\r\n\r\n")
            .await
            .unwrap();
        let _ = tcp.read_to_end(&mut Vec::new()).await;
        drained("garbage").await;
        // Silent peers, held until the handshake timeout; the third from one address is dropped
        // at once.
        let silent = [
            TcpStream::connect(addr).await.unwrap(),
            TcpStream::connect(addr).await.unwrap(),
        ];
        let mut third = TcpStream::connect(addr).await.unwrap();
        assert_eq!(third.read(&mut [0u8; 8]).await.unwrap_or(0), 0);
        assert_eq!(counters.refused(Limit::PendingPerIp), 1);
        assert_eq!(pool.counts().1[&Source::from(ip("127.0.0.1"))], 2);
        drained("timed out").await;
        assert_eq!(counters.refused(Limit::HandshakeTimeout), 2);
        drop(silent);
        // Half a request from four addresses fills the pool; a fifth closes the oldest (the
        // loop accepts in the order the connections were made).
        let mut half = Vec::new();
        for i in 2..=6u8 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(SocketAddr::from(([127, 0, 0, i], 0))).unwrap();
            let mut tcp = socket.connect(addr).await.unwrap();
            tcp.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            half.push(tcp);
        }
        let got = half[0].read(&mut [0u8; 8]).await;
        assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
        assert_eq!(counters.refused(Limit::PendingConnections), 1);
        assert_eq!(pool.counts().0, 4);
        drop(half);
        drained("closed by the peer mid-request").await;
    }
}
