"""The token ids of a training run and the random windows its batches are cut from.

`prepare_data` tokenizes the corpus (characters, or byte-level BPE learned on the training
part) and splits it 90/10. `draw_batch` takes random windows from the training ids, each
process (rank) from its own random streams (`make_streams`), so that a run can be resumed, or
spread over several processes, and draw exactly the windows it would have drawn otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from llmbook.data import load_text, train_val_split
from llmbook.tokenizer import BPETokenizer, CharTokenizer, Tokenizer
from llmbook.training.config import TrainConfig


@dataclass
class Data:
    """The tokenizer and the ids of the two splits."""

    tokenizer: Tokenizer
    train: Tensor  # 1-D token ids
    val: Tensor


def prepare_data(
    config: TrainConfig, text: str | None = None, tokenizer: Tokenizer | None = None
) -> Data:
    """Tokenize the corpus (or `text`) and split it 90/10 into training and validation ids.

    `tokenizer` (a pretrained model's) replaces the one `config.tokenizer` would build.
    """
    text = load_text(config.dataset) if text is None else text
    train_text, val_text = train_val_split(text)
    if tokenizer is None and config.tokenizer == "char":
        tokenizer = CharTokenizer.from_text(text)
    elif tokenizer is None:  # the merges are learned from the training part only
        tokenizer = BPETokenizer().train(train_text, config.bpe_vocab_size)
    train_ids = torch.tensor(tokenizer.encode(train_text), dtype=torch.long)
    val_ids = torch.tensor(tokenizer.encode(val_text), dtype=torch.long)
    for name, ids in (("training", train_ids), ("validation", val_ids)):
        if len(ids) <= config.block_size:
            raise ValueError(
                f"the {name} split has {len(ids)} tokens, too few for block_size="
                f"{config.block_size}"
            )
    return Data(tokenizer, train_ids, val_ids)


def draw_batch(
    data: Tensor, streams: Sequence[torch.Generator], per_stream: int, block_size: int
) -> tuple[Tensor, Tensor]:
    """`per_stream` random windows from each stream, side by side: x, y (B, T), y = x shifted."""
    starts = torch.cat(
        [torch.randint(len(data) - block_size, (per_stream,), generator=g) for g in streams]
    )  # (B,)
    offsets = torch.arange(block_size)  # (T,)
    index = starts[:, None] + offsets[None, :]  # (B, 1) + (1, T) -> (B, T)
    return data[index], data[index + 1]


def make_streams(seed: int, first: int, count: int) -> list[torch.Generator]:
    """Random streams number first .. first + count - 1 of a run with this seed."""
    return [torch.Generator().manual_seed(seed * 1000 + 1 + k) for k in range(first, first + count)]
