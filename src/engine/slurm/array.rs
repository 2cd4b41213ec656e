//! Slurm job arrays for sweeps: one `sbatch --array=0-N%M` whose elements share one batch script
//! and read their parameters from a table staged beside it (`params.tsv`, element `i` on line
//! `i + 2`, found by `SLURM_ARRAY_TASK_ID`); and one round trip per poll that brings every
//! element's state (`squeue -r`, then `sacct` where accounting runs, else `scontrol`) and the new
//! bytes of the logs of the elements asked for.

use super::{parse_status_line, Body, JobSpec, JobStatus, Slurm};
use crate::transport::{quote, quote_path, Result, Word};
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

/// The parameter table's file name, beside the batch script in the run directory.
pub const TABLE: &str = "params.tsv";

/// The array side of a job: which elements, how many at once, and their parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArraySpec {
    /// Elements 0..count.
    pub count: u32,
    /// Only these elements (a resubmission of some): None is all of them.
    pub only: Option<Vec<u32>>,
    /// Elements running at once (`%N`).
    pub max_parallel: Option<u32>,
    /// The parameters' names, in the table's column order.
    pub params: Vec<String>,
    /// The table: a header, then one row per element (`element`, then each value, tab-separated;
    /// values are words that need no quoting).
    pub table: String,
    /// Exported by each element: values holding `{element}` or `{param.NAME}` (its output).
    pub env: BTreeMap<String, String>,
}

impl ArraySpec {
    /// `0-5%2`, or `1,4%2` for some elements.
    pub fn indexes(&self) -> String {
        let list = match &self.only {
            Some(v) => v.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
            None => format!("0-{}", self.count.saturating_sub(1)),
        };
        match self.max_parallel {
            Some(m) => format!("{list}%{m}"),
            None => list,
        }
    }

    /// The elements' shared batch script: the user's `#SBATCH` header (if it is their script),
    /// then the element's row of the table read into `TANDEM_ELEMENT` and `TANDEM_PARAM_*`, its
    /// own environment, then the command (placeholders expanded by the shell from those) or the
    /// rest of the user's script (`{param.NAME}` and `{element}` in it read the same variables).
    pub fn batch_script(&self, job: &JobSpec) -> Result<String> {
        let table = format!("{}/{TABLE}", job.run_dir.trim_end_matches('/'));
        let mut prelude = vec![
            "# tandem: this array element reads its row of the sweep's parameter table".to_string(),
            "set -e".into(),
            "TANDEM_ELEMENT=\"${SLURM_ARRAY_TASK_ID:?tandem: not an element of an array}\"".into(),
            "set -f".into(),
            format!(
                "set -- $(sed -n \"$((TANDEM_ELEMENT + 2))p\" {})",
                quote_path(&table)?
            ),
            "set +f".into(),
            "[ \"${1:-}\" = \"$TANDEM_ELEMENT\" ] || { echo \"tandem: no row for element $TANDEM_ELEMENT in params.tsv\" >&2; exit 2; }".into(),
            "export TANDEM_ELEMENT".into(),
        ];
        for (i, name) in self.params.iter().enumerate() {
            // positional parameters past $9 need braces
            let v = format!("TANDEM_PARAM_{}", crate::transport::env_name(name)?);
            prelude.push(format!("{v}=\"${{{}}}\"; export {v}", i + 2));
        }
        let mut env = crate::transport::Script::new();
        for (k, v) in &self.env {
            env = env.env_word(k, &Word::PerElement(v.clone()))?;
        }
        prelude.push(env.build().trim_end().to_string());
        prelude.push(
            "echo \"tandem: element $TANDEM_ELEMENT, job ${SLURM_ARRAY_JOB_ID:-?}_${SLURM_ARRAY_TASK_ID} on $(hostname)\""
                .into(),
        );
        let prelude = prelude
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        match &job.body {
            Body::Command { argv, launcher } => {
                let mut words = super::launcher_words(argv, launcher)?;
                words.extend(
                    argv.iter()
                        .map(|a| quote_element_arg(a))
                        .collect::<Result<Vec<_>>>()?,
                );
                Ok(format!(
                    "#!/bin/sh\n# written by tandem\n{prelude}\nexec {}\n",
                    words.join(" ")
                ))
            }
            Body::Script(text) => Ok(with_prelude(text, &prelude)),
        }
    }
}

