"""The set-up cell's printout: every version a bug report needs, and the device."""

from __future__ import annotations

import platform
from importlib import metadata

import llmbook
from llmbook.environment import PACKAGES, environment_report, package_version


def test_report_names_python_each_package_and_the_device():
    lines = environment_report().splitlines()
    names = [line.split()[0] for line in lines]
    assert names == ["Python", "torch", "numpy", "matplotlib", "ipywidgets", "llmbook", "device"]
    values = dict(line.split(maxsplit=1) for line in lines)
    assert values["Python"] == platform.python_version()
    for name in PACKAGES:
        assert values[name] == metadata.version(name)
    assert values["llmbook"] == llmbook.__version__


def test_report_on_this_cpu_machine_names_the_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert environment_report().splitlines()[-1].split() == ["device", "cpu"]


def test_a_missing_package_is_reported_not_raised():
    assert package_version("no-such-package-llmbook-test") == "not installed"


def test_versions_prints_the_report(capsys):
    llmbook.versions()
    assert capsys.readouterr().out == environment_report() + "\n"
