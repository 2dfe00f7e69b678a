"""Real checkpoints in the book's GPT: GPT-2 and Llama-architecture models from Hugging Face.

Chapter 15, Beyond the article, shows that `llmbook.gpt.GPT` is the real architecture: GPT-2's
released weights and those of Llama-family models (Llama 3.x, SmolLM2, TinyLlama and the like)
fit it once their names are translated.

    model = from_pretrained("gpt2")            # downloads when online (huggingface_hub)
    model = from_pretrained("path/to/folder")  # config.json + *.safetensors, offline

Only safetensors files are read (plain numbers, no code); PyTorch's pickled `.bin` files are
refused. The translation:

- GPT-2 stores its four big matrices as `Conv1D` (in, out), the transpose of `nn.Linear`'s
  (out, in): `c_attn`, `c_proj` and `c_fc` are transposed into `qkv`, `proj` and `fc`
  (`GPT2_NAMES`). Its GELU is the tanh approximation (`mlp="gelu_tanh"`).
- Llama keeps q, k and v in three matrices (`q_proj`, `k_proj`, `v_proj`): stacked into `qkv`.
  Hugging Face rotates the pair (x[i], x[i + hs/2]) where the book rotates (x[2i], x[2i+1]);
  reordering the rows of each head of q and k (`hf_rope_rows_to_pairs`) makes the two agree
  without changing any score q . k.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from llmbook.gpt import GPT, GPTConfig, param_count
from llmbook.positional import rope_frequencies
from llmbook.tokenizer import Tokenizer, load_gpt2_bpe

GPT2_HUB = {
    "gpt2": "openai-community/gpt2",
    "gpt2-medium": "openai-community/gpt2-medium",
    "gpt2-large": "openai-community/gpt2-large",
    "gpt2-xl": "openai-community/gpt2-xl",
}
# Hugging Face name (inside transformer.h.{i}) -> the book's name (inside h.{i}), transposed?
GPT2_NAMES: tuple[tuple[str, str, bool], ...] = (
    ("ln_1.weight", "ln_1.weight", False),
    ("ln_1.bias", "ln_1.bias", False),
    ("attn.c_attn.weight", "attn.qkv.weight", True),
    ("attn.c_attn.bias", "attn.qkv.bias", False),
    ("attn.c_proj.weight", "attn.proj.weight", True),
    ("attn.c_proj.bias", "attn.proj.bias", False),
    ("ln_2.weight", "ln_2.weight", False),
    ("ln_2.bias", "ln_2.bias", False),
    ("mlp.c_fc.weight", "mlp.fc.weight", True),
    ("mlp.c_fc.bias", "mlp.fc.bias", False),
    ("mlp.c_proj.weight", "mlp.proj.weight", True),
    ("mlp.c_proj.bias", "mlp.proj.bias", False),
)
# Llama name (inside model.layers.{i}) -> the book's name (inside h.{i}); q, k, v go to qkv
LLAMA_NAMES: tuple[tuple[str, str], ...] = (
    ("input_layernorm.weight", "ln_1.weight"),
    ("self_attn.o_proj.weight", "attn.proj.weight"),
    ("post_attention_layernorm.weight", "ln_2.weight"),
    ("mlp.gate_proj.weight", "mlp.gate.weight"),
    ("mlp.up_proj.weight", "mlp.fc.weight"),
    ("mlp.down_proj.weight", "mlp.proj.weight"),
)
GPT2_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu"}
MODEL_TYPES = ("gpt2", "llama")
WANTED_FILES = ["config.json", "*.safetensors", "*.safetensors.index.json", "vocab.json"]
WANTED_FILES += ["merges.txt", "tokenizer.json", "tokenizer_config.json"]


class PretrainedError(ValueError):
    """A checkpoint that cannot be found, read or translated; the message says why."""


def checkpoint_folder(name_or_path: str | os.PathLike[str]) -> Path:
    """The local folder holding `name_or_path`: the folder itself, or a hub download.

    A GPT-2 name (`GPT2_HUB`) or any "owner/model" id is fetched with huggingface_hub (only
    config, safetensors and tokenizer files) into its cache; offline, the cached copy is used
    and, when there is none, a `PretrainedError` says how to pass a local folder instead.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    repo_id = GPT2_HUB.get(name, name)
    if path.exists() or (name not in GPT2_HUB and name.count("/") != 1):
        raise PretrainedError(
            f"{name!r} is neither a folder with config.json and *.safetensors nor a hub model "
            f"id; allowed names: {', '.join(GPT2_HUB)} or 'owner/model'"
        )
    try:
        from huggingface_hub import snapshot_download
    except ImportError as err:
        raise PretrainedError(
            f"downloading {repo_id!r} needs huggingface_hub: pip install 'llmbook[pretrained]'"
        ) from err
    try:
        return Path(snapshot_download(repo_id, allow_patterns=WANTED_FILES))
    except Exception as err:  # offline, unknown id, gated model: all end the same way
        raise PretrainedError(
            f"could not download {repo_id!r} ({type(err).__name__}: {str(err)[:200]}). "
            f"Without a network, download it elsewhere (`hf download {repo_id} --local-dir "
            f"{name.split('/')[-1]}`), copy the folder here and pass its path instead of the name"
        ) from err


