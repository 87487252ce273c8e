"""The ONNX graphs of a model on disk: where they live, what they are, and whether they were refused.

One folder per model identity under the models cache (``<cache>/onnx/<arch>-<sha256 of the
weights>-f<format>``): ``image.onnx``, ``text.onnx`` (CLIP), each with its weights beside it
(``.onnx.data``, memory-mapped when loaded), the tokenizer's vocabulary, and
``graphs.json``, written last, so a folder without it is an export that did not finish. An
export that failed its check leaves ``refused.json`` instead: the model then runs with torch,
and the export is tried again only when torch or ONNX Runtime changes version.

Hashing a 350 MB checkpoint takes 0.2-0.4 s, more than a text query may cost, so each file's
sha256 is remembered by its path, size, modification time and inode
(``weights-sha256-by-stamp.json``): a changed file is hashed again. That is safe for finding a
model's graphs: they were exported from the file whose hash names them, and a downloaded file
is still checked against its recorded hash (weights.py) whenever torch loads it. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..system.private_files import private_dir

log = logging.getLogger(__name__)

FORMAT = 2  # bumped when what an export writes changes; older folders are then ignored
MANIFEST = "graphs.json"
REFUSAL = "refused.json"
IMAGE_GRAPH = "image.onnx"
TEXT_GRAPH = "text.onnx"
_HASHES = "weights-sha256-by-stamp.json"  # not weights.py's record of downloads, which is checked at each load
_PRETRAINED = "pretrained-weights.json"


@dataclass(frozen=True)
class GraphSet:
    """What an exported model needs to run without torch (the manifest, ``graphs.json``)."""

    name: str
    identity: str
    dim: int
    input_size: int
    preprocess: dict[str, Any]  # {"kind": "clip", "size", "mean", "std"} or {"kind": "efficientnet", "size"}
    text: dict[str, Any] | None  # {"context_length", "clean", "vocab"} for CLIP, None for photo-only models
    export_seconds: float
    min_cosine_image: float
    min_cosine_text: float | None
    versions: dict[str, str]
    folder: Path = Path()

    @property
    def supports_text(self) -> bool:
        return self.text is not None


def _write_json(path: Path, data: object) -> None:
    """Whole or not at all: a reader never sees half a file."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _stamp(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def file_sha256(path: Path, cache_dir: Path | None = None) -> str:
    """The file's sha256; remembered in ``cache_dir`` while the file stays as it is."""
    path = path.resolve()
    stamp = _stamp(path)
    memo = cache_dir / _HASHES if cache_dir is not None else None
    known = (_read_json(memo) or {}) if memo is not None else {}
    entry = known.get(str(path)) if isinstance(known, dict) else None
    if stamp is not None and isinstance(entry, dict) and entry.get("stamp") == stamp:
        return str(entry["sha256"])
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    if memo is not None and stamp is not None:
        known = known if isinstance(known, dict) else {}
        known[str(path)] = {"stamp": stamp, "sha256": digest}
        try:
            _write_json(memo, known)
        except OSError as exc:
            log.info("cannot remember the hash of %s: %s", path, exc)
    return digest


def remember_pretrained(cache_dir: Path, identity: str, weights: Path) -> None:
    """Where the downloaded weights of ``identity`` are, so the next start finds their graphs
    without asking open_clip (which imports torch)."""
    known = _read_json(cache_dir / _PRETRAINED)
    known = known if isinstance(known, dict) else {}
    known[identity] = str(weights.resolve())
    try:
        _write_json(cache_dir / _PRETRAINED, known)
    except OSError as exc:
        log.info("cannot remember where the weights of %s are: %s", identity, exc)


def pretrained_weights(cache_dir: Path, identity: str) -> Path | None:
    known = _read_json(cache_dir / _PRETRAINED)
    path = known.get(identity) if isinstance(known, dict) else None
    return Path(path) if path and Path(path).is_file() else None


def graph_folder(cache_dir: Path, arch: str, weights_sha256: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", arch).strip("-")[:60] or "model"
    return cache_dir / "onnx" / f"{slug}-{weights_sha256[:32]}-f{FORMAT}"


def read_graphs(folder: Path) -> GraphSet | None:
    """The graphs in ``folder`` if an export finished there and its files are all present."""
    data = _read_json(folder / MANIFEST)
    if not isinstance(data, dict):
        return None
    known = {f.name for f in fields(GraphSet)}
    try:
        # Keys this version no longer reads (the batch size earlier exports recorded) are left.
        graphs = GraphSet(**{**{k: v for k, v in data.items() if k in known}, "folder": folder})
    except TypeError:
        return None  # written by another format
    towers = [IMAGE_GRAPH] + ([TEXT_GRAPH] if graphs.text else [])
    needed = towers + [t + ".data" for t in towers] + ([graphs.text["vocab"]] if graphs.text else [])
    if not all((folder / name).is_file() for name in needed):
        return None
    return graphs


def write_graphs(folder: Path, graphs: GraphSet) -> None:
    data = asdict(graphs)
    data.pop("folder")
    _write_json(folder / MANIFEST, data)


def runtime_versions() -> dict[str, str]:
    """The versions an export depends on, read without importing the packages."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("torch", "onnxruntime", "onnx", "open_clip_torch", "timm"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = ""
    return out


def read_refusal(folder: Path) -> str | None:
    """Why the export of this model was refused, while torch and ONNX Runtime are the versions
    it was tried with (a new version may export it right)."""
    data = _read_json(folder / REFUSAL)
    if not isinstance(data, dict):
        return None
    now = runtime_versions()
    if any(data.get("versions", {}).get(p) != now[p] for p in ("torch", "onnxruntime")):
        return None
    return str(data.get("reason", "the export did not pass its check"))


def write_refusal(folder: Path, reason: str) -> None:
    try:
        _write_json(folder / REFUSAL, {"reason": reason, "versions": runtime_versions()})
    except OSError as exc:
        log.info("cannot note the refused export in %s: %s", folder, exc)
