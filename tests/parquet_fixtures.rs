//! The Parquet preview against files written by pyarrow and polars (the Ray virtual environment's,
//! started by scripts/test.sh, which exports TANDEM_RAY_PYTHON): every codec each offers,
//! dictionary and plain encodings, data pages v1 and v2, statistics on and off, logical types
//! (STRING, TIMESTAMP, DATE, DECIMAL), nested columns (LIST, STRUCT, MAP) and nulls. Each file is
//! previewed headless (`tandem preview FILE --json`, the Datasets preview's own code) and its
//! columns and first rows compared with what pyarrow reads from the same file.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn python() -> String {
    std::env::var("TANDEM_RAY_PYTHON").unwrap_or_else(|_| {
        panic!("TANDEM_RAY_PYTHON is not set: run the tests with scripts/test.sh, which installs pyarrow and polars with Ray")
    })
}

/// The fixtures, and `want.json`: per file its columns, row count, codec and first 20 rows as
/// pyarrow reads them, each cell written as the preview writes values (Parquet's record form: a
/// nested string quoted, a timestamp with its offset).
const WRITE: &str = r#"
import sys, json, datetime, decimal
import pyarrow as pa, pyarrow.parquet as pq, polars as pl
d = sys.argv[1]
n = 50
ids = list(range(n))
base = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
table = pa.table({
    "id": pa.array(ids, pa.int64()),
    "x": pa.array([i * 0.25 - 3 for i in ids], pa.float64()),
    "name": pa.array([None if i % 7 == 3 else f"item-{i % 5}" for i in ids], pa.string()),
    "flag": pa.array([i % 3 == 0 for i in ids], pa.bool_()),
    "ts": pa.array([base + datetime.timedelta(seconds=90 * i, microseconds=i) for i in ids], pa.timestamp("us", tz="UTC")),
    "day": pa.array([datetime.date(2024, 1, 1) + datetime.timedelta(days=i) for i in ids], pa.date32()),
    "price": pa.array([decimal.Decimal(i * 137) / 100 for i in ids], pa.decimal128(9, 2)),
    "tags": pa.array([list(range(i % 4)) if i % 6 else None for i in ids], pa.list_(pa.int32())),
    "point": pa.array([{"x": i * 1.5, "y": -i} for i in ids], pa.struct([("x", pa.float64()), ("y", pa.int32())])),
    "attrs": pa.array([[("k", i)] if i % 2 else [] for i in ids], pa.map_(pa.string(), pa.int32())),
})
names = []
for codec in ["NONE", "SNAPPY", "GZIP", "BROTLI", "LZ4", "ZSTD"]:
    for dictionary in [True, False]:
        for page in ["1.0", "2.0"]:
            name = f"pyarrow-{codec.lower()}-{'dict' if dictionary else 'plain'}-v{page[0]}.parquet"
            pq.write_table(table, f"{d}/{name}", compression=codec, use_dictionary=dictionary, data_page_version=page)
            names.append(name)
frame = pl.from_arrow(table.drop(["attrs"]))
for codec in ["uncompressed", "snappy", "gzip", "lz4", "zstd", "brotli"]:
    for stats in [True, False]:
        name = f"polars-{codec}-{'stats' if stats else 'nostats'}.parquet"
        frame.write_parquet(f"{d}/{name}", compression=codec, statistics=stats)
        names.append(name)

def show(v, top=True, is_map=False):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return v if top else json.dumps(v)
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S") + ".%06d +00:00" % v.microsecond
    if isinstance(v, (datetime.date, decimal.Decimal)):
        return str(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {show(x, False)}" for k, x in v.items()) + "}"
    if isinstance(v, list) and (is_map or (v and isinstance(v[0], tuple))):
        return "{" + ", ".join(f"{show(k, False)} -> {show(x, False)}" for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(show(x, False) for x in v) + "]"
    raise TypeError(type(v))

want = {}
for name in names:
    t = pq.read_table(f"{d}/{name}")
    want[name] = {
        "columns": t.column_names,
        "num_rows": t.num_rows,
        "codec": pq.ParquetFile(f"{d}/{name}").metadata.row_group(0).column(0).compression,
        "rows": [[show(r[c], True, pa.types.is_map(t.schema.field(c).type)) for c in t.column_names]
                 for r in t.slice(0, 20).to_pylist()],
    }
json.dump(want, open(f"{d}/want.json", "w"))
"#;

fn preview(file: &Path, rows: usize) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("preview")
        .arg(file)
        .args(["--json", "--rows", &rows.to_string()])
        .env("TANDEM_HOME", file.parent().unwrap())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice::<Value>(&o.stdout).unwrap()["preview"].clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn files_from_pyarrow_and_polars_preview_as_pyarrow_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    std::fs::create_dir_all(&d).unwrap();
    let out = Command::new(python())
        .args(["-c", WRITE])
        .arg(&d)
        .output()
        .expect("the Ray venv's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: Value = serde_json::from_slice(&std::fs::read(d.join("want.json")).unwrap()).unwrap();
    let files = want.as_object().unwrap();
    assert_eq!(files.len(), 36);
    let mut codecs = std::collections::BTreeSet::new();
    for (name, w) in files {
        let p = preview(&d.join(name), 20);
        assert_eq!(p["kind"], "table", "{name}: {p}");
        assert_eq!(strings(&p["header"]), strings(&w["columns"]), "{name}");
        let rows: Vec<Vec<String>> = p["rows"].as_array().unwrap().iter().map(strings).collect();
        let wrows: Vec<Vec<String>> = w["rows"].as_array().unwrap().iter().map(strings).collect();
        assert_eq!(rows.len(), 20, "{name}");
        for (i, (got, want)) in rows.iter().zip(&wrows).enumerate() {
            assert_eq!(got, want, "{name}: row {i}");
        }
        assert_eq!(p["truncated"], true, "{name}");
        let about = strings(&p["about"]).join("\n");
        for ty in [
            "STRING",
            "TIMESTAMP(us, UTC)",
            "DATE",
            "DECIMAL(9,2)",
            "LIST",
            "STRUCT",
        ] {
            assert!(about.contains(ty), "{name}: no {ty} in\n{about}");
        }
        if w["columns"].as_array().unwrap().len() == 10 {
            assert!(about.contains("MAP"), "{name}: no MAP in\n{about}");
        }
        assert!(about.contains("fetched of"), "{name}: {about}");
        codecs.insert(w["codec"].as_str().unwrap().to_string());
    }
    // every codec both writers offer was read
    assert_eq!(
        codecs.into_iter().collect::<Vec<_>>(),
        ["BROTLI", "GZIP", "LZ4", "SNAPPY", "UNCOMPRESSED", "ZSTD"]
    );
}

#[test]
fn an_encrypted_footer_is_named_and_a_broken_file_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    std::fs::create_dir_all(&d).unwrap();
    // a file whose footer is encrypted ends in PARE, not PAR1
    let mut enc = b"PAR1".to_vec();
    enc.extend_from_slice(&[0u8; 64]);
    enc.extend_from_slice(&16u32.to_le_bytes());
    enc.extend_from_slice(b"PARE");
    std::fs::write(d.join("secret.parquet"), enc).unwrap();
    let p = preview(&d.join("secret.parquet"), 5);
    let text = p.to_string();
    assert!(text.contains("encrypted"), "{text}");
    std::fs::write(d.join("cut.parquet"), b"PAR1 not a whole file").unwrap();
    let p = preview(&d.join("cut.parquet"), 5);
    assert_eq!(p["kind"], "text", "{p}");
}
