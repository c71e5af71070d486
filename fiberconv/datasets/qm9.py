"""QM9 molecules (Ramakrishnan et al. 2014) as 3-D point clouds with masks, for LieConv (:mod:`fiberconv.examples.qm9`).

Sources
-------
* ``source="subset"`` (default): 500 molecules committed with the package
  (``fiberconv/datasets/data/qm9_subset500.npz``; provenance in ``data/README_qm9.md``); no extra dependency.
* ``source="qm9pack"``: the 130,831 molecules (133,885 less the 3,054 that failed the consistency check)
  shipped as CSV inside the PyPI wheel ``qm9pack`` 1.0.3 (an optional extra: ``pip install "fiberconv[qm9]"``).
  Parsing the three CSV files takes about 6 s (one core).

Units and conventions
---------------------
Coordinates ``positions`` in angstrom as given (B3LYP/6-31G(2df,p) geometries); ``charges`` the nuclear charges
Z (H 1, C 6, N 7, O 8, F 9; 0 at padding). Properties (:data:`PROPERTIES`): ``homo``, ``lumo``, ``gap`` in meV
(from hartree, 1 Ha = 27,211.386 meV), ``mu`` the dipole moment in debye, ``alpha`` the isotropic polarizability
in bohr^3. Features (:meth:`QM9.features`) are Cormorant's and LieConv's: the one-hot atom type times
``(Z / 9)^p`` for ``p = 0 .. charge_power``.

Split
-----
The LieConv paper (Finzi et al. 2020, Table 2) uses Cormorant's split (Anderson et al. 2019) of the 130,831
molecules: a random permutation (numpy seed 0) cut into 100,000 train, 17,748 valid and 13,083 (10 %) test
molecules (:data:`PAPER_SPLIT`); :meth:`QM9.split` cuts the same way, with the sizes scaled to the molecules held.
"""
from __future__ import annotations

import csv
import dataclasses
import importlib.util
import pathlib
import sys
from importlib import resources

import numpy as np
import torch

from fiberconv.validation import check_int, check_positive_int

__all__ = ["QM9", "load_qm9", "PROPERTIES", "PAPER_SPLIT", "N_MOLECULES", "ELEMENTS", "HARTREE_TO_MEV", "SUBSET_FILE"]

#: the molecules qm9pack ships (133,885 less the 3,054 "uncharacterized" ones)
N_MOLECULES = 130_831
#: Cormorant's split, which the LieConv paper uses (train 100k, test 10 % of all, valid the rest)
PAPER_SPLIT = {"train": 100_000, "valid": 17_748, "test": 13_083}
#: the elements of QM9 and their nuclear charges, in the order of the one-hot features
ELEMENTS = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
#: CODATA 2018: 1 hartree = 27.211386245988 eV
HARTREE_TO_MEV = 27_211.386245988
#: property name -> (qm9pack column, factor to the unit, unit)
PROPERTIES = {
    "homo": ("HOMO_au", HARTREE_TO_MEV, "meV"),
    "lumo": ("LUMO_au", HARTREE_TO_MEV, "meV"),
    "gap": ("HOMO_LUMO_gap_au", HARTREE_TO_MEV, "meV"),
    "mu": ("Dipole_debye", 1.0, "D"),
    "alpha": ("Polarizability_bohr3", 1.0, "bohr^3"),
}
#: the committed subset (package data of fiberconv.datasets)
SUBSET_FILE = "qm9_subset500.npz"
_MAX_CHARGE = max(ELEMENTS.values())


