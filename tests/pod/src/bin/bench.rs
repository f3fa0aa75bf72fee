//! `atsreuse-bench`: handshake rates with and without the plugin, cross-node resumption over a
//! rotation, and the delay before a new session resumes on another node. Prints a Markdown
//! report (what `scripts/bench.sh` puts into docs/benchmarks.md) and writes the raw figures as
//! JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use atsreuse_pod::{plugin_path, AtsNode, Pod, PodOptions};
use atsreuse_tlsclient::{parallel, percentile, Client, ClientConfig, Mode, Target};
use openssl::ssl::SslSession;
use serde_json::{json, Value};

const USAGE: &str = "usage: atsreuse-bench [--plugin PATH] [--seconds S] [--concurrency C]
                      [--rounds R] [--sessions N] [--delay-samples N] [--json FILE]
  --seconds S        length of each rate measurement (default 3)
  --rounds R         rate measurements per node and kind, alternating nodes (default 3)
  --concurrency C    handshakes in flight (default 4)
  --sessions N       sessions per mode and half of the cross-node run (default 900:
                     3 modes x 900 x 2 other nodes x 2 halves = 10,800 resumptions)
  --delay-samples N  new sessions timed from node 1 to node 2, per mode (default 200)";

struct Args {
    plugin: Option<PathBuf>,
    seconds: u64,
    concurrency: usize,
    sessions: usize,
    delay_samples: usize,
    rounds: usize,
    json: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        plugin: None,
        seconds: 3,
        concurrency: 4,
        sessions: 900,
        delay_samples: 200,
        rounds: 3,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let num = || {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: not a number"))
        };
        match flag.as_str() {
            "--plugin" => a.plugin = Some(PathBuf::from(&v)),
            "--seconds" => a.seconds = num()? as u64,
            "--concurrency" => a.concurrency = num()?.max(1),
            "--sessions" => a.sessions = num()?.max(1),
            "--delay-samples" => a.delay_samples = num()?.max(1),
            "--rounds" => a.rounds = num()?.max(1),
            "--json" => a.json = Some(PathBuf::from(&v)),
            _ => return Err(USAGE.to_string()),
        }
    }
    Ok(a)
}

fn client(mode: Mode) -> Result<Client, String> {
    Client::new(mode, &ClientConfig::default()).map_err(|e| e.to_string())
}

