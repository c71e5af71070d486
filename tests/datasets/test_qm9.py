"""The QM9 loader on the committed 500-molecule subset (issue 17): contents, units, features, split sizes, errors;
and, where qm9pack is installed, the subset against qm9pack's CSV rows read by an independent parser."""
from __future__ import annotations

import csv
import importlib.util
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fiberconv.datasets.qm9 import HARTREE_TO_MEV, N_MOLECULES, PAPER_SPLIT, QM9, load_qm9, rotate_molecules


@pytest.fixture(scope="module")
def ds():
    return load_qm9()


def test_subset_shapes_masks_and_padding(ds):
    assert len(ds) == 500 and ds.positions.shape == (500, 27, 3) and ds.mask.shape == (500, 27)
    assert torch.equal(ds.mask, ds.charges > 0)  # an atom exactly where the mask says
    assert set(ds.charges[ds.mask].unique().tolist()) <= {1, 6, 7, 8, 9}
    assert float(ds.positions[~ds.mask].abs().max()) == 0.0
    assert bool((ds.index[1:] > ds.index[:-1]).all()) and int(ds.index.max()) <= 133_885
    # every molecule is made of whole atoms: the mask is a prefix
    n = ds.mask.sum(-1)
    assert torch.equal(ds.mask, torch.arange(27) < n[:, None]) and 3 <= float(n.float().mean()) and int(n.max()) == 27


def test_units_gap_is_lumo_minus_homo_in_mev(ds):
    # the CSV gives each energy to 1e-4 hartree, so gap and lumo - homo agree to 1.5e-4 Ha = 4.1 meV
    diff = ds.properties["gap"] - (ds.properties["lumo"] - ds.properties["homo"])
    assert float(diff.abs().max()) <= 1.5e-4 * HARTREE_TO_MEV + 1e-6
    # HOMO energies of small organic molecules: -5 to -10 eV; polarizability tens of bohr^3; dipoles a few debye
    assert -11_000 < float(ds.properties["homo"].min()) and float(ds.properties["homo"].max()) < -4_000
    assert 20 < float(ds.properties["alpha"].mean()) < 120 and 0 <= float(ds.properties["mu"].min())


def test_water_is_molecule_3_with_its_known_geometry(ds):
    """QM9 molecule 3 is water: O-H 0.96 A, H-O-H 104-105 degrees (B3LYP), HOMO -0.2928 Ha, mu 1.8511 D."""
    i = int((ds.index == 3).nonzero())
    assert ds.charges[i, :3].tolist() == [8, 1, 1] and int(ds.mask[i].sum()) == 3
    o, h1, h2 = ds.positions[i, :3]
    r1, r2 = (h1 - o).norm(), (h2 - o).norm()
    angle = math.degrees(math.acos(float((h1 - o) @ (h2 - o) / (r1 * r2))))
    assert abs(float(r1) - 0.962) < 0.002 and abs(float(r2) - 0.962) < 0.002 and 103.5 < angle < 105.5
    assert abs(float(ds.properties["homo"][i]) - (-0.2928 * 27_211.386)) < 0.01
    assert float(ds.properties["mu"][i]) == pytest.approx(1.8511) and float(ds.properties["alpha"][i]) == pytest.approx(6.31)


def test_features_are_one_hot_times_charge_powers(ds):
    f = ds.features(charge_power=2)
    assert f.shape == (500, 27, 15) and f.dtype == torch.float64
    onehot = f[..., :5]
    assert torch.equal(onehot.sum(-1), ds.mask.to(torch.float64))
    z = torch.tensor([1.0, 6, 7, 8, 9], dtype=torch.float64)
    expected = (onehot * z).sum(-1) / 9  # one-hot picks the atom's own Z
    assert torch.allclose(f[..., 5:10].sum(-1), expected) and torch.allclose(f[..., 10:].sum(-1), expected**2)
    assert ds.features(0).shape == (500, 27, 5)


