//! `fanout`: K subscribers of one document, one writer; latency until every subscriber has each
//! edit, and the server's CPU per edit.

use crate::peer::{join_many, next_message, Peer};
use crate::report::{metric, ms, print_table, scrape_metrics};
use crate::server::{cpu_time, loadavg, Server};
use anyhow::{bail, Context};
use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ReadDoc, ROOT};
use crm_shared::protocol::{self, Message};
use crm_shared::DocumentId;
use futures_util::SinkExt;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Ws;

/// A subscriber received a change: (peer, heads of the message, arrival).
pub(crate) type Arrival = (usize, Vec<ChangeHash>, Instant);

pub(crate) async fn fanout(
    server: &Server,
    k: usize,
    edits: usize,
    warmup: usize,
    pause_ms: u64,
    full_peers: bool,
) -> anyhow::Result<()> {
    let id = DocumentId::from_random(rand::random());
    let mut writer = Peer::join(server.addr, "load-writer".into()).await?;
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "title", "fan-out load test")?;
    doc.put(ROOT, "n", 0)?;
    doc.commit();
    let mut state = automerge::sync::State::new();
    let heads = doc.get_heads();
    writer
        .sync_until(id, &mut doc, &mut state, false, |_, s| {
            s.shared_heads == heads
        })
        .await?;

    // Subscribers fetch the document (the server then pushes them every change).
    let t = Instant::now();
    let peers = join_many(server.addr, k, "load-sub").await?;
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel::<Arrival>();
    let (ready_tx, mut ready) = mpsc::channel::<anyhow::Result<()>>(k);
    let mut tasks = Vec::with_capacity(k);
    for (index, peer) in peers.into_iter().enumerate() {
        let heads = heads.clone();
        let arrivals = arrivals_tx.clone();
        let ready = ready_tx.clone();
        tasks.push(tokio::spawn(subscriber(
            index, peer, id, full_peers, heads, ready, arrivals,
        )));
    }
    drop(arrivals_tx);
    for _ in 0..k {
        ready.recv().await.context("a subscriber died")??;
    }
    eprintln!("{k} subscribers joined and synced in {:?}", t.elapsed());

    // Edits, one after another: each waits until every subscriber has it and the server acked it.
    let load_before = loadavg();
    let cpu_before = cpu_time(server.pid)?;
    let own_before = cpu_time(std::process::id())?;
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(edits);
    let mut firsts = Vec::with_capacity(edits);
    let mut cpu_warm = Duration::ZERO;
    let mut warm_started = started;
    for i in 1..=edits {
        if i == warmup + 1 {
            cpu_warm = cpu_time(server.pid)?;
            warm_started = Instant::now();
        }
        doc.put(ROOT, "n", i as i64)?;
        doc.commit();
        let head = doc.get_heads()[0];
        let m = doc
            .sync()
            .generate_sync_message(&mut state)
            .context("the writer has nothing to send")?;
        let sent = Instant::now();
        writer.send_sync(id, m.encode(), false).await?;
        let mut reached = vec![false; k];
        let mut remaining = k;
        let mut acked = false;
        let mut last = sent;
        let mut first: Option<Instant> = None;
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        while remaining > 0 || !acked {
            tokio::select! {
                a = arrivals.recv() => {
                    let (peer, heads, at) = a.context("every subscriber died")?;
                    if heads.contains(&head) && !reached[peer] {
                        reached[peer] = true;
                        remaining -= 1;
                        last = last.max(at);
                        first = Some(first.map_or(at, |f| f.min(at)));
                    }
                }
                m = next_message(&mut writer.rx) => {
                    if let (Message::Sync { data, .. }, _) = m? {
                        let m = automerge::sync::Message::decode(&data)?;
                        acked |= m.heads.contains(&head);
                        doc.sync().receive_sync_message(&mut state, m)?;
                    }
                }
                _ = &mut deadline => bail!("edit {i}: {remaining} of {k} peers still lack it after 10 s"),
            }
        }
        if i > warmup {
            latencies.push(last - sent);
            firsts.push(first.unwrap_or(last) - sent);
        }
        if pause_ms > 0 {
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        }
    }
    let elapsed = warm_started.elapsed();
    // Let the last acknowledgements land so their cost is counted.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cpu = cpu_time(server.pid)? - cpu_warm;
    let cpu_all = cpu_time(server.pid)? - cpu_before;
    let own = cpu_time(std::process::id())? - own_before;
    for t in tasks {
        t.abort();
    }
    let measured = latencies.len();
    latencies.sort();
    firsts.sort();
    let pct = |p: f64| latencies[((measured as f64 * p).ceil() as usize).clamp(1, measured) - 1];
    let per_edit = cpu / measured as u32;
    let metrics = scrape_metrics(server.addr).await.unwrap_or_default();
    println!();
    println!(
        "fanout: {k} {} peers, {edits} edits ({warmup} warm-up left out), {:.0} edits/s, server pid {}, load average {load_before} -> {}",
        if full_peers { "full" } else { "light" },
        measured as f64 / elapsed.as_secs_f64(),
        server.pid,
        loadavg()
    );
    let target = k == 100;
    let first_p50 = ms(firsts[measured / 2]);
    let rows = [
        ("latency to the first peer p50", first_p50, None),
        ("latency to all peers p50", ms(pct(0.50)), None),
        (
            "latency to all peers p99",
            ms(pct(0.99)),
            target.then_some((20.0, "ms")),
        ),
        (
            "latency to all peers max",
            ms(latencies[measured - 1]),
            None,
        ),
        (
            "server CPU per edit",
            ms(per_edit),
            target.then_some((2.0, "ms")),
        ),
        (
            "server CPU per edit per peer",
            ms(per_edit) * 1000.0 / k as f64,
            None,
        ),
        ("load tool CPU per edit", ms(own / edits as u32), None),
    ];
    print_table(&rows, k);
    println!(
        "  (server CPU {:.2} s over the measured edits, {:.2} s including warm-up; CPU counted in 10 ms ticks)",
        cpu.as_secs_f64(),
        cpu_all.as_secs_f64()
    );
    for name in [
        "crm_sync_storage_commit_seconds_sum",
        "crm_sync_storage_commit_seconds_count",
        "crm_sync_frames_sent_total",
        "crm_sync_frames_received_total",
    ] {
        if let Some(v) = metric(&metrics, name) {
            println!("  {name} {v}");
        }
    }
    Ok(())
}

