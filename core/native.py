"""The fused engine's CPU step compiled: two C calls a batch instead of ~30 PyTorch operations.

On the CPU a batch of the seed's step is five matrix products and about 25 small operations;
called from Python, each small one costs a dispatch and an OpenMP region, 60-100 ms an epoch
in all (docs/performance.md, "Where a CPU epoch goes"). ``native_step.c`` does the same step
with torch's own BLAS for the two large products (the ``sgemm_`` that torch's ``addmm`` calls,
found in the loaded ``libtorch_cpu``) and its own loops for the rest. The loops run on torch's
OpenMP threads where torch's runtime is the ``libgomp.so.1`` the compiler links (Linux wheels):
built with ``-fopenmp`` there, on the calling thread anywhere else, since two OpenMP runtimes in
one process fight over the cores.

It is built on first use with the machine's C compiler into the user's cache, keyed by the
source, the compiler, the flags and the CPU (it is built for this CPU's instruction set), and
checked before it is trusted: the pixels' conversion against torch's division for all 256
values, a step against ``FusedStep`` on random data. Without a compiler, without ``sgemm_`` in
torch, on a failed check, or with ``MLP_TUI_NATIVE=0``, the engine runs ``FusedStep`` as
before; ``status()`` says which and why. ``pip install`` compiles nothing.

What it covers: the seed's shape of network (one hidden layer, relu, no dropout), fp32, plain
SGD (no momentum, no weight decay), the output layer stored by class (the trainer's CPU
layout). Anything else runs ``FusedStep``. Its numbers are the fused engine's to float
rounding: the two large products are the same BLAS calls; the small ones, the softmax's
``exp`` and ``log`` and the sums are the loops' and the C library's, not ATen's or MKL's
(tests: a step as close to the float64 step as ``FusedStep``'s, an epoch's loss within 1e-6).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch

from .fused_step import FusedStep

SOURCE = Path(__file__).with_name("native_step.c")
FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-ffp-contract=off", "-fPIC", "-shared")
FALLBACK_FLAGS = tuple(f for f in FLAGS if f != "-march=native")  # a compiler without -march
OPENMP = "-fopenmp"
CLASSES = 10  # native_step.c's K
COMPILE_TIMEOUT_S = 120.0
ENV_SWITCH = "MLP_TUI_NATIVE"  # "0" turns it off
CACHE_ENV = "MLP_TUI_NATIVE_CACHE"  # where the build goes (default: the user cache dir)


@dataclass(frozen=True)
class Library:
    """The compiled step and the BLAS it calls."""

    lib: ctypes.CDLL
    sgemm: ctypes.c_void_p
    path: Path
    threaded: bool  # its loops run on torch's OpenMP threads

    def threads(self) -> int:
        """The threads its loops may use on the calling thread: torch's setting there."""
        return torch.get_num_threads() if self.threaded else 1


_lock = threading.Lock()
_loaded: Library | None = None
_why_not: str | None = None  # set once a load was tried and failed


def status() -> str:
    """One line: whether the fused engine's CPU step is the compiled one, and if not, why."""
    library = load()
    if library is not None:
        if library.threaded:
            return "cpu step: compiled (native_step.c, torch's BLAS and threads)"
        return "cpu step: compiled (native_step.c, torch's BLAS; its own loops on one thread)"
    return f"cpu step: PyTorch operations ({why_not()})"


def why_not() -> str | None:
    """Why ``load`` gave no library (None once it gave one, or before it was tried)."""
    return _why_not


def switched_off() -> bool:
    """The user turned the compiled step off (``MLP_TUI_NATIVE=0``): asked for, it needs no word."""
    return os.environ.get(ENV_SWITCH, "1") == "0"


def load() -> Library | None:
    """The compiled step, built and checked on first use; None (with ``status``'s reason) when
    it can't be had. Thread-safe; tried once a process."""
    global _loaded, _why_not
    with _lock:
        if _loaded is None and _why_not is None:
            try:
                _loaded = _load()
            except NativeUnavailable as exc:
                _why_not = str(exc)
        return _loaded


