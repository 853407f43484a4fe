"""Cross-set generalisation of the tuned linker options: choose on one validation set, report on the other.

The linker's options (lexical weight, context weight, n-gram length; see docs/evaluation.md) and its threshold
were tuned on the TECH and HOUSE validation sets together, so the figures measured on those sets are optimistic.
:func:`evaluate_cross_set` gives honest ones: it scores a grid of options on every set, then for each direction
(tune on A, report on B) picks the best grid point on A and reports it on B beside B's own best point (the
oracle), the current defaults and the plain linker. A per-option check asks whether switching each option on
(at the value A prefers, the others held at A's choice) helps on B, and the threshold is calibrated on A and
applied to B. :func:`format_cross_set` prints the result as text tables.

Every linker of the grid shares the bundle's label table and index (:func:`~skillmatch.evaluation.runner.
bundle_linker`), so nothing is re-encoded but the validation sentences and their phrases.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skillmatch.evaluation.benchmarks import SkillExtractionSet, load_skill_extraction
from skillmatch.evaluation.runner import (
    _named_paths,
    bundle_linker,
    calibrate_threshold,
    linker_ranker,
    score_rankings,
)
from skillmatch.linking.linker import link_options

if TYPE_CHECKING:
    from skillmatch.facade import Skillmatch

#: The options the grid varies, in the order of :class:`GridPoint`.
OPTIONS = ("lexical_weight", "context_weight", "ngram_max_words")

#: The default grid: the values of each option tried (0 turns an option off).
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "lexical_weight": (0.0, 0.1, 0.2, 0.3),
    "context_weight": (0.0, 0.35, 0.5, 0.65),
    "ngram_max_words": (0, 6, 12),
}

#: The metrics measured for every grid point (R-Precision@5, @10 and MRR on rankings of depth 10).
METRICS = ("rp@5", "rp@10", "mrr")


@dataclass(frozen=True, order=True)
class GridPoint:
    """One combination of the linker options the grid varies (the others stay the settings')."""

    lexical_weight: float
    context_weight: float
    ngram_max_words: int

    def options(self) -> dict[str, Any]:
        """The :class:`~skillmatch.linking.linker.SkillLinker` keyword options of this point."""
        return asdict(self)

    def with_option(self, name: str, value: float) -> GridPoint:
        """This point with one option changed."""
        return GridPoint(
            **{**self.options(), name: int(value) if name == "ngram_max_words" else float(value)}
        )

    def label(self) -> str:
        """A short text, e.g. ``lex 0.2 / ctx 0.5 / ngram 12``."""
        return f"lex {self.lexical_weight:g} / ctx {self.context_weight:g} / ngram {self.ngram_max_words}"


#: Scores of grid points on one set: point -> metric -> value.
PointScores = dict[GridPoint, dict[str, float]]

#: The plain dense linker: every option off.
PLAIN = GridPoint(0.0, 0.0, 0)


def option_grid(grid: Mapping[str, Sequence[float]] | None = None) -> list[GridPoint]:
    """Every combination of the option values of ``grid`` (default :data:`DEFAULT_GRID`), simplest first.

    Args:
        grid: Option name (one of :data:`OPTIONS`) -> values tried; an option left out keeps the value 0 (off).

    Returns:
        The grid points, sorted (lexical weight, then context weight, then n-gram length, ascending).

    Raises:
        ValueError: If an option name is unknown or an option has no value.
    """
    grid = DEFAULT_GRID if grid is None else grid
    unknown = sorted(set(grid) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown linker options in the grid: {unknown}; known: {list(OPTIONS)}")
    values = [sorted(set(grid.get(name, (0,)))) for name in OPTIONS]
    empty = [name for name, vals in zip(OPTIONS, values, strict=True) if not vals]
    if empty:
        raise ValueError(f"grid options without values: {empty}")
    return sorted(
        GridPoint(float(lex), float(ctx), int(ngram)) for lex, ctx, ngram in itertools.product(*values)
    )


def defaults_point(sm: Skillmatch) -> GridPoint:
    """The grid point of the settings' options (the current defaults)."""
    options = link_options(sm.settings)
    return GridPoint(
        float(options["lexical_weight"]), float(options["context_weight"]), int(options["ngram_max_words"])
    )


def threshold_sets(data: SkillExtractionSet) -> tuple[list[str], list[set[str]]]:
    """The texts and gold sets :func:`~skillmatch.evaluation.runner.calibrate_threshold` takes for one set.

    As in :func:`~skillmatch.evaluation.runner.calibrate_min_score`: the queries with their gold skills, then the
    sentences with no gold skill (every link made for them is wrong).
    """
    return [*data.queries, *data.no_gold], [*data.relevant, *(set() for _ in data.no_gold)]


# --- scoring the grid ------------------------------------------------------------------------------------


def score_grid(
    sm: Skillmatch,
    sets: Mapping[str, SkillExtractionSet],
    points: Iterable[GridPoint],
    *,
    ks: Sequence[int] = (5, 10),
    depth: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, PointScores]:
    """R-Precision@k and MRR of the linker at every grid point on every set.

    Points are linked one at a time (a linker per point, over the bundle's shared label index), in order of
    n-gram length so the encoder's memory cache serves the phrases again.

    Args:
        sm: A loaded (ESCO) bundle.
        sets: Name -> skill-extraction set.
        points: The grid points.
        ks: R-Precision cut-offs.
        depth: Ranking depth (MRR is on rankings of this depth).
        progress: Called as ``progress(points_done, points_total)`` after each point.

    Returns:
        Set name -> point -> ``{"rp@k"..., "mrr", "n"}``.
    """
    todo = sorted(set(points), key=lambda p: (p.ngram_max_words, p.lexical_weight, p.context_weight))
    out: dict[str, PointScores] = {name: {} for name in sets}
    for done, point in enumerate(todo, start=1):
        rank = linker_ranker(bundle_linker(sm, **point.options()))
        for name, data in sets.items():
            out[name][point] = score_rankings(rank(data.queries, depth), data.relevant, ks)
        if progress is not None:
            progress(done, len(todo))
    return out


def best_point(scores: PointScores, metric: str, among: Iterable[GridPoint] | None = None) -> GridPoint:
    """The point with the highest ``metric`` (on ties: the highest sum of the other metrics, then the simplest).

    Args:
        scores: Point -> metrics, all on one set.
        metric: The metric to maximise (e.g. ``rp@5``).
        among: Only these points (default: all of ``scores``).

    Raises:
        ValueError: If there is no point to choose from.
    """
    candidates = sorted(scores if among is None else among)
    if not candidates:
        raise ValueError("no grid point to choose from")

    def key(point: GridPoint) -> tuple[float, float]:
        values = scores[point]
        return values[metric], sum(v for m, v in values.items() if m in METRICS and m != metric)

    # max keeps the first of equal keys; candidates are sorted simplest first
    return max(candidates, key=key)


def _figures(scores: PointScores, point: GridPoint) -> dict[str, Any]:
    return {"point": point.label(), **point.options(), **scores[point]}


def option_checks(
    tuned_on: PointScores, held_out: PointScores, chosen: GridPoint, metric: str
) -> list[dict[str, Any]]:
    """Does switching each option on help on the held-out set? The others stay at the values chosen on A.

    For each option, "on" is its value at ``chosen`` when that is not 0, else the value that scores best on the
    tuning set among the non-zero ones (the others held at ``chosen``); "off" is the same point with the option
    at 0. The gain (on - off) is given on both sets; the held-out one decides.

    Args:
        tuned_on: Point -> metrics on the tuning set A.
        held_out: Point -> metrics on the held-out set B.
        chosen: The point chosen on A.
        metric: The metric compared.

    Returns:
        One row per option that has a non-zero value in the grid: ``option``, ``on``, ``chosen_on_tuning_set``
        (whether A's choice had it on), ``tuned_gain`` (on A), ``held_out_gain`` (on B) and ``helps_held_out``.
    """
    rows = []
    for name in OPTIONS:
        off = chosen.with_option(name, 0)
        # the values of this option on the line through the chosen point
        values = sorted(
            {getattr(p, name) for p in tuned_on if p.with_option(name, getattr(chosen, name)) == chosen}
        )
        ons = [chosen.with_option(name, v) for v in values if v]
        ons = [p for p in ons if p in tuned_on and p in held_out]
        if not ons or off not in tuned_on or off not in held_out:
            continue
        on = chosen if getattr(chosen, name) else best_point(tuned_on, metric, among=ons)
        tuned_gain = tuned_on[on][metric] - tuned_on[off][metric]
        held_gain = held_out[on][metric] - held_out[off][metric]
        rows.append(
            {
                "option": name,
                "on": getattr(on, name),
                "chosen_on_tuning_set": bool(getattr(chosen, name)),
                f"tuned_{metric}_off": tuned_on[off][metric],
                f"tuned_{metric}_on": tuned_on[on][metric],
                "tuned_gain": round(tuned_gain, 4),
                f"held_out_{metric}_off": held_out[off][metric],
                f"held_out_{metric}_on": held_out[on][metric],
                "held_out_gain": round(held_gain, 4),
                "helps_held_out": held_gain > 0,
            }
        )
    return rows


def option_profiles(
    tuned_on: PointScores, held_out: PointScores, chosen: GridPoint, metric: str
) -> list[dict[str, Any]]:
    """Each value of each option on both sets, the other options held at the point chosen on the tuning set."""
    rows = []
    for name in OPTIONS:
        for value in sorted({getattr(p, name) for p in tuned_on}):
            point = chosen.with_option(name, value)
            if point in tuned_on and point in held_out:
                rows.append(
                    {
                        "option": name,
                        "value": value,
                        "chosen": point == chosen,
                        f"tuned_{metric}": tuned_on[point][metric],
                        f"held_out_{metric}": held_out[point][metric],
                    }
                )
    return rows


def transfer(
    scores: Mapping[str, PointScores],
    tune: str,
    report: str,
    *,
    metric: str = "rp@5",
    defaults: GridPoint | None = None,
    plain: GridPoint = PLAIN,
    points: Iterable[GridPoint] | None = None,
) -> dict[str, Any]:
    """One direction of the cross-set evaluation: options chosen on ``tune``, reported on ``report``.

    Args:
        scores: Set name -> point -> metrics (:func:`score_grid`).
        tune: The set the options are chosen on (A).
        report: The held-out set they are reported on (B).
        metric: The metric the choice maximises.
        defaults: The current defaults (reported when scored).
        plain: The plain linker (reported when scored).
        points: The grid the options are chosen from (default: every point scored on both sets); the defaults
            and the plain linker are reported even when they are not in it, but only grid points are chosen.

    Returns:
        ``{"tune", "report", "metric", "chosen", "tuned" (A's figures at the chosen point: optimistic),
        "held_out" (B's figures at A's choice: honest), "oracle" (B's own best point), "defaults" and
        "defaults_tuned" (the defaults on B and on A), "plain" (on B), "gap_to_oracle", "gain_over_plain",
        "options" (:func:`option_checks`), "profiles" (:func:`option_profiles`)}``.
    """
    a, b = scores[tune], scores[report]
    grid = [p for p in (a if points is None else dict.fromkeys(points)) if p in a and p in b]
    a_grid, b_grid = {p: a[p] for p in grid}, {p: b[p] for p in grid}
    chosen = best_point(a_grid, metric)
    oracle = best_point(b_grid, metric)
    out: dict[str, Any] = {
        "tune": tune,
        "report": report,
        "metric": metric,
        "chosen": chosen.options(),
        "tuned": _figures(a, chosen),
        "held_out": _figures(b, chosen),
        "oracle": _figures(b, oracle),
        "gap_to_oracle": round(b[oracle][metric] - b[chosen][metric], 4),
    }
    if defaults is not None and defaults in a and defaults in b:
        out["defaults"] = _figures(b, defaults)
        out["defaults_tuned"] = _figures(a, defaults)
    if plain in b:
        out["plain"] = _figures(b, plain)
        out["gain_over_plain"] = round(b[chosen][metric] - b[plain][metric], 4)
    out["options"] = option_checks(a_grid, b_grid, chosen, metric)
    out["profiles"] = option_profiles(a_grid, b_grid, chosen, metric)
    return out


# --- the threshold ---------------------------------------------------------------------------------------


def _at(curve: Sequence[Mapping[str, Any]], threshold: float) -> dict[str, Any]:
    for row in curve:
        if abs(float(row["threshold"]) - threshold) < 1e-9:
            return dict(row)
    raise ValueError(f"threshold {threshold} is not on the calibration grid")


def threshold_transfer(
    curves: Mapping[str, Sequence[Mapping[str, Any]]], tune: str, report: str, default: float
) -> dict[str, Any]:
    """The threshold calibrated on ``tune`` (best F1 there) applied to ``report``.

    Args:
        curves: Set name -> its own calibration curve (``calibrate_threshold(...)["curve"]`` of that set alone),
            all on the same threshold grid.
        tune: The set the threshold is calibrated on (A).
        report: The held-out set (B).
        default: The configured threshold (``link_min_score``), reported on B beside the others.

    Returns:
        ``{"tune", "report", "tuned" (A's best row: optimistic), "held_out" (B at A's threshold: honest),
        "oracle" (B's own best row), "default" (B at ``default``), "f1_loss" (oracle - held-out F1)}``.
    """
    tuned = max(curves[tune], key=lambda row: (row["f1"], -abs(row["threshold"] - 0.5)))
    oracle = max(curves[report], key=lambda row: (row["f1"], -abs(row["threshold"] - 0.5)))
    held_out = _at(curves[report], float(tuned["threshold"]))
    return {
        "tune": tune,
        "report": report,
        "tuned": dict(tuned),
        "held_out": held_out,
        "oracle": dict(oracle),
        "default": _at(curves[report], round(default, 2)),
        "default_tuned": _at(curves[tune], round(default, 2)),
        "f1_loss": round(float(oracle["f1"]) - float(held_out["f1"]), 4),
    }


# --- all together ----------------------------------------------------------------------------------------


def evaluate_cross_set(
    sm: Skillmatch,
    paths: Mapping[str, str | Path] | Sequence[str | Path],
    grid: Mapping[str, Sequence[float]] | None = None,
    metric: str = "rp@5",
    *,
    depth: int = 10,
    thresholds: Sequence[float] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Choose the linker options and threshold on one skill-extraction set and report them on each other one.

    Args:
        sm: A loaded ESCO bundle.
        paths: The benchmark CSV files (at least two), as a list (named by file stem without ``_validation``)
            or a mapping name -> path (:data:`~skillmatch.evaluation.runner.SKILL_EXTRACTION_FILES`).
        grid: Option -> values tried (default :data:`DEFAULT_GRID`); the defaults and the plain linker are
            scored too when the grid lacks them.
        metric: What the choice of options maximises: ``rp@5``, ``rp@10`` or ``mrr``.
        depth: Ranking depth and links per sentence for the threshold.
        thresholds: The threshold grid (default that of :func:`~skillmatch.evaluation.runner.calibrate_threshold`,
            which must hold ``link_min_score``).
        progress: Called as ``progress(points_done, points_total)`` while the grid is scored.

    Returns:
        ``{"task": "cross_set", "metric", "grid", "points", "defaults", "sets": {name: {"queries", "no_gold",
        "grid": [row per point]}}, "directions": [transfer per ordered pair of sets], "thresholds":
        [threshold transfer per direction and linker], "seconds": {"grid", "per_point", "thresholds",
        "total"}}``. Figures marked "tuned" are measured on the set they were chosen on (optimistic);
        "held_out" ones on the other set.

    Raises:
        ValueError: If fewer than two sets are given or ``metric`` is unknown.
        skillmatch.schema.InputError: If a benchmark file is missing or malformed.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    named = _named_paths(paths)
    if len(named) < 2:
        raise ValueError(f"cross-set evaluation needs at least two sets, got {sorted(named)}")
    start = time.perf_counter()
    sets = {name: load_skill_extraction(path, sm.bundle.taxonomy.concepts) for name, path in named.items()}
    defaults = defaults_point(sm)
    points = option_grid(grid)
    scored = sorted({*points, defaults, PLAIN})
    scores = score_grid(sm, sets, scored, depth=depth, progress=progress)
    grid_seconds = time.perf_counter() - start

    directions = [
        transfer(scores, a, b, metric=metric, defaults=defaults, points=points)
        for a, b in itertools.permutations(sets, 2)
    ]

    started = time.perf_counter()
    # the threshold depends on the options: calibrate for the defaults and for each direction's chosen options
    linkers = {
        "defaults": defaults,
        **{f"chosen on {d['tune']}": GridPoint(**d["chosen"]) for d in directions},
    }
    curves: dict[GridPoint, dict[str, list[dict[str, Any]]]] = {}
    for point in dict.fromkeys(linkers.values()):
        linker = bundle_linker(sm, **point.options())
        curves[point] = {
            name: calibrate_threshold(
                linker, {name: threshold_sets(data)}, depth=depth, thresholds=thresholds
            )["curve"]
            for name, data in sets.items()
        }
    default_threshold = float(sm.settings.link_min_score)
    threshold_rows = []
    for d in directions:
        for which in ("defaults", f"chosen on {d['tune']}"):
            point = linkers[which]
            threshold_rows.append(
                {
                    "linker": which,
                    "options": point.label(),
                    **threshold_transfer(curves[point], d["tune"], d["report"], default_threshold),
                }
            )
    threshold_seconds = time.perf_counter() - started

    return {
        "task": "cross_set",
        "metric": metric,
        "grid": {name: sorted({getattr(p, name) for p in points}) for name in OPTIONS},
        "points": len(points),
        "defaults": defaults.options(),
        "default_threshold": default_threshold,
        "sets": {
            name: {
                "queries": len(data),
                "no_gold": len(data.no_gold),
                "grid": [{"point": p.label(), **p.options(), **scores[name][p]} for p in scored],
            }
            for name, data in sets.items()
        },
        "directions": directions,
        "thresholds": threshold_rows,
        "seconds": {
            "grid": round(grid_seconds, 1),
            "per_point": round(grid_seconds / len(scored), 2),
            "thresholds": round(threshold_seconds, 1),
            "total": round(time.perf_counter() - start, 1),
        },
    }


# --- printing --------------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:+.3f}" if value < 0 else f"{value:.3f}"
    return str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = [list(header), *([_cell(v) for v in row] for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def _gain(value: float) -> str:
    return f"{value:+.3f}"


def format_cross_set(result: Mapping[str, Any]) -> str:
    """Text tables of :func:`evaluate_cross_set`: the directions, the per-option checks and the threshold."""
    metric = str(result["metric"])
    parts = [f"options chosen on one set by {metric}, reported on the other ({result['points']} grid points)"]
    figures = []
    for d in result["directions"]:
        arrow = f"{d['tune']} -> {d['report']}"
        rows = [
            ("chosen on " + d["tune"], d["tuned"], f"{d['tune']} (tuned on it)"),
            ("chosen on " + d["tune"], d["held_out"], f"{d['report']} (held out)"),
            (f"oracle: best on {d['report']}", d["oracle"], f"{d['report']} (tuned on it)"),
        ]
        if "defaults" in d:
            rows.append(("defaults", d["defaults"], f"{d['report']} (defaults, tuned on both)"))
        if "plain" in d:
            rows.append(("plain", d["plain"], d["report"]))
        figures += [(arrow, what, f["point"], on, *(f[m] for m in METRICS)) for what, f, on in rows]
    parts.append(_table(["direction", "linker", "options", "measured on", *METRICS], figures))
    checks = [
        (
            f"{d['tune']} -> {d['report']}",
            row["option"],
            row["on"],
            row["chosen_on_tuning_set"],
            _gain(row["tuned_gain"]),
            _gain(row["held_out_gain"]),
            row["helps_held_out"],
        )
        for d in result["directions"]
        for row in d["options"]
    ]
    parts.append(
        _table(
            [
                "direction",
                "option",
                "on",
                "chosen on A",
                f"{metric} gain on A",
                f"{metric} gain on B",
                "helps B",
            ],
            checks,
        )
    )
    thresholds = []
    for row in result["thresholds"]:
        arrow = f"{row['tune']} -> {row['report']}"
        for what, r in (
            (f"best on {row['tune']} (tuned)", row["tuned"]),
            (f"{row['tune']}'s threshold on {row['report']} (held out)", row["held_out"]),
            (f"best on {row['report']} (oracle)", row["oracle"]),
            (f"default on {row['report']}", row["default"]),
        ):
            thresholds.append(
                (arrow, row["linker"], what, f"{r['threshold']:.2f}", r["precision"], r["recall"], r["f1"])
            )
    parts.append(_table(["direction", "linker", "threshold", "t", "precision", "recall", "f1"], thresholds))
    seconds = result["seconds"]
    parts.append(
        f"grid {seconds['grid']} s ({seconds['per_point']} s per point), thresholds {seconds['thresholds']} s, "
        f"total {seconds['total']} s"
    )
    return "\n\n".join(parts)
