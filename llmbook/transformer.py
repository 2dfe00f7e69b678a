"""The original transformer: an encoder-decoder, as in "Attention Is All You Need".

Built in chapter 14, The transformer architecture.

    src ids (B, S) -> embed * sqrt(C) + PE -> EncoderLayer x n_encoder_layer -> memory (B, S, C)
    tgt ids (B, T) -> embed * sqrt(C) + PE -> DecoderLayer x n_decoder_layer -> head
                                               ^ every layer reads the same memory
               -> logits (B, T, tgt_vocab)

Each sublayer is wrapped in "Add & Norm", with the norm after the residual add ("post-norm", as
in the paper; the GPT of chapter 13 puts it before):

    encoder layer:  x = norm1(x + drop(self_attn(x)))          every position sees every other
                    x = norm2(x + drop(ffn(x)))
    decoder layer:  y = norm1(y + drop(causal_self_attn(y)))   position t sees 0..t only
                    y = norm2(y + drop(cross_attn(y, memory))) queries from y, keys/values memory
                    y = norm3(y + drop(ffn(y)))

`EncoderDecoder` is the two stacks alone, the counterpart of `torch.nn.Transformer`
(`norm_first=False, activation="relu", batch_first=True`); `copy_to_torch` loads its weights
into one, and the tests assert that both compute the same numbers. `Transformer` adds the
embeddings, positional encoding and output layer, and `greedy_decode` translates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmbook.attention import CausalSelfAttention, CrossAttention, attention_weights
from llmbook.norm import LayerNorm
from llmbook.positional import sinusoidal_encoding


@dataclass
class TransformerConfig:
    src_vocab_size: int = 31  # the number words of llmbook.toydata, with <pad>
    tgt_vocab_size: int = 13  # the digits, with <pad>, <bos>, <eos>
    max_len: int = 16  # longest source or target sequence (rows of the positional code)
    n_encoder_layer: int = 2
    n_decoder_layer: int = 2
    n_head: int = 4
    d_model: int = 64  # C, the width of every token's vector
    d_ff: int = 128  # width of the feed-forward's middle layer (the paper: 4 * d_model)
    dropout: float = 0.0
    final_norm: bool = False  # a LayerNorm after each stack, as torch.nn.Transformer adds
    pad_id: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the bad setting."""
        for name in (
            "src_vocab_size",
            "tgt_vocab_size",
            "max_len",
            "n_encoder_layer",
            "n_decoder_layer",
            "n_head",
            "d_model",
            "d_ff",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_head != 0:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_head={self.n_head}")
        if self.d_model % 2 != 0:
            raise ValueError(f"d_model must be even (sin/cos pairs), got {self.d_model}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size):
            raise ValueError(f"pad_id={self.pad_id} must be an id of both vocabularies")


class FeedForward(nn.Module):
    """Position-wise feed-forward, the paper's Linear -> ReLU -> Linear: (B, T, C) -> (B, T, C).

    Each position goes through the same two layers on its own; nothing here mixes positions.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.drop(F.relu(self.fc1(x))))  # (B, T, C) -> (B, T, d_ff) -> (B, T, C)


class EncoderLayer(nn.Module):
    """Self-attention (no mask but padding) and feed-forward, each in Add & Norm (post-norm)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        C = config.d_model
        self.self_attn = CausalSelfAttention(C, config.n_head, config.dropout, causal=False)
        self.norm1 = LayerNorm(C)
        self.ffn = FeedForward(C, config.d_ff, config.dropout)
        self.norm2 = LayerNorm(C)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, src_key_padding_mask: Tensor | None = None) -> Tensor:
        x = self.norm1(x + self.drop(self.self_attn(x, key_padding_mask=src_key_padding_mask)))
        return self.norm2(x + self.drop(self.ffn(x)))  # (B, S, C)


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention to the encoder's output, feed-forward: post-norm."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        C = config.d_model
        self.self_attn = CausalSelfAttention(C, config.n_head, config.dropout, causal=True)
        self.norm1 = LayerNorm(C)
        self.cross_attn = CrossAttention(C, config.n_head, config.dropout)
        self.norm2 = LayerNorm(C)
        self.ffn = FeedForward(C, config.d_ff, config.dropout)
        self.norm3 = LayerNorm(C)
        self.drop = nn.Dropout(config.dropout)

    def forward(
        self,
        y: Tensor,
        memory: Tensor,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        y = self.norm1(y + self.drop(self.self_attn(y, key_padding_mask=tgt_key_padding_mask)))
        cross = self.cross_attn(y, memory, key_padding_mask=memory_key_padding_mask)
        y = self.norm2(y + self.drop(cross))
        return self.norm3(y + self.drop(self.ffn(y)))  # (B, T, C)


class Encoder(nn.Module):
    """n_encoder_layer EncoderLayers in a row: (B, S, C) -> memory (B, S, C)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_encoder_layer))
        self.norm = LayerNorm(config.d_model) if config.final_norm else None

    def forward(self, x: Tensor, src_key_padding_mask: Tensor | None = None) -> Tensor:
        for layer in self.layers:
            x = layer(x, src_key_padding_mask)
        return x if self.norm is None else self.norm(x)


class Decoder(nn.Module):
    """n_decoder_layer DecoderLayers; every one of them reads the same `memory`."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.n_decoder_layer))
        self.norm = LayerNorm(config.d_model) if config.final_norm else None

    def forward(
        self,
        y: Tensor,
        memory: Tensor,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        for layer in self.layers:
            y = layer(y, memory, tgt_key_padding_mask, memory_key_padding_mask)
        return y if self.norm is None else self.norm(y)


def _check_vectors(x: Tensor, d_model: int, name: str) -> tuple[int, int]:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        kind = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a float tensor of vectors, got {kind}")
    if x.dim() != 3 or x.size(-1) != d_model:
        raise ValueError(f"{name} must have shape (B, L, {d_model}), got {tuple(x.shape)}")
    return x.size(0), x.size(1)


def _check_padding(mask: Tensor | None, B: int, L: int, name: str) -> None:
    if mask is None:
        return
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        kind = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"{name} must be a bool tensor (True = padding), got {kind}")
    if mask.shape != (B, L):
        raise ValueError(f"{name} must have shape (B, L) = {(B, L)}, got {tuple(mask.shape)}")
    if mask.all(dim=1).any():
        raise ValueError(f"{name} hides every position of some sequence: nothing to attend to")


class EncoderDecoder(nn.Module):
    """The encoder and decoder stacks on vectors: the counterpart of `torch.nn.Transformer`.

    src (B, S, C) and tgt (B, T, C) -> (B, T, C). The decoder's self-attention is always causal;
    the padding masks are (B, S) / (B, T) booleans with True = padding, as in torch.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def encode(self, src: Tensor, src_key_padding_mask: Tensor | None = None) -> Tensor:
        B, S = _check_vectors(src, self.config.d_model, "src")
        _check_padding(src_key_padding_mask, B, S, "src_key_padding_mask")
        return self.encoder(src, src_key_padding_mask)  # (B, S, C)

    def decode(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        B, T = _check_vectors(tgt, self.config.d_model, "tgt")
        B_mem, S = _check_vectors(memory, self.config.d_model, "memory")
        if B_mem != B:
            raise ValueError(f"tgt and memory batch sizes differ: {B} and {B_mem}")
        _check_padding(tgt_key_padding_mask, B, T, "tgt_key_padding_mask")
        _check_padding(memory_key_padding_mask, B, S, "memory_key_padding_mask")
        return self.decoder(tgt, memory, tgt_key_padding_mask, memory_key_padding_mask)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        if src.dim() == 3 and tgt.dim() == 3 and src.size(0) != tgt.size(0):
            raise ValueError(f"src and tgt batch sizes differ: {src.size(0)} and {tgt.size(0)}")
        memory = self.encode(src, src_key_padding_mask)  # (B, S, C), computed once
        return self.decode(tgt, memory, tgt_key_padding_mask, memory_key_padding_mask)


class Transformer(nn.Module):
    """Token ids in, next-token logits out: embeddings + positions + EncoderDecoder + a head.

    >>> model = Transformer(TransformerConfig(d_model=8, n_head=2, d_ff=16))
    >>> src, tgt = torch.tensor([[4, 29, 30, 13]]), torch.tensor([[1, 6, 4, 5]])
    >>> tuple(model(src, tgt).shape)  # one row of 13 scores per target position
    (1, 4, 13)
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        C = config.d_model
        self.src_embed = nn.Embedding(config.src_vocab_size, C)  # (V_src, C)
        self.tgt_embed = nn.Embedding(config.tgt_vocab_size, C)  # (V_tgt, C)
        self.register_buffer("pe", sinusoidal_encoding(config.max_len, C), persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.core = EncoderDecoder(config)
        self.head = nn.Linear(C, config.tgt_vocab_size)  # (B, T, C) -> (B, T, V_tgt)

    def _embed(self, ids: Tensor, table: nn.Embedding, name: str) -> Tensor:
        if not isinstance(ids, Tensor) or ids.dtype not in (torch.int64, torch.int32):
            kind = ids.dtype if isinstance(ids, Tensor) else type(ids).__name__
            raise TypeError(f"{name} must be an integer tensor of token ids, got {kind}")
        if ids.dim() != 2:
            raise ValueError(f"{name} must have shape (B, L), got {tuple(ids.shape)}")
        if ids.size(1) > self.config.max_len:
            raise ValueError(f"{name} length {ids.size(1)} exceeds max_len={self.config.max_len}")
        if ids.numel() and (ids.min() < 0 or ids.max() >= table.num_embeddings):
            raise ValueError(f"{name} has ids outside 0..{table.num_embeddings - 1}")
        x = table(ids) * math.sqrt(self.config.d_model)  # (B, L) -> (B, L, C), the paper's scale
        return self.drop(x + self.pe[: ids.size(1)])  # (B, L, C) + (L, C) -> (B, L, C)

    def encode(self, src: Tensor, src_key_padding_mask: Tensor | None = None) -> Tensor:
        """memory (B, S, C): run once per source sentence, however many tokens are generated."""
        return self.core.encode(self._embed(src, self.src_embed, "src"), src_key_padding_mask)

    def decode(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """logits (B, T, V_tgt): row t scores the token that follows tgt[:, :t + 1]."""
        y = self._embed(tgt, self.tgt_embed, "tgt")
        y = self.core.decode(y, memory, tgt_key_padding_mask, memory_key_padding_mask)
        return self.head(y)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        both_2d = (
            isinstance(src, Tensor) and isinstance(tgt, Tensor) and src.dim() == tgt.dim() == 2
        )
        if both_2d and src.size(0) != tgt.size(0):
            raise ValueError(f"src and tgt batch sizes differ: {src.size(0)} and {tgt.size(0)}")
        memory = self.encode(src, src_key_padding_mask)
        return self.decode(tgt, memory, tgt_key_padding_mask, src_key_padding_mask)

    def loss(
        self, src: Tensor, src_pad: Tensor | None, tgt: Tensor, tgt_pad: Tensor | None
    ) -> Tensor:
        """Mean cross-entropy of predicting tgt[:, 1:] from tgt[:, :-1] (teacher forcing).

        Padding positions of the target are left out of the mean.
        """
        if tgt.dim() != 2 or tgt.size(1) < 2:
            raise ValueError(f"tgt needs shape (B, T) with T >= 2, got {tuple(tgt.shape)}")
        inputs, targets = tgt[:, :-1], tgt[:, 1:]  # (B, T-1) each: shift by one
        in_pad = None if tgt_pad is None else tgt_pad[:, :-1]
        logits = self(src, inputs, src_pad, in_pad)  # (B, T-1, V)
        targets = targets.masked_fill(targets == self.config.pad_id, -100)  # -100: ignored
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


def cross_attention_weights(
    module: CrossAttention, x: Tensor, memory: Tensor, key_padding_mask: Tensor | None = None
) -> Tensor:
    """The softmax weights inside a CrossAttention call, (B, nh, T, S): row t sums to 1.

    Recomputed from the module's own Wq (applied to x) and Wk (applied to memory).
    """
    B, T, C = x.shape
    S, nh, hs = memory.size(1), module.n_head, module.head_size
    q = module.q(x).view(B, T, nh, hs).transpose(1, 2)  # (B, T, C) -> (B, nh, T, hs)
    k = module.kv(memory)[..., :C].reshape(B, S, nh, hs).transpose(1, 2)  # (B, nh, S, hs)
    mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
    return attention_weights(q, k, mask=mask)  # (B, nh, T, S)


def record_cross_attention(model: Transformer) -> tuple[list[Tensor], Callable[[], None]]:
    """Hook every decoder layer's cross-attention; each call appends its (B, nh, T, S) weights.

    Returns the list that fills up and a function that removes the hooks.
    """
    recorded: list[Tensor] = []

    def hook(module: nn.Module, args: tuple, kwargs: dict, output: Tensor) -> None:
        x, memory = args
        pad = kwargs.get("key_padding_mask")
        recorded.append(cross_attention_weights(module, x, memory, pad).detach())

    handles = [
        layer.cross_attn.register_forward_hook(hook, with_kwargs=True)
        for layer in model.core.decoder.layers
    ]

    def remove() -> None:
        for handle in handles:
            handle.remove()

    return recorded, remove


@torch.no_grad()
def greedy_decode(
    model: Transformer,
    src: Tensor,
    max_new_tokens: int,
    bos_id: int,
    eos_id: int,
    src_key_padding_mask: Tensor | None = None,
    return_cross_attention: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Translate src (B, S): encode once, then append the most likely token until <eos>.

    Returns the ids (B, 1 + n) starting with <bos>; a row that has ended is filled with pad.
    With `return_cross_attention=True` also returns the last step's cross-attention weights,
    (n_decoder_layer, B, nh, n, S): row t holds where the decoder looked when it chose token t+1.
    Call `model.eval()` first so that dropout is off.
    """
    if max_new_tokens < 1 or max_new_tokens + 1 > model.config.max_len:
        raise ValueError(f"max_new_tokens must be in 1..max_len - 1, got {max_new_tokens}")
    memory = model.encode(src, src_key_padding_mask)  # (B, S, C): the encoder runs once
    B = src.size(0)
    out = torch.full((B, 1), bos_id, dtype=torch.long, device=src.device)  # (B, 1)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    for step in range(max_new_tokens):
        last = step == max_new_tokens - 1
        recorded, remove = record_cross_attention(model) if return_cross_attention else ([], None)
        logits = model.decode(out, memory, memory_key_padding_mask=src_key_padding_mask)
        if remove is not None:
            remove()
        nxt = logits[:, -1].argmax(dim=-1)  # (B, T, V) -> (B,): the best next token
        nxt = nxt.masked_fill(done, model.config.pad_id)
        out = torch.cat([out, nxt[:, None]], dim=1)  # (B, T) -> (B, T + 1)
        done = done | (nxt == eos_id)
        if done.all() or last:
            break
    if not return_cross_attention:
        return out
    return out, torch.stack(recorded)  # (n_layer, B, nh, T, S)


# ---- torch.nn.Transformer, the reference -----------------------------------------------------


def torch_reference(config: TransformerConfig) -> nn.Transformer:
    """A `torch.nn.Transformer` with the same layout: post-norm, ReLU, batch_first.

    torch puts a LayerNorm after each stack; with `config.final_norm=False` (the paper) those
    two are removed so that the layouts match.
    """
    ref = nn.Transformer(
        d_model=config.d_model,
        nhead=config.n_head,
        num_encoder_layers=config.n_encoder_layer,
        num_decoder_layers=config.n_decoder_layer,
        dim_feedforward=config.d_ff,
        dropout=config.dropout,
        activation="relu",
        batch_first=True,
        norm_first=False,
    )
    if not config.final_norm:
        ref.encoder.norm = None
        ref.decoder.norm = None
    # torch's fast path packs padded batches into nested tensors and returns 0 at padding;
    # switched off, every position is computed, as ours are.
    ref.encoder.enable_nested_tensor = ref.encoder.use_nested_tensor = False
    return ref


def _copy_attention(ours: CausalSelfAttention | CrossAttention, mha: nn.MultiheadAttention) -> None:
    if isinstance(ours, CrossAttention):  # [Wq] and [Wk; Wv] -> in_proj = [Wq; Wk; Wv]
        weight = torch.cat([ours.q.weight, ours.kv.weight])
        bias = torch.cat([ours.q.bias, ours.kv.bias])
    else:  # qkv already holds [Wq; Wk; Wv], heads in the same order as torch's
        weight, bias = ours.qkv.weight, ours.qkv.bias
    mha.in_proj_weight.copy_(weight)
    mha.in_proj_bias.copy_(bias)
    mha.out_proj.weight.copy_(ours.proj.weight)
    mha.out_proj.bias.copy_(ours.proj.bias)


def _copy_norm(ours: LayerNorm, theirs: nn.LayerNorm) -> None:
    theirs.weight.copy_(ours.weight)
    theirs.bias.copy_(ours.bias)


def _copy_ffn(ours: FeedForward, layer: nn.Module) -> None:
    for mine, theirs in ((ours.fc1, layer.linear1), (ours.fc2, layer.linear2)):
        theirs.weight.copy_(mine.weight)
        theirs.bias.copy_(mine.bias)


@torch.no_grad()
def copy_to_torch(model: EncoderDecoder, ref: nn.Transformer) -> nn.Transformer:
    """Load our weights into `ref` (made by `torch_reference`), parameter by parameter."""
    config = model.config
    if len(ref.encoder.layers) != config.n_encoder_layer or len(ref.decoder.layers) != (
        config.n_decoder_layer
    ):
        raise ValueError("ref has a different number of layers: build it with torch_reference")
    if (ref.encoder.norm is not None) != config.final_norm:
        raise ValueError("ref and model disagree about the final norms: use torch_reference")
    for ours, theirs in zip(model.encoder.layers, ref.encoder.layers, strict=True):
        _copy_attention(ours.self_attn, theirs.self_attn)
        _copy_ffn(ours.ffn, theirs)
        _copy_norm(ours.norm1, theirs.norm1)
        _copy_norm(ours.norm2, theirs.norm2)
    for ours, theirs in zip(model.decoder.layers, ref.decoder.layers, strict=True):
        _copy_attention(ours.self_attn, theirs.self_attn)
        _copy_attention(ours.cross_attn, theirs.multihead_attn)
        _copy_ffn(ours.ffn, theirs)
        for k in (1, 2, 3):
            _copy_norm(getattr(ours, f"norm{k}"), getattr(theirs, f"norm{k}"))
    if config.final_norm:
        _copy_norm(model.encoder.norm, ref.encoder.norm)
        _copy_norm(model.decoder.norm, ref.decoder.norm)
    return ref


def count_parameters(module: nn.Module) -> int:
    """Number of trainable numbers in a module."""
    return sum(p.numel() for p in module.parameters())