class NativeUnavailable(Exception):
    """Why the compiled step is not used, in words for the run's start line."""


def _load() -> Library:
    if switched_off():
        raise NativeUnavailable(f"{ENV_SWITCH}=0")
    if sys.byteorder != "little":
        raise NativeUnavailable("not a little-endian machine")
    sgemm = _torch_sgemm()
    path = _build()
    try:
        lib = ctypes.CDLL(str(path))
    except OSError:  # a cached file that is not a library (a copy gone wrong): built again
        path.unlink(missing_ok=True)
        path = _build()
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as exc:
            raise NativeUnavailable(f"the compiled step did not load: {exc}") from None
    lib.mlp_forward.restype = ctypes.c_int
    lib.mlp_logits.restype = ctypes.c_int
    lib.mlp_update.restype = None
    lib.mlp_to_unit.restype = None
    lib.mlp_openmp.restype = ctypes.c_int
    lib.mlp_update_scratch.restype = ctypes.c_int64
    # Threaded only on torch's own runtime: a second one mapped now would compete for the cores.
    threaded = bool(lib.mlp_openmp()) and len(_openmp_runtimes()) == 1
    library = Library(lib, sgemm, path, threaded)
    _check(library)
    return library


def _torch_sgemm() -> ctypes.c_void_p:
    """The fp32 product torch's CPU kernels call (MKL's or OpenBLAS's), from the loaded library."""
    lib_dir = Path(torch.__file__).parent / "lib"
    for name in ("libtorch_cpu.so", "libtorch_cpu.dylib"):
        if (lib_dir / name).exists():
            try:
                handle = ctypes.CDLL(str(lib_dir / name))
                return ctypes.cast(handle.sgemm_, ctypes.c_void_p)
            except (OSError, AttributeError):
                break
    raise NativeUnavailable("this torch does not export its BLAS's sgemm_")


def _openmp_runtimes() -> set[str]:
    """The OpenMP runtimes mapped into this process (Linux; empty where that can't be read)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return set()
    names = ("libgomp", "libiomp", "libomp")
    return {
        line.split(maxsplit=5)[-1]
        for line in maps.splitlines()
        if line.rsplit("/", 1)[-1].startswith(names)
    }


def _openmp_flags() -> tuple[str, ...]:
    """``-fopenmp`` where torch's OpenMP runtime is the one the build will link: the GNU one,
    loaded under the name the compiler's ``libgomp`` answers to, so it is not loaded twice."""
    runtimes = _openmp_runtimes()
    if len(runtimes) == 1 and Path(next(iter(runtimes))).name == "libgomp.so.1":
        return (OPENMP,)
    return ()


def _compiler() -> str:
    for name in (os.environ.get("CC", ""), "cc", "gcc", "clang"):
        if name and (found := shutil.which(name)):
            return found
    raise NativeUnavailable("no C compiler found (set CC, or install gcc)")


def _compiler_version(cc: str) -> str:
    try:
        done = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise NativeUnavailable(f"the C compiler {cc} did not run: {exc}") from None
    return done.stdout.splitlines()[0] if done.stdout else cc


