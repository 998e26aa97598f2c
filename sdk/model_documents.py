"""The documents a published model comes with, rendered from facts its chain records give: the Hugging Face
style model card (README.md) and the EU AI Act training-content summary (Article 53(1)(d)).

Why here: the CLI (`payable model card`, `model summary`, the GGUF exports), the worker's publish flow and the
studio's model page all show these documents, and must say the same thing in the same bytes - the card's hash
is stored in the model's record, so a card rendered twice from the same records must hash the same. So there
is one writer, and it depends on nothing whose output could drift between installs: the YAML front matter is
written here (a small, fixed subset: mappings, lists, plain or JSON-quoted strings, numbers), not by a YAML
library.

The facts are plain values (the SDK imports no pallet's types); `provenance.documents` gathers
them from the chain.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

CARD_TAGS = ("lora", "payable")


@dataclass(frozen=True)
class DatasetRef:
    """A DataNet snapshot the adapter was trained on."""

    datanet: int
    version: int
    name: str = ""
    license: str = ""  # the snapshot's license mix, e.g. "CC-BY-4.0 ×3, MIT ×1" (or the DataNet's license)
    root: str = ""  # the snapshot's Merkle root (hex)

    @property
    def slug(self) -> str:
        return f"payable-datanet-{self.datanet}-v{self.version}"


@dataclass(frozen=True)
class CardFacts:
    """What a model card says, gathered from the chain and the job (never typed by hand)."""

    title: str
    license: str  # the model's license as the chain records it (a job's card: the base model's)
    base_model: str  # how the base is known: its source file or package, else its id on chain
    base_artifact: str  # the base's artifact hash (hex)
    datasets: list[DatasetRef]
    eval_loss: float | None = None  # held-out loss with the adapter
    base_eval_loss: float | None = None  # held-out loss of the base alone
    eval_examples: int = 0
    train_examples: int = 0
    adapter_hash: str = ""
    training_config_hash: str = ""
    hyperparameters: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)  # e.g. the model's id on chain, the base's source
    data_allows: str = ""  # what the training data allows the model's license to be, in words
    tags: tuple[str, ...] = ()  # besides CARD_TAGS (e.g. "gguf" for an export)


def yaml_front_matter(value: dict) -> str:
    """`value` as block YAML: mappings and lists nest, strings plain where YAML reads them back as they are
    (else JSON-quoted: valid YAML double-quoted scalars), numbers and booleans plain. Fixed output for fixed
    input, whatever is installed."""
    return "\n".join(_yaml_lines(value, 0))


def _yaml_lines(value, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines += [f"{pad}{key}:", *_yaml_lines(item, indent + 2)]
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
        return lines
    for item in value:
        if isinstance(item, (dict, list)) and item:
            nested = _yaml_lines(item, indent + 2)
            lines += [f"{pad}- {nested[0].lstrip()}", *nested[1:]]
        else:
            lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _scalar(value) -> str:
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    return text if _PLAIN.match(text) and text.lower() not in _YAML_WORDS else json.dumps(text, ensure_ascii=False)


# a string YAML reads back as that same string when written bare (as Hugging Face's cards write `peft`,
# `apache-2.0`, `held-out loss`): it starts with a letter, holds no character YAML gives a meaning to and is
# not a word YAML reads as a boolean or null; anything else is written JSON-quoted
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9._/@+ -]*(?<! )$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf"}


def card_metadata(facts: CardFacts) -> dict:
    """The YAML front matter, in the keys Hugging Face reads (model-index carries the metrics)."""
    meta: dict = {"license": (facts.license or "other").lower(), "base_model": facts.base_model,
                  "library_name": "peft", "pipeline_tag": "text-generation",
                  "tags": [*CARD_TAGS, *facts.tags],
                  "datasets": [d.slug for d in facts.datasets]}
    metrics = [{"type": "loss", "value": round(facts.eval_loss, 6), "name": "held-out loss"}] \
        if facts.eval_loss is not None else []
    if facts.base_eval_loss is not None:
        metrics.append({"type": "loss", "value": round(facts.base_eval_loss, 6), "name": "base model held-out loss"})
    if metrics:
        meta["model-index"] = [{"name": facts.title, "results": [{
            "task": {"type": "text-generation", "name": "Text generation"},
            "dataset": {"name": "held-out rows of " + ", ".join(f"DataNet {d.datanet} v{d.version}"
                                                               for d in facts.datasets),
                        "type": "+".join(d.slug for d in facts.datasets) or "none"},
            "metrics": metrics}]}]
    return meta


def model_card(facts: CardFacts, gguf_name: str | None = None) -> str:
    """README.md: Hugging Face metadata, then what the adapter is, what it was trained on, and how to run it
    (with `gguf_name`, the GGUF LoRA an export wrote beside it)."""
    if gguf_name:
        facts = CardFacts(**{**facts.__dict__, "tags": (*facts.tags, "gguf", "llama.cpp")})
    lines = ["---", yaml_front_matter(card_metadata(facts)), "---", "", f"# {facts.title}", "",
             f"A LoRA adapter fine-tuned with Payable ModelFactory on `{facts.base_model}` "
             f"(base artifact `{facts.base_artifact}`).", ""]
    if facts.eval_loss is not None:
        base = f" (the base alone: {facts.base_eval_loss:.4f})" if facts.base_eval_loss is not None else ""
        lines += [f"Held-out loss: **{facts.eval_loss:.4f}**{base} on {facts.eval_examples} held-out examples; "
                  f"trained on {facts.train_examples} examples.", ""]
    lines += ["## License", "", f"`{facts.license or 'other'}`."
              + (f" Its training data allows {facts.data_allows}." if facts.data_allows else ""), ""]
    lines += ["## Training data", "", "| DataNet | version | name | licenses | snapshot root |",
              "|---|---|---|---|---|"]
    lines += [f"| {d.datanet} | {d.version} | {d.name} | {d.license} | `{d.root}` |" for d in facts.datasets]
    lines += ["", "## Provenance", ""]
    for key, val in [("adapter (PEFT directory) hash", facts.adapter_hash),
                     ("training config hash", facts.training_config_hash), *facts.provenance.items(),
                     *((f"hyperparameter {k}", v) for k, v in facts.hyperparameters.items())]:
        if val not in ("", None):
            lines.append(f"- {key}: `{val}`")
    if gguf_name:
        lines += ["", "## Use with llama.cpp or Ollama", "",
                  f"`{gguf_name}` is a GGUF LoRA for the base above as a GGUF model (for example converted with "
                  "llama.cpp's `convert_hf_to_gguf.py`):", "", "```",
                  f"llama-cli -m base.gguf --lora {gguf_name}", "```", "", "Ollama `Modelfile`:", "", "```",
                  "FROM ./base.gguf", f"ADAPTER ./{gguf_name}", "```"]
    return "\n".join(lines) + "\n"


def withdrawn_notice(text: str, at_block: int) -> str:
    """The section a shown card gains when the model's training data was withdrawn since it was published:
    chain state at `at_block`, not part of the card whose hash the model's record holds."""
    return (f"\n## Trained on withdrawn data\n\n**Yes** (chain state at block {at_block}, after this card was "
            f"published): {text}. See `payable model provenance` for which contributions.\n")