def read_hf_config(folder: Path) -> dict[str, Any]:
    """config.json of a Hugging Face checkpoint folder, as a dict."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise PretrainedError(f"{folder} has no config.json (a Hugging Face checkpoint has one)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PretrainedError(f"{config_file} is not valid JSON: {err}") from err
    if not isinstance(config, dict) or config.get("model_type") not in MODEL_TYPES:
        kind = config.get("model_type") if isinstance(config, dict) else config
        raise PretrainedError(f"model_type must be one of {MODEL_TYPES}, got {kind!r}")
    return config


def gpt_config_from_hf(hf: dict[str, Any]) -> GPTConfig:
    """The `GPTConfig` of a Hugging Face config.json (GPT-2 or Llama), dropout 0."""
    if hf["model_type"] == "gpt2":
        return _gpt2_config(hf)
    return _llama_config(hf)


def _gpt2_config(hf: dict[str, Any]) -> GPTConfig:
    activation = hf.get("activation_function", "gelu_new")
    if activation not in GPT2_ACTIVATIONS:
        raise PretrainedError(
            f"activation_function must be one of {tuple(GPT2_ACTIVATIONS)}, got {activation!r}"
        )
    if hf.get("scale_attn_by_inverse_layer_idx") or hf.get("scale_attn_weights") is False:
        raise PretrainedError("only GPT-2's usual attention scaling 1/sqrt(head size) is supported")
    return GPTConfig(
        vocab_size=hf["vocab_size"],
        block_size=hf["n_positions"],
        n_layer=hf["n_layer"],
        n_head=hf["n_head"],
        n_embd=hf["n_embd"],
        mlp=GPT2_ACTIVATIONS[activation],
        mlp_hidden=hf.get("n_inner"),
        norm_eps=hf.get("layer_norm_epsilon", 1e-5),
        tie_embeddings=hf.get("tie_word_embeddings", True),
    )


def _llama_config(hf: dict[str, Any]) -> GPTConfig:
    n_embd, n_head = hf["hidden_size"], hf["num_attention_heads"]
    if hf.get("head_dim", n_embd // n_head) != n_embd // n_head:
        raise PretrainedError(
            f"head_dim={hf['head_dim']} differs from hidden_size/num_attention_heads="
            f"{n_embd // n_head}; the book's GPT needs them equal"
        )
    if hf.get("hidden_act", "silu") != "silu" or hf.get("attention_bias") or hf.get("mlp_bias"):
        raise PretrainedError("only Llama's silu MLP without biases is supported")
    rope = hf.get("rope_parameters") or {}  # transformers >= 5; older: rope_theta, rope_scaling
    rope_theta = rope.get("rope_theta", hf.get("rope_theta", 10000.0))
    scaling = hf.get("rope_scaling") or rope
    rope_type = scaling.get("rope_type", scaling.get("type", "default"))
    if rope_type not in ("default", "llama3"):
        raise PretrainedError(f"rope type must be 'default' or 'llama3', got {rope_type!r}")
    settings: dict[str, Any] = {}
    if rope_type == "llama3":
        settings = {
            "rope_scale": float(scaling["factor"]),
            "rope_low_freq_factor": float(scaling["low_freq_factor"]),
            "rope_high_freq_factor": float(scaling["high_freq_factor"]),
            "rope_original_context": int(scaling["original_max_position_embeddings"]),
        }
    return GPTConfig(
        vocab_size=hf["vocab_size"],
        block_size=hf["max_position_embeddings"],
        n_layer=hf["num_hidden_layers"],
        n_head=n_head,
        n_embd=n_embd,
        bias=False,
        norm="rmsnorm",
        mlp="swiglu",
        mlp_hidden=hf["intermediate_size"],
        position="rope",
        rope_base=float(rope_theta),
        n_kv_head=hf.get("num_key_value_heads", n_head),
        tie_embeddings=hf.get("tie_word_embeddings", False),
        norm_eps=hf.get("rms_norm_eps", 1e-6),
        **settings,
    )


def read_safetensors(folder: Path) -> dict[str, Tensor]:
    """Every tensor of the folder's *.safetensors files (one file or shards), by name."""
    from safetensors.torch import load_file

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickled = sorted(p.name for p in folder.glob("*.bin")) + sorted(
            p.name for p in folder.glob("*.pt*")
        )
        also = f" (found {', '.join(pickled)}: pickle files, which can run code, are not read)"
        raise PretrainedError(f"{folder} has no *.safetensors file{also if pickled else ''}")
    state: dict[str, Tensor] = {}
    for file in files:
        state.update(load_file(file))
    return state