/// A command word of an array's elements: its sweep placeholders expanded by the shell.
fn quote_element_arg(a: &str) -> Result<String> {
    if a.contains('{') {
        Word::PerElement(a.to_string()).quoted()
    } else {
        quote(a)
    }
}

/// A user's batch script with the prelude after its `#!` line and `#SBATCH` header (Slurm reads
/// directives only before the first command), and its `{param.NAME}` / `{element}` as the
/// element's variables.
fn with_prelude(text: &str, prelude: &str) -> String {
    let text = element_placeholders(text);
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|l| {
            let t = l.trim();
            !(t.is_empty() || t.starts_with('#'))
        })
        .unwrap_or(lines.len());
    let mut out = lines[..header].join("\n");
    if header == 0 {
        out.push_str("#!/bin/sh");
    }
    out.push('\n');
    out.push_str(prelude);
    out.push('\n');
    out.push_str(&lines[header..].join("\n"));
    out.push('\n');
    out
}

/// `{param.NAME}` as `${TANDEM_PARAM_NAME}` and `{element}` as `${TANDEM_ELEMENT}` in a script's
/// text (its values are words that need no quoting); nothing else changes.
pub fn element_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let var = after.find('}').and_then(|c| {
            let name = &after[..c];
            let v = if name == "element" {
                Some("TANDEM_ELEMENT".to_string())
            } else {
                name.strip_prefix("param.")
                    .filter(|n| {
                        !n.is_empty() && n.chars().all(|x| x.is_ascii_alphanumeric() || x == '_')
                    })
                    .map(|n| format!("TANDEM_PARAM_{n}"))
            };
            v.map(|v| (v, c))
        });
        match var {
            Some((v, c)) => {
                out.push_str(&format!("${{{v}}}"));
                rest = &after[c + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One poll of an array: every element's state, and the new log bytes of the elements asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArrayPoll {
    /// By element index: what Slurm says of it (elements Slurm no longer knows are missing).
    pub elements: BTreeMap<u32, JobStatus>,
    /// By element index: new stdout and stderr bytes.
    pub logs: BTreeMap<u32, (Vec<u8>, Vec<u8>)>,
}

impl Slurm<'_> {
    /// The script of one poll of array `job`: the state of every element (and of the elements
    /// in `missing`, asked of scontrol by name: one that just ended can be in neither squeue nor
    /// sacct for a few seconds), then the logs of `want` (element, stdout path, stderr path,
    /// offsets), at most `max` bytes in all.
    pub fn array_poll_script(
        &self,
        job: &str,
        want: &[(u32, String, String, (u64, u64))],
        missing: &[u32],
        max: usize,
        nonce: &str,
    ) -> Result<String> {
        let job_q = quote(job)?;
        let squeue = quote(&self.conf.tool("squeue"))?;
        let sacct = quote(&self.conf.tool("sacct"))?;
        let scontrol = quote(&self.conf.tool("scontrol"))?;
        let mut text = self.conf.script()?.build();
        text.push_str(&format!(
            "{squeue} -h -r -j {job_q} -o 'Q|%i|%T|%r|%M|%D' 2>/dev/null || true\n\
             a=$({sacct} -X -n -P -j {job_q} -o JobID,State,ExitCode,Elapsed,NNodes,Reason 2>/dev/null || true)\n\
             if [ -n \"$a\" ]; then printf '%s\\n' \"$a\" | sed 's/^/A|/'; else {scontrol} show job -o {job_q} 2>/dev/null | sed 's/^/C|/' || true; fi\n"
        ));
        for i in missing {
            let el = quote(&format!("{job}_{i}"))?;
            text.push_str(&format!(
                "{scontrol} show job -o {el} 2>/dev/null | sed 's/^/C|/' || true\n"
            ));
        }
        let each = (max / (2 * want.len().max(1))).max(4096);
        for (i, out, err, (o, e)) in want {
            for (which, path, off) in [("out", out, o), ("err", err, e)] {
                text.push_str(&format!(
                    "echo '@@tandem-{nonce} {i} {which}@@'; tail -c +{} {} 2>/dev/null | head -c {each}\n",
                    off + 1,
                    quote_path(path)?
                ));
            }
        }
        Ok(text)
    }

    /// Poll array `job` (see [`Slurm::array_poll_script`]).
    pub async fn poll_array(
        &self,
        job: &str,
        want: &[(u32, String, String, (u64, u64))],
        missing: &[u32],
        cancel: &CancellationToken,
    ) -> Result<ArrayPoll> {
        let nonce = format!("{:016x}", rand::random::<u64>());
        let script =
            self.array_poll_script(job, want, missing, self.transport.max_output(), &nonce)?;
        let out = self.transport.run(&script, self.timeout, cancel).await?;
        Ok(parse_array_poll(job, &out.stdout, &nonce))
    }
}

/// Split an array poll's output into each element's state and log bytes. Live states (squeue)
/// win over records of ended elements (sacct, scontrol); a line for the array's pending
/// remainder (`123_[4-9%2]`) says nothing of one element and is skipped.
pub fn parse_array_poll(job: &str, out: &[u8], nonce: &str) -> ArrayPoll {
    let mark = format!("@@tandem-{nonce} ");
    let mark_b = mark.as_bytes();
    let mut p = ArrayPoll::default();
    let first = memchr::memmem::find(out, mark_b).unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..first]);
    let mut live = std::collections::BTreeSet::new();
    for line in head.lines() {
        let Some((id, st)) = parse_status_line(line) else {
            continue;
        };
        let Some(idx) = element_of(job, &id) else {
            continue;
        };
        let is_live = line.starts_with("Q|");
        if is_live {
            live.insert(idx);
            p.elements.insert(idx, st);
        } else if !live.contains(&idx) {
            p.elements.insert(idx, st);
        }
    }
    // the log sections: `@@tandem-NONCE I out@@\n` then bytes, up to the next mark
    let mut at = first;
    while at < out.len() {
        let rest = &out[at + mark_b.len()..];
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..nl]);
        let body_start = at + mark_b.len() + nl + 1;
        let body_end = memchr::memmem::find(&out[body_start..], mark_b)
            .map(|i| body_start + i)
            .unwrap_or(out.len());
        let mut w = head.trim_end_matches("@@").split(' ');
        if let (Some(Ok(i)), Some(which)) = (w.next().map(str::parse::<u32>), w.next()) {
            let e = p.logs.entry(i).or_default();
            let body = &out[body_start..body_end];
            if which == "out" {
                e.0.extend_from_slice(body);
            } else {
                e.1.extend_from_slice(body);
            }
        }
        at = body_end;
    }
    p
}

