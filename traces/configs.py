"""The one LLM model registry and Hugging Face ``config.json`` reader, for both pipelines.

The registry is the folder ``ailfm/traces/models``: one ``config.json`` per shipped model, named like the Hugging Face
model (``llama-3-8b``, ``gpt2-xl``), with an ``ailfm`` section giving its source and published parameter count. The
AILFM kernel traces (``ailfm trace``, ``ailfm simulate``) read a :class:`ModelConfig`; Compass (``ailfm map``) reads
the per-block view of the same object (``ailfm.mapping.models.LlmConfig.of``). Old registry names (Compass's
``llama3-8b``...) are accepted with a ``FutureWarning`` that names the new one.

Field names differ between model families (``n_embd``/``n_layer``/``n_head`` for GPT-2, ``ffn_dim`` for OPT,
``image_size``/``patch_size`` for ViT), so each quantity is looked up under all of its known names (first present,
non-null one wins). The reader also takes grouped-query and multi-query attention, an explicit ``head_dim``,
mixture-of-experts blocks (Mixtral's ``num_local_experts``, Qwen-MoE's ``num_experts``/``moe_intermediate_size``/
``shared_expert_intermediate_size``, DeepSeek-MoE's ``n_shared_experts``), sliding-window attention and multimodal
configs that keep the language model under ``text_config``. Structural choices that the shapes do not state (gated
MLP, RMSNorm or LayerNorm, rotary or learned positions, biases, tied embeddings) follow the Hugging Face
implementation of the ``model_type``; an unknown ``model_type`` is read with the llama conventions when the file has
``rms_norm_eps``, otherwise with the GPT-2/BERT ones. Errors name the file, the field and its line.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ailfm.errors import ConfigError
from ailfm.files import Lines, load_document, positive, require

#: Hugging Face model types that are bidirectional encoders (a request is one forward pass, no decode).
ENCODER_MODEL_TYPES = frozenset({"bert", "roberta", "vit", "deit", "distilbert"})
#: Model types whose attention and MLP projections carry biases (Hugging Face implementations).
BIASED_MODEL_TYPES = frozenset({"opt", "gpt2", "bert", "roberta", "vit", "deit", "distilbert", "gpt_neox", "phi"})
#: Model types with learned absolute position embeddings (others use rotary embeddings).
LEARNED_POSITION_MODEL_TYPES = frozenset({"opt", "gpt2", "bert", "roberta", "vit", "deit", "distilbert"})
#: Model types with post-LayerNorm blocks (norm after the residual add), as in the original Transformer.
POST_NORM_MODEL_TYPES = frozenset({"bert", "roberta", "distilbert"})
#: Model types with a gated (GLU) MLP: gate and up projections, whatever the activation is called.
GATED_MODEL_TYPES = frozenset({"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma",
                               "gemma2", "phi3", "olmo", "granite"})
#: Old registry names (Compass's presets) and the names they have now.
RENAMED_MODELS = {"llama3-8b": "llama-3-8b", "llama3-70b": "llama-3-70b", "gpt3-6.7b": "gpt-3-6.7b",
                  "gpt3-13b": "gpt-3-13b"}

# Each quantity and the config.json names it goes by, first present and non-null one wins.
HF_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "n_embd", "d_model", "dim"),
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "num_heads": ("num_attention_heads", "n_head", "num_heads", "n_heads"),
    "num_kv_heads": ("num_key_value_heads", "n_kv_heads", "num_kv_heads"),
    "head_dim": ("head_dim",),
    "intermediate_size": ("intermediate_size", "ffn_dim", "n_inner", "hidden_dim"),
    "vocab_size": ("vocab_size", "n_vocab"),
    "max_positions": ("max_position_embeddings", "n_positions", "n_ctx", "max_seq_len"),
    "activation": ("hidden_act", "activation_function", "hidden_activation"),
    "num_experts": ("num_local_experts", "num_experts", "n_routed_experts"),
    "experts_per_token": ("num_experts_per_tok",),
    "expert_size": ("moe_intermediate_size",),
    "shared_expert_size": ("shared_expert_intermediate_size",),
}

_ACTIVATIONS = {"silu": "silu", "swish": "silu", "swiglu": "silu", "gelu": "gelu", "gelu_new": "gelu",
                "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu", "quick_gelu": "gelu", "relu": "relu"}
_GATED_ACTIVATIONS = frozenset({"silu", "swish", "swiglu"})
# Sliding-window attention on some layers only (interleaved with full attention).
_PER_LAYER_WINDOW = frozenset({"layer_types", "sliding_window_pattern"})
_PER_LAYER_WINDOW_TYPES = frozenset({"gemma2", "gemma3", "gemma3_text", "cohere2"})
#: Upper bound of each quantity and why: a value beyond it is a typo or a unit mistake (``hidden_size: 2^40``), and
#: would overflow the shape arithmetic or exhaust memory in the kernel tables before the first result.
HF_FIELD_BOUNDS: dict[str, tuple[int, str]] = {
    "hidden_size": (2**18, "over 10x the widest published transformer (PaLM 540B, 18432)"),
    "num_layers": (4096, "over 30x the deepest published LLM (Llama 3.1 405B, 126 layers)"),
    "num_heads": (4096, "over 30x the most attention heads published (Llama 3.1 405B, 128)"),
    "num_kv_heads": (4096, "over 30x the most attention heads published (Llama 3.1 405B, 128)"),
    "head_dim": (2**14, "over 60x the widest published head (Gemma, 256)"),
    "intermediate_size": (2**20, "over 10x the widest published MLP (PaLM 540B, 73728)"),
    "vocab_size": (2**24, "over 60x the largest published vocabulary (Gemma, 256000)"),
    "max_positions": (2**30, "100x the longest published context (Llama 4 Scout, 10485760 tokens)"),
    "num_experts": (4096, "10x the most routed experts published (Kimi K2, 384)"),
    "experts_per_token": (4096, "10x the most routed experts published (Kimi K2, 384)"),
    "expert_size": (2**20, "over 10x the widest published MLP (PaLM 540B, 73728)"),
    "shared_expert_size": (2**20, "over 10x the widest published MLP (PaLM 540B, 73728)"),
    "n_shared_experts": (4096, "10x the most routed experts published (Kimi K2, 384)"),
    "sliding_window": (2**30, "100x the longest published context (Llama 4 Scout, 10485760 tokens)"),
    "image_size": (2**16, "a 65536-pixel side is far beyond any vision transformer's input (224-1024)"),
    "num_channels": (1024, "images have 1-16 channels (RGB: 3)"),
    "num_labels": (2**24, "over 700x ImageNet-21k's 21843 classes"),
    "type_vocab_size": (2**16, "BERT has 2 token types"),
}
#: Patches per image: attention over N patches costs N^2 (ViT-L/16 at 224 px has 196).
MAX_PATCHES = 2**20
#: Fields whose type the reader depends on (a wrong type would silently pick another architecture).
_BOOLEAN_FIELDS = ("tie_word_embeddings", "attention_bias", "multi_query", "use_sliding_window", "is_encoder_decoder")
_NUMBER_FIELDS = ("rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon", "rope_theta")
# Architectures whose blocks are not a decoder of Q/K/V heads + FFN: refused with the field that says so.
_UNSUPPORTED = {
    "kv_lora_rank": "multi-head latent attention (DeepSeek-V2/V3) is not modelled",
    "is_encoder_decoder": "encoder-decoder models are not modelled",
}


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
    hidden_size, num_layers, num_heads, num_kv_heads, head_dim : int
        Transformer shapes; ``num_kv_heads < num_heads`` is grouped-query attention.
    intermediate_size : int
        Width of the MLP (of each expert's, for a mixture of experts).
    vocab_size : int
        Token vocabulary (0 for vision models, and when the file does not give it).
    max_positions : int
        Longest sequence (tokens, or patches + 1 for ViT; 0 when the file does not give it).
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
    num_experts, experts_per_token, shared_expert_size : int
        Mixture of experts: a router picks ``experts_per_token`` of ``num_experts`` MLPs per token, and a shared
        expert of width ``shared_expert_size`` (0: none) sees every token; ``num_experts = 0`` is a dense MLP.
    attention_window : int
        Sliding-window attention: a query sees at most this many keys (0: the whole context).
    published_parameters : int or None
        Parameter count published by the model's authors, for checking the shapes.
    source : str
        Where the configuration was taken from (model card).
    notes : tuple of str
        What the reader chose not to model (printed with a Compass run).
    """

    name: str
    model_type: str
    is_encoder: bool
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
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
    num_experts: int = 0
    experts_per_token: int = 0
    shared_expert_size: int = 0
    attention_window: int = 0
    published_parameters: int | None = None
    source: str = ""
    notes: tuple[str, ...] = field(default=(), compare=False)
    #: where ``max_positions`` was read: (field, file, line), for errors about the context limit
    context_field: tuple[str, str, int | None] = field(default=("max_position_embeddings", "", None), compare=False)

    @property
    def q_dim(self) -> int:
        """Width of the Q projection (and the input of the output projection): heads times head size."""
        return self.num_heads * self.head_dim

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
        h, f, q = self.hidden_size, self.intermediate_size, self.q_dim
        bias = int(self.linear_bias)
        norm_params = 2 * h if self.norm == "layernorm" else h
        attention = h * q + 2 * h * self.kv_dim + q * h + bias * (q + h + 2 * self.kv_dim)
        matrices = 3 if self.gated_mlp else 2
        mlp = matrices * h * f + bias * ((2 if self.gated_mlp else 1) * f + h)
        if self.num_experts:  # every expert, the router, the shared expert
            mlp = mlp * self.num_experts + h * self.num_experts + matrices * h * self.shared_expert_size
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
    """Load a shipped model by name (``llama-3-8b``; an old name with a FutureWarning) or any Hugging Face
    ``config.json`` by path (or the folder holding it).

    Raises
    ------
    ConfigError
        Unknown name, or a missing or invalid field (the message names the field, the file and its line).
    FormatError
        Unreadable or malformed JSON (names the file and line).
    """
    text = str(name_or_path)
    if text in RENAMED_MODELS:
        warnings.warn(f"model {text!r} is now called {RENAMED_MODELS[text]!r}; the old name will go",
                      FutureWarning, stacklevel=2)
        text = RENAMED_MODELS[text]
    if text in shipped_models():
        path = Path(str(resources.files("ailfm.traces.models") / f"{text}.json"))
        name = text
    else:
        path = Path(text)
        if path.is_dir():
            path = path / "config.json"
        if not path.is_file():
            raise ConfigError("model", f"{text!r} is not a known model: neither a shipped one "
                                       f"({', '.join(shipped_models())}) nor an existing config.json path")
        name = path.parent.name if path.stem == "config" else path.stem
    raw, lines = load_document(path)
    if isinstance(raw, dict) and isinstance(raw.get("_name_or_path"), str) and raw["_name_or_path"]:
        name = raw["_name_or_path"]
    return model_config_from_dict(raw, lines, name=name)


