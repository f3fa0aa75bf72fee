//! `atsreuse-pod`: the main job shown end to end. Starts one redis-server and three ATS nodes
//! with the atsreuse plugin on 127.0.0.1, makes sessions on node 1 in each mode, resumes them
//! on nodes 2 and 3, forces a rotation, and shows that sessions made before it and after it
//! resume everywhere. Exits 1 when any resumption fails, 2 when the pod cannot start.

use std::path::PathBuf;
use std::process::ExitCode;
use std::thread::sleep;
use std::time::Duration;

use atsreuse_pod::resume::{short_name, Outcome, Sessions};
use atsreuse_pod::{plugin_path, AtsNode, Pod, PodOptions};
use atsreuse_tlsclient::Mode;

const USAGE: &str = "usage: atsreuse-pod [--plugin PATH] [--count N] [--nodes N]
  --plugin PATH   the plugin .so (default $ATSREUSE_PLUGIN, else build/c-plugin/atsreuse.so)
  --count N       sessions per mode (default 20)
  --nodes N       ATS nodes, at least 2 (default 3)";

/// Session-ID sharing goes through Redis pub/sub: a session reaches the other nodes some
/// milliseconds after the handshake that made it (docs/benchmarks.md has the figures). The
/// demo waits this long between making sessions and offering them elsewhere.
const PROPAGATION_WAIT: Duration = Duration::from_millis(300);

struct Args {
    plugin: Option<PathBuf>,
    count: usize,
    nodes: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        plugin: None,
        count: 20,
        nodes: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--plugin" => a.plugin = Some(PathBuf::from(value()?)),
            "--count" => a.count = value()?.parse().map_err(|_| "--count: not a number")?,
            "--nodes" => a.nodes = value()?.parse().map_err(|_| "--nodes: not a number")?,
            _ => return Err(USAGE.to_string()),
        }
    }
    if a.nodes < 2 || a.count == 0 {
        return Err(USAGE.to_string());
    }
    Ok(a)
}

fn label(mode: Mode) -> &'static str {
    match mode {
        Mode::Tls12Ticket => "TLS 1.2 ticket",
        Mode::Tls12Id => "TLS 1.2 session id",
        Mode::Tls13Ticket => "TLS 1.3 ticket",
    }
}

/// Prints one table: a row per mode, a column per node.
fn print_table(title: &str, columns: &[String], rows: &[(Mode, Vec<Outcome>)]) {
    println!("\n{title}");
    print!("  {:<20}", "");
    for c in columns {
        print!("{c:>14}");
    }
    println!();
    for (mode, outcomes) in rows {
        print!("  {:<20}", label(*mode));
        for o in outcomes {
            print!("{:>14}", o.cell());
        }
        println!();
    }
}

/// Waits until every node holds the same keyring; says so when the plugin shows no epoch.
fn settle(pod: &Pod, min_epoch: u64) -> Result<u64, String> {
    pod.wait_keyring_converged(min_epoch, Duration::from_secs(30))
        .map_err(|e| format!("keyring: {e}"))
}

/// One table row per mode: the outcome on each node offered the sessions.
type Rows = Vec<(Mode, Vec<Outcome>)>;

/// For each mode: `count` sessions made on `first`, then offered on each of `others`.
fn establish_and_resume(
    first: &AtsNode,
    others: &[&AtsNode],
    count: usize,
) -> Result<(Vec<Sessions>, Rows), String> {
    let mut made = Vec::new();
    let mut rows = Vec::new();
    for mode in Mode::ALL {
        let s = Sessions::establish(mode, first, count).map_err(|e| e.to_string())?;
        sleep(PROPAGATION_WAIT);
        rows.push((mode, others.iter().map(|n| s.resume_on(n)).collect()));
        made.push(s);
    }
    Ok((made, rows))
}

