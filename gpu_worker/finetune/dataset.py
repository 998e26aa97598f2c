"""From DataNet rows to training examples: formats, column mapping, prompt templates, a deterministic split.

A contribution is a file: plain text (one example per paragraph), JSONL (one object per line: prompt /
response fields, or a chat `messages` list) or CSV (a header row; the mapping names the columns). The
`DatasetSpec` says which snapshots, how fields map, and which template renders a row; every row that
cannot be mapped is reported with its contribution, line and reason - a preview never silently shows
an empty list. Loss is taken on the response only (prompt tokens are masked), as LLaMA-Factory does by
default; plain text trains on every token.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field

from runtime.crypto import blake2_256
from sdk import modelfactory
from sdk.prompts import TEMPLATES, prompt_text  # noqa: F401 - rendered one way, worker and clients (sdk/prompts.py)

from ..near_duplicates import text_matches
from ..rows import IGNORE, Example, Row

FORMATS = ("auto", "text", "jsonl", "csv")
class SpecError(ValueError):
    """The dataset spec itself is wrong (unknown format or template, bad mapping); the message says what."""


@dataclass(frozen=True)
class DatasetSpec:
    snapshots: tuple[tuple[int, int], ...]   # (datanet, version), versions explicit
    format: str = modelfactory.DEFAULT_FORMAT        # auto: each contribution's format as recorded on chain
    mapping: dict = field(default_factory=dict)      # modelfactory.MAPPING_KEYS → field/column names
    template: str = modelfactory.DEFAULT_TEMPLATE    # chat (the tokenizer's chat template), alpaca, plain, qa
    eval_per_mille: int = modelfactory.DEFAULT_EVAL_PER_MILLE  # held-out share of rows, in 1/1000
    split_seed: int = modelfactory.DEFAULT_SPLIT_SEED

    def __post_init__(self) -> None:
        if not self.snapshots:
            raise SpecError("name at least one snapshot (DATANET:VERSION)")
        if any(v < 1 for _, v in self.snapshots):
            raise SpecError("snapshot versions must be explicit (1, 2, ...), so the job is reproducible")
        if self.format not in FORMATS:
            raise SpecError(f"format {self.format!r} is not one of {FORMATS}")
        if self.template != "chat" and self.template not in TEMPLATES:
            raise SpecError(f"template {self.template!r} is not one of {('chat', *TEMPLATES)}")
        unknown = sorted(set(self.mapping) - set(modelfactory.MAPPING_KEYS))
        if unknown:
            raise SpecError(f"unknown mapping keys {unknown}: use {', '.join(modelfactory.MAPPING_KEYS)}")
        if not 0 <= self.eval_per_mille <= modelfactory.MAX_EVAL_PER_MILLE:
            raise SpecError(f"eval_per_mille must be within 0..{modelfactory.MAX_EVAL_PER_MILLE} (at most half the "
                            "rows held out)")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["snapshots"] = [list(s) for s in self.snapshots]
        data["mapping"] = dict(sorted(self.mapping.items()))
        return data

    @classmethod
    def from_dict(cls, data: dict) -> DatasetSpec:
        unknown = sorted(set(data) - {"snapshots", "format", "mapping", "template", "eval_per_mille", "split_seed"})
        if unknown:
            raise SpecError(f"unknown dataset spec keys {unknown}")
        try:
            snapshots = tuple((int(d), int(v)) for d, v in data.get("snapshots", ()))
        except (TypeError, ValueError) as exc:
            raise SpecError("snapshots must be [[datanet, version], ...]") from exc
        return cls(snapshots=snapshots, format=data.get("format", modelfactory.DEFAULT_FORMAT),
                   mapping=dict(data.get("mapping", {})), template=data.get("template", modelfactory.DEFAULT_TEMPLATE),
                   eval_per_mille=int(data.get("eval_per_mille", modelfactory.DEFAULT_EVAL_PER_MILLE)),
                   split_seed=int(data.get("split_seed", modelfactory.DEFAULT_SPLIT_SEED)))


@dataclass(frozen=True)
class Source:
    """One contribution's file as it came from the content store."""
    contribution_id: int
    contributor: bytes
    content_hash: bytes
    format: str
    data: bytes


@dataclass(frozen=True)
class RowError:
    contribution_id: int
    content_hash: bytes
    line: int          # 1-based line or CSV row (0: the whole file)
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "the file"
        return f"contribution {self.contribution_id} ({self.content_hash.hex()[:12]}), {where}: {self.reason}"


