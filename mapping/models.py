"""LLM configurations: the shapes of one transformer block.

Presets follow the published model cards (GPT-3: Brown et al., "Language Models are Few-Shot
Learners", NeurIPS 2020, Table 2.1; Llama 3: Meta's ``config.json`` files for Meta-Llama-3-8B/70B).
Any Hugging Face ``config.json`` can be read with :func:`load_model`: dense decoders (GPT-2/GPT-J/OPT/
Llama/Mistral/Qwen2/Phi-3 field names), grouped-query attention, and mixture-of-experts blocks (Mixtral's
``num_local_experts``, Qwen-MoE's ``num_experts``/``moe_intermediate_size``/``shared_expert_intermediate_size``).
:func:`model_from_hf_dict` works on the parsed fields, so another reader (``traces``) can share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ailfm.errors import ConfigError
from ailfm.mapping.files import Lines, load_document, positive, require


@dataclass(frozen=True)
class LlmConfig:
    """Shapes of one decoder block.

    ``gated_ffn`` is True for SwiGLU feed-forward networks (three matrices: gate, up, down), False
    for GeLU MLPs (two). ``n_kv_heads < n_heads`` is grouped-query attention. ``n_experts > 0`` makes the FFN
    a mixture of experts: a router picks ``experts_per_token`` of ``n_experts`` FFNs of width ``d_ffn`` per
    token, and a shared expert of width ``d_shared_expert`` (0: none) sees every token. ``attention_window > 0`` is
    sliding-window attention (a query sees at most that many keys). ``notes`` are what the reader of a config
    file chose not to model (printed with the run).
    """

    name: str
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_head: int
    d_ffn: int
    gated_ffn: bool
    n_blocks: int
    n_experts: int = 0
    experts_per_token: int = 0
    d_shared_expert: int = 0
    attention_window: int = 0
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        for name in ("d_model", "n_heads", "n_kv_heads", "d_head", "d_ffn", "n_blocks"):
            if getattr(self, name) <= 0:
                raise ConfigError(name, f"must be > 0, got {getattr(self, name)}")
        if self.n_heads % self.n_kv_heads:
            raise ConfigError("n_kv_heads", f"{self.n_kv_heads} does not divide n_heads={self.n_heads}")
        if self.n_experts < 0 or self.d_shared_expert < 0 or self.attention_window < 0:
            raise ConfigError("n_experts", "expert counts and widths must be >= 0")
        if self.n_experts and not 1 <= self.experts_per_token <= self.n_experts:
            raise ConfigError("experts_per_token", f"must be in 1..n_experts={self.n_experts}, "
                              f"got {self.experts_per_token}")
        if not self.n_experts and (self.experts_per_token or self.d_shared_expert):
            raise ConfigError("n_experts", "experts_per_token and d_shared_expert need n_experts > 0")

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def heads_per_kv_head(self) -> int:
        """Query heads sharing one K/V head (1 without grouped-query attention)."""
        return self.n_heads // self.n_kv_heads

    def block_weight_bytes(self, bytes_per_element: int = 1) -> int:
        """Weights of one block (attention, FFN or every expert, router), in bytes."""
        qkv = self.d_model * (self.n_heads + 2 * self.n_kv_heads) * self.d_head
        out = self.n_heads * self.d_head * self.d_model
        matrices = 3 if self.gated_ffn else 2
        ffn = matrices * self.d_model * self.d_ffn * max(self.n_experts, 1)
        moe = self.d_model * self.n_experts + matrices * self.d_model * self.d_shared_expert
        return (qkv + out + ffn + moe) * bytes_per_element


MODEL_PRESETS: dict[str, LlmConfig] = {
    # GPT-3 6.7B and 13B: Brown et al. 2020, Table 2.1 (d_ffn = 4 d_model).
    "gpt3-6.7b": LlmConfig("gpt3-6.7b", 4096, 32, 32, 128, 16384, False, 32),
    "gpt3-13b": LlmConfig("gpt3-13b", 5120, 40, 40, 128, 20480, False, 40),
    # Llama 3: config.json of meta-llama/Meta-Llama-3-8B and -70B (GQA with 8 KV heads, SwiGLU).
    "llama3-8b": LlmConfig("llama3-8b", 4096, 32, 8, 128, 14336, True, 32),
    "llama3-70b": LlmConfig("llama3-70b", 8192, 64, 8, 128, 28672, True, 80),
}
# Table 2.1 lists d_model 5140 for GPT-3 13B but 40 heads x 128 = 5120; we use 5120 so that heads tile the width.

_GATED_ACTIVATIONS = {"silu", "swiglu", "swish"}
_GATED_MODEL_TYPES = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2",
                      "phi3", "olmo", "granite"}

# Each quantity and the config.json names it goes by (first present, non-null one wins).
HF_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "d_model": ("hidden_size", "n_embd", "d_model"),
    "n_heads": ("num_attention_heads", "n_head", "num_heads"),
    "n_kv_heads": ("num_key_value_heads", "n_kv_heads", "num_kv_heads"),
    "d_head": ("head_dim",),
    "d_ffn": ("intermediate_size", "n_inner", "ffn_dim"),
    "n_blocks": ("num_hidden_layers", "n_layer", "num_layers"),
    "n_experts": ("num_local_experts", "num_experts", "n_routed_experts"),
    "experts_per_token": ("num_experts_per_tok",),
    "d_expert": ("moe_intermediate_size",),
    "d_shared_expert": ("shared_expert_intermediate_size",),
}
# Sliding-window attention on some layers only (interleaved with full attention).
_PER_LAYER_WINDOW = {"layer_types", "sliding_window_pattern"}
_PER_LAYER_WINDOW_TYPES = {"gemma2", "gemma3", "gemma3_text", "cohere2"}
# Architectures whose blocks are not a decoder of Q/K/V heads + FFN: refused with the field that says so.
_UNSUPPORTED = {
    "kv_lora_rank": "multi-head latent attention (DeepSeek-V2/V3) is not modelled",
    "is_encoder_decoder": "encoder-decoder models are not modelled (Compass maps decoder blocks)",
}


def model_from_hf_dict(doc: dict, lines: Lines, name: str, prefix: str = "") -> LlmConfig:
    """Validate the parsed fields of a Hugging Face ``config.json``; errors name the field and its line.

    Multimodal configs that keep the language model under ``text_config`` are read from there.
    """
    if not isinstance(doc, dict):
        raise lines.error(prefix or "config", "expected a JSON object")
    if "text_config" in doc and not any(n in doc for n in HF_FIELD_NAMES["d_model"]):
        return model_from_hf_dict(doc["text_config"], lines, name, f"{prefix}text_config.")
    for key, reason in _UNSUPPORTED.items():
        if doc.get(key):
            raise lines.error(prefix + key, reason)

    def number(quantity: str, default: int | None = None) -> int:
        names = HF_FIELD_NAMES[quantity]
        key = next((n for n in names if doc.get(n) is not None), None)
        if key is None:
            if default is None:
                also = f" (also looked for {', '.join(names[1:])})" if len(names) > 1 else ""
                raise lines.error(prefix + names[0], f"missing required field{also}")
            return default
        return int(positive(require(doc, key, lines, int, prefix=prefix.rstrip(".")), prefix + key, lines))

    d_model = number("d_model")
    n_heads = number("n_heads")
    n_kv = number("n_kv_heads", 1 if doc.get("multi_query") is True else n_heads)
    if doc.get("head_dim") is None and d_model % n_heads:
        raise lines.error(prefix + _present(doc, "n_heads"),
                          f"{n_heads} does not divide hidden size {d_model} (and head_dim is not given)")
    d_head = number("d_head", d_model // n_heads)
    if n_heads % n_kv:
        raise lines.error(prefix + _present(doc, "n_kv_heads"), f"{n_kv} does not divide {n_heads} attention heads")
    n_blocks = number("n_blocks")
    n_experts = number("n_experts", 0)
    moe = {}
    if n_experts:
        moe["experts_per_token"] = number("experts_per_token")
        if moe["experts_per_token"] > n_experts:
            raise lines.error(prefix + "num_experts_per_tok",
                              f"{moe['experts_per_token']} is more than the {n_experts} experts")
        shared = number("d_shared_expert", 0)
        if doc.get("n_shared_experts") is not None:  # DeepSeek-MoE: n shared experts, each of the routed width
            n_shared = require(doc, "n_shared_experts", lines, int, prefix=prefix.rstrip("."))
            if n_shared < 0:
                raise lines.error(prefix + "n_shared_experts", f"must be >= 0, got {n_shared}")
            shared = n_shared * number("d_expert")
        moe["d_shared_expert"] = shared
        d_ffn = number("d_expert", number("d_ffn", 4 * d_model))
    else:
        d_ffn = number("d_ffn", 4 * d_model)
    act = str(doc.get("hidden_act") or doc.get("activation_function") or "gelu").lower()
    model_type = str(doc.get("model_type", "")).lower()
    gated = act in _GATED_ACTIVATIONS or model_type in _GATED_MODEL_TYPES
    window, notes = 0, []
    if doc.get("sliding_window") is not None and doc.get("use_sliding_window", True) is not False:
        window = int(positive(require(doc, "sliding_window", lines, int, prefix=prefix.rstrip(".")),
                              prefix + "sliding_window", lines))
        if _PER_LAYER_WINDOW & set(doc) or model_type in _PER_LAYER_WINDOW_TYPES:
            notes.append(f"{name}: sliding_window {window} applies to some layers only: the mapped blocks use "
                         "full-context attention (an upper bound for the windowed layers)")
            window = 0
    return LlmConfig(name, d_model, n_heads, n_kv, d_head, d_ffn, gated, n_blocks, n_experts, **moe,
                     attention_window=window, notes=tuple(notes))


def _present(doc: dict, quantity: str) -> str:
    """The name under which ``quantity`` appears in ``doc`` (for error messages)."""
    return next((n for n in HF_FIELD_NAMES[quantity] if doc.get(n) is not None), HF_FIELD_NAMES[quantity][0])


def model_from_hf_config(path: str | Path) -> LlmConfig:
    """Read a Hugging Face ``config.json`` (see :func:`model_from_hf_dict`)."""
    doc, lines = load_document(path)
    name = doc.get("_name_or_path") if isinstance(doc, dict) else None
    if not isinstance(name, str) or not name:
        name = (doc.get("model_type") if isinstance(doc, dict) else None) or Path(path).parent.name or "hf-model"
    return model_from_hf_dict(doc, lines, str(name))


def load_model(spec: str | Path) -> LlmConfig:
    """A preset name (``llama3-8b``) or a path to a Hugging Face ``config.json``."""
    if str(spec) in MODEL_PRESETS:
        return MODEL_PRESETS[str(spec)]
    path = Path(spec)
    if path.is_dir():
        path = path / "config.json"
    if not path.exists():
        raise ConfigError("model", f"unknown model {spec!r}: not a preset ({', '.join(sorted(MODEL_PRESETS))}) "
                          "and not a config.json path")
    return model_from_hf_config(path)
