"""Attention: scores, masked softmax, one head, many heads, cross-attention.

Built in chapter 6, Self-attention; multi-head in chapter 11, Multi-head attention.

Everything in this module computes one formula,

    attention(q, k, v) = softmax(q k^T / sqrt(d) + mask) v,

first on bare tensors (`attention_weights`, `attention`; for several heads `split_heads`,
`merge_heads` and `multi_head_attention`, which takes the weights as arguments), then inside
modules that own the weight matrices Wq, Wk, Wv (`SelfAttentionHead`, `CausalSelfAttention`,
`CrossAttention`). The modules
have two paths: the fused `F.scaled_dot_product_attention` (fast; flash kernels on CUDA) and the
manual path through `attention` (the one the chapters teach). The tests assert that both paths
agree with each other and with `torch.nn.MultiheadAttention`. `CausalSelfAttention` also takes
rotary embeddings (chapter 15, The Llama block) and a `KVCache` (chapter 16, Generation and scale).

The masks follow torch's conventions, so code moves between the two unchanged:

- `mask`, like SDPA's `attn_mask`: boolean with True = "may attend", or a float tensor that is
  added to the scores (0 to keep, -inf to block). It broadcasts to the scores (..., T, S).
- `key_padding_mask`, like `nn.MultiheadAttention`'s: boolean (B, S) with True = "padding,
  ignore this key".

A query row whose keys are all masked has no softmax; the manual path then returns NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmbook.positional import apply_rope


def causal_mask(T: int, S: int | None = None, device: torch.device | None = None) -> Tensor:
    """Boolean (T, S) mask, True where query t may look at key s, i.e. where s <= t.

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    S = T if S is None else S
    return torch.ones(T, S, dtype=torch.bool, device=device).tril()


def _apply_mask(scores: Tensor, mask: Tensor) -> Tensor:
    """Block masked scores: boolean False -> -inf; a float mask is added."""
    if mask.dtype == torch.bool:
        return scores.masked_fill(~mask, float("-inf"))
    return scores + mask


def _check_qkv(q: Tensor, k: Tensor, v: Tensor | None = None) -> None:
    if q.dim() < 2 or k.dim() < 2:
        raise ValueError(
            f"q and k need shape (..., T, d), got q {tuple(q.shape)} and k {tuple(k.shape)}"
        )
    if q.size(-1) != k.size(-1):
        raise ValueError(
            f"q and k must have the same last dim d, got q {tuple(q.shape)} and k {tuple(k.shape)}"
        )
    if v is not None and (v.dim() < 2 or v.size(-2) != k.size(-2)):
        raise ValueError(
            f"v needs one row per key: k {tuple(k.shape)} and v {tuple(v.shape)} differ in S"
        )


def attention_weights(
    q: Tensor,
    k: Tensor,
    causal: bool = False,
    scale: bool = True,
    mask: Tensor | None = None,
) -> Tensor:
    """softmax(q k^T / sqrt(d) + mask): how much each query looks at each key.

    q is (..., T, d), k is (..., S, d); the result is (..., T, S) and each row sums to 1.
    `causal=True` blocks keys after the query (s > t); `scale=False` skips the 1/sqrt(d).

    >>> q = torch.tensor([[1.0, 0.0]]); k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> attention_weights(q, k, scale=False)  # scores (1, 0) -> softmax
    tensor([[0.7311, 0.2689]])
    """
    _check_qkv(q, k)
    scores = q @ k.transpose(-2, -1)  # (..., T, d) @ (..., d, S) -> (..., T, S)
    if scale:
        scores = scores / math.sqrt(q.size(-1))
    if causal:
        scores = _apply_mask(scores, causal_mask(q.size(-2), k.size(-2), q.device))
    if mask is not None:
        scores = _apply_mask(scores, mask)
    return torch.softmax(scores, dim=-1)


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool = False,
    mask: Tensor | None = None,
    dropout_p: float = 0.0,
) -> Tensor:
    """softmax(q k^T / sqrt(d) + mask) v, the manual twin of `F.scaled_dot_product_attention`.

    q (..., T, d), k (..., S, d), v (..., S, dv) -> (..., T, dv): row t is a weighted average
    of the value rows, with the weights of `attention_weights`. `dropout_p` drops attention
    weights (use 0 at evaluation time, as SDPA expects too).
    """
    _check_qkv(q, k, v)
    weights = attention_weights(q, k, causal=causal, mask=mask)  # (..., T, S)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v  # (..., T, S) @ (..., S, dv) -> (..., T, dv)


