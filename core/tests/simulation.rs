//! A simulated pod: nodes with skewed clocks share one stored keyring over a lossy, slow
//! network, leaders rotate by the core's schedule, and every ticket any node issues is checked
//! on every node for its whole lifetime.
//!
//! Model (one step every `step_secs` of real time):
//! - Each node has a fixed clock offset; it runs everything at its own clock.
//! - The store is the keyring in Redis. A leader writes its keyring to it (read, merge,
//!   compare-and-set: modelled as a merge into the store); a landed write sends every node a
//!   notice that makes it read the store. Every node also polls the store, and a leader
//!   rewrites its keyring on each poll, so lost writes, notices and reads are repaired.
//! - Every message is delayed by a random time and lost with a fixed probability.
//! - Leaders follow `rotation::plan` and `rotation::apply`; for a while two nodes lead at once.
//! - One node restarts: it comes back empty and reads the store before serving.
//! - Each step, each node issues a ticket with `encrypting_at(its clock)`. A ticket must open
//!   (its key in `decrypting_key(name, clock)`) on every running node from its issue until
//!   `ticket_lifetime_secs` later. Tickets with one key are tracked as one group from its
//!   first to its last issue, which covers every ticket at step resolution since each node
//!   issues one per step.
//! - After each step no node may hold a key at or past its expiry on its own clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use atsreuse_core::keyring::Keyring;
use atsreuse_core::rotation::{self, Settings};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;
/// Real time at the start; far from zero so that negative clock offsets stay positive.
const START: u64 = 1_800_000_000;

/// What the simulated pod looks like.
#[derive(Debug, Clone)]
struct Config {
    seed: u64,
    nodes: usize,
    days: u64,
    step_secs: u64,
    settings: Settings,
    /// How long the nodes honour tickets (normally the lifetime the schedule assumes).
    ticket_lifetime_secs: u64,
    /// Each node's clock is off by up to this much, either way.
    max_clock_offset_secs: u64,
    max_delay_secs: u64,
    loss: f64,
    poll_secs: u64,
    /// Nodes prune only this often instead of at every step (a broken node), when set.
    lazy_prune_secs: Option<u64>,
}

impl Config {
    fn healthy(seed: u64) -> Config {
        let settings = Settings {
            interval_secs: 4 * HOUR,
            lead_secs: 15 * 60,
            ticket_lifetime_secs: 4 * HOUR,
        };
        Config {
            seed,
            nodes: 5,
            days: 30,
            step_secs: 17,
            settings,
            ticket_lifetime_secs: settings.ticket_lifetime_secs,
            max_clock_offset_secs: settings.lead_secs / 2,
            max_delay_secs: 90,
            loss: 0.2,
            poll_secs: 60,
            lazy_prune_secs: None,
        }
    }

    /// The nodes that hold the leader lease at real time `t` (relative to START).
    /// Node 0 leads first, node 1 overlaps with it for two days, then node 3 takes over.
    fn leaders(&self, t: u64) -> impl Iterator<Item = usize> {
        let days = self.days.max(1);
        let first_end = days * 2 / 5;
        let overlap_start = days / 3;
        let second_end = days * 2 / 3;
        let leads = move |node: usize| match node {
            0 => t < first_end * DAY,
            1 => (overlap_start * DAY..second_end * DAY).contains(&t),
            3 => t >= second_end * DAY,
            _ => false,
        };
        (0..self.nodes).filter(move |&n| leads(n))
    }

    /// The restarting node and its downtime, relative to START.
    fn restart(&self) -> (usize, std::ops::Range<u64>) {
        let at = self.days * DAY / 2 + 7 * 60;
        (self.nodes - 1, at..at + 10 * 60)
    }
}

/// What the simulation counted.
#[derive(Debug, Default)]
struct Report {
    /// Seconds after the start when every node first held a key; tickets count from here.
    tracking_from: Option<u64>,
    tickets_issued: u64,
    open_checks: u64,
    expiry_checks: u64,
    keys_made: u64,
    epochs_made_twice: u64,
    max_keys_held: usize,
    messages_sent: u64,
    messages_lost: u64,
    open_violations: u64,
    expiry_violations: u64,
    examples: Vec<String>,
}

impl Report {
    fn violation(&mut self, what: String) {
        if self.examples.len() < 5 {
            self.examples.push(what);
        }
    }
}

enum Event {
    /// A leader's keyring lands in the store.
    Write {
        keyring: Box<Keyring>,
        writer_now: u64,
    },
    /// A node reads the store (after a notice or on its poll).
    Read { node: usize },
}

