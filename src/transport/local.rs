//! The `local` transport: the script runs under `sh` on this machine (Slurm on the machine in front
//! of the researcher, or tandem running on the head node itself).

use super::{Output, Result, Transport, TransportError};
use async_trait::async_trait;
use std::process::Stdio;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
pub struct Local;

/// Run `program args...` to completion with a timeout and cancellation; the child is killed on
/// either. Shared by the local and SSH transports.
pub async fn run_process(
    program: &str,
    args: &[String],
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Output> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| TransportError::Unreachable(format!("cannot start {program}: {e}")))?;
    let out = tokio::select! {
        r = tokio::time::timeout(timeout, child.wait_with_output()) => match r {
            Ok(r) => r.map_err(|e| TransportError::Unreachable(format!("{program}: {e}")))?,
            Err(_) => return Err(TransportError::Timeout(timeout)),
        },
        _ = cancel.cancelled() => return Err(TransportError::Cancelled),
    };
    Ok(Output {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

#[async_trait]
impl Transport for Local {
    fn describe(&self) -> String {
        "local".into()
    }
    async fn run(
        &self,
        script: &str,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Output> {
        run_process("sh", &["-c".into(), script.to_string()], timeout, cancel).await
    }
    fn follow_file(&self, path: &str, offset: u64) -> Option<Result<super::follow::FileFollow>> {
        let path = match path.strip_prefix("~/") {
            Some(rest) => dirs::home_dir()?.join(rest),
            None => path.into(),
        };
        Some(Ok(super::follow::FileFollow::watch(path, offset)))
    }
}
