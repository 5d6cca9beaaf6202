"""Choose the near-duplicate cosine threshold from STS-B sentence pairs; prints a Markdown table.

Pairs scored >= 4 count as "same fact", <= 2 as "different"; the rest are ignored. Both sentences
of each pair are embedded with the configured model (REMEMBRANCER_EMBEDDING_MODEL, default the
bundled all-MiniLM-L6-v2 int8). For each threshold from 0.70 to 0.99 we report precision and
recall of "same fact" (cosine >= threshold) and pick the lowest threshold whose precision is at
least the target: a false merge loses a fact, a missed merge only costs space. The data stays
in ../shared/data (not copied into the project). See --help.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from remembrancer.comparison import compare
from remembrancer.config import load_settings
from remembrancer.embeddings import FastEmbedder

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/stsbenchmark/sts-dev.csv"
THRESHOLDS = [k / 100 for k in range(60, 100)]


@dataclass(frozen=True)
class Row:
    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0


def read_pairs(path: Path, same_min: float, diff_max: float) -> list[tuple[str, str, bool]]:
    """(sentence 1, sentence 2, is-same) for the clearly scored pairs; tabs split by hand (no quoting)."""
    pairs: list[tuple[str, str, bool]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) < 7:
            continue
        score = float(fields[4])
        if score >= same_min:
            pairs.append((fields[5], fields[6], True))
        elif score <= diff_max:
            pairs.append((fields[5], fields[6], False))
    return pairs


def cosines(embedder: FastEmbedder, pairs: list[tuple[str, str, bool]]) -> list[float]:
    """Dot products of the (unit) vectors; each distinct sentence embedded once, in batches."""
    texts = sorted({text for a, b, _ in pairs for text in (a, b)})
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))
    return [sum(x * y for x, y in zip(vectors[a], vectors[b], strict=True)) for a, b, _ in pairs]


def sweep(sims: list[float], labels: list[bool], allowed: list[bool]) -> list[Row]:
    """Precision and recall of folding at each threshold; ``allowed`` is the local judge's reading
    (a pair whose texts hold different values, stance or subjects never folds)."""
    rows = []
    for t in THRESHOLDS:
        folds = [s >= t and ok for s, ok in zip(sims, allowed, strict=True)]
        tp = sum(1 for fold, y in zip(folds, labels, strict=True) if fold and y)
        fp = sum(1 for fold, y in zip(folds, labels, strict=True) if fold and not y)
        positives = sum(labels)
        rows.append(Row(t, tp, fp, positives - tp, len(labels) - positives - fp))
    return rows


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="STS-B csv (default: %(default)s)")
    parser.add_argument("--same-min", type=float, default=4.0, help="score >= this: same fact")
    parser.add_argument("--diff-max", type=float, default=2.0, help="score <= this: different")
    parser.add_argument("--min-precision", type=float, default=0.95, help="target precision")
    parser.add_argument("--all-rows", action="store_true", help="print every threshold, not every 0.02")
    parser.add_argument(
        "--cosine-only",
        dest="reading",
        action="store_false",
        help="fold by cosine alone, without the local judge's reading of the two texts",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    settings = load_settings()
    pairs = read_pairs(args.data, args.same_min, args.diff_max)
    labels = [same for _, _, same in pairs]
    embedder = FastEmbedder(settings.embedding_model)
    embed_start = time.perf_counter()
    sims = cosines(embedder, pairs)
    embed_s = time.perf_counter() - embed_start
    # The second sentence plays the new fact, the first the stored one, as in remember.
    same = [compare(b, a).verdict == "same" for a, b, _ in pairs]
    rows = sweep(sims, labels, same if args.reading else [True] * len(pairs))

    chosen = next((r for r in rows if r.precision is not None and r.precision >= args.min_precision), None)
    print(f"data: {args.data}")
    print(f"model: {embedder.name} (dim {embedder.dim})")
    rule = "cosine >= threshold and the reading says 'same'" if args.reading else "cosine >= threshold alone"
    print(f"folds when: {rule}")
    print(
        f"pairs used: {len(pairs)} = {sum(labels)} positives (score >= {args.same_min:g}) + "
        f"{len(labels) - sum(labels)} negatives (score <= {args.diff_max:g})"
    )
    print()
    print("| threshold | precision | recall | TP | FP | FN | TN |")
    print("|---|---|---|---|---|---|---|")
    current = round(settings.duplicate_threshold * 100)
    for r in rows:
        k = round(r.threshold * 100)
        marks = [m for m, hit in (("chosen", r is chosen), ("current", k == current)) if hit]
        if args.all_rows or k % 2 == 0 or marks:
            label = f"{r.threshold:.2f}" + (f" ({', '.join(marks)})" if marks else "")
            print(f"| {label} | {fmt(r.precision)} | {r.recall:.3f} | {r.tp} | {r.fp} | {r.fn} | {r.tn} |")
    print()
    if chosen is None:
        print(f"no threshold in 0.60-0.99 reaches precision >= {args.min_precision:g}")
    else:
        print(
            f"CHOSEN THRESHOLD: {chosen.threshold:.2f} (lowest with precision >= {args.min_precision:g}): "
            f"precision {fmt(chosen.precision)}, recall {chosen.recall:.3f}"
        )
    print(f"configured duplicate_threshold: {settings.duplicate_threshold:g}")
    total_s = time.perf_counter() - started
    print(f"runtime: {total_s:.1f} s total, {embed_s:.1f} s loading the model and embedding")


if __name__ == "__main__":
    main()
