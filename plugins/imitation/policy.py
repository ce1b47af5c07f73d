"""The learned policy: a small scikit-learn MLP over per-core feature rows, its ensemble, and its ONNX export.

One model maps each core's feature row (``features.FEATURE_NAMES``) to two numbers: the Oracle's V/f for that core as
a fraction of the level range, and whether the Oracle keeps a thread on that core (the placement score). Because it
reads one core at a time (the row carries the neighbours and chip-wide context), the same model runs on 8 or 64
cores. For active learning an ensemble of ``members`` MLPs is trained on bootstrap resamples of the data (query by
committee): their disagreement on a state is the uncertainty that decides whether to ask the Oracle. The shipped ONNX
file holds one MLP (member 0, trained on all the data), so the run-time cost is a single forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ailfm.plugins.imitation.contract import INPUT_NAME, N_OUTPUTS, OUTPUT_NAME, VF_RULES, contract_metadata
from ailfm.plugins.imitation.features import N_FEATURES
from ailfm.plugins.imitation.objective import DEFAULT_OBJECTIVE

HIDDEN_LAYERS = (32, 16)  # small enough for < 50 us per epoch on 64 cores [measured by bench/ail_overhead.py]
MAX_ITER = 80
ALPHA = 1e-4


def make_model(seed: int) -> Pipeline:
    return Pipeline([("scale", StandardScaler()),
                     ("mlp", MLPRegressor(hidden_layer_sizes=HIDDEN_LAYERS, alpha=ALPHA, max_iter=MAX_ITER,
                                          batch_size=256, learning_rate_init=2e-3, random_state=seed,
                                          early_stopping=False, tol=1e-5, n_iter_no_change=8))])


def fit_member(task: tuple[np.ndarray, np.ndarray, int, bool]) -> Pipeline:
    """One ensemble member: (X, Y, seed, bootstrap) -> fitted pipeline (a unit of work for an Executor)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    x, y, seed, bootstrap = task
    if bootstrap:
        rows = np.random.default_rng(seed).integers(0, len(x), len(x))
        x, y = x[rows], y[rows]
    model = make_model(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model


@dataclass(frozen=True, eq=False)
class Ensemble:
    """Member 0 is trained on all the data (the deployed policy); the others on bootstrap resamples."""

    members: tuple[Pipeline, ...]

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, seed: int, members: int = 4, executor=None) -> Ensemble:
        seeds = np.random.SeedSequence(seed).generate_state(members)
        tasks = [(x, y, int(s), k > 0) for k, s in enumerate(seeds)]
        fitted = list(executor.map(fit_member, tasks)) if executor is not None else [fit_member(t) for t in tasks]
        return cls(tuple(fitted))

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, float]:
        """Mean over members of the (n_cores, 2) outputs, and the state's uncertainty: the largest member spread of
        the V/f fraction over the cores running a thread (the placement score counts half as much)."""
        outputs = np.stack([m.predict(features) for m in self.members])
        spread = outputs.std(axis=0)
        return outputs.mean(axis=0), float(np.max(spread[:, 0] + 0.5 * spread[:, 1]))

    @property
    def policy(self) -> Pipeline:
        return self.members[0]


def to_onnx(model: Pipeline, training: str, objective: str = DEFAULT_OBJECTIVE, initial_placement: str = "coolest",
            vf_rule: str = VF_RULES[0]) -> bytes:
    """The deployed model as an ONNX file following the governor contract, recording its training ``objective``,
    whether its scores place the threads at the start (``initial_placement``: ``scores`` or ``coolest``) and how its
    V/f column becomes requests (``vf_rule``: ``per-core`` or ``per-instance``)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onnx_model = convert_sklearn(model, initial_types=[(INPUT_NAME, FloatTensorType([None, N_FEATURES]))],
                                 final_types=[(OUTPUT_NAME, FloatTensorType([None, N_OUTPUTS]))],
                                 target_opset=17)
    _fix_output_shape(onnx_model)
    del onnx_model.metadata_props[:]
    for key, value in contract_metadata(training, objective, initial_placement=initial_placement,
                                         vf_rule=vf_rule).items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx_model.doc_string = "ailfm AIL governor policy (docs/ail.md)"
    return onnx_model.SerializeToString()


def _fix_output_shape(onnx_model) -> None:
    """skl2onnx's MLPRegressor converter ends with ``Reshape(-1, 1)`` even for several outputs (it flattens the
    (n, 2) prediction to (2n, 1)); make it ``Reshape(-1, N_OUTPUTS)`` and declare the output (n_cores, 2)."""
    from onnx import numpy_helper

    graph = onnx_model.graph
    shapes = {node.input[1] for node in graph.node if node.op_type == "Reshape"}
    for i, init in enumerate(graph.initializer):
        if init.name in shapes and list(numpy_helper.to_array(init)) == [-1, 1]:
            graph.initializer[i].CopyFrom(numpy_helper.from_array(np.array([-1, N_OUTPUTS], dtype=np.int64),
                                                                  init.name))
    dims = graph.output[0].type.tensor_type.shape.dim
    dims[1].dim_value = N_OUTPUTS
