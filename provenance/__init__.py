"""A model's documents gathered from the chain: its card and training-content summary (rendered by
`sdk.model_documents`), for the CLI, the studio and the worker's publish step - which may all read pallets'
protobuf types and the SDK, where neither may import the other's layer."""