/// The element index of `id` in array `job`: `123_4` is 4; `123_[4-9]` and other jobs are none.
fn element_of(job: &str, id: &str) -> Option<u32> {
    id.strip_prefix(job)?.strip_prefix('_')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec {
            name: "sweep".into(),
            run_dir: "/w/r 1/solve".into(),
            body: Body::Command {
                argv: vec![
                    "heat2d".into(),
                    "--alpha".into(),
                    "{param.alpha}".into(),
                    "--out=/o/e{element}/".into(),
                    "$(id)".into(),
                ],
                launcher: "none".into(),
            },
            array: Some(ArraySpec {
                count: 6,
                max_parallel: Some(2),
                params: vec!["alpha".into(), "t_edge".into()],
                table: "element\talpha\tt_edge\n0\t0.5\t20\n1\t0.5\t50\n2\t0.5\t80\n3\t1.0\t20\n4\t1.0\t50\n5\t1.0\t80\n".into(),
                env: [("OUTPUT".to_string(), "/o/a={param.alpha} x/".to_string())].into(),
                only: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_array_asks_for_its_indexes_and_logs_per_element() {
        let s = spec();
        assert!(s.sbatch_args().contains(&"--array=0-5%2".to_string()));
        assert!(s
            .sbatch_args()
            .contains(&"--output=/w/r 1/solve/slurm-%A_%a.out".to_string()));
        let some = ArraySpec {
            only: Some(vec![1, 4]),
            max_parallel: None,
            ..s.array.clone().unwrap()
        };
        assert_eq!(some.indexes(), "1,4");
    }

    /// Each element's script, run as Slurm would run element 4, reads its own row.
    #[test]
    fn each_element_reads_its_row_and_gets_its_values() {
        let d = tempfile::tempdir().unwrap();
        let mut s = spec();
        s.run_dir = d.path().display().to_string();
        let a = s.array.clone().unwrap();
        std::fs::write(d.path().join(TABLE), &a.table).unwrap();
        s.body = Body::Command {
            argv: vec![
                "sh".into(),
                "-c".into(),
                "printf '%s|' \"$@\" \"$OUTPUT\" \"$TANDEM_PARAM_t_edge\"".into(),
                "x".into(),
                "--alpha={param.alpha}".into(),
                "e{element}".into(),
                "$(id)".into(),
            ],
            launcher: "none".into(),
        };
        let script = s.batch_script().unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("SLURM_ARRAY_TASK_ID", "4")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.ends_with("--alpha=1.0|e4|$(id)|/o/a=1.0 x/|50|"),
            "{text}"
        );
        // no row: a clear error
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("SLURM_ARRAY_TASK_ID", "9")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no row for element 9"));
    }

    #[test]
    fn a_users_script_keeps_its_header_and_reads_the_same_variables() {
        let text = "#!/bin/bash\n#SBATCH --time=1\n# note {param.x}\nset -e\necho {param.alpha} {element} ${HOME} {run}\n";
        let out = with_prelude(text, "PRELUDE");
        assert!(
            out.starts_with(
                "#!/bin/bash\n#SBATCH --time=1\n# note ${TANDEM_PARAM_x}\nPRELUDE\nset -e\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("echo ${TANDEM_PARAM_alpha} ${TANDEM_ELEMENT} ${HOME} {run}"),
            "{out}"
        );
    }

    #[test]
    fn an_array_poll_gives_each_elements_state_and_logs() {
        let out = b"Q|77_4|RUNNING|None|0:05|1\nQ|77_[5-9%2]|PENDING|JobArrayTaskLimit|0:00|1\nC|JobId=80 ArrayJobId=77 ArrayTaskId=0 JobState=COMPLETED Reason=None ExitCode=0:0 RunTime=00:00:03 NumNodes=1\nC|JobId=81 ArrayJobId=77 ArrayTaskId=1 JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 RunTime=00:00:01 NumNodes=1\nC|JobId=77 ArrayJobId=77 ArrayTaskId=4 JobState=RUNNING Reason=None ExitCode=0:0 RunTime=00:00:05 NumNodes=1\n@@tandem-ab 4 out@@\nline @@tandem-xx 1\n@@tandem-ab 4 err@@\noops\n@@tandem-ab 1 out@@\n@@tandem-ab 1 err@@\nbad\n";
        let p = parse_array_poll("77", out, "ab");
        assert_eq!(p.elements.len(), 3, "{:?}", p.elements);
        assert_eq!(p.elements[&0].state, "COMPLETED");
        assert_eq!(p.elements[&1].exit_code, Some(3));
        assert_eq!(p.elements[&4].state, "RUNNING");
        assert_eq!(
            p.logs[&4],
            (b"line @@tandem-xx 1\n".to_vec(), b"oops\n".to_vec())
        );
        assert_eq!(p.logs[&1], (vec![], b"bad\n".to_vec()));
        // sacct's form, where accounting runs
        let a = parse_array_poll("9", b"A|9_2|OUT_OF_MEMORY|0:125|00:00:09|1|OutOfMemory\nA|9_[3-4]|PENDING|0:0|00:00:00|1|None\n", "n");
        assert_eq!(a.elements[&2].state, "OUT_OF_MEMORY");
        assert_eq!(a.elements.len(), 1);
    }
}