struct Node {
    offset: i64,
    keyring: Keyring,
    next_plan_at: u64,
    next_poll_at: u64,
    next_lazy_prune_at: u64,
    up: bool,
    /// The store version this node merged last.
    merged_version: Option<u64>,
}

/// Tickets issued with one key: the first and last issue, real time.
struct Group {
    epoch: u64,
    name: [u8; 16],
    first: u64,
    last: u64,
}

struct Sim {
    cfg: Config,
    rng: ChaCha8Rng,
    nodes: Vec<Node>,
    store: Keyring,
    /// Counts the changes of the store.
    store_version: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: HashMap<u64, Event>,
    next_event: u64,
    groups: HashMap<(u64, [u8; 16]), Group>,
    epochs: HashMap<u64, Vec<[u8; 16]>>,
    report: Report,
}

impl Sim {
    fn new(cfg: Config) -> Sim {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let max = i64::try_from(cfg.max_clock_offset_secs).expect("offset fits");
        let nodes = (0..cfg.nodes)
            .map(|index| {
                // The first leader runs as slow as allowed and node 2 as fast as allowed:
                // the worst pair is always present; the others are random.
                // Node 1, the second leader, runs close to node 0 so that during their
                // overlap both make the next key before hearing of the other's.
                let offset = match index {
                    0 => -max,
                    1 => -max + rng.gen_range(0..=max / 10),
                    2 => max,
                    _ => rng.gen_range(-max..=max),
                };
                Node {
                    offset,
                    keyring: Keyring::new(),
                    next_plan_at: 0,
                    next_poll_at: START + rng.gen_range(0..cfg.poll_secs),
                    next_lazy_prune_at: 0,
                    up: true,
                    merged_version: None,
                }
            })
            .collect();
        Sim {
            cfg,
            rng,
            nodes,
            store: Keyring::new(),
            store_version: 0,
            queue: BinaryHeap::new(),
            events: HashMap::new(),
            next_event: 0,
            groups: HashMap::new(),
            epochs: HashMap::new(),
            report: Report::default(),
        }
    }

    fn clock(&self, node: usize, real: u64) -> u64 {
        real.checked_add_signed(self.nodes[node].offset)
            .expect("clock in range")
    }

    /// Sends `event` with a random delay, or loses it.
    fn send(&mut self, now: u64, event: Event) {
        self.report.messages_sent += 1;
        if self.rng.gen_bool(self.cfg.loss) {
            self.report.messages_lost += 1;
            return;
        }
        let at = now + self.rng.gen_range(0..=self.cfg.max_delay_secs);
        self.queue.push(Reverse((at, self.next_event)));
        self.events.insert(self.next_event, event);
        self.next_event += 1;
    }

    fn deliver(&mut self, real: u64) {
        while let Some(&Reverse((at, id))) = self.queue.peek() {
            if at > real {
                break;
            }
            self.queue.pop();
            match self.events.remove(&id).expect("queued event") {
                Event::Write {
                    keyring,
                    writer_now,
                } => {
                    if self.store.merge(&keyring, writer_now) {
                        self.store_version += 1;
                    }
                    for node in 0..self.cfg.nodes {
                        self.send(real, Event::Read { node });
                    }
                }
                Event::Read { node } => self.read_store(node, real),
            }
        }
    }

    /// Merges the stored keyring into `node`'s. A store unchanged since this node last merged
    /// it is skipped: merging it again could only bring keys the node has since pruned as
    /// expired, which merge leaves out anyway (this keeps the debug-build run short).
    fn read_store(&mut self, node: usize, real: u64) {
        let now = self.clock(node, real);
        let state = &mut self.nodes[node];
        if !state.up || state.merged_version == Some(self.store_version) {
            return;
        }
        state.keyring.merge(&self.store, now);
        state.merged_version = Some(self.store_version);
    }

    fn write_from(&mut self, node: usize, real: u64) {
        let keyring = Box::new(self.nodes[node].keyring.duplicate());
        let writer_now = self.clock(node, real);
        self.send(
            real,
            Event::Write {
                keyring,
                writer_now,
            },
        );
    }

