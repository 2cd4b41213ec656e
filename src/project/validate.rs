//! Checks what serde cannot: references between sections, placeholders, names and paths, each
//! error with the file, line:col and key (from the spans the raw structs keep). One function per
//! section of the file.

use super::model::*;
use super::raw::*;
use super::target::*;
use super::{pos_of, template, ProjectError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

struct Ctx<'a> {
    file: &'a Path,
    src: &'a str,
}

type Checked<T> = Result<T, ProjectError>;

impl Ctx<'_> {
    fn err<T>(&self, at: usize, key: &str, message: impl Into<String>) -> Checked<T> {
        Err(ProjectError {
            file: self.file.to_path_buf(),
            pos: Some(pos_of(self.src, at)),
            key: Some(key.to_string()),
            message: message.into(),
        })
    }

    /// Placeholders in a string value: the span covers the quotes, so offsets shift by one.
    /// `sweep`: the parameters of the phase's sweep, if it has one.
    fn check_template(
        &self,
        s: &Spanned<String>,
        key: &str,
        sweep: Option<&[String]>,
    ) -> Checked<()> {
        template::check(s.get_ref(), sweep)
            .or_else(|(off, msg)| self.err(s.span().start + 1 + off, key, msg))
    }

    /// Placeholders in every string of a loose table (a phase's `ray` or `slurm` section),
    /// reported at the table with the key that holds the string.
    fn check_table(
        &self,
        t: &Spanned<toml::Table>,
        key: &str,
        sweep: Option<&[String]>,
    ) -> Checked<()> {
        fn walk(
            v: &toml::Value,
            key: String,
            sweep: Option<&[String]>,
        ) -> Result<(), (String, String)> {
            match v {
                toml::Value::String(s) => template::check(s, sweep).map_err(|(_, m)| (key, m)),
                toml::Value::Array(a) => a.iter().try_for_each(|x| walk(x, key.clone(), sweep)),
                toml::Value::Table(t) => t
                    .iter()
                    .try_for_each(|(k, x)| walk(x, format!("{key}.{k}"), sweep)),
                _ => Ok(()),
            }
        }
        t.get_ref()
            .iter()
            .try_for_each(|(k, v)| walk(v, format!("{key}.{k}"), sweep))
            .or_else(|(k, m)| self.err(t.span().start, &k, m))
    }

    /// A path named in the file, relative to the file's directory unless absolute.
    fn rel(&self, d: String) -> PathBuf {
        let p = PathBuf::from(d);
        if p.is_absolute() {
            p
        } else {
            self.file.parent().unwrap_or(Path::new(".")).join(p)
        }
    }

    fn phase_ref(&self, s: &Spanned<String>, key: &str) -> Checked<PhaseId> {
        match PhaseId::parse(s.get_ref()) {
            Some(p) => Ok(p),
            None => self.err(
                s.span().start,
                key,
                format!(
                    "unknown phase `{}`, expected `preprocess` or `solve`",
                    s.get_ref()
                ),
            ),
        }
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn valid_rel_path(p: &str) -> bool {
    !p.starts_with('/') && !p.split('/').any(|seg| seg == ".." || seg == ".")
}

fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

pub(super) fn validate(file: &Path, src: &str, raw: RawProject) -> Checked<Project> {
    let cx = Ctx { file, src };
    let name = raw.project.name.get_ref().clone();
    if !is_name(&name) {
        return cx.err(
            raw.project.name.span().start,
            "project.name",
            "expected a name of letters, digits, `-` or `_` (at most 64)",
        );
    }
    let storage = storage(&cx, &raw.storage)?;
    let datasets = datasets(&cx, raw.datasets)?;
    // the handoff goes from preprocess: a sweep there is refused by `handoff`
    let swept_from = raw.phases.preprocess.sweep.as_ref().map(|s| s.span().start);
    let handoff = handoff(&cx, raw.handoff, swept_from)?;
    let phases = phases(&cx, raw.phases, &datasets)?;
    let plots = plots(&cx, raw.plots)?;
    let mut targets = BTreeMap::new();
    for (tname, t) in raw.targets {
        let t = target(&cx, tname, t)?;
        targets.insert(t.name.clone(), t);
    }
    targets.entry("local".into()).or_insert_with(|| Target {
        name: "local".into(),
        kind: TargetKind::Local { store_dir: None },
        description: Some("embedded default".into()),
        ray: None,
        cloudwatch: CloudWatch {
            period: 60,
            ..Default::default()
        },
    });
    let default_target = match raw.project.default_target {
        None => "local".to_string(),
        Some(t) if targets.contains_key(t.get_ref()) => t.into_inner(),
        Some(t) => {
            let known: Vec<_> = targets.keys().map(String::as_str).collect();
            return cx.err(
                t.span().start,
                "project.default_target",
                format!(
                    "unknown target `{}`, expected one of {}",
                    t.get_ref(),
                    known.join(", ")
                ),
            );
        }
    };
    for ph in &phases {
        if ph.local.is_none() {
            return Err(ProjectError {
                file: file.to_path_buf(),
                pos: None,
                key: Some(format!("phases.{}.local", ph.id)),
                message: "missing: every phase says how it runs on the local target (`[phases.NAME.local] command = [...]`)".into(),
            });
        }
    }
    let dir = file
        .parent()
        .map(Path::to_path_buf)
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Project {
        file: file.to_path_buf(),
        dir,
        hash: fnv1a(src.as_bytes()),
        src: src.into(),
        name,
        description: raw.project.description,
        storage,
        datasets,
        phases,
        handoff,
        plots,
        targets,
        default_target,
    })
}

