"""Modules imported on first use, so that ``dialgate --help`` and light commands do not pay for
SQLAlchemy, the numbering data or the web stack they never touch.

Use with a ``TYPE_CHECKING`` import beside it, so type checkers still see the real module::

    if TYPE_CHECKING:
        from dialgate.services import rates
    else:
        rates = lazy_import("dialgate.services.rates")
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_import(name: str) -> ModuleType:
    """``name``'s module, executed when one of its attributes is first read.

    For Dialgate's own modules only: a third-party package whose submodules import each other
    while it loads (SQLAlchemy) breaks when its top module is lazy."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
