//! Throwaway PostgreSQL for tests: one cluster per test process (Debian's `initdb` and
//! `pg_ctl`, trust authentication on 127.0.0.1 and a private port, no fsync), stopped and removed
//! when the process exits; [`database`] makes a new, empty database on it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The URL (`postgres://...`) of a new, empty database on this process's cluster, which starts
/// at the first call.
pub fn database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let cluster = cluster();
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    run({
        let mut c = Command::new(bin_dir().join("createdb"));
        c.args(["-h", "127.0.0.1", "-U", "aula", "-p"])
            .arg(cluster.port.to_string())
            .arg(&name);
        c
    });
    format!("postgres://aula@127.0.0.1:{}/{name}", cluster.port)
}

struct Cluster {
    port: u16,
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start)
}

/// Debian keeps the server's programs out of `PATH`, in `/usr/lib/postgresql/VERSION/bin`.
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    found.sort();
    found
        .pop()
        .expect("PostgreSQL's server is not installed: run scripts/setup")
}

fn root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `program`, run as Debian's `postgres` user when this process is root (the server refuses to
/// run as root).
fn server_command(program: &Path) -> Command {
    if root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command) {
    let out = command.output().expect("running a PostgreSQL program");
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The cluster's folder, for the exit handler.
static DIR: OnceLock<PathBuf> = OnceLock::new();

fn start() -> Cluster {
    let bin = bin_dir();
    // The folder outlives the process's statics: the exit handler removes it.
    let dir = tempfile::Builder::new()
        .prefix("aula-pg-")
        .tempdir()
        .unwrap()
        .keep();
    if root() {
        run({
            let mut c = Command::new("chown");
            c.arg("postgres:postgres").arg(&dir);
            c
        });
    }
    let data = dir.join("data");
    run({
        let mut c = server_command(&bin.join("initdb"));
        c.arg("-D").arg(&data).args([
            "-U",
            "aula",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        c
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    run({
        let mut c = server_command(&bin.join("pg_ctl"));
        c.arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-w", "-o"])
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c full_page_writes=off -c synchronous_commit=off",
                dir.display()
            ))
            .arg("start");
        c
    });
    let _ = DIR.set(dir);
    // SAFETY: atexit(3) with a function that only reads a static, signals a process and
    // removes a folder.
    unsafe { libc::atexit(stop) };
    Cluster { port }
}

/// Stops the cluster at once (SIGQUIT to the postmaster) and removes its folder.
extern "C" fn stop() {
    let Some(dir) = DIR.get() else { return };
    let pid = std::fs::read_to_string(dir.join("data/postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().next()?.trim().parse::<libc::pid_t>().ok());
    if let Some(pid) = pid {
        // SAFETY: kill(2) on the postmaster this process started.
        unsafe { libc::kill(pid, libc::SIGQUIT) };
        for _ in 0..40 {
            // SAFETY: signal 0 only asks whether the process still exists.
            if unsafe { libc::kill(pid, 0) } != 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