/// `storage.root`: `bucket/prefix` in the target's store, or `s3://bucket/prefix`.
fn storage(cx: &Ctx, raw: &RawStorage) -> Checked<Storage> {
    let (s3, root) = match raw.root.get_ref().strip_prefix("s3://") {
        Some(r) => (true, r),
        None => (false, raw.root.get_ref().as_str()),
    };
    let root = root.trim_end_matches('/');
    let (bucket, prefix) = root.split_once('/').unwrap_or((root, ""));
    if !valid_bucket(bucket) {
        return cx.err(
            raw.root.span().start,
            "storage.root",
            format!(
                "expected `bucket/prefix` with a bucket name of 3-63 lowercase letters, digits, `-` or `.`; got `{bucket}`"
            ),
        );
    }
    if !valid_rel_path(prefix) || prefix.contains("//") {
        return cx.err(
            raw.root.span().start,
            "storage.root",
            "the prefix must not hold `.`, `..` or empty segments",
        );
    }
    Ok(Storage {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        s3,
    })
}

fn datasets(cx: &Ctx, raw: BTreeMap<String, RawDataset>) -> Checked<BTreeMap<String, Dataset>> {
    let mut datasets = BTreeMap::new();
    for (dname, d) in raw {
        let key = format!("datasets.{dname}.path");
        if !is_name(&dname) {
            return cx.err(
                d.path.span().start,
                &format!("datasets.{dname}"),
                "dataset names are letters, digits, `-` or `_`",
            );
        }
        let p = d.path.get_ref().trim_matches('/');
        if p.is_empty() || !valid_rel_path(p) {
            return cx.err(
                d.path.span().start,
                &key,
                "expected a path relative to the storage root, without `..`",
            );
        }
        datasets.insert(
            dname.clone(),
            Dataset {
                name: dname,
                path: format!("{p}/"),
                format: d.format,
                description: d.description,
                generate: d.generate,
            },
        );
    }
    Ok(datasets)
}

fn phases(cx: &Ctx, raw: RawPhases, datasets: &BTreeMap<String, Dataset>) -> Checked<[Phase; 2]> {
    let mut phases = Vec::with_capacity(2);
    for (id, rp) in [
        (PhaseId::Preprocess, raw.preprocess),
        (PhaseId::Solve, raw.solve),
    ] {
        phases.push(phase(cx, id, rp, datasets)?);
    }
    Ok(phases.try_into().expect("two phases"))
}

