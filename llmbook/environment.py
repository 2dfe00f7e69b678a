"""What a notebook runs on: the versions and the device, printed by every chapter's set-up cell.

Bug reports start from this printout (the repository's issue template asks for it)::

    >>> print(environment_report())  # doctest: +SKIP
    Python      3.11.7
    torch       2.13.0+cpu
    numpy       2.4.6
    matplotlib  3.11.2
    ipywidgets  8.1.9
    llmbook     0.2.0
    device      cpu
"""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("torch", "numpy", "matplotlib", "ipywidgets")
"""The packages whose versions decide how the chapters behave, in the order they are printed
(then llmbook itself, as imported: a source checkout on the path counts, not only an install)."""


def package_version(name: str) -> str:
    """The installed version of the distribution ``name``, or "not installed"."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def llmbook_version() -> str:
    """The version of the llmbook that is imported."""
    from llmbook import __version__

    return __version__


def device_description() -> str:
    """The device `llmbook.train` would pick, with the GPU's name where there is one."""
    from llmbook.train import pick_device  # torch is imported only when asked

    device = pick_device("auto")
    if device.type == "cuda":
        import torch

        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def environment_report() -> str:
    """One line per package, then the device: what a bug report needs to reproduce a run."""
    rows = [("Python", platform.python_version())]
    rows += [(name, package_version(name)) for name in PACKAGES]
    rows.append(("llmbook", llmbook_version()))
    rows.append(("device", device_description()))
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join(f"{name:<{width}}{value}" for name, value in rows)


def versions() -> None:
    """Print `environment_report()`: the last line of every chapter's set-up cell."""
    print(environment_report())
