"""Generate text from a trained GPT: load a checkpoint, encode a prompt, sample, decode.

Built in chapter 13, The GPT architecture; pretrained models in chapter 15, The Llama block.

    python -m llmbook.sample --checkpoint out/ckpt.pt --prompt "ROMEO:" --temperature 0.8 \\
        --top-k 20 --seed 1 --max-new-tokens 300
    python -m llmbook.sample --pretrained gpt2 --prompt "The meaning of life is" --top-p 0.9

`--pretrained` takes gpt2, gpt2-medium, gpt2-large, gpt2-xl, a Hugging Face "owner/model" id
(downloaded when online) or a local folder (config.json, *.safetensors and the tokenizer files).
Generation uses the KV cache unless `--no-cache`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from llmbook.checkpoint import (
    CheckpointError,
    load_checkpoint,
    model_config_from,
    tokenizer_from_state,
)
from llmbook.gpt import GPT, _check_sampling, sample_next
from llmbook.tokenizer import GPT2FormatTokenizer, Tokenizer


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
    top_p: float | None = None,
    use_cache: bool = False,
) -> torch.Tensor:
    """`model.generate`, with the window the model sees limited to the last `context` tokens.

    idx (B, T) -> (B, T + max_new_tokens). With context = block_size (the default) this is
    exactly `model.generate`; a shorter window recomputes it at every step (no cache).
    """
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
        raise TypeError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens}")
    block_size = model.config.block_size
    context = block_size if context is None else context
    if isinstance(context, bool) or not isinstance(context, int) or context <= 0:
        raise ValueError(f"context must be a positive integer, got {context!r}")
    if context > block_size:
        raise ValueError(f"context {context} is longer than the model's block_size {block_size}")
    if context == block_size:
        return model.generate(
            idx, max_new_tokens, temperature, top_k, generator, top_p=top_p, use_cache=use_cache
        )
    _check_sampling(temperature, top_k, top_p, model.config.vocab_size)
    for _ in range(max_new_tokens):
        logits = model.next_token_logits(idx[:, -context:])  # (B, V)
        idx_next = sample_next(logits, temperature, top_k, top_p, generator)  # (B, 1)
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
    top_p: float | None = None,
    use_cache: bool = False,
) -> str:
    """The prompt and `max_new_tokens` sampled tokens, decoded; the same seed gives the same text.

    ValueError for an empty prompt or one with characters the tokenizer does not know.
    """
    if not isinstance(prompt, str) or prompt == "":
        raise ValueError(f"the prompt must be a non-empty string, got {prompt!r}")
    if isinstance(tokenizer, GPT2FormatTokenizer):  # "<|endoftext|>" starts a new document
        ids = tokenizer.encode(prompt, allowed_special="all")
    else:
        ids = tokenizer.encode(prompt)  # ValueError naming an unknown character
    device = next(model.parameters()).device
    idx = torch.tensor([ids], dtype=torch.long, device=device)  # (1, T)
    generator = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    with finite_logits(model), only_known_ids(model, tokenizer.vocab_size):  # in this order
        out = sample_ids(
            model, idx, max_new_tokens, temperature, top_k, generator, context, top_p, use_cache
        )
    model.train(was_training)
    return tokenizer.decode(out[0].tolist())


@contextlib.contextmanager
def finite_logits(model: GPT) -> Iterator[None]:
    """Inside the block a nan or infinite logit is a ValueError saying where it comes from,
    instead of an error deep inside torch.multinomial (or a token drawn from nan)."""

    def check(_module: torch.nn.Module, _inputs: Any, logits: torch.Tensor) -> None:
        if not bool(torch.isfinite(logits).all()):
            bad = logits[~torch.isfinite(logits)].flatten()[0].item()
            raise ValueError(
                f"the model gave a logit of {bad}: its weights hold nan or inf, or its numbers "
                f"overflow in {logits.dtype}; check the checkpoint (a diverged run?) or load it "
                f"in float32"
            )

    handle = model.lm_head.register_forward_hook(check)  # logits (..., V)
    try:
        yield
    finally:
        handle.remove()


@contextlib.contextmanager
def only_known_ids(model: GPT, known: int) -> Iterator[None]:
    """Inside the block the model gives the ids from `known` on a logit of -inf, so that
    sampling never picks one: a model whose vocabulary is padded beyond its tokenizer's (to a
    multiple of 64, say) has rows that stand for no token."""
    V = model.config.vocab_size
    if known >= V:
        yield
        return

    def mask(_module: torch.nn.Module, _inputs: Any, logits: torch.Tensor) -> torch.Tensor:
        return logits.index_fill(-1, torch.arange(known, V, device=logits.device), -torch.inf)

    handle = model.lm_head.register_forward_hook(mask)  # logits (..., V)
    try:
        yield
    finally:
        handle.remove()


def load_pretrained(name_or_path: str, device: str | torch.device = "cpu") -> tuple[GPT, Any]:
    """A GPT-2 or Llama-architecture model (`llmbook.pretrained`) and its tokenizer."""
    from llmbook.pretrained import checkpoint_folder, from_pretrained, load_tokenizer

    folder = checkpoint_folder(name_or_path)
    return from_pretrained(folder, device=device), load_tokenizer(folder)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m llmbook.sample",
        description="Generate text from a llmbook checkpoint or a pretrained GPT-2 / Llama model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="ckpt.pt written by llmbook.train")
    source.add_argument(
        "--pretrained",
        help="gpt2, gpt2-medium, gpt2-large, gpt2-xl, an owner/model hub id, or a local folder "
        "with config.json and *.safetensors",
    )
    parser.add_argument("--prompt", default="\n", help="the text to continue")
    parser.add_argument("--max-new-tokens", type=int, default=300, help="tokens to generate")
    parser.add_argument(
        "--temperature", type=float, default=0.8, help="below 1 sharper, above 1 flatter"
    )
    parser.add_argument("--top-k", type=int, default=None, help="keep the k likeliest tokens")
    parser.add_argument(
        "--top-p", type=float, default=None, help="keep the likeliest tokens holding this mass"
    )
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same text")
    parser.add_argument("--context", type=int, default=None, help="tokens the model sees")
    parser.add_argument(
        "--no-cache", action="store_true", help="recompute every step instead of the KV cache"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.max_new_tokens < 0:
        parser.error(f"--max-new-tokens must be >= 0, got {args.max_new_tokens}")
    if not 0 <= args.seed < 2**63:
        parser.error(f"--seed must be in 0..2**63 - 1, got {args.seed}")
    try:
        if args.pretrained is not None:
            model, tokenizer = load_pretrained(args.pretrained, args.device)
        else:
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
            args.top_p,
            use_cache=not args.no_cache,
        )
    except (ValueError, CheckpointError) as exc:
        parser.error(str(exc))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
