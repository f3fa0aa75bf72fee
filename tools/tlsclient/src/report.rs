//! The JSON report: per mode and target, how many handshakes resumed, how many were full,
//! how many failed, and latency percentiles.

use std::time::Duration;

use serde::Serialize;

/// Latency percentiles in milliseconds (nearest rank), over successful handshakes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    /// Percentiles of `samples` (all zero when there are none).
    pub fn of(samples: &[Duration]) -> Latency {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        Latency {
            p50: percentile(&ms, 50),
            p90: percentile(&ms, 90),
            p99: percentile(&ms, 99),
            max: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// Nearest-rank percentile of sorted values, rounded to microseconds.
pub fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank: ceil(p% of n), 1-based.
    let rank = (p * sorted.len()).div_ceil(100);
    let v = sorted[rank.clamp(1, sorted.len()) - 1];
    (v * 1000.0).round() / 1000.0
}

/// What happened on one target in one phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetReport {
    /// `HOST:PORT`.
    pub target: String,
    /// `establish` or `resume`.
    pub phase: String,
    /// Handshakes tried.
    pub attempts: u64,
    /// Abbreviated handshakes (the offered session was taken).
    pub resumed: u64,
    /// Full handshakes.
    pub full: u64,
    /// Handshakes that failed.
    pub errors: u64,
    /// Latency of the successful handshakes.
    pub latency_ms: Latency,
    /// The first few error messages.
    pub error_samples: Vec<String>,
}

/// Everything one mode did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModeReport {
    /// The mode name.
    pub mode: String,
    /// The establishing phase (absent when sessions came from a file).
    pub establish: Option<TargetReport>,
    /// One entry per resume target.
    pub resume: Vec<TargetReport>,
}

impl ModeReport {
    /// Resumed handshakes over all resume targets.
    pub fn resumed(&self) -> u64 {
        self.resume.iter().map(|r| r.resumed).sum()
    }

    /// Resume attempts over all resume targets.
    pub fn resume_attempts(&self) -> u64 {
        self.resume.iter().map(|r| r.attempts).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50), 50.0);
        assert_eq!(percentile(&v, 99), 99.0);
        assert_eq!(percentile(&[7.0], 90), 7.0);
        assert_eq!(percentile(&[], 50), 0.0);
    }
}
