"""The attribution index: preconditioned training-example features, built once per model and dataset.

Layout of indexes/<index hash>/:
    manifest.json      method, parameters, sizes, the model and dataset hashes, and the blake2b-256 of
                       every other file; the index hash is blake2b-256 of this file's bytes
    features.f16       float16 [ensemble, examples, dim], memory-mapped: row i of member m holds
                       P⁻¹ g_m(i) · w(i) for that member's preconditioner (see influence.py)
    member-<m>.safetensors   the weights of ensemble member m (member 0 is the served model)
    preconditioner-<m>.npy   what turns a query gradient into member m's feature space (if needed)
    contributions.json examples → contributions → contributors (the snapshot's rows less their near-duplicates:
                       `gpu_worker.near_duplicates`)

Building is resumable and runs in bounded memory: examples are processed in chunks written straight
into the memory-mapped file, and `progress.json` records the finished chunks; an interrupted build
continues where it stopped and, being deterministic, produces the same bytes and hash. Loading checks
every file against the manifest, so a tampered index is refused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from runtime.crypto import blake2_256_file

from ..artifacts import Store
from ..configs import ModelConfig
from ..datasets import Snapshot
from ..errors import ArtifactError, ArtifactNotFound
from ..near_duplicates import distinct_rows
from . import influence as inf
from .damping import choose_damping
from .training import TrainConfig, train

EXACT_MAX_DIM = 8192  # above this many parameters the curvature is built in a projected space
DEFAULT_PROJECTION = 2048
CHUNK = 256
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class IndexParams:
    method: str = "gn"
    ensemble: int = 3
    projection: int = 0      # 0: exact (no projection) when the model is small enough, else DEFAULT_PROJECTION
    damping: float | None = None  # relative to the curvature's mean eigenvalue; None: chosen from the data
    weight_decay: float = TrainConfig.weight_decay  # the L2 the model was trained with
    seed: int = 0            # projection seed; ensemble members are trained from seeds derived from it

    def __post_init__(self) -> None:
        if self.method not in inf.METHODS or self.method == "tracin":
            raise ValueError(f"index method must be one of gn, trak, ekfac, if, grad_dot; got {self.method!r}")
        if not 1 <= self.ensemble <= 32:
            raise ValueError("ensemble must be within 1..32")
        if self.projection < 0 or (self.damping is not None and self.damping < 0):
            raise ValueError("projection and damping must not be negative")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)



def _target(method: str) -> str:
    return "margin" if method == "trak" else "loss"


class IndexBuilder:
    def __init__(self, store: Store, model_hash: bytes, dataset_hash: bytes, params: IndexParams,
                 device: str | torch.device = "cpu"):
        self.store, self.params, self.device = store, params, device
        self.model_hash, self.dataset_hash = model_hash, dataset_hash
        self.config, self.state, _ = store.model(model_hash)
        everything: Snapshot = store.dataset(dataset_hash)
        self.data = distinct_rows(everything)  # what the model was trained on (`GradientEngine.train`)
        self.near_duplicates = len(everything.labels) - len(self.data.labels)
        key = hashlib.blake2b(model_hash + dataset_hash + params.to_json().encode(), digest_size=16).hexdigest()
        self.work = store.root / "indexes" / f"building-{key}"
        self.dim = sum(v.numel() for v in self.state.values())
        self.k = params.projection or (None if self.dim <= EXACT_MAX_DIM else DEFAULT_PROJECTION)
        self.feature_dim = self.dim if self.k is None or self.k >= self.dim else self.k

    # --- progress that survives interruption ------------------------------------------------------
    def _progress(self) -> dict:
        path = self.work / "progress.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _save_progress(self, state: dict) -> None:
        tmp = self.work / "progress.tmp"
        tmp.write_text(json.dumps(state, sort_keys=True))
        tmp.replace(self.work / "progress.json")

    def _member(self, m: int) -> dict[str, torch.Tensor]:
        path = self.work / f"member-{m}.safetensors"
        if m == 0:
            state = self.state
        elif path.exists():
            return load_file(path)
        else:
            seed = int.from_bytes(hashlib.blake2b(self.model_hash + bytes([m, self.params.seed & 0xFF]),
                                                  digest_size=4).digest(), "big")
            state = train(self.config, self.data, TrainConfig(seed=seed, weight_decay=self.params.weight_decay),
                          self.device).state
        tensors = {k: v.to(torch.float64).contiguous() for k, v in sorted(state.items())}
        if not path.exists():
            save_file(tensors, path)
        return tensors

    def _chosen_damping(self) -> None:
        """With damping None (auto), choose it from the data once (kept in the work folder for a resumed build);
        the index is then built, and its manifest written, with the chosen value."""
        if self.params.damping is not None or self.params.method == "grad_dot":
            self.selection = None
            return
        path = self.work / "damping.json"
        if not path.exists():
            k = self.k if self.k is not None and self.k < self.dim else None
            chosen = choose_damping(self.config, self.state, self.data, self.params.method, self.params.weight_decay,
                                    self.params.seed, k, self.device)
            path.write_text(json.dumps(chosen, sort_keys=True))
        self.selection = json.loads(path.read_text())
        self.params = replace(self.params, damping=self.selection["damping"])

    def build(self, report: Progress | None = None) -> bytes:
        """Build (or finish building) the index; returns its hash."""
        report = report or (lambda *_: None)
        self.work.mkdir(parents=True, exist_ok=True)
        self._chosen_damping()
        n, members = len(self.data.features), self.params.ensemble
        shape = (members, n, self.feature_dim)
        features_path = self.work / "features.f16"
        progress = self._progress()
        mode = "r+" if features_path.exists() and progress else "w+"
        features = np.memmap(features_path, dtype=np.float16, mode=mode, shape=shape)
        total = members * n
        for m in range(members):
            state = self._member(m)
            precond = self._preconditioner(m, state)
            done = progress.get(str(m), 0)
            for start in range(done, n, CHUNK):
                rows = slice(start, min(start + CHUNK, n))
                features[m, rows] = self._features(state, precond, rows).astype(np.float16)
                features.flush()
                progress[str(m)] = rows.stop
                self._save_progress(progress)
                report("features", m * n + rows.stop, total)
        del features
        return self._seal()

    def _preconditioner(self, m: int, state: dict[str, torch.Tensor]):
        """Member m's curvature, saved so a resumed build does not recompute it."""
        path = self.work / f"preconditioner-{m}.npy"
        method, p, data = self.params.method, self.params, self.data
        if method == "grad_dot":
            return None
        if path.exists():
            return np.load(path, allow_pickle=False)
        projection = (p.seed, self.k) if self.k is not None and self.k < self.dim else None
        if method == "gn":
            matrix = inf.damped_inverse(inf.gauss_newton(self.config, state, data.features, p.weight_decay,
                                                         projection=projection), p.damping)
        elif method == "if":
            if projection:
                raise ValueError("method 'if' needs the full Hessian: the model is too large; use gn")
            matrix = inf.damped_inverse(inf.hessian(self.config, state, data.features, data.labels, p.weight_decay),
                                        p.damping)
        elif method == "trak":
            gram = np.zeros((self.feature_dim, self.feature_dim))
            for grads, _ in inf.per_example_grads(self.config, state, data.features, data.labels, "margin"):
                phi = inf.project(grads, p.seed, self.k)
                gram += phi.T @ phi
            matrix = inf.damped_inverse(gram, p.damping)
        else:  # ekfac: store the factors' eigenbases and corrected eigenvalues in one flat array
            grads = np.concatenate([g for g, _ in inf.per_example_grads(self.config, state, data.features,
                                                                        data.labels, "loss")])
            factors = inf.KFACFactors(self.config, grads, data.features, state, p.damping)
            matrix = np.concatenate([np.concatenate([qa.ravel(), qs.ravel(), eig.ravel()])
                                     for qa, qs, eig in factors.layers])
        np.save(path, matrix, allow_pickle=False)
        return matrix

    def _features(self, state, precond, rows: slice) -> np.ndarray:
        data, p = self.data, self.params
        grads, p_y = next(inf.per_example_grads(self.config, state, data.features[rows], data.labels[rows],
                                                _target(p.method), chunk=CHUNK, device=self.device))
        if p.method == "ekfac":
            factors = _ekfac_from_flat(self.config, precond)
            return inf.project(factors.precondition(grads), p.seed, self.k)
        phi = inf.project(grads, p.seed, self.k)
        if precond is not None:
            phi = phi @ precond
        if p.method == "trak":
            phi = phi * (1.0 - p_y)[:, None]
        return phi

    def _seal(self) -> bytes:
        data = self.data
        contributions = {"example_contribution": data.contribution.tolist(),
                         "contribution_ids": list(map(int, data.contribution_ids)),
                         "contributors": [c.hex() for c in data.contributors]}
        (self.work / "contributions.json").write_text(json.dumps(contributions, sort_keys=True))
        files = sorted(p.name for p in self.work.iterdir() if p.name not in ("manifest.json", "progress.json"))
        manifest = {"version": 1, "params": json.loads(self.params.to_json()), "model_hash": self.model_hash.hex(),
                    "dataset_hash": self.dataset_hash.hex(), "model_config": json.loads(self.config.to_json()),
                    "examples": len(data.features), "dim": self.feature_dim, "projection": self.k,
                    "parameters": self.dim, "target": _target(self.params.method),
                    "damping_selection": self.selection,
                    "near_duplicate_rows": self.near_duplicates,
                    "files": {name: blake2_256_file(self.work / name).hex() for name in files}}
        raw = json.dumps(manifest, sort_keys=True, indent=1).encode()
        (self.work / "manifest.json").write_bytes(raw)
        index_hash = hashlib.blake2b(raw, digest_size=32).digest()
        final = self.store.root / "indexes" / index_hash.hex()
        (self.work / "progress.json").unlink(missing_ok=True)
        if final.exists():
            shutil.rmtree(self.work)
        else:
            self.work.replace(final)
        return index_hash