def model_config_from_dict(raw: Any, lines: Lines, *, name: str, prefix: str = "") -> ModelConfig:
    """Build and validate a :class:`ModelConfig` from the parsed fields of a ``config.json`` (``lines`` locates
    them); a multimodal config's language model is read from its ``text_config``."""
    if not isinstance(raw, dict):
        raise lines.error(prefix.rstrip(".") or "config.json", "expected a JSON object")
    if raw.get("text_config") is not None and not isinstance(raw["text_config"], dict):
        raise lines.error(prefix + "text_config", f"expected a JSON object (the language model's fields), got "
                                                  f"{raw['text_config']!r}")
    if "text_config" in raw and not any(n in raw for n in HF_FIELD_NAMES["hidden_size"]):
        return model_config_from_dict(raw["text_config"], lines, name=name, prefix=f"{prefix}text_config.")
    _check_field_types(raw, lines, prefix)
    for key, reason in _UNSUPPORTED.items():
        if raw.get(key):
            raise lines.error(prefix + key, reason)

    def present(quantity: str) -> str | None:
        return next((n for n in HF_FIELD_NAMES[quantity] if raw.get(n) is not None), None)

    def number(quantity: str, default: int | None = None) -> int:
        key = present(quantity)
        if key is None:
            if default is None:
                names = HF_FIELD_NAMES[quantity]
                also = f" (also looked for {', '.join(names[1:])})" if len(names) > 1 else ""
                raise lines.error(prefix + names[0], f"missing required field{also}")
            return default
        return bounded(quantity, key)

    def bounded(quantity: str, key: str, least: int = 1) -> int:
        value = require(raw, key, lines, int, prefix=prefix.rstrip("."))
        if value < least:
            raise lines.error(prefix + key, f"must be {'> 0' if least == 1 else f'>= {least}'}, got {value}")
        limit, why = HF_FIELD_BOUNDS[quantity]
        if value > limit:
            raise lines.error(prefix + key, f"{value} is above {limit} ({why}): a typo or a unit mistake")
        return value

    def where(quantity: str) -> str:
        return prefix + (present(quantity) or HF_FIELD_NAMES[quantity][0])

    model_type = str(raw.get("model_type") or "").lower()
    is_vision = "patch_size" in raw or "image_size" in raw
    hidden = number("hidden_size")
    heads = number("num_heads")
    kv_heads = number("num_kv_heads", 1 if raw.get("multi_query") is True else heads)
    if present("head_dim") is None and hidden % heads:
        raise lines.error(where("num_heads"),
                          f"{heads} does not divide hidden size {hidden} (and head_dim is not given)")
    head_dim = number("head_dim", hidden // heads)
    if heads % kv_heads:
        raise lines.error(where("num_kv_heads"), f"{kv_heads} does not divide {heads} attention heads")
    layers = number("num_layers")
    experts = number("num_experts", 0)
    moe = {}
    if experts:
        moe["experts_per_token"] = number("experts_per_token")
        if moe["experts_per_token"] > experts:
            raise lines.error(prefix + "num_experts_per_tok",
                              f"{moe['experts_per_token']} is more than the {experts} experts")
        shared = number("shared_expert_size", 0)
        if raw.get("n_shared_experts") is not None:  # DeepSeek-MoE: n shared experts, each of the routed width
            shared = bounded("n_shared_experts", "n_shared_experts", least=0) * number("expert_size")
        moe["shared_expert_size"] = shared
        ffn = number("expert_size", number("intermediate_size", 4 * hidden))
    else:
        ffn = number("intermediate_size", 4 * hidden)
    image_size = patch_size = channels = 0
    if is_vision:
        image_size = bounded("image_size", "image_size")
        patch_size = int(positive(require(raw, "patch_size", lines, int, prefix=prefix.rstrip(".")),
                                  prefix + "patch_size", lines))
        channels = bounded("num_channels", "num_channels") if "num_channels" in raw else 3
        if image_size % patch_size:
            raise lines.error(prefix + "patch_size", f"{patch_size} does not divide image_size {image_size}")
        if (image_size // patch_size) ** 2 > MAX_PATCHES:
            raise lines.error(prefix + "patch_size", f"{(image_size // patch_size) ** 2} patches per image is above "
                                                     f"{MAX_PATCHES} (attention costs patches^2; ViT-L/16 has 196)")
        vocab, positions = 0, (image_size // patch_size) ** 2 + 1
    else:
        vocab, positions = number("vocab_size", 0), number("max_positions", 0)
    act_key = present("activation")
    if act_key and not isinstance(raw[act_key], str):
        raise lines.error(prefix + act_key, f"expected an activation name, got {raw[act_key]!r}")
    act_name = str(raw[act_key] if act_key else "gelu").lower()
    if act_name not in _ACTIVATIONS:
        raise lines.error(prefix + act_key, f"unsupported activation {act_name!r}; known: "
                                            f"{', '.join(sorted(_ACTIVATIONS))}")
    window, notes = 0, []
    if raw.get("sliding_window") is not None and raw.get("use_sliding_window", True) is not False:
        window = bounded("sliding_window", "sliding_window")
        if _PER_LAYER_WINDOW & set(raw) or model_type in _PER_LAYER_WINDOW_TYPES:
            notes.append(f"{name}: sliding_window {window} applies to some layers only: the mapped blocks use "
                         "full-context attention (an upper bound for the windowed layers)")
            window = 0
    llama_like = "rms_norm_eps" in raw
    linear_bias = model_type in BIASED_MODEL_TYPES or (not model_type and not llama_like)
    if "attention_bias" in raw and model_type not in BIASED_MODEL_TYPES:
        linear_bias = bool(raw["attention_bias"])
    extra = raw.get("ailfm") or {}
    if not isinstance(extra, dict):
        raise lines.error(prefix + "ailfm", f"expected a JSON object (source, published_parameters), got {extra!r}")
    published = extra.get("published_parameters")
    if published is not None and (isinstance(published, bool) or not isinstance(published, int) or published <= 0):
        raise lines.error(prefix + "ailfm.published_parameters", f"must be a positive integer, got {published!r}")
    labels = 0
    if is_vision:
        labels = (bounded("num_labels", "num_labels", least=0) if raw.get("num_labels") is not None
                  else len(raw.get("id2label") or {}))
    type_vocab = 0
    if model_type in ("bert", "roberta") and raw.get("type_vocab_size") is not None:
        type_vocab = bounded("type_vocab_size", "type_vocab_size", least=0)
    return ModelConfig(
        name=name,
        model_type=model_type or "unknown",
        is_encoder=model_type in ENCODER_MODEL_TYPES or is_vision,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=ffn,
        vocab_size=vocab,
        max_positions=positions,
        activation=_ACTIVATIONS[act_name],
        gated_mlp=act_name in _GATED_ACTIVATIONS or model_type in GATED_MODEL_TYPES,
        norm="rmsnorm" if llama_like else "layernorm",
        post_norm=model_type in POST_NORM_MODEL_TYPES,
        rotary=model_type not in LEARNED_POSITION_MODEL_TYPES and not is_vision and (llama_like or "rope_theta" in raw),
        linear_bias=linear_bias,
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", not llama_like)),
        type_vocab_size=type_vocab,
        image_size=image_size,
        patch_size=patch_size,
        num_channels=channels,
        num_labels=labels,
        num_experts=experts,
        **moe,
        attention_window=window,
        published_parameters=published,
        source=str(extra.get("source", lines.path)),
        notes=tuple(notes),
        context_field=(where("max_positions"), lines.path, lines.line(where("max_positions"))),
    )


def _check_field_types(raw: dict, lines: Lines, prefix: str) -> None:
    """The fields whose type decides how the file is read: a wrong type is an error, not another architecture
    (``"tie_word_embeddings": "false"`` is a true string). Fields the reader does not use are not checked: real
    ``config.json`` files carry many (``torch_dtype``, ``architectures``, token ids)."""
    where = prefix.rstrip(".")
    if raw.get("model_type") is not None and not isinstance(raw["model_type"], str):
        raise lines.error(prefix + "model_type", f"expected a Hugging Face model type name (llama, gpt2, ...), got "
                                                 f"{raw['model_type']!r}")
    for key in _BOOLEAN_FIELDS:
        if raw.get(key) is not None:
            require(raw, key, lines, bool, prefix=where)
    for key in _NUMBER_FIELDS:
        if raw.get(key) is not None:
            positive(require(raw, key, lines, float, prefix=where), prefix + key, lines)
    if raw.get("id2label") is not None:
        require(raw, "id2label", lines, dict, prefix=where)
