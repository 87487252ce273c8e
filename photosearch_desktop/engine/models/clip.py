"""CLIP (open_clip): one vector space for photos and words.

Weights are pretrained: downloaded once into the user's cache (with a progress bar), or
read from a local checkpoint file the person gives. Without a network and without a
checkpoint the model fails fast with a message that says what to do. Downloaded weights are
checked before every load (weights.py) and downloaded again only when the person asks.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import open_clip
import torch

from ..errors import Action, ModelError, hint
from ..records import ModelSpec
from ..system.private_files import private_dir, tighten
from .base import Embedder, l2_normalise
from .preprocess import ClipPreprocess
from .weights import check_weights, file_sha256

log = logging.getLogger(__name__)

WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")

DownloadProgress = Callable[[int, int], None]  # bytes done, bytes total


def _offline_error(spec: ModelSpec, repo: str, cause: BaseException) -> ModelError:
    return ModelError(
        f"The weights of {spec.name} ({spec.arch}, {spec.pretrained}, about {spec.download_mb} MB) are not on "
        f"this computer and could not be downloaded ({type(cause).__name__}).",
        hint(
            Action.CONNECT, Action.GIVE_WEIGHTS, Action.CHOOSE_MODEL,
            model="efficientnet-lite2", url=f"https://huggingface.co/{repo.rstrip('/')}", file_name=WEIGHT_FILES[0],
        ),
    )


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 160 else text[:157] + "..."


def _damaged_weights(weights: Path, spec: ModelSpec, exc: BaseException, downloaded: bool) -> ModelError:
    return ModelError(
        f"The weights file {weights} cannot be read as a checkpoint of {spec.arch}: it is damaged "
        f"(for example cut off while copying or downloading) or not a model file "
        f"({type(exc).__name__}: {_first_line(exc)}).",
        hint(Action.DOWNLOAD_WEIGHTS_AGAIN if downloaded else Action.REPLACE_WEIGHTS),
    )


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick connect, so an offline machine fails in seconds instead of a minute of retries."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _download(
    spec: ModelSpec, cache_dir: Path | None, progress: DownloadProgress | None, force: bool = False
) -> tuple[Path, str]:
    """The weights file in the cache, downloaded first if it is not there (or ``force``), and
    its key in the weights record ("REPO/FILE")."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from tqdm.auto import tqdm

    cfg = open_clip.get_pretrained_cfg(spec.arch, spec.pretrained)
    repo = (cfg or {}).get("hf_hub", "")
    if not repo:
        raise ModelError(
            f"open_clip has no downloadable weights for {spec.arch} / '{spec.pretrained}'.", hint(Action.GIVE_WEIGHTS)
        )
    repo_id = repo.rstrip("/")
    if cache_dir is not None:
        private_dir(cache_dir)  # the app's own cache: what the hub client creates inside is unreachable

    # Files already in the cache are found on disk alone: hf_hub_download, even told to stay
    # local, contacts the hub (huggingface_hub 2.4 fetches a registry of its own there).
    if not force:
        for filename in WEIGHT_FILES:
            cached = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
            if isinstance(cached, str):
                return Path(cached), f"{repo_id}/{filename}"
    if not _hub_reachable():
        raise _offline_error(spec, repo_id, ConnectionError("no connection to the model hub"))

    tqdm_class = tqdm
    if progress is not None:
        report = progress

        class _Reporting(tqdm):  # forwards the byte count to the UI
            def update(self, n: float | None = 1) -> bool | None:
                out = super().update(n)
                report(int(self.n), int(self.total or 0))
                return out

        tqdm_class = _Reporting

    last_error: BaseException = RuntimeError("no weight file found")
    for filename in WEIGHT_FILES:
        try:
            path = Path(
                hf_hub_download(
                    repo_id, filename, cache_dir=cache_dir, force_download=force, tqdm_class=tqdm_class, etag_timeout=10
                )
            )
        except Exception as exc:  # noqa: BLE001 - the hub raises many kinds; all mean "not here"
            last_error = exc
            continue
        if cache_dir is not None:
            tighten(cache_dir)  # the hub client creates with the umask's modes
        return path, f"{repo_id}/{filename}"
    raise _offline_error(spec, repo_id, last_error)


