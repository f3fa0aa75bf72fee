//! `atsreuse`: the operator command of a pod of ATS nodes sharing TLS sessions through Redis.
//!
//! ```text
//! atsreuse psk new [--hex]                       a new PSK on stdout
//! atsreuse config check --config F               loads a config file as a node would
//! atsreuse redis-password --config F             the password the nodes send to Redis AUTH
//! atsreuse status --config F                     keyring, leader and subscribers per endpoint
//! atsreuse rotate --config F [--wait SECS]       asks the leader to rotate now
//! atsreuse export --config F --format FMT [...]  the stored keys for ATS, nginx or HAProxy
//! atsreuse vectors check DIR                     checks test vectors against this build
//! ```
//!
//! Exit codes: 0 done; 1 the work failed (Redis unreachable, no keyring, a vector differs);
//! 2 bad usage or an unusable config file.

#[path = "atsreuse/export.rs"]
mod export;
#[path = "atsreuse/pod.rs"]
mod pod;
#[path = "atsreuse/vectors.rs"]
mod vectors;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use atsreuse::config::Config;
use atsreuse::node::LogLevel;
use clap::{Arg, ArgAction, ArgMatches, Command};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

/// A failure: its exit code and what to tell the operator.
#[derive(Debug)]
pub struct Fail {
    /// 1: the work failed; 2: bad usage or config.
    pub code: u8,
    /// One or more lines for stderr.
    pub message: String,
}

impl Fail {
    /// The work failed.
    pub fn work(message: impl Into<String>) -> Fail {
        Fail {
            code: 1,
            message: message.into(),
        }
    }
    /// Bad usage or an unusable config.
    pub fn usage(message: impl Into<String>) -> Fail {
        Fail {
            code: 2,
            message: message.into(),
        }
    }
}

/// The `--config FILE` argument every pod command takes.
pub fn config_arg() -> Arg {
    Arg::new("config")
        .long("config")
        .short('c')
        .value_name("FILE")
        .required(true)
        .value_parser(clap::value_parser!(PathBuf))
        .help("The node's config file (the one plugin.config names)")
}

fn command() -> Command {
    Command::new("atsreuse")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Operator command of atsreuse: TLS session sharing for a pod of ATS nodes")
        .after_help("Exit codes: 0 done, 1 the work failed, 2 bad usage or config.")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("psk").about("Pre-shared keys").subcommand_required(true).subcommand(
                Command::new("new")
                    .about("Prints a new PSK: 32 random bytes as printable text")
                    .after_help("Use: atsreuse psk new > psk.key; chmod 600 psk.key; copy it to every node.")
                    .arg(Arg::new("hex").long("hex").action(ArgAction::SetTrue).help("hex instead of base64")),
            ),
        )
        .subcommand(
            Command::new("config").about("The config file").subcommand_required(true).subcommand(
                Command::new("check")
                    .about("Loads a config file as a node would and prints what it understood (no secrets)")
                    .arg(config_arg()),
            ),
        )
        .subcommand(
            Command::new("redis-password")
                .about("Prints the password the nodes send to Redis AUTH (for requirepass or an ACL user)")
                .arg(config_arg()),
        )
        .subcommand(
            Command::new("status")
                .about("Reads the stored keyring and the leader lease from every Redis endpoint")
                .arg(config_arg()),
        )
        .subcommand(
            Command::new("rotate")
                .about("Asks the pod's leader to rotate now (publishes a rotation request)")
                .arg(config_arg())
                .arg(
                    Arg::new("wait")
                        .long("wait")
                        .value_name("SECS")
                        .value_parser(clap::value_parser!(u64).range(0..=3600))
                        .default_value("0")
                        .help("Wait up to SECS seconds for the stored keyring epoch to grow"),
                ),
        )
        .subcommand(export::command().arg(config_arg()))
        .subcommand(
            Command::new("vectors").about("Test vectors").subcommand_required(true).subcommand(
                Command::new("check")
                    .about("Checks every vector file in DIR against this build of libatsreuse")
                    .arg(Arg::new("dir").value_name("DIR").required(true).value_parser(clap::value_parser!(PathBuf))),
            ),
        )
}

/// Loads the config named by `--config`; its notices go to stderr.
pub fn load_config(args: &ArgMatches) -> Result<Config, Fail> {
    let Some(path) = args.get_one::<PathBuf>("config") else {
        return Err(Fail::usage("--config is required"));
    };
    let config = Config::load(path).map_err(|e| Fail::usage(format!("config: {e}")))?;
    // Ignored old keys (info) are for `config check`; warnings are shown to every command.
    for notice in config.notices.iter().filter(|n| n.level <= LogLevel::Warn) {
        eprintln!("atsreuse: warning: {}", notice.text);
    }
    Ok(config)
}

