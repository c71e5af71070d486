r"""Regenerate the committed default wind data set ``fiberconv/datasets/data/navy_winds_nside32.npz``.

    apt-get install -y ferret-datasets              # provides the source file (once)
    python -m fiberconv.examples.wind.make_data     # writes fiberconv/datasets/data/navy_winds_nside32.npz

(in a source checkout with an editable install; elsewhere pass ``--out``.)

Source: ``/usr/share/ferret-vis/data/monthly_navy_winds.cdf`` from the Debian package
``ferret-datasets``: Navy FNOC monthly mean surface winds ``UWND``, ``VWND`` (m/s) on a 2.5 degree
grid (73 latitudes -90..90 with both pole rows, 144 longitudes 20..377.5), 132 months 1982-1992.

The winds are regridded with :class:`fiberconv.fields.regrid.LatLonToHealpix` to HEALPix nside 32,
NESTED: ``(u, v)`` -> ambient 3-D vectors, bilinear per Cartesian component, projected onto each
pixel's frame ``(e_theta, e_phi)``. The file's pole rows are not one vector each (the north pole
row repeats one ``(u, v)`` pair in all 144 columns, i.e. a different vector in each column's frame;
the script prints their spread), so they are dropped (``pole_rows="drop"``): each pole gets the
mean ambient vector of the 87.5-degree row, projected on the pole's tangent plane.

The output (``numpy.savez_compressed``, read with ``allow_pickle=False`` by
``fiberconv.datasets.wind.load_default``) holds ``wind`` float16 ``(132, 2, 12288)``: ``(v_theta, v_phi)
= (-v, u)`` in m/s (float16 keeps about 3 significant digits: <= 0.008 m/s below 16 m/s, 0.016 m/s
above), ``time`` (datetime64[s], the file's mid-month stamps), ``month`` (``"YYYY-MM"``), and the
metadata strings listed in ``fiberconv/datasets/data/README.md``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from fiberconv.datasets.wind import DEFAULT_PATH, read_latlon_wind
from fiberconv.fields.regrid import LatLonToHealpix
from fiberconv.spaces.healpix import HealpixGrid

NAVY = "/usr/share/ferret-vis/data/monthly_navy_winds.cdf"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fiberconv.examples.wind.make_data", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=NAVY, help=f"lat-lon NetCDF with UWND/VWND (default {NAVY})")
    ap.add_argument("--nside", type=int, default=32, help="HEALPix nside (default 32)")
    ap.add_argument("--ring", action="store_true", help="RING ordering instead of NESTED")
    ap.add_argument("--pole-rows", default="drop", choices=("drop", "average"),
                    help="treatment of the file's pole rows (default drop: they are not consistent vectors)")
    ap.add_argument("--out", type=Path, default=DEFAULT_PATH, help=f"output .npz (default {DEFAULT_PATH})")
    args = ap.parse_args(argv)

    if not Path(args.source).is_file():
        print(f"error: {args.source} not found; install it with `apt-get install -y ferret-datasets`", file=sys.stderr)
        return 2
    t0 = time.time()
    data = read_latlon_wind(args.source, u_name="UWND", v_name="VWND")
    grid = HealpixGrid(args.nside, nest=not args.ring)
    plan = LatLonToHealpix(data.lat, data.lon, grid, pole_rows=args.pole_rows)
    spread = LatLonToHealpix(data.lat, data.lon, grid).pole_spread(data.u, data.v)
    wind = plan.wind(data.u, data.v)  # float64 (T, 2, N_pix)
    packed = wind.astype(np.float16)
    months = np.array([str(t)[:7] for t in data.time.astype("datetime64[M]")])
    meta = {
        "nside": np.int64(grid.nside),
        "nest": np.bool_(grid.nest),
        "ordering": grid.ordering,
        "units": "m/s",
        "components": np.array(["v_theta", "v_phi"]),
        "source": ("Debian package ferret-datasets, /usr/share/ferret-vis/data/monthly_navy_winds.cdf: Navy FNOC "
                   "monthly mean surface winds UWND, VWND (m/s), 2.5 deg lat-lon 73x144, 1982-01..1992-12"),
        "source_file": str(args.source),
        "variables": f"{data.meta['u_variable']},{data.meta['v_variable']}",
        "time_units": data.meta["time_units"],
        "latlon_shape": np.array(data.u.shape, dtype=np.int64),
        "interpolation": (
            "fiberconv.fields.regrid.LatLonToHealpix: (u, v) -> ambient 3-D vectors, bilinear in (lat, lon) "
            "per Cartesian component (periodic in lon), projected on each pixel's frame (e_theta, e_phi); "
            f"pole_rows={args.pole_rows!r}"
        ),
        "pole_rows": args.pole_rows,
        "command": "python -m fiberconv.examples.wind.make_data" + ("" if argv is None else " " + " ".join(argv)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, wind=packed, time=data.time.astype("datetime64[s]"), month=months, **meta)

    err16 = np.abs(packed.astype(np.float64) - wind).max()
    speed = np.hypot(wind[:, 0], wind[:, 1])
    print(f"read {args.source}: {data.u.shape} (time, lat, lon), {data.time[0]} .. {data.time[-1]}")
    print(f"pole-row spread of the ambient vectors (m/s; 0 for a consistent row): "
          f"north {spread['north']:.2f}, south {spread['south']:.2f} -> pole_rows={args.pole_rows!r}")
    print(f"regridded to {grid!r}: wind {packed.shape} float16, max |float16 - float64| = {err16:.4f} m/s, "
          f"speed mean {speed.mean():.2f} max {speed.max():.2f} m/s")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
