r"""Benchmark: ``SphereConv`` (HEALPix) against torch-harmonics' DISCO convolution, per pixel.

Measured, each configuration in a fresh subprocess (so that threads, caches and the peak-memory
high-water mark are its own):

* ``SphereConv`` 16 -> 16 channels at nside 64 (49,152 px), batch 8, float32, default radius
  (3 mean pixel spacings = 0.048 rad) and ``n_rings=2``:
  (a) ``sphere_field_type((0, 16))`` -> same (16 scalar fields),
  (b) ``sphere_field_type((1, 8))`` -> same (8 tangent-vector fields, 16 channels);
* torch-harmonics ``DiscreteContinuousConvS2`` 16 -> 16 channels on the 128 x 256 equiangular grid
  (32,768 px), batch 8, float32, two filter set-ups:
  (c) ``kernel_shape=(3, 3), basis_type="morlet"``, ``theta_cutoff = 2 pi / 127`` -- the set-up of
      torch-harmonics' own example models (``(k + 1) * 0.5 * pi / (nlat - 1)``), and at 0.049 rad the
      same angular radius as (a, b);
  (d) the constructor defaults: ``kernel_shape=(3, 3)``, piecewise-linear basis, ``theta_cutoff`` =
      one latitude spacing (0.025 rad, half the radius of a-c).

For each: construction time (cold = first in the process, grid included, wall and process CPU time;
warm = a second one),
forward (under ``torch.no_grad()``) and forward+backward (input with ``requires_grad``, weight
gradients, ``out.backward(grad)``), medians over ``--repeat`` runs after ``--warmup`` runs, reported
in ms and per output pixel (time / number of output pixels of one call, which carries the whole
batch of 8), wall clock and process CPU time (on a shared machine the CPU time is the steadier
figure of the two at one thread). CPU at ``torch.set_num_threads(1)`` and ``(2)`` (with
``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` set to match); CUDA when ``torch.cuda.is_available()`` in a
worker's interpreter, at nside 256 (786,432 px) against DISCO on 512 x 1024 (524,288 px), CUDA
synchronised around each timed call.

Peak memory: on the CPU, ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the worker process (a
high-water mark) after construction, after the forward runs and after the forward+backward runs,
minus the resident set before the layer was built (inputs already allocated), so "fwd" is the
construction plus inference peak and "f+b" the training-step peak. On CUDA,
``torch.cuda.max_memory_allocated()`` over the same phases, minus the memory allocated before.
"state" is the size of the layer's buffers and parameters.

Which DISCO code path is timed: ``DiscreteContinuousConvS2(optimized_kernel=True)`` takes the
compiled extension when ``disco_helpers.optimized_kernels_is_available()``; the worker runs one
forward under ``torch.profiler`` and records whether ``disco_kernels::forward`` (the C++ CPU / CUDA
kernel) ran, shown as "C++" or "torch" (the pure-PyTorch reference ``_disco_s2_contraction_torch``)
in the table. It also compares the timed path with the reference path on a 32 x 64 grid.

Setup (torch-harmonics 0.9.3 declares ``torch>=2.14,<2.15``; fiberconv's environment pins torch
2.13.0, CPU build, and an unpinned torch pulls a multi-GB CUDA build, so torch-harmonics gets its
own virtual environment beside ``.venv`` -- ignored by git -- with the *same* CPU torch 2.13.0)::

    python3.11 -m venv .venv-bench            # the CPython 3.11 that .venv was made from
    .venv-bench/bin/pip install -c constraints.txt torch numpy   # torch==2.13.0 (CPU wheel), numpy==1.26.4
    .venv-bench/bin/pip install --no-deps torch-harmonics==0.9.3

``--no-deps`` skips its ``torch>=2.14`` requirement (``pip check`` will name that, as expected). The
0.9.3 x86-64 CPython 3.11 wheel (version ``0.9.3+torch2.14.1.cpu``) carries its C++ CPU kernels
(``disco_helpers``, ``torch_harmonics/disco/_C``, registered as ``torch.ops.disco_kernels``); built
against torch 2.14.1, they load and run on torch 2.13.0 and agree with torch-harmonics' pure-PyTorch
path to ~1e-7 (checked on every run, column "chk"). That wheel has no CUDA kernels: on a GPU the
DISCO rows fall back to the pure-PyTorch path unless ``.venv-bench`` gets a CUDA torch and a CUDA
build of torch-harmonics (e.g. ``torch-harmonics-cu128``), which this machine does not need.

Usage (from the repository root, with fiberconv's environment)::

    .venv/bin/python bench/bench_sphere_conv.py              # full run: CPU 1 and 2 threads (+ CUDA)
    .venv/bin/python bench/bench_sphere_conv.py --quick      # nside 32 / 64 x 128, batch 2, 1 thread
    .venv/bin/python bench/bench_sphere_conv.py --bench-python /path/to/python   # another DISCO env
    .venv/bin/python bench/bench_sphere_conv.py --rounds 3 --json out.json   # best of 3, all results saved

The DISCO workers run under ``--bench-python`` (default: ``$FIBERCONV_BENCH_PYTHON``, else
``.venv-bench/bin/python``, else this interpreter if it can import torch_harmonics); without one the
DISCO rows are skipped with a note. SphereConv workers run under this interpreter.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ------------------------------------------------------------------------------------------------------
# configurations
# ------------------------------------------------------------------------------------------------------
SPHERE_KINDS = {"scalar": ((0, 16),), "vector": ((1, 8),)}
DISCO_KINDS = {
    # (kernel_shape, basis_type, theta_cutoff in latitude spacings pi / (nlat - 1); None = default)
    "morlet": ((3, 3), "morlet", 2.0),
    "pwlin": ((3, 3), "piecewise linear", None),
}
LABELS = {
    ("sphere", "scalar"): "SphereConv 16 scalar -> 16 scalar",
    ("sphere", "vector"): "SphereConv 8 vector -> 8 vector",
    ("disco", "morlet"): "DISCO morlet (3,3), r=2 dlat",
    ("disco", "pwlin"): "DISCO pw-linear (3,3), default r",
}


def sizes(quick: bool, device: str) -> dict:
    """nside of SphereConv, (nlat, nlon) of DISCO and the batch, for one device."""
    if device == "cuda":
        return {"nside": 128 if quick else 256, "shape": (256, 512) if quick else (512, 1024), "batch": 8}
    return {"nside": 32 if quick else 64, "shape": (64, 128) if quick else (128, 256), "batch": 2 if quick else 8}


# ------------------------------------------------------------------------------------------------------
# worker side (runs in a fresh process; imports torch only here)
# ------------------------------------------------------------------------------------------------------
def _rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def _maxrss_mb() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 2**10  # bytes on macOS, KiB on Linux


def _timeit(fn, warmup: int, repeat: int, sync) -> dict:
    for _ in range(warmup):
        fn()
    sync()
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        sync()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    wall.sort()
    cpu.sort()
    return {"ms": 1e3 * wall[len(wall) // 2], "min_ms": 1e3 * wall[0], "cpu_ms": 1e3 * cpu[len(cpu) // 2]}


def worker(spec: dict) -> dict:
    import torch

    lib, kind, device = spec["lib"], spec["kind"], spec["device"]
    if device == "cpu":
        torch.set_num_threads(spec["threads"])
    elif not torch.cuda.is_available():
        return {"skip": "torch.cuda.is_available() is False in this interpreter"}
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "python": sys.executable}
    if dev.type == "cuda":
        out["device_name"] = torch.cuda.get_device_name(dev)

    if lib == "sphere":
        from fiberconv.fields.field_type import sphere_field_type
        from fiberconv.nn import SphereConv
        from fiberconv.spaces.healpix import HealpixGrid

        ft = sphere_field_type(*SPHERE_KINDS[kind])
        nside = spec["nside"]

        def build():
            return SphereConv(ft, ft, HealpixGrid(nside))

        n_in = n_out = 12 * nside * nside
        in_shape = (spec["batch"], ft.dim, n_in)
    else:
        import warnings

        warnings.filterwarnings("ignore")
        import torch_harmonics
        from disco_helpers import cuda_kernels_is_available, optimized_kernels_is_available
        from torch_harmonics import DiscreteContinuousConvS2

        out["torch_harmonics"] = torch_harmonics.__version__
        kshape, basis, cut = DISCO_KINDS[kind]
        nlat, nlon = spec["shape"]
        optimized = optimized_kernels_is_available() and (dev.type == "cpu" or cuda_kernels_is_available())

        def make(shape, opt):
            theta = None if cut is None else cut * math.pi / (shape[0] - 1)
            return DiscreteContinuousConvS2(16, 16, shape, shape, kernel_shape=kshape, basis_type=basis,
                                            theta_cutoff=theta, optimized_kernel=opt)

        def build():
            return make((nlat, nlon), optimized)

        n_in = n_out = nlat * nlon
        in_shape = (spec["batch"], 16, nlat, nlon)

    x = torch.randn(*in_shape, device=dev)
    sync()
    rss0, cuda0 = _rss_mb(), (torch.cuda.memory_allocated(dev) if dev.type == "cuda" else 0)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    def peak():
        if dev.type == "cuda":
            return (torch.cuda.max_memory_allocated(dev) - cuda0) / 2**20
        return _maxrss_mb() - rss0

    t0, c0 = time.perf_counter(), time.process_time()
    layer = build()
    out["construct_cold_s"] = time.perf_counter() - t0
    out["construct_cold_cpu_s"] = time.process_time() - c0
    t0 = time.perf_counter()
    build()
    out["construct_warm_s"] = time.perf_counter() - t0
    layer = layer.to(device=dev, dtype=torch.float32)
    def nbytes(t):
        """Stored bytes: a sparse tensor's numel() is its dense size (SphereConv keeps each filter operator
        and its transpose as two CSR tensors; both count)."""
        if t.layout == torch.sparse_csr:
            return sum(a.numel() * a.element_size() for a in (t.values(), t.col_indices(), t.crow_indices()))
        return t.numel() * t.element_size()

    out["state_mb"] = sum(nbytes(t) for t in list(layer.buffers()) + list(layer.parameters())) / 2**20
    if lib == "sphere":  # the compact geometry it keeps (the derived operators are a cache, reported apart)
        out["state_mb"] += layer.geometry.nbytes()["state"] / 2**20
    out["peak_construct_mb"] = peak()

    if lib == "sphere":
        out["pixels"] = n_out
        out["K"] = int(layer.n_neighbours)
        out["nbrs"] = layer.n_pairs / n_out  # neighbours per output pixel (entries per row of each filter)
        out["filters"] = int(layer.n_filters)
    else:
        out["pixels"] = n_out
        # distinct (output latitude, input pixel) pairs = points in the support of an output pixel
        pairs = torch.unique(layer.psi_row_idx.cpu() * (n_in + 1) + layer.psi_col_idx.cpu()).numel()
        out["nbrs"] = pairs / layer.nlat_out
        out["filters"] = int(layer.kernel_size)
        out["theta_cutoff"] = float(layer.theta_cutoff)
        with torch.no_grad(), torch.profiler.profile() as prof:
            layer(x)
            sync()
        names = {e.key for e in prof.key_averages()}
        out["path"] = "C++" if "disco_kernels::forward" in names else "torch"
        # the timed path against torch-harmonics' pure-PyTorch reference, on a small grid
        small = (32, 64)
        a, b = make(small, optimized).to(dev), make(small, False).to(dev)
        b.load_state_dict(a.state_dict())
        xs = torch.randn(2, 16, *small, device=dev)
        with torch.no_grad():
            ya, yb = a(xs), b(xs)
        out["check_relerr"] = float((ya - yb).norm() / yb.norm())

    with torch.no_grad():
        out["fwd"] = _timeit(lambda: layer(x), spec["warmup"], spec["repeat"], sync)
    out["peak_fwd_mb"] = peak()

    xg = x.clone().requires_grad_(True)
    gout = torch.randn_like(layer(x).detach())

    def step():
        xg.grad = None
        layer.zero_grad(set_to_none=True)
        layer(xg).backward(gout)

    out["fwdbwd"] = _timeit(step, spec["warmup"], spec["repeat"], sync)
    out["peak_fwdbwd_mb"] = peak()
    return out


# ------------------------------------------------------------------------------------------------------
# driver side
# ------------------------------------------------------------------------------------------------------
def _bench_python(arg):
    if arg:
        return arg
    if os.environ.get("FIBERCONV_BENCH_PYTHON"):
        return os.environ["FIBERCONV_BENCH_PYTHON"]
    cand = os.path.join(ROOT, ".venv-bench", "bin", "python")
    if os.path.exists(cand):
        return cand
    try:
        import torch_harmonics  # noqa: F401

        return sys.executable
    except Exception:
        return None


def spawn(python: str, spec: dict, timeout: float) -> dict:
    env = dict(os.environ)
    if spec["device"] == "cpu":
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(spec["threads"])
    cmd = [python, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"skip": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"skip": f"worker failed (rc {proc.returncode}): " + " | ".join(tail)}
    return json.loads(lines[-1][4:])


def _score(r: dict) -> float:
    return r["fwd"]["ms"] + r["fwdbwd"]["ms"]


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for ln in out.splitlines():
            if ln.startswith("Model name:"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt(v, spec="{:.1f}"):
    return "-" if v is None else spec.format(v)


def print_table(rows, title):
    print(f"\n{title}")
    head = (f"{'layer':<34} {'thr':>3} {'px':>7} {'nbrs':>5} {'path':>5} | {'fwd ms':>8} {'cpu ms':>8} {'us/px':>6} "
            f"{'/D':>5} {'/D cpu':>6} | {'f+b ms':>8} {'cpu ms':>8} {'us/px':>6} {'/D':>5} {'/D cpu':>6}")
    print(head)
    print("-" * len(head))
    for label, thr, r, ref in rows:
        if "skip" in r:
            print(f"{label:<34} {thr:>3}  skipped: {r['skip']}")
            continue
        px = r["pixels"]
        cells = []
        for key in ("fwd", "fwdbwd"):
            per_px = 1e3 * r[key]["ms"] / px
            rw = rc = None
            if ref is not None and "skip" not in ref:
                rw = per_px / (1e3 * ref[key]["ms"] / ref["pixels"])
                rc = (r[key]["cpu_ms"] / px) / (ref[key]["cpu_ms"] / ref["pixels"])
            cells.append(f"{r[key]['ms']:>8.1f} {r[key]['cpu_ms']:>8.1f} {per_px:>6.2f} "
                         f"{_fmt(rw, '{:.2f}'):>5} {_fmt(rc, '{:.2f}'):>6}")
        print(f"{label:<34} {thr:>3} {px:>7} {r['nbrs']:>5.1f} {r.get('path', 'torch'):>5} | " + " | ".join(cells))


def print_build_memory(rows, title):
    print(f"\n{title}")
    head = (f"{'layer':<34} {'px':>7} {'build cold s':>12} {'cpu s':>6} {'warm s':>7} {'state MiB':>9} "
            f"{'peak build':>10} {'peak fwd':>9} {'peak f+b':>9} {'chk':>8}")
    print(head)
    print("-" * len(head))
    for label, r in rows:
        if "skip" in r:
            print(f"{label:<34}  skipped: {r['skip']}")
            continue
        print(f"{label:<34} {r['pixels']:>7} {r['construct_cold_s']:>12.3f} {r['construct_cold_cpu_s']:>6.3f} "
              f"{r['construct_warm_s']:>7.3f} "
              f"{r['state_mb']:>9.1f} {r['peak_construct_mb']:>10.0f} {r['peak_fwd_mb']:>9.0f} "
              f"{r['peak_fwdbwd_mb']:>9.0f} {_fmt(r.get('check_relerr'), '{:.0e}'):>8}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="nside 32 / 64x128, batch 2, 1 thread, 3 repeats")
    p.add_argument("--threads", default=None, help="comma-separated CPU thread counts (default 1,2; quick: 1)")
    p.add_argument("--repeat", type=int, default=None, help="timed runs per measurement (default 7; quick: 3)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1,
                   help="run every configuration this many times (fresh processes, interleaved) and keep, per "
                        "configuration, the round with the lowest median times: steadier on a shared machine")
    p.add_argument("--devices", default=None, help="comma-separated from cpu,cuda (default: cpu, + cuda if available)")
    p.add_argument("--bench-python", default=None, help="interpreter with torch_harmonics for the DISCO workers")
    p.add_argument("--no-disco", action="store_true")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per worker")
    p.add_argument("--json", default=None, help="also write all results to this file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker is not None:
        print("JSON" + json.dumps(worker(json.loads(args.worker))), flush=True)
        return

    import torch

    threads = [int(t) for t in (args.threads or ("1" if args.quick else "1,2")).split(",")]
    repeat = args.repeat or (3 if args.quick else 7)
    if args.devices:
        devices = args.devices.split(",")
    else:
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    bench_py = None if args.no_disco else _bench_python(args.bench_python)

    print(f"fiberconv SphereConv vs torch-harmonics DISCO{' (quick)' if args.quick else ''}")
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; load average at start: "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"SphereConv: {sys.executable} (torch {torch.__version__})")
    print(f"DISCO:      {bench_py or 'not available (no --bench-python, .venv-bench or torch_harmonics here)'}")
    print(f"float32; median of {repeat} timed runs after {args.warmup} warm-up; "
          "us/px = time per call / output pixels of one call (the call carries the whole batch); "
          "/D = us/px relative to the DISCO morlet row of the same thread count and device, "
          "/D cpu = the same from process CPU time; cpu ms = process CPU time, all threads; "
          "nbrs = input pixels in the support of one output pixel (mean)"
          + (f"; best of {args.rounds} rounds per configuration" if args.rounds > 1 else ""))

    results = []
    for device in devices:
        sz = sizes(args.quick, device)
        thr_list = threads if device == "cpu" else [0]
        table, build_rows = [], []
        for thr in thr_list:
            base = {"device": device, "threads": thr, "batch": sz["batch"], "repeat": repeat, "warmup": args.warmup,
                    "nside": sz["nside"], "shape": list(sz["shape"])}
            got = {}
            # interleave the libraries so that both see the same load on a shared machine
            order = [("sphere", "scalar"), ("disco", "morlet"), ("sphere", "vector"), ("disco", "pwlin")]
            for rnd in range(max(args.rounds, 1)):
                for lib, kind in order:
                    if lib == "disco" and bench_py is None:
                        got[(lib, kind)] = {"skip": "no torch-harmonics environment (see the docstring)"}
                        continue
                    spec = dict(base, lib=lib, kind=kind)
                    print(f"  running {device} threads={thr or '-'} {LABELS[(lib, kind)]} (round {rnd + 1})",
                          file=sys.stderr, flush=True)
                    r = spawn(sys.executable if lib == "sphere" else bench_py, spec, args.timeout)
                    results.append({"spec": spec, "round": rnd, "result": r})
                    old = got.get((lib, kind))
                    if old is None or "skip" in old or ("skip" not in r and _score(r) < _score(old)):
                        got[(lib, kind)] = r
            ref = got[("disco", "morlet")]
            for key in [("sphere", "scalar"), ("sphere", "vector"), ("disco", "morlet"), ("disco", "pwlin")]:
                table.append((LABELS[key], thr or "-", got[key], ref))
            if thr == thr_list[0]:
                build_rows = [(LABELS[k], got[k]) for k in got]
        dev_name = next((r["result"].get("device_name") for r in results
                         if r["spec"]["device"] == device and "device_name" in r["result"]), None)
        where = f"{device.upper()}{' (' + dev_name + ')' if dev_name else ''}"
        print_table(table, f"== {where}: SphereConv nside {sz['nside']} ({12 * sz['nside'] ** 2:,} px) vs DISCO "
                           f"{sz['shape'][0]}x{sz['shape'][1]} ({sz['shape'][0] * sz['shape'][1]:,} px), "
                           f"batch {sz['batch']}, 16 -> 16 channels")
        mem = ("peak RSS above the pre-build RSS, ru_maxrss, MiB" if device == "cpu"
               else "torch.cuda.max_memory_allocated above the pre-build allocation, MiB")
        print_build_memory(build_rows, f"== {where}: construction, layer state and peak memory ({mem}; "
                                       f"threads={thr_list[0] or '-'}); chk = DISCO timed path vs its torch reference")
    sphere = [r for r in results if r["spec"]["lib"] == "sphere" and "skip" not in r["result"]]
    for r in sphere[:1]:
        print(f"\nSphereConv: K = {r['result']['K']} neighbour slots per output pixel, "
              f"{r['result']['nbrs']:.1f} with nonzero weight on average")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"devices": devices, "threads": threads, "repeat": repeat, "cpu": cpu_model(),
                       "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
