"""Real checkpoints in the book's GPT: randomly initialised Hugging Face models, saved with
save_pretrained to a temporary folder (offline, deterministic), load into `llmbook` and give
Hugging Face's logits and greedy tokens, with and without the KV cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from llmbook.gpt import GPT  # noqa: E402
from llmbook.positional import Llama3Scaling, rope_inv_freq  # noqa: E402
from llmbook.pretrained import (  # noqa: E402
    PretrainedError,
    checkpoint_folder,
    from_pretrained,
    hf_rope_rows_to_pairs,
)

LOGITS_TOLERANCE = 1e-5
NEW_TOKENS = 20
NO_SPECIAL = {"bos_token_id": None, "eos_token_id": None, "pad_token_id": None}
GPT2_SMALL_SHAPE = {  # GPT-2 small's layout (gelu_new, LayerNorm with bias, tied), tiny sizes
    "vocab_size": 101,
    "n_positions": 64,
    "n_embd": 48,
    "n_layer": 3,
    "n_head": 4,
    **NO_SPECIAL,
}
LLAMA3_SCALING = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 16,  # short, so that scaling acts within 64 positions
}
LLAMA_BASE = {
    "vocab_size": 103,
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 8,
    "max_position_embeddings": 64,
    "rms_norm_eps": 1e-5,
    **NO_SPECIAL,
}
LLAMAS = {
    "gqa-tied": {**LLAMA_BASE, "num_key_value_heads": 2, "tie_word_embeddings": True},
    "mha-untied": {**LLAMA_BASE, "num_key_value_heads": 8, "tie_word_embeddings": False},
    "gqa-untied-llama3": {
        **LLAMA_BASE,
        "num_key_value_heads": 4,
        "tie_word_embeddings": False,
        "rope_theta": 500000.0,
        "rope_scaling": LLAMA3_SCALING,
    },
}


def _save_hf(kind: str, settings: dict[str, Any], folder: Path) -> Any:
    torch.manual_seed(0)
    if kind == "gpt2":
        hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(**settings))
    else:
        hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**settings))
    hf.eval()
    hf.save_pretrained(folder)
    return hf


@pytest.fixture(scope="module", params=["gpt2", *LLAMAS])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(Hugging Face model, the same checkpoint loaded by llmbook, its folder)."""
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    if name == "gpt2":
        hf = _save_hf("gpt2", GPT2_SMALL_SHAPE, folder)
    else:
        hf = _save_hf("llama", LLAMAS[name], folder)
    return hf, from_pretrained(folder), folder


def _prompt(vocab_size: int, T: int = 9) -> torch.Tensor:
    return torch.randint(vocab_size, (2, T), generator=torch.Generator().manual_seed(3))


def test_logits_equal_hugging_face(pair) -> None:
    hf, model, _ = pair
    idx = _prompt(model.config.vocab_size, T=model.config.block_size)  # every position
    with torch.no_grad():
        expected = hf(idx).logits
        logits, _ = model(idx)
    assert logits.dtype == torch.float32
    assert (logits - expected).abs().max().item() < LOGITS_TOLERANCE


@pytest.mark.parametrize("use_cache", [False, True])
def test_greedy_tokens_equal_hugging_face_generate(pair, use_cache: bool) -> None:
    hf, model, _ = pair
    idx = _prompt(model.config.vocab_size)
    with torch.no_grad():
        expected = hf.generate(idx, max_new_tokens=NEW_TOKENS, do_sample=False, min_length=0)
    ours = model.generate(idx, NEW_TOKENS, top_k=1, use_cache=use_cache)
    assert expected.shape == (2, idx.size(1) + NEW_TOKENS)
    assert torch.equal(ours, expected)


def test_cached_step_logits_equal_hugging_face(pair) -> None:
    hf, model, _ = pair
    idx = _prompt(model.config.vocab_size, T=30)
    cache = model.new_cache(max_len=30)
    steps = [model.next_token_logits(idx[:, :10], cache)]
    steps += [model.next_token_logits(idx[:, t : t + 1], cache) for t in range(10, 30)]
    with torch.no_grad():
        expected = hf(idx).logits[:, 9:]  # (B, 21, V): the positions whose next token we ask
    ours = torch.stack(steps, dim=1)  # 21 x (B, V) -> (B, 21, V)
    assert (ours - expected).abs().max().item() < LOGITS_TOLERANCE


def test_loaded_config_names_the_variant(pair) -> None:
    _, model, _ = pair
    config = model.config
    if config.position == "learned":
        assert (config.mlp, config.norm, config.tie_embeddings) == ("gelu_tanh", "layernorm", True)
    else:
        assert (config.mlp, config.norm, config.bias) == ("swiglu", "rmsnorm", False)
    assert not model.training


