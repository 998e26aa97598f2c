"""ModelFactory: no-code LoRA fine-tuning of a LLaMA-family base model on DataNet snapshots.

`dataset` maps contributions (text, JSONL, CSV) through a prompt template into examples with their
provenance; `config` is the job's full, hashed configuration with defaults and the estimate; `trainer`
is the deterministic, checkpointed loop that resumes to the same bytes; `export` writes and checks the
merged model; `sources` reads base models and snapshots from the chain's content store; `engine` runs
jobs for the gRPC service; `pretrain` makes a small base from Python's own documentation.
"""
