"""The protocol's own accounts: keyless ids that hold funds no signer owns.

They are constants of the protocol, not of the cryptography that derives them, so they live here where
the executive, the pallets and the drivers that pay into them can name them.
"""

from __future__ import annotations

from .crypto import derived_account

TREASURY = derived_account("treasury")  # receives the protocol's share of fees and slashed funds
# The author of blocks a consensus engine orders: it collects the block's fees for the validator set,
# and the pallet that elects the set pays it out at the end of the same block.
BLOCK_REWARDS = derived_account("block-rewards")
# What the attribution pallet holds for contributors whose payments are too small to open their accounts yet.
OWED_TO_CONTRIBUTORS = derived_account("owed-to-contributors")
# What the attribution pallet sets aside, at settlement, for the contributions past those a result lists (its
# tail), until the pages that name them are paid.
TAIL_SHARES = derived_account("tail-shares")
# The accounts holding protocol funds: never reaped as dust.
PROTOCOL_ACCOUNTS = (TREASURY, BLOCK_REWARDS, OWED_TO_CONTRIBUTORS, TAIL_SHARES)
