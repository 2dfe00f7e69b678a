"""Real checkpoints in the book's GPT: GPT-2 and Llama-architecture models from Hugging Face.

Chapter 15, The Llama block, shows that `llmbook.gpt.GPT` is the real architecture: GPT-2's
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

import dataclasses
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

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
        raise PretrainedError(
            f"{config_file}: model_type must be one of {MODEL_TYPES}, got {kind!r:.80}"
        )
    return config


def read_model_config(folder: Path) -> GPTConfig:
    """The `GPTConfig` of a folder's config.json; PretrainedError naming the file and the key
    that is missing or has a value of the wrong type."""
    config_file = folder / "config.json"
    hf = read_hf_config(folder)
    try:
        return gpt_config_from_hf(hf)
    except KeyError as exc:
        raise PretrainedError(
            f"{config_file} lacks the key {exc.args[0]!r}, which every {hf['model_type']} "
            f"config.json has; download the file again or add it"
        ) from None
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, PretrainedError):
            raise PretrainedError(f"{config_file}: {exc}") from None
        raise PretrainedError(
            f"{config_file} has a bad value: {exc}; fix it or download the file again"
        ) from None


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
    """Every tensor of the folder's *.safetensors files (one file or shards), by name.

    PretrainedError naming the file that is not a safetensors file (cut short, say), and the
    tensor and file holding a nan or an infinity (weights that cannot give a finite logit).
    """
    return _read_safetensors(folder)[0]


def _read_safetensors(folder: Path) -> tuple[dict[str, Tensor], dict[str, Path]]:
    """The tensors by name, and the file each came from."""
    from safetensors.torch import load_file

    try:
        from safetensors import SafetensorError
    except ImportError:  # older safetensors raise plain exceptions
        SafetensorError = Exception

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickled = sorted(p.name for p in folder.glob("*.bin")) + sorted(
            p.name for p in folder.glob("*.pt*")
        )
        also = f" (found {', '.join(pickled)}: pickle files, which can run code, are not read)"
        raise PretrainedError(f"{folder} has no *.safetensors file{also if pickled else ''}")
    state: dict[str, Tensor] = {}
    sources: dict[str, Path] = {}
    for file in files:
        try:
            tensors = load_file(file)
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise PretrainedError(
                f"{file} is not a readable safetensors file ({str(exc).splitlines()[0][:120]}); "
                f"it may be cut short: download it again"
            ) from None
        for name, tensor in tensors.items():
            if name in state:
                raise PretrainedError(f"{file} and {sources[name]} both hold the tensor {name!r}")
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                bad = tensor[~torch.isfinite(tensor)].flatten()[0].item()
                raise PretrainedError(
                    f"{file}: the tensor {name!r} holds {bad}; weights must be finite numbers "
                    f"(the model that wrote them diverged, or the file is damaged)"
                )
        state.update(tensors)
        sources.update(dict.fromkeys(tensors, file))
    return state, sources


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
    hf_state = _strip(hf_state, "transformer.")
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
    hf_state = _strip(hf_state, "model.")
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


class _TensorsRead(dict):
    """Tensors by name that remember which were read (`used`, under their names in the file),
    so that tensors no part of the model takes can be found."""

    def __init__(self, tensors: dict[str, Tensor], used: set[str] | None = None,
                 origin: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(tensors)
        self.used: set[str] = set() if used is None else used
        self.origin = origin or {}

    def __getitem__(self, name: str) -> Tensor:
        tensor = super().__getitem__(name)
        self.used.add(self.origin.get(name, name))
        return tensor


def _strip(hf_state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """The tensors with `prefix` taken off their names (reads still counted as the file's)."""
    origin = {k.removeprefix(prefix): k for k in hf_state}
    stripped = {k.removeprefix(prefix): v for k, v in hf_state.items()}
    if isinstance(hf_state, _TensorsRead):
        origin = {short: hf_state.origin.get(long, long) for short, long in origin.items()}
        return _TensorsRead(stripped, hf_state.used, origin)
    return stripped


# Tensors some checkpoints store that are no weights: GPT-2's causal masks, Llama's RoPE table.
NOT_WEIGHTS = (".attn.bias", ".attn.masked_bias", "rotary_emb.inv_freq")


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
    allow_unused: bool = False,
) -> GPT:
    """A GPT-2 or Llama-architecture checkpoint as the book's `GPT`, in eval mode.

    `name_or_path`: gpt2, gpt2-medium, gpt2-large, gpt2-xl, an "owner/model" hub id (needs a
    network the first time), or a folder with config.json and *.safetensors. Every problem is
    a PretrainedError naming the file: a damaged file, config.json's missing keys or bad
    values, weights whose shapes disagree with config.json or that hold nan or inf, and
    tensors that no part of the model uses (unless `allow_unused`).
    """
    _check_device(device)
    folder = checkpoint_folder(name_or_path)
    config = read_model_config(folder)
    tensors, sources = _read_safetensors(folder)
    hf_state = _TensorsRead(tensors)
    convert = gpt2_state_dict if config.position == "learned" else llama_state_dict
    try:
        state = convert(hf_state, config)
    except PretrainedError as exc:  # a tensor config.json's model needs is missing
        raise PretrainedError(f"{folder}: {exc}; config.json and the weights disagree") from None
    except RuntimeError as exc:  # q, k, v or a head's rows that do not fit config.json
        raise PretrainedError(
            f"the weights in {folder} do not fit its config.json: {str(exc).splitlines()[0]}"
        ) from None
    with torch.device("meta"):  # shapes only: no memory, no random initialisation
        model = GPT(config)
    _check_shapes(state, model, folder)
    _check_unused(hf_state, sources, config, allow_unused)
    model.load_state_dict(state, assign=True)
    if config.tie_embeddings:
        model.lm_head.weight = model.wte.weight  # assign=True gave each its own Parameter
    if config.position == "rope":  # tables that no checkpoint holds: computed again
        scaling = config.rope_scaling
        tables = rope_frequencies(config.head_size, config.block_size, config.rope_base, scaling)
        model.rope_cos, model.rope_sin = tables  # (block_size, hs/2) each
    return model.to(device=device, dtype=dtype).eval()


