"""The heat2d scheme in numpy, as a researcher would write it: explicit FTCS on a cell-centred grid
with one ghost layer, vectorised with array slices. Prints JSON: cell updates per second.

usage: python heat2d_numpy.py NX NY STEPS
"""
import json
import sys
import time

import numpy as np


def main():
    nx, ny, steps = (int(a) for a in sys.argv[1:4])
    x = (np.arange(nx) + 0.5) / nx
    y = (np.arange(ny) + 0.5) / ny
    u = np.zeros((ny + 2, nx + 2))
    u[1:-1, 1:-1] = np.sin(3 * x)[None, :] + y[:, None]
    nxt = u.copy()
    dx2, dy2 = (1.0 / nx) ** 2, (1.0 / ny) ** 2
    dt = 0.9 / (2.0 * (1.0 / dx2 + 1.0 / dy2))
    rx, ry = dt / dx2, dt / dy2

    def step(u, out):
        c = u[1:-1, 1:-1]
        out[1:-1, 1:-1] = c + rx * (u[1:-1, :-2] - 2 * c + u[1:-1, 2:]) + ry * (u[:-2, 1:-1] - 2 * c + u[2:, 1:-1])
        # zero Dirichlet edges: ghost = -inner
        out[0, :] = -out[1, :]
        out[-1, :] = -out[-2, :]
        out[:, 0] = -out[:, 1]
        out[:, -1] = -out[:, -2]

    step(u, nxt)  # warm up
    t0 = time.perf_counter()
    for _ in range(steps):
        step(u, nxt)
        u, nxt = nxt, u
    secs = time.perf_counter() - t0
    print(json.dumps({"nx": nx, "ny": ny, "steps": steps, "seconds": secs, "cell_updates_per_s": nx * ny * steps / secs, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
