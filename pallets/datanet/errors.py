"""DataNet pallet errors; codes are stable and never reused."""

from __future__ import annotations

from runtime.errors import PalletError


class DataNetError(PalletError):
    pallet = "datanet"


class UnknownDataNet(DataNetError):
    """No DataNet has this id."""
    code = 0


class UnknownContribution(DataNetError):
    """No contribution has this id."""
    code = 1


class NotCurator(DataNetError):
    """Only a curator of the DataNet may do this."""
    code = 2


class NotOwner(DataNetError):
    """Only the DataNet's owner may do this."""
    code = 3


class DuplicateContent(DataNetError):
    """This content is already pending or approved in the DataNet."""
    code = 4


class BadInput(DataNetError):
    """A field is malformed or out of bounds; the message says which."""
    code = 5


class NotPending(DataNetError):
    """The contribution is no longer pending."""
    code = 6


class NotApproved(DataNetError):
    """Only an approved contribution can be revoked."""
    code = 7


class FormatNotAccepted(DataNetError):
    """The DataNet does not accept this format."""
    code = 8


class TooManyCurators(DataNetError):
    """The DataNet already has the maximum number of curators."""
    code = 9


class NothingApproved(DataNetError):
    """A snapshot needs at least one approved contribution."""
    code = 10


class SnapshotTooLarge(DataNetError):
    """More approved contributions than one snapshot may hold."""
    code = 11


class NotContributor(DataNetError):
    """Only the contributor may withdraw their contribution."""
    code = 12


class CuratorExists(DataNetError):
    """The account is already a curator."""
    code = 13


class UnknownCurator(DataNetError):
    """The account is not a curator of the DataNet."""
    code = 14


class NotPermissioned(DataNetError):
    """Access requests and grants apply to permissioned DataNets only."""
    code = 15


class AccessExists(DataNetError):
    """The account already has this access state (already requested, or already granted)."""
    code = 16


class NoAccess(DataNetError):
    """The account holds no grant or request to revoke."""
    code = 17


class LicenseNotAccepted(DataNetError):
    """The DataNet does not accept the contribution's license (the message names it and those accepted)."""
    code = 18


class PersonalDataNotAllowed(DataNetError):
    """The contribution declares personal data and the DataNet does not allow personal data."""
    code = 19


class TdmOptedOut(DataNetError):
    """The contributor reserves text-and-data-mining rights: a DataNet, whose data exists to train models,
    takes no opted-out contribution."""
    code = 20


class NotWithdrawable(DataNetError):
    """The contribution is already withdrawn or taken down."""
    code = 21
