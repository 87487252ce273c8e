"""Plain records passed between the engine's stages."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class PhotoMeta:
    """What we know about a photo besides its pixels.

    ``width``/``height`` are after EXIF orientation is applied. ``taken_at`` is naive local
    time (EXIF has no time zone); ``taken_source`` says where it came from:
    ``"exif-original"`` (DateTimeOriginal), ``"exif-datetime"`` (DateTime) or ``"file-mtime"``.
    """

    width: int
    height: int
    taken_at: datetime | None = None
    taken_source: str = "file-mtime"
    camera_make: str | None = None
    camera_model: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    format: str | None = None
    pixel_hash: int | None = None  # perceptual hash of the decoded picture (engine/media/pixel_hash.py)
    # A small grey copy of the decoded picture (engine/media/signature.py): tells a copy of
    # the photo from another shot without decoding the file again.
    pixel_signature: bytes | None = None


@dataclass(frozen=True)
class LoadedImage:
    image: Image.Image  # mode "RGB", EXIF orientation applied
    meta: PhotoMeta


@dataclass(frozen=True)
class Progress:
    """Indexing progress, reported after every batch."""

    done: int
    total: int
    rate: float  # photos per second over the run so far
    eta_s: float | None
    phase: str = "embedding"  # "scanning" | "embedding" | "signing" (pixel signatures only) | "finishing"

    @property
    def fraction(self) -> float:
        return 1.0 if self.total == 0 else min(1.0, self.done / self.total)


@dataclass(frozen=True)
class Preparation:
    """The one-time preparation of a model for this computer (its ONNX graphs are exported and
    checked), reported as it starts and as it ends."""

    stage: str  # "started" | "finished" | "refused"
    message: str  # in plain words, for the person
    seconds: float = 0.0  # how long it took (finished, refused)


@dataclass(frozen=True)
class RuntimePlan:
    """What will run the model's network, known without loading it: ``runtime`` is "onnx"
    (ONNX Runtime, no torch) or "torch"; ``reason`` says why, in a few words; ``device`` is
    where ("cpu", "cuda", "cuda:1", "mps")."""

    runtime: str
    reason: str
    device: str = "cpu"

    @property
    def short(self) -> str:
        """For a status bar: "ONNX Runtime", "torch", "torch on the GPU"; "" when nothing can
        run the model."""
        if self.runtime == "onnx":
            return "ONNX Runtime"
        if self.runtime == "torch":
            return "torch" if self.device == "cpu" else "torch on the GPU"
        return ""

    @property
    def words(self) -> str:
        """For a person: "ONNX Runtime (ready)", "torch (asked for)", "torch on the GPU (cuda found)"."""
        return f"{self.short or self.runtime} ({self.reason})"


@dataclass(frozen=True)
class SearchFilters:
    """Restricts a search. ``folder`` is a library-relative subtree ("" = everything)."""

    folder: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None  # inclusive
    min_score: float | None = None
    # A date range applies to every photo's date, including dates guessed from the file's
    # modification time; with include_undated, photos without a camera date (only that
    # guess) are kept whatever their file date.
    include_undated: bool = False
    # Fold results that are copies of a better-ranked result (the same picture resized,
    # re-encoded, cropped, recoloured, captioned: checked on the pixel signatures stored at
    # index time) under it, so k results are k distinct pictures; other shots of the same
    # scene stay separate. Off here so the engine returns the plain ranking (benchmarks,
    # scripts); the window and the command line turn it on.
    collapse_duplicates: bool = False
    # With collapse_duplicates, also fold similar shots (bursts): any result whose vector is
    # at the model's dup_threshold or more from a better-ranked one.
    fold_similar: bool = False

    @property
    def active(self) -> bool:
        return bool(self.folder) or self.date_from is not None or self.date_to is not None


TermKind = Literal["text", "file", "photo", "pixels"]


@dataclass(frozen=True)
class QueryTerm:
    """One part of a query, with its weight: words, an image file (anywhere), a photo of the
    library, or an image's pixels (pasted; a small PNG). A negative weight steers away from it
    ("not like this")."""

    kind: TermKind
    text: str = ""  # text: the words; file: the path; photo: the library-relative path
    photo_id: int | None = None  # photo: its id (the path is kept too: a saved search outlives ids)
    pixels: bytes = b""  # pixels: PNG data
    weight: float = 1.0

    @property
    def label(self) -> str:
        """How the term reads to a person: "sunset", "2019/IMG_0042.jpg", "holiday.jpg" (a file
        outside the library), "the pasted image"."""
        if self.kind == "pixels":
            return self.text or "the pasted image"
        return self.text.rsplit("/", 1)[-1] if self.kind == "file" else self.text  # a photo: its path in the library


@dataclass(frozen=True)
class SearchQuery:
    """What a search looks for: the weighted sum of its terms' vectors (see query/compose.py)."""

    terms: tuple[QueryTerm, ...]

    @property
    def positive(self) -> tuple[QueryTerm, ...]:
        return tuple(t for t in self.terms if t.weight > 0)

    @property
    def negative(self) -> tuple[QueryTerm, ...]:
        return tuple(t for t in self.terms if t.weight < 0)

    def with_term(self, term: QueryTerm) -> SearchQuery:
        return SearchQuery((*self.terms, term))

    def without(self, index: int) -> SearchQuery:
        return SearchQuery(self.terms[:index] + self.terms[index + 1 :])


