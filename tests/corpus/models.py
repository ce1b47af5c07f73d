"""Corpus cases of the one model-config reader (``ailfm.traces.configs``) and the one length reader
(``ailfm.traces.lengths``), through every command that reads them: ``trace generate --model``, ``map search --model``,
``simulate --workload`` and ``--lengths`` of the three."""

from __future__ import annotations

import json

from corpus.cases import SEARCH, SIMULATE, Case

#: A small llama-like config.json, one field per line (line = index + 2), with fields the reader does not use
#: (real files carry many: they must stay accepted).
LLAMA = {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "intermediate_size": 688, "vocab_size": 1000, "max_position_embeddings": 8192,
         "rms_norm_eps": 1e-06, "hidden_act": "silu", "rope_theta": 10000.0, "tie_word_embeddings": False,
         "torch_dtype": "bfloat16", "architectures": ["LlamaForCausalLM"], "bos_token_id": 1,
         "rope_scaling": None, "transformers_version": "4.44.0", "quantization_config": {"bits": 4}}
VIT = {"model_type": "vit", "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
       "intermediate_size": 1024, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "image_size": 224,
       "patch_size": 16, "num_channels": 3, "num_labels": 10, "qkv_bias": True}
BERT = {"model_type": "bert", "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 1024, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "vocab_size": 1000,
        "max_position_embeddings": 512, "type_vocab_size": 2}
#: A Mixtral-like mixture of experts (Compass maps it; the kernel traces refuse it after reading it).
MOE = {**LLAMA, "model_type": "mixtral", "num_local_experts": 8, "num_experts_per_tok": 2}

TRACE = ("trace", "generate", "--instances", "1", "--threads", "2", "--requests", "1", "--lengths", "fixed:4,2",
         "--out", "{d}/t.csv")
MAP_SEARCH = tuple(a for a in SEARCH if a not in ("--model", "llama-3-8b")) + ("--out", "{d}/out")
COMMANDS = {"trace": (*TRACE, "--model", "{d}/config.json"),
            "map": (*MAP_SEARCH, "--model", "{d}/config.json"),
            "simulate": (*SIMULATE, "--workload", "{d}/config.json")}


def config_text(base: dict, **change) -> str:
    """``base`` with ``change`` (a JSON text per field, None deletes it; new fields go last), one field per line."""
    fields = {k: json.dumps(v) for k, v in base.items()}
    for key, text in change.items():
        if text is None:
            fields.pop(key, None)
        else:
            fields[key] = text
    return "{\n" + ",\n".join(f" {json.dumps(k)}: {v}" for k, v in fields.items()) + "\n}\n"


def line_of(base: dict, key: str, **change) -> int:
    """The line of ``key`` in ``config_text(base, **change)``."""
    text = config_text(base, **change)
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(f' "{key}":'))


