"""r3_rotation_errors: small for an R3Conv, falling as the input gets smoother, in float32 as in float64; large
for an unconstrained kernel; and the analytic blobs it samples."""
import torch

from fiberconv.nn import R3Conv, r3_field_type
from fiberconv.testing import gaussian_blobs, r3_rotation_errors

F64 = torch.float64
FT = r3_field_type((0, 1), (1, 1))


class PlainConv(torch.nn.Conv3d):
    """A torch Conv3d on ``FT`` fields, with R3Conv's ``expand_parameters``: its kernel is not steerable."""

    in_type = out_type = FT

    def expand_parameters(self):
        return self.weight, self.bias


def test_small_for_r3conv_and_large_for_a_plain_kernel():
    torch.manual_seed(0)
    conv = R3Conv(FT, FT, 5, padding=2, dtype=F64)
    smooth, rough = r3_rotation_errors(conv, width=2.5, n_rotations=2), r3_rotation_errors(conv, width=1.5, n_rotations=2)
    assert max(smooth) < 0.01 and sum(smooth) < sum(rough), (smooth, rough)
    conv32 = R3Conv(FT, FT, 5, padding=2)
    conv32.load_state_dict({k: v.float() for k, v in conv.state_dict().items()})
    errs32 = r3_rotation_errors(conv32, width=2.5, n_rotations=2)  # the input cast to float32: same errors
    assert max(abs(a - b) for a, b in zip(errs32, smooth)) < 1e-5, (errs32, smooth)
    plain = PlainConv(FT.dim, FT.dim, 5, padding=2, dtype=F64)
    assert min(r3_rotation_errors(plain, width=2.5, n_rotations=2)) > 0.1


def test_gaussian_blobs():
    centres = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, -1.0]], dtype=F64)
    coeffs = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]], dtype=F64)  # (B=1, C=2, K=2)
    points = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, -1.0]], dtype=F64)
    out = gaussian_blobs(points, centres, coeffs, 1.5)
    far = torch.exp(torch.tensor(-6.0 / (2 * 1.5**2), dtype=F64))  # |p_1 - p_0|^2 = 6
    assert torch.allclose(out, torch.tensor([[[1.0, far], [2 * far, 2.0]]], dtype=F64), atol=1e-15)
