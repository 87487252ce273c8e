"""Downloaded weights are checked before every load.

A weights file in the model cache is compared with the sha256 its publisher lists for it (kept
in the model registry, :attr:`~..records.ModelSpec.weights_sha256`), or, for a file without one,
with the sha256 recorded when it was first downloaded (trust on first use; the record lies
owner-only next to the cache). A file that does not match (damaged on disk, or changed by
someone) is refused, and nothing is downloaded unless the person asks for it: a new download
then renews the record. The hash is taken at every load, because a file that changed need not
change its size or date: 0.52 s for CLIP ViT-B/32's 605 MB from the page cache, 2 cores
(scripts/bench_privacy.py), while the model loads in the background.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from ..errors import Action, ModelError, hint
from ..system.private_files import private_dir, write_atomic

log = logging.getLogger(__name__)

RECORD_FILE = "weights-sha256.json"  # {"REPO/FILE": sha256} of files first seen without a published hash


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_weights(path: Path, key: str, published: str | None, record_dir: Path, renew: bool = False) -> None:
    """Refuse ``path`` (ModelError) unless its sha256 is ``published`` or, without one, the one
    recorded for ``key`` in ``record_dir``; with no record yet (or ``renew``: the person asked
    for a new download), its hash is recorded."""
    digest = file_sha256(path)
    if published is not None:
        if digest != published:
            raise _mismatch(path, digest, published, "the sha256 its publisher lists")
        return
    record_path = record_dir / RECORD_FILE
    record = _read(record_path)
    known = record.get(key)
    if known is not None and not renew:
        if digest != known:
            raise _mismatch(path, digest, known, "the sha256 recorded when it was downloaded")
        return
    record[key] = digest
    private_dir(record_dir)
    write_atomic(record_path, lambda tmp: tmp.write_text(json.dumps(record, indent=1, sort_keys=True)))
    log.info("recorded the sha256 of %s (%s): it is checked at every load from now on", key, digest)


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        # Refusing every file for a damaged record would leave no way forward but a download,
        # which the person is asked for anyway when a file does not match.
        log.warning("the weights record %s cannot be read (%s); it is started again", path, exc)
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _mismatch(path: Path, digest: str, expected: str, what: str) -> ModelError:
    return ModelError(
        f"The downloaded weights file {path} does not match {what} (sha256 {digest[:16]}…, expected "
        f"{expected[:16]}…): it was damaged or changed on this computer, so it is not used.",
        hint(Action.DOWNLOAD_WEIGHTS_AGAIN, Action.CHOOSE_MODEL, model="efficientnet-lite2"),
    )
