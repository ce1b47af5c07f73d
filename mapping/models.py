"""LLM configurations: the shapes of one transformer block.

Presets follow the published model cards (GPT-3: Brown et al., "Language Models are Few-Shot
Learners", NeurIPS 2020, Table 2.1; Llama 3: Meta's ``config.json`` files for Meta-Llama-3-8B/70B).
Any Hugging Face ``config.json`` can be read with :func:`load_model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ailfm.errors import ConfigError
from ailfm.mapping.files import load_document, positive, require


@dataclass(frozen=True)
class LlmConfig:
    """Shapes of one decoder block.

    ``gated_ffn`` is True for SwiGLU feed-forward networks (three matrices: gate, up, down), False
    for GeLU MLPs (two). ``n_kv_heads < n_heads`` is grouped-query attention.
    """

    name: str
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_head: int
    d_ffn: int
    gated_ffn: bool
    n_blocks: int

    def __post_init__(self):
        for name in ("d_model", "n_heads", "n_kv_heads", "d_head", "d_ffn", "n_blocks"):
            if getattr(self, name) <= 0:
                raise ConfigError(name, f"must be > 0, got {getattr(self, name)}")
        if self.n_heads % self.n_kv_heads:
            raise ConfigError("n_kv_heads", f"{self.n_kv_heads} does not divide n_heads={self.n_heads}")

    def block_weight_bytes(self, bytes_per_element: int = 1) -> int:
        """Weights of one block (attention + FFN matrices), in bytes."""
        qkv = self.d_model * (self.n_heads + 2 * self.n_kv_heads) * self.d_head
        out = self.n_heads * self.d_head * self.d_model
        ffn = (3 if self.gated_ffn else 2) * self.d_model * self.d_ffn
        return (qkv + out + ffn) * bytes_per_element


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
_GATED_MODEL_TYPES = {"llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "olmo", "granite"}


def _first(doc: dict, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in doc), None)


def model_from_hf_config(path: str | Path) -> LlmConfig:
    """Read a Hugging Face ``config.json`` (Llama/Mistral/Qwen/GPT-2/GPT-J/OPT-style field names)."""
    doc, lines = load_document(path)
    if not isinstance(doc, dict):
        raise lines.error("config", "expected a JSON object")

    def number(names: tuple[str, ...], default: int | None = None) -> int:
        name = _first(doc, names)
        if name is None:
            if default is None:
                raise lines.error(names[0], f"missing required field (also looked for {', '.join(names[1:])})")
            return default
        return int(positive(require(doc, name, lines, int), name, lines))

    d_model = number(("hidden_size", "n_embd", "d_model"))
    n_heads = number(("num_attention_heads", "n_head", "num_heads"))
    n_kv = number(("num_key_value_heads", "n_kv_heads"), n_heads)
    d_head = number(("head_dim",), d_model // n_heads)
    d_ffn = number(("intermediate_size", "n_inner", "ffn_dim"), 4 * d_model)
    n_blocks = number(("num_hidden_layers", "n_layer", "num_layers"))
    act = str(doc.get("hidden_act", doc.get("activation_function", "gelu"))).lower()
    gated = act in _GATED_ACTIVATIONS or str(doc.get("model_type", "")).lower() in _GATED_MODEL_TYPES
    if n_heads % n_kv:
        raise lines.error("num_key_value_heads", f"{n_kv} does not divide num_attention_heads={n_heads}")
    name = str(doc.get("_name_or_path") or doc.get("model_type") or Path(path).parent.name or "hf-model")
    return LlmConfig(name, d_model, n_heads, n_kv, d_head, d_ffn, gated, n_blocks)


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
