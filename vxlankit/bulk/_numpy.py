"""numpy for the bulk path, or a vxlankit error that says which extra installs it."""

from __future__ import annotations

from vxlankit.bulk._deps import MissingDependencyError

try:
    import numpy as np
    import numpy.typing as npt
except ImportError as _exc:  # pragma: no cover - exercised only without the extra installed
    raise MissingDependencyError(
        f"numpy is required for the bulk path: pip install 'vxlankit[export]' ({_exc})"
    ) from None

__all__ = ["np", "npt"]