    /// Downtime, restart with a read of the store, pruning, polling.
    fn housekeeping(&mut self, node: usize, real: u64) {
        let now = self.clock(node, real);
        let (restarting, down) = self.cfg.restart();
        let elapsed = real - START;
        if node == restarting {
            let up = !down.contains(&elapsed);
            if up && !self.nodes[node].up {
                // A node starts by reading the stored keyring (retried until it answers).
                let mut fresh = Keyring::new();
                fresh.merge(&self.store, now);
                self.nodes[node].keyring = fresh;
                self.nodes[node].merged_version = Some(self.store_version);
            }
            if !up {
                self.nodes[node].keyring = Keyring::new();
            }
            self.nodes[node].up = up;
        }
        match self.cfg.lazy_prune_secs {
            None => {
                self.nodes[node].keyring.prune(now);
            }
            Some(every) if now >= self.nodes[node].next_lazy_prune_at => {
                self.nodes[node].keyring.prune(now);
                self.nodes[node].next_lazy_prune_at = now + every;
            }
            Some(_) => {}
        }
        if real >= self.nodes[node].next_poll_at {
            self.nodes[node].next_poll_at += self.cfg.poll_secs;
            self.send(real, Event::Read { node });
            if self.cfg.leaders(elapsed).any(|n| n == node) {
                self.write_from(node, real);
            }
        }
    }

    fn lead(&mut self, node: usize, real: u64) {
        let now = self.clock(node, real);
        if now < self.nodes[node].next_plan_at {
            return;
        }
        let plan = rotation::plan(&self.cfg.settings, &self.nodes[node].keyring, now);
        let changed = rotation::apply(&plan, &mut self.nodes[node].keyring, now, &mut self.rng);
        self.nodes[node].next_plan_at = plan.next_check_at;
        if let Some((epoch, _)) = plan.introduce {
            let newest = self.nodes[node].keyring.entries().iter().rev();
            let made = newest.filter(|e| e.epoch == epoch).map(|e| *e.stek.name());
            let names = self.epochs.entry(epoch).or_default();
            for name in made {
                if !names.contains(&name) {
                    names.push(name);
                    self.report.keys_made += 1;
                }
            }
        }
        if changed {
            self.write_from(node, real);
        }
    }

    fn issue_tickets(&mut self, real: u64) {
        if self.report.tracking_from.is_none() {
            // Bootstrap: the first key is active at once and reaches the other nodes only
            // after a delay; until every node holds a key, tickets are not tracked (a node
            // serving before that uses a key of its own that no other node opens anyway).
            if self.nodes.iter().any(|n| n.keyring.is_empty()) {
                return;
            }
            self.report.tracking_from = Some(real - START);
        }
        for node in 0..self.cfg.nodes {
            if !self.nodes[node].up {
                continue;
            }
            let now = self.clock(node, real);
            let Some(key) = self.nodes[node].keyring.encrypting_at(now) else {
                continue;
            };
            self.report.tickets_issued += 1;
            let (epoch, name) = (key.epoch, *key.stek.name());
            let group = self.groups.entry((epoch, name)).or_insert(Group {
                epoch,
                name,
                first: real,
                last: real,
            });
            group.last = real;
        }
    }

    fn check(&mut self, real: u64) {
        let lifetime = self.cfg.ticket_lifetime_secs;
        self.groups.retain(|_, g| real <= g.last + lifetime);
        let mut failures = Vec::new();
        for group in self.groups.values() {
            for node in 0..self.cfg.nodes {
                if !self.nodes[node].up {
                    continue;
                }
                self.report.open_checks += 1;
                let now = self.clock(node, real);
                let found = self.nodes[node].keyring.decrypting_key(&group.name, now);
                if found.map(|e| e.epoch) != Some(group.epoch) {
                    failures.push(format!(
                        "t+{}s: node {node} cannot open tickets of epoch {} issued from t+{}s",
                        real - START,
                        group.epoch,
                        group.first - START
                    ));
                }
            }
        }
        self.report.open_violations += failures.len() as u64;
        for failure in failures {
            self.report.violation(failure);
        }
        for node in 0..self.cfg.nodes {
            let now = self.clock(node, real);
            let keyring = &self.nodes[node].keyring;
            self.report.expiry_checks += 1;
            self.report.max_keys_held = self.report.max_keys_held.max(keyring.len());
            let expired = keyring
                .entries()
                .iter()
                .filter(|e| e.times.expire_at <= now)
                .count();
            if expired > 0 {
                self.report.expiry_violations += expired as u64;
                let what = format!(
                    "t+{}s: node {node} holds {expired} expired keys",
                    real - START
                );
                self.report.violation(what);
            }
        }
    }

    fn run(mut self) -> Report {
        let end = START + self.cfg.days * DAY;
        let mut real = START;
        while real < end {
            self.deliver(real);
            for node in 0..self.cfg.nodes {
                self.housekeeping(node, real);
            }
            let leaders: Vec<usize> = self.cfg.leaders(real - START).collect();
            for node in leaders {
                if self.nodes[node].up {
                    self.lead(node, real);
                }
            }
            self.issue_tickets(real);
            self.check(real);
            real += self.cfg.step_secs;
        }
        self.report.epochs_made_twice = self.epochs.values().filter(|n| n.len() > 1).count() as u64;
        self.report
    }
}

