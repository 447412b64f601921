"""Every public name of the package has a docstring (help() reads like LightFM's)."""

import inspect

import netrex
import netrex.compat
import netrex.compat.implicit


def test_every_public_name_is_documented():
    missing = []
    for module in (netrex, netrex.compat, netrex.compat.implicit):
        for name in module.__all__:
            obj = getattr(module, name)
            if not getattr(obj, "__doc__", None):
                missing.append(f"{module.__name__}.{name}")
            if inspect.isclass(obj) and obj.__module__.startswith("netrex"):
                for attr, value in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    doc = value.fget.__doc__ if isinstance(value, property) else value.__doc__
                    if not doc:
                        missing.append(f"{module.__name__}.{name}.{attr}")
    assert not missing, missing
    assert "Parameters" in netrex.FactorizationModel.__doc__
