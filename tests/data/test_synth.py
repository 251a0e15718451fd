"""SynthSpoof: determinism, CelebA-Spoof layout, and labels that agree with the pixels."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fgav.core.errors import FgavError
from fgav.data.labels import ATTRIBUTE_NAMES, LABEL_LENGTH
from fgav.data.synth import generate, render_sample

EYEGLASSES = ATTRIBUTE_NAMES.index("Eyeglasses")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _labels(root: Path, split: str) -> dict[str, list[int]]:
    return json.loads((root / "metas" / "intra_test" / f"{split}_label.json").read_text())


def test_same_seed_gives_byte_identical_trees_whatever_the_workers(tmp_path: Path) -> None:
    kw = dict(n=24, size=32, seed=3, images_per_subject=4)
    generate(tmp_path / "one", workers=1, **kw)
    generate(tmp_path / "two", workers=2, **kw)
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert len(one) == 24 * 4 + 3  # image, BB, depth, reflection; two label files; synthspoof.json
    assert one == two
    generate(tmp_path / "other", workers=1, **{**kw, "seed": 4})
    other = _files(tmp_path / "other")
    assert sum(other.get(k) != v for k, v in one.items() if k.endswith(".png")) > 24


def test_layout_labels_and_counts(tmp_path: Path) -> None:
    calls: list[int] = []
    summary = generate(tmp_path / "s", n=30, size=32, seed=1, images_per_subject=5, test_fraction=0.34,
                       live_ratio=0.4, workers=1, progress=calls.append)  # fmt: skip
    root = summary.path
    assert sum(calls) == 30 and summary.n == 30
    train, test = _labels(root, "train"), _labels(root, "test")
    assert len(train) + len(test) == 30 and (summary.train, summary.test) == (len(train), len(test))
    assert summary.live == 12 and summary.spoof == 18 and summary.subjects == 6
    subjects = {split: {k.split("/")[2] for k in table} for split, table in (("train", train), ("test", test))}
    assert subjects["train"] and subjects["test"] and not subjects["train"] & subjects["test"]
    assert len(subjects["test"]) == 2  # 34% of 6 subjects
    for key, label in {**train, **test}.items():
        parts = key.split("/")
        assert parts[0] == "Data" and parts[1] in ("train", "test") and key in (train if parts[1] == "train" else test)
        assert len(parts[2]) == 6 and len(parts[4]) == 10 and parts[4].endswith(".png")
        assert len(label) == LABEL_LENGTH and all(isinstance(v, int) for v in label)
        image = np.asarray(Image.open(root / key))
        depth = np.asarray(Image.open(root / key.replace(".png", "_depth.png")))
        reflection = np.asarray(Image.open(root / key.replace(".png", "_reflection.png")))
        assert image.shape == (32, 32, 3) and depth.shape == reflection.shape == (32, 32)
        if label[43]:
            assert parts[3] == "spoof" and 1 <= label[40] <= 10 and 1 <= label[41] <= 4 and 1 <= label[42] <= 2
            assert label[:40] == [0] * 40  # CelebA-Spoof's convention
            assert depth.max() == 0
        else:
            assert parts[3] == "live" and label[40:] == [0, 0, 0, 0]
            assert depth.max() > 100 and reflection.max() == 0
    meta = json.loads((root / "synthspoof.json").read_text())
    assert meta["parameters"]["n"] == 30 and meta["parameters"]["seed"] == 1
    assert meta["counts"]["train"]["images"] == len(train)
    assert sum(meta["label_counts"]["spoof_type"].values()) == 30
    with pytest.raises(FileExistsError):
        generate(root, n=5, size=32, workers=1)
    assert generate(root, n=5, size=32, workers=1, overwrite=True).n == 5
    assert len(_labels(root, "train")) + len(_labels(root, "test")) == 5


def test_bounding_boxes_are_in_the_224_frame_around_the_face(tmp_path: Path) -> None:
    root = generate(tmp_path / "s", n=20, size=48, seed=2, workers=1).path
    for key, label in {**_labels(root, "train"), **_labels(root, "test")}.items():
        fields = (root / key.replace(".png", "_BB.txt")).read_text().split()
        assert len(fields) == 5
        x, y, w, h = (int(v) for v in fields[:4])
        assert 0 <= x and 0 <= y and w > 20 and h > 20 and x + w <= 224 and y + h <= 224
        assert 0 < float(fields[4]) <= 1
        if not label[43]:  # the live face's depth lies inside its box
            rows, cols = np.nonzero(np.asarray(Image.open(root / key.replace(".png", "_depth.png"))) > 60)
            s = 224 / 48
            assert rows.min() * s >= y - s and (rows.max() + 1) * s <= y + h + s
            assert cols.min() * s >= x - s and (cols.max() + 1) * s <= x + w + s


def test_maps_follow_the_label() -> None:
    live = render_sample(5, size=48, spoof_type=0, illumination=3, environment=2)
    assert live.label[40:] == [0, 0, 0, 0]  # live light and place are not labelled
    inside, outside = live.face > 0.99, live.face == 0
    assert (live.depth[inside] > 0.2).all() and (live.depth[outside] == 0).all()
    assert live.depth.max() <= 1 and live.reflection.max() == 0
    for t in range(1, 11):
        spoof = render_sample(100 + t, size=48, spoof_type=t)
        assert spoof.depth.max() == 0 and spoof.label[40] == t and spoof.label[43] == 1
        assert 0 <= spoof.reflection.min() and spoof.reflection.max() <= 1
        if t in (7, 8, 9):  # a replay's screen always carries glare, and it is in the image
            assert spoof.reflection.max() > 0.1
            peak = spoof.reflection > spoof.reflection.max() * 0.8
            assert spoof.clean[peak].mean() > spoof.clean[spoof.face > 0.5].mean() * 0.8


def test_eyeglasses_draw_a_frame_where_the_mask_says_and_nowhere_else() -> None:
    with_ = render_sample(11, size=64, attributes={"Eyeglasses": 1}, illumination=1)
    without = render_sample(11, size=64, attributes={"Eyeglasses": 0}, illumination=1)
    assert with_.label[EYEGLASSES] == 1 and without.label[EYEGLASSES] == 0
    assert without.glasses.max() == 0 and with_.glasses.max() > 0.9
    frame = with_.glasses > 0.5
    assert 20 < frame.sum() < 400
    change = np.abs(with_.clean - without.clean).max(axis=2)
    assert (change[with_.glasses == 0] == 0).all()
    assert change[frame].mean() > 0.05
    # The camera's blur and JPEG spread the frame a little, but it stays where it was drawn.
    final = np.abs(with_.image.astype(int) - without.image.astype(int)).max(axis=2)
    assert final[frame].mean() > 3 * final[with_.glasses == 0].mean()


def test_a_spoof_keeps_its_drawn_attributes_but_labels_none() -> None:
    s = render_sample(4, size=32, spoof_type=1, attributes={"Eyeglasses": 1, "Smiling": 1})
    assert s.attributes[EYEGLASSES] == 1 and s.label[:40] == [0] * 40


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="spoof_type"):
        render_sample(0, spoof_type=11)
    with pytest.raises(ValueError, match="Eyeglases"):
        render_sample(0, attributes={"Eyeglases": 1})
    with pytest.raises(ValueError, match="live_ratio"):
        generate(tmp_path / "x", n=4, live_ratio=1.5)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_system_that_turns_read_only_is_one_line_from_any_process(tmp_path: Path, workers: int,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from fgav.data.synth import writer

    def read_only(path: str, data: bytes) -> None:  # what a remount or a full disk does mid-run
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

    monkeypatch.setattr(writer, "_write", read_only)  # forked workers inherit it
    with pytest.raises(FgavError, match=f"cannot write SynthSpoof into {tmp_path / 'out'}: Read-only file system "
                                        r"\(.*\.png\)") as caught:
        generate(tmp_path / "out", n=32, size=16, workers=workers)
    assert "\n" not in str(caught.value) and caught.value.__cause__ is None