@dataclasses.dataclass(frozen=True)
class QM9:
    """Molecules padded to ``A`` atoms: ``charges (n, A)`` long (0 = padding), ``positions (n, A, 3)`` float64 in
    angstrom (0 at padding), ``mask (n, A)`` bool, ``index (n,)`` the QM9 molecule numbers (``dsgdb9nsd_<index>``),
    ``properties`` name -> ``(n,)`` float64 in the units of :data:`PROPERTIES`."""

    charges: torch.Tensor
    positions: torch.Tensor
    mask: torch.Tensor
    index: torch.Tensor
    properties: dict

    def __len__(self) -> int:
        return len(self.index)

    def features(self, charge_power: int = 2) -> torch.Tensor:
        """``(n, A, 5 (charge_power + 1))`` float64: one-hot H, C, N, O, F times ``(Z / 9)^p``, ``p = 0 .. charge_power``
        (0 at padding)."""
        check_int(charge_power, "charge_power", 0, who="QM9.features")
        onehot = torch.stack([self.charges == z for z in ELEMENTS.values()], -1).to(torch.float64)
        z = (self.charges.to(torch.float64) / _MAX_CHARGE).unsqueeze(-1)
        return torch.cat([onehot * z**p for p in range(charge_power + 1)], -1)

    def targets(self, names) -> torch.Tensor:
        """``(n, len(names))`` float64: the properties ``names`` (keys of :data:`PROPERTIES`) side by side."""
        names = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if n not in PROPERTIES]
        if unknown or not names:
            raise ValueError(f"QM9.targets: expected names among {sorted(PROPERTIES)}, got {list(names)!r}")
        return torch.stack([self.properties[n] for n in names], -1)

    def take(self, idx) -> QM9:
        """The molecules ``idx`` (indices or a bool mask), trimmed to their largest molecule's atom count."""
        idx = torch.as_tensor(idx)
        mask = self.mask[idx]
        width = max(1, int(mask.sum(-1).max())) if len(mask) else 1
        return QM9(self.charges[idx][:, :width], self.positions[idx][:, :width], mask[:, :width], self.index[idx],
                   {k: v[idx] for k, v in self.properties.items()})

    def split(self, seed: int = 0) -> dict:
        """``{"train", "valid", "test"}``: Cormorant's recipe (a numpy ``RandomState(seed)`` permutation, the first
        100,000 / next 17,748 / last 13,083 of 130,831), with the sizes scaled by ``len(self) / 130,831`` when fewer
        molecules are held (test ``int(0.1 n)``, train ``round(n 100,000 / 130,831)``, valid the rest)."""
        check_int(seed, "seed", 0, who="QM9.split")
        n = len(self)
        n_test = int(0.1 * n)
        n_train = PAPER_SPLIT["train"] if n == N_MOLECULES else round(n * PAPER_SPLIT["train"] / N_MOLECULES)
        perm = torch.as_tensor(np.random.RandomState(seed).permutation(n))
        cut = [n_train, n - n_test]
        return {"train": self.take(perm[:cut[0]]), "valid": self.take(perm[cut[0]:cut[1]]),
                "test": self.take(perm[cut[1]:])}


def _pad(n_atoms, charges, xyz, index, props) -> QM9:
    n_atoms = torch.as_tensor(np.asarray(n_atoms, dtype=np.int64))
    n, width = len(n_atoms), int(n_atoms.max())
    mask = torch.arange(width).unsqueeze(0) < n_atoms.unsqueeze(1)
    Z = torch.zeros(n, width, dtype=torch.long)
    X = torch.zeros(n, width, 3, dtype=torch.float64)
    Z[mask] = torch.as_tensor(np.asarray(charges, dtype=np.int64))
    X[mask] = torch.as_tensor(np.asarray(xyz, dtype=np.float64)).reshape(-1, 3)
    return QM9(Z, X, mask, torch.as_tensor(np.asarray(index, dtype=np.int64)),
               {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) * PROPERTIES[k][1] for k, v in props.items()})