fn phase(
    cx: &Ctx,
    id: PhaseId,
    rp: RawPhase,
    datasets: &BTreeMap<String, Dataset>,
) -> Checked<Phase> {
    let base = format!("phases.{id}");
    for input in &rp.inputs {
        let v = input.get_ref();
        if !datasets.contains_key(v) && v != "handoff" {
            let known: Vec<_> = datasets
                .keys()
                .map(String::as_str)
                .chain(["handoff"])
                .collect();
            return cx.err(
                input.span().start,
                &format!("{base}.inputs"),
                format!(
                    "unknown input `{v}`, expected a dataset name or `handoff` (known: {})",
                    known.join(", ")
                ),
            );
        }
    }
    let sweep = match rp.sweep {
        None => None,
        Some(sw) => {
            let at = sw.span().start;
            let key = format!("{base}.sweep");
            let sw = super::sweep::validate(sw.into_inner(), &key, at)
                .or_else(|(at, key, why)| cx.err(at, &key, why))?;
            if rp.engine == Engine::Slurm && sw.len() > sw.max_array_size as usize {
                return cx.err(
                    at,
                    &key,
                    format!(
                        "this sweep makes {} elements, more than the {} a Slurm array may have \
                         (MaxArraySize); split it, or raise MaxArraySize on the cluster and set \
                         max_array_size",
                        sw.len(),
                        sw.max_array_size
                    ),
                );
            }
            Some(sw)
        }
    };
    let names = sweep.as_ref().map(|s| s.names());
    let names = names.as_deref();
    cx.check_template(&rp.output, &format!("{base}.output"), names)?;
    let out = rp.output.get_ref().trim_matches('/');
    if out.is_empty() || !valid_rel_path(out) {
        return cx.err(
            rp.output.span().start,
            &format!("{base}.output"),
            "expected a prefix relative to the storage root, without `..`",
        );
    }
    let local = match rp.local {
        None => None,
        Some(l) => {
            if l.command.get_ref().is_empty() {
                return cx.err(
                    l.command.span().start,
                    &format!("{base}.local.command"),
                    "expected a non-empty list: program, then arguments",
                );
            }
            for a in l.command.get_ref() {
                cx.check_template(a, &format!("{base}.local.command"), names)?;
            }
            let mut env = BTreeMap::new();
            for (k, v) in l.env {
                cx.check_template(&v, &format!("{base}.local.env.{k}"), names)?;
                env.insert(k, v.into_inner());
            }
            Some(LocalSpec {
                command: l
                    .command
                    .into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect(),
                env,
                grace_seconds: l.grace_seconds,
            })
        }
    };
    let retry = match rp.retry {
        None => None,
        Some(r) => Some(retry(cx, &base, r.into_inner())?),
    };
    for (t, k) in [(&rp.ray, "ray"), (&rp.slurm, "slurm")] {
        if let Some(t) = t {
            cx.check_table(t, &format!("{base}.{k}"), names)?;
        }
    }
    let phase = Phase {
        id,
        engine: rp.engine,
        inputs: rp.inputs.into_iter().map(Spanned::into_inner).collect(),
        output: format!("{out}/"),
        resources: rp.resources,
        local,
        ray: rp.ray.map(Spanned::into_inner),
        slurm: rp.slurm.map(Spanned::into_inner),
        sweep,
        retry,
    };
    // elements write apart: where the output names parameters, no two elements may name the same
    if let Some(sw) = &phase.sweep {
        let mut seen: std::collections::HashMap<String, u32> = Default::default();
        for e in sw.elements() {
            let o = phase.output_template(Some(&e));
            if let Some(first) = seen.insert(o.clone(), e.index) {
                return cx.err(
                    rp.output.span().start,
                    &format!("{base}.output"),
                    format!(
                        "elements {first} and {} of the sweep would write to the same output \
                         `{o}`: name every parameter that varies in it, or add `{{element}}`",
                        e.index
                    ),
                );
            }
        }
    }
    Ok(phase)
}

fn retry(cx: &Ctx, base: &str, r: RawRetry) -> Checked<Retry> {
    let key = format!("{base}.retry");
    let max = match r.max {
        None => 1,
        Some(m) if (1..=10).contains(m.get_ref()) => *m.get_ref() as u32,
        Some(m) => {
            return cx.err(
                m.span().start,
                &format!("{key}.max"),
                "expected 1 to 10 tries more",
            )
        }
    };
    let mut on = Vec::new();
    for w in r.on.get_ref() {
        match RetryOn::of_word(w.get_ref()) {
            Some(x) => on.push(x),
            None => {
                let known: Vec<&str> = RetryOn::ALL.iter().map(|x| x.word()).collect();
                return cx.err(
                    w.span().start,
                    &format!("{key}.on"),
                    format!(
                        "unknown end `{}`, expected one of {} (FAILED: a non-zero exit code)",
                        w.get_ref(),
                        known.join(", ")
                    ),
                );
            }
        }
    }
    if on.is_empty() {
        return cx.err(
            r.on.span().start,
            &format!("{key}.on"),
            "a retry needs the ends it retries: on = [\"OUT_OF_MEMORY\", \"TIMEOUT\"]",
        );
    }
    let factor = |f: &Option<Spanned<f64>>, k: &str| -> Checked<f64> {
        match f {
            None => Ok(1.0),
            Some(x) if (1.0..=100.0).contains(x.get_ref()) => Ok(*x.get_ref()),
            Some(x) => cx.err(
                x.span().start,
                &format!("{key}.{k}"),
                "expected a factor from 1 to 100 (what the next try asks for, times the last)",
            ),
        }
    };
    Ok(Retry {
        max,
        on,
        memory_factor: factor(&r.memory_factor, "memory_factor")?,
        time_factor: factor(&r.time_factor, "time_factor")?,
    })
}

