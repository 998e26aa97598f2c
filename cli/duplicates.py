"""`payable datanet duplicates DATANET`: which rows of a DataNet's contributions are near-duplicates of earlier
rows - within one contribution or across contributors - so a curator can reject padding with the reason
before it is approved (the worker leaves such rows out of training and credit anyway:
`gpu_worker.near_duplicates`, where the thresholds are stated).

Every live contribution (pending or approved) is read from the node's content store in arrival order: a
blob of tabular examples (a `payable.worker.v1.Dataset`) by features and label, a text file (text, jsonl,
csv) by the text of each row. A contribution whose bytes cannot be read as rows is listed with the reason.
"""

from __future__ import annotations

import numpy as np

from runtime.crypto import encode_address

from .common import client, emit, keypair_from

LIVE = ("PENDING", "APPROVED")
TEXT_FORMATS = ("text", "jsonl", "csv")


def _contributions(node, pb, datanet: int) -> list:
    found, after = [], 0
    while True:
        page = node.pallet_query("datanet", "list_contributions", pb.ContributionsRequest(
            datanet=datanet, start_after=after, limit=100), pb.ContributionList)
        found += [c for c in page.contributions if pb.Status.Name(c.status) in LIVE]
        if len(page.contributions) < 100:
            return found
        after = page.contributions[-1].id


def _text_rows(contribution, data: bytes, datanet: int) -> list[str]:
    from gpu_worker.finetune.dataset import DatasetSpec, Source, parse_source

    rows, problems = parse_source(DatasetSpec(snapshots=((datanet, 1),)), Source(
        contribution.id, contribution.contributor, contribution.content_hash, contribution.format, data))
    if problems and not rows:
        raise ValueError(str(problems[0]))
    return [row.text or "\n".join(content for _, content in row.messages) for row in rows]


def _tabular_rows(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    from google.protobuf.message import DecodeError

    from payable.worker.v1 import worker_pb2 as wp

    try:
        dataset = wp.Dataset.FromString(data)
    except DecodeError as exc:
        raise ValueError(f"not a tabular dataset blob ({exc})") from exc
    if not dataset.examples:
        raise ValueError("the blob holds no examples")
    return (np.array([list(e.features) for e in dataset.examples], dtype=np.float32),
            np.array([e.label for e in dataset.examples], dtype=np.int64))


def cmd_duplicates(args) -> int:
    from gpu_worker.near_duplicates import tabular_matches, text_matches
    from payable.datanet.v1 import datanet_pb2 as pb

    reader = keypair_from(args.sender) if args.sender else None
    with client(args) as node:
        live = _contributions(node, pb, args.datanet)
        owners: list[tuple[int, int]] = []  # (contribution, row) of every row read, in arrival order
        texts: list[str] = []
        features, labels = [], []
        unreadable = {}
        for contribution in live:
            data = node.download(contribution.content_hash, reader=reader)
            try:
                if contribution.format in TEXT_FORMATS:
                    rows = _text_rows(contribution, data, args.datanet)
                    texts += rows
                else:
                    x, y = _tabular_rows(data)
                    features.append(x)
                    labels.append(y)
                    rows = list(range(len(y)))
            except ValueError as exc:
                unreadable[contribution.id] = str(exc)
                continue
            owners += [(contribution.id, i + 1) for i in range(len(rows))]
    if texts and features:
        raise SystemExit(f"error: DataNet {args.datanet} mixes text and tabular contributions; they are compared "
                         "within their kind only")
    matches = (text_matches(texts) if texts else
               tabular_matches(np.concatenate(features), np.concatenate(labels)) if features else np.arange(0))
    rows_of: dict[int, list[int]] = {}  # contribution -> its rows' positions in `owners` (one pass, not one each)
    for i, (cid, _) in enumerate(owners):
        rows_of.setdefault(cid, []).append(i)
    report = []
    for contribution in live:
        mine = rows_of.get(contribution.id, [])
        copies = [{"row": owners[i][1], "of_contribution": owners[matches[i]][0], "of_row": owners[matches[i]][1]}
                  for i in mine if matches[i] >= 0]
        entry = {"contribution": contribution.id, "contributor": encode_address(contribution.contributor),
                 "status": pb.Status.Name(contribution.status).lower(), "rows": len(mine),
                 "near_duplicates": copies}
        if contribution.id in unreadable:
            entry["unreadable"] = unreadable[contribution.id]
        report.append(entry)
    table = [(f"#{e['contribution']}", e.get("unreadable") or
              f"{e['status']:<9} {e['rows']:>5} rows, {len(e['near_duplicates'])} near-duplicates"
              + (f" (of contributions {sorted({c['of_contribution'] for c in e['near_duplicates']})})"
                 if e["near_duplicates"] else "")) for e in report]
    emit(args, {"datanet": args.datanet, "contributions": report}, table)
    return 0