fn run(args: Args) -> Result<bool, String> {
    let plugin = match args.plugin {
        Some(p) => p,
        None => plugin_path().ok_or(
            "no plugin: build it (cmake -S . -B build && cmake --build build) or pass --plugin",
        )?,
    };
    println!(
        "starting redis-server and {} ATS nodes with {}",
        args.nodes,
        plugin.display()
    );
    let pod = Pod::start(PodOptions {
        nodes: args.nodes,
        plugin: Some(plugin),
        ..PodOptions::default()
    })
    .map_err(|e| format!("pod: {e}"))?;
    for n in pod.nodes() {
        println!(
            "  {}: TLS 127.0.0.1:{}  stats http://127.0.0.1:{}/_stats",
            n.name(),
            n.tls_port(),
            n.http_port()
        );
    }
    println!(
        "  redis: 127.0.0.1:{}  dir: {}",
        pod.redis().port(),
        pod.dir().display()
    );
    let epoch = settle(&pod, 1)?;
    println!("  every node holds keyring epoch {epoch}");

    let first = &pod.nodes()[0];
    let others: Vec<_> = pod.nodes()[1..].iter().collect();
    let other_names: Vec<String> = others.iter().map(|n| n.name().to_string()).collect();
    let all_names: Vec<String> = pod.nodes().iter().map(|n| n.name().to_string()).collect();
    let mut ok = true;

    // Round 1: made on node 1, offered on every other node.
    let (before, rows) = establish_and_resume(first, &others, args.count)?;
    ok &= rows.iter().all(|(_, o)| o.iter().all(Outcome::all_resumed));
    print_table(
        &format!(
            "made on {} (full handshakes), resumed on (resumed/attempts):",
            first.name()
        ),
        &other_names,
        &rows,
    );

    // The rotation, then the old sessions everywhere and new ones from node 1.
    let (via, new_epoch) = pod
        .rotate_and_activate(Duration::from_secs(30))
        .map_err(|e| format!("rotation: {e}"))?;
    println!(
        "\nrotation sent via {via:?}; every node holds keyring epoch {new_epoch} and \
         seals new tickets with its new key"
    );
    let rows: Vec<_> = before
        .iter()
        .map(|s| {
            let outcomes: Vec<Outcome> = pod.nodes().iter().map(|n| s.resume_on(n)).collect();
            (s.mode(), outcomes)
        })
        .collect();
    ok &= rows.iter().all(|(_, o)| o.iter().all(Outcome::all_resumed));
    print_table(
        "made before the rotation, resumed after it on:",
        &all_names,
        &rows,
    );

    let (after, rows) = establish_and_resume(first, &others, args.count)?;
    ok &= rows.iter().all(|(_, o)| o.iter().all(Outcome::all_resumed));
    print_table(
        &format!("made after the rotation on {}, resumed on:", first.name()),
        &other_names,
        &rows,
    );
    ok &= print_key_names(&before, &after);
    // The counters reach the stats page through a plugin timer and ATS's own fold, which
    // under traffic_manager can lag several seconds: wait until node 1 shows both rounds of
    // session-id sessions published (at most 15 s), then one more fold.
    let published = 2 * args.count as u64;
    let shown = first.wait_stat(
        "plugin.atsreuse.sessions_published",
        Duration::from_secs(15),
        |v| v >= published,
    );
    if let Err(e) = shown {
        println!("\nstats: {e}");
    }
    sleep(Duration::from_millis(1500));
    print_plugin_stats(&pod);
    for crash in pod.crashes() {
        println!("\n{crash}");
        ok = false;
    }
    Ok(ok)
}

/// Prints the STEK names (first 4 bytes; sent in clear in every ticket) that sealed the
/// tickets made before and after the rotation. True when, in each ticket mode, all tickets of
/// a round share one name and the names differ across the rotation.
fn print_key_names(before: &[Sessions], after: &[Sessions]) -> bool {
    println!("\nticket key names (first 4 bytes), before -> after the rotation:");
    let mut ok = true;
    for (b, a) in before.iter().zip(after) {
        if b.mode() == Mode::Tls12Id {
            continue;
        }
        let (nb, na) = (b.ticket_key_names(), a.ticket_key_names());
        let show = |names: &std::collections::BTreeSet<[u8; 16]>| {
            let v: Vec<String> = names.iter().map(short_name).collect();
            v.join(",")
        };
        let switched = nb.len() == 1 && na.len() == 1 && nb != na;
        ok &= switched;
        let verdict = if switched {
            ""
        } else {
            "  <- the key did not change"
        };
        println!(
            "  {:<20}{} -> {}{verdict}",
            label(b.mode()),
            show(&nb),
            show(&na)
        );
    }
    ok
}

/// The plugin's own counters on each node, as ATS shows them.
fn print_plugin_stats(pod: &Pod) {
    println!("\nplugin statistics:");
    for n in pod.nodes() {
        let Ok(stats) = n.stats() else { continue };
        let mine: Vec<String> = stats
            .iter()
            .filter(|(k, v)| k.contains("atsreuse") && v.as_str() != "0")
            .map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k)))
            .collect();
        println!("  {}: {}", n.name(), mine.join(" "));
    }
}

fn main() -> ExitCode {
    atsreuse_pod::process::install_signal_handler();
    let result = parse_args().and_then(run);
    if atsreuse_pod::process::interrupted() {
        return ExitCode::from(130);
    }
    match result {
        Ok(true) => {
            println!("\nall sessions resumed on every node");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("\nFAILED: some sessions did not resume (see the tables above)");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("atsreuse-pod: {e}");
            ExitCode::from(2)
        }
    }
}
