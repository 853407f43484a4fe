"""Worst-case requests within the API's limits: CPU seconds of the costliest requests the defaults allow.

Sends, through the real app (in process, the serving encoder of the settings), requests built to be as costly as
the limits let them be: text made of short comma-separated runs of taxonomy words (every run is a phrase and
every 1-3-word n-gram of it a segment to encode), ``top_k`` 100, all of ``api_max_request_chars`` used; and the
same for a recommendation (skills and CV). Prints one JSON object with the CPU model and flags.

    python bench/worst_case.py --bundle /tmp/esco-bundle [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import time
from pathlib import Path

from fastapi.testclient import TestClient

from skillmatch.api import create_app
from skillmatch.api.state import load_service
from skillmatch.config import Settings


def cpu_info() -> dict[str, str]:
    """CPU model and the SIMD flags that matter for the encoder."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"model": platform.processor() or "unknown", "flags": ""}
    info = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = [f for f in info.get("Flags", "").split() if f.startswith(("avx", "amx")) or f in ("fma",)]
    return {
        "model": info.get("Model name", "").strip(),
        "flags": " ".join(flags),
        "cpus": info.get("CPU(s)", "").strip(),
    }


def costly_text(words: list[str], chars: int, rng: random.Random) -> str:
    """``chars`` characters of comma-separated three-word runs of taxonomy words."""
    runs: list[str] = []
    while sum(len(r) + 2 for r in runs) < chars:
        runs.append(" ".join(rng.choice(words) for _ in range(3)))
    return ", ".join(runs)[:chars]


def main() -> None:
    """Run the worst cases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    service = load_service(args.bundle, settings)
    app = create_app(settings, service)
    words = [w for text in service.bundle.labels["text"].tolist()[:5000] for w in text.split() if len(w) > 2]
    rng = random.Random(0)
    budget = settings.api_max_request_chars
    per_text = min(settings.api_max_text_chars, budget)
    results = []
    with TestClient(app) as client:
        cases = {
            "extract, one text": lambda: {"texts": [costly_text(words, per_text, rng)], "top_k": 100},
            "extract, many texts": lambda: {
                "texts": [
                    costly_text(words, budget // 20, rng) for _ in range(min(20, settings.api_max_texts))
                ],
                "top_k": 100,
            },
            "recommendation, CV": lambda: {
                "roles": ["data analyst"],
                "cv": costly_text(words, budget - 20, rng),
            },
        }
        for name, body in cases.items():
            route = "/v1/skills/extract" if name.startswith("extract") else "/v1/recommendations"
            client.post(route, json=body())  # warm-up
            cpu, wall = [], []
            for _ in range(args.repeat):
                payload = body()
                c0, w0 = time.process_time(), time.perf_counter()
                response = client.post(route, json=payload)
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
                assert response.status_code == 200, response.text[:300]
            results.append(
                {
                    "case": name,
                    "chars": sum(len(t) for t in json.dumps(payload)),
                    "cpu_s_max": round(max(cpu), 3),
                    "wall_s_max": round(max(wall), 3),
                }
            )
    print(
        json.dumps(
            {
                "cpu": cpu_info(),
                "bundle": str(args.bundle),
                "api_max_request_chars": budget,
                "encoder_backend": settings.api_encoder_backend,
                "results": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
