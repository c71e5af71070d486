"""Deprecated names in fiberconv.nn: they still work, and warn with the fiberconv.testing replacement."""
import pytest

import fiberconv.nn
import fiberconv.testing


@pytest.mark.parametrize("old, new", [("equivariance_error", "sphere_equivariance_error"),
                                      ("EquivarianceChecker", "EquivarianceChecker")])
def test_deprecated_alias_warns_and_returns_the_testing_function(old, new):
    with pytest.warns(DeprecationWarning, match=rf"fiberconv\.nn\.{old} is deprecated; use fiberconv\.testing\.{new}"):
        got = getattr(fiberconv.nn, old)
    assert got is getattr(fiberconv.testing, new)
    with pytest.warns(DeprecationWarning, match=f"fiberconv.testing.{new}"):
        exec(f"from fiberconv.nn import {old}", {})
    assert old not in fiberconv.nn.__all__


def test_unknown_names_still_raise():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fiberconv.nn.nope