def _ekfac_from_flat(config: ModelConfig, flat: np.ndarray) -> inf.KFACFactors:
    factors = inf.KFACFactors.__new__(inf.KFACFactors)
    factors.shapes = inf._linear_shapes(config)
    factors.layers, offset = [], 0
    for out_dim, in_dim in factors.shapes:
        a, s = in_dim + 1, out_dim
        qa = flat[offset:offset + a * a].reshape(a, a)
        offset += a * a
        qs = flat[offset:offset + s * s].reshape(s, s)
        offset += s * s
        eig = flat[offset:offset + s * a].reshape(s, a)
        offset += s * a
        factors.layers.append((qa, qs, eig))
    return factors


class AttributionIndex:
    """A sealed index, verified against its hash on load, answering attribution queries."""

    def __init__(self, store: Store, index_hash: bytes, device: str | torch.device = "cpu"):
        self.device = device
        root = store.root / "indexes" / index_hash.hex()
        if not (root / "manifest.json").exists():
            raise ArtifactNotFound(f"no index {index_hash.hex()} in {store.root}")
        raw = (root / "manifest.json").read_bytes()
        if hashlib.blake2b(raw, digest_size=32).digest() != index_hash:
            raise ArtifactError(f"index {index_hash.hex()}: manifest does not match the index hash (tampered)")
        manifest = json.loads(raw)
        for name, digest in manifest["files"].items():
            if not (root / name).exists() or blake2_256_file(root / name).hex() != digest:
                raise ArtifactError(f"index {index_hash.hex()}: {name} does not match its hash (tampered)")
        self.hash, self.root, self.manifest = index_hash, root, manifest
        self.params = IndexParams(**manifest["params"])
        self.config = ModelConfig.from_json(json.dumps(manifest["model_config"]))
        self.model_hash = bytes.fromhex(manifest["model_hash"])
        self.k = manifest["projection"]
        n, dim = manifest["examples"], manifest["dim"]
        self.features = np.memmap(root / "features.f16", dtype=np.float16, mode="r",
                                  shape=(self.params.ensemble, n, dim))
        self.members = [load_file(root / f"member-{m}.safetensors") for m in range(self.params.ensemble)]
        contributions = json.loads((root / "contributions.json").read_text())
        self.example_contribution = np.array(contributions["example_contribution"], dtype=np.int64)
        self.contribution_ids = contributions["contribution_ids"]
        self.contributors = [bytes.fromhex(c) for c in contributions["contributors"]]
        self._dense: list[torch.Tensor] | None = None
        self._matrix: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return int(self.features.nbytes)

    def _member_features(self, m: int, budget: int = 512 << 20) -> torch.Tensor | None:
        """Member m's features as float32 in memory when the whole index fits the budget, else None."""
        if self._dense is None:
            fits = self.features.size * 4 <= budget
            self._dense = [torch.from_numpy(np.asarray(self.features[i], dtype=np.float32)) if fits else None
                           for i in range(self.params.ensemble)]
        return self._dense[m]

    def _projection(self) -> np.ndarray | None:
        """The D×k projection matrix, generated once per loaded index (None when not projected)."""
        parameters = self.manifest["parameters"]
        if self.k is None or self.k >= parameters:
            return None
        if self._matrix is None:
            self._matrix = inf.projection_block(self.params.seed, parameters, self.k, 0, parameters)
        return self._matrix

    def example_scores(self, x: np.ndarray, label: int) -> np.ndarray:
        """Influence of every training example on (x, label), averaged over the ensemble (float64)."""
        target = self.manifest["target"]
        total = np.zeros(len(self.example_contribution))
        for m, state in enumerate(self.members):
            grads, _ = next(inf.per_example_grads(self.config, state, x[None].astype(np.float32),
                                                  np.array([label]), target, chunk=1, device=self.device))
            query = torch.from_numpy((grads @ self._projection())[0].astype(np.float32)
                                     if self._projection() is not None else grads[0].astype(np.float32))
            dense = self._member_features(m)
            if dense is not None:
                total += (dense @ query).double().numpy()
            else:  # larger than the memory budget: stream the memory-mapped rows
                for start in range(0, len(total), 65536):  # the same kernel as in memory: the same scores
                    rows = torch.from_numpy(np.asarray(self.features[m, start:start + 65536], dtype=np.float32))
                    total[start:start + len(rows)] += (rows @ query).double().numpy()
        return total / len(self.members)
