"""The CelebA-Spoof-layout loader on tiny trees: crops, labels, order, maps, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from fgav.core.errors import FgavError
from fgav.data import CelebASpoofDataset, FASDataset, make_loader, open_dataset
from fgav.data.testing import boxed_image, label, write_image

LIVE = label(spoof=0, attrs=(15, 31))
SPOOF = label(spoof=1, spoof_type=8, illumination=3, environment=2)


def uniform(tensor: torch.Tensor, value: int) -> bool:
    """Whether every pixel of the tensor equals ``value`` / 255."""
    return bool(torch.allclose(tensor, torch.full_like(tensor, value / 255), atol=1e-6))


def test_crop_is_the_box_scaled_from_the_224_frame(tree: Callable[..., Path]) -> None:
    # 448 x 224 image: x scales by 2, y by 1; the box 56 56 112 112 covers x 112-336, y 56-168.
    image = boxed_image(448, 224, (112, 56, 336, 168), inside=200, outside=20)
    root = tree({"Data/test/1/live/a.png": {"label": LIVE, "image": image, "bb": "56 56 112 112 0.98"}})
    item = open_dataset(root, split="test", image_size=32)[0]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert uniform(item["image"], 200)


def test_large_jpeg_crop(tree: Callable[..., Path]) -> None:
    # Decoded at a reduced scale (draft), the crop must still be the box.
    image = boxed_image(896, 896, (224, 224, 672, 672), inside=200, outside=20)
    root = tree({"Data/test/1/live/a.jpg": {"label": LIVE, "image": image, "bb": "56 56 112 112"}})
    x = open_dataset(root, image_size=32)[0]["image"]
    assert x.shape == (3, 32, 32) and (x - 200 / 255).abs().max() < 8 / 255


def test_box_one_pixel_off_would_show_the_outside(tree: Callable[..., Path]) -> None:
    # The same image with a box one frame unit (two pixels) wider: the crop holds outside pixels.
    image = boxed_image(448, 224, (112, 56, 336, 168), inside=200, outside=20)
    root = tree({"Data/test/1/live/a.png": {"label": LIVE, "image": image, "bb": "55 56 113 112 0.98"}})
    assert not uniform(open_dataset(root, image_size=32)[0]["image"], 200)


@pytest.mark.parametrize(("bb", "quadrant"), [("-112 -112 224 224 1", 0), ("112 112 224 224 1", 3)])
def test_box_is_clamped_to_the_image(tree: Callable[..., Path], bb: str, quadrant: int) -> None:
    image = np.zeros((224, 224, 3), dtype=np.uint8)
    for q, value in enumerate((10, 60, 110, 160)):  # top-left, top-right, bottom-left, bottom-right
        image[(q // 2) * 112 : (q // 2 + 1) * 112, (q % 2) * 112 : (q % 2 + 1) * 112] = value
    root = tree({"Data/test/1/live/a.png": {"label": LIVE, "image": image, "bb": bb}})
    assert uniform(open_dataset(root, image_size=16)[0]["image"], (10, 60, 110, 160)[quadrant])


def test_margin_grows_the_box_by_a_fraction_of_its_size(tree: Callable[..., Path]) -> None:
    image = boxed_image(448, 448, (56, 56, 392, 392), inside=100, outside=20)
    image[112:336, 112:336] = 200  # the box itself; a ring of 100 around it out to the margin
    root = tree({"Data/test/1/live/a.png": {"label": LIVE, "image": image, "bb": "56 56 112 112"}})
    assert uniform(open_dataset(root, image_size=32)[0]["image"], 200)
    grown = open_dataset(root, image_size=32, margin=0.25)[0]["image"]  # 28 frame units each side
    assert abs(grown[0, 0, 0].item() - 100 / 255) < 1e-6 and abs(grown[0, 16, 16].item() - 200 / 255) < 1e-6
    assert (grown > 30 / 255).all()  # nothing from beyond the margin


def test_no_box_file_keeps_the_whole_image(tree: Callable[..., Path]) -> None:
    image = boxed_image(64, 64, (0, 0, 32, 64), inside=255, outside=0)
    root = tree({"Data/test/1/live/a.png": {"label": LIVE, "image": image}})
    x = open_dataset(root, image_size=64)[0]["image"]
    assert uniform(x[:, :, :32], 255) and uniform(x[:, :, 32:], 0)


def test_labels_and_keys(tree: Callable[..., Path]) -> None:
    root = tree({"Data/test/1/live/a.png": {"label": LIVE}, "Data/test/1/spoof/b.png": {"label": SPOOF}})
    dataset = open_dataset(root, split="test", image_size=16)
    assert isinstance(dataset, CelebASpoofDataset) and isinstance(dataset, FASDataset)
    live, spoof = dataset[0], dataset[1]
    assert live["attributes"].dtype == torch.float32 and live["attributes"].shape == (40,)
    assert live["attributes"].nonzero().flatten().tolist() == [15, 31]
    assert (live["spoof"].item(), live["spoof_type"].item()) == (0, 0)
    assert [spoof[k].item() for k in ("spoof", "spoof_type", "illumination", "environment")] == [1, 8, 3, 2]
    assert spoof["spoof"].dtype == torch.int64 and spoof["index"].item() == 1
    assert spoof["path"] == "Data/test/1/spoof/b.png"
    labels = dataset.labels()
    assert labels["spoof"].tolist() == [0, 1] and labels["spoof_type"].tolist() == [0, 8]
    assert labels["attributes"].shape == (2, 40)


def test_fixed_order_is_sorted_paths_whatever_the_json_order(tree: Callable[..., Path]) -> None:
    names = ["Data/test/9/live/z.png", "Data/test/10/spoof/a.png", "Data/test/2/live/m.png"]
    root = tree({n: {"label": SPOOF if "spoof" in n else LIVE} for n in names})
    dataset = open_dataset(root)
    assert dataset.paths == sorted(names)
    assert [dataset[i]["path"] for i in range(3)] == sorted(names)
    assert dataset.limit(2).paths == sorted(names)[:2] and len(dataset) == 3
    assert dataset.split == "test" and dataset.image_size == 64 and dataset.root == root


def test_maps_beside_the_image_with_the_same_crop(tree: Callable[..., Path]) -> None:
    # The map is 224 px while the image is 448 px: the box is scaled to each file's own size.
    depth = boxed_image(224, 224, (56, 56, 168, 168), inside=180, outside=0)[..., 0]
    image = boxed_image(448, 448, (112, 112, 336, 336))
    root = tree({"Data/test/1/live/a.png": {"label": LIVE, "image": image, "bb": "56 56 112 112", "depth": depth}})
    dataset = open_dataset(root, image_size=16)
    item = dataset[0]
    assert item["depth"].shape == (1, 16, 16) and uniform(item["depth"], 180)
    assert item["valid"] == {"depth": True, "reflection": True}  # a live face reflects nothing
    assert uniform(item["reflection"], 0)
    assert {"depth", "reflection"} <= dataset.provides


def test_maps_the_label_fixes_and_the_unknown_ones(tree: Callable[..., Path]) -> None:
    root = tree({"Data/test/1/live/a.png": {"label": LIVE}, "Data/test/1/spoof/b.png": {"label": SPOOF}})
    dataset = open_dataset(root, image_size=16)
    live, spoof = dataset[0], dataset[1]
    assert live["valid"] == {"depth": False, "reflection": True}
    assert spoof["valid"] == {"depth": True, "reflection": False}
    assert uniform(spoof["depth"], 0) and uniform(live["reflection"], 0)
    assert "depth" not in dataset.provides and "reflection" not in dataset.provides
    assert dataset.map_validity()["depth"].tolist() == [False, True]


def test_limit_recomputes_provides(tree: Callable[..., Path]) -> None:
    root = tree({"Data/test/1/spoof/b.png": {"label": SPOOF}, "Data/test/2/live/a.png": {"label": LIVE}})
    dataset = open_dataset(root, image_size=16)
    assert "depth" not in dataset.provides
    first = dataset.limit(1)  # the spoof image alone: its depth is known (zero), its reflection not
    assert len(first) == 1 and "depth" in first.provides and "reflection" not in first.provides
    assert first[0]["path"] == "Data/test/1/spoof/b.png" and len(dataset) == 2


def test_map_folders_mirroring_data(tree: Callable[..., Path], tmp_path: Path) -> None:
    root = tree({"Data/test/1/live/a.png": {"label": LIVE}, "Data/test/1/spoof/b.png": {"label": SPOOF}})
    write_image(tmp_path / "depth/test/1/live/a.png", np.full((8, 8), 255))
    write_image(tmp_path / "refl/test/1/spoof/b_reflection.png", np.full((8, 8), 51))
    dataset = open_dataset(root, image_size=8, depth_dir=tmp_path / "depth", reflection_dir=tmp_path / "refl")
    assert {"depth", "reflection"} <= dataset.provides
    assert uniform(dataset[0]["depth"], 255) and uniform(dataset[1]["reflection"], 51)


def test_protocol2_sub_protocol(tree: Callable[..., Path]) -> None:
    protocol = "protocol2/test_on_high_quality_device"
    root = tree({"Data/train/1/live/a.png": {"label": LIVE}}, protocol=protocol)
    assert len(open_dataset(root, split="train", protocol=protocol)) == 1
    with pytest.raises(FgavError, match=r"metas/intra_test/train_label.json.*protocols found: " + protocol):
        open_dataset(root, split="train")


def test_keys_with_a_prefix_before_data_are_read(tree: Callable[..., Path]) -> None:
    root = tree({"Data/test/1/live/a.png": {"label": LIVE}})
    (root / "metas/intra_test/test_label.json").write_text(json.dumps({"CelebA_Spoof/Data/test/1/live/a.png": LIVE}))
    assert open_dataset(root).paths == ["Data/test/1/live/a.png"]


def one_line(exc: pytest.ExceptionInfo[FgavError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ({"Data/test/1/live/a.png": [0] * 43}, r"test_label.json: 'Data/test/1/live/a.png' has 43 labels, expected 44"),
        ([["Data/test/1/live/a.png", LIVE]], r"test_label.json must be a dict of lists"),
        ({"Data/test/1/live/a.png": 5}, r"test_label.json: 'Data/test/1/live/a.png' must map to a list"),
        ({"Data/test/1/live/a.png": [*LIVE[:43], "x"]}, r"'Data/test/1/live/a.png' holds a label that is not an integer"),
        ({}, r"test_label.json lists no images"),
        ({"Data/test/1/live/a.png": LIVE, "Data/test/1/live/gone.png": LIVE}, r"image Data/test/1/live/gone.png is listed in"),
    ],
)
def test_bad_label_files(tree: Callable[..., Path], content: object, pattern: str) -> None:
    root = tree({"Data/test/1/live/a.png": {"label": LIVE}})
    (root / "metas/intra_test/test_label.json").write_text(json.dumps(content))
    with pytest.raises(FgavError, match=pattern) as exc:
        open_dataset(root)
    one_line(exc)


def test_label_file_that_is_not_json(tree: Callable[..., Path]) -> None:
    root = tree({"Data/test/1/live/a.png": {"label": LIVE}})
    (root / "metas/intra_test/test_label.json").write_text("{not json")
    with pytest.raises(FgavError, match=r"metas/intra_test/test_label.json is not readable JSON") as exc:
        open_dataset(root)
    one_line(exc)


@pytest.mark.parametrize("bb", ["12 oops 3", "1 2 3", "10 10 0 20 0.9", "300 300 20 20 1", ""])
def test_malformed_box_file_names_the_file(tree: Callable[..., Path], bb: str) -> None:
    root = tree({"Data/test/1/live/a.png": {"label": LIVE, "bb": bb}})
    dataset = open_dataset(root)
    with pytest.raises(FgavError, match=r"malformed bounding-box file Data/test/1/live/a_BB.txt") as exc:
        dataset[0]
    one_line(exc)
    with pytest.raises(FgavError, match=r"a_BB.txt") as exc:  # through a loader too, on one line
        next(iter(make_loader(dataset, batch_size=1)))
    one_line(exc)


def test_bad_options(tree: Callable[..., Path]) -> None:
    root = tree({"Data/test/1/live/a.png": {"label": LIVE}})
    with pytest.raises(FgavError, match="splits 'train' and 'test'"):
        open_dataset(root, split="val")
    with pytest.raises(FgavError, match="margin"):
        open_dataset(root, margin=-0.1)
    with pytest.raises(FgavError, match="depth folder"):
        open_dataset(root, depth_dir=root / "nowhere")
    with pytest.raises(FgavError, match="cannot tell the layout .* understands"):
        open_dataset(root / "Data")
    with pytest.raises(FgavError, match="not a folder"):
        open_dataset(root / "missing")


def _with(index: int, value: int) -> list[int]:
    vector = list(label(spoof=1, spoof_type=3, illumination=1, environment=1))
    vector[index] = value
    return vector


@pytest.mark.parametrize(
    ("vector", "what"),
    [
        (_with(43, 7), r"spoof 7 \(label index 43\), expected 0 or 1"),
        (_with(40, 99), r"spoof_type 99 \(label index 40\), expected 0 to 10"),
        (_with(40, -5), r"spoof_type -5 \(label index 40\), expected 0 to 10"),
        (_with(41, 9), r"illumination 9 \(label index 41\), expected 0 to 4"),
        (_with(42, 3), r"environment 3 \(label index 42\), expected 0 to 2"),
        (_with(5, 5), r"attribute Bangs 5 \(label index 5\), expected 0 or 1"),
        (_with(0, -1), r"attribute 5_o_Clock_Shadow -1 \(label index 0\), expected 0 or 1"),
    ],
)
def test_labels_out_of_range_are_refused_naming_the_file_and_image(
    tree: Callable[..., Path], vector: list[int], what: str
) -> None:
    root = tree({"Data/train/1/live/a.png": {"label": LIVE}, "Data/train/1/spoof/b.png": {"label": SPOOF}})
    labels = {"Data/train/1/live/a.png": LIVE, "Data/train/1/spoof/b.png": vector}
    (root / "metas/intra_test/train_label.json").write_text(json.dumps(labels))
    with pytest.raises(FgavError, match=rf"label file metas/intra_test/train_label.json: 'Data/train/1/spoof/b.png' has {what}") as exc:
        open_dataset(root, split="train")
    one_line(exc)


def test_every_label_in_range_loads(tree: Callable[..., Path]) -> None:
    highest = label(spoof=1, spoof_type=10, illumination=4, environment=2, attrs=tuple(range(40)))
    root = tree({"Data/test/1/spoof/a.png": {"label": highest}, "Data/test/1/live/b.png": {"label": LIVE}})
    assert len(open_dataset(root)) == 2
