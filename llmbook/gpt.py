"""The GPT: token + position embeddings, a stack of transformer blocks, a final norm and a head.

Built in chapter 13, The GPT architecture.

The layout follows GPT-2 (and nanoGPT, which this file imitates):

    idx (B, T) -> wte(idx) + wpe(0..T-1) -> dropout -> Block x n_layer -> ln_f -> lm_head
               -> logits (B, T, vocab_size)

where each Block is two residual lines with the norm first ("pre-norm"):

    x = x + drop(attn(ln_1(x)))
    x = x + mlp(ln_2(x))

The output layer shares its matrix with the token embedding (weight tying), so a token's
embedding is also the direction its score is read along.

Chapter 15, The Llama block, adds the pieces that turn this GPT-2-style model into a
Llama-style one, each a switch of `GPTConfig` whose default keeps GPT-2's choice:

    norm="rmsnorm"      RMSNorm instead of LayerNorm
    mlp="swiglu"        a gated SiLU MLP (hidden size by Llama's rule unless mlp_hidden is set)
    position="rope"     rotary embeddings inside attention instead of the learned wpe table
    rope_scale=8        Llama 3.1's frequency scaling of RoPE (with the other rope_* settings)
    n_kv_head=k         grouped-query attention: k key/value heads shared by n_head queries
    bias=False          no biases;  tie_embeddings=False: a separate output matrix

`mlp="gelu_tanh"` is GPT-2's own GELU (the tanh approximation), which its released weights
expect. Generation gets a KV cache (`generate(..., use_cache=True)`) and nucleus sampling (`top_p`).
`param_count`/`param_breakdown` count every variant in closed form, without building a model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmbook.attention import CausalSelfAttention, KVCache
from llmbook.guards import check_targets, scale_by_temperature
from llmbook.norm import LayerNorm, RMSNorm
from llmbook.positional import Llama3Scaling, rope_frequencies

NORMS = ("layernorm", "rmsnorm")
MLPS = ("gelu", "gelu_tanh", "swiglu")
POSITIONS = ("learned", "rope")


def llama_mlp_hidden(n_embd: int, multiple_of: int = 256, multiplier: float | None = None) -> int:
    """Llama's SwiGLU hidden size: 2/3 of 4C (same weights as a 4C GELU MLP), scaled, rounded up.

    hidden = int(2 * 4C / 3); times `multiplier` if given; then up to a multiple of `multiple_of`.
    Meta's Llama 3 8B settings (dim 4096, multiple_of 1024, ffn_dim_multiplier 1.3) give 14336:

    >>> llama_mlp_hidden(4096, multiple_of=1024, multiplier=1.3), llama_mlp_hidden(384)
    (14336, 1024)
    """
    if n_embd <= 0 or multiple_of <= 0:
        raise ValueError(f"n_embd and multiple_of must be positive, got {n_embd}, {multiple_of}")
    hidden = int(2 * 4 * n_embd / 3)
    if multiplier is not None:
        hidden = int(multiplier * hidden)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


def _check_positive_int(name: str, value: object, or_else: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive integer{or_else}, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer{or_else}, got {value!r}")


def _check_real(name: str, value: object, allowed: str, ok: Callable[[float], bool]) -> None:
    """TypeError unless `value` is a real number; ValueError unless finite and ok(value)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a finite number {allowed}, got {value!r}")
    if not math.isfinite(value) or not ok(value):
        raise ValueError(f"{name} must be a finite number {allowed}, got {value!r}")