#: (case, base, the field changed, its JSON text, the reason the error must give)
FIELD_CASES = [
    ("hidden-size-2-40", LLAMA, "hidden_size", str(2**40), "widest published transformer"),
    ("hidden-size-1e30", LLAMA, "hidden_size", "1e30", "magnitude"),
    ("hidden-size-1e999", LLAMA, "hidden_size", "1e999", "finite"),
    ("hidden-size-negative", LLAMA, "hidden_size", "-256", "> 0"),
    ("hidden-size-zero", LLAMA, "hidden_size", "0", "> 0"),
    ("hidden-size-float", LLAMA, "hidden_size", "256.5", "integer"),
    ("hidden-size-word", LLAMA, "hidden_size", '"wide"', "expected a number"),
    ("hidden-size-bool", LLAMA, "hidden_size", "true", "expected a number"),
    ("hidden-size-list", LLAMA, "hidden_size", "[256]", "expected a number"),
    ("layers-huge", LLAMA, "num_hidden_layers", "100000", "deepest published"),
    ("layers-zero", LLAMA, "num_hidden_layers", "0", "> 0"),
    ("heads-not-dividing", LLAMA, "num_attention_heads", "3", "does not divide hidden size 256"),
    ("heads-huge", LLAMA, "num_attention_heads", "65536", "most attention heads"),
    ("heads-negative", LLAMA, "num_attention_heads", "-4", "> 0"),
    ("kv-heads-not-dividing", LLAMA, "num_key_value_heads", "3", "does not divide 4 attention heads"),
    ("kv-heads-above-heads", LLAMA, "num_key_value_heads", "8", "does not divide 4 attention heads"),
    ("kv-heads-zero", LLAMA, "num_key_value_heads", "0", "> 0"),
    ("head-dim-huge", LLAMA, "head_dim", "100000", "widest published head"),
    ("head-dim-zero", LLAMA, "head_dim", "0", "> 0"),
    ("intermediate-2-40", LLAMA, "intermediate_size", str(2**40), "widest published MLP"),
    ("intermediate-negative", LLAMA, "intermediate_size", "-1", "> 0"),
    ("intermediate-word", LLAMA, "intermediate_size", '"wide"', "expected a number"),
    ("vocab-huge", LLAMA, "vocab_size", str(2**40), "largest published vocabulary"),
    ("vocab-zero", LLAMA, "vocab_size", "0", "> 0"),
    ("positions-huge", LLAMA, "max_position_embeddings", str(2**40), "longest published context"),
    ("positions-zero", LLAMA, "max_position_embeddings", "0", "> 0"),
    ("positions-float", LLAMA, "max_position_embeddings", "512.5", "integer"),
    ("activation-unknown", LLAMA, "hidden_act", '"tanh"', "unsupported activation 'tanh'"),
    ("activation-number", LLAMA, "hidden_act", "5", "expected an activation name"),
    ("activation-list", LLAMA, "hidden_act", '["silu"]', "expected an activation name"),
    ("model-type-number", LLAMA, "model_type", "5", "expected a Hugging Face model type name"),
    ("model-type-list", LLAMA, "model_type", '["llama"]', "expected a Hugging Face model type name"),
    ("text-config-number", LLAMA, "text_config", "5", "expected a JSON object"),
    ("text-config-list", LLAMA, "text_config", "[1]", "expected a JSON object"),
    ("tie-embeddings-string", LLAMA, "tie_word_embeddings", '"false"', "expected bool"),
    ("tie-embeddings-number", LLAMA, "tie_word_embeddings", "0", "expected bool"),
    ("attention-bias-string", LLAMA, "attention_bias", '"yes"', "expected bool"),
    ("multi-query-string", LLAMA, "multi_query", '"true"', "expected bool"),
    ("rms-eps-negative", LLAMA, "rms_norm_eps", "-1e-06", "> 0"),
    ("rms-eps-word", LLAMA, "rms_norm_eps", '"small"', "expected a number"),
    ("rope-theta-zero", LLAMA, "rope_theta", "0", "> 0"),
    ("rope-theta-huge", LLAMA, "rope_theta", "1e300", "magnitude"),
    ("sliding-window-zero", LLAMA, "sliding_window", "0", "> 0"),
    ("sliding-window-negative", LLAMA, "sliding_window", "-4096", "> 0"),
    ("sliding-window-huge", LLAMA, "sliding_window", str(2**40), "longest published context"),
    ("sliding-window-word", LLAMA, "sliding_window", '"4096x"', "expected a number"),
    ("use-sliding-window-string", LLAMA, "use_sliding_window", '"no"', "expected bool"),
    ("mla", LLAMA, "kv_lora_rank", "512", "multi-head latent attention"),
    ("encoder-decoder", LLAMA, "is_encoder_decoder", "true", "encoder-decoder models are not modelled"),
    ("ailfm-section-number", LLAMA, "ailfm", "5", "expected a JSON object"),
    ("experts-huge", MOE, "num_local_experts", "100000", "most routed experts"),
    ("experts-negative", MOE, "num_local_experts", "-8", "> 0"),
    ("experts-word", MOE, "num_local_experts", '"many"', "expected a number"),
    ("experts-per-token-above-experts", MOE, "num_experts_per_tok", "9", "more than the 8 experts"),
    ("experts-per-token-zero", MOE, "num_experts_per_tok", "0", "> 0"),
    ("expert-size-2-40", MOE, "moe_intermediate_size", str(2**40), "widest published MLP"),
    ("shared-expert-negative", MOE, "shared_expert_intermediate_size", "-1", "> 0"),
    ("shared-experts-negative", {**MOE, "moe_intermediate_size": 128}, "n_shared_experts", "-1", ">= 0"),
    ("shared-experts-1e30", {**MOE, "moe_intermediate_size": 128}, "n_shared_experts", "1e30", "magnitude"),
    ("vit-image-2-40", VIT, "image_size", str(2**40), "vision transformer"),
    ("vit-patch-zero", VIT, "patch_size", "0", "> 0"),
    ("vit-patch-not-dividing", VIT, "patch_size", "15", "does not divide image_size 224"),
    ("vit-channels-zero", VIT, "num_channels", "0", "> 0"),
    ("vit-channels-huge", VIT, "num_channels", "100000", "channels"),
    ("vit-labels-word", VIT, "num_labels", '"many"', "expected a number"),
    ("vit-labels-negative", VIT, "num_labels", "-1", ">= 0"),
    ("vit-id2label-number", VIT, "id2label", "5", "expected dict"),
    ("bert-token-types-huge", BERT, "type_vocab_size", str(2**40), "token types"),
]

