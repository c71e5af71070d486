"""The wind example's summary table (``summary.txt``, printed at the end of a run)."""
from __future__ import annotations

from fiberconv.spaces import HealpixGrid

__all__ = ["format_summary", "CASES"]

CASES = ("test", "random SO(3)", "90° about z", "180° about x")


def format_summary(results: dict, grid: HealpixGrid, coarse: HealpixGrid) -> str:
    lines = []
    vd = results["vortdiv"]
    d = results["data"]
    lines.append(f"Vorticity and divergence from the wind (vector -> 2 scalars), nside {grid.nside}, test {d['test']}")
    lines.append(f"{'model':<26s}{'params':>8s}{'rel. error zeta':>18s}{'rel. error delta':>18s}"
                 f"{'180° about x: zeta':>21s}{'delta':>9s}")
    lines.append(f"{vd['model']:<26s}{vd['params']:>8d}{vd['rel_error']['vorticity']:>18.4f}"
                 f"{vd['rel_error']['divergence']:>18.4f}{vd['rel_error_x180']['vorticity']:>21.4f}"
                 f"{vd['rel_error_x180']['divergence']:>9.4f}")
    lines.append("")
    lines.append(f"Wind downscaling nside {coarse.nside} -> {grid.nside}, train {d['train']}, test {d['test']}; the globe "
                 "as is, turned by random rotations, by 90° about z and by 180° about x")
    table = results["downscaling_table"]
    ref = table["upsampled input"]
    lines.append(f"{'RMSE (m/s)  mean angular error':<34s}" + "".join(f"{c:>16s}" for c in CASES)
                 + f"{'skill change':>14s}")
    for name, row in table.items():
        params = results.get("downscaling", {}).get(name, {}).get("params", 0)
        cells = "".join(f"{row[c]['rmse']:>8.3f} {row[c]['angle']:>5.2f}°" for c in CASES)
        change = (row["random SO(3)"]["rmse"] / ref["random SO(3)"]["rmse"]) / (row["test"]["rmse"] / ref["test"]["rmse"]) - 1
        change_text = f"{100 * change:>+13.1f}%" if row is not ref else f"{'-':>14s}"
        lines.append(f"{name:<20s}{params:>7d} params{cells}{change_text}")
    pc = results["polar_caps"]
    polar_title = f"RMSE within {pc['degrees']:g}° of the poles"
    lines.append(f"{polar_title:<34s}" + "".join(f"{c:>16s}" for c in CASES))
    for name, row in table.items():
        lines.append(f"{name:<34s}" + "".join(f"{row[c]['rmse_polar']:>16.3f}" for c in CASES))
    lines.append("  skill change: RMSE / (the upsampled input's RMSE) on the randomly rotated globe against the same "
                 "on the test set (resampling changes the task's difficulty).")
    lines.append(f"  Polar caps: {100 * pc['fraction']:.1f}% of the sphere, where the frame (south, east) turns fastest. "
                 f"Grid discretization: rotating the test winds")
    lines.append(f"  by the random rotations and back changes them by {results['resampling_roundtrip_rmse']:.3f} m/s RMSE "
                 f"(rms wind {d['rms_wind']:.2f} m/s).")
    procs = f", {results['processes']} processes" if results.get("processes", 1) > 1 else ""
    lines.append(f"wall time {results['wall_time_s']:.1f} s on {results['device']} ({results['threads']} threads{procs})")
    return "\n".join(lines)
