"""Attribution accuracy benchmark: Linear Datamodeling Score (LDS), ours next to the public yardsticks.

Datasets (all bundled or generated, nothing downloaded): scikit-learn's digits (64 features, 10
classes), breast cancer (30, 2), wine (13, 3), and a synthetic `make_classification` set (20, 4),
each standardised, with logistic regression and an MLP (one hidden layer of 32), weight decay 1e-2,
torch.set_num_threads(1). Ground truth: M random 50% subsets of the training set (example level) or of
the contributors (contributor level), each retrained with R seeds, recording every test point's −loss;
cached in bench/.cache. LDS = mean over test points of the Spearman correlation between retrained
outcomes and the sums of predicted scores over each subset; the first half of the test points only
orients the yardsticks' sign, LDS is reported on the second half. The noise ceiling is the LDS one
seed's retraining gets at predicting another's.

Ours run through the worker's real index (build, then per-query scoring) with the damping the index
chooses from the training data (gradient/damping.py); no per-dataset constant is set here. The
yardsticks are plain gradient dot-product, Kronfluence (EK-FAC) and traker (TRAK, 10 models),
installed with `pip install -e '.[bench]'`.

Besides LDS it reports what the payout rule does with money (`fair_pay`): how far a requester grinding
the input moves a small contributor's share (steering), what padding with noisy copies or adding
new rows does to a contributor's share (padding), and how steadily a small contributor is paid, query by
query and per 100 queries, by draws before and by exact shares now, listed or from a result's tail
(steady_income).

    python bench/attribution_lds.py [--subsets 100] [--seeds 2] [--datasets digits wine] [--models mlp]
    python bench/attribution_lds.py --fair-pay-only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scipy.stats import spearmanr  # noqa: E402

from cli.logs import configure_logging  # noqa: E402
from gpu_worker.artifacts import Store  # noqa: E402
from gpu_worker.configs import ModelConfig  # noqa: E402
from gpu_worker.datasets import Snapshot, dataset_to_proto  # noqa: E402
from gpu_worker.gradient import influence as inf  # noqa: E402
from gpu_worker.gradient.index import AttributionIndex, IndexBuilder, IndexParams  # noqa: E402
from gpu_worker.gradient.models import artifact_from_state  # noqa: E402
from gpu_worker.gradient.training import TrainConfig, load_model, train  # noqa: E402
from runtime.crypto import blake2_256  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
WD = 1e-2


def _split(x: np.ndarray, y: np.ndarray, train_n: int, test_n: int, contributors: int) -> tuple:
    """Standardised, shuffled train/test split; training examples dealt to contributors at random."""
    order = np.random.default_rng(0).permutation(len(x))
    train_idx, test_idx = order[:train_n], order[train_n:train_n + test_n]
    mean, std = x[train_idx].mean(0), x[train_idx].std(0) + 1e-6
    x = ((x - mean) / std).astype(np.float32)
    owner = np.random.default_rng(1).integers(0, contributors, train_n)
    snapshot = Snapshot(x[train_idx], y[train_idx].astype(np.int64), owner, list(range(contributors)),
                        [bytes([i + 1]) * 32 for i in range(contributors)])
    return snapshot, x[test_idx], y[test_idx].astype(np.int64)


def _sklearn(loader: str):
    import sklearn.datasets

    data = getattr(sklearn.datasets, loader)()
    return data.data, data.target


def _synthetic():
    from sklearn.datasets import make_classification

    return make_classification(n_samples=1400, n_features=20, n_informative=8, n_redundant=4, n_classes=4,
                               n_clusters_per_class=2, class_sep=1.0, flip_y=0.02, random_state=0)


# name -> (features and labels, train examples, test examples, contributors)
DATASETS = {"digits": (lambda: _sklearn("load_digits"), 1000, 200, 20),
            "breast_cancer": (lambda: _sklearn("load_breast_cancer"), 400, 160, 20),
            "wine": (lambda: _sklearn("load_wine"), 120, 58, 10),
            "synthetic": (_synthetic, 1000, 200, 20)}


def dataset(name: str) -> tuple[Snapshot, np.ndarray, np.ndarray]:
    load, train_n, test_n, contributors = DATASETS[name]
    x, y = load()
    return _split(np.asarray(x, dtype=np.float64), np.asarray(y), train_n, test_n, contributors)


def model_config(model: str, data: Snapshot) -> ModelConfig:
    inputs, classes = data.features.shape[1], int(data.labels.max()) + 1
    return ModelConfig("logreg", inputs, classes) if model == "logreg" else ModelConfig("mlp", inputs, classes, (32,))


def test_log_prob(config: ModelConfig, state, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logp = torch.log_softmax(load_model(config, state)(torch.as_tensor(x, dtype=torch.float64)), -1).numpy()
    return logp[np.arange(len(y)), y]


def ground_truth(name: str, config: ModelConfig, level: str, data: Snapshot, x_test, y_test, subsets: int,
                 seeds: int):
    """masks [M, units] and outcomes [M, R, n_test] (−loss), cached on disk."""
    key = hashlib.blake2b(f"{name}{level}{subsets}{seeds}{WD}{config}{len(data.labels)}v2".encode(),
                          digest_size=8).hexdigest()
    path = CACHE / f"lds-{name}-{level}-{key}.npz"
    if path.exists():
        cached = np.load(path)
        return cached["masks"], cached["outcomes"]
    units = len(data.labels) if level == "example" else len(data.contribution_ids)
    masks = np.random.default_rng(2 if level == "example" else 3).random((subsets, units)) < 0.5
    outcomes = np.zeros((subsets, seeds, len(y_test)))
    for m in range(subsets):
        keep = masks[m] if level == "example" else masks[m][data.contribution]
        for r in range(seeds):
            trained = train(config, data.subset(keep), TrainConfig(seed=1000 + r, weight_decay=WD))
            outcomes[m, r] = test_log_prob(config, trained.state, x_test, y_test)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, masks=masks, outcomes=outcomes)
    return masks, outcomes


def lds(scores: np.ndarray, masks: np.ndarray, outcomes: np.ndarray, points: np.ndarray) -> float:
    """scores [n_test, units]: mean Spearman(predicted, actual) over the given test points."""
    predicted = masks.astype(np.float64) @ scores.T
    truth = outcomes.mean(axis=1)
    return float(np.mean([spearmanr(predicted[:, j], truth[:, j]).statistic for j in points]))


def noise_ceiling(outcomes: np.ndarray, points: np.ndarray) -> float:
    seeds = outcomes.shape[1]
    pairs = [(a, b) for a in range(seeds) for b in range(seeds) if a < b]
    return float(np.mean([spearmanr(outcomes[:, a, j], outcomes[:, b, j]).statistic
                          for a, b in pairs for j in points]))


def ours(method: str, ensemble: int, config, data, model_state, x_test, y_test, workdir: Path, **extra) -> dict:
    store = Store(workdir / f"{method}-{ensemble}")
    model_hash = store.put_model(artifact_from_state(config, model_state))
    dataset_hash = store.put_dataset(dataset_to_proto(data))
    started = time.perf_counter()
    index_hash = IndexBuilder(store, model_hash, dataset_hash,
                              IndexParams(method=method, ensemble=ensemble, weight_decay=WD, **extra)).build()
    build_s = time.perf_counter() - started
    index = AttributionIndex(store, index_hash)
    if index.manifest["near_duplicate_rows"]:  # scores must line up with the ground truth's examples
        raise SystemExit(f"{index.manifest['near_duplicate_rows']} near-duplicate rows left out of the index")
    damping = index.manifest["params"]["damping"]
    index.example_scores(x_test[0], int(y_test[0]))  # warm: memory-maps and caches
    scores, latencies = [], []
    for x, y in zip(x_test, y_test, strict=True):
        t0 = time.perf_counter()
        scores.append(index.example_scores(x, int(y)))
        latencies.append((time.perf_counter() - t0) * 1000)
    return {"scores": np.array(scores), "build_s": build_s, "query_ms_p50": statistics.median(latencies),
            "bytes_per_example": index.nbytes / len(data.labels), "damping": damping}


def tracin(config, data, x_test, y_test) -> dict:
    started = time.perf_counter()
    trained = train(config, data, TrainConfig(seed=0, weight_decay=WD))
    checkpoints = trained.checkpoints or [trained.state]
    lrs = trained.checkpoint_lrs or [1.0]
    scores = 0
    for state, lr in zip(checkpoints, lrs, strict=True):
        g_train = np.concatenate([g for g, _ in inf.per_example_grads(config, state, data.features, data.labels,
                                                                      "loss")])
        g_test = np.concatenate([g for g, _ in inf.per_example_grads(config, state, x_test, y_test, "loss")])
        scores = scores + lr * g_test @ g_train.T
    return {"scores": np.asarray(scores), "build_s": time.perf_counter() - started, "query_ms_p50": None,
            "bytes_per_example": None}


def kronfluence_ekfac(config, model_state, data, x_test, y_test, workdir: Path) -> dict:
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.task import Task

    class Classification(Task):
        def compute_train_loss(self, batch, model, sample=False):
            inputs, labels = batch
            logits = model(inputs)
            if sample:
                with torch.no_grad():
                    labels = torch.multinomial(torch.softmax(logits, -1), 1).flatten()
            return torch.nn.functional.cross_entropy(logits, labels, reduction="sum")

        def compute_measurement(self, batch, model):
            inputs, labels = batch
            return torch.nn.functional.cross_entropy(model(inputs), labels, reduction="sum")

    model = load_model(config, model_state).float()
    model = prepare_model(model, Classification())
    train_set = torch.utils.data.TensorDataset(torch.as_tensor(data.features), torch.as_tensor(data.labels))
    test_set = torch.utils.data.TensorDataset(torch.as_tensor(x_test), torch.as_tensor(y_test))
    started = time.perf_counter()
    analyzer = Analyzer(analysis_name="lds", model=model, task=Classification(), cpu=True,
                        output_dir=str(workdir / "kronfluence"), disable_tqdm=True)
    analyzer.fit_all_factors(factors_name="ekfac", dataset=train_set, per_device_batch_size=200,
                             factor_args=FactorArguments(strategy="ekfac"), overwrite_output_dir=True)
    analyzer.compute_pairwise_scores(scores_name="scores", factors_name="ekfac", query_dataset=test_set,
                                     train_dataset=train_set, per_device_query_batch_size=200,
                                     per_device_train_batch_size=500, score_args=ScoreArguments(),
                                     overwrite_output_dir=True)
    scores = analyzer.load_pairwise_scores("scores")["all_modules"].numpy().astype(np.float64)
    return {"scores": scores, "build_s": time.perf_counter() - started, "query_ms_p50": None,
            "bytes_per_example": None}


def traker_trak(config, data, x_test, y_test, workdir: Path, models: int = 10, proj_dim: int = 512) -> dict:
    from trak import TRAKer
    from trak.projectors import BasicProjector, ProjectionType

    states = [train(config, data, TrainConfig(seed=s, weight_decay=WD)).state for s in range(models)]
    model = load_model(config, states[0]).float()
    dim = sum(p.numel() for p in model.parameters())
    started = time.perf_counter()
    projector = BasicProjector(grad_dim=dim, proj_dim=proj_dim, seed=0, proj_type=ProjectionType.rademacher,
                               device="cpu", dtype=torch.float32)
    traker = TRAKer(model=model, task="image_classification", train_set_size=len(data.labels),
                    save_dir=str(workdir / "trak"), device="cpu", projector=projector, use_half_precision=False,
                    proj_dim=proj_dim)
    x_train, y_train = torch.as_tensor(data.features), torch.as_tensor(data.labels)
    for model_id, state in enumerate(states):
        traker.load_checkpoint({k: v.float() for k, v in state.items()}, model_id=model_id)
        for s in range(0, len(y_train), 250):
            traker.featurize(batch=(x_train[s:s + 250], y_train[s:s + 250]), num_samples=len(y_train[s:s + 250]))
    traker.finalize_features()
    for model_id, state in enumerate(states):
        traker.start_scoring_checkpoint(exp_name="lds", checkpoint={k: v.float() for k, v in state.items()},
                                        model_id=model_id, num_targets=len(y_test))
        traker.score(batch=(torch.as_tensor(x_test), torch.as_tensor(y_test)), num_samples=len(y_test))
    scores = np.asarray(traker.finalize_scores(exp_name="lds"), dtype=np.float64).T  # [n_test, n_train]
    return {"scores": scores, "build_s": time.perf_counter() - started, "query_ms_p50": None,
            "bytes_per_example": None}


def steering(requests: int = 400, variants: int = 32) -> dict:
    """Issue 29.1: a requester tries one-bit variations of the input until the draws, as computed before
    signing, pay a chosen small contributor (a quarter of one draw's worth of credit). Its mean share, over
    its credit: paid by the draws of the rule before (`_drawn_before`) started from the request id and input,
    and from a hash made after the request was fixed (the including block's hash; fresh random bytes here);
    and by exact shares now, listed or from the tail, whichever variation was chosen. The others hold 20
    contributions: more than a result lists."""
    from gpu_worker.results import MAX_LISTED, PPB, credit_shares

    rng = np.random.default_rng(4)
    credit = rng.pareto(1.5, 300) + 0.01
    small = 2 + np.arange(len(credit)) % 20  # the others in 20 contributions: more than 16
    for unit in np.argsort(-credit)[30:]:
        if credit[small == 1].sum() + credit[unit] <= credit.sum() / (4 * MAX_LISTED):
            small[unit] = 1
    fair = credit[small == 1].sum() / credit.sum()

    def drawn(seed: bytes) -> float:
        return float(_drawn_before(credit, small, MAX_LISTED, seed)[1])

    steered, blocked = [], []
    for n in range(requests):
        rid = n.to_bytes(8, "big")
        tried = [hashlib.blake2b(b"input %d %d" % (n, v), digest_size=32).digest() for v in range(variants)]
        chosen = next((t for t in tried if drawn(rid + t)), tried[0])
        steered.append(drawn(rid + chosen))
        blocked.append(drawn(rng.bytes(32) + rid))
    shares = credit_shares(credit, small, MAX_LISTED)
    exact = dict(shares.listed + shares.tail).get(1, 0) / PPB  # the same for every variation: nothing drawn
    return {"requests": requests, "variants_tried": variants, "fair_share": round(fair, 4),
            "share_x_draws_from_request": round(float(np.mean(steered)) / fair, 2),
            "share_x_draws_from_block": round(float(np.mean(blocked)) / fair, 2),
            "share_x_exact_now": round(exact / fair, 6)}


def _digits_worker(root: Path, snapshot: Snapshot):
    """(worker, model hash, its index): the MLP the fair-pay figures use, trained on `snapshot` and indexed
    through a worker rooted at `root`, as a model builder's would be."""
    from gpu_worker.worker import Worker
    from payable.worker.v1 import worker_pb2 as wp
    from runtime.crypto import Keypair

    worker = Worker(root, Keypair.from_uri("//Worker"))
    trained = worker.gradient.train(wp.TrainRequest(
        dataset=dataset_to_proto(snapshot), seed=1,
        model_config_json='{"family": "mlp", "inputs": 64, "classes": 10, "hidden": [16]}'))
    built = list(worker.gradient.build_index(wp.BuildIndexRequest(
        model_hash=trained.model_hash, dataset_hash=trained.dataset_hash, ensemble=1)))[-1]
    return worker, trained.model_hash, worker.gradient.index(built.index_hash)


def _drawn_before(credit: np.ndarray, grouping: np.ndarray, draws: int, seed: bytes) -> np.ndarray:
    """The rule before tails, for comparison: with more than `draws` contributions credited, the pool was
    paid in `draws` equal parts placed by systematic sampling over the units' cumulative positive credit
    (largest first) from an offset derived from the seed. Each contribution's share of the pool."""
    positive = np.clip(np.where(np.isfinite(credit), credit, 0.0), 0, None).astype(np.float64)
    layout = np.lexsort((np.arange(len(positive)), -positive))
    offset = int.from_bytes(blake2_256(b"payable/draws" + seed)[:8], "big") / 2**64
    marks = (offset + np.arange(draws)) / draws * positive.sum()
    units = layout[np.searchsorted(np.cumsum(positive[layout]), marks, side="right").clip(0, len(positive) - 1)]
    return np.bincount(grouping[units], minlength=grouping.max() + 1) / draws


def steady(queries: int = 1400, window: int = 100) -> dict:
    """Issue 29.3: the income of a small contributor (6 of 300 digits) among many (every other digit its own
    contribution: 295 credited, far more than the 16 a result lists) over `queries` paid queries through the
    worker's index: per query and per `window` queries, paid by draws (the rule before: 16 equal draws from
    a block hash - random bytes here) and by exact shares (now: the 16 largest listed, the rest - the small
    contributor among them - paid from the result's tail). `spread` is the coefficient of variation
    (std / mean) of its income (what its credit itself varies: `owed_...`); `window_error` the largest
    |received / owed - 1| over the windows, where owed is the sum of its exact shares; `in_tail` how often
    it was paid from the tail."""
    from sklearn.datasets import load_digits

    from gpu_worker.results import MAX_LISTED, PPB, credit_shares

    digits = load_digits()
    x, y, n = (digits.data / 16.0).astype(np.float32), digits.target, 300
    owner = np.where(np.arange(n) % 50 == 0, 0, 1 + np.arange(n) % 3)
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory(prefix="payable-steady-") as tmp:
        snapshot = Snapshot(x[:n], y[:n], owner, [1, 2, 3, 4], [bytes([i]) * 32 for i in range(1, 5)])
        worker, model_hash, index = _digits_worker(Path(tmp), snapshot)
        grouping = index.example_contribution
        units_apart = np.where(grouping == 0, 0, 1 + np.arange(len(grouping)))  # every other row its own
        owed, before, after, in_tail = [], [], [], 0
        for query in x[n:n + queries]:
            credit = index.example_scores(query, worker.gradient.infer(model_hash, query).label)
            positive = np.clip(credit, 0, None)
            owed.append(positive[grouping == 0].sum() / positive.sum())
            before.append(float(_drawn_before(credit, units_apart, MAX_LISTED, rng.bytes(32))[0]))
            shares = credit_shares(credit, units_apart, MAX_LISTED)
            after.append(dict(shares.listed + shares.tail).get(0, 0) / PPB)
            in_tail += 0 in dict(shares.tail)
    owed = np.array(owed)
    windows = owed.reshape(-1, window).sum(1)

    def income(paid: list[float]) -> dict:
        paid = np.array(paid)
        sums = paid.reshape(-1, window).sum(1)
        return {"mean_share": round(float(paid.mean()), 5), "queries_paid_nothing": round(float(np.mean(paid == 0)), 3),
                "per_query_spread": round(float(paid.std() / paid.mean()), 3),
                f"per_{window}_queries_spread": round(float(sums.std() / sums.mean()), 3),
                "window_error": round(float(np.max(np.abs(sums / windows - 1))), 4)}

    return {"queries": queries, "owed_mean_share": round(float(owed.mean()), 5),
            f"owed_per_{window}_queries_spread": round(float(windows.std() / windows.mean()), 3),
            "queries_it_helps": round(float(np.mean(owed > 0)), 3),
            "paid_from_the_tail": round(in_tail / queries, 3),
            "draws_before": income(before), "exact_now": income(after)}


def padding(copies=(1, 3, 9), queries: int = 40) -> dict:
    """Issue 29.2: a contributor holding 15 of 300 digits pads them with noisy copies (Gaussian, 0.05 of each
    feature's deviation) or adds 45 genuinely new digits; its expected share (positive credit held,
    averaged over test queries) through the worker, over its share alone."""
    from sklearn.datasets import load_digits


    digits = load_digits()
    x, y = (digits.data / 16.0).astype(np.float32), digits.target
    n, mine = 300, np.arange(0, 300, 20)
    owner = np.where(np.isin(np.arange(n), mine), 0, 1 + np.arange(n) % 2)
    noise = np.random.default_rng(0).normal(size=(max(copies) * len(mine), 64)) * 0.05 * x[:n].std(axis=0)
    cases = {"alone": (x[:0], y[:0]), "new rows (45)": (x[n:n + 45], y[n:n + 45])}
    for k in copies:
        cases[f"padded x{k}"] = (np.tile(x[mine], (k, 1)) + noise[:k * len(mine)], np.tile(y[mine], k))
    out = {}
    with tempfile.TemporaryDirectory(prefix="payable-padding-") as tmp:
        for name, (more_x, more_y) in cases.items():
            snapshot = Snapshot(np.concatenate([x[:n], more_x]).astype(np.float32), np.concatenate([y[:n], more_y]),
                                np.concatenate([owner, np.full(len(more_x), 3)]), [1, 2, 3, 4],
                                [bytes([1]) * 32, bytes([2]) * 32, bytes([3]) * 32, bytes([1]) * 32])
            worker, model_hash, index = _digits_worker(Path(tmp) / name.replace(" ", "-"), snapshot)
            theirs = np.isin(index.example_contribution, [0, 3])
            fractions = []
            for query in x[1000:1000 + queries]:
                label = worker.gradient.infer(model_hash, query).label
                credit = np.clip(index.example_scores(query, label), 0, None)
                fractions.append(credit[theirs].sum() / credit.sum())
            out[name] = {"share": round(float(np.mean(fractions)), 4),
                         "rows_left_out": index.manifest["near_duplicate_rows"]}
    for case in out.values():
        case["x_alone"] = round(case["share"] / out["alone"]["share"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subsets", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--datasets", nargs="+", default=sorted(DATASETS), choices=sorted(DATASETS))
    parser.add_argument("--models", nargs="+", default=["logreg", "mlp"], choices=["logreg", "mlp"])
    parser.add_argument("--no-yardsticks", action="store_true")
    parser.add_argument("--fair-pay-only", action="store_true",
                        help="only the steering, padding and steady-income figures")
    args = parser.parse_args()
    configure_logging()  # the worker's log lines on stderr: stdout is the JSON figures alone
    torch.set_num_threads(1)
    out = {"benchmark": "attribution_lds", "setting": {"subsets": args.subsets, "seeds": args.seeds,
                                                       "weight_decay": WD, "reported_on": "the second half of "
                                                                                          "the test points"},
           "fair_pay": {"steering": steering(), "padding": padding(), "steady_income": steady()}}
    if args.fair_pay_only:
        print(json.dumps(out["fair_pay"], indent=2))
        return
    for dataset_name in args.datasets:
        data, x_test, y_test = dataset(dataset_name)
        half = len(y_test) // 2
        tune, report = np.arange(0, half), np.arange(half, len(y_test))
        onehot = np.eye(len(data.contribution_ids))[data.contribution]  # [n, contributors]
        out[dataset_name] = {"train": len(data.labels), "test": len(y_test),
                             "contributors": len(data.contribution_ids)}
        for name in args.models:
            config = model_config(name, data)
            started = time.perf_counter()
            key = f"{dataset_name}-{name}"
            ex_masks, ex_out = ground_truth(key, config, "example", data, x_test, y_test, args.subsets, args.seeds)
            co_masks, co_out = ground_truth(key, config, "contributor", data, x_test, y_test, args.subsets,
                                            args.seeds)
            row = {"ground_truth_s": round(time.perf_counter() - started, 1),
                   "noise_ceiling": {"example": round(noise_ceiling(ex_out, report), 3),
                                     "contributor": round(noise_ceiling(co_out, report), 3)}, "methods": {}}
            primary = train(config, data, TrainConfig(seed=0, weight_decay=WD)).state
            with tempfile.TemporaryDirectory(prefix="payable-lds-") as tmp:
                work = Path(tmp)
                runs = [("ours gn (1 model)", ours, ("gn", 1), {}), ("ours gn (3 models)", ours, ("gn", 3), {}),
                        ("ours ekfac", ours, ("ekfac", 1), {}),
                        ("ours trak (10 models, k=512)", ours, ("trak", 10), {"projection": 512}),
                        ("grad_dot", ours, ("grad_dot", 1), {})]
                if name == "logreg":
                    runs.append(("ours if (exact Hessian)", ours, ("if", 1), {}))
                results = {label: fn(*head, config, data, primary, x_test, y_test, work, **kw)
                           for label, fn, head, kw in runs}
                results["tracin"] = tracin(config, data, x_test, y_test)
                if not args.no_yardsticks:
                    results["kronfluence ekfac"] = kronfluence_ekfac(config, primary, data, x_test, y_test, work)
                    results["traker trak (10 models)"] = traker_trak(config, data, x_test, y_test, work)
                for method, result in results.items():
                    scores = result.pop("scores")
                    damping = result.pop("damping", None)
                    if method.startswith(("kronfluence", "traker")):  # orientation chosen on the tuning half
                        if lds(scores, ex_masks, ex_out, tune) < lds(-scores, ex_masks, ex_out, tune):
                            scores = -scores
                    row["methods"][method] = {
                        "lds": round(lds(scores, ex_masks, ex_out, report), 3),
                        "lds_contributor": round(lds(scores @ onehot, co_masks, co_out, report), 3),
                        **({"damping": damping} if damping is not None else {}),
                        **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items()}}
                    print(f"{key:>22} {method:<30} {row['methods'][method]}", file=sys.stderr)
            out[dataset_name][name] = row
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