def hf_rope_rows_to_pairs(weight: Tensor, n_heads: int) -> Tensor:
    """Reorder each head's rows from Hugging Face's rotate-half layout to the book's pairs.

    Hugging Face rotates (x[i], x[i + hs/2]) together; `apply_rope` rotates (x[2i], x[2i+1]).
    Row i of a head goes to 2i and row i + hs/2 to 2i + 1, the same for q and k, so each
    score q . k (a sum over the same pairs) is unchanged. (n_heads hs, C) -> (n_heads hs, C).
    """
    rows, C = weight.shape
    hs = rows // n_heads
    halves = weight.view(n_heads, 2, hs // 2, C)  # (nh, 2, hs/2, C): first half, second half
    return halves.transpose(1, 2).reshape(rows, C)  # (nh, hs/2, 2, C) -> (nh hs, C): paired


def gpt2_state_dict(hf_state: dict[str, Tensor], config: GPTConfig) -> dict[str, Tensor]:
    """GPT-2's tensors under the book's names, Conv1D matrices transposed."""
    hf_state = {k.removeprefix("transformer."): v for k, v in hf_state.items()}
    state = {name: _take(hf_state, name) for name in ("wte.weight", "wpe.weight")}
    state["ln_f.weight"] = _take(hf_state, "ln_f.weight")
    state["ln_f.bias"] = _take(hf_state, "ln_f.bias")
    for i in range(config.n_layer):
        for hf_name, name, transpose in GPT2_NAMES:
            tensor = _take(hf_state, f"h.{i}.{hf_name}")
            state[f"h.{i}.{name}"] = tensor.t() if transpose else tensor  # (in, out) -> (out, in)
    _add_head(state, hf_state, config)
    return state


def llama_state_dict(hf_state: dict[str, Tensor], config: GPTConfig) -> dict[str, Tensor]:
    """A Llama checkpoint's tensors under the book's names, q and k rows in the book's pairs."""
    hf_state = {k.removeprefix("model."): v for k, v in hf_state.items()}
    state = {"wte.weight": _take(hf_state, "embed_tokens.weight")}
    state["ln_f.weight"] = _take(hf_state, "norm.weight")
    for i in range(config.n_layer):
        layer = f"layers.{i}."
        for hf_name, name in LLAMA_NAMES:
            state[f"h.{i}.{name}"] = _take(hf_state, layer + hf_name)
        q = hf_rope_rows_to_pairs(_take(hf_state, layer + "self_attn.q_proj.weight"), config.n_head)
        k = hf_rope_rows_to_pairs(
            _take(hf_state, layer + "self_attn.k_proj.weight"), config.kv_heads
        )
        v = _take(hf_state, layer + "self_attn.v_proj.weight")
        state[f"h.{i}.attn.qkv.weight"] = torch.cat((q, k, v))  # (C + 2 kv, C): [Wq; Wk; Wv]
    _add_head(state, hf_state, config)
    return state


def _take(hf_state: dict[str, Tensor], name: str) -> Tensor:
    if name not in hf_state:
        raise PretrainedError(f"the checkpoint has no tensor {name!r}")
    return hf_state[name]


def _add_head(state: dict[str, Tensor], hf_state: dict[str, Tensor], config: GPTConfig) -> None:
    """The output matrix: the token embedding when tied, else lm_head.weight."""
    if config.tie_embeddings:
        state["lm_head.weight"] = state["wte.weight"]
    else:
        state["lm_head.weight"] = _take(hf_state, "lm_head.weight")


def from_pretrained(
    name_or_path: str | os.PathLike[str],
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> GPT:
    """A GPT-2 or Llama-architecture checkpoint as the book's `GPT`, in eval mode.

    `name_or_path`: gpt2, gpt2-medium, gpt2-large, gpt2-xl, an "owner/model" hub id (needs a
    network the first time), or a folder with config.json and *.safetensors.
    """
    folder = checkpoint_folder(name_or_path)
    config = gpt_config_from_hf(read_hf_config(folder))
    hf_state = read_safetensors(folder)
    convert = gpt2_state_dict if config.position == "learned" else llama_state_dict
    state = convert(hf_state, config)
    with torch.device("meta"):  # shapes only: no memory, no random initialisation
        model = GPT(config)
    model.load_state_dict(state, assign=True)
    if config.tie_embeddings:
        model.lm_head.weight = model.wte.weight  # assign=True gave each its own Parameter
    if config.position == "rope":  # tables that no checkpoint holds: computed again
        scaling = config.rope_scaling
        tables = rope_frequencies(config.head_size, config.block_size, config.rope_base, scaling)
        model.rope_cos, model.rope_sin = tables  # (block_size, hs/2) each
    return model.to(device=device, dtype=dtype).eval()


def config_summary(config: GPTConfig) -> str:
    """One line: layers, width, heads, vocabulary, context, and the parameter count."""
    millions = param_count(config) / 1e6
    digits = max(0, 2 - int(math.log10(max(millions, 1))))
    return (
        f"{config.n_layer} layers, width {config.n_embd}, {config.n_head} heads "
        f"({config.kv_heads} key/value), vocabulary {config.vocab_size}, context "
        f"{config.block_size}, {millions:.{digits}f}M parameters"
    )


class HFTokenizer:
    """A tokenizer.json read by Hugging Face `tokenizers` (Llama 3's and most recent models'),
    with the book's encode/decode."""

    def __init__(self, path: Path) -> None:
        try:
            from tokenizers import Tokenizer as RustTokenizer
        except ImportError as err:
            raise PretrainedError(f"reading {path} needs the tokenizers package") from err
        self._tok = RustTokenizer.from_file(str(path))

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, with the start token the model expects if it has one."""
        return self._tok.encode(text).ids

    def decode(self, ids: Iterable[int]) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=False)


def load_tokenizer(folder: Path) -> Tokenizer | HFTokenizer:
    """The checkpoint's tokenizer: GPT-2's vocab.json + merges.txt in the book's BPE
    (`load_gpt2_bpe`), else tokenizer.json through Hugging Face `tokenizers`."""
    folder = Path(folder)
    if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        return load_gpt2_bpe(folder / "vocab.json", folder / "merges.txt")
    if (folder / "tokenizer.json").is_file():
        return HFTokenizer(folder / "tokenizer.json")
    raise PretrainedError(f"{folder} has neither vocab.json + merges.txt nor tokenizer.json")
