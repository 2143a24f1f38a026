"""The sparse network: U-Net, heads and their outputs. Importing this package installs the
spconv shims of `spconv_compat` (CPU backward on CPU-only torch, thread-safe CPU scatter-add)."""

from occuseg_core.nn import spconv_compat

spconv_compat.install()
