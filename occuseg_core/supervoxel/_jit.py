"""`njit` that imports numba at the first call, not at import.

numba's import and target set-up cost ~0.45 s per process, even with every kernel in its
on-disk cache. The supervoxel graph's kernels are the fallback of a compiled C extension
(`_felzenszwalb.c`), so a process that never falls back should not pay that. At the first call
of any lazy kernel, every lazy kernel of the same module is handed to `numba.njit` and replaces
its module global, so kernels that call each other see numba dispatchers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable


def njit(**options) -> Callable[[Callable], Callable]:
    """`numba.njit(**options)`, applied at the first call of the decorated function."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def lazy(*args):
            return _compile_module_kernels(function)(*args)

        lazy.occuseg_lazy_njit = (function, options)
        return lazy

    return decorate


def _compile_module_kernels(function: Callable) -> Callable:
    import numba

    module_globals = function.__globals__
    for name, value in list(module_globals.items()):
        lazy = getattr(value, "occuseg_lazy_njit", None)
        if lazy is not None:
            original, options = lazy
            module_globals[name] = numba.njit(**options)(original)
    return module_globals[function.__name__]
