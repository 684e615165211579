"""Model weights are found before work starts, or the run stops with one message naming the model and the option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lift_common.errors import UserInputError
from lift_common.pretrained import resolve_pretrained


def test_local_folder_is_used_as_is(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    folder = tmp_path / "tiny-bert"
    BertModel(
        BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8)
    ).save_pretrained(folder)
    resolved = resolve_pretrained(str(folder), what="Test", option="--model")
    assert Path(resolved) == folder.resolve()
    assert BertModel.from_pretrained(resolved).config.hidden_size == 8


def test_missing_local_folder(tmp_path: Path) -> None:
    with pytest.raises(
        UserInputError, match=r"Depth estimation model folder '.*nowhere' does not exist.*--depth-model"
    ):
        resolve_pretrained(str(tmp_path / "nowhere"), what="Depth estimation", option="--depth-model")


def test_uncached_hub_id_offline(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(UserInputError) as raised:
        resolve_pretrained("someone/some-model", what="Stable Diffusion", option="--pipeline.model.diffusion-model")
    message = str(raised.value)
    assert "Stable Diffusion model 'someone/some-model' is not in the local Hugging Face cache" in message
    assert "HF_HUB_OFFLINE=1" in message and "--pipeline.model.diffusion-model /path/to/folder" in message


def test_unreachable_hub_fails_at_once_without_traceback(tmp_path: Path) -> None:
    code = (
        "from lift_common.pretrained import resolve_pretrained\n"
        "resolve_pretrained('someone/some-model', what='CLIP', option='--clip-model')\n"
    )
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_CACHE": str(tmp_path / "cache"), "PATH": ""}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "CLIP model 'someone/some-model' is not in the local Hugging Face cache and the Hub cannot be reached" in (
        result.stderr
    )
