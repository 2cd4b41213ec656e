//! What every AWS client in tandem shares: one way to load the SDK's configuration (default chain,
//! `--profile`, `--region`, an endpoint, retries, timeouts) and one way to turn an SDK failure into a
//! message that names the fix instead of an SDK dump.

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::result::SdkError;
use std::time::Duration;

/// How to reach an AWS service. Empty fields mean: what the SDK's default chain says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOpts {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// An explicit endpoint for this client (the SDK also reads AWS_ENDPOINT_URL and
    /// AWS_ENDPOINT_URL_<SERVICE> by itself when this is empty).
    pub endpoint: Option<String>,
    /// Do not sign requests (public S3 buckets).
    pub no_sign: bool,
    /// Attempts per request (the SDK retries with exponential backoff and jitter).
    pub max_attempts: Option<u32>,
}

impl AwsOpts {
    /// The profile named in the header: the flag, else AWS_PROFILE, else `default`.
    pub fn profile_label(&self) -> String {
        self.profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok())
            .unwrap_or_else(|| "default".into())
    }
}

/// The shared SDK configuration for `opts`: standard retries (4 attempts unless told), a 5 s connect
/// and 60 s read timeout.
pub async fn sdk_config(opts: &AwsOpts) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if opts.no_sign {
        loader = loader.no_credentials();
    }
    if let Some(e) = &opts.endpoint {
        loader = loader.endpoint_url(e);
    }
    loader
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(opts.max_attempts.unwrap_or(4)),
        )
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(Duration::from_secs(60))
                .build(),
        )
        .load()
        .await
}

/// What kind of failure an SDK error is, for callers that react differently (retry a network
/// failure, stop on credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Credentials,
    Denied,
    Throttled,
    Network,
    Service,
}

/// One line for an SDK failure (`what` names the call): the service's code and message, and for
/// credentials, permissions and throttling what to do about it.
pub fn explain<E, R>(what: &str, e: &SdkError<E, R>) -> (FailureKind, String)
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    let chain = {
        let mut s = String::new();
        let mut cur: Option<&dyn std::error::Error> = Some(e);
        while let Some(c) = cur {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(&c.to_string());
            cur = c.source();
        }
        s
    };
    let code = e.code().unwrap_or_default();
    let msg = e.message().unwrap_or_default();
    let said = if msg.is_empty() {
        code.to_string()
    } else {
        format!("{code}: {msg}")
    };
    match (e, code) {
        (SdkError::ConstructionFailure(_) | SdkError::DispatchFailure(_), _)
            if chain.to_lowercase().contains("credential") =>
        {
            (
                FailureKind::Credentials,
                format!("{what}: no AWS credentials found — set AWS_PROFILE or --profile, run `aws configure` or `aws sso login`"),
            )
        }
        (
            _,
            "ExpiredToken" | "ExpiredTokenException" | "UnrecognizedClientException"
            | "InvalidClientTokenId" | "InvalidSignatureException" | "SignatureDoesNotMatch"
            | "InvalidAccessKeyId" | "TokenRefreshRequired",
        ) => (
            FailureKind::Credentials,
            format!("{what}: {said} — check the profile's keys or renew the session (`aws sso login`)"),
        ),
        (_, "AccessDenied" | "AccessDeniedException") => (
            FailureKind::Denied,
            format!("{what}: {said} — the profile's role lacks this permission"),
        ),
        (_, c) if c.contains("Throttl") || c == "TooManyRequestsException" => (
            FailureKind::Throttled,
            format!("{what}: {said} — slowed down by AWS; try a longer refresh interval"),
        ),
        (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _) => (
            FailureKind::Network,
            format!("{what}: cannot reach AWS ({chain})"),
        ),
        (SdkError::ResponseError(_), _) => (
            FailureKind::Network,
            format!("{what}: unreadable answer ({chain})"),
        ),
        (_, "") => (FailureKind::Service, format!("{what}: {chain}")),
        _ => (FailureKind::Service, format!("{what}: {said}")),
    }
}
