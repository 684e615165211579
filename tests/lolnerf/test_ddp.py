"""Training under torch DDP keeps every process's networks and latent table identical (two CPU processes, gloo).

The test does what ``ns-train lolnerf --machine.num-devices 2`` does: its main process stamps and saves the config,
then each spawned worker does what nerfstudio's ``_distributed_worker`` and ``train_loop`` do, except for the former's
check that CUDA is present: join a process group (gloo), seed with ``seed + rank``, build the lolnerf trainer for
``world_size`` 2, train. The only addition is a recorder of the identities each process's batches held.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from lift_testing.lolnerf_configs import tiny_lolnerf_config
from lift_testing.synthetic_class import write_synthetic_class

pytestmark = pytest.mark.slow

WORLD_SIZE = 2
STEPS = 3


def _worker(rank: int, config, init_file: Path, out: Path) -> None:
    import torch.distributed as dist
    from nerfstudio.scripts.train import _set_random_seed
    from nerfstudio.utils import comms

    from lolnerf_ns.ray_keys import LATENT_INDEX_KEY

    torch.set_num_threads(1)  # two processes on a shared 2-core machine
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    comms.LOCAL_PROCESS_GROUP = dist.new_group(list(range(WORLD_SIZE)))
    _set_random_seed(config.machine.seed + rank)
    trainer = config.setup(local_rank=rank, world_size=WORLD_SIZE)
    trainer.setup()
    initial = trainer.pipeline.model.latent_table.weight.detach().clone()
    sampled: list[list[int]] = []
    next_train = trainer.pipeline.datamanager.next_train

    def recording_next_train(step: int):
        ray_bundle, batch = next_train(step)
        sampled.append(sorted(set(ray_bundle.metadata[LATENT_INDEX_KEY].flatten().tolist())))
        return ray_bundle, batch

    trainer.pipeline.datamanager.next_train = recording_next_train
    trainer.train()
    state = {k: v.detach().clone() for k, v in trainer.pipeline.model.state_dict().items()}
    torch.save({"initial": initial, "state": state, "sampled": sampled}, out / f"rank{rank}.pt")
    dist.barrier()
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    folder = tmp_path_factory.mktemp("ddp")
    data = write_synthetic_class(folder / "data", num_instances=12, num_unseen=0, size=16)
    config = tiny_lolnerf_config(data.folder, folder / "outputs", STEPS, images_per_batch=2, pixels=32)
    config.machine.num_devices = WORLD_SIZE
    config.set_timestamp()  # what ns-train's main does before it spawns the processes
    config.save_config()
    mp.spawn(_worker, args=(config, folder / "init", folder), nprocs=WORLD_SIZE, join=True)
    return [torch.load(folder / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]


def test_every_parameter_is_identical_on_both_processes(ranks) -> None:
    first, second = ranks
    torch.testing.assert_close(first["initial"], second["initial"], rtol=0, atol=0)  # DDP broadcast rank 0's
    assert first["state"].keys() == second["state"].keys()
    for name, value in first["state"].items():
        torch.testing.assert_close(value, second["state"][name], rtol=0, atol=0, equal_nan=True, msg=f"{name} differs")


def test_each_process_trains_its_own_share_of_the_identities(ranks) -> None:
    for rank, result in enumerate(ranks):
        assert len(result["sampled"]) == STEPS
        assert all(index % WORLD_SIZE == rank for step in result["sampled"] for index in step)


def test_only_sampled_latent_rows_moved(ranks) -> None:
    result = ranks[0]
    moved = (result["state"]["latent_table.weight"] != result["initial"]).any(dim=1)
    sampled = {index for rank in ranks for step in rank["sampled"] for index in step}
    assert set(torch.nonzero(moved).flatten().tolist()) == sampled
    assert 0 < len(sampled) < len(moved)  # some rows trained, some never drawn
