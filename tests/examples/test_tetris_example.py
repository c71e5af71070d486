"""The 3-D Tetris example (fiberconv.examples.tetris) runs end to end on its quick settings, and its pieces,
mirror map and SE(3) model have the properties the example relies on."""
import pytest
import torch


@pytest.fixture(scope="module")
def tetris():
    from fiberconv.examples.tetris import tetris

    return tetris


def test_tetris_example_smoke(tetris):
    n = torch.get_num_threads()
    try:
        res = tetris.main(["--quick"])
    finally:
        torch.set_num_threads(n)
    assert set(res) == {"SE(3) CNN", "plain CNN"}
    for r in res.values():
        assert all(0.0 <= r[k] <= 1.0 for k in ("unrotated", "cube-rotated", "SO(3)-rotated"))
        assert len(r["so3_per_class"]) == tetris.N_CLASSES
    # the cube-rotated test set is the voxel permutation of the unrotated one: the SE(3) model (exactly
    # invariant under the cube's rotations, mirror head included) gives the same logits, trained or not
    assert res["SE(3) CNN"]["cube_logit_err"] < 1e-4
    assert res["plain CNN"]["cube_logit_err"] > 1e-3


def test_mirror_permutation(tetris):
    """Only the two chiral pieces are mirror images of each other; the rest are their own mirror images."""
    perm = tetris.mirror_permutation()
    names = list(tetris.PIECES)
    assert sorted(perm) == list(range(len(names)))
    swapped = {names[i] for i, j in enumerate(perm) if i != j}
    assert swapped == {"chiral_1", "chiral_2"}


def test_render_rotation_is_voxel_permutation(tetris):
    """Rendering with a cube rotation equals rotating the rendered voxels (the grid is even and centred)."""
    from fiberconv.spaces.voxels import VoxelGrid, cube_rotations

    grid = VoxelGrid(12)
    classes = torch.arange(tetris.N_CLASSES)
    shifts = torch.rand(len(classes), 3, dtype=torch.float64) - 0.5
    eye = torch.eye(3, dtype=torch.float64).expand(len(classes), 3, 3)
    base = tetris.render(grid, classes, eye, shifts, 2.0, 1.2)
    for R in cube_rotations(torch.float64)[[1, 7, 13, 22]]:
        rot = tetris.render(grid, classes, R.expand(len(classes), 3, 3), shifts, 2.0, 1.2)
        expected = grid.rotate_exact(base, tetris.SCALAR, R)
        assert (rot - expected).abs().max() < 1e-5 * base.abs().max()
        assert (rot - base).abs().max() > 1e-2 * base.abs().max()  # the rotation does move the pieces
