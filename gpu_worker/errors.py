"""The worker's one error for bad artifacts and data; the gRPC layer maps it to INVALID_ARGUMENT or NOT_FOUND."""


class ArtifactError(ValueError):
    """An artifact or dataset is missing, malformed, or does not match its hash."""


class ArtifactNotFound(ArtifactError):
    """No artifact, dataset or index with that hash is held here (gRPC: NOT_FOUND)."""
