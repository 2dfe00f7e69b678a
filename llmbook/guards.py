"""Checks on what reaches the model's loss and its sampling, so that a bad input is an error
naming it instead of a silent nan or a wrong answer. Used by `llmbook.gpt`.

- `check_targets`: targets must be integers of idx's shape, each a token id or -1 (ignored);
  when every target is -1 the mean loss would be 0 / 0 = nan.
- `scale_by_temperature`: logits / temperature, computed so that a tiny temperature cannot
  overflow to inf (and turn softmax into nan); otherwise exactly logits / temperature.
"""

from __future__ import annotations

import torch
from torch import Tensor

IGNORE_INDEX = -1  # a target equal to this adds nothing to the loss


def check_targets(targets: object, idx: Tensor, vocab_size: int) -> None:
    """TypeError unless `targets` is an integer tensor; ValueError unless it has idx's shape
    (B, T) and, on the CPU (reading values elsewhere would wait for the device), every value is
    a token id 0..vocab_size-1 or -1 and at least one is not -1."""
    if not isinstance(targets, Tensor):
        raise TypeError(f"targets must be a tensor of token ids, got {type(targets).__name__}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(
            f"targets must be an integer tensor of token ids (or -1 to ignore a position), got "
            f"{targets.dtype}; a float target would be cut to an integer without a word"
        )
    if targets.shape != idx.shape:
        raise ValueError(
            f"targets must have the shape of idx {tuple(idx.shape)}, got {tuple(targets.shape)}"
        )
    if targets.device.type != "cpu" or targets.numel() == 0:
        return
    low, high = int(targets.min()), int(targets.max())
    if low < IGNORE_INDEX or high >= vocab_size:
        bad = low if low < IGNORE_INDEX else high
        raise ValueError(
            f"target {bad} is neither a token id 0..{vocab_size - 1} nor {IGNORE_INDEX} (ignored)"
        )
    if high == IGNORE_INDEX:
        raise ValueError(
            f"every target is {IGNORE_INDEX} (ignored), so the mean loss would be 0 / 0 = nan; "
            f"at least one position needs a token id to predict"
        )


def scale_by_temperature(logits: Tensor, temperature: float) -> Tensor:
    """logits / temperature (B, V); where that overflows to inf (a tiny temperature, or fp16
    logits), the row is computed as (logits - its largest) / temperature instead: the same
    softmax, without inf - inf = nan. Rows that do not overflow are exactly logits / t."""
    scaled = logits / temperature
    overflow = (torch.isinf(scaled) & torch.isfinite(logits)).any(dim=-1, keepdim=True)  # (B, 1)
    shifted = (logits - logits.amax(dim=-1, keepdim=True)) / temperature  # (B, V), all <= 0
    return torch.where(overflow, shifted, scaled)