def _record_dir(cache_dir: Path | None) -> Path:
    """Where the weights record lies: next to the cache the weights were downloaded into."""
    if cache_dir is not None:
        return cache_dir
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _architecture(arch: str) -> str:
    """A model name open_clip knows. ``arch`` may also be an open_clip config file (NAME.json,
    e.g. of a fine-tuned variant); it is registered here, in whichever process runs the model."""
    if not arch.endswith(".json"):
        return arch
    config = Path(arch).expanduser()
    if not config.is_file():
        raise ModelError(f"The model config file {config} does not exist.", hint(Action.CHECK_INPUT))
    open_clip.add_model_config(config)
    return config.stem


class ClipEmbedder(Embedder):
    supports_text = True

    def __init__(
        self,
        spec: ModelSpec,
        device: str = "cpu",
        weights: Path | None = None,
        cache_dir: Path | None = None,
        download_progress: DownloadProgress | None = None,
        force_download: bool = False,
    ) -> None:
        """``force_download``: download the weights again even if they are in the cache (the
        person asked for it, after they were refused)."""
        self.name = spec.name
        self.device = device
        arch = _architecture(spec.arch)
        downloaded = weights is None
        if weights is not None:
            weights = Path(weights)
            if not weights.is_file():
                raise ModelError(f"The weights file {weights} does not exist.", hint(Action.GIVE_WEIGHTS))
            self.identity = f"open_clip/{arch}/sha256:{file_sha256(weights)[:16]}"
        elif spec.pretrained:
            weights, key = _download(spec, cache_dir, download_progress, force_download)
            check_weights(weights, key, spec.published_sha256(weights.name), _record_dir(cache_dir), force_download)
            self.identity = f"open_clip/{spec.arch}/{spec.pretrained}"
        else:
            raise ModelError(f"{spec.name} needs a weights file.", hint(Action.GIVE_WEIGHTS))
        try:
            model = open_clip.create_model(arch, pretrained=str(weights), device=device)
        except RuntimeError as exc:
            if "size mismatch" in str(exc) or "state_dict" in str(exc):
                raise ModelError(f"The weights in {weights} do not fit {spec.arch}: {exc}", hint(Action.GIVE_WEIGHTS)) from exc
            if "Model config" in str(exc) and "not found" in str(exc):
                raise ModelError(f"open_clip has no model architecture '{arch}'.", hint(Action.CHOOSE_MODEL)) from exc
            raise _damaged_weights(weights, spec, exc, downloaded) from exc
        except Exception as exc:  # noqa: BLE001 - a cut-off or garbage file fails in many ways
            # torch.load raises EOFError, UnpicklingError, UnicodeDecodeError, ... on bad bytes.
            raise _damaged_weights(weights, spec, exc, downloaded) from exc
        model.eval()
        self._model = model
        self._tokenizer = open_clip.get_tokenizer(arch)
        pre = open_clip.get_model_preprocess_cfg(model)
        size = pre.get("size", 224)
        self.input_size = int(size if isinstance(size, int) else size[0])
        self.preprocessor = ClipPreprocess(
            self.input_size,
            tuple(float(v) for v in pre.get("mean", open_clip.OPENAI_DATASET_MEAN)),  # type: ignore[arg-type]
            tuple(float(v) for v in pre.get("std", open_clip.OPENAI_DATASET_STD)),  # type: ignore[arg-type]
        )
        with torch.inference_mode():
            self.dim = int(self._model.encode_image(torch.zeros(1, 3, self.input_size, self.input_size, device=device)).shape[1])
        # Half precision on a GPU: twice the speed, and cosine ranks do not change measurably.
        self._autocast = device.startswith("cuda")

    def _run(self, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> np.ndarray:
        with torch.inference_mode(), torch.autocast("cuda", enabled=self._autocast):
            out = fn(x.to(self.device))
        return l2_normalise(out.float().cpu().numpy())

    def encode_arrays(self, batch: np.ndarray) -> np.ndarray:
        return self._run(self._model.encode_image, torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(self._model.encode_text, self._tokenizer(list(texts)))