def _attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool,
    mask: Tensor | None,
    dropout_p: float,
    fused: bool,
) -> Tensor:
    """Run attention through SDPA (fused=True) or through `attention` (the manual path)."""
    if not fused:
        return attention(q, k, v, causal=causal, mask=mask, dropout_p=dropout_p)
    if causal and mask is not None:  # SDPA takes one or the other: fold the causal part in
        mask = _apply_mask(torch.zeros_like(mask, dtype=q.dtype), mask)
        mask = _apply_mask(mask, causal_mask(q.size(-2), k.size(-2), q.device))
        causal = False
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=causal
    )


def _padding_to_mask(key_padding_mask: Tensor | None, B: int, S: int) -> Tensor | None:
    """(B, S) with True = padding -> (B, 1, 1, S) with True = may attend."""
    if key_padding_mask is None:
        return None
    if key_padding_mask.shape != (B, S) or key_padding_mask.dtype != torch.bool:
        raise ValueError(
            f"key_padding_mask must be a bool tensor of shape (B, S) = {(B, S)}, "
            f"got {key_padding_mask.dtype} {tuple(key_padding_mask.shape)}"
        )
    return ~key_padding_mask[:, None, None, :]  # (B, S) -> (B, 1, 1, S), broadcast over nh, T


def _check_heads(n_embd: int, n_head: int) -> None:
    if n_embd <= 0 or n_head <= 0:
        raise ValueError(
            f"n_embd and n_head must be positive, got n_embd={n_embd}, n_head={n_head}"
        )
    if n_embd % n_head != 0:
        raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head}")


def _check_dropout(dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


def _check_input(x: Tensor, n_embd: int, name: str = "x") -> tuple[int, int, int]:
    if x.dim() != 3 or x.size(-1) != n_embd:
        raise ValueError(f"{name} must have shape (B, T, {n_embd}), got {tuple(x.shape)}")
    B, T, C = x.shape
    return B, T, C


def split_heads(x: Tensor, n_head: int) -> Tensor:
    """(B, T, C) -> (B, nh, T, hs) with hs = C // nh: each head gets its own slice of C.

    Head h holds columns h*hs .. (h+1)*hs - 1 of every token's vector (chapter 11).
    """
    if x.dim() != 3:
        raise ValueError(f"x must have shape (B, T, C), got {tuple(x.shape)}")
    B, T, C = x.shape
    if n_head <= 0 or C % n_head != 0:
        raise ValueError(
            f"cannot split C={C} into n_head={n_head} equal heads: x has shape {tuple(x.shape)}"
        )
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)  # (B, T, nh, hs) -> (B, nh, T, hs)


def merge_heads(y: Tensor) -> Tensor:
    """(B, nh, T, hs) -> (B, T, nh*hs): the heads' outputs side by side (concatenated)."""
    if y.dim() != 4:
        raise ValueError(f"y must have shape (B, nh, T, hs), got {tuple(y.shape)}")
    B, nh, T, hs = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, nh * hs)  # (B, T, nh, hs) -> (B, T, C)


def _check_weight(name: str, w: Tensor | None, shape: tuple[int, ...], why: str) -> None:
    if w is not None and tuple(w.shape) != shape:
        raise ValueError(f"{name} must have shape {shape} ({why}), got {tuple(w.shape)}")


