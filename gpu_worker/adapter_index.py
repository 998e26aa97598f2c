"""An adapter's attribution index: its fine-tuning rows, for span and LoRA-gradient attribution.

Built once, when ModelFactory publishes the adapter, from the rows it was trained on, and uploaded to
the content store as a directory artifact (kind `sdk.artifacts.ATTRIBUTION_INDEX`) whose manifest
hash is the model's `attribution_index_hash` on chain - so every worker serving the adapter fetches the same index and
checks every byte of it. The directory holds:
    attribution.json      method, span weight, contributions, projection (its kind, seed and k per module),
                          the reading that pays (`token_normalized`, `echo_weight`: gradient/readings.py),
                          its damping and curvature `power` with their evidence, the setting that predicts
                          effects (`effect`) with each contribution's predicted effect on the held-out rows,
                          the modules read (the LoRA modules on the top `GRADIENT_LAYERS` layers) and the
                          adapter's modules, with their sizes
    rows.npy              each row's contribution (index into attribution.json's contributions)
    span/                 the suffix-array index over each row's trained tokens (one document per row)
    gradient/features.npy the rows' preconditioned, projected LoRA gradients [rows, Σ k_l]
A unit of credit is a row; a contribution is paid for its rows' credit (`gpu_worker.results`: its exact
share, listed in the result or in its tail).

It composes two engines' methods - span attribution (`span/`) and LoRA-gradient influence
(`gradient/lora_influence.py`) - over the same rows (`rows`), which is why it sits beside them rather
than in either: engines never import each other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .frozen_base import arranged, base_dtype, native_dtype
from .gradient import lora_influence as influence
from .gradient import readings
from .gradient.damping import choose_adapter_damping
from .gradient.readings import READINGS, Reading
from .rows import IGNORE, Example
from .span.credit import CreditParams, attribute_spans
from .span.index import Document, SpanIndex, build_index

SPAN, GRADIENT, BOTH = "span", "lora-gradient", "span+lora-gradient"
METHOD_NAMES = (SPAN, GRADIENT, BOTH)
# Each module read is sketched to `sketch_dims` dims: at least PROJECTION_DIMS, more on an adapter with few
# modules, so that every index's rows have about SKETCH_DIMS dims in all. How well a sketch keeps the cosine
# of two gradients depends on its total size: on bench/lora_attribution.py's 4-layer model (28 modules) 64 each
# (1,792 in all) cost row AUC 0.94 -> 0.84 against whole gradients, 256 each (7,168) 0.94 -> 0.90-0.94;
# SmolLM2's top 16 layers (112 modules) have 7,168 at 64 each, whose latency and index size are unchanged.
PROJECTION_DIMS, SKETCH_DIMS = 64, 7168
# How the rows' gradients are sketched (lora_influence's module doc); an index records it, and one built with
# another sketch (before "kronecker", a dense D×k Gaussian per module) is refused, since its features and a
# query's would not share a space. Changing the sketch changes the index's bytes, hence its hash.
PROJECTION = "kronecker"
# The LoRA-gradient reads the adapter's modules on at most this many of the decoder's top layers: a query's
# backward stops at the lowest of them, so its cost stops growing with depth. On SmolLM2 (30 layers) the top
# 16 halve the backward - a 64-token answer's attribution in ~0.76x the time - and credit the facts' owners
# at least as well as all 30 did (bench/lora_attribution.py --settings facts, README); decoders no deeper
# are read whole.
GRADIENT_LAYERS = 16
SPAN_PARAMS = CreditParams(min_length=6, max_count=100)


@dataclass(frozen=True)
class IndexSpec:
    """What to build: the method (as the model record names it), the span weight for both, the gradient
    method (ours, or a yardstick for benchmarks), projection dims per module (0: `sketch_dims`) and seed, and
    the precision the base layers are held in for the gradients (`frozen_base`; empty: the device's native
    one)."""

    method: str = BOTH
    span_weight_bps: int = 5000
    gradient_method: str = "ours"
    k: int = 0
    seed: int = 0
    base_dtype: str = ""
    gradient_layers: int = GRADIENT_LAYERS

    def __post_init__(self) -> None:
        if self.method not in METHOD_NAMES:
            raise ValueError(f"unknown attribution method {self.method!r}; known: {METHOD_NAMES}")
        if self.method == BOTH and not 0 < self.span_weight_bps < 10_000:
            raise ValueError("the combined method needs a span weight within 1..9999 basis points")
        if self.gradient_layers < 1:
            raise ValueError(f"an index reads at least one layer, not {self.gradient_layers}")
        if self.k < 0:
            raise ValueError(f"a sketch has 0 (chosen by size) or more dims per module, not {self.k}")


def sketch_dims(modules: int) -> int:
    """The dims each of `modules` modules read is sketched to (PROJECTION_DIMS' comment)."""
    return max(PROJECTION_DIMS, SKETCH_DIMS // max(modules, 1))


def _contributions(rows: list[Example]) -> tuple[list[tuple[int, bytes]], np.ndarray]:
    ids = sorted({(e.row.contribution_id, e.row.contributor) for e in rows})
    position = {cid: i for i, (cid, _) in enumerate(ids)}
    return ids, np.array([position[e.row.contribution_id] for e in rows], dtype=np.int32)


def trained_tokens(example: Example) -> np.ndarray:
    """The tokens a row taught the model to produce (its labelled part)."""
    return np.array([t for t in example.labels if t != IGNORE], dtype=np.int64)


def build_adapter_index(model, tokenizer, train: list[Example], held_out: list[Example], out: Path,
                        spec: IndexSpec, lr: float, adapter: str = "default", budget_rows: int | None = None) -> dict:
    """Write the index into `out` (a fresh directory); returns attribution.json's content. `budget_rows` (the
    fine-tune's steps × batch) bounds what the damping check may retrain on."""
    if not train:
        raise ValueError("an adapter index needs the rows it was trained on")
    out.mkdir(parents=True, exist_ok=False)
    contributions, row_contribution = _contributions(train)
    np.save(out / "rows.npy", row_contribution)
    meta = {"method": spec.method, "span_weight_bps": spec.span_weight_bps if spec.method == BOTH else 0,
            "rows": len(train), "contributions": [[cid, who.hex()] for cid, who in contributions]}
    if spec.method in (SPAN, BOTH):
        build_index((Document(trained_tokens(e), int(c)) for e, c in zip(train, row_contribution, strict=True)),
                    contributions, out / "span", vocab_size=len(tokenizer))
        meta["span"] = {"min_length": SPAN_PARAMS.min_length, "max_count": SPAN_PARAMS.max_count}
    if spec.method in (GRADIENT, BOTH):
        dtype = spec.base_dtype or native_dtype(next(model.parameters()).device)
        # the rows' gradients as a query's will be computed; the damping check's retrains and losses in the
        # model's own precision, since a short retrain moves a loss by less than bfloat16 rounding does
        laid_out = arranged(model, dtype)
        pad = tokenizer.pad_token_id
        normalized = influence.TOKEN_NORMALIZED[spec.gradient_method]
        # ours: the data chooses the reading; a yardstick reads as its method says
        chosen_among = READINGS if spec.gradient_method == "ours" else (Reading(normalized),)
        traced = influence.upper_layers(laid_out, spec.gradient_layers, adapter)
        k = spec.k or sketch_dims(len(traced))
        layout, sketched = readings.projections(laid_out, tokenizer, train, pad, k, spec.seed, adapter, chosen_among,
                                                traced)
        gradient = {"method": spec.gradient_method, "projection": PROJECTION, "k": k, "seed": spec.seed,
                    "base_dtype": dtype, "layers": spec.gradient_layers,
                    "modules": [[m.name, m.a_size, m.b_size] for m in layout],
                    "adapter_modules": influence.adapter_layout(laid_out, adapter)}
        damping, power, reading = 0.0, influence.INVERSE, chosen_among[0]
        if spec.gradient_method == "ours":
            queries = held_out[:16] or train[:8]
            query_blocks = readings.projections(laid_out, tokenizer, queries, pad, k, spec.seed, adapter,
                                                chosen_among, traced)[1]
            evidence = choose_adapter_damping(model, adapter, train, queries, pad, layout, sketched, query_blocks,
                                              row_contribution, lr, spec.seed, budget_rows)
            damping, power = evidence["damping"], evidence["power"]
            reading = Reading.of(evidence)
            gradient["damping"] = evidence
            gradient["effect"] = evidence["effect"] | _held_out_effects(
                evidence["effect"], layout, sketched, query_blocks, row_contribution, len(contributions)) | {
                "queries": len(queries), "held_out": bool(held_out)}
        gradient["token_normalized"], gradient["echo_weight"] = reading.token_normalized, reading.echo_weight
        if spec.gradient_method == "ours":  # a yardstick's operator has no power
            gradient["power"] = power
        blocks = sketched[reading]
        (out / "gradient").mkdir()
        np.save(out / "gradient" / "features.npy",
                influence.setting_features(blocks, layout, spec.gradient_method, damping, power).astype(np.float32))
        meta["gradient"] = gradient
    (out / "attribution.json").write_text(json.dumps(meta, sort_keys=True, indent=1))
    return meta


def _held_out_effects(effect: dict, layout: list, rows: dict, queries: dict, row_contribution: np.ndarray,
                      contributions: int) -> dict:
    """What the effect setting (`damping`'s rule, 6) predicts each contribution's rows do to the loss of the
    check queries (the rows it was chosen with), each read as that setting reads a query: {"contributions": per
    contribution, its rows' scores summed and averaged over the queries, as a signed share of all
    contributions' absolute sum} - positive: training on them lowers the held-out loss."""
    reading = Reading.of(effect)
    features = influence.setting_features(rows[reading], layout, "ours", effect["damping"], effect["power"])
    per_row = influence.scores(queries[reading], features).mean(0)
    per_contribution = np.bincount(row_contribution, weights=per_row, minlength=contributions)
    total = float(np.abs(per_contribution).sum())
    return {"contributions": [round(float(v) / total, 6) if total > 0 else 0.0 for v in per_contribution]}


def build_for_publish(model, tokenizer, train: list[Example], held_out: list[Example], out: Path, method: str,
                      span_weight_bps: int, lr: float, trained_rows: int) -> None:
    """What ModelFactory's publish step calls (the worker hands it to the fine-tuning engine): the index for
    the method the model record will name, with ours as the gradient method; its damping check retrains on
    at most as many rows as the fine-tune (`trained_rows`) did."""
    build_adapter_index(model, tokenizer, train, held_out, out,
                        IndexSpec(method=method, span_weight_bps=span_weight_bps), lr, budget_rows=trained_rows)


@dataclass(frozen=True)
class Credit:
    """One generation's credit per row, the fraction of the contributors' pool it pays, and the spans."""

    rows: np.ndarray
    paid_fraction: float
    spans: list


class AdapterIndex:
    """A fetched (and checked) index directory, ready for queries."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.meta = json.loads((self.root / "attribution.json").read_text())
        self.method = self.meta["method"]
        self.row_contribution = np.load(self.root / "rows.npy")
        self.contributions = [(cid, bytes.fromhex(who)) for cid, who in self.meta["contributions"]]
        if self.meta.get("gradient", {"projection": PROJECTION}).get("projection") != PROJECTION:
            raise ValueError(f"the index's gradients were sketched otherwise than {PROJECTION!r} sketches a query's; "
                             "rebuild it")
        self.span = SpanIndex(self.root / "span") if "span" in self.meta else None
        self.features = np.load(self.root / "gradient" / "features.npy").astype(np.float64) \
            if "gradient" in self.meta else None
        # how a query is read: as the rows were (indexes before readings read every token fully)
        gradient = self.meta.get("gradient")
        self.reading = Reading.of(gradient) if gradient else None
        # the precision the rows' gradients were computed in, which a query's must share (float32 before
        # indexes recorded it)
        self.base_dtype = self.meta.get("gradient", {}).get("base_dtype", "float32")

    @property
    def span_weight(self) -> float:
        return {SPAN: 1.0, GRADIENT: 0.0}.get(self.method, self.meta["span_weight_bps"] / 10_000)

    def params(self) -> dict:
        """What a signed result records of how it was computed."""
        out = {"span_weight": self.span_weight}
        if "gradient" in self.meta:
            g = self.meta["gradient"]
            out.update(gradient=g["method"], k=g["k"], damping=g.get("damping", {}).get("damping"),
                       token_normalized=g["token_normalized"])
            if "echo_weight" in g:  # the reading's echo weight (indexes before it read every token at 1)
                out["echo_weight"] = g["echo_weight"]
            if "power" in g:  # the damped Fisher's power (indexes before it inverted it: 1)
                out["power"] = g["power"]
            if "layers" in g:  # the top layers read (indexes before it read every layer)
                out["layers"] = g["layers"]
        return out

    def prepare(self, model):
        """`model` laid out for this index's queries, its base layers in the precision the rows were computed
        in (itself, or a copy sharing all but what it converts: `frozen_base`), its decoder arranged for
        gradient queries (`lora_influence.ready`)."""
        model = arranged(model, self.base_dtype)
        if self.features is not None:
            influence.ready(model)
        return model

    def gradient_scores(self, model, tokenizer, query: Example, adapter: str = "default") -> tuple[float, np.ndarray]:
        """(`fine_tune_gain`, every row's score) of one generation; no scores (and no backward pass) when the
        gain is 0. One forward with the adapter serves both. `model` must be `prepare`d."""
        if base_dtype(model) != self.base_dtype:
            raise ValueError(f"the index's rows were computed with the base layers in {self.base_dtype}, the "
                             f"model's are in {base_dtype(model)}: query a model the index has prepared")
        g = self.meta["gradient"]
        query = self.reading.read(query, tokenizer)
        gain, layout, blocks = influence.query_projection(model, query, tokenizer.pad_token_id, g["k"], g["seed"],
                                                          adapter, token_normalized=self.reading.token_normalized,
                                                          traced=[name for name, _, _ in g["modules"]],
                                                          adapter_modules=g.get("adapter_modules"))
        if [[m.name, m.a_size, m.b_size] for m in layout] != g["modules"]:
            raise ValueError("the index was built for another adapter layout than the one loaded")
        return gain, influence.scores(blocks, self.features)[0] if blocks is not None else np.zeros(0)

    def credit(self, model, tokenizer, query: Example, output: list[int], adapter: str = "default") -> Credit:
        """Span credit over the output tokens and positive LoRA-gradient influence of the whole continuation,
        each normalised to the pool it pays, mixed by the span weight. Each pays only what the data explains:
        span credit the share of the output its spans reproduce (coverage), gradient credit the share of
        the output's information the fine-tune supplied (`fine_tune_gain`) - boilerplate earns nothing."""
        w = self.span_weight
        rows, paid, spans = np.zeros(len(self.row_contribution)), 0.0, []
        if self.span is not None and w > 0:
            params = CreditParams(**self.meta["span"])
            spans, by_row, coverage = attribute_spans(self.span, output, params)
            if by_row.sum() > 0:
                rows += w * coverage * by_row / by_row.sum()
                paid += w * coverage
        if self.features is not None and w < 1:
            gain, scores = self.gradient_scores(model, tokenizer, query, adapter)
            positive = np.where(np.isfinite(scores) & (scores > 0), scores, 0.0)
            if positive.sum() > 0:
                rows += (1 - w) * gain * positive / positive.sum()
                paid += (1 - w) * gain
        return Credit(rows, paid, spans)

    def close(self) -> None:
        if self.span is not None:
            self.span.close()
