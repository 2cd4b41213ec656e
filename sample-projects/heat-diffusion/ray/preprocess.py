"""Phase 1 of heat-diffusion on a Ray cluster (SageMaker HyperPod or a local `ray start --head`).

The same cleaning and aggregation as `tandem tool preprocess`, with Ray Data so that the raw CSVs
are read and cleaned in parallel across the cluster:

  * rows with a missing temperature or a field that does not parse are dropped,
  * readings off the plate (x or y outside [0, 1]) or outside [-273.15, 1000] are dropped,
  * readings outside the plausible range [-50, 150] are clipped to it,
  * the mean per sensor is split into edge sensors (boundary.csv) and interior ones (initial.csv).

Writes boundary.csv, initial.csv, manifest.json (row counts, checksums) and, last, _SUCCESS to the
output location, which may be a local/FSx path or an s3:// prefix.

usage: python preprocess.py --input DIR_OR_S3_PREFIX --output DIR_OR_S3_PREFIX
"""
import argparse
import hashlib
import io
import json
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import ray

CLIP = (-50.0, 150.0)
PHYSICAL = (-273.15, 1000.0)
EDGE_EPS = 1e-9


def clean(batch: pa.Table) -> pa.Table:
    """Parse and filter one batch of raw rows (all columns read as strings)."""
    def num(col):
        s = batch.column(col).to_numpy(zero_copy_only=False).astype(object)
        out = np.full(len(s), np.nan)
        for i, v in enumerate(s):
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                pass
        return out

    x, y, t = num("x"), num("y"), num("temperature")
    ids = batch.column("sensor_id").to_numpy(zero_copy_only=False).astype(object)
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(t)
    ok &= (x >= 0) & (x <= 1) & (y >= 0) & (y <= 1) & (t >= PHYSICAL[0]) & (t <= PHYSICAL[1])
    ok &= np.array([isinstance(s, str) and s.startswith("s") and s[1:].isdigit() for s in ids])
    return pa.table({
        "sensor_id": pa.array(ids[ok].astype(str)),
        "x": x[ok],
        "y": y[ok],
        "temperature": np.clip(t[ok], *CLIP),
    })


def write(fs, base, name, data: bytes):
    with fs.open_output_stream(f"{base}/{name}") as f:
        f.write(data)
    return {"file": name, "bytes": len(data), "checksum": hashlib.sha256(data).hexdigest()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    a = ap.parse_args()
    t0 = time.time()
    ray.init(ignore_reinit_error=True)
    opts = pacsv.ConvertOptions(column_types={c: pa.string() for c in ["timestamp", "sensor_id", "x", "y", "temperature"]})
    raw = ray.data.read_csv(a.input, convert_options=opts, file_extensions=["csv"])
    rows_read = raw.count()
    kept = raw.map_batches(clean, batch_format="pyarrow")
    agg = kept.groupby("sensor_id").aggregate(
        ray.data.aggregate.Mean("temperature"), ray.data.aggregate.Min("x"), ray.data.aggregate.Min("y"), ray.data.aggregate.Count()
    ).to_pandas()
    agg.columns = ["sensor_id", "temperature", "x", "y", "samples"]
    edge = (agg.x <= EDGE_EPS) | (agg.x >= 1 - EDGE_EPS) | (agg.y <= EDGE_EPS) | (agg.y >= 1 - EDGE_EPS)
    b = agg[edge].copy()
    b["side"] = np.select([b.x <= EDGE_EPS, b.x >= 1 - EDGE_EPS, b.y <= EDGE_EPS], ["left", "right", "bottom"], "top")
    b["position"] = np.where(b.side.isin(["left", "right"]), b.y, b.x)
    fs, base = pafs.FileSystem.from_uri(a.output) if "://" in a.output else (pafs.LocalFileSystem(), a.output)
    fs.create_dir(base, recursive=True)
    outputs = [
        write(fs, base, "boundary.csv", b[["side", "position", "temperature", "samples"]].to_csv(index=False).encode()),
        write(fs, base, "initial.csv", agg[~edge][["x", "y", "temperature", "samples"]].to_csv(index=False).encode()),
    ]
    manifest = {
        "tool": "ray/preprocess.py",
        "ray": ray.__version__,
        "counts": {"rows_read": rows_read, "rows_kept": int(agg.samples.sum())},
        "sensors_boundary": int(edge.sum()),
        "sensors_interior": int((~edge).sum()),
        "outputs": outputs,
        "seconds": time.time() - t0,
    }
    write(fs, base, "manifest.json", json.dumps(manifest, indent=2).encode())
    write(fs, base, "_SUCCESS", b"")
    print(f"preprocess: {rows_read} rows -> {manifest['sensors_boundary']} boundary, {manifest['sensors_interior']} interior sensors")


if __name__ == "__main__":
    main()