def test_split_sizes_scale_the_papers_and_are_disjoint(ds):
    sp = ds.split()
    assert {k: len(v) for k, v in sp.items()} == {"train": 382, "valid": 68, "test": 50}
    ids = torch.cat([v.index for v in sp.values()])
    assert len(ids.unique()) == 500
    # each part is trimmed to its largest molecule and keeps its properties aligned with its molecules
    for part in sp.values():
        assert int(part.mask.sum(-1).max()) == part.mask.shape[1]
        pos = torch.searchsorted(ds.index, part.index)
        assert torch.equal(ds.properties["homo"][pos], part.properties["homo"])


def test_split_of_all_molecules_has_the_papers_sizes():
    """Cormorant's sizes for the 130,831 molecules (tiny stand-in molecules: only the count matters)."""
    n = N_MOLECULES
    fake = QM9(torch.ones(n, 1, dtype=torch.long), torch.zeros(n, 1, 3, dtype=torch.float64), torch.ones(n, 1, dtype=torch.bool),
               torch.arange(n), {"homo": torch.zeros(n, dtype=torch.float64)})
    assert {k: len(v) for k, v in fake.split().items()} == PAPER_SPLIT


def test_max_molecules_and_targets(ds):
    small = load_qm9(max_molecules=20, seed=3)
    assert len(small) == 20 and bool(torch.isin(small.index, ds.index).all())
    assert small.targets(["homo", "lumo"]).shape == (20, 2)
    assert len(load_qm9(max_molecules=10_000)) == 500  # more than held: all of them


@pytest.mark.parametrize("kwargs, match", [({"source": "gdb9"}, "source must be 'subset' or 'qm9pack'"),
                                           ({"max_molecules": 0}, "max_molecules"),
                                           ({"max_molecules": 2.5}, "max_molecules"), ({"seed": -1}, "seed")])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_qm9(**kwargs)


def test_bad_target_names(ds):
    with pytest.raises(ValueError, match="expected names among"):
        ds.targets(["U0"])


def test_missing_qm9pack_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "qm9pack" else real(name, *a))
    with pytest.raises(ImportError, match=r"fiberconv\[qm9\]"):
        load_qm9("qm9pack")


def test_rotate_molecules_keeps_distances(ds):
    x = ds.positions[:10]
    y = rotate_molecules(x, seed=0)
    dist = lambda p: (p.unsqueeze(-2) - p.unsqueeze(-3)).norm(dim=-1)
    assert torch.allclose(dist(x), dist(y), atol=1e-12) and not torch.allclose(x, y)


def test_subset_matches_qm9pack_rows(ds):
    """Where qm9pack is installed: the subset's atoms, coordinates and raw properties equal its CSV rows, parsed here
    with regular expressions (not the loader's code)."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None:
        pytest.skip("qm9pack not installed (the optional extra fiberconv[qm9])")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    wanted = {int(i): k for k, i in enumerate(ds.index)}
    csv.field_size_limit(sys.maxsize)
    found = 0
    for part in sorted(data.glob("qm9_part*.csv")):
        with open(part, newline="") as fh:
            for row in csv.reader(fh):
                if not row[1].isdigit() or int(row[1]) not in wanted:
                    continue
                k = wanted[int(row[1])]
                elements = re.findall(r"'([A-Z][a-z]?)'", row[6])
                xyz = np.array([float(v) for v in re.findall(r"-?\d+\.?\d*(?:[eE]-?\d+)?", row[7])]).reshape(-1, 3)
                n = len(elements)
                assert [dict(H=1, C=6, N=7, O=8, F=9)[e] for e in elements] == ds.charges[k, :n].tolist()
                assert np.array_equal(xyz, ds.positions[k, :n].numpy())
                assert float(row[15]) * HARTREE_TO_MEV == pytest.approx(float(ds.properties["homo"][k]), abs=1e-9)
                assert float(row[17]) * HARTREE_TO_MEV == pytest.approx(float(ds.properties["gap"][k]), abs=1e-9)
                found += 1
    assert found == 500
