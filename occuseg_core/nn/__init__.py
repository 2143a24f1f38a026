"""The sparse network: U-Net, heads and their outputs. Importing this package installs the
spconv shims of `spconv_compat` (CPU backward on CPU-only torch; exact CPU convolution)."""

from occuseg_core.nn import spconv_compat

spconv_compat.install()
