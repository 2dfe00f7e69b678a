"""A next-character network: a window of characters in, one score per possible next character out.

Built in chapter 3, "How does all this help generate language?"; chapter 4 ("Embeddings")
trains it again with learned embeddings instead of the fixed a=1 ... z=26 codes.

The model reads ``context`` character codes (see :mod:`llmbook.chars`) and gives
``vocab_size`` scores; the largest names the predicted character (output ``k - 1`` counting
from 0 scores the character with code ``k``). Inside, it is the network of chapter 1 grown a
little: inputs -> one hidden layer with ReLU -> outputs, with biases. Two ways to turn the
characters into input numbers:

- ``embedding=None``: the article's way, one number per character, its code scaled into (0, 1]
  (``code / vocab_size``), so a 12-character window is 12 input neurons;
- ``embedding=C``: each character has its own vector of ``C`` numbers, learned with the
  weights, so a 12-character window is ``12 * C`` input neurons (120 for the article's vectors
  of 10 numbers).

Generation is the loop "predict, append, slide" (:func:`generate`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llmbook import chars


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


class NextCharMLP(nn.Module):
    """``context`` character codes -> ``vocab_size`` scores for the next character.

    ``seed`` fixes the initial weights without touching torch's global random state, so two
    models built with the same arguments are identical. The embeddings start as random numbers
    with spread ``embedding_std`` (nn.Embedding's default is 1; chapter 4 starts them at 0.1, so
    that where a character ends up is mostly what training put there).
    """

    def __init__(
        self,
        context: int = 12,
        vocab_size: int = chars.VOCAB_SIZE,
        hidden: int = 128,
        embedding: int | None = None,
        seed: int = 0,
        embedding_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.context = _positive_int("context", context)
        self.vocab_size = _positive_int("vocab_size", vocab_size)
        _positive_int("hidden", hidden)
        if embedding is not None:
            _positive_int("embedding", embedding)
        if isinstance(embedding_std, bool) or not isinstance(embedding_std, int | float):
            raise TypeError(f"embedding_std must be a number, got {embedding_std!r}")
        if not embedding_std > 0:
            raise ValueError(f"embedding_std must be positive, got {embedding_std!r}")
        self.embedding_size = embedding
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            # one row per character (the article draws one column each): (vocab_size, C)
            self.embedding = None if embedding is None else nn.Embedding(vocab_size, embedding)
            if self.embedding is not None:
                with torch.no_grad():
                    self.embedding.weight.mul_(embedding_std)  # N(0, 1) -> N(0, std^2)
            n_inputs = context if embedding is None else context * embedding
            self.hidden = nn.Linear(n_inputs, hidden)
            self.output = nn.Linear(hidden, vocab_size)

    def check_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes as a (B, T) integer tensor with T == context and values in 1 ... vocab_size."""
        codes = torch.as_tensor(codes)
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise TypeError(f"codes must be integers, got dtype {codes.dtype}")
        if codes.ndim == 1:
            codes = codes.unsqueeze(0)  # (T,) -> (1, T)
        if codes.ndim != 2 or codes.shape[1] != self.context:
            raise ValueError(f"codes must have shape (B, {self.context}), got {tuple(codes.shape)}")
        if codes.numel() and (codes.min() < 1 or codes.max() > self.vocab_size):
            bad = codes[(codes < 1) | (codes > self.vocab_size)][0].item()
            raise ValueError(f"code {bad} is not between 1 and {self.vocab_size}")
        return codes.long()

    def inputs(self, codes: torch.Tensor) -> torch.Tensor:
        """The input layer: (B, T) codes -> (B, T) scaled codes or (B, T * C) embeddings."""
        codes = self.check_codes(codes)
        if self.embedding is None:
            return codes.float() / self.vocab_size  # (B, T), values in (0, 1]
        vectors = self.embedding(codes - 1)  # (B, T, C): code k is row k - 1
        return vectors.flatten(1)  # (B, T * C): the vectors side by side

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, T) codes -> (B, vocab_size) scores (logits)."""
        h = torch.relu(self.hidden(self.inputs(codes)))  # (B, hidden)
        return self.output(h)  # (B, vocab_size)


def training_pairs(text: str, context: int, pad: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The sliding-window pairs of ``text`` as tensors: windows (N, T) and next codes (N,).

    >>> x, y = training_pairs("humpty dumpty sat on a wall", 12, pad=False)
    >>> tuple(x.shape), y[:2].tolist()
    ((15, 12), [25, 27])
    """
    pairs = chars.windows(text, context, pad=pad)
    x = torch.tensor([chars.encode(w) for w, _ in pairs])  # (N, T)
    y = torch.tensor([chars.CODE[c] for _, c in pairs])  # (N,)
    return x, y


def train_nextchar(
    model: NextCharMLP,
    text: str,
    epochs: int,
    lr: float,
    seed: int = 0,
    batch_size: int | None = None,
    pad: bool = True,
) -> list[float]:
    """Train ``model`` in place on every sliding window of ``text``; return the loss per epoch.

    The loss is cross-entropy (chapter 7 explains it: small when the right character's score
    is the largest by a clear margin), averaged over the windows of an epoch. The optimiser is
    Adam, gradient descent that adapts each weight's step size. One epoch is one pass over all
    windows: by default one step on all of them at once (full batch, which is deterministic),
    or shuffled mini-batches of ``batch_size`` windows, one step each, in an order fixed by
    ``seed``. With ``pad=True`` the text is preceded by spaces
    (see :func:`llmbook.chars.windows`) so the model also learns to start from a short prompt.
    """
    _positive_int("epochs", epochs)
    if not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    x, y = training_pairs(text, model.context, pad=pad)
    n = len(y)
    size = n if batch_size is None else _positive_int("batch_size", batch_size)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, size):
            batch = order[start : start + size]
            loss = F.cross_entropy(model(x[batch]), y[batch] - 1)  # class k - 1 is code k
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / n)
    model.eval()
    return losses


@torch.no_grad()
def predict_next(model: NextCharMLP, prompt: str) -> str:
    """The character with the largest score after ``prompt`` (fitted to the window, see below)."""
    window = chars.fit_window(prompt, model.context)
    scores = model(torch.tensor([chars.encode(window)]))  # (1, vocab_size)
    return chars.decode([int(scores.argmax()) + 1])


def generate(model: NextCharMLP, prompt: str, n: int) -> str:
    """``prompt`` followed by ``n`` generated characters: predict, append, slide.

    The model sees the last ``context`` characters of the text so far (the window slides past
    the rest); a prompt shorter than the window is padded with spaces on the left
    (:func:`llmbook.chars.fit_window`). An empty prompt or a character outside the 28 raises
    ``ValueError``. Picks the largest score each time, so the result is deterministic.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a whole number of characters >= 0, got {n!r}")
    chars.fit_window(prompt, model.context)  # validates the prompt
    text = prompt
    for _ in range(n):
        text += predict_next(model, text)  # predict and append; the window slides by itself
    return text


@torch.no_grad()
def accuracy(model: NextCharMLP, text: str, pad: bool = True) -> float:
    """The fraction of the sliding windows of ``text`` whose next character the model gets right."""
    x, y = training_pairs(text, model.context, pad=pad)
    return (model(x).argmax(dim=1) + 1 == y).float().mean().item()