@dataclass
class GPTConfig:
    vocab_size: int = 65  # the characters of Tiny Shakespeare
    block_size: int = 256  # context length T: the most tokens the model sees at once
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384  # C, the width of every token's vector; n_embd / n_head = head size
    dropout: float = 0.0
    bias: bool = True  # biases in the Linear layers and LayerNorms
    # The modern variants of chapter 15; every default is GPT-2's choice.
    norm: str = "layernorm"  # or "rmsnorm" (Llama)
    mlp: str = "gelu"  # or "swiglu" (Llama), or "gelu_tanh" (GPT-2's released weights)
    mlp_hidden: int | None = None  # None: 4C for gelu, llama_mlp_hidden(C) for swiglu
    position: str = "learned"  # or "rope": rotary embeddings, no position table
    rope_base: float = 10000.0  # RoPE's base (Llama 3.1: 500,000)
    rope_scale: float = 1.0  # Llama 3.1's RoPE frequency scaling factor (8); 1: no scaling
    rope_low_freq_factor: float = 1.0  # pairs slower than original_context / this: scaled
    rope_high_freq_factor: float = 4.0  # pairs faster than original_context / this: kept
    rope_original_context: int = 8192  # the context the scaled model was first trained at
    n_kv_head: int | None = None  # None: n_head (multi-head); fewer: grouped-query attention
    tie_embeddings: bool = True  # the output layer reuses the token embedding (Llama 3.1 8B: no)
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError (TypeError for a wrong type) naming the bad setting and what is
        allowed."""
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            _check_positive_int(name, getattr(self, name))
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")
        _check_real("dropout", self.dropout, "in [0, 1)", lambda v: 0.0 <= v < 1.0)
        for name in ("bias", "tie_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name, allowed in (("norm", NORMS), ("mlp", MLPS), ("position", POSITIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.mlp_hidden is not None:
            _check_positive_int("mlp_hidden", self.mlp_hidden, " or None")
        kv = self.n_kv_head
        if kv is not None:
            _check_positive_int("n_kv_head", kv, " or None")
            if self.n_head % kv != 0:
                raise ValueError(f"n_head={self.n_head} must be a multiple of n_kv_head={kv!r}")
        if self.position == "rope" and self.head_size % 2 != 0:
            raise ValueError(f"rope needs an even head size, got n_embd/n_head={self.head_size}")
        _check_real("rope_base", self.rope_base, "> 0", lambda v: v > 0)
        _check_real("norm_eps", self.norm_eps, ">= 0", lambda v: v >= 0)
        for name in ("rope_scale", "rope_low_freq_factor", "rope_high_freq_factor"):
            _check_real(name, getattr(self, name), "> 0", lambda v: v > 0)
        self.rope_scaling  # noqa: B018  (checks the four rope_* scaling settings)

    @property
    def rope_scaling(self) -> Llama3Scaling | None:
        """Llama 3.1's frequency scaling from the rope_* settings; None when rope_scale is 1."""
        scaling = Llama3Scaling(
            self.rope_scale,
            self.rope_low_freq_factor,
            self.rope_high_freq_factor,
            self.rope_original_context,
        )
        return None if self.rope_scale == 1 else scaling

    @property
    def head_size(self) -> int:
        """hs = C / nh, the width of one head's queries, keys and values."""
        return self.n_embd // self.n_head

    @property
    def kv_heads(self) -> int:
        """The number of key/value heads (n_head unless grouped-query attention)."""
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def hidden_size(self) -> int:
        """The MLP's hidden width: mlp_hidden, else 4C (gelu) or llama_mlp_hidden(C) (swiglu)."""
        if self.mlp_hidden is not None:
            return self.mlp_hidden
        return llama_mlp_hidden(self.n_embd) if self.mlp == "swiglu" else 4 * self.n_embd


def make_norm(config: GPTConfig) -> nn.Module:
    """LayerNorm (scale and shift; the shift only with bias) or RMSNorm (scale only)."""
    if config.norm == "rmsnorm":
        return RMSNorm(config.n_embd, eps=config.norm_eps)
    return LayerNorm(config.n_embd, bias=config.bias, eps=config.norm_eps)


class MLP(nn.Module):
    """The feed-forward part of a block: (B, T, C) -> (B, T, H) -> GELU -> (B, T, C).

    H = config.hidden_size (4C unless mlp_hidden says otherwise). It works on each position
    separately; only attention mixes positions.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.fc = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh" if config.mlp == "gelu_tanh" else "none")
        self.proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.proj(self.gelu(self.fc(x))))


class SwiGLU(nn.Module):
    """Llama's feed-forward part (chapter 15): proj(silu(gate(x)) * fc(x)).

    (B, T, C) -> two (B, T, H) -> elementwise product -> (B, T, C), where silu(z) = z sigmoid(z).
    One half of the hidden layer decides, per unit, how much of the other half passes.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.gate = nn.Linear(config.n_embd, hidden, bias=config.bias)  # Meta's w1
        self.fc = nn.Linear(config.n_embd, hidden, bias=config.bias)  # w3, the "up" half
        self.proj = nn.Linear(hidden, config.n_embd, bias=config.bias)  # w2, "down"
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.proj(F.silu(self.gate(x)) * self.fc(x)))  # (B, T, H) -> (B, T, C)


def make_mlp(config: GPTConfig) -> nn.Module:
    """The MLP that `config.mlp` names."""
    return SwiGLU(config) if config.mlp == "swiglu" else MLP(config)


