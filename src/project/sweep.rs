//! Parameter sweeps: `[phases.NAME.sweep]` turns one phase into many elements, each with its own
//! values of the sweep's parameters (`{param.NAME}` in the phase's command, env, batch script and
//! output; `{element}` its index). Parameters are lists or ranges, combined as a grid (every
//! combination, the last parameter varying fastest) or zipped (the n-th value of each).
//!
//! ```toml
//! [phases.solve.sweep]
//! mode = "grid"                                  # or "zip"
//! max_parallel = 4                               # elements running at once
//! alpha = [0.5, 1.0]
//! t_edge = { from = 20, to = 80, step = 30 }     # 20, 50, 80
//! nx = { from = 64, to = 1024, num = 5, scale = "log" }
//! ```
//!
//! Values are numbers, true/false, or words of letters, digits, `.`, `_`, `+` and `-`: they become
//! parts of file names and shell words on a head node, so nothing in them needs quoting.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use toml::Spanned;

/// Most elements a sweep may make: a grid of 10^6 asked for by accident is refused at load,
/// saying how many it would have made.
pub const MAX_ELEMENTS: u64 = 10_000;
/// Slurm's default `MaxArraySize`: array indexes 0..=1000.
pub const DEFAULT_MAX_ARRAY_SIZE: u32 = 1001;
/// The keys of a sweep table that are not parameters.
const RESERVED: [&str; 3] = ["mode", "max_parallel", "max_array_size"];

/// One value of a parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Word(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            // the shortest text that reads back as the same number (0.1, not 0.1000000000000000055)
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Word(w) => f.write_str(w),
        }
    }
}

impl Value {
    /// As a number, where it is one (for plots' legends and `runs diff`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every combination of the parameters' values.
    #[default]
    Grid,
    /// The n-th value of every parameter together (all lists as long).
    Zip,
}

/// One parameter and its values, in the order they run.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub values: Vec<Value>,
}

/// A phase's sweep, validated: its parameters and how they combine.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub mode: Mode,
    /// In the file's order.
    pub params: Vec<Param>,
    /// Elements running at once (None: as many as the engine runs).
    pub max_parallel: Option<u32>,
    /// The cluster's `MaxArraySize` (Slurm refuses larger arrays).
    pub max_array_size: u32,
}

/// One element of a sweep: its index and its parameters' values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Element {
    pub index: u32,
    /// (name, value) in the sweep's order.
    pub params: Vec<(String, Value)>,
}

