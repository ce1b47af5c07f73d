"""Compass's view of an LLM: the shapes of one transformer block.

Models come from the project's one registry and Hugging Face reader, ``ailfm.traces.configs`` (shipped
``config.json`` files named ``llama-3-8b``, ``gpt-3-13b``...; any ``config.json`` path: dense decoders, grouped-query
attention, mixture-of-experts blocks, sliding windows). :meth:`LlmConfig.of` keeps what a block mapping needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ailfm.errors import ConfigError
from ailfm.traces.configs import ModelConfig, load_model_config


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
    #: longest sequence the model takes (0: not given) and where it was read (field, file, line)
    max_positions: int = 0
    context_field: tuple[str, str, int | None] = field(default=("max_position_embeddings", "", None), compare=False)

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

    @classmethod
    def of(cls, model: ModelConfig) -> LlmConfig:
        """The block shapes of a model read by the registry."""
        return cls(model.name, model.hidden_size, model.num_heads, model.num_kv_heads, model.head_dim,
                   model.intermediate_size, model.gated_mlp, model.num_layers, model.num_experts,
                   model.experts_per_token, model.shared_expert_size, model.attention_window, model.notes,
                   model.max_positions, model.context_field)

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


def load_model(spec: str | Path) -> LlmConfig:
    """A shipped model name (``llama-3-8b``; old names such as ``llama3-8b`` with a FutureWarning) or a Hugging Face
    ``config.json`` path, read by the one model reader, ``ailfm.traces.configs.load_model_config``."""
    return LlmConfig.of(load_model_config(spec))
