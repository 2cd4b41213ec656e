"""The preprocess phase in polars: the same cleaning and aggregation as `tandem tool preprocess` on
the same files (drop missing and malformed rows, drop readings off the plate or outside
[-273.15, 1000], clip to [-50, 150], mean per sensor, split edge and interior sensors, write both
tables). Prints JSON with the time and MB/s.

usage: python preprocess_polars.py INPUT_DIR OUTPUT_DIR
"""
import glob
import json
import os
import sys
import time

import polars as pl


def main():
    inp, out = sys.argv[1], sys.argv[2]
    files = sorted(glob.glob(os.path.join(inp, "*.csv")))
    size = sum(os.path.getsize(f) for f in files)
    t0 = time.perf_counter()
    schema = {"timestamp": pl.Utf8, "sensor_id": pl.Utf8, "x": pl.Float64, "y": pl.Float64, "temperature": pl.Float64}
    df = (
        pl.scan_csv(files, schema=schema, ignore_errors=True)
        .drop_nulls(["sensor_id", "x", "y", "temperature"])
        .filter(pl.col("x").is_between(0.0, 1.0) & pl.col("y").is_between(0.0, 1.0) & pl.col("temperature").is_between(-273.15, 1000.0))
        .with_columns(pl.col("temperature").clip(-50.0, 150.0))
        .group_by("sensor_id")
        .agg(pl.col("x").first(), pl.col("y").first(), pl.col("temperature").mean(), pl.len().alias("samples"))
        .collect()
    )
    eps = 1e-9
    edge = (df["x"] <= eps) | (df["x"] >= 1 - eps) | (df["y"] <= eps) | (df["y"] >= 1 - eps)
    os.makedirs(out, exist_ok=True)
    df.filter(edge).write_csv(os.path.join(out, "boundary.csv"))
    df.filter(~edge).write_csv(os.path.join(out, "initial.csv"))
    secs = time.perf_counter() - t0
    print(json.dumps({"seconds": secs, "mb_per_s": size / 1e6 / secs, "sensors": df.height, "polars": pl.__version__}))


if __name__ == "__main__":
    main()
