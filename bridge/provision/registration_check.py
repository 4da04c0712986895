"""Does the homeserver's registration of Linli cover what a plan needs? Asked before anything
is touched, so that `plan`, `apply` and `run` say "write the registration again and restart the
homeserver" instead of failing half-way at the first alias refused.

Linli cannot read the registration the homeserver loaded (the file may have been rewritten
since, without a restart), so it asks the homeserver itself, with harmless requests:
- `GET /account/whoami` with the as_token: M_UNKNOWN_TOKEN means no registration at all;
- for each compound or community whose rooms the plan creates, one alias it would create
  (one that does not exist yet) is deleted: the homeserver checks the appservice's alias
  namespace first (M_EXCLUSIVE when it is not reserved), and deleting an alias that does not
  exist changes nothing. The alias namespace Linli writes reserves whole keys
  (`#<prefix><key>(-<room>)?`), so one alias per key answers for all its rooms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bridge.matrix import MatrixClient
from bridge.matrix_errors import MatrixError
from bridge.provision.apply import RegistrationOutdated
from bridge.provision.desired import RoomSpec

WRITE_IT_AGAIN = (
    "run `linli registration`, give the file to the homeserver (Synapse: "
    "app_service_config_files) and restart it"
)


async def check_token(client: MatrixClient) -> None:
    """RegistrationOutdated when the homeserver does not know the as_token."""
    try:
        await client.whoami()
    except MatrixError as e:
        if e.errcode in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN"):
            raise RegistrationOutdated(
                f"the homeserver does not know Linli's registration ({e.errcode}): {WRITE_IT_AGAIN}"
            ) from None
        raise


async def unreserved_aliases(
    client: MatrixClient, creations: Sequence[RoomSpec], server_name: str
) -> list[str]:
    """The aliases, one per compound or community, that the plan would create and the
    homeserver's registration of Linli does not reserve."""
    groups: dict[str, list[str]] = {}
    for spec in creations:
        if spec.alias is not None:
            group = spec.compound or spec.key
            groups.setdefault(group, []).append(f"#{spec.alias}:{server_name}")
    limit = asyncio.Semaphore(4)

    async def refused(aliases: list[str]) -> str | None:
        async with limit:
            for alias in aliases:
                # An alias that exists already (a room created just before a crash, adopted by
                # apply) must not be deleted: the next one of the group answers instead.
                if await client.alias_exists(alias):
                    continue
                return None if await client.alias_reserved(alias) else alias
            return None

    found = await asyncio.gather(*(refused(aliases) for aliases in groups.values()))
    return sorted(alias for alias in found if alias is not None)


def outdated_message(aliases: Sequence[str]) -> str:
    more = f" and {len(aliases) - 1} more" if len(aliases) > 1 else ""
    return (
        f"the homeserver's registration of Linli does not reserve {aliases[0]}{more} "
        f"(a compound was added?): {WRITE_IT_AGAIN}, then apply"
    )