def test_llama3_rope_scaling_equals_hugging_face() -> None:
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    hf_config = transformers.LlamaConfig(**LLAMAS["gqa-untied-llama3"])
    hf_inv_freq, _ = ROPE_INIT_FUNCTIONS["llama3"](hf_config, "cpu")
    scaling = Llama3Scaling(8.0, 1.0, 4.0, 16)
    ours = scaling.apply(rope_inv_freq(8, 500000.0))
    torch.testing.assert_close(ours.float(), hf_inv_freq.float(), rtol=1e-6, atol=0)
    assert not torch.allclose(ours, rope_inv_freq(8, 500000.0))  # it does change something


def test_llama3_scaling_keeps_fast_pairs_and_slows_slow_ones() -> None:
    inv_freq = rope_inv_freq(128, 500000.0)  # Llama 3.1 8B's 64 pairs
    scaled = Llama3Scaling().apply(inv_freq)  # factor 8, L = 8192
    wavelength = 2 * torch.pi / inv_freq
    fast, slow = wavelength < 8192 / 4, wavelength > 8192
    assert torch.equal(scaled[fast], inv_freq[fast])
    torch.testing.assert_close(scaled[slow], inv_freq[slow] / 8)
    middle = ~fast & ~slow
    assert middle.any() and bool(((scaled < inv_freq) & (scaled > inv_freq / 8))[middle].all())


def test_rope_row_reordering_pairs_each_half() -> None:
    w = torch.arange(8.0)[:, None]  # one head of size 8, rows 0..7
    assert hf_rope_rows_to_pairs(w, 1).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


def test_gpt2_names_offline_give_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", "/nonexistent-llmbook-cache")
    with pytest.raises(PretrainedError, match="pass its path"):
        checkpoint_folder("gpt2-medium")


def test_unknown_name_is_refused() -> None:
    with pytest.raises(PretrainedError, match="gpt2, gpt2-medium"):
        checkpoint_folder("not-a-model")


def test_pickle_only_folder_is_refused(pair, tmp_path: Path) -> None:
    _, _, folder = pair
    (tmp_path / "config.json").write_text((folder / "config.json").read_text())
    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(PretrainedError, match="pickle"):
        from_pretrained(tmp_path)


def test_other_model_types_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(PretrainedError, match="model_type must be one of"):
        from_pretrained(tmp_path)


def test_loaded_model_trains_like_a_fresh_one(pair) -> None:
    _, model, _ = pair
    assert isinstance(model, GPT)
    idx = _prompt(model.config.vocab_size, T=16)
    model.train()
    _, loss = model(idx[:, :-1], idx[:, 1:])
    assert loss is not None
    loss.backward()
    assert model.wte.weight.grad is not None
    if model.config.tie_embeddings:
        assert model.lm_head.weight is model.wte.weight
    model.zero_grad()
    model.eval()


@pytest.fixture(scope="module")
def gpt2_folder_with_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GPT-2 with the book's BPE exported beside it as vocab.json + merges.txt."""
    from llmbook.tokenizer import BPETokenizer, save_gpt2_bpe

    folder = tmp_path_factory.mktemp("gpt2-with-tokenizer")
    book = BPETokenizer().train("the cat sat on the mat, the dog sat on the log. " * 20, 270)
    _save_hf("gpt2", {**GPT2_SMALL_SHAPE, "vocab_size": 270}, folder)
    save_gpt2_bpe(book, folder)
    return folder


def _sample_cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    from llmbook import sample

    assert sample.main(list(args)) == 0
    return capsys.readouterr().out


def test_sample_cli_runs_a_pretrained_folder(
    gpt2_folder_with_tokenizer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = str(gpt2_folder_with_tokenizer)
    common = ("--pretrained", folder, "--prompt", "the cat", "--max-new-tokens", "12")
    greedy = _sample_cli(capsys, *common, "--top-k", "1")
    assert greedy == _sample_cli(capsys, *common, "--top-k", "1", "--no-cache")
    nucleus = _sample_cli(capsys, *common, "--top-p", "0.9", "--seed", "4")
    assert nucleus == _sample_cli(capsys, *common, "--top-p", "0.9", "--seed", "4")
    assert greedy.startswith("the cat") and nucleus.startswith("the cat")
    from llmbook.pretrained import load_tokenizer

    tokenizer = load_tokenizer(gpt2_folder_with_tokenizer)
    model = from_pretrained(gpt2_folder_with_tokenizer)
    ids = torch.tensor([tokenizer.encode("the cat")])
    expected = tokenizer.decode(model.generate(ids, 12, top_k=1)[0].tolist())
    assert greedy == expected + "\n"


def test_sample_cli_refuses_a_bad_top_p(
    gpt2_folder_with_tokenizer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmbook import sample

    with pytest.raises(SystemExit) as exit_info:
        sample.main(["--pretrained", str(gpt2_folder_with_tokenizer), "--top-p", "1.5"])
    assert exit_info.value.code == 2
    assert "top_p must be a finite number in (0, 1], got 1.5" in capsys.readouterr().err
