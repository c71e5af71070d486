r"""A signature of a layer's types in its ``state_dict``, so that weights load only into a layer of the
same types.

Two layers with different field types can have parameters of the same sizes (``SO2Irrep(1)`` and
``SO2Irrep(2)`` fields are both 2-dimensional; ``SE(2)`` and ``R*xSO(2)`` LieConvs can have kernel MLPs
of the same width): ``load_state_dict`` would report "All keys matched" and the layer would compute
something else. :class:`TypeSignature` stores ``{attribute: description}`` of the attributes named in
``_signature_attrs`` as the module's extra state (``<prefix>_extra_state``) and refuses a mismatch on
loading with a message naming both. The signature is a ``uint8`` tensor (its JSON text), so code that
maps every state_dict entry through tensor methods (``{k: v.float() ...}``, ``.clone()``, ``.to(device)``)
keeps working. A state_dict saved before signatures existed (no such key) loads with a warning: there is
nothing to compare.

Use it as a mixin before ``nn.Module`` (``class R3Conv(TypeSignature, nn.Module)``) with
``_signature_attrs = ("in_type", "out_type")``, or call :func:`type_signature` /
:func:`check_type_signature` from a module's own ``get_extra_state`` / ``set_extra_state``.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Iterable

import torch

__all__ = ["TypeSignature", "type_signature", "check_type_signature", "encode_signature", "decode_signature",
           "SIGNATURE_KEY"]

#: the key of the signature inside the extra state
SIGNATURE_KEY = "fiberconv_types"


def _describe(value) -> str:
    name = getattr(value, "name", None)
    if name is not None and not isinstance(value, (str, int, float)) and hasattr(value, "group"):
        return f"{type(value).__name__}({name})"  # a LieAction: its class and its name
    return str(value)


def type_signature(module, attrs: Iterable[str]) -> dict[str, str]:
    """``{attr: str(getattr(module, attr))}`` for the given attributes (absent or None ones skipped)."""
    return {a: _describe(getattr(module, a)) for a in attrs if getattr(module, a, None) is not None}


def encode_signature(signature: dict[str, str]) -> torch.Tensor:
    """``{SIGNATURE_KEY: signature}`` as JSON in a ``uint8`` tensor (the extra state)."""
    return torch.tensor(list(json.dumps({SIGNATURE_KEY: signature}, sort_keys=True).encode()), dtype=torch.uint8)


def decode_signature(state) -> dict[str, str] | None:
    """The signature in an extra state written by :func:`encode_signature` (any dtype or device), else None."""
    try:
        if isinstance(state, torch.Tensor):
            state = json.loads(bytes(state.detach().cpu().round().to(torch.uint8).tolist()).decode())
        return dict(state[SIGNATURE_KEY])
    except (TypeError, ValueError, KeyError, IndexError, UnicodeDecodeError):
        return None


def check_type_signature(module, attrs: Iterable[str], state, who: str | None = None) -> None:
    """Raise ``ValueError`` unless the signature in the extra state ``state`` (as written by
    :class:`TypeSignature`) equals ``module``'s own."""
    who = who or type(module).__name__
    saved, own = decode_signature(state), type_signature(module, attrs)
    if saved is None:
        raise ValueError(f"{who}: the state_dict's extra state is not a fiberconv type signature: {state!r}")
    if saved != own:
        diff = "; ".join(f"{k}: saved {saved.get(k)!r}, this layer {own.get(k)!r}"
                         for k in sorted(set(saved) | set(own)) if saved.get(k) != own.get(k))
        raise ValueError(f"{who}: the state_dict was saved from a layer of different types ({diff}); parameters "
                         "of the same sizes would compute something else. Load it into a layer built with the "
                         "saved types")


class TypeSignature:
    """Mixin for ``nn.Module`` subclasses: the types named in ``_signature_attrs`` travel with the
    ``state_dict`` and are checked on ``load_state_dict`` (module docstring)."""

    _signature_attrs: tuple[str, ...] = ("in_type", "out_type")

    def get_extra_state(self):
        return encode_signature(type_signature(self, self._signature_attrs))

    def set_extra_state(self, state):
        check_type_signature(self, self._signature_attrs, state)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "_extra_state"
        if key not in state_dict:  # saved before signatures existed (or filtered): nothing to compare
            own = ", ".join(f"{k}={v}" for k, v in type_signature(self, self._signature_attrs).items())
            warnings.warn(f"{type(self).__name__}: the state_dict has no field-type signature ({key!r}: saved before "
                          "fiberconv stored one, or filtered out), so its field types cannot be checked against "
                          f"this layer's ({own})", UserWarning, stacklevel=3)
            state_dict[key] = self.get_extra_state()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