fn handoff(cx: &Ctx, raw: RawHandoff, swept_from: Option<usize>) -> Checked<Handoff> {
    let from = cx.phase_ref(&raw.from, "handoff.from")?;
    let to = cx.phase_ref(&raw.to, "handoff.to")?;
    if from != PhaseId::Preprocess || to != PhaseId::Solve {
        return cx.err(
            raw.from.span().start,
            "handoff",
            "the handoff goes from `preprocess` to `solve`",
        );
    }
    if let Some(sw) = swept_from {
        return cx.err(
            sw,
            &format!("phases.{from}.sweep"),
            format!(
                "a sweep on `{from}` would hand `{to}` one input per element: sweep `{to}` \
                 instead (each of its elements reads the one handoff)"
            ),
        );
    }
    Ok(Handoff {
        from,
        to,
        require: raw.require,
        fsx_path: raw.fsx_path,
    })
}

fn plots(cx: &Ctx, raw: Vec<RawPlot>) -> Checked<Vec<PlotSpec>> {
    let mut plots = Vec::new();
    for (i, p) in raw.into_iter().enumerate() {
        let key = format!("plots[{i}]");
        let phase = cx.phase_ref(&p.phase, &format!("{key}.phase"))?;
        let f = p.file.get_ref();
        if f.is_empty() || !valid_rel_path(f) {
            return cx.err(
                p.file.span().start,
                &format!("{key}.file"),
                "expected a path relative to the phase output, without `..`",
            );
        }
        if p.kind == PlotKind::Line && (p.x.is_none() || p.y.is_empty()) {
            return cx.err(
                p.file.span().start,
                &key,
                "a line plot needs `x` (a column) and `y` (one or more columns)",
            );
        }
        let cmap = match p.cmap {
            None => "inferno".to_string(),
            Some(c) if COLOR_MAPS.contains(&c.get_ref().as_str()) => c.into_inner(),
            Some(c) => {
                return cx.err(
                    c.span().start,
                    &format!("{key}.cmap"),
                    format!(
                        "unknown colour map `{}`, expected one of {}",
                        c.get_ref(),
                        COLOR_MAPS.join(", ")
                    ),
                )
            }
        };
        if p.row.is_some() && p.col.is_some() {
            return cx.err(
                p.file.span().start,
                &key,
                "a slice is a `row` or a `col`, not both",
            );
        }
        let range = match p.range {
            None => None,
            Some(r) => match r.get_ref().as_slice() {
                [lo, hi] if lo < hi && lo.is_finite() && hi.is_finite() => Some((*lo, *hi)),
                _ => {
                    return cx.err(
                        r.span().start,
                        &format!("{key}.range"),
                        "expected [low, high] with low < high",
                    )
                }
            },
        };
        // a slice is drawn as a line of its position against the value
        let (x, y) = if p.kind == PlotKind::Slice {
            (
                Some(if p.col.is_some() { "row" } else { "col" }.to_string()),
                vec!["value".to_string()],
            )
        } else {
            (p.x, p.y)
        };
        plots.push(PlotSpec {
            name: p.name,
            kind: p.kind,
            phase,
            file: f.clone(),
            x,
            y,
            log_y: p.log_y,
            cmap,
            row: p.row,
            col: p.col,
            range,
            pick: crate::project::ArrayPick {
                field: p.field,
                slice: p.slice,
                complex: p.complex,
            },
        });
    }
    Ok(plots)
}

