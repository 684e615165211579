"""The class's occupancy grid: what a refresh marks, which renders skip its empty cells, that checkpoints carry it."""

from __future__ import annotations

import pytest
import torch
from nerfstudio.engine.callbacks import TrainingCallbackAttributes
from nerfstudio.pipelines.base_pipeline import Pipeline

from lift_testing.lolnerf_models import make_model, rays
from lolnerf_ns.occupancy import ClassOccupancyGrid
from lolnerf_ns.ray_keys import LATENT_CODE_KEY

BOX = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
RESOLUTION = 16
CELL = 2.0 / RESOLUTION
NO_ATTRIBUTES = TrainingCallbackAttributes(optimizers=None, grad_scaler=None, pipeline=None, trainer=None)


def ball_density(positions: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Density 100 inside a ball of radius 0.3 around each code's first three numbers, 0 outside."""
    inside = (positions - codes[:, :3]).norm(dim=-1, keepdim=True) < 0.3
    return inside.float() * 100.0


def cell_centres() -> torch.Tensor:
    axis = -1.0 + CELL * (torch.arange(RESOLUTION) + 0.5)
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1)


def test_a_refresh_marks_the_union_of_the_codes_grown_by_the_margin() -> None:
    centres = torch.tensor([[-0.5, 0.0, 0.0, 9.0], [0.5, 0.25, 0.0, 9.0]])
    distance = torch.stack([(cell_centres() - centre[:3]).norm(dim=-1) for centre in centres]).min(dim=0).values
    half_diagonal = CELL * 3**0.5 / 2
    for margin in (0, 1):
        grid = ClassOccupancyGrid(BOX, RESOLUTION)
        grid.refresh(ball_density, centres, threshold=1.0, margin=margin, generator=torch.Generator().manual_seed(0))
        assert grid.occupied[distance < 0.3 - half_diagonal].all()  # cells wholly inside either ball
        reach = 0.3 + half_diagonal + margin * CELL * 3**0.5
        assert not grid.occupied[distance > reach].any()
        assert grid.occupied_fraction < 0.15
        if margin:  # every neighbour of a cell wholly inside a ball
            core = (distance < 0.3 - half_diagonal).float()[None, None]
            grown = torch.nn.functional.max_pool3d(core, 3, stride=1, padding=1)[0, 0] > 0
            assert grid.occupied[grown].all()


def test_positions_look_up_their_cell() -> None:
    grid = ClassOccupancyGrid(BOX, 4)
    grid.occupied = torch.zeros(4, 4, 4, dtype=torch.bool)
    grid.occupied[0, 3, 2] = True  # x in [-1, -0.5), y in [0.5, 1], z in [0, 0.5)
    points = torch.tensor([[-0.9, 0.9, 0.1], [-0.4, 0.9, 0.1], [-0.9, 0.9, -0.1], [-1.5, 1.5, 0.2]])
    assert grid.is_occupied(points).tolist() == [True, False, False, True]  # outside the box: its border cell


def grid_of_nothing(model) -> None:
    model.occupancy_grid.occupied = torch.zeros_like(model.occupancy_grid.occupied)


def test_training_identities_skip_empty_cells() -> None:
    model = make_model()
    model.train()
    full = model(rays(indices=[0, 1, 2, 0, 1, 2]))
    assert full["field_evaluations_per_ray"] == 8 + 17  # coarse, and fine with the coarse bins' edges
    grid_of_nothing(model)
    skipped = model(rays(indices=[0, 1, 2, 0, 1, 2]))
    assert skipped["field_evaluations_per_ray"] == 0
    assert (skipped["accumulation"] == 0).all()
    loss = sum(model.get_loss_dict(skipped, {"image": torch.rand(6, 3)}).values())
    loss.backward()  # the background still learns
    model.eval()
    with torch.no_grad():
        assert (model(rays(2))["accumulation"] == 0).all()  # identity 0, shown outside training, skips too


@pytest.mark.parametrize(
    "render_identities", [("mean",), ("sample:3",), ("a.png", "b.png"), ("lifted",)], ids=lambda ids: "-".join(ids)
)
def test_codes_the_grid_was_not_built_from_do_not_skip(render_identities) -> None:
    """A lifted, sampled or interpolated identity may have matter where no training identity has."""
    model = make_model(lifted_instances=("lifted",), render_identities=render_identities)
    model.eval()
    times = torch.full((6, 1), 0.5)
    with torch.no_grad():
        expected = model(rays(times=times))
        grid_of_nothing(model)
        outputs = model(rays(times=times))
    assert expected["accumulation"].min() > 0.01
    torch.testing.assert_close(outputs["rgb"], expected["rgb"])


def test_a_code_being_lifted_does_not_skip() -> None:
    model = make_model()
    grid_of_nothing(model)
    model.train()
    bundle = rays(6, indices=[0] * 6)
    bundle.metadata[LATENT_CODE_KEY] = torch.full((6, 4), 0.5)
    assert model(bundle)["field_evaluations_per_ray"] == 8 + 17


def test_refreshes_run_every_n_steps_from_the_first_after_step_zero() -> None:
    model = make_model(occupancy_refresh_every=5, occupancy_density_threshold=1e9)  # nothing is dense enough
    (callback,) = model.get_training_callbacks(NO_ATTRIBUTES)
    assert callback.update_every_num_iters == 5
    callback.run_callback(step=0)  # the untrained network says nothing
    assert model.occupancy_grid.occupied.all()
    callback.run_callback(step=5)
    assert not model.occupancy_grid.occupied.any()
    assert make_model(skip_empty_space=False).get_training_callbacks(NO_ATTRIBUTES) == []


class PipelineOf(Pipeline):
    """nerfstudio's pipeline around a model, for its checkpoint loading alone."""

    def __init__(self, model) -> None:
        torch.nn.Module.__init__(self)
        self._model = model


def test_checkpoints_carry_the_grid_and_a_resumed_run_refreshes_as_an_unbroken_one() -> None:
    trained = make_model(occupancy_density_threshold=0.36, occupancy_margin=0)
    trained.refresh_occupancy(step=200)
    assert 0.0 < trained.occupancy_grid.occupied_fraction < 1.0
    state = PipelineOf(trained).state_dict()
    assert "_model.occupancy_grid.occupied" in state
    resumed = make_model(occupancy_density_threshold=0.36, occupancy_margin=0)
    PipelineOf(resumed).load_state_dict(state)  # the model's keys, then a second, non-strict pass over the rest
    torch.testing.assert_close(resumed.occupancy_grid.occupied, trained.occupancy_grid.occupied)
    for model in (trained, resumed):
        with torch.no_grad():
            model.field.density_head.bias -= 0.01  # the next steps move the network
        model.refresh_occupancy(step=400)
    torch.testing.assert_close(resumed.occupancy_grid.occupied, trained.occupancy_grid.occupied)


def test_a_run_saved_before_grids_existed_loads_with_every_cell_occupied() -> None:
    state = {key: value for key, value in PipelineOf(make_model()).state_dict().items() if "occupancy" not in key}
    model = make_model()
    PipelineOf(model).load_state_dict(state)
    assert model.occupancy_grid.occupied.all()