def _check_device(device: str | torch.device) -> None:
    """PretrainedError unless `device` is one this machine has and that holds numbers."""
    from llmbook.checkpoint import _check_device_available

    try:
        _check_device_available(device)
    except ValueError as exc:
        raise PretrainedError(str(exc)) from None


def _check_shapes(state: dict[str, Tensor], model: GPT, folder: Path) -> None:
    """PretrainedError naming the first weights whose shape config.json's sizes do not give."""
    wrong = [
        f"{name} has shape {tuple(state[name].shape)}, config.json's sizes give "
        f"{tuple(expected.shape)}"
        for name, expected in model.state_dict().items()
        if name in state and tuple(state[name].shape) != tuple(expected.shape)
    ]
    wrong += [
        f"{name} holds {tensor.dtype} numbers, not floating-point weights"
        for name, tensor in state.items()
        if not tensor.is_floating_point()
    ]
    if wrong:
        raise PretrainedError(
            f"the weights in {folder} do not fit its config.json: {'; '.join(wrong[:3])}"
            f"{f' (and {len(wrong) - 3} more)' if len(wrong) > 3 else ''}; the two files come "
            f"from different models"
        )


def _check_unused(
    hf_state: _TensorsRead, sources: dict[str, Path], config: GPTConfig, allow_unused: bool
) -> None:
    """PretrainedError if the files hold tensors no part of the model takes: they mean that
    config.json describes a smaller model than the weights (or another architecture)."""
    unused = sorted(k for k in hf_state if k not in hf_state.used and not k.endswith(NOT_WEIGHTS))
    head = next((k for k in unused if k.endswith("lm_head.weight")), None)
    if head is not None and config.tie_embeddings:  # a tied head saved anyway: must be wte
        embedding = next(
            k for k in hf_state.used if k.endswith(("wte.weight", "embed_tokens.weight"))
        )
        if not torch.equal(hf_state[head], dict.__getitem__(hf_state, embedding)):
            raise PretrainedError(
                f"{sources[head]}: config.json ties the output layer to the token embedding "
                f"(tie_word_embeddings), but {head} differs from {embedding}; set "
                f'"tie_word_embeddings": false in config.json'
            )
        unused.remove(head)
    if unused and not allow_unused:
        raise PretrainedError(
            f"{sources[unused[0]]} holds {len(unused)} tensor(s) this model does not use "
            f"({', '.join(unused[:4])}{', ...' if len(unused) > 4 else ''}): config.json may "
            f"describe fewer layers or another architecture than the weights; pass "
            f"allow_unused=True to load it anyway"
        )


