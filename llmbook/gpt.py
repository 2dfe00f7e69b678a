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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmbook.attention import CausalSelfAttention
from llmbook.norm import LayerNorm


@dataclass
class GPTConfig:
    vocab_size: int = 65  # the characters of Tiny Shakespeare
    block_size: int = 256  # context length T: the most tokens the model sees at once
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384  # C, the width of every token's vector; n_embd / n_head = head size
    dropout: float = 0.0
    bias: bool = True  # biases in the Linear layers and LayerNorms

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the bad setting."""
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


class MLP(nn.Module):
    """The feed-forward part of a block: (B, T, C) -> (B, T, 4C) -> GELU -> (B, T, C).

    It works on each position separately; only attention mixes positions.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.proj(self.gelu(self.fc(x))))


class Block(nn.Module):
    """One transformer block: attention then MLP, each with a norm before and a residual around."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(
            config.n_embd, config.n_head, dropout=config.dropout, bias=config.bias
        )
        self.drop = nn.Dropout(config.dropout)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.ln_1(x)))
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
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # position embedding (T, C)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: one (V, C) matrix, used twice
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

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Logits (B, T, vocab_size) for every position, and the mean cross-entropy if targets.

        Targets equal to -1 are ignored in the loss.
        """
        B, T = self._check_idx(idx)
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C) + (T, C) -> (B, T, C)
        for block in self.h:
            x = block(x)  # (B, T, C)
        logits = self.lm_head(self.ln_f(x))  # (B, T, C) -> (B, T, V)
        if targets is None:
            return logits, None
        if targets.shape != idx.shape:
            raise ValueError(
                f"targets must have the shape of idx {tuple(idx.shape)}, got {tuple(targets.shape)}"
            )
        loss = F.cross_entropy(
            logits.view(B * T, -1),  # (B, T, V) -> (B*T, V)
            targets.reshape(B * T).long(),  # (B, T) -> (B*T,)
            ignore_index=-1,
        )
        return logits, loss

    def _check_idx(self, idx: Tensor) -> tuple[int, int]:
        if not isinstance(idx, Tensor) or idx.dtype not in (torch.int64, torch.int32):
            kind = idx.dtype if isinstance(idx, Tensor) else type(idx).__name__
            raise TypeError(f"idx must be an integer tensor of token ids, got {kind}")
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (B, T), got {tuple(idx.shape)}")
        block_size = self.config.block_size
        if idx.size(1) > block_size:
            raise ValueError(f"sequence length T={idx.size(1)} exceeds block_size={block_size}")
        return idx.size(0), idx.size(1)

    def num_params(self, non_embedding: bool = False) -> int:
        """Number of parameters (the tied matrix counted once).

        `non_embedding=True` leaves out the position embedding, as nanoGPT reports it; the token
        embedding stays in because it is also the output layer.
        """
        n = sum(p.numel() for p in self.parameters())
        return n - self.wpe.weight.numel() if non_embedding else n

    @torch.no_grad()
    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Append `max_new_tokens` sampled tokens to idx (B, T); returns (B, T + max_new_tokens).

        Each step looks at the last block_size tokens, divides the last position's logits by
        `temperature` (< 1 sharper, > 1 flatter), keeps the `top_k` best if given, and samples
        from the softmax. Call `model.eval()` first so that dropout is off.
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if top_k is not None and not 1 <= top_k <= self.config.vocab_size:
            raise ValueError(
                f"top_k must be in 1..vocab_size={self.config.vocab_size}, got {top_k}"
            )
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        for _ in range(max_new_tokens):
            idx_cond = idx[:, -self.config.block_size :]  # (B, T) -> (B, <= block_size)
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature  # (B, T, V) -> (B, V): the next token
            if top_k is not None:
                kth_best = torch.topk(logits, top_k).values[:, [-1]]  # (B, 1)
                logits = logits.masked_fill(logits < kth_best, float("-inf"))
            probs = F.softmax(logits, dim=-1)  # (B, V)
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat((idx, idx_next), dim=1)  # (B, T) -> (B, T + 1)
        return idx

    def set_fused_attention(self, fused: bool) -> None:
        """Switch every block between SDPA (True) and the manual attention path (False)."""
        for block in self.h:
            block.attn.fused = fused


def param_breakdown(config: GPTConfig) -> dict[str, int]:
    """Parameters by kind, in closed form (C = n_embd, L = n_layer, b = 1 if bias else 0).

    embedding: (V + T) C                   (the head shares the token embedding)
    attention: L (4 C^2 + 4 b C)           (qkv: 3 C^2 + 3 b C; proj: C^2 + b C)
    mlp:       L (8 C^2 + 5 b C)           (fc: 4 C^2 + 4 b C; proj: 4 C^2 + b C)
    norms:     (2 L + 1)(1 + b) C          (ln_1, ln_2 per block, ln_f)

    >>> param_breakdown(GPTConfig())
    {'embedding': 123264, 'attention': 3548160, 'mlp': 7089408, 'norms': 9984}
    """
    config.validate()
    C, L, b = config.n_embd, config.n_layer, int(config.bias)
    return {
        "embedding": (config.vocab_size + config.block_size) * C,
        "attention": L * (4 * C * C + 4 * b * C),
        "mlp": L * (8 * C * C + 5 * b * C),
        "norms": (2 * L + 1) * (1 + b) * C,
    }


def param_count(config: GPTConfig) -> int:
    """Total parameters of GPT(config), without building it.

    >>> param_count(GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12,
    ...                       n_embd=768))  # GPT-2 small, "124M"
    124439808
    """
    return sum(param_breakdown(config).values())