def multi_head_attention(
    x: Tensor,
    w_qkv: Tensor,
    w_out: Tensor,
    n_head: int,
    b_qkv: Tensor | None = None,
    b_out: Tensor | None = None,
    causal: bool = True,
) -> Tensor:
    """Multi-head self-attention as one function of the input and the weights (chapter 11).

    x (B, T, C) -> (B, T, C). `w_qkv` (3C, C) stacks Wq, Wk, Wv, each (C, C) with the heads'
    rows one after another, in the layout of `nn.MultiheadAttention.in_proj_weight` and of
    `CausalSelfAttention.qkv.weight`; `w_out` (C, C) is the output projection. Every head
    attends on its slice of C; the outputs are concatenated and projected.
    """
    if x.dim() != 3:
        raise ValueError(f"x must have shape (B, T, C), got {tuple(x.shape)}")
    C = x.size(-1)
    _check_weight("w_qkv", w_qkv, (3 * C, C), f"Wq, Wk, Wv stacked for C={C}")
    _check_weight("w_out", w_out, (C, C), f"the output projection for C={C}")
    _check_weight("b_qkv", b_qkv, (3 * C,), "one bias per row of w_qkv")
    _check_weight("b_out", b_out, (C,), "one bias per output")
    q, k, v = F.linear(x, w_qkv, b_qkv).split(C, dim=-1)  # (B, T, 3C) -> 3 x (B, T, C)
    q, k, v = (split_heads(t, n_head) for t in (q, k, v))  # each (B, nh, T, hs)
    y = attention(q, k, v, causal=causal)  # (B, nh, T, hs)
    return F.linear(merge_heads(y), w_out, b_out)  # (B, T, C) -> (B, T, C)


