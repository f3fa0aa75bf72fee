//! Child processes the harness starts: each in its own session (so that killing its process
//! group also kills what it forks, e.g. `traffic_manager`'s `traffic_server`), killed by the
//! kernel if the harness thread that started it dies, and killed on Ctrl-C or SIGTERM.
//!
//! Everything started is recorded in a process-wide registry; a signal handler (installed on
//! first use) kills every recorded process group with SIGKILL, removes the recorded temporary
//! directories and exits with status 130.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::thread::sleep;
use std::time::{Duration, Instant};

static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// True once Ctrl-C or SIGTERM arrived. A program's main thread may see its processes vanish
/// (and fail) before the handler's exit; it checks this to exit with 130 all the same.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Installs the Ctrl-C / SIGTERM handler once per process. When the program has its own
/// handler already (ctrlc allows one), ours is not installed and the caller's Drop impls
/// remain the only cleanup.
pub fn install_signal_handler() {
    HANDLER.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("atsreuse-pod: interrupted, stopping every process started");
            kill_all_registered();
            std::process::exit(130);
        });
    });
}

/// Kills every registered process group and removes every registered directory.
pub fn kill_all_registered() {
    let groups: Vec<i32> = GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
    for pgid in groups {
        signal_group(pgid, libc::SIGKILL);
    }
    let dirs: Vec<PathBuf> = DIRS.lock().map(|d| d.clone()).unwrap_or_default();
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Records a temporary directory, removed on Ctrl-C.
pub fn register_dir(dir: &Path) {
    if let Ok(mut d) = DIRS.lock() {
        d.push(dir.to_path_buf());
    }
}

/// Forgets a directory (removed by its owner).
pub fn unregister_dir(dir: &Path) {
    if let Ok(mut d) = DIRS.lock() {
        d.retain(|x| x != dir);
    }
}

fn signal_group(pgid: i32, sig: i32) {
    // A group id of 0 or below would address this process's own group or every process.
    if pgid > 1 {
        // SAFETY: kill(2) has no memory effects; a negative pid addresses the process group
        // made by setsid() in the child, whose id is the child's pid.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// A started child process, its group killed on drop.
#[derive(Debug)]
pub struct Guarded {
    child: Child,
    name: String,
    exited: Option<ExitStatus>,
}

impl Guarded {
    /// Starts `cmd` in a new session with a parent-death signal, and records its group.
    pub fn spawn(name: &str, cmd: &mut Command) -> io::Result<Guarded> {
        install_signal_handler();
        // SAFETY: the closure runs in the child between fork and exec and calls only
        // async-signal-safe functions (setsid, prctl), touching no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                // Killed by the kernel when the thread that started it dies, so that a
                // harness killed with SIGKILL leaves nothing behind.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {name}: {e}")))?;
        if let Ok(mut g) = GROUPS.lock() {
            g.push(pid_of(&child));
        }
        Ok(Guarded {
            child,
            name: name.to_string(),
            exited: None,
        })
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> i32 {
        pid_of(&self.child)
    }

    /// The exit status when the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// Sends `sig` to the whole process group.
    pub fn signal(&self, sig: i32) {
        if self.exited.is_none() {
            signal_group(self.pid(), sig);
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; waits for the process to end.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_none() && !grace.is_zero() {
            self.signal(libc::SIGTERM);
            let deadline = Instant::now() + grace;
            while self.exited().is_none() && Instant::now() < deadline {
                sleep(Duration::from_millis(20));
            }
        }
        // The group may hold children even after the leader ended.
        signal_group(self.pid(), libc::SIGKILL);
        if self.exited.is_none() {
            self.exited = self.child.wait().ok();
        }
        let pid = self.pid();
        if let Ok(mut g) = GROUPS.lock() {
            g.retain(|p| *p != pid);
        }
    }

    /// The name given at start.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

fn pid_of(child: &Child) -> i32 {
    i32::try_from(child.id()).unwrap_or(0)
}
