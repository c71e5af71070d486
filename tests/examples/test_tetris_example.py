"""The 3-D Tetris example (examples/tetris) runs end to end on its quick settings."""
import pathlib

import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_tetris_example_smoke():
    import importlib.util

    path = ROOT / "examples" / "tetris" / "tetris.py"
    spec = importlib.util.spec_from_file_location("tetris_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    n = torch.get_num_threads()
    try:
        res = mod.main(["--quick"])
    finally:
        torch.set_num_threads(n)
    assert set(res) == {"SE(3) CNN", "plain CNN"}
    assert all(0.0 <= a <= 1.0 for r in res.values() for a in r.values())
