"""Shared by the benchmark scripts: what machine this is, and printing figures as JSON + table."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

# Scripts run from a checkout without installing: make the package importable, and the tests'
# helpers (generated photos, the tiny CLIP, white-box access to a library's catalog).
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "helpers"))


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem_gb = None
    import torch

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1) if mem_gb else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "os": platform.platform(terse=True),
    }


def report(title: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None, json_path: Path | None = None) -> None:
    """Print a table of ``rows`` and the whole result as one JSON document."""
    doc = {"benchmark": title, "machine": machine(), "results": rows, **(extra or {})}
    print(f"\n## {title}\n")
    if rows:
        cols = list(rows[0])
        widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols]
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)) + " |")
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in rows:
            print("| " + " | ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(cols, widths, strict=True)) + " |")
    m = doc["machine"]
    print(f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, GPU: {m['gpu'] or 'none'}")
    text = json.dumps(doc, indent=2, default=str)
    print("\n" + text)
    if json_path:
        json_path.write_text(text)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return "" if v is None else str(v)
