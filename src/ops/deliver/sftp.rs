//! The SFTP channel (libssh2 through `ssh2`): key authentication, the host key checked against a
//! `known_hosts` file (an unknown or changed key is refused), each file uploaded under a
//! temporary name and renamed when complete.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh2::{CheckResult, KnownHostFileKind};

use super::{Kit, SendError};
use crate::config::delivery::{Sftp, Upload};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const SSH_TIMEOUT_MS: u32 = 60_000;

/// Uploads the kit (its ZIP, its package folder or both, as `settings.upload` says).
pub fn send(name: &str, settings: &Sftp, kit: &Kit) -> Result<String, SendError> {
    let fail = |step: &str, answer: &dyn std::fmt::Display| SendError::new(name, step, answer);
    let address = format!("{}:{}", settings.host, settings.port);
    let connect = |step: &str| format!("{step} {address}");
    let tcp = (settings.host.as_str(), settings.port)
        .to_socket_addrs()
        .map_err(|e| fail(&connect("resolving"), &e))?
        .next()
        .ok_or_else(|| fail(&connect("resolving"), &"no address"))
        .and_then(|a| {
            TcpStream::connect_timeout(&a, CONNECT_TIMEOUT)
                .map_err(|e| fail(&connect("connecting to"), &e))
        })?;
    let mut ssh = ssh2::Session::new().map_err(|e| fail("starting SSH", &e))?;
    ssh.set_tcp_stream(tcp);
    ssh.set_timeout(SSH_TIMEOUT_MS);
    ssh.handshake()
        .map_err(|e| fail(&connect("SSH handshake with"), &e))?;
    check_host_key(&ssh, settings).map_err(|answer| fail("host key", &answer))?;
    // The public half beside the key, when it is there, spares libssh2 deriving it.
    let mut public = settings.private_key.as_os_str().to_owned();
    public.push(".pub");
    let public = PathBuf::from(public);
    let public = public.is_file().then_some(public.as_path());
    ssh.userauth_pubkey_file(&settings.user, public, &settings.private_key, None)
        .map_err(|e| {
            fail(
                &format!(
                    "key authentication as {} with {}",
                    settings.user,
                    settings.private_key.display()
                ),
                &e,
            )
        })?;
    let sftp = ssh.sftp().map_err(|e| fail("opening SFTP", &e))?;
    let remote_dir = Path::new(&settings.remote_dir);
    let mut uploads: Vec<(&Path, PathBuf)> = Vec::new();
    if matches!(settings.upload, Upload::Zip | Upload::Both) {
        uploads.push((&kit.zip.local, remote_dir.join(&kit.zip.path)));
    }
    if matches!(settings.upload, Upload::Package | Upload::Both) {
        let folder = remote_dir.join(&kit.name);
        uploads.extend(
            kit.files
                .iter()
                .map(|f| (f.local.as_path(), folder.join(&f.path))),
        );
    }
    let mut bytes = 0;
    for (local, remote) in &uploads {
        bytes += upload(&sftp, local, remote)
            .map_err(|answer| fail(&format!("uploading {}", remote.display()), &answer))?;
    }
    let _ = ssh.disconnect(None, "done", None);
    Ok(format!(
        "uploaded {} file(s), {bytes} bytes, to {address}:{}",
        uploads.len(),
        settings.remote_dir
    ))
}

/// The server's key must be the one `known_hosts` holds for this host and port.
fn check_host_key(ssh: &ssh2::Session, settings: &Sftp) -> Result<(), String> {
    let (key, _) = ssh
        .host_key()
        .ok_or_else(|| "the server sent no host key".to_owned())?;
    let mut known = ssh.known_hosts().map_err(|e| e.to_string())?;
    known
        .read_file(&settings.known_hosts, KnownHostFileKind::OpenSSH)
        .map_err(|e| format!("reading {}: {e}", settings.known_hosts.display()))?;
    let address = format!("{}:{}", settings.host, settings.port);
    match known.check_port(&settings.host, settings.port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::NotFound => Err(format!(
            "the key of {address} is not in {} (refused; add it with ssh-keyscan -p {} {})",
            settings.known_hosts.display(),
            settings.port,
            settings.host
        )),
        CheckResult::Mismatch => Err(format!(
            "the key of {address} differs from the one in {} (refused: the server's key changed, \
             or someone is in between)",
            settings.known_hosts.display()
        )),
        CheckResult::Failure => Err(format!(
            "the key of {address} could not be checked against {}",
            settings.known_hosts.display()
        )),
    }
}

/// Writes `local` to `remote` through `remote.part`, making the folders it needs; its size.
fn upload(sftp: &ssh2::Sftp, local: &Path, remote: &Path) -> Result<u64, String> {
    if let Some(parent) = remote.parent() {
        make_dirs(sftp, parent)?;
    }
    let mut part_name = remote.as_os_str().to_owned();
    part_name.push(".part");
    let part = PathBuf::from(part_name);
    let mut source =
        std::fs::File::open(local).map_err(|e| format!("reading {}: {e}", local.display()))?;
    let written = (|| -> Result<u64, String> {
        let mut target = sftp.create(&part).map_err(|e| e.to_string())?;
        let n = std::io::copy(&mut source, &mut target).map_err(|e| e.to_string())?;
        target.flush().map_err(|e| e.to_string())?;
        // fsync is an OpenSSH extension: a server without it still gets the file.
        let _ = target.fsync();
        Ok(n)
    })();
    let n = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = sftp.unlink(&part);
            return Err(e);
        }
    };
    // SFTP version 3 renames only onto a free name.
    if sftp.stat(remote).is_ok() {
        sftp.unlink(remote).map_err(|e| format!("replacing: {e}"))?;
    }
    sftp.rename(&part, remote, None)
        .map_err(|e| format!("renaming {} into place: {e}", part.display()))?;
    Ok(n)
}

fn make_dirs(sftp: &ssh2::Sftp, dir: &Path) -> Result<(), String> {
    if dir.as_os_str().is_empty() || sftp.stat(dir).is_ok() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_dirs(sftp, parent)?;
    }
    sftp.mkdir(dir, 0o755)
        .or_else(|e| sftp.stat(dir).map(|_| ()).map_err(|_| e))
        .map_err(|e| format!("making the folder {}: {e}", dir.display()))
}
