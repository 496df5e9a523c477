"""The job-match report of every version of an order's documents (read only, computed per view)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from . import matching
from .extraction import block_text
from .models import JobDescription
from .services import Version


@dataclass
class JobResult:
    job: JobDescription
    terms: list[matching.Term]
    score: int | None
    change: int | None = None

    def of(self, status: str) -> list[str]:
        return [term.text for term in self.terms if term.status == status]


@dataclass
class VersionReport:
    version: Version
    checks: list[matching.Check] = field(default_factory=list)
    readability: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    jobs: list[JobResult] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return bool(self.version.extraction and self.version.extraction.ok)


def build(all_versions: list[Version], jobs: list[JobDescription], today: date) -> list[VersionReport]:
    """One report per version, oldest first; each job's score change is against the version before."""
    terms = {job.pk: matching.key_terms(job.text) for job in jobs}
    reports: list[VersionReport] = []
    previous: dict[int, int | None] = {}
    for version in all_versions:
        extraction = version.extraction
        report = VersionReport(version)
        reports.append(report)
        if extraction is None:
            continue
        report.warnings = matching.ats_warnings(extraction.flags, extraction.failure_code)
        if not extraction.ok:
            continue
        report.checks = matching.section_checks(
            extraction.blocks, extraction.page_count, extraction.pages_estimated, today
        )
        report.readability = matching.readability(extraction.blocks)
        text = "\n".join(block_text(block) for block in extraction.blocks)
        for job in jobs:
            matched = matching.match_terms(terms[job.pk], text)
            score = matching.coverage(matched)
            before = previous.get(job.pk)
            change = score - before if score is not None and before is not None else None
            report.jobs.append(JobResult(job, matched, score, change))
            previous[job.pk] = score
    return reports
