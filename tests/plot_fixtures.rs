//! The .npy and CSV readers against files written by numpy itself (the Ray virtual environment's
//! numpy, started by scripts/test.sh, which exports TANDEM_RAY_PYTHON): every dtype and order
//! tandem reads, 1D, 2D and 3D, both byte orders, NaN and inf, plus broken files.

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> String {
    std::env::var("TANDEM_RAY_PYTHON").unwrap_or_else(|_| {
        panic!("TANDEM_RAY_PYTHON is not set: run the tests with scripts/test.sh, which installs numpy with Ray")
    })
}

/// Write the fixtures with numpy into `dir`; returns the names written.
fn write_fixtures(dir: &Path) -> Vec<String> {
    let script = r#"
import sys, numpy as np
d = sys.argv[1]
names = []
base = np.arange(3 * 5, dtype=np.float64).reshape(3, 5)
for dt in ["<f4", "<f8", ">f8", "<i4", "<i8", ">i4"]:
    for order in ["C", "F"]:
        a = np.array(base, dtype=dt, order=order)
        n = f"m_{dt[1:]}_{'be' if dt[0] == '>' else 'le'}_{order}.npy"
        np.save(f"{d}/{n}", a); names.append(n)
cube = np.arange(2 * 3 * 5, dtype=np.float64).reshape(2, 3, 5)
np.save(f"{d}/cube_C.npy", cube); names.append("cube_C.npy")
np.save(f"{d}/cube_F.npy", np.asfortranarray(cube)); names.append("cube_F.npy")
np.save(f"{d}/line.npy", np.arange(7, dtype=np.float32)); names.append("line.npy")
bad = np.array(base); bad[0, 1] = np.nan; bad[2, 4] = np.inf; bad[1, 1] = -np.inf
np.save(f"{d}/nonfinite.npy", bad); names.append("nonfinite.npy")
np.save(f"{d}/complex.npy", base.astype(np.complex128)); names.append("complex.npy")
np.save(f"{d}/bool.npy", base > 3); names.append("bool.npy")
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

#[test]
fn every_dtype_order_and_byte_order_numpy_writes_reads_back_the_same_field() {
    let d = tempfile::tempdir().unwrap();
    let names = write_fixtures(d.path());
    let mut checked = 0;
    for n in names.iter().filter(|n| n.starts_with("m_")) {
        let f = tandem::plot::read_field(&p(d.path(), n)).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!((f.rows, f.cols), (3, 5), "{n}");
        for r in 0..3 {
            for c in 0..5 {
                assert_eq!(f.data[r * 5 + c], (r * 5 + c) as f64, "{n} at ({r},{c})");
            }
        }
        // read straight to a fit (its 2x2 part at rows 0..2, columns 1..3, in one cell): the same
        // as cut and averaged
        let fit = tandem::plot::Fit {
            window: tandem::plot::Window {
                x0: 0.2,
                x1: 0.6,
                y0: 0.0,
                y1: 0.6,
            },
            within: (1, 2),
        };
        let (got, stats, _) =
            tandem::plot::read::read_field_counted(&p(d.path(), n), Some(&fit)).unwrap();
        assert_eq!(got, fit.apply(f.clone()), "{n}");
        assert_eq!(got.data, [4.0], "{n}: the mean of 1, 2, 6 and 7");
        assert_eq!(stats, tandem::plot::FieldStats::of(&f), "{n}");
        checked += 1;
    }
    assert_eq!(checked, 12);
    // 3D: the first 2D slice, whatever the order
    for n in ["cube_C.npy", "cube_F.npy"] {
        let f = tandem::plot::read_field(&p(d.path(), n)).unwrap();
        assert_eq!((f.rows, f.cols), (3, 5), "{n}");
        let want: Vec<f64> = (0..15).map(f64::from).collect();
        assert_eq!(f.data, want, "{n}: the slice [0, :, :]");
        let fit = tandem::plot::Fit {
            window: tandem::plot::Window::ALL,
            within: (1, 5),
        };
        let (got, stats, _) =
            tandem::plot::read::read_field_counted(&p(d.path(), n), Some(&fit)).unwrap();
        assert_eq!(
            got.data,
            [7.0],
            "{n}: the mean of the slice, not of the cube"
        );
        assert_eq!(
            stats.range,
            (0.0, 14.0),
            "{n}: the slice's range, not the cube's"
        );
    }
    let line = tandem::plot::read_field(&p(d.path(), "line.npy")).unwrap();
    assert_eq!((line.rows, line.cols), (1, 7));
}

#[test]
fn nonfinite_values_are_kept_and_counted_and_bad_files_say_what_is_wrong() {
    let d = tempfile::tempdir().unwrap();
    write_fixtures(d.path());
    let f = tandem::plot::read_field(&p(d.path(), "nonfinite.npy")).unwrap();
    assert!(f.data[1].is_nan() && f.data[14] == f64::INFINITY && f.data[6] == f64::NEG_INFINITY);
    assert_eq!(f.data.iter().filter(|v| !v.is_finite()).count(), 3);
    // the range ignores them
    assert_eq!(tandem::plot::finite_range(&f.data), Some((0.0, 13.0)));

    let e = tandem::plot::read_field(&p(d.path(), "complex.npy"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("complex.npy") && e.contains("unsupported dtype"),
        "{e}"
    );
    let e = tandem::plot::read_field(&p(d.path(), "bool.npy"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("bool.npy") && e.contains("dtype"), "{e}");

    // truncated: numpy's file cut short
    let bytes = std::fs::read(p(d.path(), "m_f8_le_C.npy")).unwrap();
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
