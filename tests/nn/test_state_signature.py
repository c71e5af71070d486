"""Issue 14: state_dicts carry a signature of the layer's types; a layer of different types with the same
parameter sizes refuses them. FieldBatchNorm on an empty batch keeps its running statistics."""
from __future__ import annotations

import io

import pytest
import torch

from fiberconv.fields import sphere_field_type
from fiberconv.nn import FieldBatchNorm, LieConv, NormNonlinearity, R3Conv, r3_field_type
from fiberconv.nn.signature import TypeSignature, decode_signature
from fiberconv.spaces.lie_groups import SE2Action, SO2Action, TrivialAction


def _roundtrip(sd):
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _sizes(module):
    """Parameter and buffer sizes (the signature, ``_extra_state``, left out)."""
    return {k: v.shape for k, v in module.state_dict().items() if k != "_extra_state"}


def test_r3conv_refuses_other_types_with_same_sizes():
    a = R3Conv(r3_field_type((0, 1), (1, 1)), r3_field_type((0, 1), (1, 1)), 3)
    b = R3Conv(r3_field_type((0, 1), (1, 1)), r3_field_type((0, 1), (1, 1)), 3)
    b.load_state_dict(_roundtrip(a.state_dict()))  # same types: loads
    assert torch.equal(a.weight, b.weight)
    swapped = r3_field_type((1, 1), (0, 1))  # the same irreps in another order: the same parameter sizes
    c = R3Conv(swapped, swapped, 3)
    assert c.weight.shape == a.weight.shape and c.bias.shape == a.bias.shape
    with pytest.raises(ValueError, match="different types .*in_type"):
        c.load_state_dict(a.state_dict())


def test_pointwise_layers_refuse_other_field_types():
    t1 = sphere_field_type((0, 2), (1, 1))
    t2 = sphere_field_type((0, 2), (2, 1))  # same sizes, different field type
    for cls in (FieldBatchNorm, NormNonlinearity):
        a, b = cls(t1), cls(t2)
        assert _sizes(a) == \
               _sizes(b)
        with pytest.raises(ValueError, match=r"different types \(in_type: saved .*SO2Irrep\(1\).*SO2Irrep\(2\)"):
            b.load_state_dict(a.state_dict())
        cls(t1).load_state_dict(a.state_dict())


def test_lieconv_refuses_other_action():
    a = LieConv(SE2Action(), 3, 4)
    sizes = _sizes(a)
    for other in (LieConv(SO2Action(), 3, 4), LieConv(TrivialAction(2), 3, 4)):  # kernel input 4 wide, as SE(2)
        assert _sizes(other) == sizes
        with pytest.raises(ValueError, match=r"action: saved 'SE2Action\(SE\(2\) on R\^2\)'"):
            other.load_state_dict(a.state_dict())
    LieConv(SE2Action(), 3, 4).load_state_dict(_roundtrip(a.state_dict()))


def test_old_state_dict_without_signature_still_loads():
    ft = sphere_field_type((0, 2))
    sd = FieldBatchNorm(ft).state_dict()
    sd.pop("_extra_state")
    with pytest.warns(UserWarning, match="no field-type signature"):
        FieldBatchNorm(ft).load_state_dict(sd)
    assert decode_signature(FieldBatchNorm(ft).state_dict()["_extra_state"]) == {"in_type": str(ft), "out_type": str(ft)}
    # every entry is a tensor: mapping the state_dict through tensor methods keeps the signature
    FieldBatchNorm(ft).load_state_dict({k: v.double().clone() for k, v in FieldBatchNorm(ft).state_dict().items()})
    with pytest.raises(ValueError, match="different types"):
        FieldBatchNorm(sphere_field_type((0, 2), (2, 1))).load_state_dict(
            {k: v.float() for k, v in FieldBatchNorm(sphere_field_type((0, 2), (1, 1))).state_dict().items()})


def test_mixin_for_other_modules():
    class Layer(TypeSignature, torch.nn.Module):
        _signature_attrs = ("in_type",)

        def __init__(self, t):
            super().__init__()
            self.in_type = t
            self.w = torch.nn.Parameter(torch.zeros(2))

    with pytest.raises(ValueError, match="Layer: the state_dict was saved"):
        Layer(sphere_field_type((1, 1))).load_state_dict(Layer(sphere_field_type((0, 2))).state_dict())


def test_batchnorm_empty_batch_keeps_running_stats():
    ft = sphere_field_type((0, 2), (1, 1))
    bn = FieldBatchNorm(ft).train()
    bn(torch.randn(4, ft.dim, 10))
    before = {k: v.clone() for k, v in bn.state_dict().items() if torch.is_tensor(v)}
    out = bn(torch.randn(0, ft.dim, 10))
    assert out.shape == (0, ft.dim, 10)
    out = bn(torch.randn(3, ft.dim, 0))
    for k, v in bn.state_dict().items():
        if torch.is_tensor(v):
            assert torch.equal(v, before[k]) and torch.isfinite(v).all(), k
