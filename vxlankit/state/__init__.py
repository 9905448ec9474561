"""``vxlankit state``: a host's network state saved as iproute2's JSON (``save``, the IO
edge) and read back as typed values (``load``, pure); ``edit`` applies what-if changes to a
loaded state, never to the host.  ``vxlankit trace`` follows packets through it
(docs/trace.md)."""

from vxlankit.state.load import NetworkState, load_state
from vxlankit.state.save import SaveResult, save_state

__all__ = ["NetworkState", "SaveResult", "load_state", "save_state"]