fn target(cx: &Ctx, tname: Spanned<String>, t: RawTarget) -> Checked<Target> {
    let key = format!("targets.{}", tname.get_ref());
    if !is_name(tname.get_ref()) {
        return cx.err(
            tname.span().start,
            &key,
            "target names are letters, digits, `-` or `_`",
        );
    }
    let kind = match t.kind.get_ref().as_str() {
        "local" => TargetKind::Local {
            store_dir: t.store_dir.clone().map(|d| cx.rel(d)),
        },
        "slurm" => TargetKind::Slurm(Box::new(slurm_target(cx, &key, &t)?)),
        other => {
            return cx.err(
                t.kind.span().start,
                &format!("{key}.kind"),
                format!("unknown target kind `{other}`, expected `local` or `slurm`"),
            )
        }
    };
    let ray = ray(cx, &key, &t, &kind)?;
    let cloudwatch = cloudwatch(cx, &key, &t, &kind)?;
    Ok(Target {
        name: tname.into_inner(),
        kind,
        description: t.description,
        ray,
        cloudwatch,
    })
}

fn slurm_target(cx: &Ctx, key: &str, t: &RawTarget) -> Checked<SlurmTarget> {
    let transport = transport(cx, key, t)?;
    // SSM bills no calls but throttles them: one followed job at 10 s stays near 20 calls a
    // minute (SendCommand and two or three polls), under the 30 aimed for
    let default_poll = if matches!(transport, TransportSpec::Ssm(_)) {
        10.0
    } else {
        5.0
    };
    let poll = match &t.poll_seconds {
        None => default_poll,
        Some(p) if *p.get_ref() >= 0.2 && *p.get_ref() <= 3600.0 => *p.get_ref(),
        Some(p) => {
            return cx.err(
                p.span().start,
                &format!("{key}.poll_seconds"),
                "expected a number of seconds from 0.2 to 3600",
            )
        }
    };
    let work_dir = match &t.work_dir {
        // Slurm's daemons run elsewhere: a run directory they can use is an absolute path
        None if transport == TransportSpec::Local => WorkDir::DataDir,
        None => WorkDir::Home("tandem-runs".into()),
        Some(w) => {
            let p = w.get_ref().trim_end_matches('/');
            if p == "~" {
                WorkDir::Home(String::new())
            } else if let Some(rel) = p.strip_prefix("~/") {
                WorkDir::Home(rel.to_string())
            } else if p.starts_with('/') {
                WorkDir::Path(p.to_string())
            } else {
                return cx.err(
                    w.span().start,
                    &format!("{key}.work_dir"),
                    format!(
                        "`{p}` is relative: Slurm's daemons would resolve it somewhere else; give an absolute path on shared storage (/fsx/tandem) or ~/{p} (under the login's home on the head node)"
                    ),
                );
            }
        }
    };
    Ok(SlurmTarget {
        transport,
        slurm: SlurmConf {
            bin: t.slurm_bin.clone(),
            conf: t.slurm_conf.clone(),
            partition: t.partition.clone(),
            account: t.account.clone(),
        },
        work_dir,
        poll: std::time::Duration::from_secs_f64(poll),
        store_dir: t.store_dir.clone().map(|d| cx.rel(d)),
    })
}

fn transport(cx: &Ctx, key: &str, t: &RawTarget) -> Checked<TransportSpec> {
    Ok(match t.transport.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("local") => TransportSpec::Local,
        Some("ssh") => {
            let Some(host) = t.host.clone() else {
                return cx.err(
                    t.kind.span().start,
                    &format!("{key}.host"),
                    "an ssh target needs `host`",
                );
            };
            if let Some(k) = &t.known_hosts {
                if !["strict", "accept-new", "off"].contains(&k.get_ref().as_str()) {
                    return cx.err(
                        k.span().start,
                        &format!("{key}.known_hosts"),
                        format!(
                            "unknown policy `{}`, expected strict, accept-new or off",
                            k.get_ref()
                        ),
                    );
                }
            }
            TransportSpec::Ssh(SshConfig {
                host,
                port: t.port,
                user: t.user.clone(),
                identity_file: t
                    .identity_file
                    .clone()
                    .map(|p| PathBuf::from(expand_tilde(&p))),
                known_hosts: t.known_hosts.as_ref().map(|k| k.get_ref().clone()),
                known_hosts_file: t
                    .known_hosts_file
                    .clone()
                    .map(|p| PathBuf::from(expand_tilde(&p))),
            })
        }
        Some("ssm") => {
            let Some(id) = t.instance_id.clone() else {
                return cx.err(
                    t.kind.span().start,
                    &format!("{key}.instance_id"),
                    "an ssm target needs `instance_id` (i-… or sagemaker-cluster:…)",
                );
            };
            TransportSpec::Ssm(SsmConfig {
                target: id,
                user: t.user.clone(),
                profile: t.profile.clone(),
                region: t.region.clone(),
                endpoint: None,
                log_group: t.log_group.clone(),
                max_attempts: None,
            })
        }
        Some(other) => {
            let at = t.transport.as_ref().map(|s| s.span().start).unwrap_or(0);
            return cx.err(
                at,
                &format!("{key}.transport"),
                format!("unknown transport `{other}`, expected local, ssh or ssm"),
            );
        }
    })
}

