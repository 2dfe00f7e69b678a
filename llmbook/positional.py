"""Telling the model where each token is: sinusoidal codes, learned embeddings, rotations.

Built in chapter 12, Positional encoding.

Three ways, all in this module:

- `sinusoidal_encoding`: the fixed code of "Attention Is All You Need", one row per position,
  sin and cos of p / base^(2i/d) side by side. `article_encoding` is the sine-only form the
  article writes down, kept to compare against.
- `LearnedPositionalEmbedding`: one trained vector per position, added to the token vector
  (what GPT-2 and our `GPT` use as `wpe`).
- Rotary embeddings (`rope_frequencies`, `apply_rope`): rotate each pair of coordinates of a
  query or key by an angle proportional to its position, so that q . k depends only on how far
  apart the two tokens are. `Llama3Scaling` is Llama 3.1's way to stretch them to a longer
  context: the slow-turning pairs are slowed further, the fast ones are left alone.

`sinusoidal_shift` is the reason the paper chose sin/cos pairs: moving k positions on is one
fixed rotation, the same at every position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import torch
from torch import Tensor, nn


def _check_positive(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be an integer, got {value!r}")
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")


def _check_base(base: float) -> None:
    if isinstance(base, bool) or not isinstance(base, Real):
        raise TypeError(f"base must be a number, got {base!r}")
    if not math.isfinite(base) or base <= 0:
        raise ValueError(f"base must be a positive finite number, got {base!r}")


def _check_even(name: str, value: int) -> None:
    if value % 2 != 0:
        raise ValueError(f"{name} must be even (sin/cos pairs), got {value}")


def _angles(n_positions: int, dim: int, base: float) -> Tensor:
    """angle[p, i] = p / base^(2i / dim), shape (n_positions, dim // 2)."""
    inv_freq = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (dim/2,)
    positions = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (T, 1)
    return positions * inv_freq  # (T, 1) * (dim/2,) -> (T, dim/2)


def sinusoidal_encoding(n_positions: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The paper's code, (n_positions, d_model): row p is the vector added at position p.

    PE[p, 2i] = sin(p / base^(2i/d_model)),  PE[p, 2i+1] = cos(p / base^(2i/d_model)).
    Positions count from 0, so row 0 is (0, 1, 0, 1, ...).

    >>> sinusoidal_encoding(2, 4)
    tensor([[0.0000, 1.0000, 0.0000, 1.0000],
            [0.8415, 0.5403, 0.0100, 0.9999]])
    """
    _check_positive(n_positions=n_positions, d_model=d_model)
    _check_even("d_model", d_model)
    _check_base(base)
    angle = _angles(n_positions, d_model, base)  # (T, d/2)
    pe = torch.empty(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)  # even columns
    pe[:, 1::2] = torch.cos(angle)  # odd columns
    return pe.float()


def article_encoding(n_positions: int, n_dims: int, context: int, base: float = 10000.0) -> Tensor:
    """The article's form, (n_positions, n_dims): entry [p, i] = s_i(p) = sin(p / 10000^(i/d)).

    As the article writes it, d is the context length (the paper uses the model width) and every
    entry is a sine. Indices are the maths: row p is position p, column i is curve i, both from 0.
    `base` replaces the 10000 (to compare with `sinusoidal_encoding` at other bases).

    >>> round(article_encoding(2, 6, context=12)[1, 5].item(), 4)  # s_5(1) for d = 12
    0.0215
    """
    _check_positive(n_positions=n_positions, n_dims=n_dims, context=context)
    _check_base(base)
    i = torch.arange(n_dims, dtype=torch.float64)  # (n_dims,)
    p = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (T, 1)
    return torch.sin(p / base ** (i / context)).float()  # (T, 1) / (n_dims,) -> (T, n_dims)


def sinusoidal_shift(k: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The (d_model, d_model) matrix M_k with PE[p + k] = M_k @ PE[p] for every position p.

    Block diagonal: pair i, (sin, cos) of angle p w_i, turns by k w_i, where
    w_i = 1 / base^(2i/d_model). M_k does not depend on p; M_k @ M_j = M_(k+j); k may be
    negative (M_-k is the transpose of M_k).

    >>> pe = sinusoidal_encoding(8, 4)
    >>> torch.allclose(pe[:6] @ sinusoidal_shift(2, 4).T, pe[2:], atol=1e-6)  # rows p -> p + 2
    True
    """
    if isinstance(k, bool) or not isinstance(k, Integral):
        raise TypeError(f"k must be an integer, got {k!r}")
    _check_positive(d_model=d_model)
    _check_even("d_model", d_model)
    _check_base(base)
    inv_freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d/2,)
    c, s = torch.cos(k * inv_freq), torch.sin(k * inv_freq)  # (d/2,) each
    blocks = torch.stack((torch.stack((c, s), -1), torch.stack((-s, c), -1)), -2)  # (d/2, 2, 2)
    return torch.block_diag(*blocks).float()  # d/2 blocks of (2, 2) -> (d, d)


class LearnedPositionalEmbedding(nn.Module):
    """One trained vector per position: x (B, T, C) -> x + weight[0..T-1].

    Its table `wpe` is an `nn.Embedding(block_size, n_embd)`, initialised like GPT-2's.
    """

    def __init__(self, block_size: int, n_embd: int) -> None:
        super().__init__()
        _check_positive(block_size=block_size, n_embd=n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        nn.init.normal_(self.wpe.weight, mean=0.0, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        block_size, n_embd = self.wpe.weight.shape
        if x.dim() < 2 or x.size(-1) != n_embd:
            raise ValueError(f"x must have shape (..., T, {n_embd}), got {tuple(x.shape)}")
        if x.size(-2) > block_size:
            raise ValueError(f"sequence length T={x.size(-2)} exceeds block_size={block_size}")
        pos = torch.arange(x.size(-2), device=x.device)  # (T,)
        return x + self.wpe(pos)  # (..., T, C) + (T, C) -> (..., T, C)


@dataclass(frozen=True)
class Llama3Scaling:
    """Llama 3.1's RoPE frequency scaling (Hugging Face's `rope_scaling` of type "llama3").

    Each pair i turns by `inv_freq[i]` radians per position, a full turn every
    wavelength = 2 pi / inv_freq[i] positions. With L = `original_context` (the length the model
    was first trained at):

    - wavelength < L / high_freq_factor (fast pairs, short distances): unchanged;
    - wavelength > L / low_freq_factor (slow pairs, long distances): divided by `factor`, so they
      turn `factor` times slower and `factor` times more positions fit before they wrap around;
    - in between: a blend, (1 - s) inv_freq / factor + s inv_freq with
      s = (L / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor).

    Llama 3.1 uses factor 8, low 1, high 4, L = 8192 to reach 131,072 positions.
    """

    factor: float = 8.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_context: int = 8192

    def __post_init__(self) -> None:
        for name in ("factor", "low_freq_factor", "high_freq_factor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not self.high_freq_factor > self.low_freq_factor:
            raise ValueError(
                f"high_freq_factor must exceed low_freq_factor, "
                f"got {self.high_freq_factor} and {self.low_freq_factor}"
            )
        _check_positive(original_context=self.original_context)

    def apply(self, inv_freq: Tensor) -> Tensor:
        """The scaled frequencies, same shape as `inv_freq` (radians per position)."""
        L = self.original_context
        wavelength = 2 * math.pi / inv_freq
        slowed = inv_freq / self.factor
        s = (L / wavelength - self.low_freq_factor) / (self.high_freq_factor - self.low_freq_factor)
        blended = (1 - s) * slowed + s * inv_freq
        fast = wavelength < L / self.high_freq_factor
        slow = wavelength > L / self.low_freq_factor
        return torch.where(fast, inv_freq, torch.where(slow, slowed, blended))


def rope_inv_freq(head_dim: int, base: float = 10000.0) -> Tensor:
    """inv_freq[i] = 1 / base^(2i / head_dim), the angle pair i turns per position, (hs/2,).

    >>> rope_inv_freq(4, base=100.0)
    tensor([1.0000, 0.1000], dtype=torch.float64)
    """
    _check_positive(head_dim=head_dim)
    _check_even("head_dim", head_dim)
    _check_base(base)
    return base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)


def rope_frequencies(
    head_dim: int,
    max_len: int,
    base: float = 10000.0,
    scaling: Llama3Scaling | None = None,
) -> tuple[Tensor, Tensor]:
    """cos and sin of the rotation angles, each (max_len, head_dim // 2).

    angle[p, i] = p / base^(2i / head_dim): the same angles as `sinusoidal_encoding`; with
    `scaling`, p times Llama 3.1's scaled frequencies instead.
    """
    _check_positive(head_dim=head_dim, max_len=max_len)
    inv_freq = rope_inv_freq(head_dim, base)  # (hs/2,)
    if scaling is not None:
        inv_freq = scaling.apply(inv_freq)
    positions = torch.arange(max_len, dtype=torch.float64)[:, None]  # (max_len, 1)
    angle = positions * inv_freq  # (max_len, 1) * (hs/2,) -> (max_len, hs/2)
    return angle.cos().float(), angle.sin().float()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate each pair (x[2i], x[2i+1]) of the row at position p by angle[p, i].

    x is (..., T, hs), the queries or keys of one or more heads; cos and sin come from
    `rope_frequencies` with max_len >= T (the first T rows are used).
    """
    T, hs = x.shape[-2:]
    if hs % 2 != 0 or cos.shape != sin.shape or cos.dim() != 2 or cos.size(1) != hs // 2:
        raise ValueError(
            f"x (..., T, hs) needs cos and sin of shape (>= T, hs/2); "
            f"got x {tuple(x.shape)}, cos {tuple(cos.shape)}, sin {tuple(sin.shape)}"
        )
    if cos.size(0) < T:
        raise ValueError(f"cos/sin cover {cos.size(0)} positions but x has T={T}")
    cos, sin = cos[:T].to(x.dtype), sin[:T].to(x.dtype)  # (T, hs/2)
    x1, x2 = x[..., 0::2], x[..., 1::2]  # (..., T, hs/2) each: the two halves of every pair
    rotated = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)  # (..., T, hs/2, 2)
    return rotated.flatten(-2)  # (..., T, hs/2, 2) -> (..., T, hs)