def _pair(spec: DatasetSpec, obj: dict, line: int, src: Source) -> Row:
    keys = spec.mapping
    if "messages" in keys or ("messages" in obj and not {"prompt", "response"} & set(keys)):
        name = keys.get("messages", "messages")
        messages = obj.get(name)
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in messages):
            raise ValueError(f"field {name!r} must be a non-empty list of {{role, content}} objects")
        roles = {m["role"] for m in messages}
        if not roles <= {"system", "user", "assistant"} or "assistant" not in roles:
            raise ValueError(f"messages need an assistant turn and roles among system/user/assistant, got "
                             f"{sorted(roles)}")
        return Row(src.contribution_id, src.contributor, line, tuple((m["role"], m["content"]) for m in messages))
    if "text" in keys:
        return Row(src.contribution_id, src.contributor, line, text=_field(obj, keys["text"]))
    prompt = _field(obj, keys.get("prompt", "prompt"))
    if "input" in keys and obj.get(keys["input"]):
        prompt = f"{prompt}\n{_field(obj, keys['input'])}"
    chat = [("user", prompt), ("assistant", _field(obj, keys.get("response", "response")))]
    if "system" in keys and obj.get(keys["system"]):
        chat.insert(0, ("system", _field(obj, keys["system"])))
    return Row(src.contribution_id, src.contributor, line, tuple(chat))


def _field(obj: dict, name: str) -> str:
    if name not in obj:
        raise ValueError(f"no field {name!r} (it has: {', '.join(sorted(obj)) or 'nothing'}); set the mapping")
    value = obj[name]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"field {name!r} must be non-empty text")
    return value


def _text_rows(spec: DatasetSpec, src: Source, text: str) -> tuple[list[Row], list[RowError]]:
    """Plain text: one row per paragraph (blank-line separated), numbered by its first line."""
    rows, line = [], 1
    for paragraph in text.split("\n\n"):
        if paragraph.strip():
            rows.append(Row(src.contribution_id, src.contributor, line, text=paragraph.strip()))
        line += paragraph.count("\n") + 2
    return rows, []


def _jsonl_rows(spec: DatasetSpec, src: Source, text: str) -> tuple[list[Row], list[RowError]]:
    """One JSON object per line; a line that is not one, or does not map, is an error of its own."""
    rows, problems = [], []
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
            if not isinstance(obj, dict):
                raise ValueError(f"a JSONL line must be an object, got {type(obj).__name__}")
            rows.append(_pair(spec, obj, line, src))
        except json.JSONDecodeError as exc:
            problems.append(RowError(src.contribution_id, src.content_hash, line, f"not valid JSON ({exc.msg} "
                                                                                     f"at column {exc.colno})"))
        except ValueError as exc:
            problems.append(RowError(src.contribution_id, src.content_hash, line, str(exc)))
    return rows, problems


