"""Band-limited random fields on HEALPix grids, for continuous-rotation equivariance tests."""
import torch

from fiberconv.fields.tangent import ambient_dim, from_ambient
from fiberconv.spaces import HealpixSHT


def bandlimited_field(field_type, grid, lmax, batch=2, seed=0, dtype=torch.float64):
    """Random ambient tensors of degree <= lmax, read in the section frames: (batch, C, N)."""
    sht = HealpixSHT(grid, lmax)
    gen = torch.Generator().manual_seed(seed)
    coeffs = torch.randn(batch, ambient_dim(field_type), (lmax + 1) ** 2, dtype=torch.float64, generator=gen)
    x = grid.xyz(dtype=torch.float64)
    frames = field_type.bundle.section(x)[..., :, :2].transpose(-1, -2)
    return from_ambient(field_type, sht.synthesis(coeffs), frames).to(dtype)
