"""Model registry errors; codes are stable and never reused."""

from __future__ import annotations

from runtime.errors import PalletError


class ModelRegistryError(PalletError):
    pallet = "modelregistry"


class UnknownBaseModel(ModelRegistryError):
    """No base model has this id."""
    code = 0


class UnknownModel(ModelRegistryError):
    """No model has this id."""
    code = 1


class NotOwner(ModelRegistryError):
    """Only the model's owner may do this."""
    code = 2


class BadSplit(ModelRegistryError):
    """The reward split must sum to 10,000 basis points and give contributors at least the chain minimum."""
    code = 3


class BadInput(ModelRegistryError):
    """A field is malformed or out of bounds; the message says which."""
    code = 4


class UnknownSnapshot(ModelRegistryError):
    """A cited DataNet snapshot does not exist."""
    code = 5


class Deprecated(ModelRegistryError):
    """The model is deprecated."""
    code = 6


class AccessRequired(ModelRegistryError):
    """A cited snapshot belongs to a permissioned DataNet the model's owner holds no grant for."""
    code = 7


class ArtifactTaken(ModelRegistryError):
    """Another account already registered a model with this artifact (adapter) hash: a model's artifact is
    its owner's, so no one else may publish the same bytes as theirs. The owner may register it again (a
    new listing with other prices or split, e.g. after deprecating the old one)."""
    code = 8


class LicenseNotAllowed(ModelRegistryError):
    """The training data does not allow the model's license (the message names the contributions that block
    it and what their licenses allow), or the registration declared none and the data allows none or leaves a
    choice."""
    code = 9
