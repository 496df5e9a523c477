"""Documents benchmark: one command, `.venv/bin/python bench/documents.py`.

Builds a real 3-page PDF CV (about 1,500 words) and a revised copy (one bullet rewritten, a block of
paragraphs moved), then measures on this machine, without a database: extracting one file, the redline
between the two, and the job-match report of the revision against one job description. Times are the
median of RUNS runs; memory is the peak Python allocation (tracemalloc) of one run.
Target (issue 16): a redline and a report of a 3-page CV well under a second and a few MB.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elite.settings")

import django

django.setup()

from documents import extraction, matching, redline  # noqa: E402
from documents.demo import JOB  # noqa: E402
from documents.tests import builders  # noqa: E402

RUNS = int(os.environ.get("DOCUMENTS_BENCH_RUNS", "5"))
_WORDS = "led managed delivered built reduced grew team budget agile jira stakeholder risk platform release"
VOCABULARY = _WORDS.split() + ["customer", "revenue", "engineers", "product", "roadmap", "hiring"]
LIMITS = extraction.Limits(max_pages=40, max_chars=200_000, seconds=20, max_unzipped_bytes=10**8)


def _page(seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        f"# SECTION {seed}-{line}"
        if line % 12 == 0
        else "• " + " ".join(rng.choice(VOCABULARY) for _ in range(12)) + f" by {rng.randint(1, 99)}%"
        for line in range(40)
    ]


def _cvs() -> tuple[bytes, bytes]:
    pages = [_page(seed) for seed in (1, 2, 3)]
    revised = [list(page) for page in pages]
    revised[1][5] = "• completely rewritten bullet about hiring 12 engineers"
    revised[2] = revised[2][5:] + revised[2][:5]
    layout = {"top": 760, "step": 18}
    return (
        builders.pdf_bytes([builders.lines_for(page, **layout) for page in pages]),
        builders.pdf_bytes([builders.lines_for(page, **layout) for page in revised]),
    )


def _measure(work) -> tuple[float, float]:
    """(median milliseconds over RUNS runs, peak KiB of one traced run)."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    work()
    peak = tracemalloc.get_traced_memory()[1] / 1024
    tracemalloc.stop()
    return statistics.median(times), peak


def main() -> None:
    old_pdf, new_pdf = _cvs()
    old = extraction.extract(old_pdf, extraction.PDF, LIMITS)
    new = extraction.extract(new_pdf, extraction.PDF, LIMITS)
    terms = matching.key_terms(JOB)

    def report() -> None:
        matching.coverage(matching.match_terms(terms, new.text))
        matching.section_checks(new.blocks, new.page_count, False, date.today())
        matching.readability(new.blocks)
        matching.ats_warnings(new.flags)

    rows = [
        ("extract one 3-page PDF", _measure(lambda: extraction.extract(new_pdf, extraction.PDF, LIMITS))),
        ("redline v1 → v2", _measure(lambda: redline.compare(old.blocks, new.blocks))),
        ("job-match report (1 job)", _measure(report)),
    ]
    _rows, summary = redline.compare(old.blocks, new.blocks)
    print(f"3-page CV: {new.page_count} pages, {redline.count_words(new.text)} words; {redline.summary_line(summary)}")
    print(f"{'step':<28} {'median ms':>10} {'peak KiB':>10}")
    for name, (ms, kib) in rows:
        print(f"{name:<28} {ms:>10.1f} {kib:>10.0f}")


if __name__ == "__main__":
    main()