# --- the EU AI Act training-content summary ---------------------------------------------------------------
SUMMARY_FORMAT = "payable-training-content-summary/1"
TEMPLATE = ("European Commission, Template for the Public Summary of Training Content for general-purpose AI "
            "models (Article 53(1)(d) of Regulation (EU) 2024/1689), July 2025")
# The template's size ranges for a text modality.
TEXT_SIZE_RANGES = ((10**9, "less than 1 billion tokens"), (10**13, "1 billion to 10 trillion tokens"),
                    (None, "more than 10 trillion tokens"))


def text_size_range(upper_bound_tokens: int) -> str:
    """The template's range for a token count known only as an upper bound."""
    return next(label for limit, label in TEXT_SIZE_RANGES if limit is None or upper_bound_tokens < limit)


def summary_markdown(summary: dict) -> str:
    """The summary's JSON (`payable.modelregistry.v1.documents.training_summary`) in the template's three
    sections, as Markdown."""
    general, sources, processing = (summary["1_general_information"], summary["2_list_of_data_sources"],
                                    summary["3_data_processing"])
    model, base, size = general["model"], general["base_model"], general["training_data_size"]
    lines = [f"# Public summary of training content: {model['name']}", "",
             f"Template: {summary['template']}. Generated from chain state at block {summary['at_block']} "
             f"({summary['format']}).", "", "## 1. General information", "",
             f"- Provider: `{general['provider']['account']}` (the model's owner on chain)",
             f"- Model: {model['name']}, id {model['id']}, registered at block {model['registered_at']}; adapter "
             f"`{model['adapter_hash']}` ({model['format']}); license `{model['license']}`",
             f"- Versions: base model {base['id']} ({base['architecture']}, {base['parameters']:,} parameters, "
             f"license `{base['license']}`, artifact `{base['artifact_hash']}`)" + (
                 f", converted from {base['source']['file_name']}" if base["source"].get("file_name") else ""),
             f"- Modalities: input {', '.join(general['modalities']['input'])}; output "
             f"{', '.join(general['modalities']['output'])}",
             f"- Training data size (fine-tuning): {size['range']} - {size['bytes']:,} bytes in "
             f"{size['contributions']:,} contributions; {size['measured_as']}", "",
             "## 2. List of data sources", "", "### Data contributed through Payable DataNets", "",
             "| DataNet | version | name | snapshot root | contributions | contributors | bytes | licenses | "
             "personal data |", "|---|---|---|---|---|---|---|---|---|"]
    for s in sources["datanets"]:
        mix = ", ".join(f"{m['license']} ×{m['count']}" for m in s["license_mix"])
        lines.append(f"| {s['datanet']} | {s['version']} | {s['name']} | `{s['root']}` | {s['contributions']} | "
                     f"{s['contributors']} | {s['bytes']:,} | {mix} | {s['personal_data']} contribution(s) |")
    declared = sources["base_model_declared_sources"]
    lines += ["", "### The base model's own training data (as its publisher declares it)", ""]
    if declared["sources"]:
        lines += [f"- {name}" for name in declared["sources"]]
        lines += ["", f"Declared in: {declared['declared_in'] or 'not stated'}"
                  + (f" (package {declared['package']})" if declared["package"] else "")]
    else:
        lines.append("Not declared on chain for this base model.")
    lines += ["", "## 3. Relevant aspects of data processing", ""]
    lines += [f"- {processing[key]}" for key in ("tdm_opt_outs", "withdrawals", "personal_data", "licenses")]
    return "\n".join(lines) + "\n"
