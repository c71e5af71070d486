r"""Regridding speed and memory per time step: 0.25 degree lat-lon (721 x 1440, ERA5) -> HEALPix nside 64 (issue 15).

Each method runs in its own process (so ``ru_maxrss`` is its own), 1 thread, float32 input (as ERA5 stores
after unpacking) with consistent pole rows:

* ``plan`` — building :class:`~fiberconv.fields.regrid.LatLonToHealpix` (once per grid pair);
* ``wind`` — one step of ``plan.wind(u, v)`` (reads the cell corners and the two outermost rows);
* ``whole-grid`` — the same result computed as before issue 15: ambient vectors of the whole lat-lon grid,
  sorted and pole-extended, then interpolated (``plan.ambient`` + the plan's bilinear weights);
* ``gather`` — the floor: a bare 4-corner gather and weighted sum of ``u`` and ``v`` (no vector treatment);
* ``scalar`` — one step of ``plan.scalar(f)``;
* ``xarray`` — :func:`fiberconv.io.open_wind` on a dask-backed ERA5-style Dataset of ``--steps`` hourly steps
  (generated lazily, ``chunk`` steps per dask chunk), computed chunk by chunk to a time mean (1 dask worker):
  wall time per step and the peak RSS above the pre-run RSS, against the size of one step and of the record.

Times are medians of ``--repeat`` steps (process CPU time and wall time); memory is the median over steps of
the peak RSS above the RSS before the step (MiB; the peak is reset before each step through
``/proc/self/clear_refs``, Linux). Ratios against ``wind`` are from the same run.

Usage: ``.venv/bin/python bench/bench_regrid.py [--repeat 20] [--steps 96] [--chunk 8] [--json out.json]``
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = ("plan", "wind", "whole-grid", "gather", "scalar", "xarray")


def _status(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    raise RuntimeError(f"no {key} in /proc/self/status")


def _reset_peak() -> float:
    """Reset the peak RSS (VmHWM, Linux >= 4.0) to the current RSS and return that RSS (MiB)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status("VmRSS")


def _peak_above(rss0: float) -> float:
    return max(_status("VmHWM") - rss0, 0.0)


def worker(method: str, repeat: int, steps: int, chunk: int) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from fiberconv.fields.regrid import LatLonToHealpix
    from fiberconv.fields.tangent import ambient_to_tangent
    from fiberconv.spaces import HealpixGrid

    lat = np.linspace(90, -90, 721)
    lon = np.arange(1440) * 0.25
    grid = HealpixGrid(64, nest=True)
    if method == "xarray":
        from fiberconv.io import open_wind
        from fiberconv.io.synthetic import era5_like

        ds = era5_like(d=0.25, n_times=steps, new_cds=True, chunks=chunk)
        rss0 = _reset_peak()
        t0, c0 = time.perf_counter(), time.process_time()
        out = open_wind(ds, nside=64, chunk=chunk)
        plan_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        out.mean("valid_time").compute(scheduler="threads", num_workers=1)
        wall = time.perf_counter() - t1
        return {"method": method, "steps": steps, "chunk": chunk, "plan_s": plan_s, "wall_per_step_s": wall / steps,
                "cpu_per_step_s": (time.process_time() - c0) / steps, "peak_mib": _peak_above(rss0),
                "step_mib": 2 * 721 * 1440 * 4 / 2**20, "record_mib": steps * 2 * 721 * 1440 * 4 / 2**20}
    t0 = time.perf_counter()
    plan = LatLonToHealpix(lat, lon, grid)
    plan_s = time.perf_counter() - t0
    if method == "plan":
        return {"method": method, "wall_s": plan_s}
    rng = np.random.default_rng(0)
    u0, v0 = (rng.standard_normal((721, 1440)).astype(np.float32) for _ in range(2))
    u0[[0, -1]] = v0[[0, -1]] = 0.0  # consistent pole rows (no warning path)
    frames = grid.frames()
    idx, w = plan._idx, plan._w

    def whole_grid(u, v):
        ext = torch.from_numpy(plan.ambient(u, v)).flatten(-2)  # (3, nlat_ext * n_u)
        vec = (ext[..., idx] * w).sum(-1).T
        return ambient_to_tangent(vec, frames).T.numpy()

    corner = plan._points[plan._corner.clamp_max(len(plan._points) - 1)]

    def gather(u, v):
        uu, vv = torch.from_numpy(u).flatten(), torch.from_numpy(v).flatten()
        wf = w.float()
        return ((uu[corner] * wf).sum(-1), (vv[corner] * wf).sum(-1))

    fn = {"wind": lambda u, v: plan.wind(u, v), "whole-grid": whole_grid, "gather": gather,
          "scalar": lambda u, v: plan.scalar(u)}[method]
    fn(u0, v0)  # warm-up
    walls, cpus, peaks = [], [], []
    for k in range(repeat):
        u, v = u0 + np.float32(k), v0  # a new step
        rss0 = _reset_peak()
        t, c = time.perf_counter(), time.process_time()
        fn(u, v)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        peaks.append(_peak_above(rss0))
    return {"method": method, "wall_s": float(np.median(walls)), "cpu_s": float(np.median(cpus)),
            "peak_mib": float(np.median(peaks)), "plan_s": plan_s}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--steps", type=int, default=96, help="hourly steps of the xarray run")
    ap.add_argument("--chunk", type=int, default=8, help="steps per dask chunk of the xarray run")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat, args.steps, args.chunk)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    rows = {}
    for m in args.methods.split(","):
        r = subprocess.run([sys.executable, __file__, "--worker", m, "--repeat", str(args.repeat), "--steps",
                            str(args.steps), "--chunk", str(args.chunk)], capture_output=True, text=True, env=env)
        if r.returncode:
            raise SystemExit(f"{m}: {r.stderr[-2000:]}")
        rows[m] = json.loads(r.stdout.strip().splitlines()[-1])
        print(json.dumps(rows[m]), flush=True)
    if "wind" in rows:
        base = rows["wind"]["wall_s"]
        for m in ("whole-grid", "gather", "scalar"):
            if m in rows:
                print(f"{m}: {rows[m]['wall_s'] / base:.2f}x the time of wind")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
