"""Fixtures of the files app: an isolated media folder, a real clamd, a real S3-compatible server."""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import port_open, require_service

CLAMD = "/usr/sbin/clamd"
EICAR_SIGNATURE = "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR.Custom\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test stores into its own folder, with the local storage backend."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.FILE_STORAGE_KIND = "local"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    settings.CLAMD_URL = ""
    settings.FILE_SCAN_NOOP_ALLOWED = True
    return tmp_path / "media"


PROJECT_CLAMD_CONF = Path(__file__).resolve().parents[2] / "deploy" / "clamd.conf"


def clamd_config(folder: Path, port: int, **overrides: str) -> str:
    """The project's committed clamd settings (deploy/clamd.conf) with this run's site lines; `overrides`
    replace single options (e.g. small limits) so the fault tests run the production config, not a copy."""
    options: dict[str, str] = {}
    for line in PROJECT_CLAMD_CONF.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            options[key] = value.strip()
    options.update(
        Foreground="yes",
        DatabaseDirectory=str(folder),
        TCPSocket=str(port),
        TCPAddr="127.0.0.1",
        LocalSocket=str(folder / "clamd.sock"),
        PidFile=str(folder / "clamd.pid"),
    )
    options.update(overrides)
    return "".join(f"{key} {value}\n" for key, value in options.items())


def start_clamd(folder: Path, **overrides: str):
    """A real clamd in the foreground on a free loopback port, knowing only the EICAR signature."""
    require_service("clamd", os.path.exists(CLAMD) and os.access(CLAMD, os.X_OK), "apt-get install clamav-daemon")
    (folder / "eicar.hdb").write_text(EICAR_SIGNATURE)
    port = free_port()
    config = folder / "clamd.conf"
    config.write_text(clamd_config(folder, port, **overrides))
    log = open(folder / "clamd.log", "wb")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen([CLAMD, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    from files.scanner import ClamdScanner

    scanner = ClamdScanner(f"tcp://127.0.0.1:{port}", 5)
    deadline = time.monotonic() + 30
    while not scanner.ping():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log.close()
            output = (folder / "clamd.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"clamd did not start:\n{output}")
        time.sleep(0.1)
    yield {"tcp": f"tcp://127.0.0.1:{port}", "unix": f"unix://{folder / 'clamd.sock'}", "port": port}
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def clamd_server(tmp_path_factory):
    """clamd with the project's settings (deploy/clamd.conf)."""
    yield from start_clamd(tmp_path_factory.mktemp("clamd"))


@pytest.fixture(scope="session")
def clamd_small_limits(tmp_path_factory):
    """The project's clamd with 1 MB scan limits, so a test can push a file past them cheaply."""
    yield from start_clamd(tmp_path_factory.mktemp("clamd-small"), MaxFileSize="1M", MaxScanSize="1M")


@pytest.fixture
def clamd(settings, clamd_server):
    settings.CLAMD_URL = clamd_server["tcp"]
    settings.FILE_SCAN_NOOP_ALLOWED = False
    return clamd_server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto in server mode, in its own process on a free loopback port: a real HTTP S3 API, no mocks
    in boto3 (and its memory is not counted in ours)."""
    import importlib.util
    import sys

    require_service("moto S3 server", importlib.util.find_spec("moto.server") is not None, "pip install 'moto[server]'")
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log.close()
            pytest.fail("moto_server did not start")
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture
def s3(settings, s3_server):
    """Switch the default storage to S3 (django-storages) against the loopback server, fresh bucket."""
    import uuid

    import boto3
    from boto3.s3.transfer import TransferConfig

    bucket = f"ews-test-{uuid.uuid4().hex[:12]}"
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **credentials)
    client.create_bucket(Bucket=bucket)
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_S3_ENDPOINT_URL = s3_server
    settings.AWS_ACCESS_KEY_ID = credentials["aws_access_key_id"]
    settings.AWS_SECRET_ACCESS_KEY = credentials["aws_secret_access_key"]
    settings.AWS_DEFAULT_ACL = "private"
    settings.AWS_QUERYSTRING_AUTH = True
    settings.AWS_S3_FILE_OVERWRITE = False
    settings.AWS_S3_SIGNATURE_VERSION = "s3v4"
    settings.AWS_S3_MAX_MEMORY_SIZE = 1024 * 1024
    settings.AWS_S3_TRANSFER_CONFIG = TransferConfig(multipart_threshold=256 * 1024 * 1024, max_io_queue=8)
    settings.FILE_STORAGE_KIND = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    yield {"client": client, "bucket": bucket, "endpoint": s3_server}
