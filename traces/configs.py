"""Model configurations read from the fields of a Hugging Face ``config.json``.

Only the shapes matter to a kernel trace: hidden size, layers, heads, KV heads, FFN size, vocabulary,
positions, and for ViT the image and patch sizes. The field names differ between model families
(``n_embd``/``n_layer``/``n_head`` for GPT-2, ``ffn_dim`` for OPT, ``image_size``/``patch_size`` for ViT),
so each quantity is looked up under all of its known names. Structural choices that the shapes do not
state (gated MLP, RMSNorm or LayerNorm, rotary or learned positions, biases, tied embeddings) follow
the Hugging Face implementation of the ``model_type``; an unknown ``model_type`` is read with the
llama conventions when the file has ``rms_norm_eps``, otherwise with the GPT-2/BERT ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ailfm.errors import ConfigError

#: Hugging Face model types that are bidirectional encoders (a request is one forward pass, no decode).
ENCODER_MODEL_TYPES = frozenset({"bert", "roberta", "vit", "deit", "distilbert"})
#: Model types whose attention and MLP projections carry biases (Hugging Face implementations).
BIASED_MODEL_TYPES = frozenset({"opt", "gpt2", "bert", "roberta", "vit", "deit", "distilbert", "gpt_neox", "phi"})
#: Model types with learned absolute position embeddings (others use rotary embeddings).
LEARNED_POSITION_MODEL_TYPES = frozenset({"opt", "gpt2", "bert", "roberta", "vit", "deit", "distilbert"})
#: Model types with post-LayerNorm blocks (norm after the residual add), as in the original Transformer.
POST_NORM_MODEL_TYPES = frozenset({"bert", "roberta", "distilbert"})

# Each quantity and the config.json names it goes by, first match wins.
_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "n_embd", "d_model", "dim"),
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "num_heads": ("num_attention_heads", "n_head", "num_heads", "n_heads"),
    "num_kv_heads": ("num_key_value_heads", "n_kv_heads", "num_kv_heads"),
    "intermediate_size": ("intermediate_size", "ffn_dim", "n_inner", "hidden_dim"),
    "vocab_size": ("vocab_size", "n_vocab"),
    "max_positions": ("max_position_embeddings", "n_positions", "n_ctx", "max_seq_len"),
    "activation": ("hidden_act", "activation_function", "hidden_activation"),
}

_ACTIVATIONS = {"silu": "silu", "swish": "silu", "gelu": "gelu", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu",
                "gelu_fast": "gelu", "quick_gelu": "gelu", "relu": "relu"}


@dataclass(frozen=True)
class ModelConfig:
    """The shapes of a transformer model, as the kernel decomposition needs them.

    Attributes
    ----------
    name : str
        Shipped name or file stem.
    model_type : str
        Hugging Face ``model_type``.
    is_encoder : bool
        Bidirectional encoder (BERT, ViT): a request is one prefill pass and produces no tokens.
    hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size : int
        Transformer shapes; ``num_kv_heads < num_heads`` is grouped-query attention.
    vocab_size : int
        Token vocabulary (0 for vision models).
    max_positions : int
        Longest sequence (tokens, or patches + 1 for ViT).
    activation : str
        ``silu``, ``gelu`` or ``relu``.
    gated_mlp : bool
        Llama-style SwiGLU MLP (gate and up projections) instead of one up projection.
    norm : str
        ``rmsnorm`` or ``layernorm``.
    post_norm : bool
        Norm after the residual add (BERT) instead of before the sublayer.
    rotary : bool
        Rotary position embeddings; otherwise learned absolute positions are added to the input.
    linear_bias : bool
        Projections have biases.
    tie_word_embeddings : bool
        The LM head shares the token embedding matrix.
    type_vocab_size : int
        BERT token-type embeddings (0 elsewhere).
    image_size, patch_size, num_channels : int
        ViT input geometry (0 elsewhere).
    num_labels : int
        Classification-head outputs of a vision model (0: no head).
    published_parameters : int or None
        Parameter count published by the model's authors, for checking the shapes.
    source : str
        Where the configuration was taken from (model card).
    """

    name: str
    model_type: str
    is_encoder: bool
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    activation: str
    gated_mlp: bool
    norm: str
    post_norm: bool
    rotary: bool
    linear_bias: bool
    tie_word_embeddings: bool
    type_vocab_size: int = 0
    image_size: int = 0
    patch_size: int = 0
    num_channels: int = 0
    num_labels: int = 0
    published_parameters: int | None = None
    source: str = ""

    @property
    def head_dim(self) -> int:
        """Size of one attention head."""
        return self.hidden_size // self.num_heads

    @property
    def kv_dim(self) -> int:
        """Width of the K (or V) projection: KV heads times head size."""
        return self.num_kv_heads * self.head_dim

    @property
    def is_vision(self) -> bool:
        """Input is an image cut into patches (ViT)."""
        return self.patch_size > 0

    @property
    def num_patches(self) -> int:
        """Patches per image (0 for text models)."""
        return (self.image_size // self.patch_size) ** 2 if self.is_vision else 0

    def parameter_count(self) -> int:
        """Number of weights and biases, from the shapes (the Hugging Face module layout of the model type)."""
        h, f = self.hidden_size, self.intermediate_size
        bias = int(self.linear_bias)
        norm_params = 2 * h if self.norm == "layernorm" else h
        attention = h * h + 2 * h * self.kv_dim + h * h + bias * (2 * h + 2 * self.kv_dim)
        mlp = (3 if self.gated_mlp else 2) * h * f + bias * ((2 if self.gated_mlp else 1) * f + h)
        per_layer = attention + mlp + 2 * norm_params
        total = self.num_layers * per_layer
        if self.is_vision:
            patch = self.num_channels * self.patch_size**2
            total += patch * h + h + h + (self.num_patches + 1) * h  # patch projection, its bias, [CLS], positions
            total += norm_params + (self.num_labels * h + self.num_labels if self.num_labels else 0)
            return total
        total += self.vocab_size * h
        if not self.rotary:
            total += self.max_positions * h + (2 * h if self.model_type == "opt" else 0)  # OPT offsets positions by 2
        if self.model_type in ("bert", "roberta"):
            total += self.type_vocab_size * h + norm_params + h * h + h  # token types, embedding norm, pooler
        else:
            total += norm_params  # final norm
        if not self.is_encoder and not self.tie_word_embeddings:
            total += self.vocab_size * h
        return total


def shipped_models() -> tuple[str, ...]:
    """Names of the configurations shipped in ``ailfm/traces/models`` (``load_model_config`` accepts them)."""
    folder = resources.files("ailfm.traces.models")
    return tuple(sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json")))


def load_model_config(name_or_path: str | Path) -> ModelConfig:
    """Load a shipped model by name (``llama-2-7b``) or any Hugging Face ``config.json`` by path.

    Raises
    ------
    ConfigError
        Unknown name, unreadable JSON, or a missing or invalid field (the message names the field and file).
    """
    text = str(name_or_path)
    if text in shipped_models():
        path = Path(str(resources.files("ailfm.traces.models") / f"{text}.json"))
        name = text
    else:
        path = Path(text)
        if not path.is_file():
            raise ConfigError("model", f"{text!r} is neither a shipped model ({', '.join(shipped_models())}) "
                                       "nor an existing config.json path")
        name = path.parent.name if path.stem == "config" else path.stem
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError("config.json", f"not valid JSON: {err.msg}", path=path, line=err.lineno) from None
    if not isinstance(raw, dict):
        raise ConfigError("config.json", "the top level must be a JSON object", path=path)
    return model_config_from_dict(raw, name=name, path=path)


def model_config_from_dict(raw: dict[str, Any], *, name: str, path: str | Path | None = None) -> ModelConfig:
    """Build and validate a :class:`ModelConfig` from the parsed fields of a ``config.json``."""

    def lookup(quantity: str, default: Any = None) -> Any:
        for key in _FIELD_NAMES[quantity]:
            if raw.get(key) is not None:
                return raw[key]
        if default is None:
            names = " or ".join(_FIELD_NAMES[quantity])
            raise ConfigError(_FIELD_NAMES[quantity][0], f"missing (looked for {names})", path=path)
        return default

    def positive_int(quantity: str, value: Any) -> int:
        field = next((k for k in _FIELD_NAMES.get(quantity, (quantity,)) if k in raw), quantity)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(field, f"must be a positive integer, got {value!r}", path=path)
        return value

    model_type = str(raw.get("model_type", "")).lower()
    is_vision = "patch_size" in raw or "image_size" in raw
    hidden = positive_int("hidden_size", lookup("hidden_size"))
    layers = positive_int("num_layers", lookup("num_layers"))
    heads = positive_int("num_heads", lookup("num_heads"))
    kv_heads = positive_int("num_kv_heads", lookup("num_kv_heads", heads))
    ffn = positive_int("intermediate_size", lookup("intermediate_size", 4 * hidden))
    if hidden % heads:
        raise ConfigError("num_attention_heads", f"{heads} does not divide hidden_size {hidden}", path=path)
    if heads % kv_heads:
        raise ConfigError("num_key_value_heads", f"{kv_heads} does not divide num_attention_heads {heads}", path=path)
    image_size = patch_size = channels = 0
    if is_vision:
        image_size = positive_int("image_size", raw.get("image_size"))
        patch_size = positive_int("patch_size", raw.get("patch_size"))
        channels = positive_int("num_channels", raw.get("num_channels", 3))
        if image_size % patch_size:
            raise ConfigError("patch_size", f"{patch_size} does not divide image_size {image_size}", path=path)
        vocab = 0
        positions = (image_size // patch_size) ** 2 + 1
    else:
        vocab = positive_int("vocab_size", lookup("vocab_size"))
        positions = positive_int("max_positions", lookup("max_positions"))
    act_name = str(lookup("activation", "gelu")).lower()
    if act_name not in _ACTIVATIONS:
        field = next(k for k in _FIELD_NAMES["activation"] if k in raw)
        raise ConfigError(field, f"unsupported activation {act_name!r}; known: {', '.join(sorted(_ACTIVATIONS))}",
                          path=path)
    llama_like = "rms_norm_eps" in raw
    is_encoder = model_type in ENCODER_MODEL_TYPES or is_vision
    linear_bias = model_type in BIASED_MODEL_TYPES or (not model_type and not llama_like)
    if "attention_bias" in raw and model_type not in BIASED_MODEL_TYPES:
        linear_bias = bool(raw["attention_bias"])
    extra = raw.get("ailfm") or {}
    published = extra.get("published_parameters")
    if published is not None and (not isinstance(published, int) or published <= 0):
        raise ConfigError("ailfm.published_parameters", f"must be a positive integer, got {published!r}", path=path)
    labels = raw.get("num_labels", len(raw.get("id2label") or {})) if is_vision else 0
    return ModelConfig(
        name=name,
        model_type=model_type or "unknown",
        is_encoder=is_encoder,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=kv_heads,
        intermediate_size=ffn,
        vocab_size=vocab,
        max_positions=positions,
        activation=_ACTIVATIONS[act_name],
        gated_mlp=_ACTIVATIONS[act_name] == "silu" and llama_like,
        norm="rmsnorm" if llama_like else "layernorm",
        post_norm=model_type in POST_NORM_MODEL_TYPES,
        rotary=model_type not in LEARNED_POSITION_MODEL_TYPES and not is_vision and (llama_like or "rope_theta" in raw),
        linear_bias=linear_bias,
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", not llama_like)),
        type_vocab_size=int(raw.get("type_vocab_size", 0)) if model_type in ("bert", "roberta") else 0,
        image_size=image_size,
        patch_size=patch_size,
        num_channels=channels,
        num_labels=int(labels),
        published_parameters=published,
        source=str(extra.get("source", path or "")),
    )
