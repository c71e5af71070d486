"""Real Clebsch-Gordan coefficients: the closed form against sympy, and the intertwining property
against our Wigner-D and lie_learn's independent real Wigner-D."""
import numpy as np
import pytest
import torch

from fiberconv.spaces.clebsch_gordan import (
    clebsch_gordan_table,
    complex_clebsch_gordan,
    real_clebsch_gordan,
)
from fiberconv.spaces.groups import SO3
from fiberconv.spaces.wigner import wigner_D

TRIPLES = [(l1, l2, J) for l1 in range(4) for l2 in range(4) for J in range(abs(l1 - l2), l1 + l2 + 1)]

def test_complex_cg_matches_sympy():
    S = pytest.importorskip("sympy").S
    clebsch_gordan = pytest.importorskip("sympy.physics.wigner").clebsch_gordan

    for l1, l2, J in [(1, 1, 0), (1, 1, 2), (2, 1, 2), (2, 2, 3), (3, 2, 4)]:
        c = complex_clebsch_gordan(l1, l2, J)
        for m1 in range(-l1, l1 + 1):
            for m2 in range(-l2, l2 + 1):
                M = m1 + m2
                if abs(M) > J:
                    continue
                ref = float(clebsch_gordan(S(l1), S(l2), S(J), S(m1), S(m2), S(M)))
                assert abs(c[M + J, m1 + l1, m2 + l2] - ref) < 1e-13


def test_known_values():
    c = complex_clebsch_gordan(1, 1, 2)
    assert abs(c[2, 1, 1] - np.sqrt(2 / 3)) < 1e-14  # <1 0 1 0 | 2 0>
    c0 = complex_clebsch_gordan(1, 1, 0)
    assert abs(c0[0, 2, 0] - 1 / np.sqrt(3)) < 1e-14  # <1 1 1 -1 | 0 0>


@pytest.mark.parametrize("l1,l2,J", TRIPLES)
def test_real_cg_intertwines_and_is_orthonormal(l1, l2, J):
    R = SO3.sample(6, seed=J + 7 * l1 + 31 * l2, dtype=torch.float64)
    q = real_clebsch_gordan(l1, l2, J).reshape(2 * J + 1, -1)
    kron = torch.einsum("sab,scd->sacbd", wigner_D(l1, R), wigner_D(l2, R)).reshape(6, q.shape[1], q.shape[1])
    assert (q @ kron - wigner_D(J, R) @ q).abs().max() < 1e-12
    assert (q @ q.T - torch.eye(2 * J + 1, dtype=torch.float64)).abs().max() < 1e-13


def test_real_cg_against_lie_learn_wigner():
    wigner_D_matrix = pytest.importorskip("lie_learn.representations.SO3.wigner_d").wigner_D_matrix

    rng = np.random.default_rng(0)
    for l1, l2, J in [(1, 1, 1), (2, 1, 3), (2, 2, 2)]:
        q = real_clebsch_gordan(l1, l2, J).reshape(2 * J + 1, -1).numpy()
        for _ in range(3):
            a, b, g = rng.uniform(0, 2 * np.pi), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
            d = [wigner_D_matrix(l, a, b, g, field="real", normalization="quantum", order="centered") for l in (l1, l2, J)]
            assert np.abs(q @ np.kron(d[0], d[1]) - d[2] @ q).max() < 1e-12


def test_decomposition_is_complete():
    l1, l2 = 2, 1
    q = torch.cat([real_clebsch_gordan(l1, l2, J).reshape(2 * J + 1, -1) for J in range(1, 4)])
    assert (q @ q.T - torch.eye(15, dtype=torch.float64)).abs().max() < 1e-13


def test_table_and_errors():
    t = clebsch_gordan_table(1)
    assert set(t) == {(0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 1, 1), (1, 1, 2)}
    with pytest.raises(ValueError, match="triangle|\\|l1 - l2\\|"):
        real_clebsch_gordan(1, 1, 3)
    with pytest.raises(ValueError):
        real_clebsch_gordan(-1, 1, 1)
    assert real_clebsch_gordan(1, 1, 1, dtype=torch.float32).dtype == torch.float32
