"""The ONNX governor contract: what a policy file must look like for ``--governor path/to/policy.onnx``.

Input ``core_features``: float32, shape ``[n_cores, N_FEATURES]`` (first dimension symbolic), columns in the order
``ailfm.plugins.imitation.features.FEATURE_NAMES`` of version ``FEATURE_VERSION``.
Output ``core_actions``: float32, shape ``[n_cores, 2]``: column 0 is the requested V/f as a fraction of the level
range (0 = f_min, 1 = f_max; clipped, then snapped down to the grid by the loop), column 1 a placement score (higher
= a better core for a thread; threads move from low- to high-scoring free cores; with ``ailfm.initial_placement`` =
``scores`` the threads also start on the cores it scores highest in the starting state).
``metadata_props`` must hold ``ailfm.contract`` (= ``CONTRACT_VERSION``), ``ailfm.feature_version``,
``ailfm.feature_names`` (comma-separated, equal to ``FEATURE_NAMES``), ``ailfm.outputs``, ``ailfm.objective`` (what
the Oracle that labelled its training data maximised: ``objective.OBJECTIVES``) and ``ailfm.initial_placement``
(``INITIAL_PLACEMENTS``: ``scores``, the policy's placement scores in the starting state place the threads, or
``coolest``, the fixed coolest-cores placement); ``ailfm.training`` (how the model was made) is recommended.
``ailfm.vf_rule`` (``VF_RULES``: ``per-core``, each core runs at its own output; ``per-instance``, the cores of
one instance's running threads all run at the mean of their outputs) says how column 0 becomes requests.
``load_policy`` checks all of it and names what is wrong. Version 2 added ``ailfm.objective``, version 3
``ailfm.initial_placement``, version 4 ``ailfm.vf_rule``; version 1 files still load as throughput policies (the only
objective there was), version 1 and 2 files keep the coolest placement (their policies were never trained to place
threads at the start), and version 1 to 3 files keep the per-core rule (the only one there was).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ailfm.errors import ConfigError
from ailfm.plugins.imitation.features import FEATURE_NAMES, FEATURE_VERSION, N_FEATURES
from ailfm.plugins.imitation.objective import DEFAULT_OBJECTIVE, OBJECTIVES

CONTRACT_VERSION = "ailfm-governor-onnx/4"
#: Contract versions this ailfm loads (1: without ``ailfm.objective``, read as ``DEFAULT_OBJECTIVE``; 1 and 2: without
#: ``ailfm.initial_placement``, read as ``coolest``; 1 to 3: without ``ailfm.vf_rule``, read as ``per-core``).
READABLE_CONTRACTS = ("ailfm-governor-onnx/1", "ailfm-governor-onnx/2", "ailfm-governor-onnx/3", CONTRACT_VERSION)
INPUT_NAME = "core_features"
OUTPUT_NAME = "core_actions"
N_OUTPUTS = 2
OUTPUT_SEMANTICS = "column 0: V/f fraction of [f_min, f_max]; column 1: placement score (higher = better core)"
REQUIRED_METADATA = ("ailfm.contract", "ailfm.feature_version", "ailfm.feature_names", "ailfm.outputs")
OBJECTIVE_KEY = "ailfm.objective"  # required from version 2 on
INITIAL_PLACEMENT_KEY = "ailfm.initial_placement"  # required from version 3 on
#: ``scores``: threads start on the cores the policy scores highest in the starting state (``scored_placement``);
#: ``coolest``: on the coolest cores (``coolest_placement``), whatever the policy outputs
INITIAL_PLACEMENTS = ("scores", "coolest")
VF_RULE_KEY = "ailfm.vf_rule"  # required from version 4 on
#: ``per-core``: each core's own output; ``per-instance``: the running threads of one instance meet at its barriers
#: and go at the pace of the slowest, so their cores all get the instance's mean output (``actions.instance_fractions``)
VF_RULES = ("per-core", "per-instance")


def contract_metadata(training: str, objective: str = DEFAULT_OBJECTIVE, *, initial_placement: str,
                      vf_rule: str) -> dict[str, str]:
    """The metadata_props a conforming model carries (``initial_placement``: one of ``INITIAL_PLACEMENTS``, and
    ``vf_rule``: one of ``VF_RULES``, what the policy was trained with; no defaults, so no file claims a placement or
    a rule it was not trained with)."""
    return {"ailfm.contract": CONTRACT_VERSION, "ailfm.feature_version": FEATURE_VERSION,
            "ailfm.feature_names": ",".join(FEATURE_NAMES), "ailfm.outputs": OUTPUT_SEMANTICS,
            OBJECTIVE_KEY: objective, INITIAL_PLACEMENT_KEY: initial_placement, VF_RULE_KEY: vf_rule,
            "ailfm.training": training}


@dataclass(frozen=True, eq=False)
class Policy:
    """A checked ONNX policy: an onnxruntime session on one thread, and the model's metadata."""

    path: str
    session: object
    metadata: dict[str, str]

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """The policy's (n_cores, 2) outputs, checked on every call before anything compiled indexes them."""
        return checked_output(self.path, self.session.run([OUTPUT_NAME], {INPUT_NAME: features})[0],
                              len(features))

    @property
    def objective(self) -> str:
        """What the policy was trained for (a version 1 file: throughput)."""
        return self.metadata.get(OBJECTIVE_KEY, DEFAULT_OBJECTIVE)

    @property
    def scores_initial_placement(self) -> bool:
        """Whether the policy's placement scores in the starting state place the threads (version 1 and 2 files:
        no, they keep the coolest placement)."""
        return self.metadata.get(INITIAL_PLACEMENT_KEY, "coolest") == "scores"

    @property
    def vf_rule(self) -> str:
        """How column 0 becomes requests (``VF_RULES``; version 1 to 3 files: ``per-core``)."""
        return self.metadata.get(VF_RULE_KEY, VF_RULES[0])