/// `alpha=0.5 t_edge=20`: parameters as a person reads them (legends, lists).
pub fn label(params: &[(String, Value)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Element {
    /// `alpha=0.5 t_edge=20`: what a person reads (legends, lists).
    pub fn label(&self) -> String {
        label(&self.params)
    }
    /// The element's placeholders: `{element}` and each `{param.NAME}`.
    pub fn put(&self, vars: &mut super::Vars) {
        vars.insert("element", self.index.to_string());
        for (k, v) in &self.params {
            vars.insert(format!("param.{k}"), v.to_string());
        }
    }
    /// The environment every element gets: `TANDEM_ELEMENT` and `TANDEM_PARAM_<NAME>`.
    pub fn env(&self) -> Vec<(String, String)> {
        std::iter::once(("TANDEM_ELEMENT".to_string(), self.index.to_string()))
            .chain(
                self.params
                    .iter()
                    .map(|(k, v)| (format!("TANDEM_PARAM_{k}"), v.to_string())),
            )
            .collect()
    }
}

impl Sweep {
    pub fn names(&self) -> Vec<String> {
        self.params.iter().map(|p| p.name.clone()).collect()
    }

    /// How many elements the sweep makes.
    pub fn len(&self) -> usize {
        match self.mode {
            Mode::Zip => self.params.first().map_or(0, |p| p.values.len()),
            Mode::Grid => self.params.iter().map(|p| p.values.len()).product(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` (0-based): in a grid, the last parameter varies fastest.
    pub fn element(&self, i: usize) -> Element {
        let mut params = Vec::with_capacity(self.params.len());
        match self.mode {
            Mode::Zip => {
                for p in &self.params {
                    params.push((p.name.clone(), p.values[i].clone()));
                }
            }
            Mode::Grid => {
                let mut rest = i;
                let mut picked = vec![0; self.params.len()];
                for (k, p) in self.params.iter().enumerate().rev() {
                    picked[k] = rest % p.values.len();
                    rest /= p.values.len();
                }
                for (p, j) in self.params.iter().zip(picked) {
                    params.push((p.name.clone(), p.values[j].clone()));
                }
            }
        }
        Element {
            index: i as u32,
            params,
        }
    }

    /// Every element, in index order.
    pub fn elements(&self) -> Vec<Element> {
        (0..self.len()).map(|i| self.element(i)).collect()
    }

    /// The parameter table staged beside a Slurm array's script: a header (`element` then the
    /// parameters' names), then one row per element, tab-separated. Element `i` is line `i + 2`.
    pub fn table(&self) -> String {
        let mut t = String::from("element");
        for p in &self.params {
            t.push('\t');
            t.push_str(&p.name);
        }
        t.push('\n');
        for e in self.elements() {
            t.push_str(&e.index.to_string());
            for (_, v) in &e.params {
                t.push('\t');
                t.push_str(&v.to_string());
            }
            t.push('\n');
        }
        t
    }
}

/// The sweep table as the file has it: the reserved keys, and every other key a parameter, each
/// with where it stands (for errors with line:col).
pub(super) struct RawSweep {
    pub mode: Option<Spanned<String>>,
    pub max_parallel: Option<Spanned<i64>>,
    pub max_array_size: Option<Spanned<i64>>,
    pub params: Vec<(Spanned<String>, Spanned<toml::Value>)>,
}

impl<'de> Deserialize<'de> for RawSweep {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<RawSweep, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSweep;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of sweep parameters")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawSweep, A::Error> {
                let mut s = RawSweep {
                    mode: None,
                    max_parallel: None,
                    max_array_size: None,
                    params: Vec::new(),
                };
                while let Some(k) = m.next_key::<Spanned<String>>()? {
                    match k.get_ref().as_str() {
                        "mode" => s.mode = Some(m.next_value()?),
                        "max_parallel" => s.max_parallel = Some(m.next_value()?),
                        "max_array_size" => s.max_array_size = Some(m.next_value()?),
                        _ => {
                            let v = m.next_value()?;
                            s.params.push((k, v));
                        }
                    }
                }
                Ok(s)
            }
        }
        d.deserialize_map(V)
    }
}

/// A problem in a sweep table: the byte offset in the file where it is, the key, and why.
pub(super) type SweepError = (usize, String, String);

/// A parameter name: it becomes `{param.NAME}` and `TANDEM_PARAM_NAME`.
fn is_param_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
        && s.len() <= 64
}

/// A word value: part of file names and shell words, so it needs no quoting anywhere.
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
        && !s.starts_with('-')
}

const WORD_RULE: &str = "a sweep value is a number, true/false, or a word of letters, digits, \
     `.`, `_`, `+` and `-` (at most 64, not starting with `-`): it becomes part of file names \
     and of commands on the cluster";

/// Check and expand a sweep; `key` is `phases.NAME.sweep`, `at` where the table stands.
pub(super) fn validate(raw: RawSweep, key: &str, at: usize) -> Result<Sweep, SweepError> {
    let mode = match &raw.mode {
        None => Mode::Grid,
        Some(m) => match m.get_ref().as_str() {
            "grid" => Mode::Grid,
            "zip" => Mode::Zip,
            other => {
                return Err((
                    m.span().start,
                    format!("{key}.mode"),
                    format!("unknown mode `{other}`, expected `grid` or `zip`"),
                ))
            }
        },
    };
    let positive = |v: &Option<Spanned<i64>>, k: &str| -> Result<Option<u32>, SweepError> {
        match v {
            None => Ok(None),
            Some(n) if (1..=i64::from(u32::MAX)).contains(n.get_ref()) => {
                Ok(Some(*n.get_ref() as u32))
            }
            Some(n) => Err((
                n.span().start,
                format!("{key}.{k}"),
                "expected a whole number of at least 1".into(),
            )),
        }
    };
    let max_parallel = positive(&raw.max_parallel, "max_parallel")?;
    let max_array_size =
        positive(&raw.max_array_size, "max_array_size")?.unwrap_or(DEFAULT_MAX_ARRAY_SIZE);
    if raw.params.is_empty() {
        return Err((
            at,
            key.to_string(),
            "an empty sweep: give at least one parameter (`alpha = [0.5, 1.0]`)".into(),
        ));
    }
    // in the file's order (the TOML reader hands a table's keys over sorted)
    let mut raw_params: Vec<&(Spanned<String>, Spanned<toml::Value>)> = raw.params.iter().collect();
    raw_params.sort_by_key(|(k, _)| k.span().start);
    let mut params: Vec<Param> = Vec::new();
    for (name, value) in raw_params.iter().copied() {
        let pkey = format!("{key}.{}", name.get_ref());
        if !is_param_name(name.get_ref()) || RESERVED.contains(&name.get_ref().as_str()) {
            return Err((
                name.span().start,
                pkey,
                "a parameter's name is letters, digits and `_`, not starting with a digit \
                 (it becomes `{param.NAME}` and TANDEM_PARAM_NAME)"
                    .into(),
            ));
        }
        let values = values(value, &pkey)?;
        params.push(Param {
            name: name.get_ref().clone(),
            values,
        });
    }
    let sizes: Vec<u64> = params.iter().map(|p| p.values.len() as u64).collect();
    match mode {
        Mode::Zip => {
            if let Some((i, p)) = params
                .iter()
                .enumerate()
                .find(|(_, p)| p.values.len() != params[0].values.len())
            {
                return Err((
                    raw_params[i].1.span().start,
                    format!("{key}.{}", p.name),
                    format!(
                        "mode = \"zip\" takes the n-th value of every parameter together, so \
                         every list must be as long: `{}` has {}, `{}` has {}",
                        params[0].name,
                        params[0].values.len(),
                        p.name,
                        p.values.len()
                    ),
                ));
            }
        }
        Mode::Grid => {
            let total = sizes.iter().fold(1u128, |a, &n| a.saturating_mul(n.into()));
            if total > u128::from(MAX_ELEMENTS) {
                let how: Vec<String> = sizes.iter().map(u64::to_string).collect();
                return Err((
                    at,
                    key.to_string(),
                    format!(
                        "this sweep makes {} elements (a grid of {}); at most {MAX_ELEMENTS} — \
                         check the ranges' steps, or use mode = \"zip\"",
                        crate::fmt::count(total.min(u128::from(u64::MAX)) as u64),
                        how.join(" x ")
                    ),
                ));
            }
        }
    }
    Ok(Sweep {
        mode,
        params,
        max_parallel,
        max_array_size,
    })
}

/// A parameter's values: a list of scalars, or a range table.
fn values(v: &Spanned<toml::Value>, key: &str) -> Result<Vec<Value>, SweepError> {
    let at = v.span().start;
    let bad = |why: String| Err((at, key.to_string(), why));
    match v.get_ref() {
        toml::Value::Array(a) => {
            if a.is_empty() {
                return bad("an empty list: give at least one value".into());
            }
            if a.len() as u64 > MAX_ELEMENTS {
                return bad(format!(
                    "{} values; a sweep makes at most {MAX_ELEMENTS} elements",
                    a.len()
                ));
            }
            a.iter()
                .map(|x| scalar(x).ok_or_else(|| (at, key.to_string(), WORD_RULE.to_string())))
                .collect()
        }
        toml::Value::Table(t) => range(t).map_err(|why| (at, key.to_string(), why)),
        _ => bad(
            "expected a list of values (`[0.5, 1.0]`) or a range (`{ from = 0, to = 1, step = \
             0.25 }` or `{ from = 1, to = 1000, num = 4, scale = \"log\" }`)"
                .into(),
        ),
    }
}

fn scalar(v: &toml::Value) -> Option<Value> {
    match v {
        toml::Value::Boolean(b) => Some(Value::Bool(*b)),
        toml::Value::Integer(i) => Some(Value::Int(*i)),
        toml::Value::Float(x) if x.is_finite() => Some(Value::Float(*x)),
        toml::Value::String(s) if is_word(s) => Some(Value::Word(s.clone())),
        _ => None,
    }
}

/// `{ from, to, step }` or `{ from, to, num, scale = "linear" | "log" }`, both ends included
/// (with `step`, `to` where a whole number of steps reaches it). Whole numbers stay whole where
/// every given number is whole and the steps land on whole numbers.
fn range(t: &toml::Table) -> Result<Vec<Value>, String> {
    for k in t.keys() {
        if !["from", "to", "step", "num", "scale"].contains(&k.as_str()) {
            return Err(format!(
                "unknown key `{k}` in a range: expected from, to and step, or from, to, num and \
                 scale"
            ));
        }
    }
    let num_of = |k: &str| -> Result<Option<(f64, bool)>, String> {
        match t.get(k) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => Ok(Some((*i as f64, true))),
            Some(toml::Value::Float(x)) if x.is_finite() => Ok(Some((*x, false))),
            Some(_) => Err(format!("`{k}` of a range must be a number")),
        }
    };
    let (Some((from, fi)), Some((to, ti))) = (num_of("from")?, num_of("to")?) else {
        return Err("a range needs `from` and `to`".into());
    };
    let scale = match t.get("scale") {
        None => "linear",
        Some(toml::Value::String(s)) if s == "linear" || s == "log" => s.as_str(),
        Some(_) => return Err("`scale` is \"linear\" or \"log\"".into()),
    };
    let (count, at): (u64, Box<dyn Fn(u64) -> f64>) = match (num_of("step")?, t.get("num")) {
        (Some(_), Some(_)) => return Err("a range takes `step` or `num`, not both".into()),
        (None, None) => return Err("a range needs `step` or `num`".into()),
        (Some((step, _)), None) => {
            if scale == "log" {
                return Err("`scale = \"log\"` goes with `num`, not `step`".into());
            }
            if step == 0.0 || (to - from) * step < 0.0 {
                return Err(format!("a step of {step} never goes from {from} to {to}"));
            }
            let n = ((to - from) / step * (1.0 + 1e-12)).floor();
            if n + 1.0 > MAX_ELEMENTS as f64 {
                return Err(format!(
                    "this range makes {} values; a sweep makes at most {MAX_ELEMENTS} elements",
                    crate::fmt::count((n + 1.0).min(u64::MAX as f64) as u64)
                ));
            }
            (n as u64 + 1, Box::new(move |i| from + i as f64 * step))
        }
        (None, Some(n)) => {
            let n = match n {
                toml::Value::Integer(n) if *n >= 1 => *n as u64,
                _ => return Err("`num` is a whole number of at least 1".into()),
            };
            if n > MAX_ELEMENTS {
                return Err(format!(
                    "num = {n}; a sweep makes at most {MAX_ELEMENTS} elements"
                ));
            }
            let last = (n - 1).max(1) as f64;
            if scale == "log" {
                if from <= 0.0 || to <= 0.0 {
                    return Err("a log range needs `from` and `to` above 0".into());
                }
                let r = (to / from).ln();
                (n, Box::new(move |i| from * (r * i as f64 / last).exp()))
            } else {
                (n, Box::new(move |i| from + (to - from) * i as f64 / last))
            }
        }
    };
    let whole = fi && ti && num_of("step")?.is_none_or(|s| s.1);
    let vals: Vec<f64> = (0..count).map(|i| tidy(at(i))).collect();
    let whole = whole && vals.iter().all(|v| v.fract() == 0.0 && v.abs() < 9e15);
    Ok(vals
        .into_iter()
        .map(|v| {
            if whole {
                Value::Int(v as i64)
            } else {
                Value::Float(v)
            }
        })
        .collect())
}

/// A computed value rounded to 12 significant digits: 0.1 + 2 * 0.1 is 0.3, not
/// 0.30000000000000004, in file names and on screen.
fn tidy(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = 12 - 1 - x.abs().log10().floor() as i32;
    if !(-300..=300).contains(&digits) {
        return x;
    }
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Sweep, SweepError> {
        #[derive(Deserialize)]
        struct W {
            sweep: Spanned<RawSweep>,
        }
        let w: W = toml::from_str(src).map_err(|e| (0, String::new(), e.to_string()))?;
        let at = w.sweep.span().start;
        validate(w.sweep.into_inner(), "phases.solve.sweep", at)
    }

    #[test]
    fn lists_and_ranges_make_a_grid_last_fastest() {
        let s = parse("[sweep]\nalpha = [0.5, 1.0]\nt_edge = { from = 20, to = 80, step = 30 }\n")
            .unwrap();
        assert_eq!(s.len(), 6);
        let e = s.elements();
        assert_eq!(e[0].label(), "alpha=0.5 t_edge=20");
        assert_eq!(e[1].label(), "alpha=0.5 t_edge=50");
        assert_eq!(e[5].label(), "alpha=1.0 t_edge=80");
        assert_eq!(e[5].index, 5);
        assert_eq!(
            s.table().lines().nth(3).unwrap(),
            "2\t0.5\t80",
            "element 2 is line 4"
        );
        let env = e[1].env();
        assert!(env.contains(&("TANDEM_PARAM_t_edge".into(), "50".into())));
        assert!(env.contains(&("TANDEM_ELEMENT".into(), "1".into())));
    }

    #[test]
    fn zip_pairs_values_and_needs_equal_lengths() {
        let s =
            parse("[sweep]\nmode = \"zip\"\na = [1, 2, 3]\nb = [\"x\", \"y\", \"z\"]\n").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.element(2).label(), "a=3 b=z");
        let (_, key, why) =
            parse("[sweep]\nmode = \"zip\"\na = [1, 2, 3]\nb = [1, 2]\n").unwrap_err();
        assert_eq!(key, "phases.solve.sweep.b");
        assert!(why.contains("`a` has 3, `b` has 2"), "{why}");
    }

    #[test]
    fn ranges_by_step_and_by_count_linear_and_log() {
        let s = parse("[sweep]\nx = { from = 0.1, to = 0.5, step = 0.1 }\n").unwrap();
        let v: Vec<String> = s.params[0].values.iter().map(|v| v.to_string()).collect();
        assert_eq!(v, ["0.1", "0.2", "0.3", "0.4", "0.5"]);
        let s = parse("[sweep]\nn = { from = 1, to = 1000, num = 4, scale = \"log\" }\n").unwrap();
        assert_eq!(
            s.params[0].values,
            vec![
                Value::Int(1),
                Value::Int(10),
                Value::Int(100),
                Value::Int(1000)
            ]
        );
        let s = parse("[sweep]\nn = { from = 0, to = 1, num = 3 }\n").unwrap();
        assert_eq!(s.params[0].values[1], Value::Float(0.5));
        let s = parse("[sweep]\nn = { from = 10, to = 0, step = -5 }\n").unwrap();
        assert_eq!(
            s.params[0].values,
            vec![Value::Int(10), Value::Int(5), Value::Int(0)]
        );
    }

    #[test]
    fn bad_sweeps_say_what_and_where() {
        let (_, _, why) = parse("[sweep]\nmode = \"zip\"\n").unwrap_err();
        assert!(why.contains("empty sweep"), "{why}");
        let (at, key, why) = parse("[sweep]\na = []\n").unwrap_err();
        assert_eq!((at, key.as_str()), (12, "phases.solve.sweep.a"));
        assert!(why.contains("empty list"), "{why}");
        let (_, _, why) = parse(
            "[sweep]\na = { from = 0, to = 99, step = 1 }\nb = { from = 0, to = 99, step = 1 }\nc = { from = 0, to = 99, step = 1 }\n",
        )
        .unwrap_err();
        assert!(why.contains("1,000,000 elements"), "{why}");
        assert!(why.contains("100 x 100 x 100"), "{why}");
        let (_, _, why) = parse("[sweep]\na = { from = 0, to = 1, step = 1e-9 }\n").unwrap_err();
        assert!(why.contains("values; a sweep makes at most"), "{why}");
        let (_, _, why) = parse("[sweep]\na = [\"rm -rf\"]\n").unwrap_err();
        assert!(why.contains("a word of letters"), "{why}");
        let (_, _, why) = parse("[sweep]\na = { from = 0, to = 1, step = -1 }\n").unwrap_err();
        assert!(why.contains("never goes"), "{why}");
        let (_, key, _) = parse("[sweep]\nmax_parallel = 0\na = [1]\n").unwrap_err();
        assert_eq!(key, "phases.solve.sweep.max_parallel");
        let (_, _, why) = parse("[sweep]\n9a = [1]\n").unwrap_err();
        assert!(why.contains("parameter's name"), "{why}");
    }
}