class Block(nn.Module):
    """One transformer block: attention then MLP, each with a norm before and a residual around."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = CausalSelfAttention(
            config.n_embd,
            config.n_head,
            dropout=config.dropout,
            bias=config.bias,
            n_kv_head=config.kv_heads,
        )
        self.drop = nn.Dropout(config.dropout)
        self.ln_2 = make_norm(config)
        self.mlp = make_mlp(config)

    def forward(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        x = x + self.drop(self.attn(self.ln_1(x), rope=rope, cache=cache))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    """A decoder-only transformer language model.

    >>> model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8))
    >>> logits, loss = model(torch.zeros(2, 5, dtype=torch.long))
    >>> tuple(logits.shape), loss is None
    ((2, 5, 10), True)
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embedding (V, C)
        if config.position == "learned":
            self.wpe = nn.Embedding(config.block_size, config.n_embd)  # position embedding (T, C)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = make_norm(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.wte.weight  # weight tying: one (V, C) matrix, used twice
        if config.position == "rope":  # tables, not parameters: (block_size, hs/2) each
            cos, sin = rope_frequencies(
                config.head_size, config.block_size, config.rope_base, config.rope_scaling
            )
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2: shrink the layers that write into the residual stream, which n_layer blocks
        # add to twice each, so that its variance does not grow with depth.
        residual_std = 0.02 / math.sqrt(2 * config.n_layer)
        for name, p in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.proj.weight")):
                nn.init.normal_(p, mean=0.0, std=residual_std)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def new_cache(self, max_len: int | None = None) -> list[KVCache]:
        """An empty KV cache, one `KVCache` per block, for `forward(..., cache=...)`.

        With `max_len` each layer's room for max_len positions is allocated once (at the first
        call) and filled in place; without it the cache grows token by token.
        """
        return [KVCache(max_len) for _ in self.h]

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        cache: list[KVCache] | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Logits (B, T, vocab_size) for every position, and the mean cross-entropy if targets.

        Targets equal to -1 are ignored in the loss. With `cache` (from `new_cache`), idx holds
        only the tokens after the cached ones; they get positions len(cache) .. len(cache)+T-1.
        """
        logits = self.lm_head(self._final_hidden(idx, cache))  # (B, T, C) -> (B, T, V)
        B, T = idx.shape
        if targets is None:
            return logits, None
        check_targets(targets, idx, self.config.vocab_size)
        loss = F.cross_entropy(
            logits.view(B * T, -1),  # (B, T, V) -> (B*T, V)
            targets.reshape(B * T).long(),  # (B, T) -> (B*T,)
            ignore_index=-1,
        )
        return logits, loss

    def _final_hidden(self, idx: Tensor, cache: list[KVCache] | None) -> Tensor:
        """Every position's vector after the last block and ln_f, (B, T, C): the head's input."""
        start = self._check_cache(cache)
        _, T = self._check_idx(idx, start)
        x = self.wte(idx)  # (B, T) -> (B, T, C)
        rope = None
        if self.config.position == "learned":
            pos = torch.arange(start, start + T, device=idx.device)  # (T,)
            x = x + self.wpe(pos)  # (B, T, C) + (T, C) -> (B, T, C)
        else:
            rope = (self.rope_cos[start : start + T], self.rope_sin[start : start + T])  # (T, hs/2)
        x = self.drop(x)
        for i, block in enumerate(self.h):
            x = block(x, rope=rope, cache=None if cache is None else cache[i])  # (B, T, C)
        return self.ln_f(x)

    def next_token_logits(self, idx: Tensor, cache: list[KVCache] | None = None) -> Tensor:
        """The last position's logits only, (B, V): all that generation needs.

        The head (C x V multiply-adds per position, V = 50,257 for GPT-2) runs once instead of T
        times; with `cache`, as in `forward`, idx holds only the tokens after the cached ones.
        """
        return self.lm_head(self._final_hidden(idx, cache)[:, -1, :])  # (B, C) -> (B, V)

    def _check_cache(self, cache: list[KVCache] | None) -> int:
        """How many positions the cache already holds (0 without one)."""
        if cache is None:
            return 0
        if len(cache) != len(self.h) or not all(isinstance(c, KVCache) for c in cache):
            raise ValueError(
                f"cache must be a list of {len(self.h)} KVCache (use model.new_cache())"
            )
        return len(cache[0])

    def _check_idx(self, idx: Tensor, start: int = 0) -> tuple[int, int]:
        check_idx_shape(idx)
        if idx.device.type == "cpu":  # elsewhere reading the ids would wait for the device
            check_token_ids(idx, self.config.vocab_size)
        block_size = self.config.block_size
        if idx.size(1) > block_size:
            raise ValueError(f"sequence length T={idx.size(1)} exceeds block_size={block_size}")
        if start + idx.size(1) > block_size:
            raise ValueError(
                f"{start} cached + T={idx.size(1)} new positions exceed block_size={block_size}"
            )
        return idx.size(0), idx.size(1)

    def num_params(self, non_embedding: bool = False) -> int:
        """Number of parameters (a tied matrix counted once).

        `non_embedding=True` leaves out the position embedding, as nanoGPT reports it; the token
        embedding stays in because it is also the output layer.
        """
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and self.config.position == "learned":
            return n - self.wpe.weight.numel()
        return n

    @torch.no_grad()
    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        top_p: float | None = None,
        use_cache: bool = False,
    ) -> Tensor:
        """Append `max_new_tokens` sampled tokens to idx (B, T); returns (B, T + max_new_tokens).

        Each step looks at the last block_size tokens, divides the last position's logits by
        `temperature` (< 1 sharper, > 1 flatter), keeps the `top_k` best and/or the smallest set
        of tokens whose probability adds up to `top_p` if given, and samples from the softmax
        (`sample_next`). Call `model.eval()` first so that dropout is off.

        `use_cache=True` keeps every layer's keys and values (a `KVCache`) so that each step
        feeds only the newest token: the same tokens, far less work. Once the sequence is
        longer than block_size the window slides, every position changes, and the cache is
        rebuilt from the window at each step.
        """
        _check_sampling(temperature, top_k, top_p, self.config.vocab_size)
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
            raise TypeError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        check_idx_shape(idx)
        check_token_ids(idx, self.config.vocab_size)  # once, on any device
        block_size, cache = self.config.block_size, None
        B, T = idx.shape[0], idx.shape[-1]
        out = idx.new_empty(B, T + max_new_tokens)  # filled as tokens come
        out[:, :T] = idx
        room = min(block_size, T + max_new_tokens)  # the most positions the cache will hold
        for t in range(T, T + max_new_tokens):
            if cache is not None and len(cache[0]) < block_size:
                logits = self.next_token_logits(out[:, t - 1 : t], cache)  # newest token only
            else:
                idx_cond = out[:, max(0, t - block_size) : t]  # (B, <= block_size)
                cache = self.new_cache(room) if use_cache else None
                logits = self.next_token_logits(idx_cond, cache)  # (B, V)
            out[:, t : t + 1] = sample_next(logits, temperature, top_k, top_p, generator)
        return out

    def set_fused_attention(self, fused: bool) -> None:
        """Switch every block between SDPA (True) and the manual attention path (False)."""
        for block in self.h:
            block.attn.fused = fused


MIN_TEMPERATURE = 1e-6  # below this, logits / temperature overflows float32 to inf


def _check_sampling(
    temperature: float, top_k: int | None, top_p: float | None, vocab_size: int
) -> None:
    """ValueError (TypeError for a wrong type) naming a bad sampling setting."""
    _check_real(
        "temperature",
        temperature,
        f"from {MIN_TEMPERATURE:g} up (for the single most likely token use top_k=1)",
        lambda t: t >= MIN_TEMPERATURE,
    )
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int):
            raise TypeError(f"top_k must be an integer or None, got {top_k!r}")
        if not 1 <= top_k <= vocab_size:
            raise ValueError(f"top_k must be in 1..vocab_size={vocab_size}, got {top_k}")
    if top_p is not None:
        _check_real("top_p", top_p, "in (0, 1]", lambda p: 0 < p <= 1)


def check_idx_shape(idx: object) -> None:
    """TypeError unless `idx` is an integer tensor; ValueError unless (B, T) with B, T >= 1."""
    if not isinstance(idx, Tensor) or idx.dtype not in (torch.int64, torch.int32):
        kind = idx.dtype if isinstance(idx, Tensor) else type(idx).__name__
        raise TypeError(f"idx must be an integer tensor of token ids, got {kind}")
    if idx.dim() != 2 or idx.size(0) == 0 or idx.size(1) == 0:
        raise ValueError(
            f"idx must have shape (B, T) with at least one row and one token, "
            f"got {tuple(idx.shape)}"
        )


def check_token_ids(idx: Tensor, vocab_size: int) -> None:
    """ValueError naming the first id of `idx` outside 0..vocab_size-1 (reads idx: a sync)."""
    if idx.numel() == 0:
        return
    low, high = int(idx.min()), int(idx.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"token id {bad} is outside the vocabulary 0..{vocab_size - 1}")


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the k largest logits of each row (ties with the k-th kept too); -inf elsewhere.

    >>> top_k_filter(torch.tensor([[1.0, 3.0, 2.0]]), 2)
    tensor([[-inf, 3., 2.]])
    """
    kth_best = torch.topk(logits, k).values[..., [-1]]  # (B, 1)
    return logits.masked_fill(logits < kth_best, float("-inf"))


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens whose probability is >= p.

    A token is dropped when the tokens ranked above it already hold at least p of the mass.
    Probabilities (0.5, 0.3, 0.2) with p = 0.7 keep the first two (0.5 < 0.7 <= 0.8):

    >>> top_p_filter(torch.tensor([0.5, 0.3, 0.2]).log(), 0.7).exp()
    tensor([0.5000, 0.3000, 0.0000])
    """
    if p >= 1.0:
        return logits
    probs = F.softmax(logits, dim=-1)  # (B, V)
    sorted_probs, order = probs.sort(dim=-1, descending=True)  # (B, V) each
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs  # (B, V): mass ranked above
    drop_sorted = mass_before >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One token per row from the last position's logits (B, V) -> (B, 1).

    Divide by temperature, apply top-k then top-p, softmax, draw with `torch.multinomial`.
    """
    _check_sampling(temperature, top_k, top_p, logits.size(-1))
    if top_k == 1:  # greedy: the best token, whatever the temperature and top_p
        return logits.argmax(dim=-1, keepdim=True)  # (B, V) -> (B, 1)
    logits = scale_by_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = F.softmax(logits, dim=-1)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)


