//! A TCP relay between the operator and the API server, to sever and restore the
//! operator's connection, and a kubeconfig that points at it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A TCP relay between the operator and the API server. `cut` closes every relayed
/// connection and turns new ones away (accepted, then closed at once: the client
/// sees its connection reset, as when an API server or the load balancer in front
/// of it goes away); `restore` lets connections through again. The TLS session is
/// the operator's own, end to end: the relay only moves bytes.
pub struct Relay {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
    cuts: AtomicU64,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Relay {
    /// Runs on a thread and runtime of its own, so that blocking test code (kubectl,
    /// sleeps) never stalls the relayed traffic.
    pub fn start(target: SocketAddr) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("relay bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("relay addr");
        let up = Arc::new(AtomicBool::new(true));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(tx);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        {
            let up = up.clone();
            let generation = generation.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("relay runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("relay listener");
                    loop {
                        let accepted = tokio::select! {
                            a = listener.accept() => a,
                            _ = &mut stopped => break,
                        };
                        let Ok((mut inbound, _)) = accepted else {
                            continue;
                        };
                        if !up.load(Ordering::SeqCst) {
                            drop(inbound);
                            continue;
                        }
                        let mut cut = generation.subscribe();
                        tokio::spawn(async move {
                            let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                                return;
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                _ = cut.changed() => {}
                            }
                        });
                    }
                    generation.send_modify(|g| *g += 1);
                });
            });
        }
        Relay {
            addr,
            up,
            generation,
            cuts: AtomicU64::new(0),
            stop: Some(stop),
        }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.fetch_add(1, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.generation.send_modify(|g| *g += 1);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The API server's address in a kubeconfig (`server: https://HOST:PORT`), when HOST
/// is a loopback address the relay can stand in for.
pub fn loopback_server(kubeconfig: &str) -> Option<(String, SocketAddr)> {
    let text = std::fs::read_to_string(kubeconfig).ok()?;
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server:"))?
        .trim()
        .trim_matches('"')
        .to_owned();
    let hostport = server.strip_prefix("https://")?.trim_end_matches('/');
    let (host, port) = hostport.rsplit_once(':')?;
    let ip = match host {
        "127.0.0.1" | "localhost" => "127.0.0.1",
        _ => return None,
    };
    Some((server.clone(), format!("{ip}:{port}").parse().ok()?))
}

/// A copy of `kubeconfig` pointing at the relay instead of the API server.
pub fn kubeconfig_via(kubeconfig: &str, server: &str, relay: SocketAddr, out: &Path) {
    let text = std::fs::read_to_string(kubeconfig).expect("read kubeconfig");
    let host = if server.contains("localhost") {
        "localhost"
    } else {
        "127.0.0.1"
    };
    let replaced = text.replace(server, &format!("https://{host}:{}", relay.port()));
    std::fs::write(out, replaced).expect("write kubeconfig");
}
