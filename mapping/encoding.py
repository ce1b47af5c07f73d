"""The computation-execution-graph encoding of a mapping (after Compass, arXiv 2512.06093).

A mapping has two parts:

* ``segmentation``: L - 1 bits over the mapping layers; bit i = 1 puts a segment (layer-group) boundary
  after layer i.
* ``layer_to_chip``: a chiplet for every (micro-batch, layer), so micro-batches of one layer may run on
  different chiplets.

Execution (program) order: for each segment, for each micro-batch, for each layer of the segment. Segments
only order the program; timing comes from data dependences and chiplet availability (see evaluator.py).
The encoding expresses pipelining (consecutive layers on different chiplets), tensor parallelism (the tiles
of one GEMM on different chiplets), data parallelism (micro-batches of a layer on different chiplets) and
any mix.

As a genome (an integer vector for the search) a mapping is ``[segmentation bits..., layer_to_chip
row-major...]``; :class:`Encoding` converts both ways and checks validity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ailfm.errors import ConfigError
from ailfm.files import MAX_NUMBER, Lines, load_document


@dataclass(frozen=True)
class Mapping:
    """A decoded mapping; arrays are read-only copies."""

    segmentation: np.ndarray   # (L - 1,) 0/1
    layer_to_chip: np.ndarray  # (B, L) chiplet indices

    @property
    def n_micro_batches(self) -> int:
        return self.layer_to_chip.shape[0]

    @property
    def n_layers(self) -> int:
        return self.layer_to_chip.shape[1]

    def segment_of_layer(self) -> np.ndarray:
        """Segment index of every layer."""
        return np.concatenate([[0], np.cumsum(self.segmentation)])

    def to_json(self, **metadata) -> str:
        doc = {"segmentation": self.segmentation.astype(int).tolist(),
               "layer_to_chip": self.layer_to_chip.astype(int).tolist(),
               "micro_batches": self.n_micro_batches, **metadata}
        return json.dumps(doc, indent=1)


@dataclass(frozen=True)
class Encoding:
    """Genome layout for B micro-batches x L layers on ``n_chiplets`` chiplets."""

    n_micro_batches: int
    n_layers: int
    n_chiplets: int

    @property
    def n_bits(self) -> int:
        return self.n_layers - 1

    @property
    def n_genes(self) -> int:
        return self.n_bits + self.n_micro_batches * self.n_layers

    def upper_bounds(self) -> np.ndarray:
        """Largest value of every gene (bits: 1, chips: n_chiplets - 1)."""
        return np.concatenate([np.ones(self.n_bits, int), np.full(self.n_micro_batches * self.n_layers,
                                                                  self.n_chiplets - 1)])

    def split(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P, n_genes) -> segmentation bits (P, L - 1) and chips (P, B, L), as views."""
        genomes = np.atleast_2d(genomes)
        return genomes[:, :self.n_bits], genomes[:, self.n_bits:].reshape(-1, self.n_micro_batches, self.n_layers)

    def encode(self, mapping: Mapping) -> np.ndarray:
        self.check(mapping)
        return np.concatenate([mapping.segmentation, mapping.layer_to_chip.ravel()]).astype(np.int64)

    def decode(self, genome: np.ndarray) -> Mapping:
        bits, chips = self.split(np.asarray(genome, np.int64))
        mapping = Mapping(bits[0].copy(), chips[0].copy())
        self.check(mapping)
        return mapping

    def check(self, mapping: Mapping, lines: Lines | None = None) -> None:
        """Raise ConfigError naming the field when a mapping does not fit this encoding."""
        def fail(name: str, msg: str):
            raise (lines.error(name, msg) if lines else ConfigError(name, msg))
        if mapping.layer_to_chip.shape != (self.n_micro_batches, self.n_layers):
            fail("layer_to_chip", f"expected {self.n_micro_batches} micro-batches x {self.n_layers} layers, "
                 f"got shape {mapping.layer_to_chip.shape}")
        if mapping.segmentation.shape != (self.n_bits,):
            fail("segmentation", f"expected {self.n_bits} bits, got {mapping.segmentation.shape[0]}")
        if not np.isin(mapping.segmentation, (0, 1)).all():
            fail("segmentation", "bits must be 0 or 1")
        bad = np.argwhere((mapping.layer_to_chip < 0) | (mapping.layer_to_chip >= self.n_chiplets))
        if len(bad):
            b, l = bad[0]
            fail(f"layer_to_chip[{b}][{l}]", f"chiplet {mapping.layer_to_chip[b, l]} outside 0..{self.n_chiplets - 1}")