@dataclass(frozen=True)
class SavedSearch:
    """A query and its filters under a name; run again on the current index when opened."""

    name: str
    query: SearchQuery
    filters: SearchFilters
    saved_at: datetime


BrowseOrder = Literal["newest", "oldest", "name", "folder"]


@dataclass(frozen=True)
class PhotoRecord:
    """One photo of the catalog."""

    id: int
    rel_path: str
    folder: str
    size: int
    mtime_ns: int
    width: int | None
    height: int | None
    taken_at: datetime | None
    taken_source: str | None
    camera_make: str | None
    camera_model: str | None
    gps_lat: float | None
    gps_lon: float | None
    status: str  # "pending" | "indexed" | "skipped"
    error: str | None
    format: str | None = None  # the decoder's name: "JPEG", "HEIF", "PNG", "TIFF"...

    @property
    def camera(self) -> str | None:
        parts = [p for p in (self.camera_make, self.camera_model) if p]
        if len(parts) == 2 and parts[1].lower().startswith(parts[0].lower()):
            return parts[1]  # "Canon" + "Canon EOS 40D" reads better as the model alone
        return " ".join(parts) or None


@dataclass(frozen=True)
class SearchResult:
    photo: PhotoRecord
    score: float
    abs_path: str
    # Copies of this result (and, with SearchFilters.fold_similar, similar shots) folded
    # under it (SearchFilters.collapse_duplicates), best first: the window shows them as a
    # "+n" badge.
    folded: tuple[SearchResult, ...] = ()


@dataclass(frozen=True)
class SkippedFile:
    rel_path: str
    reason: str


# Reasons a later run may not meet again (permissions fixed, a drive reconnected): files
# skipped for them are tried again on every run, changed or not (chmod leaves mtime alone).
RETRY_REASONS = ("Permission denied", "Cannot be read", "The file could not be read")


@dataclass(frozen=True)
class OfflineFolder:
    """Photos kept in the catalog while their files cannot be reached (a drive unplugged, a
    share not connected): left out of results, back with the next update that finds them.
    ``folder`` is library-relative ("" for the library folder itself)."""

    folder: str
    photos: int


@dataclass(frozen=True)
class MovedLibrary:
    """An index whose photos were found in another folder: the library moved there (or its
    drive got another letter). ``matched`` of ``sampled`` photos were found with the same
    relative path, size and fingerprint."""

    old_root: str
    new_root: str
    photos: int
    sampled: int
    matched: int


@dataclass
class IndexReport:
    """What one ``index`` run did."""

    added: int = 0
    modified: int = 0
    moved: int = 0
    deleted: int = 0
    unchanged: int = 0
    embedded: int = 0
    skipped: int = 0
    # Photos indexed before pixel signatures were stored, decoded again to take theirs (no
    # model call: their vectors stay).
    signed: int = 0
    cancelled: bool = False
    rebuilt_for_model: str | None = None
    seconds: float = 0.0
    scan_problems: list[SkippedFile] = field(default_factory=list)
    offline: int = 0  # photos whose files vanished in bulk: kept with their vectors, not deleted
    returned: int = 0  # offline photos found again, back without being embedded again
    kept_unreadable: int = 0  # photos in folders that could not be read: kept as they were
    root_reachable: bool = True
    offline_folders: list[OfflineFolder] = field(default_factory=list)  # every offline photo, after the run


@dataclass(frozen=True)
class LibraryStatus:
    root: str
    data_dir: str
    model: str | None
    model_identity: str | None
    total: int
    indexed: int
    pending: int
    skipped: list[SkippedFile]
    last_indexed_at: datetime | None
    offline: int = 0  # not counted in indexed/pending/skipped
    offline_folders: tuple[OfflineFolder, ...] = ()
    reachable: bool = True  # whether the photo folder itself is there
    runtime: RuntimePlan | None = None  # what runs the model of this library (see models/runtime.py)


@dataclass(frozen=True, slots=True)  # one per photo at every scan: slots halve their memory
class KnownFile:
    """A file as the catalog last saw it (for change detection)."""

    id: int
    size: int
    mtime_ns: int
    fingerprint: str | None
    status: str
    error: str | None = None
    offline: bool = False