def _csv_rows(spec: DatasetSpec, src: Source, text: str) -> tuple[list[Row], list[RowError]]:
    """A CSV with a header row holding the mapped columns; each data row maps or is an error."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        return [], [RowError(src.contribution_id, src.content_hash, 1, "the CSV has no header row")]
    wanted = [v for k, v in spec.mapping.items() if k in ("prompt", "response", "text")] or ["prompt", "response"]
    missing = [c for c in wanted if c not in reader.fieldnames]
    if missing:
        return [], [RowError(src.contribution_id, src.content_hash, 1,
                             f"columns {missing} not in the header {reader.fieldnames}; set the mapping")]
    rows, problems = [], []
    for obj in reader:
        try:
            if None in obj:
                raise ValueError(f"{len(obj[None])} more values than header columns")
            rows.append(_pair(spec, obj, reader.line_num, src))
        except ValueError as exc:
            problems.append(RowError(src.contribution_id, src.content_hash, reader.line_num, str(exc)))
    return rows, problems


READERS = {"text": _text_rows, "txt": _text_rows, "md": _text_rows, "jsonl": _jsonl_rows, "csv": _csv_rows}


def parse_source(spec: DatasetSpec, src: Source) -> tuple[list[Row], list[RowError]]:
    """The rows of one contribution's file, and an error for every row that does not map. What editors add to
    text is read as they meant it: a UTF-8 byte-order mark is dropped (else a CSV's first column is named
    "\ufeffprompt" and a JSONL's first line does not parse) and Windows' or old Macs' line ends are line ends
    (else a CRLF text file's paragraphs are one)."""
    fmt = src.format if spec.format == "auto" else spec.format
    try:
        text = src.data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        return [], [RowError(src.contribution_id, src.content_hash, 0, f"not UTF-8 text ({exc.reason} at byte "
                                                                        f"{exc.start})")]
    reader = READERS.get(fmt)
    if reader is None:
        return [], [RowError(src.contribution_id, src.content_hash, 0,
                             f"format {fmt!r} cannot be mapped to examples (text, jsonl or csv)")]
    rows, problems = reader(spec, src, text)
    if not rows and not problems:
        problems.append(RowError(src.contribution_id, src.content_hash, 0, "the file holds no rows"))
    return rows, problems


def render(spec: DatasetSpec, row: Row, tokenizer, cutoff: int) -> Example:
    """Apply the template and tokenize; the loss covers the last assistant turn (or all of a plain text)."""
    eos = tokenizer.eos_token or ""
    if row.text:
        ids = tokenizer.encode(row.text + eos, add_special_tokens=False)[:cutoff]
        return Example(row, row.text + eos, tuple(ids), tuple(ids))
    history, answer = list(row.messages[:-1]), row.messages[-1][1]
    if spec.template == "chat":
        if not getattr(tokenizer, "chat_template", None):
            raise SpecError("the base model's tokenizer has no chat template: pick alpaca, plain or qa")
        prompt = tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in history], tokenize=False,
                                               add_generation_prompt=True)
    else:
        before, after = TEMPLATES[spec.template]
        prompt = "".join(f"{c}\n" for r, c in history if r == "system") + before + "\n".join(
            c for r, c in history if r != "system") + after
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    answer_ids = tokenizer.encode(answer + eos, add_special_tokens=False)
    ids = (prompt_ids + answer_ids)[:cutoff]
    labels = ([IGNORE] * len(prompt_ids) + answer_ids)[:cutoff]
    return Example(row, prompt + answer + eos, tuple(ids), tuple(labels))


def is_eval(spec: DatasetSpec, row: Row) -> bool:
    """Held out or not, decided by a hash of (split seed, contribution, line): stable as data is added."""
    key = blake2_256(f"{spec.split_seed}:{row.contribution_id}:{row.line}".encode())
    return int.from_bytes(key[:4], "big") % 1000 < spec.eval_per_mille


@dataclass
class Prepared:
    train: list[Example]
    eval: list[Example]
    errors: list[RowError]
    near_duplicates: list[RowError] = field(default_factory=list)  # left out: each names the row it repeats

    @property
    def tokens(self) -> int:
        return sum(len(e.input_ids) for e in self.train)


def prepare(spec: DatasetSpec, sources: list[Source], tokenizer, cutoff: int) -> Prepared:
    """Every source's rows, rendered, split; rows whose training part the cutoff removes are errors too. A
    row that near-duplicates an earlier one (a lightly edited copy, of one's own rows or someone else's:
    `gpu_worker.near_duplicates`) is left out of training and therefore of credit, and listed with the row
    it repeats: padding earns nothing, and the row it copies keeps what it earns."""
    out = Prepared([], [], [])
    parsed: list[tuple[Source, Row]] = []
    for src in sources:
        rows, problems = parse_source(spec, src)
        out.errors.extend(problems)
        parsed += [(src, row) for row in rows]
    matches = text_matches([row.text or "\n".join(content for _, content in row.messages) for _, row in parsed])
    for (src, row), match in zip(parsed, matches, strict=True):
        if match >= 0:
            first = parsed[match][1]
            out.near_duplicates.append(RowError(row.contribution_id, src.content_hash, row.line,
                                                f"a near-duplicate of contribution {first.contribution_id} line "
                                                f"{first.line}: left out of training and credit"))
            continue
        example = render(spec, row, tokenizer, cutoff)
        if example.trained_tokens == 0:
            out.errors.append(RowError(row.contribution_id, src.content_hash, row.line,
                                       f"the prompt alone fills the {cutoff}-token cutoff: nothing to learn"))
            continue
        (out.eval if is_eval(spec, row) else out.train).append(example)
    if not out.eval and len(out.train) > 1 and spec.eval_per_mille:
        out.eval.append(out.train.pop())  # tiny data: hold out at least one row, the last, deterministically
    return out