/// Handshakes per second on `target` for `secs`, with `conc` threads, each offering `offer`
/// (or nothing: full handshakes). Returns (rate, share resumed, errors).
fn rate(
    c: &Client,
    target: Target,
    offer: Option<&SslSession>,
    secs: u64,
    conc: usize,
) -> (f64, f64, u64) {
    let stop = AtomicBool::new(false);
    let (done, resumed, errors) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..conc {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    match c.handshake_only(target, offer) {
                        Ok(hs) => {
                            done.fetch_add(1, Ordering::Relaxed);
                            resumed.fetch_add(u64::from(hs.resumed), Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
    });
    let n = done.load(Ordering::Relaxed);
    let share = if n == 0 {
        0.0
    } else {
        resumed.load(Ordering::Relaxed) as f64 / n as f64
    };
    (
        n as f64 / start.elapsed().as_secs_f64(),
        share,
        errors.load(Ordering::Relaxed),
    )
}

/// Full and resumed rates per mode on the plugin node and the control node, interleaved so
/// that both see the same machine load.
fn rates(pod: &Pod, a: &Args, out: &mut Vec<Value>) -> Result<(), String> {
    println!("## Handshakes per second, one node with the plugin and one without\n");
    println!(
        "Median (lowest–highest) of {} runs of {} s each per cell, {} handshakes in flight.\n",
        a.rounds, a.seconds, a.concurrency
    );
    println!("| mode | kind | with plugin (/s) | without (/s) | ratio |");
    println!("|---|---|---:|---:|---:|");
    let nodes: [&AtsNode; 2] = [&pod.nodes()[0], &pod.controls()[0]];
    for mode in Mode::ALL {
        let c = client(mode)?;
        for kind in ["full", "resumed"] {
            // Rounds alternate which node goes first; the median of each side is reported.
            let mut samples: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
            for round in 0..a.rounds {
                for k in 0..2 {
                    let i = (k + round) % 2;
                    let node = nodes[i];
                    let session = match kind {
                        "full" => None,
                        _ => Some(c.establish(node.target()).map_err(|e| e.to_string())?),
                    };
                    let offer = session.as_ref().and_then(|h| h.session.as_ref());
                    let (per_sec, share, errors) =
                        rate(&c, node.target(), offer, a.seconds, a.concurrency);
                    let expected = if offer.is_some() { 1.0 } else { 0.0 };
                    if errors > 0 || (share - expected).abs() > 0.001 {
                        return Err(format!(
                            "{mode} {kind} on {}: {errors} errors, resumed share {share}",
                            node.name()
                        ));
                    }
                    samples[i].push(per_sec);
                }
            }
            let r = [median(&mut samples[0]), median(&mut samples[1])];
            // Each cell: the median, then the lowest and highest run (sorted by median()).
            let cell = |v: &[f64], m: f64| {
                let (lo, hi) = (
                    v.first().copied().unwrap_or(0.0),
                    v.last().copied().unwrap_or(0.0),
                );
                format!("{m:.0} ({lo:.0}–{hi:.0})")
            };
            println!(
                "| {mode} | {kind} | {} | {} | {:.3} |",
                cell(&samples[0], r[0]),
                cell(&samples[1], r[1]),
                r[0] / r[1]
            );
            out.push(json!({"mode": mode.name(), "kind": kind, "plugin_per_sec": samples[0], "control_per_sec": samples[1]}));
        }
    }
    Ok(())
}

/// The median of `v` (sorted in place); 0 when empty.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// One half of the cross-node run: offers every session on every node but its issuer.
fn offer_round(
    pod: &Pod,
    c: &Client,
    sessions: &[(usize, SslSession)],
    conc: usize,
) -> (u64, u64, u64) {
    let n = pod.nodes().len();
    let jobs: Vec<(usize, usize)> = (0..sessions.len())
        .flat_map(|i| (1..n).map(move |k| (i, k)))
        .collect();
    let results = parallel(jobs.len(), conc, |j| {
        let (i, k) = jobs[j];
        let (issuer, s) = &sessions[i];
        c.resume(pod.nodes()[(issuer + k) % n].target(), s)
    });
    let resumed = results
        .iter()
        .filter(|r| matches!(r, Ok(h) if h.resumed))
        .count() as u64;
    let errors = results.iter().filter(|r| r.is_err()).count() as u64;
    (results.len() as u64, resumed, errors)
}

/// Makes `count` sessions, issued round-robin by the nodes.
fn make_sessions(
    pod: &Pod,
    c: &Client,
    count: usize,
    conc: usize,
) -> Result<Vec<(usize, SslSession)>, String> {
    let n = pod.nodes().len();
    let made = parallel(count, conc, |i| {
        c.establish(pod.nodes()[i % n].target()).map(|h| (i % n, h))
    });
    let mut out = Vec::with_capacity(count);
    for r in made {
        let (issuer, hs) = r.map_err(|e| e.to_string())?;
        out.extend(hs.session.map(|s| (issuer, s)));
    }
    Ok(out)
}

/// Cross-node resumption with a rotation in the middle.
fn cross_node(pod: &Pod, a: &Args, out: &mut Vec<Value>) -> Result<(), String> {
    println!("\n## Cross-node resumption over three nodes, rotation in the middle\n");
    println!(
        "| mode | before rotation | after: old sessions | after: new sessions | share resumed |"
    );
    println!("|---|---:|---:|---:|---:|");
    let clients: Vec<Client> = Mode::ALL
        .iter()
        .map(|m| client(*m))
        .collect::<Result<_, _>>()?;
    let mut old = Vec::new();
    let mut first = Vec::new();
    for c in &clients {
        let s = make_sessions(pod, c, a.sessions, a.concurrency)?;
        // Session-ID sharing is asynchronous (see the delay table): let the last ones arrive.
        sleep(Duration::from_millis(300));
        first.push(offer_round(pod, c, &s, a.concurrency));
        old.push(s);
    }
    let epoch = pod
        .wait_keyring_converged(1, Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let (via, new_epoch) = pod
        .rotate_and_activate(Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let (mut total, mut resumed) = (0u64, 0u64);
    for (i, c) in clients.iter().enumerate() {
        let again = offer_round(pod, c, &old[i], a.concurrency);
        let fresh = make_sessions(pod, c, a.sessions, a.concurrency)?;
        sleep(Duration::from_millis(300));
        let new = offer_round(pod, c, &fresh, a.concurrency);
        let rows = [first[i], again, new];
        let t: u64 = rows.iter().map(|r| r.0).sum();
        let r: u64 = rows.iter().map(|r| r.1).sum();
        let cell = |x: (u64, u64, u64)| format!("{}/{}", x.1, x.0);
        println!(
            "| {} | {} | {} | {} | {:.4} |",
            Mode::ALL[i],
            cell(rows[0]),
            cell(rows[1]),
            cell(rows[2]),
            r as f64 / t as f64
        );
        out.push(json!({"mode": Mode::ALL[i].name(), "before": rows[0], "after_old": rows[1], "after_new": rows[2]}));
        total += t;
        resumed += r;
    }
    println!("\nTotal: {resumed}/{total} resumed ({:.4}); rotation via {via:?}, keyring epoch {epoch} -> {new_epoch}.", resumed as f64 / total as f64);
    out.push(json!({"total": total, "resumed": resumed, "epoch_before": epoch, "epoch_after": new_epoch}));
    Ok(())
}

/// From the end of a full handshake on node 1 to the end of the first abbreviated handshake
/// with that session on node 2, polling with handshakes.
fn delays(pod: &Pod, a: &Args, out: &mut Vec<Value>) -> Result<(), String> {
    println!("\n## Delay from a new session on node 1 to its first resumption on node 2\n");
    println!("| mode | samples | p50 (ms) | p99 (ms) | max (ms) | attempts per sample (mean) | never resumed (5 s) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let (n1, n2) = (&pod.nodes()[0], &pod.nodes()[1]);
    for mode in Mode::ALL {
        let c = client(mode)?;
        let (mut ms, mut attempts, mut lost) = (Vec::new(), 0u64, 0u64);
        for _ in 0..a.delay_samples {
            let hs = c.establish(n1.target()).map_err(|e| e.to_string())?;
            let t0 = Instant::now();
            let s = hs.session.ok_or("no session")?;
            loop {
                attempts += 1;
                if matches!(c.resume(n2.target(), &s), Ok(h) if h.resumed) {
                    ms.push(t0.elapsed().as_secs_f64() * 1000.0);
                    break;
                }
                if t0.elapsed() > Duration::from_secs(5) {
                    lost += 1;
                    break;
                }
            }
        }
        ms.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&ms, 50), percentile(&ms, 99));
        let max = ms.last().copied().unwrap_or(0.0);
        let mean = attempts as f64 / a.delay_samples as f64;
        println!(
            "| {mode} | {} | {p50:.3} | {p99:.3} | {max:.3} | {mean:.2} | {lost} |",
            ms.len()
        );
        out.push(json!({"mode": mode.name(), "samples": ms.len(), "p50_ms": p50, "p99_ms": p99, "max_ms": max, "lost": lost}));
    }
    Ok(())
}

fn run(a: Args) -> Result<(), String> {
    let plugin = a
        .plugin
        .clone()
        .or_else(plugin_path)
        .ok_or("no plugin: build it (cmake --build build) or pass --plugin")?;
    let pod = Pod::start(PodOptions {
        nodes: 3,
        control_nodes: 1,
        plugin: Some(plugin),
        ..PodOptions::default()
    })
    .map_err(|e| format!("pod: {e}"))?;
    pod.wait_keyring_converged(1, Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let (mut r, mut x, mut d) = (Vec::new(), Vec::new(), Vec::new());
    rates(&pod, &a, &mut r)?;
    cross_node(&pod, &a, &mut x)?;
    delays(&pod, &a, &mut d)?;
    if let Some(path) = &a.json {
        let v = json!({"rates": r, "cross_node": x, "delays": d});
        std::fs::write(path, serde_json::to_string_pretty(&v).unwrap_or_default())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() -> ExitCode {
    atsreuse_pod::process::install_signal_handler();
    let result = parse_args().and_then(run);
    if atsreuse_pod::process::interrupted() {
        return ExitCode::from(130);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("atsreuse-bench: {e}");
            ExitCode::from(1)
        }
    }
}