fn ray(cx: &Ctx, key: &str, t: &RawTarget, kind: &TargetKind) -> Checked<Option<RayConf>> {
    let Some(d) = &t.ray_dashboard else {
        return Ok(None);
    };
    let url = d.get_ref().trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return cx.err(
            d.span().start,
            &format!("{key}.ray_dashboard"),
            "expected the dashboard's URL, like http://127.0.0.1:8265",
        );
    }
    let reach = match t.ray_reach.as_ref().map(|r| r.get_ref().as_str()) {
        None | Some("direct") => Reach::Direct,
        Some("transport") if matches!(kind, TargetKind::Slurm(_)) => Reach::Transport,
        Some(other) => {
            let r = t.ray_reach.as_ref().map(|r| r.span().start).unwrap_or(0);
            return cx.err(
                r,
                &format!("{key}.ray_reach"),
                format!("unknown reach `{other}`, expected direct, or transport on a target with one (kind = \"slurm\")"),
            );
        }
    };
    Ok(Some(RayConf {
        dashboard: url,
        reach,
        temp_dir: t.ray_temp_dir.clone().unwrap_or_else(|| "/tmp/ray".into()),
        ..Default::default()
    }))
}

fn cloudwatch(cx: &Ctx, key: &str, t: &RawTarget, kind: &TargetKind) -> Checked<CloudWatch> {
    let mut metrics = Vec::new();
    for m in &t.metrics {
        if m.namespace.get_ref().trim().is_empty() {
            return cx.err(
                m.namespace.span().start,
                &format!("{key}.metrics.namespace"),
                "expected a CloudWatch namespace, like AWS/EC2 or CWAgent",
            );
        }
        metrics.push(MetricQuery {
            label: m.label.clone().unwrap_or_else(|| m.name.clone()),
            namespace: m.namespace.get_ref().clone(),
            name: m.name.clone(),
            dimensions: m.dimensions.clone().into_iter().collect(),
            stat: m.stat.clone().unwrap_or_else(|| "Average".into()),
        });
    }
    // no metrics named: the head node's (an EC2 instance behind an ssm target)
    if metrics.is_empty() {
        if let TargetKind::Slurm(st) = kind {
            if let TransportSpec::Ssm(c) = &st.transport {
                if c.target.starts_with("i-") {
                    metrics = default_queries(&c.target);
                }
            }
        }
    }
    if let Some(fs) = &t.fsx_id {
        metrics.extend(fsx_queries(fs));
    }
    let period = match &t.metric_period {
        None => 60,
        Some(p)
            if [1, 5, 10, 30].contains(p.get_ref())
                || (*p.get_ref() >= 60 && p.get_ref() % 60 == 0 && *p.get_ref() <= 86400) =>
        {
            *p.get_ref() as i32
        }
        Some(p) => return cx.err(
            p.span().start,
            &format!("{key}.metric_period"),
            "expected 1, 5, 10, 30 or a multiple of 60 seconds up to 86400 (CloudWatch's periods)",
        ),
    };
    Ok(CloudWatch {
        log_groups: t.log_groups.iter().map(|g| g.get_ref().clone()).collect(),
        metrics,
        period,
        profile: t.profile.clone(),
        region: t.region.clone(),
    })
}

/// `~/x` to the home directory.
pub fn expand_tilde(p: &str) -> String {
    match (p.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(h)) => h.join(rest).display().to_string(),
        _ => p.to_string(),
    }
}
