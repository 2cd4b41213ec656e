//! The `ssh` transport: the system's OpenSSH client, so ~/.ssh/config, agents and ProxyJump work as
//! they do in the researcher's shell. One master connection (ControlMaster) is opened on first use
//! and reused by every later command, so a poll costs a round trip, not a handshake.

use super::local::run_process;
use super::{quote, Output, Result, Transport, TransportError};
pub use crate::project::SshConfig;
use async_trait::async_trait;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
pub struct Ssh {
    cfg: SshConfig,
    control_dir: tempfile::TempDir,
}

impl Ssh {
    pub fn new(cfg: SshConfig) -> std::io::Result<Ssh> {
        // a short private directory: the control socket path must fit in sun_path
        let control_dir = tempfile::Builder::new().prefix("tdm-ssh").tempdir()?;
        Ok(Ssh { cfg, control_dir })
    }

    /// The ssh command line for `script` (exposed for `--dry-run` and tests).
    pub fn argv(&self, script: &str) -> Result<Vec<String>> {
        let c = &self.cfg;
        let mut a: Vec<String> = vec![
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "ControlMaster=auto".into(),
            "-o".into(),
            format!("ControlPath={}/%C", self.control_dir.path().display()),
            "-o".into(),
            "ControlPersist=120".into(),
            "-o".into(),
            "ConnectTimeout=15".into(),
            "-o".into(),
            "ServerAliveInterval=15".into(),
        ];
        match c.known_hosts.as_deref().unwrap_or("strict") {
            "strict" => a.extend(["-o".into(), "StrictHostKeyChecking=yes".into()]),
            "accept-new" => a.extend(["-o".into(), "StrictHostKeyChecking=accept-new".into()]),
            "off" => a.extend([
                "-o".into(),
                "StrictHostKeyChecking=no".into(),
                "-o".into(),
                "UserKnownHostsFile=/dev/null".into(),
                "-o".into(),
                "LogLevel=ERROR".into(),
            ]),
            other => {
                return Err(TransportError::Refused(format!(
                    "known_hosts = `{other}`: expected strict, accept-new or off"
                )))
            }
        }
        if let Some(f) = &c.known_hosts_file {
            a.extend(["-o".into(), format!("UserKnownHostsFile={}", f.display())]);
        }
        if let Some(p) = c.port {
            a.extend(["-p".into(), p.to_string()]);
        }
        if let Some(i) = &c.identity_file {
            a.extend([
                "-i".into(),
                i.display().to_string(),
                "-o".into(),
                "IdentitiesOnly=yes".into(),
            ]);
        }
        if let Some(u) = &c.user {
            a.extend(["-l".into(), u.clone()]);
        }
        if c.host.starts_with('-') {
            return Err(TransportError::Refused(format!(
                "host `{}` would be read as an option",
                c.host
            )));
        }
        a.push(c.host.clone());
        // the remote side joins the words and hands them to the login shell: one quoted word
        a.push(format!("sh -c {}", quote(script)?));
        Ok(a)
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        // close the master connection; the socket directory goes with the TempDir
        let _ = std::process::Command::new("ssh")
            .args([
                "-o",
                &format!("ControlPath={}/%C", self.control_dir.path().display()),
                "-O",
                "exit",
            ])
            .args(
                self.cfg
                    .port
                    .map(|p| vec!["-p".to_string(), p.to_string()])
                    .unwrap_or_default(),
            )
            .args(
                self.cfg
                    .user
                    .as_ref()
                    .map(|u| vec!["-l".to_string(), u.clone()])
                    .unwrap_or_default(),
            )
            .arg(&self.cfg.host)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[async_trait]
impl Transport for Ssh {
    fn describe(&self) -> String {
        let c = &self.cfg;
        format!(
            "ssh {}{}{}",
            c.user
                .as_deref()
                .map(|u| format!("{u}@"))
                .unwrap_or_default(),
            c.host,
            c.port.map(|p| format!(":{p}")).unwrap_or_default()
        )
    }
    fn dry_run(&self, script: &str) -> Result<super::Outgoing> {
        let mut argv = vec!["ssh".to_string()];
        argv.extend(self.argv(script)?);
        Ok(super::Outgoing::Command {
            transport: self.describe(),
            argv,
        })
    }
    async fn run(
        &self,
        script: &str,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Output> {
        let out = run_process("ssh", &self.argv(script)?, timeout, cancel).await?;
        if out.code == 255 {
            // ssh's own failure (the remote command's exit codes stop at 254 in practice)
            return Err(TransportError::Unreachable(format!(
                "{}: {}",
                self.describe(),
                out.stderr_line()
            )));
        }
        Ok(out)
    }
    /// One long-lived `tail -F` on the master connection: its output is the file's new bytes.
    fn follow_file(&self, path: &str, offset: u64) -> Option<Result<super::follow::FileFollow>> {
        let spawn = || -> Result<super::follow::FileFollow> {
            let argv = self.argv(&super::follow::tail_script(path, offset)?)?;
            let child = tokio::process::Command::new("ssh")
                .args(argv)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| TransportError::Unreachable(format!("cannot start ssh: {e}")))?;
            super::follow::FileFollow::tail(child, offset)
                .ok_or_else(|| TransportError::Unreachable("ssh gave no output pipe".into()))
        };
        Some(spawn())
    }
}
