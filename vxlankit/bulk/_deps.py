"""Optional dependencies of the bulk path, imported only when a bulk function runs.

numpy and pyarrow come with ``pip install vxlankit[export]``, dask.distributed with
``vxlankit[dask]``.  The rest of vxlankit works without them, so ``import vxlankit`` must never
pull them in; each bulk entry point asks for what it needs and gets a vxlankit error that names
the extra to install instead of an ImportError from deep inside.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from vxlankit.errors import VxlanKitError


class MissingDependencyError(VxlanKitError):
    """An optional package the requested feature needs is not installed."""


_EXTRA = {
    "numpy": "export",
    "pyarrow": "export",
    "distributed": "dask",
}


def require(module: str) -> ModuleType:
    """Import ``module`` (a top-level name or a dotted submodule) or explain what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRA.get(top, "export")
        raise MissingDependencyError(
            f"{top} is required for this feature: pip install 'vxlankit[{extra}]' ({exc})"
        ) from None
