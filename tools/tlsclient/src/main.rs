//! `atsreuse-tlsclient`: establishes TLS sessions on one node, resumes them on others, and
//! prints a JSON report. Loopback targets only.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use atsreuse_tlsclient::{
    load_sessions, run_mode, save_sessions, ClientConfig, Error, Mode, RunPlan, SavedSession,
    Target, Verify,
};

const USAGE: &str = "\
usage: atsreuse-tlsclient [options]
  --establish HOST:PORT   node where sessions are made (full handshakes)
  --resume HOST:PORT      node where each session is offered (repeatable)
  --mode M                tls12-ticket | tls12-id | tls13-ticket | all (repeatable; default all)
  --count N               sessions to make per mode (default 10)
  --concurrency C         handshakes in flight at once (default 4)
  --no-verify             do not check the server certificate (self-signed test nodes)
  --ca-file F             check the server certificate against this CA file
  --server-name NAME      SNI and expected certificate name (default localhost)
  --timeout-ms MS         connect/read/write bound (default 5000)
  --save-sessions F       write the sessions made to F (PEM blocks)
  --load-sessions F       also offer the sessions in F (made by an earlier run)
Targets must be loopback addresses (127.0.0.0/8, ::1, localhost).
Prints one JSON object; exit code 0 when no handshake failed.";

struct Args {
    establish: Option<Target>,
    resume: Vec<Target>,
    modes: Vec<Mode>,
    count: usize,
    concurrency: usize,
    client: ClientConfig,
    no_verify: bool,
    save: Option<PathBuf>,
    load: Option<PathBuf>,
}

fn parse_args() -> Result<Args, Error> {
    let mut a = Args {
        establish: None,
        resume: Vec::new(),
        modes: Vec::new(),
        count: 10,
        concurrency: 4,
        client: ClientConfig::default(),
        no_verify: false,
        save: None,
        load: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| Error::Usage(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--establish" => a.establish = Some(Target::parse(&value()?)?),
            "--resume" => a.resume.push(Target::parse(&value()?)?),
            "--mode" => match value()?.as_str() {
                "all" => a.modes.extend(Mode::ALL),
                m => a.modes.push(Mode::parse(m)?),
            },
            "--count" => a.count = number(&flag, &value()?)?,
            "--concurrency" => a.concurrency = number(&flag, &value()?)?.max(1),
            "--no-verify" => a.no_verify = true,
            "--ca-file" => a.client.verify = Verify::CaFile(PathBuf::from(value()?)),
            "--server-name" => a.client.server_name = value()?,
            "--timeout-ms" => {
                a.client.timeout = Duration::from_millis(number(&flag, &value()?)? as u64)
            }
            "--save-sessions" => a.save = Some(PathBuf::from(value()?)),
            "--load-sessions" => a.load = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(Error::Usage(USAGE.to_string())),
            other => return Err(Error::Usage(format!("unknown option {other}\n{USAGE}"))),
        }
    }
    if a.modes.is_empty() {
        a.modes.extend(Mode::ALL);
    }
    if a.no_verify {
        a.client.verify = Verify::None;
    } else if matches!(a.client.verify, Verify::None) {
        return Err(Error::Usage(
            "choose --ca-file F or --no-verify (test nodes use self-signed certificates)".into(),
        ));
    }
    if a.establish.is_none() && a.load.is_none() {
        return Err(Error::Usage(format!(
            "need --establish or --load-sessions\n{USAGE}"
        )));
    }
    Ok(a)
}

fn number(flag: &str, v: &str) -> Result<usize, Error> {
    v.parse()
        .map_err(|_| Error::Usage(format!("{flag}: not a number: {v:?}")))
}

fn run(args: Args) -> Result<bool, Error> {
    let mut loaded = match &args.load {
        Some(path) => load_sessions(path)?,
        None => Vec::new(),
    };
    let mut reports = Vec::new();
    let mut made_all: Vec<SavedSession> = Vec::new();
    let mut clean = true;
    for &mode in &args.modes {
        let (mine, rest): (Vec<_>, Vec<_>) = loaded.into_iter().partition(|s| s.mode == mode);
        loaded = rest;
        let plan = RunPlan {
            mode,
            establish: args.establish,
            resume: args.resume.clone(),
            count: args.count,
            concurrency: args.concurrency,
            client: args.client.clone(),
            loaded: mine,
        };
        let (report, made) = run_mode(&plan)?;
        let errors = report
            .establish
            .iter()
            .chain(&report.resume)
            .map(|r| r.errors);
        clean &= errors.sum::<u64>() == 0;
        reports.push(report);
        made_all.extend(made);
    }
    if let Some(path) = &args.save {
        save_sessions(path, &made_all)?;
    }
    let json = serde_json::json!({ "modes": reports });
    println!(
        "{}",
        serde_json::to_string_pretty(&json).map_err(|e| Error::Usage(e.to_string()))?
    );
    Ok(clean)
}

fn main() -> ExitCode {
    let result = parse_args().and_then(run);
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("atsreuse-tlsclient: {e}");
            ExitCode::from(2)
        }
    }
}
