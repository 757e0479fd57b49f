//! Server processes: started tied to this process, registered so that [`kill_all`] reaches
//! them, restartable on the same port and directory.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError, mpsc};
use std::time::{Duration, Instant};

use crate::error::{ServerError, ServerErrorKind};

/// How long a server has to accept connections, and to exit after SIGTERM before it is killed.
const BOUND: Duration = Duration::from_secs(10);

/// The running servers of this process, by key, so that [`kill_all`] can reach them from
/// anywhere. A child stays here until it has been waited for, so its pid is never reused
/// while it is here.
static RUNNING: Mutex<BTreeMap<u64, Child>> = Mutex::new(BTreeMap::new());
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

fn running() -> MutexGuard<'static, BTreeMap<u64, Child>> {
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Kills every server this process started and that still runs (SIGKILL), and waits for them:
/// for an exit that cannot wait for the handles to be dropped (a second Ctrl-C).
pub fn kill_all() {
    for (_, mut child) in std::mem::take(&mut *running()) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Where a server keeps its data.
#[derive(Debug)]
pub(crate) enum DataDir {
    /// A temporary directory, removed with the server's handle.
    Temp(tempfile::TempDir),
    /// A directory the caller owns.
    Given(PathBuf),
}

impl DataDir {
    pub(crate) fn path(&self) -> &Path {
        match self {
            DataDir::Temp(dir) => dir.path(),
            DataDir::Given(dir) => dir,
        }
    }
}

/// A server process with a fixed port and data directory, restartable.
#[derive(Debug)]
pub(crate) struct Server {
    name: &'static str,
    binary: PathBuf,
    args: Vec<String>,
    port: u16,
    /// Removed (when temporary) after `Drop` has killed the process.
    dir: DataDir,
    /// Its key in [`RUNNING`] while it runs.
    key: Option<u64>,
}

impl Server {
    /// Starts `binary args` as `name`, listening on `port`, in `dir`.
    pub(crate) fn start(
        name: &'static str,
        binary: PathBuf,
        args: Vec<String>,
        port: u16,
        dir: DataDir,
    ) -> Result<Self, ServerError> {
        let mut server = Self {
            name,
            binary,
            args,
            port,
            dir,
            key: None,
        };
        server.spawn()?;
        Ok(server)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn args_mut(&mut self) -> &mut Vec<String> {
        &mut self.args
    }

    /// Starts the process (again) and waits until it accepts connections.
    pub(crate) fn spawn(&mut self) -> Result<(), ServerError> {
        self.stop(libc::SIGKILL);
        let log_path = self.dir().join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(ServerError::io("opening the server log"))?;
        let err = log
            .try_clone()
            .map_err(ServerError::io("opening the server log"))?;
        let mut command = Command::new(&self.binary);
        command
            .args(&self.args)
            .current_dir(self.dir())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        // Its own process group: a terminal's Ctrl-C does not reach it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = spawn_tied(command).map_err(ServerError::io(format!(
            "starting {}",
            self.binary.display()
        )))?;
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        running().insert(key, child);
        self.key = Some(key);
        self.wait_ready(&log_path)
    }

    /// Waits until the server accepts connections; kills it when it does not within
    /// [`BOUND`] or exits first.
    fn wait_ready(&mut self, log: &Path) -> Result<(), ServerError> {
        let deadline = Instant::now() + BOUND;
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            // A server that exited (a bad config line, a port taken) will never come up.
            if !self.runs() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop(libc::SIGKILL);
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
        Err(ServerError::new(ServerErrorKind::NotReady {
            name: self.name,
            port: self.port,
            log: log.to_path_buf(),
            tail,
        }))
    }

    /// Whether the process has not exited.
    fn runs(&self) -> bool {
        let Some(key) = self.key else {
            return false;
        };
        running()
            .get_mut(&key)
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// The process id, while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        let key = self.key?;
        running().get(&key).map(Child::id)
    }

    /// Sends `signal`, waits up to [`BOUND`] for the process to exit, then kills it.
    pub(crate) fn stop(&mut self, signal: libc::c_int) {
        let Some(key) = self.key.take() else {
            return;
        };
        if let Some(child) = running().get(&key) {
            send(child, signal);
        }
        let deadline = Instant::now() + BOUND;
        loop {
            let mut running = running();
            let Some(child) = running.get_mut(&key) else {
                // Taken by `kill_all`, which waits for it.
                return;
            };
            if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) || Instant::now() >= deadline {
                if let Some(mut child) = running.remove(&key) {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                return;
            }
            drop(running);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop(libc::SIGKILL);
    }
}

/// Sends `signal` to `child`, which has not been waited for (so its pid is still its own).
#[allow(unsafe_code)]
fn send(child: &Child, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is our unreaped child's.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// A request to the spawning thread: the command, and where to send the child.
type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Starts `command` so that it dies with this process: from the process-wide spawning thread
/// (which never ends before the process does), with a parent-death signal on Linux.
fn spawn_tied(mut command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Option<Mutex<mpsc::Sender<SpawnRequest>>>> = OnceLock::new();
    die_with_parent(&mut command);
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("server-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .ok()
            .map(|_| Mutex::new(tx))
    });
    let Some(spawner) = spawner else {
        // No thread could be started: spawn here (the server then dies with this thread).
        return command.spawn();
    };
    let (reply, child) = mpsc::channel();
    let sent = spawner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send((command, reply));
    match sent {
        Ok(()) => child
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the spawning thread ended"))),
        Err(mpsc::SendError((mut command, _))) => command.spawn(),
    }
}

/// On Linux, has the kernel SIGKILL the child when the thread that forks it ends.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt as _;
        let parent = std::process::id();
        // SAFETY: the closure runs in the child between fork and exec; it calls only
        // prctl(2), getppid(2), getpid(2) and kill(2), which are async-signal-safe, and
        // allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died before the signal was armed: follow it now.
                if u32::try_from(libc::getppid()).ok() != Some(parent) {
                    libc::kill(libc::getpid(), libc::SIGKILL);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}
