//! Transports: "run this shell script on the head node and give me exit code, stdout and stderr,
//! with a timeout and cancellation". Three of them: `local` (a subprocess here), `ssh` (the system's
//! OpenSSH client over one multiplexed connection) and `ssm` (Systems Manager SendCommand).
//!
//! Every engine builds its commands as a [`Script`]: each value placed in it (paths, job names,
//! users, environment) is quoted by `shlex`, so what runs on the head node is exactly what was meant,
//! whatever the transport. The same script text goes through all three.

pub mod follow;
pub mod local;
pub mod ssh;
pub mod ssm;

use async_trait::async_trait;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// The last line of stderr (sanitised), for one-line messages.
    pub fn stderr_line(&self) -> String {
        let s = String::from_utf8_lossy(&self.stderr);
        crate::observe::sanitize(s.trim().lines().last().unwrap_or("")).into_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cancelled")]
    Cancelled,
    #[error("cannot reach the head node: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Refused(String),
    #[error("AWS: {0}")]
    Aws(String),
}

pub type Result<T> = std::result::Result<T, TransportError>;

#[async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// For the header and messages: `local`, `ssh user@host:22`, `ssm i-0123…`.
    fn describe(&self) -> String;
    /// Run `script` with `sh` on the head node.
    async fn run(
        &self,
        script: &str,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Output>;
    /// Most bytes of output one call can bring back (SSM caps it); engines read longer outputs
    /// (logs) in ranges of this size.
    fn max_output(&self) -> usize {
        4 << 20
    }
    /// Remote API calls made so far (SSM); 0 for transports that make none.
    fn api_calls(&self) -> u64 {
        0
    }
    /// Follow the file at `path` on the head node from byte `offset` as it grows, where this
    /// transport can keep something open (a watched file here, a `tail -F` over SSH); `None` where
    /// it cannot (SSM: every call is a request), and the caller polls.
    fn follow_file(&self, path: &str, offset: u64) -> Option<Result<follow::FileFollow>> {
        let _ = (path, offset);
        None
    }
    /// What `run(script)` would send, for `--dry-run`: nothing is sent.
    fn dry_run(&self, script: &str) -> Result<Outgoing> {
        Ok(Outgoing::Command {
            transport: self.describe(),
            argv: vec!["sh".into(), "-c".into(), script.into()],
        })
    }
}

/// A request a dry run shows instead of sending it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Outgoing {
    /// A command line run on this machine: `sh -c SCRIPT`, `ssh … SCRIPT`.
    Command {
        transport: String,
        argv: Vec<String>,
    },
    /// An AWS API call, its request as the API documents it (SSM's SendCommand).
    Aws {
        transport: String,
        api: String,
        #[serde(flatten)]
        request: serde_json::Map<String, serde_json::Value>,
    },
    /// An HTTP request made from this machine.
    Http {
        method: String,
        url: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<serde_json::Value>,
        /// The size of an uploaded body that is not shown.
        #[serde(skip_serializing_if = "Option::is_none")]
        bytes: Option<usize>,
        /// When it is sent, if not always.
        #[serde(skip_serializing_if = "Option::is_none")]
        when: Option<String>,
        /// What the uploaded body is called once there.
        #[serde(skip_serializing_if = "Option::is_none")]
        uri: Option<String>,
    },
}

/// The transport a target names, ready to use (an SSM client is built from the SDK's default chain,
/// which also honours AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL).
pub async fn connect(
    spec: &crate::project::TransportSpec,
) -> Result<std::sync::Arc<dyn Transport>> {
    use crate::project::TransportSpec;
    Ok(match spec {
        TransportSpec::Local => std::sync::Arc::new(local::Local),
        TransportSpec::Ssh(c) => std::sync::Arc::new(
            ssh::Ssh::new(c.clone())
                .map_err(|e| TransportError::Unreachable(format!("ssh control directory: {e}")))?,
        ),
        TransportSpec::Ssm(c) => std::sync::Arc::new(ssm::Ssm::connect(c.clone()).await),
    })
}

/// One value quoted for `sh`. A NUL byte cannot be passed to a shell at all and is refused.
pub fn quote(s: &str) -> Result<String> {
    shlex::try_quote(s)
        .map(|c| c.into_owned())
        .map_err(|_| TransportError::Refused(format!("a value holds a NUL byte: {s:?}")))
}

/// A path on the head node quoted for `sh`: `~/rest` (under the login's home, expanded there) as
/// `"$HOME"/'rest'`, anything else as one quoted word.
pub fn quote_path(p: &str) -> Result<String> {
    if p == "~" {
        return Ok("\"$HOME\"".into());
    }
    match p.strip_prefix("~/") {
        Some(rest) => Ok(format!("\"$HOME\"/{}", quote(rest)?)),
        None => quote(p),
    }
}

