"""Generation is pinned: seeded models give the tokens recorded when LayerNorm was hand-built.

`GPT(config).generate` (greedy and sampled, with and without the KV cache) and
`python -m llmbook.sample --checkpoint` must give exactly these tokens; a change to the norm, the
MLP or the generation loop that moves them is caught here. The weights are seeded and scaled up
(x 30) so that the logits are decisive: a change of float rounding alone moves no token.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from llmbook import sample
from llmbook.checkpoint import FORMAT, VERSION, save_atomic, tokenizer_state
from llmbook.gpt import GPT, GPTConfig
from llmbook.tokenizer import CharTokenizer

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\nAll: Speak, speak.\n"
VARIANTS: dict[str, dict[str, object]] = {
    "gpt2": {},
    "gpt2-no-bias": {"bias": False, "mlp": "gelu_tanh"},
    "llama": {"norm": "rmsnorm", "mlp": "swiglu", "position": "rope", "n_kv_head": 2},
}


def seeded_model(variant: str, vocab_size: int) -> GPT:
    """A small GPT with seeded weights, scaled up so that its predictions are decisive."""
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=vocab_size, block_size=24, n_layer=2, n_head=4, n_embd=32,
                       **VARIANTS[variant])  # fmt: skip
    model = GPT(config)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:  # every matrix: 0.02 -> 0.6 standard deviation
                p.mul_(30.0)
    return model.eval()


def tokens(variant: str) -> dict[str, list[int]]:
    """Greedy and sampled continuations of a 6-token prompt, 30 new tokens (past block_size)."""
    tok = CharTokenizer.from_text(TEXT)
    model = seeded_model(variant, tok.vocab_size)
    idx = torch.tensor([tok.encode("First ")])
    out = {}
    for use_cache in (False, True):
        greedy = model.generate(idx, 30, top_k=1, use_cache=use_cache)
        sampled = model.generate(idx, 30, 0.8, 10, torch.Generator().manual_seed(3),
                                 top_p=0.95, use_cache=use_cache)  # fmt: skip
        out[f"greedy cache={use_cache}"] = greedy[0, 6:].tolist()
        out[f"sampled cache={use_cache}"] = sampled[0, 6:].tolist()
    return out


PINNED: dict[str, dict[str, list[int]]] = {  # recorded with chapter 9's hand-built LayerNorm
    "gpt2": {
        "greedy": [26, 26, 26, 26, 26, 26, 22, 5, 28, 20, 20, 26, 26, 20, 29, 22, 5, 28, 13, 29,
                   5, 28, 28, 22, 26, 20, 26, 26, 26, 29],
        "sampled": [26, 26, 26, 26, 26, 5, 22, 5, 28, 28, 25, 26, 26, 20, 26, 5, 26, 11, 20, 26,
                    26, 3, 28, 20, 13, 23, 26, 26, 20, 26],
    },
    "gpt2-no-bias": {
        "greedy": [28, 9, 4, 4, 4, 28, 28, 10, 4, 21, 25, 25, 4, 21, 22, 28, 28, 9, 25, 28, 4, 13,
                   28, 4, 13, 9, 27, 13, 27, 28],
        "sampled": [1, 4, 4, 4, 21, 27, 11, 25, 25, 25, 13, 21, 20, 25, 25, 13, 21, 22, 25, 5, 27,
                    13, 13, 13, 28, 10, 22, 21, 13, 22],
    },
    "llama": {
        "greedy": [8, 8, 8, 8, 8, 8, 8, 8, 8, 0, 28, 28, 4, 8, 0, 20, 12, 19, 27, 22, 27, 16, 14,
                   19, 19, 19, 19, 25, 2, 24],
        "sampled": [0, 8, 8, 8, 8, 8, 8, 8, 8, 8, 0, 4, 8, 8, 8, 0, 20, 24, 13, 24, 1, 22, 28, 25,
                    28, 7, 11, 28, 3, 21],
    },
}  # fmt: skip
# The smallest gap between the best and second-best logit along the greedy runs: 0.016 (gpt2),
# far above float rounding (1e-6), so a pinned token moves only if the computation changes.
PINNED_SAMPLE_TEXT = "All: nuauphu:uuyrhun.uAuyypuuunuuppwuuAyyhuuy\n"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_generate_gives_the_pinned_tokens(variant: str) -> None:
    got = tokens(variant)
    pinned = PINNED[variant]
    assert got["greedy cache=True"] == got["greedy cache=False"] == pinned["greedy"]
    assert got["sampled cache=True"] == got["sampled cache=False"] == pinned["sampled"]


def test_sample_cli_from_a_checkpoint_gives_the_pinned_text(tmp_path: Path, capsys) -> None:
    tok = CharTokenizer.from_text(TEXT)
    model = seeded_model("gpt2", tok.vocab_size)
    path = tmp_path / "ckpt.pt"
    save_atomic(
        {
            "format": FORMAT,
            "version": VERSION,
            "model": model.state_dict(),
            "model_config": asdict(model.config),
            "tokenizer": tokenizer_state(tok),
            "step": 0,
        },
        path,
    )
    argv = ["--checkpoint", str(path), "--prompt", "All: ", "--max-new-tokens", "40"]
    assert sample.main([*argv, "--seed", "2", "--top-k", "8"]) == 0
    cached = capsys.readouterr().out
    assert sample.main([*argv, "--seed", "2", "--top-k", "8", "--no-cache"]) == 0
    assert capsys.readouterr().out == cached == PINNED_SAMPLE_TEXT
