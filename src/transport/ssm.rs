//! The `ssm` transport: Systems Manager's SendCommand with the AWS-RunShellScript document, then
//! GetCommandInvocation polled with backoff until the command ends. This is how a ParallelCluster,
//! PCS or HyperPod head node is reached without an open SSH port.
//!
//! What SSM does that the others do not, handled here: the invocation does not exist for a moment
//! after SendCommand (InvocationDoesNotExist is retried), output is capped at 24,000 characters (so
//! `max_output` is smaller and engines read long outputs in ranges), commands have an execution
//! timeout on the instance, throttling (the SDK's standard retry, with backoff), and a user is
//! reached with `runuser -l USER -c ...` because the agent runs as root.

use super::{as_user, Output, Result, Transport, TransportError};
pub use crate::project::SsmConfig;
use async_trait::async_trait;
use aws_sdk_ssm::types::CommandInvocationStatus;
use aws_sdk_ssm::Client;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
pub struct Ssm {
    cfg: SsmConfig,
    client: Client,
    calls: AtomicU64,
}

/// SSM's cap on the output GetCommandInvocation returns, in characters.
pub const OUTPUT_CAP: usize = 24_000;

impl Ssm {
    pub async fn connect(cfg: SsmConfig) -> Ssm {
        let shared = crate::aws::sdk_config(&crate::aws::AwsOpts {
            profile: cfg.profile.clone(),
            region: cfg.region.clone(),
            endpoint: cfg.endpoint.clone(),
            no_sign: false,
            max_attempts: cfg.max_attempts,
        })
        .await;
        Ssm {
            client: Client::new(&shared),
            cfg,
            calls: AtomicU64::new(0),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The `commands` parameter sent for `script` (also what `--dry-run` prints).
    pub fn command_text(&self, script: &str) -> Result<String> {
        as_user(script, self.cfg.user.as_deref())
    }

    fn aws_err<E, R>(&self, what: &str, e: &aws_sdk_ssm::error::SdkError<E, R>) -> TransportError
    where
        E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        use aws_sdk_ssm::error::ProvideErrorMetadata;
        let hint = match e.code().unwrap_or_default() {
            "InvalidInstanceId" => {
                " — is the SSM agent running there, and is the instance id right?"
            }
            "AccessDeniedException" => " (ssm:SendCommand on this instance)",
            _ => "",
        };
        let (_, msg) = crate::aws::explain(&format!("{what} on {}", self.cfg.target), e);
        TransportError::Aws(format!("{msg}{hint}"))
    }
}

#[async_trait]
impl Transport for Ssm {
    fn describe(&self) -> String {
        format!("ssm {}", self.cfg.target)
    }
    fn max_output(&self) -> usize {
        // leave room for the status lines engines print before a log range
        OUTPUT_CAP - 2_000
    }
    fn api_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
    fn dry_run(&self, script: &str) -> Result<super::Outgoing> {
        let request = serde_json::json!({
            "DocumentName": "AWS-RunShellScript",
            "InstanceIds": [self.cfg.target],
            "Parameters": {"commands": [self.command_text(script)?]},
            "CloudWatchOutputConfig": self.cfg.log_group.as_ref().map(|g| serde_json::json!({"CloudWatchLogGroupName": g, "CloudWatchOutputEnabled": true})),
        });
        Ok(super::Outgoing::Aws {
            transport: self.describe(),
            api: "ssm:SendCommand".into(),
            request: match request {
                serde_json::Value::Object(m) => m,
                _ => Default::default(),
            },
        })
    }
    async fn run(
        &self,
        script: &str,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Output> {
        let text = self.command_text(script)?;
        let secs = timeout.as_secs().max(30);
        let mut req = self
            .client
            .send_command()
            .document_name("AWS-RunShellScript")
            .instance_ids(&self.cfg.target)
            .parameters("commands", vec![text])
            .parameters("executionTimeout", vec![secs.to_string()])
            .timeout_seconds(secs.clamp(30, 2_592_000) as i32)
            .comment("tandem");
        if let Some(g) = &self.cfg.log_group {
            req = req.cloud_watch_output_config(
                aws_sdk_ssm::types::CloudWatchOutputConfig::builder()
                    .cloud_watch_log_group_name(g)
                    .cloud_watch_output_enabled(true)
                    .build(),
            );
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let sent = req
            .send()
            .await
            .map_err(|e| self.aws_err("SendCommand", &e))?;
        let id = sent
            .command()
            .and_then(|c| c.command_id())
            .ok_or_else(|| TransportError::Aws("SendCommand answered without a command id".into()))?
            .to_string();
        let deadline = tokio::time::Instant::now() + timeout + Duration::from_secs(30);
        // 0.5 s, then 1 s, then every 2 s: a command that ends within 3.5 s costs at most 4 calls
        let mut wait = Duration::from_millis(500);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => {
                    self.calls.fetch_add(1, Ordering::Relaxed);
                    let _ = self.client.cancel_command().command_id(&id).instance_ids(&self.cfg.target).send().await;
                    return Err(TransportError::Cancelled);
                }
            }
            wait = (wait * 2).min(Duration::from_secs(2));
            if tokio::time::Instant::now() > deadline {
                self.calls.fetch_add(1, Ordering::Relaxed);
                let _ = self
                    .client
                    .cancel_command()
                    .command_id(&id)
                    .instance_ids(&self.cfg.target)
                    .send()
                    .await;
                return Err(TransportError::Timeout(timeout));
            }
            self.calls.fetch_add(1, Ordering::Relaxed);
            let inv = match self
                .client
                .get_command_invocation()
                .command_id(&id)
                .instance_id(&self.cfg.target)
                .send()
                .await
            {
                Ok(i) => i,
                Err(e) => {
                    if e.as_service_error()
                        .is_some_and(|s| s.is_invocation_does_not_exist())
                    {
                        continue; // not registered yet, right after SendCommand
                    }
                    return Err(self.aws_err("GetCommandInvocation", &e));
                }
            };
            let out = || Output {
                code: inv.response_code(),
                stdout: inv
                    .standard_output_content()
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec(),
                stderr: inv
                    .standard_error_content()
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec(),
            };
            match inv.status() {
                Some(CommandInvocationStatus::Success | CommandInvocationStatus::Failed) => {
                    return Ok(out())
                }
                Some(CommandInvocationStatus::TimedOut) => {
                    return Err(TransportError::Timeout(timeout))
                }
                Some(CommandInvocationStatus::Cancelled | CommandInvocationStatus::Cancelling) => {
                    return Err(TransportError::Cancelled)
                }
                _ => {} // Pending, InProgress, Delayed
            }
        }
    }
}
