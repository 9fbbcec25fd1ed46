"""Turn a user's device name into a torch.device, or a clear error."""

from __future__ import annotations

import torch

from .config import ConfigError, check_device_name


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; asking for an absent device is a ConfigError."""
    name = check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise ConfigError(
                "device: mps was asked for, but this machine has no usable MPS device"
            )
        return torch.device("mps")
    # cuda or cuda:N, the only names left
    if not torch.cuda.is_available():
        raise ConfigError(f"device: {name} was asked for, but no CUDA GPU is available")
    index = int(name.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"device: {name} was asked for, but only {count} CUDA device(s) exist")
    return torch.device("cuda", index)