def _cpu() -> str:
    """What the -march=native build depends on: the CPU's model and its instruction sets."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    keep = [line for line in text.splitlines() if line.startswith(("model name", "flags"))]
    return "\n".join(sorted(set(keep)))


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get(CACHE_ENV) or user_cache_dir("mlp-tui")) / "native"


def _build() -> Path:
    """The library for this source, compiler and CPU: from the cache, or compiled into it."""
    cc = _compiler()
    source = SOURCE.read_bytes()
    openmp = _openmp_flags()
    key = hashlib.sha256(
        b"\0".join(
            [
                source,
                _compiler_version(cc).encode(),
                " ".join(FLAGS + openmp).encode(),
                _cpu().encode(),
                platform.machine().encode(),
            ]
        )
    ).hexdigest()[:16]
    folder = cache_dir()
    path = folder / f"mlp_step_{key}.so"
    if path.exists():
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NativeUnavailable(f"the cache {folder} can't be made: {exc.strerror}") from None
    errors = []
    # Without OpenMP when the compiler has none; without -march when it knows no such flag.
    for flags in dict.fromkeys((FLAGS + openmp, FLAGS, FALLBACK_FLAGS)):
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".so.tmp")
        except OSError as exc:
            raise NativeUnavailable(
                f"the cache {folder} can't be written: {exc.strerror}"
            ) from None
        os.close(fd)
        try:
            done = subprocess.run(
                [cc, *flags, "-o", tmp, str(SOURCE), "-lm"],
                capture_output=True,
                text=True,
                timeout=COMPILE_TIMEOUT_S,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            os.unlink(tmp)
            raise NativeUnavailable(f"compiling the CPU step failed: {exc}") from None
        if done.returncode == 0:
            os.replace(tmp, path)  # another process building the same file is harmless
            return path
        os.unlink(tmp)
        errors.append(done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"])
    raise NativeUnavailable(f"compiling the CPU step failed: {errors[-1][0]}")


def _check(library: Library) -> None:
    """Trust the build only once it converts pixels as torch does and steps as FusedStep."""
    q = torch.arange(256, dtype=torch.uint8)
    x = torch.empty(256)
    library.lib.mlp_to_unit(_ptr(q), _ptr(x), ctypes.c_int64(256))
    if not torch.equal(x, torch.div(q, 255)):
        raise NativeUnavailable("the compiled step's pixel conversion differs from torch's")
    from .model import ScratchMLP

    gen = torch.Generator().manual_seed(0)
    # Three blocks of rows and a width that is no multiple of eight: every path of the loops.
    rows, width = 150, 27
    pixels = torch.randint(0, 256, (rows, 784), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (rows,), generator=gen)
    nets = [
        ScratchMLP(width, 0.1, torch.Generator().manual_seed(0), w2_by_class=True) for _ in range(2)
    ]
    fused, native = FusedStep(nets[0]), NativeStep(nets[1], library)
    losses, predicted = fused.forward(torch.div(pixels, 255), labels)
    loss_sum, correct = native.forward(pixels, labels)
    # The seed's SGD as FusedStep reads it: building a torch.optim.SGD here would import the
    # compiler stack (no_dynamo.py), a second on every launch.
    plain = SimpleNamespace(
        param_groups=[{"lr": 0.5, "momentum": 0, "weight_decay": 0, "maximize": False}]
    )
    fused.update(plain)  # type: ignore[arg-type]
    native.update(0.5)
    same = abs(loss_sum - float(losses.sum())) <= 1e-3 and correct == float(
        (predicted == labels).sum()
    )
    with torch.no_grad():
        same = same and all(
            torch.allclose(a, b, rtol=1e-5, atol=1e-6)
            for a, b in zip(nets[0].params, nets[1].params)
        )
    if not same:
        raise NativeUnavailable("the compiled step's check against FusedStep failed")


def _ptr(tensor: torch.Tensor) -> ctypes.c_void_p:
    return ctypes.c_void_p(tensor.data_ptr())


def applies(net, step_fn) -> bool:
    """Whether ``step_fn`` is the fp32 fused step of a network the compiled step covers."""
    return (
        type(step_fn) is FusedStep
        and net.activation == "relu"
        and len(net.hidden_layers) == 1
        and not any(net.dropout)
        and net.w2_by_class
        and net.output[0].shape[1] == CLASSES
        and all(p.device.type == "cpu" and p.dtype == torch.float32 for p in net.params)
    )


class NativeStep:
    """The compiled forward and plain-SGD update for ``net``, a batch at a time.

    ``forward`` takes the batch's uint8 pixels (rows of ``d``) and int64 labels and returns the
    loss sum and the correct count; ``update(lr)`` then applies the batch's update. The
    activations between the two live in buffers kept for the largest batch seen."""

    def __init__(self, net, library: Library) -> None:
        self.net, self.library = net, library
        self._capacity = self._batch = 0
        self._shape = (0, 0, 0)
        self._out = (ctypes.c_double * 2)()

    def _buffers(self, rows: int, d: int, h: int, k: int) -> None:
        if rows > self._capacity or self._shape != (d, h, k):
            self._capacity, self._shape = rows, (d, h, k)
            self.X = torch.empty(rows * d)
            self.Z = torch.empty(rows * h)
            self.H = torch.empty(rows * h)
            self.L = torch.empty(rows * k)
            self.G = torch.empty(rows * k)
            self.dA = torch.empty(rows * h)
            self.scratch = torch.empty(2 * rows)
            self.arg = torch.empty(rows, dtype=torch.int32)
            # the blocks' sums: most for the largest batch (no more than a fixed count of blocks)
            size = self.library.lib.mlp_update_scratch(ctypes.c_int64(rows), ctypes.c_int64(h))
            self.part = torch.empty(size)

    def _params(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        ((W1, b1),) = self.net.hidden_layers
        W2, b2 = self.net.output
        W2 = W2.t()  # stored by class: k x h, contiguous
        for p in (W1, b1, W2, b2):
            if not p.is_contiguous():
                raise RuntimeError("the compiled step needs contiguous parameters")
        return W1, b1, W2, b2

    def forward(self, pixels: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        W1, b1, W2, b2 = self._params()
        rows, d = pixels.shape
        h, k = W1.shape[1], W2.shape[0]
        if (
            pixels.dtype != torch.uint8
            or y.dtype != torch.int64
            or d != W1.shape[0]
            or y.shape != (rows,)
            or not (pixels.is_contiguous() and y.is_contiguous())
        ):
            raise ValueError("the compiled step takes contiguous uint8 rows and int64 labels")
        self._buffers(rows, d, h, k)
        self._batch = rows
        p = _ptr
        code = self.library.lib.mlp_forward(
            self.library.sgemm, ctypes.c_int(self.library.threads()), p(pixels), p(y),
            ctypes.c_int64(rows), ctypes.c_int64(d), ctypes.c_int64(h), ctypes.c_int64(k),
            p(W1), p(b1), p(W2), p(b2), p(self.X), p(self.Z), p(self.H), p(self.L), p(self.G),
            p(self.scratch), p(self.arg), self._out,
        )  # fmt: skip
        if code == 1:
            raise ValueError(f"a label outside 0..{k - 1}")
        if code:
            raise ValueError(f"the compiled step covers {CLASSES} classes, not {k}")
        return self._out[0], self._out[1]

    def logits(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The hidden activations (rows x h, a view of a buffer: valid until the next call) and
        the logits (rows x k) of a chunk of uint8 pixels: the evaluation's forward, between
        batches (it reuses the step's buffers; a ``forward`` and its ``update`` come as one)."""
        W1, b1, W2, b2 = self._params()
        rows, d = pixels.shape
        h, k = W1.shape[1], W2.shape[0]
        if pixels.dtype != torch.uint8 or d != W1.shape[0] or not pixels.is_contiguous():
            raise ValueError("the compiled step takes contiguous uint8 rows")
        self._buffers(rows, d, h, k)
        p = _ptr
        code = self.library.lib.mlp_logits(
            self.library.sgemm, ctypes.c_int(self.library.threads()), p(pixels),
            ctypes.c_int64(rows), ctypes.c_int64(d), ctypes.c_int64(h), ctypes.c_int64(k),
            p(W1), p(b1), p(W2), p(b2), p(self.X), p(self.Z), p(self.H), p(self.L),
        )  # fmt: skip
        if code:
            raise ValueError(f"the compiled step covers {CLASSES} classes, not {k}")
        return self.H[: rows * h].view(rows, h), self.L[: k * rows].view(k, rows).t().clone()

    def update(self, lr: float) -> None:
        W1, b1, W2, b2 = self._params()
        d, h = W1.shape
        p = _ptr
        self.library.lib.mlp_update(
            self.library.sgemm, ctypes.c_int(self.library.threads()),
            ctypes.c_int64(self._batch), ctypes.c_int64(d), ctypes.c_int64(h),
            ctypes.c_float(lr), p(W1), p(b1), p(W2), p(b2), p(self.X), p(self.Z), p(self.H),
            p(self.G), p(self.dA), p(self.part),
        )  # fmt: skip
