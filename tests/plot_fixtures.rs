//! The .npy and CSV readers against files written by numpy itself (the Ray virtual environment's
//! numpy, started by scripts/test.sh, which exports TANDEM_RAY_PYTHON): every numeric dtype numpy
//! writes, both byte orders, C and Fortran order, format versions 1.0 to 3.0, 0-D to 4-D,
//! structured and object arrays, empty ones, NaN and inf, plus broken files; each compared with
//! the values numpy itself computes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> String {
    std::env::var("TANDEM_RAY_PYTHON").unwrap_or_else(|_| {
        panic!("TANDEM_RAY_PYTHON is not set: run the tests with scripts/test.sh, which installs numpy with Ray")
    })
}

/// Write the fixtures with numpy into `dir`; returns the names written. Beside each array
/// numpy also writes `NAME.want.npy`: the float64 values tandem should draw (of a complex array
/// its magnitude, of an N-D array the slice named in the file name, of a structured array its
/// field `u`), as numpy computes them.
fn write_fixtures(dir: &Path) -> Vec<String> {
    let script = r#"
import sys, numpy as np
from numpy.lib import format as fmt
d = sys.argv[1]
names = []
def save(n, a, want=None, version=None):
    with open(f"{d}/{n}", "wb") as f:
        if version is None:
            np.save(f, a)
        else:
            fmt.write_array(f, a, version=version)
    if want is not None:
        np.save(f"{d}/{n}.want.npy", np.asarray(want, dtype=np.float64))
    names.append(n)
base = (np.arange(3 * 5).reshape(3, 5) % 7).astype(np.float64)
for t in ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1", "c8", "c16"]:
    for bo in (["|"] if t in ("i1", "u1", "b1") else ["<", ">"]):
        for order in ["C", "F"]:
            src = base - 3 if t[0] in "if" else base
            if t == "b1":
                src = base > 3
            if t[0] == "c":
                src = (base - 3) + 1j * base
            a = np.array(src, dtype=np.dtype(bo + t if bo != "|" else t), order=order)
            want = np.abs(a) if t[0] == "c" else a.astype(np.float64)
            save(f"m_{t}_{'be' if bo == '>' else 'le'}_{order}.npy", a, want)
for v in [(1, 0), (2, 0), (3, 0)]:
    save(f"v{v[0]}.npy", base, base, version=v)
big = np.arange(3 * 5 * 4 * 6, dtype=np.float64).reshape(3, 5, 4, 6)
for order in ["C", "F"]:
    a = np.array(big, order=order)
    save(f"nd_{order}_0_0.npy", a, a[0, 0])
    save(f"nd_{order}_2_3.npy", a, a[2, 3])
save("line.npy", np.arange(7, dtype=np.float32) * 1.5)
save("scalar.npy", np.array(2.5))
rec = np.zeros((3, 4), dtype=[("u", "<f4"), ("name", "S4"), ("v", ">i2")])
rec["u"] = np.arange(12).reshape(3, 4) * 0.5
rec["v"] = -np.arange(12).reshape(3, 4)
save("rec.npy", rec, rec["u"])
table = np.zeros(5, dtype=[("t", "<f8"), ("e", "<f4"), ("label", "U3")])
table["t"] = np.arange(5); table["e"] = np.arange(5) ** 2
save("table.npy", table)
save("objects.npy", np.array([{"a": 1}, None], dtype=object))
save("empty.npy", np.zeros((0, 5)))
save("zero_axis.npy", np.zeros((4, 0, 3)))
bad = np.array(base); bad[0, 1] = np.nan; bad[2, 4] = np.inf; bad[1, 1] = -np.inf
save("nonfinite.npy", bad)
print(" ".join(names))
"#;
    let out = Command::new(python())
        .args(["-c", script, dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "numpy fixtures: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn p(dir: &Path, n: &str) -> PathBuf {
    dir.join(n)
}

use tandem::plot::read::{read_field_counted, Array};
use tandem::project::{ArrayPick, ComplexPart};

/// What tandem reads of `n` with `pick`, and of `n.want.npy` (numpy's float64 answer).
fn read(dir: &Path, n: &str, pick: &ArrayPick) -> (Array, Option<tandem::plot::Field>) {
    let got = read_field_counted(&p(dir, n), None, pick)
        .unwrap_or_else(|e| panic!("{n}: {e}"))
        .0;
    let want = p(dir, &format!("{n}.want.npy"));
    (
        got,
        want.exists()
            .then(|| tandem::plot::read_field(&want).unwrap()),
    )
}

fn field(a: Array, n: &str) -> tandem::plot::Field {
    match a {
        Array::Field(f, ..) => f,
        other => panic!("{n}: {other:?}"),
    }
}

fn same(got: &tandem::plot::Field, want: &tandem::plot::Field, n: &str) {
    assert_eq!((got.rows, got.cols), (want.rows, want.cols), "{n}");
    for (i, (a, b)) in got.data.iter().zip(&want.data).enumerate() {
        // f2 and f4 round; numpy's own magnitude of a c8 is of f4 parts
        assert!(
            (a - b).abs() <= 1e-3 * b.abs().max(1.0),
            "{n}: value {i}: {a} vs numpy's {b}"
        );
    }
}

#[test]
fn every_dtype_order_byte_order_and_version_numpy_writes_reads_back_as_numpy_reads_it() {
    let d = tempfile::tempdir().unwrap();
    let names = write_fixtures(d.path());
    let mut checked = 0;
    for n in names
        .iter()
        .filter(|n| n.starts_with("m_") || n.starts_with('v'))
    {
        let (got, want) = read(d.path(), n, &ArrayPick::default());
        same(&field(got, n), &want.unwrap(), n);
        // read straight to a fit (its 2x2 part at rows 0..2, columns 1..3, in one cell): the
        // same as cut and averaged
        let whole = tandem::plot::read_field(&p(d.path(), n)).unwrap();
        let fit = tandem::plot::Fit {
            window: tandem::plot::Window {
                x0: 0.2,
                x1: 0.6,
                y0: 0.0,
                y1: 0.6,
            },
            within: (1, 2),
        };
        let (Array::Field(got, stats, _), _) =
            read_field_counted(&p(d.path(), n), Some(&fit), &ArrayPick::default()).unwrap()
        else {
            panic!("{n}")
        };
        assert_eq!(got, fit.apply(whole.clone()), "{n}");
        assert_eq!(stats, tandem::plot::FieldStats::of(&whole), "{n}");
        checked += 1;
    }
    // 14 dtypes: 3 of one byte in 2 orders, 11 in 2 byte orders and 2 orders; 3 versions
    assert_eq!(checked, 3 * 2 + 11 * 4 + 3);
    // a complex field's other parts
    for (part, f) in [
        (
            ComplexPart::Re,
            (|re: f64, _im: f64| re) as fn(f64, f64) -> f64,
        ),
        (ComplexPart::Im, |_, im| im),
        (ComplexPart::Arg, |re, im| im.atan2(re)),
    ] {
        let pick = ArrayPick {
            complex: part,
            ..Default::default()
        };
        let got = field(read(d.path(), "m_c16_be_F.npy", &pick).0, "c16");
        for r in 0..3 {
            for c in 0..5 {
                let v = ((r * 5 + c) % 7) as f64;
                let want = f(v - 3.0, v);
                assert!(
                    (got.data[r * 5 + c] - want).abs() < 1e-12,
                    "{part:?} ({r},{c})"
                );
            }
        }
    }
}

#[test]
fn n_d_arrays_slice_1_d_plot_as_a_line_and_0_d_says_its_value() {
    let d = tempfile::tempdir().unwrap();
    write_fixtures(d.path());
    for order in ["C", "F"] {
        for (slice, n) in [(vec![], "0_0"), (vec![2, 3], "2_3")] {
            let name = format!("nd_{order}_{n}.npy");
            let pick = ArrayPick {
                slice,
                ..Default::default()
            };
            let (got, want) = read(d.path(), &name, &pick);
            let Array::Field(f, stats, about) = got else {
                panic!("{name}")
            };
            same(&f, &want.unwrap(), &name);
            assert_eq!((stats.rows, stats.cols), (4, 6));
            let about = about.unwrap();
            assert_eq!(about.shape, [3, 5, 4, 6]);
            assert!(about.label().contains("of 3×5×4×6"), "{}", about.label());
        }
        // past an axis: said, not a panic
        let pick = ArrayPick {
            slice: vec![3, 0],
            ..Default::default()
        };
        let e = read_field_counted(&p(d.path(), &format!("nd_{order}_0_0.npy")), None, &pick)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("slice index 3 is past axis 0, which has 3"),
            "{e}"
        );
    }
    // the slices of the 4-D array stepped through, wrapping
    let about = tandem::plot::npy::About {
        shape: vec![3, 5, 4, 6],
        pick: ArrayPick {
            slice: vec![0, 4],
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(about.step_slice(false), Some(vec![1, 0]));
    assert_eq!(about.step_slice(true), Some(vec![0, 3]));
    let (line, _) = read(d.path(), "line.npy", &ArrayPick::default());
    let Array::Series(s) = line else {
        panic!("{line:?}")
    };
    assert_eq!(s.columns, ["index", "value"]);
    assert_eq!(s.column("value").unwrap()[6], 9.0);
    let (v, _) = read(d.path(), "scalar.npy", &ArrayPick::default());
    assert_eq!(v, Array::Value(2.5));
}

#[test]
fn structured_arrays_draw_a_field_objects_are_refused_empty_arrays_said() {
    let d = tempfile::tempdir().unwrap();
    write_fixtures(d.path());
    let e = read_field_counted(&p(d.path(), "rec.npy"), None, &ArrayPick::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("name a field") && e.contains("u (f4), v (i2)"),
        "{e}"
    );
    assert!(!e.contains("Record("), "no debug dump: {e}");
    let pick = |f: &str| ArrayPick {
        field: Some(f.into()),
        ..Default::default()
    };
    let (got, want) = read(d.path(), "rec.npy", &pick("u"));
    let Array::Field(f, _, about) = got else {
        panic!()
    };
    same(&f, &want.unwrap(), "rec u");
    assert_eq!(about.unwrap().fields, ["u", "v"], "the numeric fields");
    let v = field(read(d.path(), "rec.npy", &pick("v")).0, "rec v");
    assert_eq!(v.data[5], -5.0, "big-endian i2 after a 4-byte string");
    let e = read_field_counted(&p(d.path(), "rec.npy"), None, &pick("name"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no field `name`"), "{e}");
    // a 1-D table: every numeric field a column
    let (t, _) = read(d.path(), "table.npy", &ArrayPick::default());
    let Array::Series(s) = t else { panic!("{t:?}") };
    assert_eq!(s.columns, ["index", "t", "e"]);
    assert_eq!(s.column("e").unwrap()[4], 16.0);
    let e = read_field_counted(&p(d.path(), "objects.npy"), None, &ArrayPick::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Python objects") && e.contains("never unpickles"),
        "{e}"
    );
    for n in ["empty.npy", "zero_axis.npy"] {
        let e = read_field_counted(&p(d.path(), n), None, &ArrayPick::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains(n) && e.contains("the array is empty"), "{e}");
    }
    // and the drawing of nothing never indexes it
    let img = tandem::plot::pixels::field_image(
        &tandem::plot::Field {
            rows: 0,
            cols: 0,
            data: vec![],
        },
        "viridis",
        (0.0, 1.0),
        (10, 10),
    );
    assert_eq!(img.dimensions(), (10, 10));
}

#[test]
fn nonfinite_values_are_kept_and_counted_and_bad_files_say_what_is_wrong() {
    let d = tempfile::tempdir().unwrap();
    write_fixtures(d.path());
    let f = tandem::plot::read_field(&p(d.path(), "nonfinite.npy")).unwrap();
    assert!(f.data[1].is_nan() && f.data[14] == f64::INFINITY && f.data[6] == f64::NEG_INFINITY);
    assert_eq!(f.data.iter().filter(|v| !v.is_finite()).count(), 3);
    // the range ignores them
    assert_eq!(tandem::plot::finite_range(&f.data), Some((0.0, 6.0)));

    // truncated: numpy's file cut short
    let bytes = std::fs::read(p(d.path(), "m_f8_be_C.npy")).unwrap();
    let cut = p(d.path(), "cut.npy");
    std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let e = tandem::plot::read_field(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.npy") && e.contains("truncated"), "{e}");
    // a header cut in half, and an empty file
    std::fs::write(&cut, &bytes[..40]).unwrap();
    let e = tandem::plot::read_field(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.npy"), "{e}");
    std::fs::write(&cut, b"").unwrap();
    assert!(tandem::plot::read_field(&cut).is_err());

    // CSV: ragged rows and text in numeric columns become gaps, not errors; empty is an error
    let csv = p(d.path(), "s.csv");
    std::fs::write(&csv, "t,e,m\n0,1,2\n1,x\n2,3,4,5\n").unwrap();
    let s = tandem::plot::read_series(&csv).unwrap();
    assert_eq!(s.rows(), 3);
    assert!(s.column("e").unwrap()[1].is_nan() && s.column("m").unwrap()[1].is_nan());
    std::fs::write(&csv, "").unwrap();
    let e = tandem::plot::read_series(&csv).unwrap_err().to_string();
    assert!(e.contains("s.csv") && e.contains("empty"), "{e}");
}
