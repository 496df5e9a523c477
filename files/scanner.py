"""Virus scanning against clamd (clamav-client), or a no-op scanner in the DEBUG-only embedded default.

A scanner answers CLEAN, INFECTED, or raises ScannerUnavailable: a scanner that is down, times
out, or cannot scan a file never makes that file clean.
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlparse

from clamav_client.clamd import ClamdError, ClamdNetworkSocket, ClamdUnixSocket
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


# The virus name clamd reports, with AlertExceedsMax, for a file it stopped reading at a size/count limit.
LIMIT_ALERT = "Heuristics.Limits.Exceeded"


class ScannerUnavailable(Exception):
    """The file could not be scanned (scanner down, timeout, size limit, protocol error)."""


@dataclass(frozen=True)
class Verdict:
    infected: bool
    detail: str = ""


def clamd_client(url: str, timeout: float):
    """tcp://host:port or unix:///path/to/clamd.sock → a clamav-client socket object."""
    parsed = urlparse(url)
    if parsed.scheme == "tcp" and parsed.hostname and parsed.port:
        return ClamdNetworkSocket(host=parsed.hostname, port=parsed.port, timeout=timeout)
    if parsed.scheme == "unix" and parsed.path:
        # clamav-client wants the plain path for a unix socket.
        # clamav-client annotates this timeout as int but documents and passes it to socket.settimeout (float).
        return ClamdUnixSocket(path=parsed.path, timeout=timeout)  # type: ignore[arg-type]
    raise ImproperlyConfigured(f"CLAMD_URL must look like tcp://host:3310 or unix:///path/clamd.sock, not {url!r}")


class ClamdScanner:
    def __init__(self, url: str, timeout: float):
        self.client = clamd_client(url, timeout)

    def ping(self) -> bool:
        try:
            return self.client.ping() == "PONG"
        except (ClamdError, OSError):
            return False

    def scan(self, fileobj) -> Verdict:
        try:
            report = self.client.instream(fileobj)
        except (ClamdError, OSError) as exc:
            raise ScannerUnavailable(f"clamd could not scan the file: {exc}") from exc
        status, detail = report.get("stream", (None, None))
        if status == "OK":
            return Verdict(infected=False)
        if status == "FOUND" and (detail or "").startswith(LIMIT_ALERT):
            # clamd stopped at one of its limits (AlertExceedsMax, deploy/clamd.conf): what it did not read
            # may hide malware, so the file is flagged like an infected one, never clean.
            logger.warning("clamd could not scan a file whole (%s): flagged", detail)
            return Verdict(infected=True, detail=f"{detail} (too large or deep to scan whole)")
        if status == "FOUND":
            return Verdict(infected=True, detail=detail or "malware")
        raise ScannerUnavailable(f"clamd answered {status!r}: {detail!r}")


class NoopScanner:
    """Only for DEBUG without clamd (settings refuse this combination otherwise)."""

    def ping(self) -> bool:
        return True

    def scan(self, fileobj) -> Verdict:
        logger.warning("CLAMD_URL is not set: the file was NOT scanned for viruses (DEBUG-only no-op scanner).")
        return Verdict(infected=False, detail="not scanned (no clamd configured, DEBUG)")


def get_scanner():
    if settings.CLAMD_URL:
        return ClamdScanner(settings.CLAMD_URL, settings.CLAMD_TIMEOUT_SECONDS)
    if not settings.FILE_SCAN_NOOP_ALLOWED:
        raise ImproperlyConfigured("CLAMD_URL is required: uploads cannot be marked clean without a virus scanner.")
    return NoopScanner()
