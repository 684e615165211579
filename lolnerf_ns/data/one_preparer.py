"""Under multi-GPU training (torch DDP), the first process of each machine prepares the data; the others wait for it.

Every process of a DDP run builds its own dataparser, so without this each would prepare the same collection at once:
the same work and memory as many times over as there are processes. Here local rank 0 prepares; the machine's other
processes wait, then open what it prepared (finding it complete, they prepare nothing). An error while preparing
(a :class:`UserInputError` such as "no faces found") ends every process with the same message.

The others wait in a collective of a gloo group of their own, whose timeout is :data:`PREPARATION_TIMEOUT`, not the
run's process group's (30 minutes by default): preparing a large collection can take longer than that. A process
that dies while preparing does not leave the others waiting: nerfstudio's launcher (torch's ``spawn``) stops every
process of the machine when one fails.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.errors import UserInputError

PREPARATION_TIMEOUT = timedelta(days=7)
"""How long processes wait for their machine's first process to prepare the data; past it, the waiting processes
stop with torch's timeout error (the preparation done so far is kept: run again to finish it)."""

Prepared = TypeVar("Prepared")


def prepare_on_one_process(
    prepare: Callable[[], Prepared], open_prepared: Callable[[], Prepared], what: str
) -> Prepared:
    """``prepare()`` (which prepares ``what``, or opens it when already prepared) in local rank 0, then
    ``open_prepared()`` in the other processes of its machine once it is done; outside DDP simply ``prepare()``."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return prepare()
    group = dist.new_group(backend="gloo", timeout=PREPARATION_TIMEOUT)
    try:
        if _local_rank() == 0:
            try:
                prepared = prepare()
            except BaseException as error:
                _share_outcome(group, _failure(error))
                raise
            _raise_any(_share_outcome(group, None))
            return prepared
        CONSOLE.log(f"Waiting for the first process of this machine to prepare {what}.")
        _raise_any(_share_outcome(group, None))
        return open_prepared()
    finally:
        dist.destroy_process_group(group)


def _local_rank() -> int:
    import torch.distributed as dist
    from nerfstudio.utils import comms

    # nerfstudio's launcher makes a group of each machine's processes; without it, one machine is assumed.
    return comms.get_local_rank() if comms.LOCAL_PROCESS_GROUP is not None else dist.get_rank()


def _failure(error: BaseException) -> tuple[str, str]:
    if isinstance(error, UserInputError):
        return ("user", str(error))
    return ("other", f"{type(error).__name__}: {error}")


def _share_outcome(group, failure: tuple[str, str] | None) -> list[tuple[str, str] | None]:
    """Every process's outcome (``None``: prepared, or waited), once every process has given its own."""
    import torch.distributed as dist

    outcomes: list[tuple[str, str] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(outcomes, failure, group=group)
    return outcomes


def _raise_any(outcomes: list[tuple[str, str] | None]) -> None:
    for rank, failure in enumerate(outcomes):
        if failure is None:
            continue
        kind, message = failure
        if kind == "user":
            raise UserInputError(message)
        raise RuntimeError(f"Process {rank} failed while preparing the data ({message}); see its messages.")