/// `atsreuse config check`: loads the file as a node would and prints what it understood
/// (no secrets).
fn config_check(args: &ArgMatches) -> Result<(), Fail> {
    let config = load_config(args)?;
    for notice in config.notices.iter().filter(|n| n.level > LogLevel::Warn) {
        println!("note: {}", notice.text);
    }
    let c = &config;
    let endpoints: Vec<String> = c.endpoints.iter().map(ToString::to_string).collect();
    println!("config {} is usable", c.path.display());
    println!("  cluster            {}", c.cluster_name);
    println!("  node name          {}", c.node_name);
    println!("  endpoints          {}", endpoints.join(", "));
    println!("  PSK file           {}", c.psk_file.display());
    println!(
        "  Redis password     {:?}, user {}",
        c.redis_password,
        c.redis_user.as_deref().unwrap_or("(default)")
    );
    println!(
        "  timeouts           connect {} ms, io {} ms, retry {} ms",
        c.connect_timeout.as_millis(),
        c.io_timeout.as_millis(),
        c.retry_delay.as_millis()
    );
    println!(
        "  rotation           every {} s, lead {} s, tickets honoured {} s after",
        c.rotation_interval.as_secs(),
        c.lead_time.as_secs(),
        c.ticket_lifetime.as_secs()
    );
    println!(
        "  lease, poll        {} s, {} s",
        c.lease_time.as_secs(),
        c.keyring_poll_interval.as_secs()
    );
    println!(
        "  sessions           {} s in a map of {}, queue {}",
        c.session_lifetime.as_secs(),
        c.session_map_capacity,
        c.publish_queue_capacity
    );
    println!(
        "  legacy protocol    {:?}, prefer leader {}",
        c.legacy, c.prefer_leader
    );
    Ok(())
}

fn psk_new(args: &ArgMatches) -> Result<(), Fail> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(&mut bytes[..]);
    let mut text = Zeroizing::new(vec![0u8; 64]);
    let len = if args.get_flag("hex") {
        for (i, b) in bytes.iter().enumerate() {
            text[2 * i] = b"0123456789abcdef"[usize::from(b >> 4)];
            text[2 * i + 1] = b"0123456789abcdef"[usize::from(b & 15)];
        }
        64
    } else {
        atsreuse_core::legacy::base64_encode(&bytes[..], &mut text)
            .map_err(|e| Fail::work(format!("base64: {e:?}")))?
    };
    text.truncate(len);
    text.push(b'\n');
    std::io::stdout()
        .write_all(&text)
        .map_err(|e| Fail::work(format!("stdout: {e}")))
}

fn redis_password(args: &ArgMatches) -> Result<(), Fail> {
    let config = load_config(args)?;
    match config.redis_auth_password().map_err(Fail::usage)? {
        Some(password) => {
            let line = Zeroizing::new(format!("{}\n", password.as_str()));
            std::io::stdout()
                .write_all(line.as_bytes())
                .map_err(|e| Fail::work(format!("stdout: {e}")))
        }
        None => {
            eprintln!("atsreuse: atsreuse.redis_password_mode is none: the nodes send no password");
            Ok(())
        }
    }
}

fn run(matches: &ArgMatches) -> Result<(), Fail> {
    match matches.subcommand() {
        Some(("psk", sub)) => match sub.subcommand() {
            Some(("new", args)) => psk_new(args),
            _ => Err(Fail::usage("atsreuse psk: expected `new`")),
        },
        Some(("config", sub)) => match sub.subcommand() {
            Some(("check", args)) => config_check(args),
            _ => Err(Fail::usage("atsreuse config: expected `check`")),
        },
        Some(("redis-password", args)) => redis_password(args),
        Some(("status", args)) => pod::status(&load_config(args)?),
        Some(("rotate", args)) => {
            let wait = args.get_one::<u64>("wait").copied().unwrap_or(0);
            pod::rotate(&load_config(args)?, wait)
        }
        Some(("export", args)) => export::run(&load_config(args)?, args),
        Some(("vectors", sub)) => match sub.subcommand() {
            Some(("check", args)) => match args.get_one::<PathBuf>("dir") {
                Some(dir) => vectors::check(dir),
                None => Err(Fail::usage("atsreuse vectors check: DIR is required")),
            },
            _ => Err(Fail::usage("atsreuse vectors: expected `check DIR`")),
        },
        _ => Err(Fail::usage("expected a command; see atsreuse --help")),
    }
}

fn main() -> ExitCode {
    let matches = command().get_matches();
    match run(&matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fail) => {
            for line in fail.message.lines() {
                eprintln!("atsreuse: {line}");
            }
            ExitCode::from(fail.code)
        }
    }
}
