"""What the training tests share: a GPT small enough that a step takes a few milliseconds."""

from __future__ import annotations

from llmbook.train import TrainConfig, config_from_preset

TINY: dict[str, object] = dict(
    n_layer=2,
    n_head=2,
    n_embd=16,
    block_size=16,
    batch_size=4,
    max_steps=6,
    warmup_steps=2,
    eval_interval=3,
    eval_batches=2,
    quiet=True,
    device="cpu",
)


def tiny(**overrides: object) -> TrainConfig:
    """The tiny-cpu preset shrunk to TINY, with `overrides` on top."""
    return config_from_preset("tiny-cpu", **{**TINY, **overrides})


def flags(**settings: object) -> list[str]:
    """The same settings as command-line flags: n_layer=2 -> --n-layer 2, quiet=True -> --quiet."""
    out: list[str] = []
    for name, value in settings.items():
        flag = "--" + name.replace("_", "-")
        out += [flag] if value is True else [flag, str(value)]
    return out
