//! A run of one mode: establish sessions on one node, then offer each on every resume target.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use openssl::ssl::SslSession;

use crate::report::{Latency, ModeReport, TargetReport};
use crate::{Client, ClientConfig, Error, Handshake, Mode, SavedSession, Target};

/// How many error messages a report keeps per target.
const ERROR_SAMPLES: usize = 5;

/// What to do in one mode.
pub struct RunPlan {
    /// The mode.
    pub mode: Mode,
    /// Where sessions are made; `None` when they come from `loaded`.
    pub establish: Option<Target>,
    /// Where each session is offered.
    pub resume: Vec<Target>,
    /// Sessions to make on `establish`.
    pub count: usize,
    /// Handshakes in flight at once.
    pub concurrency: usize,
    /// Client settings.
    pub client: ClientConfig,
    /// Sessions from a file, offered instead of new ones (only those of this mode are used).
    pub loaded: Vec<SavedSession>,
}

/// Runs `plan`: returns the report and the sessions made (for saving).
pub fn run_mode(plan: &RunPlan) -> Result<(ModeReport, Vec<SavedSession>), Error> {
    let client = Client::new(plan.mode, &plan.client)?;
    let mut report = ModeReport {
        mode: plan.mode.name().to_string(),
        ..ModeReport::default()
    };
    let mut made = Vec::new();
    let mut offered: Vec<&SslSession> = plan
        .loaded
        .iter()
        .filter(|s| s.mode == plan.mode)
        .map(|s| &s.session)
        .collect();

    if let Some(target) = plan.establish {
        let results = parallel(plan.count, plan.concurrency, |_| client.establish(target));
        let (r, sessions) = summarize(target, "establish", results);
        report.establish = Some(r);
        made = sessions
            .into_iter()
            .map(|session| SavedSession {
                mode: plan.mode,
                issued_by: target.to_string(),
                session,
            })
            .collect();
        offered.extend(made.iter().map(|s| &s.session));
    }

    for &target in &plan.resume {
        let results = parallel(offered.len(), plan.concurrency, |i| {
            client.resume(target, offered[i])
        });
        report.resume.push(summarize(target, "resume", results).0);
    }
    Ok((report, made))
}

/// Runs `job(0..n)` on `concurrency` threads; results come back in index order.
pub fn parallel<T, F>(n: usize, concurrency: usize, job: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Sync,
{
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..concurrency.clamp(1, n.max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = job(i);
                if let Ok(mut o) = out.lock() {
                    o[i] = Some(r);
                }
            });
        }
    });
    out.into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

fn summarize(
    target: Target,
    phase: &str,
    results: Vec<Result<Handshake, Error>>,
) -> (TargetReport, Vec<SslSession>) {
    let mut r = TargetReport {
        target: target.to_string(),
        phase: phase.to_string(),
        ..TargetReport::default()
    };
    let mut latencies: Vec<Duration> = Vec::new();
    let mut sessions = Vec::new();
    for res in results {
        r.attempts += 1;
        match res {
            Ok(hs) => {
                if hs.resumed {
                    r.resumed += 1;
                } else {
                    r.full += 1;
                }
                latencies.push(hs.latency);
                sessions.extend(hs.session);
            }
            Err(e) => {
                r.errors += 1;
                if r.error_samples.len() < ERROR_SAMPLES {
                    r.error_samples.push(e.to_string());
                }
            }
        }
    }
    r.latency_ms = Latency::of(&latencies);
    (r, sessions)
}