/// One word of a command line: a value, a path on the head node (`~/…` expanded there), or an
/// option whose value is such a path (`--chdir=PATH`); or a value that differs per element of a
/// sweep, its `{element}` and `{param.NAME}` expanded by the shell from the element's
/// `TANDEM_ELEMENT` and `TANDEM_PARAM_NAME` (a Slurm array's elements share one script).
#[derive(Debug, Clone, PartialEq)]
pub enum Word {
    Arg(String),
    Path(String),
    Opt(&'static str, String),
    PerElement(String),
}

/// The variable a sweep placeholder (`element`, `param.NAME`) is read from, if it is one.
fn element_var(name: &str) -> Option<String> {
    if name == "element" {
        return Some("TANDEM_ELEMENT".into());
    }
    let p = name.strip_prefix("param.")?;
    env_name(p).ok().map(|p| format!("TANDEM_PARAM_{p}"))
}

/// `t` as one shell word: its literal parts quoted, its sweep placeholders `"${VAR}"`.
fn quote_per_element(t: &str) -> Result<String> {
    let mut out = String::new();
    let mut lit = String::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let var = after
            .find('}')
            .and_then(|c| element_var(&after[..c]).map(|v| (v, c)));
        match var {
            Some((v, c)) => {
                lit.push_str(&rest[..open]);
                if !lit.is_empty() {
                    out.push_str(&quote(&lit)?);
                    lit.clear();
                }
                out.push_str(&format!("\"${{{v}}}\""));
                rest = &after[c + 1..];
            }
            None => {
                lit.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() || out.is_empty() {
        out.push_str(&quote(&lit)?);
    }
    Ok(out)
}

impl Word {
    /// The word quoted for `sh`.
    pub fn quoted(&self) -> Result<String> {
        match self {
            Word::Arg(a) => quote(a),
            Word::Path(p) => quote_path(p),
            // one word as before unless the path is under the home, which sh must expand
            Word::Opt(o, p) if p == "~" || p.starts_with("~/") => {
                Ok(format!("{}{}", quote(o)?, quote_path(p)?))
            }
            Word::Opt(o, p) => quote(&format!("{o}{p}")),
            Word::PerElement(t) => quote_per_element(t),
        }
    }
    /// The word as a person reads it (`~/…` left unexpanded).
    pub fn text(&self) -> String {
        match self {
            Word::Arg(a) | Word::Path(a) | Word::PerElement(a) => a.clone(),
            Word::Opt(o, p) => format!("{o}{p}"),
        }
    }
}

/// `name` when it is a shell identifier.
pub(crate) fn env_name(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(TransportError::Refused(format!(
            "`{}` is not an environment variable name",
            crate::observe::sanitize(name)
        )))
    }
}

/// A shell script assembled from quoted parts; only tandem's own fixed text goes in unquoted.
#[derive(Debug, Clone, Default)]
pub struct Script {
    lines: Vec<String>,
}

impl Script {
    pub fn new() -> Script {
        Script::default()
    }
    /// `export NAME=value`; the name must be a shell identifier.
    pub fn env(mut self, name: &str, value: &str) -> Result<Script> {
        self.lines
            .push(format!("export {}={}", env_name(name)?, quote(value)?));
        Ok(self)
    }
    /// A command line: every word quoted.
    pub fn cmd<S: AsRef<str>>(mut self, argv: &[S]) -> Result<Script> {
        let words: Result<Vec<String>> = argv.iter().map(|a| quote(a.as_ref())).collect();
        self.lines.push(words?.join(" "));
        Ok(self)
    }
    /// A command line whose words are quoted, followed by tandem's own fixed shell text (a
    /// redirection, `|| true`, ...). `tail` must not hold user data.
    pub fn cmd_then<S: AsRef<str>>(mut self, argv: &[S], tail: &'static str) -> Result<Script> {
        let words: Result<Vec<String>> = argv.iter().map(|a| quote(a.as_ref())).collect();
        self.lines.push(format!("{} {tail}", words?.join(" ")));
        Ok(self)
    }
    /// A command line of typed words (paths under `~/` expanded on the head node), then tandem's
    /// own fixed shell text (`tail` holds no user data; may be empty).
    pub fn words(mut self, words: &[Word], tail: &'static str) -> Result<Script> {
        let w: Result<Vec<String>> = words.iter().map(Word::quoted).collect();
        let mut line = w?.join(" ");
        if !tail.is_empty() {
            line.push(' ');
            line.push_str(tail);
        }
        self.lines.push(line);
        Ok(self)
    }
    /// `export NAME=WORD` for any word (a path, a value that differs per element).
    pub fn env_word(mut self, name: &str, value: &Word) -> Result<Script> {
        self.lines
            .push(format!("export {}={}", env_name(name)?, value.quoted()?));
        Ok(self)
    }
    /// `export NAME=PATH` for a path on the head node (`~/…` expanded there).
    pub fn env_path(mut self, name: &str, path: &str) -> Result<Script> {
        self.lines
            .push(format!("export {}={}", env_name(name)?, quote_path(path)?));
        Ok(self)
    }
    /// tandem's own fixed shell text (never user data).
    pub fn raw(mut self, text: &'static str) -> Script {
        self.lines.push(text.to_string());
        self
    }
    /// Write `content` to `path` on the head node.
    pub fn write_file(mut self, path: &str, content: &str) -> Result<Script> {
        self.lines.push(format!(
            "printf '%s' {} > {}",
            quote(content)?,
            quote_path(path)?
        ));
        Ok(self)
    }
    /// The script's text, one line per part.
    pub fn build(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

/// `runuser -l USER -c SCRIPT` when a user is named (how SSM's root agent runs as someone).
pub fn as_user(script: &str, user: Option<&str>) -> Result<String> {
    match user {
        Some(u) if !u.is_empty() => Ok(format!("runuser -l {} -c {}", quote(u)?, quote(script)?)),
        _ => Ok(script.to_string()),
    }
}

/// Values that must reach the head node as data, never as shell: the corpus every transport is
/// tested with.
pub const HOSTILE: &[&str] = &[
    "; rm -rf /tmp/tandem-should-not-exist",
    "$(touch /tmp/tandem-pwned)",
    "`touch /tmp/tandem-pwned`",
    "'single' \"double\" \\back\\slash",
    "new\nline",
    "tab\there",
    "ünïcödé ☃ 日本語",
    "$HOME ${PATH} $((1+1))",
    "a && b || c | d > e < f &",
    "*?[glob]~",
    "-n",
    "",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_quote_every_value_and_refuse_bad_names() {
        let s = Script::new()
            .env("X", "$(id)")
            .unwrap()
            .cmd(&["echo", "a b", "'q'"])
            .unwrap()
            .build();
        assert_eq!(s, "export X='$(id)'\necho 'a b' \"'q'\"\n");
        assert!(Script::new().env("A;B", "x").is_err());
        assert!(Script::new().env("1A", "x").is_err());
        assert!(quote("nul\0byte").is_err());
        assert_eq!(
            as_user("id -u", Some("ec2 user")).unwrap(),
            "runuser -l 'ec2 user' -c 'id -u'"
        );
    }

    #[test]
    fn per_element_words_expand_only_the_sweeps_placeholders() {
        let w = Word::PerElement("--out=/x y/{param.alpha}/e{element}/$(id){run}".into());
        assert_eq!(
            w.quoted().unwrap(),
            "'--out=/x y/'\"${TANDEM_PARAM_alpha}\"/e\"${TANDEM_ELEMENT}\"'/$(id){run}'"
        );
        assert_eq!(Word::PerElement(String::new()).quoted().unwrap(), "''");
        assert_eq!(
            Word::PerElement("{param.a;b}".into()).quoted().unwrap(),
            "'{param.a;b}'"
        );
        // the shell reads it as one word with the element's values
        let script = Script::new()
            .env_word("O", &w)
            .unwrap()
            .raw("printf '%s' \"$O\"")
            .build();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("TANDEM_PARAM_alpha", "0.5")
            .env("TANDEM_ELEMENT", "3")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "--out=/x y/0.5/e3/$(id){run}"
        );
    }

    #[test]
    fn paths_under_the_home_are_expanded_on_the_head_node_and_stay_quoted() {
        assert_eq!(quote_path("~/runs/a b").unwrap(), "\"$HOME\"/'runs/a b'");
        assert_eq!(quote_path("~").unwrap(), "\"$HOME\"");
        assert_eq!(quote_path("/fsx/x").unwrap(), "/fsx/x");
        assert_eq!(quote_path("~user/x").unwrap(), "'~user/x'");
        let w = Word::Opt("--chdir=", "~/$(id)".into());
        assert_eq!(w.quoted().unwrap(), "'--chdir='\"$HOME\"/'$(id)'");
        assert_eq!(
            Word::Opt("--chdir=", "/fsx/a b".into()).quoted().unwrap(),
            "'--chdir=/fsx/a b'"
        );
        assert_eq!(w.text(), "--chdir=~/$(id)");
        let s = Script::new().env_path("D", "~/x y").unwrap().build();
        assert_eq!(s, "export D=\"$HOME\"/'x y'\n");
        // the shell does expand it, and only $HOME
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "HOME=/h; printf %s {}",
                quote_path("~/$(touch /tmp/x)").unwrap()
            ))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "/h/$(touch /tmp/x)");
    }
}
