"""``torch.optim.SGD`` without importing ``torch._dynamo``: 1.1-1.6 s before the first batch.

torch's optimizers wrap ``add_param_group``, ``zero_grad``, ``state_dict`` and
``load_state_dict`` in ``torch._disable_dynamo``, which keeps ``torch.compile`` from tracing
them and, to avoid an import cycle, imports ``torch._dynamo`` on the first call, caching the
disabled function on the wrapped one as ``__dynamo_disable``. Building the seed's
``torch.optim.SGD`` therefore imported the compiler stack: measured 1.6 s on the 2-core CPU
machine, more than torch's own import, paid by every run before its first batch.

mlp-tui compiles nothing (``torch.compile`` was measured slower, see docs/performance.md), so
the disabled form of each method is the method itself: ``spare_dynamo_import`` puts that in
the cache the wrapper reads, and nothing imports the compiler. The wrapper is recognised by the
cache name it reads, so a torch whose wrappers work otherwise is left alone (and pays the import
as before; torch 2.13.0 and 2.14.1, the CPU build CI pins and the registry's CUDA build, wrap
them alike). Once ``torch._dynamo`` is loaded (someone in the process compiles), nothing is
touched. ``optimizer.step()`` of torch's SGD imports ``torch._dynamo`` itself; the fused
engine's plain SGD never calls it (its update is folded into the products), momentum, weight
decay and the autograd engine do, and pay the import at their first step as before.
"""

from __future__ import annotations

import sys

import torch

CACHE = "__dynamo_disable"  # what torch._disable_dynamo's wrapper looks up on the function


def _disable_dynamo_wrapper(attr: object) -> bool:
    code = getattr(attr, "__code__", None)
    return code is not None and CACHE in code.co_consts and hasattr(attr, "__wrapped__")


def spare_dynamo_import() -> int:
    """Let torch's optimizers run without importing ``torch._dynamo``; the number of methods
    seeded (0 once the compiler is loaded, or where torch's wrappers are not recognised)."""
    if "torch._dynamo" in sys.modules:
        return 0
    seeded = 0
    for cls in (torch.optim.Optimizer, torch.optim.SGD):
        for attr in vars(cls).values():
            if not _disable_dynamo_wrapper(attr):
                continue
            fn = attr.__wrapped__
            if getattr(fn, CACHE, None) is None:
                setattr(fn, CACHE, fn)
                seeded += 1
    return seeded