/// Automerge's acknowledgement `template` of one change, for a change leading to `heads`.
pub(crate) fn acknowledge(
    template: &automerge::sync::Message,
    heads: &[ChangeHash],
) -> automerge::sync::Message {
    let mut m = template.clone();
    m.heads = heads.to_vec();
    for have in &mut m.have {
        have.last_sync = heads.to_vec();
    }
    m
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn subscriber(
    index: usize,
    mut peer: Peer,
    id: DocumentId,
    full: bool,
    heads: Vec<ChangeHash>,
    ready: mpsc::Sender<anyhow::Result<()>>,
    arrivals: mpsc::UnboundedSender<Arrival>,
) {
    let mut doc = AutoCommit::new();
    let mut state = automerge::sync::State::new();
    let synced = peer
        .sync_until(id, &mut doc, &mut state, true, |d, _| {
            heads.iter().all(|h| d.get_change_by_hash(h).is_some())
        })
        .await;
    let failed = synced.is_err();
    let _ = ready.send(synced).await;
    if failed {
        return;
    }
    // The reader only stamps arrivals; applying and acknowledging happen in another task, so that
    // one peer's work does not delay the next peer's timestamp (they share this process's cores).
    let Peer {
        mut tx,
        mut rx,
        me,
        server,
    } = peer;
    let (work_tx, mut work) = mpsc::unbounded_channel::<automerge::sync::Message>();
    let worker = tokio::spawn(async move {
        // Light mode: once automerge's own acknowledgement of a change has been seen twice to be
        // "our new heads, nothing needed, last sync = those heads", acknowledge further changes
        // with that message and the new heads, without applying them: the server gets the same
        // bytes and this process spends its CPU on timing rather than on merging.
        let mut template: Option<automerge::sync::Message> = None;
        let mut light = false;
        let mut full = full;
        while let Some(m) = work.recv().await {
            let change = !m.changes.is_empty();
            let reply = if light && change {
                template.as_ref().map(|t| acknowledge(t, &m.heads))
            } else if light {
                None // nothing to answer once acknowledgements are crafted
            } else {
                let heads = m.heads.clone();
                if doc.sync().receive_sync_message(&mut state, m).is_err() {
                    return;
                }
                let reply = doc.sync().generate_sync_message(&mut state);
                if let (Some(r), true, false) = (&reply, change, full) {
                    match &template {
                        None => template = Some(r.clone()),
                        Some(t) => {
                            light = acknowledge(t, &heads).encode() == r.clone().encode();
                            if !light {
                                eprintln!("peer {index}: automerge's acknowledgement differs from the light one: staying a full peer");
                                full = true;
                            }
                        }
                    }
                }
                reply
            };
            if let Some(reply) = reply {
                let ack = Message::Sync {
                    sender_id: me.clone(),
                    target_id: server.clone(),
                    document_id: id,
                    data: reply.encode(),
                };
                if tx
                    .send(Ws::Binary(protocol::encode(&ack).into()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    while let Ok((msg, at)) = next_message(&mut rx).await {
        let Message::Sync {
            document_id, data, ..
        } = msg
        else {
            continue;
        };
        if document_id != id {
            continue;
        }
        let Ok(m) = automerge::sync::Message::decode(&data) else {
            break;
        };
        if !m.changes.is_empty() && arrivals.send((index, m.heads.clone(), at)).is_err() {
            break;
        }
        if work_tx.send(m).is_err() {
            break;
        }
    }
    worker.abort();
}