@dataclass(frozen=True)
class PipelineOptions:
    batch_size: int | None = None  # default: the model's cpu_batch_size on a CPU, 64 on a GPU
    decode_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    model_workers: int | None = None  # inference streams; default: one per core on CPU, one on a GPU
    commit_every: int = 256  # photos
    commit_seconds: float = 5.0  # or this long, whichever comes first
    # A decode that runs longer (a hung network drive, a pathological file) is skipped with a
    # reason, and the run goes on without waiting for it.
    decode_timeout: float = 60.0  # seconds


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    supports_text: bool
    download_mb: int  # 0 = ships with the install
    # Cosine similarity above which two photos count as similar shots (see README): groups in
    # `photosearch dupes`, and folding in collapsed results with "also fold similar shots".
    # Copies, below it too (small or heavily compressed ones), are found by their pixel
    # signatures (engine/media/signature.py).
    # efficientnet-lite2: calibrated with scripts/bench_dupes.py (75 library-dev photos x 12
    # Copydays-style copies + 500 UKBench distractors): the highest threshold with the best
    # recall while pair precision stays >= 0.99 (0.83: precision 1.0, recall 1.0 mild / 1.0 all;
    # recall holds from 0.78, precision drops below 0.99 under 0.77).
    # CLIP models: 0.93 is a documented starting value, NOT calibrated here (no CLIP weights on
    # the calibration machine); run scripts/bench_dupes.py with the model to calibrate it.
    dup_threshold: float
    kind: str  # "clip" | "efficientnet-lite2"
    arch: str = ""
    pretrained: str = ""
    # Two photos whose vectors are less alike than this are never compared as possible copies
    # (it only bounds the work: the signatures decide). efficientnet-lite2 gives a 25 % copy
    # 0.50-0.78 to its original (scripts/bench_dupes.py); CLIP models see copies as closer.
    copy_floor: float = 0.5
    # (file name, sha256) of the weights files as their publisher lists them (the model hub's
    # LFS hash); a downloaded file not listed here is checked against the hash recorded when
    # it was first downloaded (engine/models/weights.py).
    weights_sha256: tuple[tuple[str, str], ...] = ()

    def published_sha256(self, file_name: str) -> str | None:
        return dict(self.weights_sha256).get(file_name)


# How a member of a duplicate group relates to the group's keeper.
IDENTICAL = "identical file"  # the same bytes
SAME_PHOTO = "same photo"  # an edited copy: resized, re-encoded, cropped, recoloured... (checked on pixels)
SIMILAR_SHOT = "similar shot"  # another picture of the same scene
# The two tiers a member falls in: copies (IDENTICAL, SAME_PHOTO) lose nothing when removed
# and are offered for removal; similar shots are other pictures, never chosen for the person.
COPY_TIER = "copy"
SIMILAR_TIER = "similar"
# The original format comes first (immich #15013 kept a JPEG export over its HEIC): a phone's
# HEIC, a scan's TIFF or a PNG is what the JPEG copies were made from.
KEEPER_RULE = (
    "Suggested keeper: the original format (HEIC/HEIF, TIFF, PNG) over a JPEG copy; then the "
    "highest resolution; then the photo that carries a camera date, GPS or camera model; then "
    "the largest file; then the earliest date."
)


@dataclass(frozen=True)
class DuplicateMember:
    photo: PhotoRecord
    abs_path: str
    similarity: float  # cosine similarity of its vector to the keeper's
    label: str | None  # IDENTICAL, SAME_PHOTO (of the keeper, or of ``copy_of``), SIMILAR_SHOT
    # A copy of one of the group's similar shots rather than of the keeper: that shot's path
    # (library-relative). Removing it loses nothing while that shot stays.
    copy_of: str = ""

    @property
    def tier(self) -> str:
        """COPY_TIER for a copy (of the keeper or of a similar shot), else SIMILAR_TIER."""
        return COPY_TIER if self.label in (IDENTICAL, SAME_PHOTO) else SIMILAR_TIER

    @property
    def selected_by_default(self) -> bool:
        """Only copies are offered for removal: a similar shot is another picture."""
        return self.tier == COPY_TIER


@dataclass(frozen=True)
class DuplicateGroup:
    keeper: PhotoRecord
    keeper_path: str  # absolute
    # The others: copies of the keeper first, then each similar shot followed by its copies.
    members: tuple[DuplicateMember, ...]
    keeper_reason: str = ""  # why this keeper (the KEEPER_RULE step that chose it), in words

    @property
    def photos(self) -> list[PhotoRecord]:
        return [self.keeper, *(m.photo for m in self.members)]

    @property
    def copies(self) -> tuple[DuplicateMember, ...]:
        return tuple(m for m in self.members if m.tier == COPY_TIER)

    @property
    def similar(self) -> tuple[DuplicateMember, ...]:
        return tuple(m for m in self.members if m.tier == SIMILAR_TIER)


@dataclass(frozen=True)
class EvaluationReport:
    queries: int  # labelled photos whose group has another indexed member
    photos: int  # indexed photos ranked (queries' groups + distractors)
    groups: int
    precision: dict[int, float]
    recall: dict[int, float]
    mean_average_precision: float
    ns_score: float
    unmatched: tuple[str, ...]  # rows of the groups file with no indexed photo