def param_breakdown(config: GPTConfig) -> dict[str, int]:
    """Parameters by kind, in closed form, for every variant; no model is built.

    C = n_embd, L = n_layer, V = vocab_size, T = block_size, b = 1 if bias else 0,
    kv = n_kv_head * hs (= C for multi-head), H = the MLP's hidden size:

    embedding: V C + T C                   (T C only for learned positions; RoPE has no table)
    head:      V C                         (only when untied; a tied head shares wte)
    attention: L (C (C + 2 kv) + b (C + 2 kv) + C^2 + b C)        (qkv, then proj)
    mlp:       gelu   L (2 C H + b (H + C))                       (fc, proj)
               swiglu L (3 C H + b (2 H + C))                     (gate, fc, proj)
    norms:     (2 L + 1)(1 + b) C for LayerNorm, (2 L + 1) C for RMSNorm

    With the defaults (kv = C, H = 4 C) attention is L (4 C^2 + 4 b C) and mlp L (8 C^2 + 5 b C).

    >>> param_breakdown(GPTConfig())
    {'embedding': 123264, 'attention': 3548160, 'mlp': 7089408, 'norms': 9984}
    """
    config.validate()
    C, L, b = config.n_embd, config.n_layer, int(config.bias)
    V, T, H = config.vocab_size, config.block_size, config.hidden_size
    kv = config.kv_heads * config.head_size
    counts = {"embedding": V * C + (T * C if config.position == "learned" else 0)}
    if not config.tie_embeddings:
        counts["head"] = V * C
    counts["attention"] = L * (C * (C + 2 * kv) + b * (C + 2 * kv) + C * C + b * C)
    if config.mlp != "swiglu":
        counts["mlp"] = L * (2 * C * H + b * (H + C))
    else:
        counts["mlp"] = L * (3 * C * H + b * (2 * H + C))
    per_norm = (1 + b) * C if config.norm == "layernorm" else C
    counts["norms"] = (2 * L + 1) * per_norm
    return counts


def param_count(config: GPTConfig) -> int:
    """Total parameters of GPT(config), without building it.

    >>> param_count(GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12,
    ...                       n_embd=768))  # GPT-2 small, "124M"
    124439808
    """
    return sum(param_breakdown(config).values())


def kv_cache_bytes(
    config: GPTConfig, seq_len: int, batch_size: int = 1, bytes_per_value: int = 2
) -> int:
    """Memory of a full KV cache: 2 (k, v) x L x n_kv_head x hs x seq_len x batch x bytes.

    `bytes_per_value=2` is 16-bit floats (bf16), how large models are usually served.

    >>> kv_cache_bytes(GPTConfig(), seq_len=256, bytes_per_value=4)  # 6 layers, 6 heads of 64
    4718592
    """
    config.validate()
    if seq_len <= 0 or batch_size <= 0 or bytes_per_value <= 0:
        raise ValueError(
            f"seq_len, batch_size and bytes_per_value must be positive, "
            f"got {seq_len}, {batch_size}, {bytes_per_value}"
        )
    per_token = 2 * config.n_layer * config.kv_heads * config.head_size
    return per_token * seq_len * batch_size * bytes_per_value
