"""The image store gives back what was written, training reads from it what nerfstudio reads from the files, and a
damaged store is one message, or prepared again: only its damaged shards."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lift_common.atomic_files import write_atomically
from lift_common.errors import UserInputError
from lolnerf_ns.data.collection import CollectionConfig, prepare_collection
from lolnerf_ns.data.collection_record import PreparedCollection
from lolnerf_ns.data.image_store import DamagedStoreError, ImageStore, write_index, write_shard

POINTS = [[10.0, 10.0], [30.0, 10.0], [20.0, 20.0], [12.0, 30.0], [28.0, 30.0]]


def _images(sizes: list[tuple[int, int]], channels: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, channels), dtype=np.uint8) for height, width in sizes]


def test_images_and_masks_of_any_size_come_back_as_written(tmp_path: Path) -> None:
    first, second = _images([(3, 5), (4, 4)], 4), _images([(2, 7)], 4, seed=1)
    masks = [image[..., 3] > 127 for image in first + second]
    layouts = [write_shard(tmp_path, "a", first, masks[:2]), write_shard(tmp_path, "b", second, masks[2:])]
    entries = [(offset, h, w) for layout in layouts for offset, h, w in zip(*vars(layout).values(), strict=True)]
    write_index(tmp_path, ["x", "y", "z"], ["a", "b"], np.array([0, 0, 1]), np.array(entries), 4, True)

    store = ImageStore(tmp_path)
    assert len(store) == 3 and store.names == ["x", "y", "z"] and store.sizes().tolist() == [[3, 5], [4, 4], [2, 7]]
    for index, (image, mask) in enumerate(zip(first + second, masks, strict=True)):
        np.testing.assert_array_equal(store.image(index), image)
        np.testing.assert_array_equal(store.mask(index), mask.astype(np.uint8))
    copy = pickle.loads(pickle.dumps(store))  # as data loaders copy their dataset into workers
    np.testing.assert_array_equal(copy.image(2), second[0])


def test_a_store_of_many_shards_keeps_few_files_open(tmp_path: Path) -> None:
    """At FFHQ's size a store has hundreds of shards: reading them all must not hold a file open for each."""
    from lolnerf_ns.data.image_store import MAX_OPEN_FILES

    num_shards = MAX_OPEN_FILES + 8  # with masks, 2 files a shard
    images = _images([(3, 4)] * num_shards, 3)
    for shard, image in enumerate(images):
        write_shard(tmp_path, f"{shard:03d}", [image], [image[..., 0] > 127])
    shards = [f"{shard:03d}" for shard in range(num_shards)]
    write_index(tmp_path, shards, shards, np.arange(num_shards), np.tile([0, 3, 4], (num_shards, 1)), 3, True)

    open_before = len(os.listdir("/proc/self/fd"))
    store = ImageStore(tmp_path)
    most_open = 0
    for _ in range(2):  # the second pass reopens the files the first closed
        for index, image in enumerate(images):
            np.testing.assert_array_equal(store.image(index), image)
            np.testing.assert_array_equal(store.mask(index), (image[..., 0] > 127).astype(np.uint8))
            most_open = max(most_open, len(os.listdir("/proc/self/fd")) - open_before)
    assert 0 < most_open <= MAX_OPEN_FILES
    store.close()
    assert len(os.listdir("/proc/self/fd")) == open_before


def test_a_truncated_shard_is_one_message_naming_it(tmp_path: Path) -> None:
    layout = write_shard(tmp_path, "a", _images([(8, 8), (8, 8)], 3), None)
    write_index(tmp_path, ["x", "y"], ["a"], np.zeros(2), np.array([layout.offsets, [8, 8], [8, 8]]).T, 3, False)
    shard = tmp_path / "shards" / "a.images.npy"
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(DamagedStoreError, match=r"a\.images\.npy is shorter than its header says.*Delete .* and run"):
        ImageStore(tmp_path)


def _collection(folder: Path) -> Path:
    folder.mkdir()
    for index, image in enumerate(_images([(40, 40)] * 3, 3)):
        Image.fromarray(image).save(folder / f"p{index}.png")
    (folder.parent / "points.json").write_text(json.dumps({f"p{index}.png": POINTS for index in range(3)}))
    return folder.parent / "points.json"