class SelfAttentionHead(nn.Module):
    """One attention head with its own three matrices Wq, Wk, Wv (chapter 6).

    (..., T, d_in) -> (..., T, d_head). Output row t is sum_s u_ts v_s with
    u_t = softmax(q_t . k_s / sqrt(d_head)), q = Wq x, k = Wk x, v = Wv x.
    The article's version, where the last token asks the question, is the last row.
    """

    def __init__(self, d_in: int, d_head: int, bias: bool = False) -> None:
        super().__init__()
        if d_in <= 0 or d_head <= 0:
            raise ValueError(f"d_in and d_head must be positive, got d_in={d_in}, d_head={d_head}")
        self.d_in = d_in
        self.Wq = nn.Linear(d_in, d_head, bias=bias)
        self.Wk = nn.Linear(d_in, d_head, bias=bias)
        self.Wv = nn.Linear(d_in, d_head, bias=bias)

    def forward(self, x: Tensor, causal: bool = False) -> Tensor:
        if x.dim() < 2 or x.size(-1) != self.d_in:
            raise ValueError(f"x must have shape (..., T, {self.d_in}), got {tuple(x.shape)}")
        q, k, v = self.Wq(x), self.Wk(x), self.Wv(x)  # each (..., T, d_head)
        return attention(q, k, v, causal=causal)  # (..., T, d_head)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention, all heads at once (chapter 11).

    (B, T, C) -> (B, T, C). One Linear `qkv` holds Wq, Wk, Wv for every head side by side; the
    heads' outputs are concatenated and mixed by `proj`. `dropout` drops attention weights (as in
    `nn.MultiheadAttention`). `causal=False` lets every token see every other (an encoder).

    `fused` picks the path: True -> `F.scaled_dot_product_attention`, False -> the manual
    `attention`. With `n_kv_head < n_head` (grouped-query attention), each key/value head serves
    n_head // n_kv_head query heads; `n_kv_head = n_head` (the default) is plain multi-head.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        dropout: float = 0.0,
        bias: bool = True,
        n_kv_head: int | None = None,
        causal: bool = True,
    ) -> None:
        super().__init__()
        _check_heads(n_embd, n_head)
        _check_dropout(dropout)
        n_kv_head = n_head if n_kv_head is None else n_kv_head
        if n_kv_head <= 0 or n_head % n_kv_head != 0:
            raise ValueError(f"n_head={n_head} must be a multiple of n_kv_head={n_kv_head}")
        self.n_embd, self.n_head, self.n_kv_head = n_embd, n_head, n_kv_head
        self.head_size = n_embd // n_head
        self.kv_dim = n_kv_head * self.head_size
        self.qkv = nn.Linear(n_embd, n_embd + 2 * self.kv_dim, bias=bias)  # [Wq; Wk; Wv]
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.dropout = dropout
        self.causal = causal
        self.fused = True

    def forward(
        self,
        x: Tensor,
        key_padding_mask: Tensor | None = None,
        rope: tuple[Tensor, Tensor] | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        """x (B, T, C) -> (B, T, C).

        `rope` = (cos, sin), each (T, hs/2), the rows of `rope_frequencies` for the positions of
        x: queries and keys are rotated by them before the scores (rotary embeddings, chapter
        15). `cache` holds the keys and values of earlier positions: x is then only the new
        tokens, their keys and values are appended to it, and the queries look at all of them.
        """
        B, T, C = _check_input(x, self.n_embd)
        nh, nkv, hs = self.n_head, self.n_kv_head, self.head_size
        q, k, v = self.qkv(x).split([C, self.kv_dim, self.kv_dim], dim=2)
        q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, T, C) -> (B, nh, T, hs)
        k = k.view(B, T, nkv, hs).transpose(1, 2)  # (B, T, nkv*hs) -> (B, nkv, T, hs)
        v = v.view(B, T, nkv, hs).transpose(1, 2)  # (B, T, nkv*hs) -> (B, nkv, T, hs)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)  # rotate by position, same shapes
        causal, mask = self.causal, _padding_to_mask(key_padding_mask, B, T)  # None/(B,1,1,T)
        if cache is not None:
            if mask is not None:
                raise ValueError("key_padding_mask cannot be combined with a KV cache")
            k, v = cache.append(k, v)  # (B, nkv, S, hs) each, S = earlier + T
            if self.causal and k.size(2) > T:  # new query t sits at position S - T + t
                S = k.size(2)
                causal = False
                if T > 1:  # a single new query sees every key: no mask at all
                    mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(S - T)
        if nkv != nh:  # grouped-query: copy each key/value head for its group of query heads
            k = k.repeat_interleave(nh // nkv, dim=1)  # (B, nkv, S, hs) -> (B, nh, S, hs)
            v = v.repeat_interleave(nh // nkv, dim=1)  # (B, nkv, S, hs) -> (B, nh, S, hs)
        dropout_p = self.dropout if self.training else 0.0
        y = _attend(q, k, v, causal, mask, dropout_p, self.fused)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, nh, T, hs) -> (B, T, C)
        return self.proj(y)


class KVCache:
    """The keys and values one attention layer has computed so far, for fast generation.

    Built in chapter 16, Generation and scale. Generating token t+1 needs the keys and values of
    tokens 0..t; they do not change when a token is appended (the mask stops earlier tokens
    from seeing later ones), so each layer keeps them instead of computing them again.
    Stored before grouped-query copying: (B, n_kv_head, S, hs) each.

    With `max_len`, room for that many positions is allocated once, at the first `append`, and
    each new position is written into it (no copy of the whole cache per token); without it
    the cache grows by concatenation.
    """

    def __init__(self, max_len: int | None = None) -> None:
        if max_len is not None and (not isinstance(max_len, int) or max_len <= 0):
            raise ValueError(f"max_len must be a positive integer or None, got {max_len!r}")
        self.max_len = max_len
        self._k: Tensor | None = None  # (B, nkv, room, hs): room = max_len, or S when growing
        self._v: Tensor | None = None
        self._len = 0

    def __len__(self) -> int:
        return self._len

    @property
    def k(self) -> Tensor | None:
        """The cached keys (B, nkv, S, hs), or None when empty."""
        return None if self._k is None else self._k[:, :, : self._len]

    @property
    def v(self) -> Tensor | None:
        """The cached values (B, nkv, S, hs), or None when empty."""
        return None if self._v is None else self._v[:, :, : self._len]

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new positions' k, v (B, nkv, T, hs); return all of them (B, nkv, S, hs)."""
        if k.shape != v.shape or k.dim() != 4:
            raise ValueError(
                f"k and v must both be (B, nkv, T, hs), got {tuple(k.shape)} and {tuple(v.shape)}"
            )
        if self._k is not None and (
            k.shape[:2] != self._k.shape[:2] or k.size(3) != self._k.size(3)
        ):
            raise ValueError(
                f"new keys {tuple(k.shape)} do not fit the cached {tuple(self._k.shape)}"
            )
        end = self._len + k.size(2)  # S after this append
        if self.max_len is None:
            if self._k is None or self._v is None:
                self._k, self._v = k, v
            else:
                self._k = torch.cat((self._k, k), dim=2)  # (B, nkv, S, hs) + (B, nkv, T, hs)
                self._v = torch.cat((self._v, v), dim=2)  # -> (B, nkv, S + T, hs)
        else:
            if end > self.max_len:
                raise ValueError(
                    f"the cache holds at most max_len={self.max_len} positions, not {end}"
                )
            if self._k is None or self._v is None:
                room = (k.size(0), k.size(1), self.max_len, k.size(3))  # (B, nkv, max_len, hs)
                self._k = k.new_empty(room)
                self._v = v.new_empty(room)
            self._k[:, :, self._len : end] = k  # written in place
            self._v[:, :, self._len : end] = v
        self._len = end
        return self._k[:, :, :end], self._v[:, :, :end]

    def num_values(self) -> int:
        """How many numbers the cache holds: 2 (k and v) x B x nkv x S x hs."""
        k = self.k
        return 0 if k is None else 2 * k.numel()


class CrossAttention(nn.Module):
    """Multi-head attention whose queries come from x and keys/values from `memory`.

    x (B, T, C) and memory (B, S, C) -> (B, T, C). This is how a decoder reads the encoder's
    output in an encoder-decoder; the maths is that of `CausalSelfAttention` without the mask.
    `key_padding_mask` (B, S), True = padding, hides memory positions.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        _check_heads(n_embd, n_head)
        _check_dropout(dropout)
        self.n_embd, self.n_head = n_embd, n_head
        self.head_size = n_embd // n_head
        self.q = nn.Linear(n_embd, n_embd, bias=bias)  # Wq, applied to x
        self.kv = nn.Linear(n_embd, 2 * n_embd, bias=bias)  # [Wk; Wv], applied to memory
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.dropout = dropout
        self.fused = True

    def forward(self, x: Tensor, memory: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        B, T, C = _check_input(x, self.n_embd)
        _check_input(memory, self.n_embd, name="memory")
        if memory.size(0) != B:
            raise ValueError(
                f"x and memory must have the same batch size, "
                f"got x {tuple(x.shape)} and memory {tuple(memory.shape)}"
            )
        S, nh, hs = memory.size(1), self.n_head, self.head_size
        q = self.q(x).view(B, T, nh, hs).transpose(1, 2)  # (B, T, C) -> (B, nh, T, hs)
        k, v = self.kv(memory).split(C, dim=2)  # (B, S, 2C) -> 2 x (B, S, C)
        k = k.view(B, S, nh, hs).transpose(1, 2)  # (B, S, C) -> (B, nh, S, hs)
        v = v.view(B, S, nh, hs).transpose(1, 2)  # (B, S, C) -> (B, nh, S, hs)
        mask = _padding_to_mask(key_padding_mask, B, S)  # None or (B, 1, 1, S)
        dropout_p = self.dropout if self.training else 0.0
        y = _attend(q, k, v, False, mask, dropout_p, self.fused)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, nh, T, hs) -> (B, T, C)
        return self.proj(y)