def checked_output(path: str, outputs: object, n_cores: int) -> np.ndarray:
    """``outputs`` if it is a finite float32 (n_cores, 2) array; otherwise ConfigError naming the file and what it
    returned. A file that passes the static contract can still compute the wrong shape (the kernels would index past
    the array) or NaN/inf (every comparison false: cores silently pinned to f_min)."""
    shape = getattr(outputs, "shape", None)
    if not isinstance(outputs, np.ndarray) or shape != (n_cores, N_OUTPUTS):
        _fail(Path(path), f"returned {OUTPUT_NAME!r} of shape {list(shape) if shape is not None else type(outputs)}"
                          f" for {n_cores} cores; the contract is [n_cores, {N_OUTPUTS}]")
    if outputs.dtype != np.float32:
        _fail(Path(path), f"returned {OUTPUT_NAME!r} of dtype {outputs.dtype}; the contract is float32")
    bad = ~np.isfinite(outputs)
    if bad.any():
        core, column = (int(i) for i in np.argwhere(bad)[0])
        _fail(Path(path), f"returned {outputs[core, column]} for core {core}, column {column} "
                          f"({int(bad.sum())} non-finite values); outputs must be finite")
    return outputs


def _fail(path: Path, message: str):
    raise ConfigError("governor", message, path=str(path))


def check_model(model, path: Path) -> dict[str, str]:
    """Check a parsed ``onnx.ModelProto`` against the contract; returns its metadata."""
    from onnx import TensorProto

    metadata = {p.key: p.value for p in model.metadata_props}
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        _fail(path, f"missing metadata_props {', '.join(missing)}: not an ailfm governor (see docs/ail.md)")
    if metadata["ailfm.contract"] not in READABLE_CONTRACTS:
        readable = ", ".join(map(repr, READABLE_CONTRACTS))
        _fail(path, f"contract {metadata['ailfm.contract']!r}, this ailfm reads {readable}")
    version = READABLE_CONTRACTS.index(metadata["ailfm.contract"]) + 1
    for key, values, since in ((OBJECTIVE_KEY, OBJECTIVES, 2), (INITIAL_PLACEMENT_KEY, INITIAL_PLACEMENTS, 3),
                               (VF_RULE_KEY, VF_RULES, 4)):
        if version >= since and metadata.get(key) not in values:
            _fail(path, f"metadata {key} is {metadata.get(key)!r}; expected one of {', '.join(values)}")
    if metadata["ailfm.feature_version"] != FEATURE_VERSION:
        _fail(path, f"feature version {metadata['ailfm.feature_version']!r}, this ailfm computes {FEATURE_VERSION!r}")
    names = tuple(metadata["ailfm.feature_names"].split(","))
    if names != FEATURE_NAMES:
        differ = next((i for i, (a, b) in enumerate(zip(names, FEATURE_NAMES, strict=False)) if a != b),
                      min(len(names), N_FEATURES))
        _fail(path, f"feature order differs from {FEATURE_VERSION} at column {differ} "
                    f"({len(names)} names, expected {N_FEATURES})")
    graph = model.graph
    initialisers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialisers]
    if [i.name for i in inputs] != [INPUT_NAME]:
        _fail(path, f"inputs {[i.name for i in inputs]}, expected exactly [{INPUT_NAME!r}]")
    _check_tensor(path, inputs[0], TensorProto.FLOAT, N_FEATURES, "input")
    outputs = [o for o in graph.output if o.name == OUTPUT_NAME]
    if not outputs:
        _fail(path, f"no output named {OUTPUT_NAME!r} (outputs: {[o.name for o in graph.output]})")
    _check_tensor(path, outputs[0], TensorProto.FLOAT, N_OUTPUTS, "output")
    return metadata


def _check_tensor(path: Path, value, dtype: int, columns: int, what: str) -> None:
    from onnx import TensorProto

    tensor = value.type.tensor_type
    if tensor.elem_type != dtype:
        _fail(path, f"{what} {value.name!r} has dtype {TensorProto.DataType.Name(tensor.elem_type)}, expected FLOAT")
    dims = tensor.shape.dim
    shape = ["?" if not d.HasField("dim_value") else d.dim_value for d in dims]
    if len(dims) != 2 or not dims[1].HasField("dim_value") or dims[1].dim_value != columns:
        _fail(path, f"{what} {value.name!r} has shape {shape}, expected [n_cores, {columns}]")
    if dims[0].HasField("dim_value"):
        _fail(path, f"{what} {value.name!r} has a fixed first dimension {dims[0].dim_value}; it must be symbolic "
                    "(n_cores) so the policy runs on any core count")


def load_policy(path: str | Path) -> Policy:
    """Load and check an ONNX governor; ``ConfigError`` names the file and what is wrong."""
    import onnx
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        _fail(path, "no such ONNX file")
    try:
        model = onnx.load_model(str(path))
    except Exception as err:  # protobuf raises DecodeError and friends: the file is not an ONNX model
        _fail(path, f"not an ONNX model ({type(err).__name__}: {err})")
    if not model.graph.node and not model.graph.input:
        _fail(path, "not an ONNX model (empty graph)")
    metadata = check_model(model, path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # one thread never waits for another: spinning only burns the core (measured: 30 -> 20 us per 64-core call)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as err:
        _fail(path, f"onnxruntime cannot load it: {err}")
    return Policy(str(path), session, metadata)