def _int_matrix(value, name: str, lines: Lines, allow_null: bool) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise lines.error(name, "expected a non-empty list")
    rows = value if isinstance(value[0], list) else [value]
    width = len(rows[0])
    out = np.full((len(rows), width), -1, np.int64)
    for b, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise lines.error(f"{name}[{b}]", f"expected a list of {width} entries")
        for l, v in enumerate(row):
            if v is None and allow_null:
                continue
            if isinstance(v, bool) or not isinstance(v, int) or abs(v) > MAX_NUMBER:
                raise lines.error(f"{name}[{b}][{l}]", f"expected an integer{' or null' if allow_null else ''}"
                                  f" of magnitude <= {MAX_NUMBER:g}, got {v!r}")
            out[b, l] = v
    return out if isinstance(value[0], list) else out[0]


def read_mapping(path: str | Path, encoding: Encoding | None = None) -> Mapping:
    """Read a mapping JSON (fields ``segmentation``, ``layer_to_chip``); errors name the field and line."""
    doc, lines = load_document(path)
    if not isinstance(doc, dict):
        raise lines.error("mapping", "expected a JSON object")
    for name in ("segmentation", "layer_to_chip"):
        if name not in doc:
            raise lines.error(name, "missing required field")
    chips = _int_matrix(doc["layer_to_chip"], "layer_to_chip", lines, False)
    if chips.ndim != 2:
        raise lines.error("layer_to_chip", "expected a list of per-micro-batch lists")
    seg = np.asarray(doc["segmentation"]) if doc["segmentation"] else np.zeros(0, np.int64)
    if doc["segmentation"]:
        seg = _int_matrix(doc["segmentation"], "segmentation", lines, False)
    mapping = Mapping(seg.astype(np.int64), chips)
    if encoding is not None:
        encoding.check(mapping, lines)
    return mapping


@dataclass(frozen=True)
class Pins:
    """Genes fixed by the user: ``mask`` marks pinned genes, ``values`` holds their values."""

    mask: np.ndarray
    values: np.ndarray

    def apply(self, genomes: np.ndarray) -> np.ndarray:
        """Overwrite the pinned genes (in place) and return the genomes."""
        genomes[:, self.mask] = self.values[self.mask]
        return genomes

    @staticmethod
    def none(encoding: Encoding) -> Pins:
        return Pins(np.zeros(encoding.n_genes, bool), np.zeros(encoding.n_genes, np.int64))


def read_pins(path: str | Path, encoding: Encoding) -> Pins:
    """A pin file is a mapping JSON where ``null`` marks a free gene; either field may be omitted."""
    doc, lines = load_document(path)
    if not isinstance(doc, dict):
        raise lines.error("pins", "expected a JSON object")
    values = np.full(encoding.n_genes, -1, np.int64)
    if "segmentation" in doc:
        seg = _int_matrix(doc["segmentation"], "segmentation", lines, True)
        if seg.shape != (encoding.n_bits,):
            raise lines.error("segmentation", f"expected {encoding.n_bits} entries")
        if not np.isin(seg, (-1, 0, 1)).all():
            raise lines.error("segmentation", "bits must be 0, 1 or null")
        values[:encoding.n_bits] = seg
    if "layer_to_chip" in doc:
        chips = _int_matrix(doc["layer_to_chip"], "layer_to_chip", lines, True)
        if chips.shape != (encoding.n_micro_batches, encoding.n_layers):
            raise lines.error("layer_to_chip", f"expected {encoding.n_micro_batches} x {encoding.n_layers} entries")
        if (chips >= encoding.n_chiplets).any() or (chips < -1).any():
            raise lines.error("layer_to_chip", f"chiplets must be in 0..{encoding.n_chiplets - 1} or null")
        values[encoding.n_bits:] = chips.ravel()
    mask = values >= 0
    return Pins(mask, np.where(mask, values, 0))
