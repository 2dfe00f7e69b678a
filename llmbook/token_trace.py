"""Follow one token through a trained GPT: what each block reads, adds and would predict.

Built in chapter 13, The GPT architecture ("Follow one token").

For one position t of a text, `trace_token` replays the model's forward pass step by step:

    x = wte(token) + wpe(t)                                 the embeddings, added
    for each block:  x = x + attn(ln_1(x))                  reads earlier characters
                     x = x + mlp(ln_2(x))                   works on position t alone
                     softmax(lm_head(ln_f(x)))              what it would predict if it stopped here
    softmax(lm_head(ln_f(x)) / temperature)                 what the sampler draws from

and keeps, at every step, the attention weights of each head from position t to the positions
0..t, the size (Euclidean norm) of the residual stream x before and after each half of a block,
and the top next characters. Its last logits are the model's own (`model(idx)`), which the
tests check; `follow_token_explorer` shows the trace with `llmbook.widgets.explore`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from llmbook.attention import attention_weights
from llmbook.gpt import GPT
from llmbook.plotting import COLORS
from llmbook.tokenizer import Tokenizer
from llmbook.widgets import Choice, Explorer, Slider, explore

TOP = 5  # how many next characters each step lists
TEMPERATURES = (0.5, 1.0, 1.5)  # the sampler's distributions shown at the last step


@dataclass(frozen=True)
class Guess:
    """A next token and the probability the model gives it."""

    token: str
    probability: float


@dataclass(frozen=True)
class BlockStep:
    """One block, seen from position t."""

    attention: np.ndarray  # (nh, t + 1): each head's weights on positions 0..t (rows sum to 1)
    size_before: float  # |x| entering the block
    size_after_attention: float  # |x| after x = x + attn(ln_1(x))
    size_after_mlp: float  # |x| after x = x + mlp(ln_2(x)), leaving the block
    probabilities: np.ndarray  # (V,): softmax(lm_head(ln_f(x))) if the model stopped here


@dataclass(frozen=True)
class TokenTrace:
    """The whole trace of one position; see `trace_token`."""

    tokens: list[str]  # the text's tokens, one label each
    position: int  # t, the position followed
    token_size: float  # |wte(token)|
    position_size: float  # |wpe(t)|
    embedded_size: float  # |wte(token) + wpe(t)|
    embedded_probabilities: np.ndarray  # (V,): the prediction straight from the embeddings
    blocks: list[BlockStep]
    logits: np.ndarray  # (V,): the model's final scores at position t
    vocabulary: list[str]  # the label of every token id

    @property
    def next_token(self) -> str | None:
        """The token that follows position t in the text, or None at the last position."""
        return self.tokens[self.position + 1] if self.position + 1 < len(self.tokens) else None

    def probabilities(self, temperature: float = 1.0) -> np.ndarray:
        """softmax(logits / temperature): the distribution the sampler draws from (no top-k)."""
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise TypeError(f"temperature must be a number > 0, got {temperature!r}")
        if not math.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        scores = self.logits.astype(np.float64) / temperature
        e = np.exp(scores - scores.max())
        return e / e.sum()

    def top(self, probabilities: np.ndarray, k: int = TOP) -> list[Guess]:
        """The k most likely tokens of a distribution, most likely first."""
        order = np.argsort(-probabilities, kind="stable")[:k]
        return [Guess(self.vocabulary[i], float(probabilities[i])) for i in order]

    def stage_probabilities(self) -> list[np.ndarray]:
        """The prediction after the embeddings and after each block: 1 + n_layer rows."""
        return [self.embedded_probabilities] + [b.probabilities for b in self.blocks]


def _norm(x: Tensor) -> float:
    return float(x.norm())


def trace_token(model: GPT, tokenizer: Tokenizer, text: str, position: int) -> TokenTrace:
    """Replay `model` on `text` and follow position `position` (0-based; -1 is the last).

    ValueError if the text is empty, has more tokens than the model's context, or the position
    is outside it; the model must use learned positions and plain multi-head attention (the
    book's GPT), which is checked too.
    """
    config = model.config
    if config.position != "learned" or config.kv_heads != config.n_head:
        raise ValueError("trace_token follows the book's GPT: learned positions, multi-head")
    if not isinstance(text, str) or text == "":
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    ids = tokenizer.encode(text)
    T = len(ids)
    if config.block_size < T:
        raise ValueError(f"text has {T} tokens, more than the context of {config.block_size}")
    if isinstance(position, bool) or not isinstance(position, int) or not -T <= position < T:
        raise ValueError(
            f"position must be an integer in {-T}..{T - 1} for {text!r}, got {position!r}"
        )
    t = position % T
    model.eval()
    idx = torch.tensor([ids])  # (1, T)
    with torch.no_grad():
        token, where = model.wte(idx), model.wpe(torch.arange(T))  # (1, T, C), (T, C)
        x = token + where  # (1, T, C)
        predict = _stopping_here(model)
        embedded = predict(x[0, t])
        blocks = []
        for block in model.h:
            before = x[0, t].clone()
            h = block.ln_1(x)
            weights = _head_weights(block, h)[:, t, : t + 1]  # (nh, t + 1)
            x = x + block.drop(block.attn(h))
            after_attention = x[0, t].clone()
            x = x + block.mlp(block.ln_2(x))
            blocks.append(
                BlockStep(
                    weights.numpy(),
                    _norm(before),
                    _norm(after_attention),
                    _norm(x[0, t]),
                    predict(x[0, t]),
                )
            )
        logits = model.lm_head(model.ln_f(x))[0, t]  # (V,)
    vocabulary = [tokenizer.decode([i]) for i in range(config.vocab_size)]
    return TokenTrace(
        tokens=[tokenizer.decode([i]) for i in ids],
        position=t,
        token_size=_norm(token[0, t]),
        position_size=_norm(where[t]),
        embedded_size=_norm(token[0, t] + where[t]),
        embedded_probabilities=embedded,
        blocks=blocks,
        logits=logits.numpy(),
        vocabulary=vocabulary,
    )


def _stopping_here(model: GPT) -> Callable[[Tensor], np.ndarray]:
    """The final norm and head applied to one vector (C,): probabilities (V,) as numpy."""

    def predict(vector: Tensor) -> np.ndarray:
        logits = model.lm_head(model.ln_f(vector))  # (C,) -> (V,)
        return torch.softmax(logits.double(), dim=-1).numpy()

    return predict


def _head_weights(block: torch.nn.Module, h: Tensor) -> Tensor:
    """Every head's attention weights (nh, T, T) inside `block` for the normed input h (1, T, C)."""
    attn = block.attn
    _, T, C = h.shape
    q, k, _ = attn.qkv(h).split([C, attn.kv_dim, attn.kv_dim], dim=2)
    q = q.view(1, T, attn.n_head, attn.head_size).transpose(1, 2)  # (1, nh, T, hs)
    k = k.view(1, T, attn.n_head, attn.head_size).transpose(1, 2)  # (1, nh, T, hs)
    return attention_weights(q, k, causal=True)[0]  # (nh, T, T)


# --- the explorer ------------------------------------------------------------------------------


def _show(token: str) -> str:
    """A token as the page shows it: a space as ␣, a line break as ↵."""
    return html.escape(token.replace(" ", "␣").replace("\n", "↵"))


def _guess_table(guesses: Sequence[Guess], right: str | None, title: str) -> str:
    rows = []
    for g in guesses:
        width = max(1.0, 100 * g.probability)
        mark = " ✓" if g.token == right else ""
        rows.append(
            f"<tr><td style='font-family:monospace;padding-right:6px'>{_show(g.token)}{mark}</td>"
            f"<td style='width:9em'><div style='background:{COLORS['activation']};height:10px;"
            f"width:{width:.0f}%'></div></td><td style='text-align:right'>"
            f"{g.probability:.2f}</td></tr>"
        )
    return f"<div><b>{title}</b><table>{''.join(rows)}</table></div>"


def _right_line(trace: TokenTrace, probabilities: np.ndarray) -> str:
    right = trace.next_token
    if right is None:
        return "<p>(the last position: the text does not say what comes next)</p>"
    rank = 1 + int((probabilities > probabilities[trace.vocabulary.index(right)]).sum())
    p = probabilities[trace.vocabulary.index(right)]
    return (
        f"<p>In the text the next character is <b>{_show(right)}</b>: probability "
        f"{p:.2f}, rank {rank} of {len(trace.vocabulary)}.</p>"
    )


def _text_line(trace: TokenTrace) -> str:
    """The text in one line: the followed position outlined, the characters after it grey."""
    t = trace.position
    before = "".join(_show(c) for c in trace.tokens[:t])
    after = "".join(_show(c) for c in trace.tokens[t + 1 :])
    return (
        f"<p style='font-family:monospace'>{before}<span style='outline:2px solid "
        f"{COLORS['highlight']}'>{_show(trace.tokens[t])}</span>"
        f"<span style='color:{COLORS['muted']}'>{after}</span></p>"
    )


def _attention_table(weights: np.ndarray, tokens: Sequence[str]) -> str:
    """One row per head: a cell per earlier position, shaded by its weight (kept small: the
    site stores one table per frame)."""
    nh, n = weights.shape
    head = "".join(f"<th>{_show(t)}</th>" for t in tokens[:n])
    rows = []
    for h in range(nh):
        cells = "".join(
            f"<td style=background:{COLORS['highlight']}{round(255 * w):02x}></td>"
            for w in weights[h]
        )
        strongest = tokens[int(weights[h].argmax())]
        rows.append(
            f"<tr><td>head&nbsp;{h + 1}</td>{cells}<td>&nbsp;most:&nbsp;{_show(strongest)}"
            f"&nbsp;{weights[h].max():.2f}</td></tr>"
        )
    return (
        "<div style='overflow-x:auto'><table style='border-collapse:collapse;"
        f"font-family:monospace;white-space:nowrap'><tr><th></th>{head}<th></th></tr>"
        f"{''.join(rows)}</table></div>"
    )


def _sizes_line(sizes: Sequence[tuple[str, float]]) -> str:
    widest = max(v for _, v in sizes)
    bars = "".join(
        f"<tr><td style='padding-right:6px'>{name}</td><td style='width:12em'><div style="
        f"'background:{COLORS['input']};height:10px;width:{100 * v / widest:.0f}%'></div></td>"
        f"<td style='text-align:right'>{v:.1f}</td></tr>"
        for name, v in sizes
    )
    return f"<div><b>Size of the vector |x|</b><table>{bars}</table></div>"


def step_names(n_layer: int) -> list[str]:
    """The stages the explorer's step slider walks through."""
    return ["embeddings"] + [f"block {k + 1}" for k in range(n_layer)] + ["sampler"]


def trace_html(trace: TokenTrace, step: int) -> str:
    """One stage of the trace as an HTML snippet: step 0 the embeddings, 1..n_layer the
    blocks, n_layer + 1 the sampler's distributions at several temperatures."""
    n_layer = len(trace.blocks)
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= n_layer + 1:
        raise ValueError(f"step must be an integer in 0..{n_layer + 1}, got {step!r}")
    right = trace.next_token
    parts = [_text_line(trace)]
    flex = "<div style='display:flex;flex-wrap:wrap;gap:0.5em 2em'>"
    if step == 0:
        parts.append(
            f"<p><b>Embeddings.</b> The vector of <b>{_show(trace.tokens[trace.position])}</b> "
            f"plus the vector of position {trace.position}; nothing is read from other "
            "positions yet.</p>"
        )
        sizes = [
            ("token", trace.token_size),
            ("position", trace.position_size),
            ("sum", trace.embedded_size),
        ]
        probabilities = trace.embedded_probabilities
        title = "If it stopped here"
        parts.append(
            flex + _sizes_line(sizes) + _guess_table(trace.top(probabilities), right, title)
        )
        parts.append("</div>")
    elif step <= n_layer:
        block = trace.blocks[step - 1]
        parts.append(
            f"<p><b>Block {step}.</b> Attention weights of each head from position "
            f"{trace.position} to the characters up to it (darker: read more):</p>"
        )
        parts.append(_attention_table(block.attention, trace.tokens))
        sizes = [
            ("entering", block.size_before),
            ("+ attention", block.size_after_attention),
            ("+ MLP", block.size_after_mlp),
        ]
        probabilities = block.probabilities
        title = f"If it stopped after block {step}"
        parts.append(
            flex + _sizes_line(sizes) + _guess_table(trace.top(probabilities), right, title)
        )
        parts.append("</div>")
    else:
        parts.append(
            "<p><b>The sampler.</b> The final scores divided by the temperature, then softmax: "
            "the distribution the next character is drawn from.</p>"
        )
        tables = "".join(
            _guess_table(trace.top(trace.probabilities(T)), right, f"temperature {T:g}")
            for T in TEMPERATURES
        )
        parts.append(flex + tables + "</div>")
        probabilities = trace.probabilities(1.0)
    parts.append(_right_line(trace, probabilities))
    return f"<div style='font-size:13px;min-height:20em'>{''.join(parts)}</div>"


def follow_token_explorer(
    model: GPT,
    tokenizer: Tokenizer,
    prompts: Sequence[str],
    position: int | None = None,
    positions: Sequence[int] | None = None,
) -> Explorer:
    """The "follow one token" explorer: pick a prompt, a position and a step through the model.

    `prompts` are texts to choose from (pass your own); the position slider runs over the
    longest one (a shorter prompt stops at its last character), starting at `position` (default:
    the last character of the first prompt); `positions` are the slider's values precomputed
    for the book's site. On the site the prompt and the position move one at a time, each with
    every step.
    """
    if isinstance(prompts, str) or not prompts:
        raise ValueError(f"prompts must be a non-empty list of texts, got {prompts!r}")
    lengths = [len(tokenizer.encode(p)) for p in prompts]
    longest = max(lengths)
    start = lengths[0] - 1 if position is None else position
    traces: dict[tuple[str, int], TokenTrace] = {}

    def draw(prompt: str, position: int, step: int) -> str:
        t = min(position, len(tokenizer.encode(prompt)) - 1)
        if (prompt, t) not in traces:
            traces[(prompt, t)] = trace_token(model, tokenizer, prompt, t)
        return trace_html(traces[(prompt, t)], step)

    n_layer = model.config.n_layer
    return explore(
        draw,
        prompt=Choice(list(prompts), label="prompt"),
        position=Slider(
            0,
            longest - 1,
            1,
            value=start,
            label="position",
            static=list(positions) if positions is not None else 8,
        ),
        step=Slider(0, n_layer + 1, 1, value=0, label="step"),
        one_at_a_time=["prompt", "position"],
        max_frames=128,
    )