#: The cases run through the Compass and simulate commands too (each reader error must reach every command).
SHARED = {"hidden-size-2-40", "heads-not-dividing", "positions-zero", "model-type-number", "text-config-number",
          "tie-embeddings-string", "sliding-window-zero", "experts-per-token-above-experts", "experts-huge",
          "shared-experts-negative", "activation-number", "vocab-huge"}


def model_cases() -> list[Case]:
    cases = []
    for name, base, key, text, reason in FIELD_CASES:
        body = config_text(base, **{key: text})
        where = f"{{d}}/config.json:{line_of(base, key, **{key: text})}"
        for command, argv in COMMANDS.items():
            if command == "trace" or name in SHARED:
                cases.append(Case(f"model-{command}-{name}", {"config.json": body}, argv, (where, key, reason)))

    def whole(name, body, *expect, command="trace"):
        return Case(f"model-{command}-{name}", {"config.json": body}, COMMANDS[command], expect)

    text_config = '{\n "model_type": "llava",\n "text_config": {\n  "hidden_size": 100000000,\n  "x": 1\n }\n}\n'
    cases += [
        whole("text-config-field", text_config, "{d}/config.json:4", "text_config.hidden_size", "widest"),
        whole("text-config-field", text_config, "{d}/config.json:4", "text_config.hidden_size", command="map"),
        whole("missing-hidden-size", config_text(LLAMA, hidden_size=None), "{d}/config.json", "hidden_size",
              "missing required field (also looked for n_embd"),
        whole("truncated", config_text(LLAMA)[:60], "{d}/config.json:4", "invalid JSON"),
        whole("nan", config_text(LLAMA, vocab_size="NaN"), "{d}/config.json:8", "NaN"),
        whole("infinity", config_text(LLAMA, hidden_size="-Infinity"), "{d}/config.json:3", "Infinity"),
        whole("duplicate-key", config_text(LLAMA) .replace('"vocab_size": 1000', '"vocab_size": 1000,\n '
                                                            '"vocab_size": 2000'), "{d}/config.json:9", "duplicate"),
        whole("top-level-list", "[1, 2]\n", "{d}/config.json", "JSON object"),
        whole("top-level-list", "[1, 2]\n", "{d}/config.json", "JSON object", command="simulate"),
        whole("empty", "", "{d}/config.json:1", "invalid JSON"),
        whole("latin-1", config_text(LLAMA).replace('"bfloat16"', '"\xb5"').encode("latin-1"),
              f"{{d}}/config.json:{line_of(LLAMA, 'torch_dtype')}", "not UTF-8"),
        whole("latin-1", config_text(LLAMA).replace('"bfloat16"', '"\xb5"').encode("latin-1"),
              f"{{d}}/config.json:{line_of(LLAMA, 'torch_dtype')}", "not UTF-8", command="map"),
        whole("utf-16", config_text(LLAMA).encode("utf-16"), "{d}/config.json:1", "not UTF-8"),
        whole("binary", bytes(range(256)), "{d}/config.json"),
        Case("model-trace-folder-without-config", {"m/x.txt": ""}, (*TRACE, "--model", "{d}/m"),
             ("model", "{d}/m", "not a known model")),
        Case("model-map-unknown-name", {}, (*MAP_SEARCH, "--model", "llama-9"), ("model", "llama-9", "llama-3-8b")),
    ]
    # the context limit, where the run is described (the trace generator; simulate generates its trace through it)
    short = config_text(LLAMA, max_position_embeddings="1")
    where = f"{{d}}/config.json:{line_of(LLAMA, 'max_position_embeddings')}"
    for command in ("trace", "simulate"):
        cases.append(Case(f"model-{command}-positions-below-request", {"config.json": short}, COMMANDS[command],
                          (where, "max_position_embeddings", "shorter than the longest request",
                           "4 prompt + 2 output tokens")))
    cases += [
        Case("model-trace-positions-below-azure", {"config.json": config_text(LLAMA, max_position_embeddings="64")},
             (*TRACE[:-4], "--lengths", "azure-code", "--out", "{d}/t.csv", "--model", "{d}/config.json"),
             (where, "max_position_embeddings", "azure-code")),
        Case("model-trace-clip-above-positions", {"config.json": config_text(LLAMA, max_position_embeddings="64")},
             (*COMMANDS["trace"], "--max-context", "128"), (where, "max_position_embeddings", "128 tokens")),
        Case("model-map-positions-below-lengths", {"config.json": config_text(LLAMA, max_position_embeddings="64")},
             COMMANDS["map"], (where, "max_position_embeddings", "64 positions", "every request", "azure-conv",
                               "--beyond-context")),
        Case("model-trace-max-context-1", {"config.json": config_text(LLAMA)},
             (*COMMANDS["trace"], "--max-context", "1"), ("--max-context", ">= 2")),
    ]
    return cases