def crop_block_size(model: GPT, block_size: int) -> GPT:
    """Shorten `model`'s context to `block_size` positions, in place (nanoGPT's
    `crop_block_size`): the position table keeps its first rows, RoPE's tables their first
    positions. A model cannot be given more positions than it was trained with."""
    most = model.config.block_size
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    if block_size > most:
        raise ValueError(
            f"block_size={block_size} is longer than the pretrained model's context of {most} "
            f"positions; it can only be shortened (--block-size up to {most})"
        )
    model.config = dataclasses.replace(model.config, block_size=block_size)
    if model.config.position == "learned":
        model.wpe.weight = nn.Parameter(model.wpe.weight.detach()[:block_size].clone())  # (T, C)
        model.wpe.num_embeddings = block_size
    else:
        model.rope_cos = model.rope_cos[:block_size].clone()  # (T, hs/2)
        model.rope_sin = model.rope_sin[:block_size].clone()
    return model


def set_dropout(model: GPT, dropout: float) -> GPT:
    """Give every dropout of `model` (after embeddings, attention weights, residual branches)
    the probability `dropout`, in place; a loaded checkpoint comes with 0."""
    model.config = dataclasses.replace(model.config, dropout=dropout)  # checks the value
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = dropout
        elif hasattr(module, "dropout") and isinstance(module.dropout, float):
            module.dropout = dropout  # attention's dropout on its weights
    return model


def training_config(
    name_or_path: str, block_size: int | None = None, dropout: float = 0.0
) -> GPTConfig:
    """The `GPTConfig` that `load_for_training` will give, from config.json alone (no weights
    read), so that the memory a run needs can be checked before loading anything."""
    config = read_model_config(checkpoint_folder(name_or_path))
    if block_size is not None:
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise PretrainedError(f"block_size must be a positive integer, got {block_size!r}")
        if block_size > config.block_size:
            raise PretrainedError(
                f"--init-from {name_or_path}: block_size={block_size} is longer than the "
                f"pretrained model's context of {config.block_size} positions; it can only be "
                f"shortened (--block-size up to {config.block_size})"
            )
        config = dataclasses.replace(config, block_size=block_size)
    return dataclasses.replace(config, dropout=dropout)


def load_for_training(
    name_or_path: str, block_size: int | None = None, dropout: float = 0.0
) -> tuple[GPT, Tokenizer]:
    """A pretrained model (in training mode) and its tokenizer, for `llmbook.train --init-from`.

    `block_size` shortens the model's context (`crop_block_size`); None keeps it. The
    tokenizer must be GPT-2-format vocab.json + merges.txt (the book's BPE reads them and a
    checkpoint can hold it); its ids must all be rows of the model, which may have more rows
    than the tokenizer has tokens (a padded vocabulary). PretrainedError says what is wrong.
    """
    try:
        folder = checkpoint_folder(name_or_path)
        tokenizer = load_tokenizer(folder)
        if not isinstance(tokenizer, Tokenizer):
            raise PretrainedError(
                f"--init-from {name_or_path}: training needs GPT-2-format vocab.json and "
                "merges.txt (the book's BPE reads them); this model has only tokenizer.json"
            )
        model = from_pretrained(folder)
    except ImportError as exc:
        raise PretrainedError(
            f"--init-from needs: pip install 'llmbook[pretrained]' ({exc})"
        ) from exc
    if tokenizer.vocab_size > model.config.vocab_size:
        raise PretrainedError(
            f"{folder}: the tokenizer (vocab.json) has {tokenizer.vocab_size} tokens but the "
            f"model (config.json vocab_size) only {model.config.vocab_size} rows; they belong "
            f"to different models"
        )
    if block_size is not None:
        try:
            crop_block_size(model, block_size)
        except ValueError as exc:
            raise PretrainedError(f"--init-from {name_or_path}: {exc}") from None
    set_dropout(model, dropout)
    return model.train(), tokenizer


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