fn print(title: &str, cfg: &Config, report: &Report) {
    println!(
        "{title}: {} nodes, {} days, step {} s, interval {} s, lead {} s, lifetime {} s, \
         clock offsets up to {} s, delays up to {} s, loss {}",
        cfg.nodes,
        cfg.days,
        cfg.step_secs,
        cfg.settings.interval_secs,
        cfg.settings.lead_secs,
        cfg.ticket_lifetime_secs,
        cfg.max_clock_offset_secs,
        cfg.max_delay_secs,
        cfg.loss
    );
    println!(
        "  tickets tracked from t+{:?}s (every node holds a key)",
        report.tracking_from
    );
    println!(
        "  tickets issued {}, open checks (ticket group x node x step) {}, expiry checks {}",
        report.tickets_issued, report.open_checks, report.expiry_checks
    );
    println!(
        "  keys made {}, epochs made twice (two leaders) {}, most keys held {}, \
         messages {} ({} lost)",
        report.keys_made,
        report.epochs_made_twice,
        report.max_keys_held,
        report.messages_sent,
        report.messages_lost
    );
    println!(
        "  violations: tickets that did not open {}, expired keys held {}",
        report.open_violations, report.expiry_violations
    );
    for example in &report.examples {
        println!("    {example}");
    }
}

#[test]
fn a_pod_of_five_over_thirty_days_opens_every_ticket_and_keeps_no_expired_key() {
    let cfg = Config::healthy(20_261_204);
    assert_eq!(cfg.settings.validate(), Ok(()));
    let report = Sim::new(cfg.clone()).run();
    print("healthy pod", &cfg, &report);

    assert_eq!(report.open_violations, 0, "{:?}", report.examples);
    assert_eq!(report.expiry_violations, 0, "{:?}", report.examples);
    // The run really exercised what it claims to.
    let rotations = cfg.days * DAY / cfg.settings.interval_secs;
    assert!(
        report.keys_made >= rotations,
        "{} keys for {rotations} rotations",
        report.keys_made
    );
    assert!(
        report.epochs_made_twice > 0,
        "the two leaders never made competing keys"
    );
    assert!(report.tickets_issued > 600_000);
    assert!(report.messages_lost > 10_000);
}

#[test]
fn the_product_defaults_hold_in_the_same_pod() {
    // The defaults of bindings/src/config.rs: rotate every 7 hours (the old plugin's example
    // KeyUpdateInterval), 5 minutes lead, tickets honoured for a day, keyring polled every
    // minute.
    let mut cfg = Config::healthy(11);
    cfg.settings = Settings {
        interval_secs: 25_200,
        lead_secs: 300,
        ticket_lifetime_secs: 86_400,
    };
    cfg.ticket_lifetime_secs = cfg.settings.ticket_lifetime_secs;
    cfg.max_clock_offset_secs = cfg.settings.lead_secs / 2;
    assert_eq!(cfg.settings.validate(), Ok(()));
    let report = Sim::new(cfg.clone()).run();
    print("product defaults", &cfg, &report);
    assert_eq!(report.open_violations, 0, "{:?}", report.examples);
    assert_eq!(report.expiry_violations, 0, "{:?}", report.examples);
    assert!(
        report.epochs_made_twice > 0,
        "the two leaders never made competing keys"
    );
}

#[test]
fn lead_time_zero_lets_nodes_issue_tickets_others_cannot_open() {
    let mut cfg = Config::healthy(7);
    cfg.days = 6;
    cfg.settings.lead_secs = 0;
    let report = Sim::new(cfg.clone()).run();
    print("lead time 0", &cfg, &report);
    assert!(
        report.open_violations > 0,
        "a broken lead time went unnoticed"
    );
}

#[test]
fn tickets_honoured_longer_than_the_schedule_assumes_outlive_their_keys() {
    let mut cfg = Config::healthy(8);
    cfg.days = 6;
    cfg.ticket_lifetime_secs = cfg.settings.ticket_lifetime_secs * 2;
    let report = Sim::new(cfg.clone()).run();
    print("keys pruned before their tickets expire", &cfg, &report);
    assert!(
        report.open_violations > 0,
        "keys pruned too early went unnoticed"
    );
    assert_eq!(report.expiry_violations, 0);
}

#[test]
fn nodes_that_prune_lazily_are_caught_holding_expired_keys() {
    let mut cfg = Config::healthy(9);
    cfg.days = 6;
    cfg.lazy_prune_secs = Some(HOUR);
    let report = Sim::new(cfg.clone()).run();
    print("lazy pruning", &cfg, &report);
    assert!(
        report.expiry_violations > 0,
        "expired keys held went unnoticed"
    );
}