# ------------------------------------------------------------------------------------------ request lengths

AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
AZURE_ROW = "2023-11-16 18:17:03.9,10,3\n"
LENGTH_COMMANDS = {
    "trace": (*TRACE[:-4], "--out", "{d}/t.csv", "--model", "llama-2-7b", "--lengths", "{d}/l.csv"),
    "simulate": tuple("{d}/l.csv" if a == "fixed:4,2" else a for a in SIMULATE),
    "map": (*SEARCH, "--out", "{d}/out", "--lengths", "{d}/l.csv"),
}


def length_cases() -> list[Case]:
    def lengths(name, body, *expect, commands=("trace",)):
        return [Case(f"lengths-{command}-{name}", {"l.csv": body}, LENGTH_COMMANDS[command], expect)
                for command in commands]

    every = ("trace", "simulate", "map")
    row = "2023-11-16 18:17:04.0,{},{}\n"
    cases = [
        *lengths("context-1e30", AZURE_HEADER + AZURE_ROW + row.format("1e30", 3), "{d}/l.csv:3", "ContextTokens",
                 "1073741824", commands=every),
        *lengths("generated-huge", AZURE_HEADER + AZURE_ROW + row.format(10, 2**40), "{d}/l.csv:3",
                 "GeneratedTokens", "1073741824"),
        *lengths("latin-1", (AZURE_HEADER + AZURE_ROW).encode() + b"# \xb5s\n", "{d}/l.csv:3", "not UTF-8",
                 commands=every),
        *lengths("utf-16", (AZURE_HEADER + AZURE_ROW).encode("utf-16"), "{d}/l.csv:1", "not UTF-8"),
        *lengths("negative", AZURE_HEADER + AZURE_ROW + row.format(-4, 3), "{d}/l.csv:3", "ContextTokens",
                 commands=every),
        *lengths("float", AZURE_HEADER + AZURE_ROW + row.format(2.5, 3), "{d}/l.csv:3", "ContextTokens"),
        *lengths("word", AZURE_HEADER + AZURE_ROW + row.format("many", 3), "{d}/l.csv:3", "ContextTokens"),
        *lengths("blank", AZURE_HEADER + AZURE_ROW + row.format("", 3), "{d}/l.csv:3", "ContextTokens"),
        *lengths("inf", AZURE_HEADER + AZURE_ROW + row.format(10, "inf"), "{d}/l.csv:3", "GeneratedTokens"),
        *lengths("nan", AZURE_HEADER + AZURE_ROW + row.format("nan", 3), "{d}/l.csv:3", "ContextTokens"),
        *lengths("bad-timestamp", AZURE_HEADER + AZURE_ROW + "yesterday,10,3\n", "{d}/l.csv:3", "TIMESTAMP"),
        *lengths("missing-column", "TIMESTAMP,ContextTokens\n2023-11-16 18:17:03.9,10\n", "{d}/l.csv:1",
                 "GeneratedTokens", commands=every),
        *lengths("header-only", AZURE_HEADER, "{d}/l.csv", "no requests"),
        *lengths("empty", "", "{d}/l.csv", "no header"),
        *lengths("comments-only", "# a citation\n", "{d}/l.csv", "no header"),
        *lengths("ragged", AZURE_HEADER + AZURE_ROW + "2023-11-16 18:17:04.0,10,3,7\n", "{d}/l.csv"),
        *lengths("binary", bytes(range(256)), "{d}/l.csv"),
        *lengths("zero-output-compass", "prompt_tokens,output_tokens\n10,3\n10,0\n", "{d}/l.csv:3",
                 "output_tokens", "1..1073741824", commands=("map",)),
    ]
    cases += [Case(f"lengths-{command}-missing", {}, argv, ("{d}/l.csv",)) for command, argv in LENGTH_COMMANDS.items()]
    return cases
