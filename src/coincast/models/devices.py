"""Where the LSTM trains: a config's ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N`` or
``mps``) checked against what this machine has, with an error that lists what it has."""

from __future__ import annotations

import re

import torch

from ..errors import CoincastError, worded

#: The device names a config may hold.
DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,3})?)$")
NAMES = "auto, cpu, cuda, cuda:N or mps"


def available_devices() -> list[str]:
    """The devices PyTorch can use here, e.g. ``['cpu']`` or ``['cpu', 'cuda:0']``.

    Examples
    --------
    >>> available_devices()[0]
    'cpu'
    """
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_device(name: str) -> torch.device:
    """The torch device a config's ``device`` names: ``auto`` is the first CUDA GPU when
    there is one, else the CPU.

    Raises
    ------
    CoincastError
        When ``name`` is not a device name, or names a device this machine lacks; the
        message lists the devices it has.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    have = available_devices()
    if not isinstance(name, str) or not DEVICE.match(name):
        raise CoincastError(
            f"device {name!r} is not known; use {NAMES} (this machine has {', '.join(have)})"
        )
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    wanted = "cuda:0" if name == "cuda" else name
    if wanted not in have:
        head = (
            f"device {name!r} is not available here: this machine has {', '.join(have)}"
            f"{_why(name)}; use device auto or one of those"
        )
        raise worded(f"{head} (device='cpu')", f"{head} (--device cpu)")
    return torch.device(name)


def _why(name: str) -> str:
    if name.startswith("cuda") and not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else "no CUDA GPU visible"
        return f" (PyTorch {torch.__version__}: {build})"
    return ""
