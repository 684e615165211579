"""Benchmark: one neurallift training render step beside nerfstudio's generfacto, at 64^2 and 128^2.

Run on demand from the repository root: ``python -m benchmarks.neurallift_step [--device cuda] [--steps 5]``.
Both models render the same sampled view of an object in the [-1, 1] box and back-propagate the same loss (the
mean of the render); the diffusion prior is left out of both (generfacto gets a stand-in that returns no loss, so it
loads no weights). Each configuration runs in its own process so that peak memory is its own. Prints numbers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from benchmarks.measure import peak_memory_mb, time_steps


def _neurallift_model(device: str):
    import torch
    from nerfstudio.data.scene_box import SceneBox

    from neurallift_ns.model import NeuralLiftModelConfig

    scene_box = SceneBox(aabb=torch.tensor([[-1.0] * 3, [1.0] * 3]))
    return NeuralLiftModelConfig(lambda_guidance=0.0).setup(scene_box=scene_box, num_train_data=1).to(device)


def _generfacto_model(device: str):
    import torch
    from nerfstudio.data.scene_box import SceneBox
    from nerfstudio.models import generfacto

    class NoPrior:
        """Stands in for Stable Diffusion: text embeddings of the right shape, no weights, no loss."""

        def __init__(self, device, **kwargs) -> None:
            self.device = device

        def get_text_embeds(self, prompt, negative_prompt):
            return torch.zeros(2, 77, 768, device=self.device)

    generfacto.StableDiffusion = NoPrior
    scene_box = SceneBox(aabb=torch.tensor([[-1.0] * 3, [1.0] * 3]))
    implementation = "torch" if device == "cpu" else "tcnn"
    config = generfacto.GenerfactoModelConfig(diffusion_model="stablediffusion", implementation=implementation)
    grad_scaler = torch.cuda.amp.GradScaler(enabled=False)
    return config.setup(scene_box=scene_box, num_train_data=1, grad_scaler=grad_scaler, device=device).to(device)


def run_one(model_name: str, resolution: int, device: str, steps: int) -> dict:
    import torch

    from neurallift_ns.data.orbit_views import orbit_cameras, view_major_rays

    torch.manual_seed(0)
    model = _neurallift_model(device) if model_name == "neurallift" else _generfacto_model(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    cameras = orbit_cameras(
        torch.tensor([30.0]), torch.tensor([15.0]), torch.tensor([3.0]), torch.tensor([40.0]), resolution
    ).to(device)
    rays = view_major_rays(cameras).flatten()

    def train_step(_) -> None:
        optimizer.zero_grad()
        outputs = model(rays)
        outputs["rgb"].mean().backward()
        optimizer.step()

    timings = time_steps(steps, device, train_step)
    return {"seconds_per_step": sum(timings) / len(timings), "peak_mb": peak_memory_mb(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if _cuda() else "cpu")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "RESOLUTION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.device, args.steps)))
        return
    memory = "peak GPU memory" if args.device == "cuda" else "peak process RSS"
    print(f"device {args.device}, {args.steps} timed steps each; memory is {memory}")
    for resolution in (64, 128):
        results = {}
        for name in ("neurallift", "generfacto"):
            command = [sys.executable, "-m", "benchmarks.neurallift_step", "--device", args.device]
            command += ["--steps", str(args.steps), "--one", name, str(resolution)]
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            results[name] = json.loads(output.strip().splitlines()[-1])
            print(
                f"{resolution}x{resolution} {name:11s} {results[name]['seconds_per_step'] * 1000:9.1f} ms/step"
                f"  {results[name]['peak_mb']:8.0f} MB"
            )
        ratio = results["neurallift"]["seconds_per_step"] / results["generfacto"]["seconds_per_step"]
        print(f"{resolution}x{resolution} neurallift / generfacto time per step: {ratio:.2f}")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
