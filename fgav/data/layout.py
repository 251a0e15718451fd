"""``open_dataset``: pick the loader by the folder's layout (or ``"synth"``)."""

from __future__ import annotations

from pathlib import Path

from fgav.core.errors import FgavError
from fgav.data.cache import synth_path
from fgav.data.celeba import CelebASpoofDataset
from fgav.data.dataset import FASDataset
from fgav.data.folder import FolderDataset, has_classes

SYNTH = "synth"  # the embedded default's name wherever a data path is asked for
LAYOUTS = (
    "CelebA-Spoof's (Data/ and metas/)",
    "a plain folder (live/ and spoof/, optionally under train/ and test/)",
    "'synth' (the embedded SynthSpoof)",
)


def detect_layout(path: str | Path) -> str:
    """``"celeba"``, ``"folder"`` or ``"synth"``.

    Raises:
        FgavError: the path does not exist or its layout is none of those understood.
    """
    if str(path) == SYNTH:
        return "synth"
    root = Path(path)
    if not root.is_dir():
        raise FgavError(f"data path {root} is not a folder (nor 'synth', the embedded default)")
    if (root / "metas").is_dir() and (root / "Data").is_dir():
        return "celeba"
    if has_classes(root) or has_classes(root / "train") or has_classes(root / "test"):
        return "folder"
    raise FgavError(f"cannot tell the layout of {root}: fgav understands {', '.join(LAYOUTS)}")


def open_dataset(
    path: str | Path,
    *,
    split: str = "test",
    image_size: int = 64,
    protocol: str = "intra_test",
    margin: float = 0.0,
    depth_dir: str | Path | None = None,
    reflection_dir: str | Path | None = None,
) -> FASDataset:
    """Open a face anti-spoofing data set, picking the loader by its layout.

    Args:
        path: a CelebA-Spoof-layout folder (``Data/`` and ``metas/``; SynthSpoof
            trees too), a plain ``live/``+``spoof/`` folder, or ``"synth"``: the
            embedded SynthSpoof, generated once into the cache (see :mod:`fgav.data.cache`).
        split: ``"train"`` or ``"test"``.
        image_size: the side of the returned images and maps.
        protocol: CelebA-Spoof's protocol folder under ``metas``.
        margin: grow each bounding box by this fraction of its size on every side.
        depth_dir: a folder of depth maps mirroring ``Data/`` (CelebA-Spoof layout only).
        reflection_dir: likewise for reflection maps.

    Returns:
        A :class:`FASDataset` in a fixed order (sorted relative paths).

    Raises:
        FgavError: an unknown layout, a missing or malformed label file, an empty split ...
    """
    layout = detect_layout(path)
    if layout == "synth":
        path, layout = synth_path(), "celeba"
    if layout == "celeba":
        return CelebASpoofDataset(
            path,
            split=split,
            image_size=image_size,
            protocol=protocol,
            margin=margin,
            depth_dir=depth_dir,
            reflection_dir=reflection_dir,
        )
    if depth_dir or reflection_dir:
        raise FgavError("depth and reflection map folders need CelebA-Spoof's layout; a plain folder has binary labels only")
    return FolderDataset(path, split=split, image_size=image_size)