def _read_qm9pack() -> QM9:
    """Parse qm9pack's CSV files (``qm9pack/data/qm9_part{1,2,3}.csv``) with the standard library (no pandas)."""
    # find the files without importing qm9pack: its __init__ needs pkg_resources, gone from recent setuptools
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('the full QM9 needs qm9pack (130,831 molecules in its wheel), an optional dependency of '
                          'fiberconv: `pip install "fiberconv[qm9]"` (or `pip install qm9pack==1.0.3`); '
                          'source="subset" needs nothing')
    data = pathlib.Path(list(spec.submodule_search_locations)[0]) / "data"
    csv.field_size_limit(sys.maxsize)
    n_atoms, charges, xyz, index = [], [], [], []
    props = {k: [] for k in PROPERTIES}
    for part in ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv"):
        with open(data / part, newline="") as fh:
            for row in csv.DictReader(fh):
                elements = row["Elements"].strip("[]").replace("'", "").split(",")
                # "[[0.59,0.,1.],...]": numbers like "0." are not JSON, but float() reads them
                coords = [float(c) for c in row["XYZ_Ang"].replace("[", "").replace("]", "").split(",")]
                if len(coords) != 3 * len(elements) or int(row["N_atoms"]) != len(elements):
                    raise ValueError(f"qm9pack {part}: molecule {row['Index']} has {len(elements)} elements, "
                                     f"{len(coords)} coordinate values and N_atoms {row['N_atoms']}")
                n_atoms.append(len(elements))
                charges.extend(ELEMENTS[e] for e in elements)
                xyz.extend(coords)
                index.append(int(row["Index"]))
                for k, (col, _, _) in PROPERTIES.items():
                    props[k].append(float(row[col]))
    if len(index) != N_MOLECULES:
        raise ValueError(f"qm9pack: expected {N_MOLECULES} molecules, read {len(index)} (a different qm9pack version?)")
    order = np.argsort(index, kind="stable")  # by molecule number, as Cormorant orders them
    starts = np.concatenate([[0], np.cumsum(n_atoms)])
    atoms = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in order])
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    return _pad(np.asarray(n_atoms)[order], np.asarray(charges)[atoms], xyz[atoms], np.asarray(index)[order],
                {k: np.asarray(v)[order] for k, v in props.items()})


def _read_subset() -> QM9:
    with (resources.files("fiberconv.datasets") / "data" / SUBSET_FILE).open("rb") as fh:
        z = np.load(fh)
        # the file keeps qm9pack's raw units (hartree for the energies); _pad converts
        raw = {k: z[k] for k in PROPERTIES}
        return _pad(z["n_atoms"], z["charges"], z["positions"], z["index"], raw)


def load_qm9(source: str = "subset", max_molecules: int | None = None, seed: int = 0) -> QM9:
    """Read QM9: ``source="subset"`` (the 500 committed molecules) or ``"qm9pack"`` (all 130,831; needs the
    ``qm9`` extra). ``max_molecules``: keep a random subset of that many (``numpy RandomState(seed)``), in
    molecule-number order. Raises ``ValueError`` for an unknown source or a bad count, ``ImportError`` (naming
    the extra) when qm9pack is missing."""
    if source not in ("subset", "qm9pack"):
        raise ValueError(f"load_qm9: source must be 'subset' or 'qm9pack', got {source!r}")
    if max_molecules is not None:
        check_positive_int(max_molecules, "max_molecules", who="load_qm9")
    check_int(seed, "seed", 0, who="load_qm9")
    ds = _read_subset() if source == "subset" else _read_qm9pack()
    if max_molecules is not None and max_molecules < len(ds):
        keep = np.sort(np.random.RandomState(seed).choice(len(ds), max_molecules, replace=False))
        ds = ds.take(torch.as_tensor(keep))
    return ds


def save_subset(ds: QM9, path) -> None:
    """Write ``ds`` as the committed subset's ``.npz`` (ragged atoms, raw qm9pack units: hartree, debye, bohr^3)."""
    m = ds.mask
    np.savez_compressed(path, n_atoms=m.sum(-1).numpy().astype(np.int8), charges=ds.charges[m].numpy().astype(np.int8),
                        positions=ds.positions[m].numpy(), index=ds.index.numpy().astype(np.int32),
                        **{k: (ds.properties[k] / PROPERTIES[k][1]).numpy() for k in PROPERTIES})


def rotate_molecules(positions: torch.Tensor, seed: int) -> torch.Tensor:
    """Each molecule ``positions[i] (A, 3)`` of ``positions (B, A, 3)`` rotated about the origin by its own
    Haar-random rotation."""
    from fiberconv.spaces import SO3
    from fiberconv.validation import check_tensor

    check_tensor(positions, "positions", ("B", "A", 3), who="rotate_molecules")

    R = SO3.sample((len(positions),), seed=seed, dtype=positions.dtype, device=positions.device)
    return positions @ R.transpose(-1, -2)


if __name__ == "__main__":  # the subset's regeneration (see data/README_qm9.md)
    import hashlib

    sub = load_qm9("qm9pack", max_molecules=500, seed=17)
    out = sys.argv[1] if len(sys.argv) > 1 else SUBSET_FILE
    save_subset(sub, out)
    print(f"wrote {out}: {len(sub)} molecules, sha256 of the indices {hashlib.sha256(sub.index.numpy().tobytes()).hexdigest()}")