def test_a_damaged_prepared_collection_is_prepared_again(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "photos"
    config = CollectionConfig(landmarks_file=_collection(folder))
    prepared = prepare_collection(folder, config)
    before = prepared.store.image(1).copy()
    (shard,) = (prepared.folder / "shards").glob("*.images.npy")
    shard.write_bytes(shard.read_bytes()[:200])
    again = prepare_collection(folder, config)
    assert "is damaged" in " ".join(capsys.readouterr().out.split()) and again.folder == prepared.folder
    np.testing.assert_array_equal(again.store.image(1), before)


def test_damaged_or_mismatched_cameras_are_one_message_and_prepared_again(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "photos"
    config = CollectionConfig(landmarks_file=_collection(folder))
    prepared = prepare_collection(folder, config)
    cameras = prepared.folder / "cameras.npz"
    arrays = dict(np.load(cameras))
    cameras.write_bytes(cameras.read_bytes()[:100])
    with pytest.raises(DamagedStoreError, match=r"cameras\.npz cannot be read .*Delete .* and run again"):
        PreparedCollection(prepared.folder).camera_arrays  # noqa: B018
    np.savez(cameras, **{**arrays, "camera_to_world": arrays["camera_to_world"][:2]})
    with pytest.raises(DamagedStoreError, match=r"cameras\.npz holds 2 cameras for the 3 images of the store"):
        PreparedCollection(prepared.folder).camera_arrays  # noqa: B018
    capsys.readouterr()
    again = prepare_collection(folder, config)
    assert "cameras.npz holds 2 cameras" in " ".join(capsys.readouterr().out.split())
    assert len(again.camera_arrays["camera_to_world"]) == 3


def test_an_unreadable_cameras_json_is_one_message_and_is_written_again_once_deleted(
    tmp_path: Path, monkeypatch
) -> None:
    from lolnerf_ns.data import collection

    folder = tmp_path / "photos"
    config = CollectionConfig(landmarks_file=_collection(folder), num_workers=1)
    record = prepare_collection(folder, config).folder / "cameras.json"
    written = record.read_text()
    record.write_text(written[: len(written) // 2])
    with pytest.raises(UserInputError) as error:
        PreparedCollection(record.parent).cameras  # noqa: B018
    message = str(error.value)
    assert "\n" not in message and f"{record} cannot be read" in message and "delete it and run" in message

    record.unlink()
    counts = _counting(monkeypatch, collection, "prepare_chunk")
    again = prepare_collection(folder, config)
    assert counts == [] and record.read_text() == written  # from the committed chunks, no photo prepared again
    assert len(again.frames) == 3


def test_a_shard_deleted_while_training_is_one_message_naming_it(tmp_path: Path) -> None:
    layout = write_shard(tmp_path, "a", _images([(8, 8)], 3), None)
    write_index(tmp_path, ["x"], ["a"], np.zeros(1), np.array([layout.offsets, [8], [8]]).T, 3, False)
    store = ImageStore(tmp_path)
    (tmp_path / "shards" / "a.images.npy").unlink()
    with pytest.raises(DamagedStoreError, match=r"a\.images\.npy cannot be read .*Delete .* and run again"):
        store.image(0)


def _transforms(folder: Path, alpha: bool) -> Path:
    """Three frames with known cameras: noise images (RGBA if ``alpha``) and masks that nerfstudio reads."""
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    frames = []
    for index, image in enumerate(_images([(12, 16)] * 3, 4 if alpha else 3)):
        Image.fromarray(image).save(folder / "images" / f"f{index}.png")
        Image.fromarray((image[..., 0] > 100).astype(np.uint8) * 255).save(folder / "masks" / f"f{index}.png")
        pose = np.eye(4)
        pose[2, 3] = 3.0
        files = {"file_path": f"images/f{index}.png", "mask_path": f"masks/f{index}.png"}
        frames.append({**files, "transform_matrix": pose.tolist()})
    meta = {"fl_x": 20.0, "fl_y": 20.0, "cx": 8.0, "cy": 6.0, "w": 16, "h": 12, "frames": frames}
    (folder / "transforms.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("alpha, scale", [(False, 1.0), (True, 1.0), (False, 0.5)])
def test_the_stored_dataset_gives_what_nerfstudio_reads_from_the_files(tmp_path: Path, alpha: bool, scale: float):
    from nerfstudio.data.datasets.base_dataset import InputDataset

    from lolnerf_ns.data.collection_dataparser import LOLNeRFCollectionDataParserConfig
    from lolnerf_ns.data.stored_dataset import StoredImageDataset

    dataparser = LOLNeRFCollectionDataParserConfig(data=_transforms(tmp_path / "data", alpha)).setup()
    outputs = dataparser.get_dataparser_outputs()
    stored, from_files = StoredImageDataset(outputs, scale), InputDataset(outputs, scale)
    assert len(stored) == len(from_files) == 3
    for index in range(3):
        ours, theirs = stored[index], from_files[index]
        assert ours.keys() == theirs.keys() == {"image_idx", "image", "mask"}
        for key in ("image", "mask"):
            assert ours[key].dtype == theirs[key].dtype and ours[key].shape == theirs[key].shape
            torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=0)


def test_an_atomic_write_syncs_the_file_and_then_its_folder(tmp_path: Path, monkeypatch) -> None:
    """After a power cut the new name must be on disk too, not only the data: the folder is synced after the rename."""
    import stat

    synced = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(descriptor).st_mode))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_atomically(tmp_path / "record.json", lambda file: file.write(b"{}"))
    assert synced == [False, True]
    assert (tmp_path / "record.json").read_bytes() == b"{}"


def _counting(monkeypatch, module, name: str) -> list[int]:
    """Files that ``module.name`` (a chunk's work, run in this process with one worker) is given, chunk by chunk."""
    counts: list[int] = []
    work = getattr(module, name)

    def counting_work(*args):
        counts.append(len(args[-1]))
        return work(*args)

    monkeypatch.setattr(module, name, counting_work)
    return counts


def test_a_damaged_shard_of_a_collection_is_the_only_part_prepared_again(tmp_path: Path, monkeypatch, capsys) -> None:
    from lift_testing.photo_collections import store_files, write_photo_collection
    from lolnerf_ns.data import collection

    folder = tmp_path / "photos"
    landmarks = write_photo_collection(folder, 40, seed=3)
    unbroken_folder = tmp_path / "unbroken" / "photos"
    shutil.copytree(folder, unbroken_folder)  # same names, sizes and times: the same cache key
    monkeypatch.setattr(collection, "PHOTOS_PER_CHUNK", 8)
    config = CollectionConfig(landmarks_file=landmarks, num_workers=1)
    prepared = prepare_collection(folder, config)
    shard = prepared.folder / "shards" / "0000016.images.npy"
    shard.write_bytes(shard.read_bytes()[:-100])
    capsys.readouterr()

    counts = _counting(monkeypatch, collection, "prepare_chunk")
    again = prepare_collection(folder, config)
    assert counts == [8]  # the damaged shard's photos, and no other
    message = " ".join(capsys.readouterr().out.split())
    assert "0000016.images.npy is shorter than its header says" in message and "1 of the 5 chunks" in message

    unbroken = prepare_collection(unbroken_folder, config)
    repaired, expected = store_files(again.folder), store_files(unbroken.folder)
    assert sorted(repaired) == sorted(expected)
    for name, content in expected.items():
        assert repaired[name] == content, f"{name} differs"


def test_a_damaged_shard_of_stored_files_is_the_only_part_stored_again(tmp_path: Path, monkeypatch, capsys) -> None:
    from lift_testing.photo_collections import store_files
    from lolnerf_ns.data import image_files_store

    stores = {}
    for name in ("damaged", "unbroken"):
        data = _transforms(tmp_path / name, alpha=False)
        images, masks = sorted((data / "images").iterdir()), sorted((data / "masks").iterdir())
        monkeypatch.setattr(image_files_store, "FILES_PER_CHUNK", 2)
        stores[name] = (
            image_files_store.store_of_files(images, masks, data / "transforms.json", num_workers=1),
            images,
            masks,
        )
    folder, images, masks = stores["damaged"]
    (folder / "shards" / "0000002.masks.npy").unlink()
    capsys.readouterr()

    counts = _counting(monkeypatch, image_files_store, "store_files_chunk")
    assert (
        image_files_store.store_of_files(images, masks, tmp_path / "damaged" / "transforms.json", num_workers=1)
        == folder
    )
    assert counts == [1]  # the third image, alone in the damaged shard
    message = " ".join(capsys.readouterr().out.split())
    assert "0000002.masks.npy cannot be read" in message and "1 of the 2 chunks" in message
    repaired, expected = store_files(folder), store_files(stores["unbroken"][0])
    assert sorted(repaired) == sorted(expected)
    for name, content in expected.items():
        assert repaired[name] == content, f"{name} differs"
