"""Generate text from a trained GPT: load a checkpoint, encode a prompt, sample, decode.

Built in chapter 13, The GPT architecture.

    python -m llmbook.sample --checkpoint out/ckpt.pt --prompt "ROMEO:" --temperature 0.8 \\
        --top-k 20 --seed 1 --max-new-tokens 300
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from llmbook.checkpoint import (
    CheckpointError,
    load_checkpoint,
    model_config_from,
    tokenizer_from_state,
)
from llmbook.gpt import GPT, _check_sampling
from llmbook.tokenizer import Tokenizer


def load_model(path: str, device: str | torch.device = "cpu") -> tuple[GPT, Tokenizer]:
    """The model (in eval mode) and tokenizer stored in a checkpoint written by llmbook.train.

    CheckpointError if the checkpoint is missing, corrupt or inconsistent (see
    `llmbook.checkpoint.validate_checkpoint`); ValueError if `device` is not available here.
    """
    ckpt = load_checkpoint(path, map_location=device)  # checked as a whole
    model = GPT(model_config_from(ckpt, path))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), tokenizer_from_state(ckpt["tokenizer"], path)


@torch.no_grad()
def sample_ids(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    context: int | None = None,
) -> torch.Tensor:
    """`model.generate`, with the window the model sees limited to the last `context` tokens.

    idx (B, T) -> (B, T + max_new_tokens). With context = block_size (the default) this is
    exactly `model.generate`.
    """
    block_size = model.config.block_size
    context = block_size if context is None else context
    if isinstance(context, bool) or not isinstance(context, int) or context <= 0:
        raise ValueError(f"context must be a positive integer, got {context!r}")
    if context > block_size:
        raise ValueError(f"context {context} is longer than the model's block_size {block_size}")
    if context == block_size:
        return model.generate(idx, max_new_tokens, temperature, top_k, generator)
    _check_sampling(temperature, top_k, None, model.config.vocab_size)
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -context:])  # (B, <= context, V)
        logits = logits[:, -1, :] / temperature  # (B, V)
        if top_k is not None:
            kth_best = torch.topk(logits, top_k).values[:, [-1]]  # (B, 1)
            logits = logits.masked_fill(logits < kth_best, float("-inf"))
        idx_next = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)  # (B, 1)
        idx = torch.cat((idx, idx_next), dim=1)  # (B, T) -> (B, T + 1)
    return idx


def generate_text(
    model: GPT,
    tokenizer: Tokenizer,
    prompt: str,
    max_new_tokens: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    context: int | None = None,
) -> str:
    """The prompt and `max_new_tokens` sampled tokens, decoded; the same seed gives the same text.

    ValueError for an empty prompt or one with characters the tokenizer does not know.
    """
    if not isinstance(prompt, str) or prompt == "":
        raise ValueError(f"the prompt must be a non-empty string, got {prompt!r}")
    ids = tokenizer.encode(prompt)  # ValueError naming an unknown character
    device = next(model.parameters()).device
    idx = torch.tensor([ids], dtype=torch.long, device=device)  # (1, T)
    generator = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    out = sample_ids(model, idx, max_new_tokens, temperature, top_k, generator, context)
    model.train(was_training)
    return tokenizer.decode(out[0].tolist())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m llmbook.sample", description="Generate text from a llmbook checkpoint."
    )
    parser.add_argument("--checkpoint", required=True, help="ckpt.pt written by llmbook.train")
    parser.add_argument("--prompt", default="\n", help="the text to continue (default: a newline)")
    parser.add_argument("--max-new-tokens", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--context", type=int, default=None, help="tokens the model sees")
    parser.add_argument("--device", default="cpu")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.max_new_tokens < 0:
        parser.error(f"--max-new-tokens must be >= 0, got {args.max_new_tokens}")
    if not 0 <= args.seed < 2**63:
        parser.error(f"--seed must be in 0..2**63 - 1, got {args.seed}")
    try:
        model, tokenizer = load_model(args.checkpoint, args.device)
        text = generate_text(
            model,
            tokenizer,
            args.prompt,
            args.max_new_tokens,
            args.temperature,
            args.top_k,
            args.seed,
            args.context,
        )
    except (ValueError, CheckpointError) as exc:
        parser.error(str(exc))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
