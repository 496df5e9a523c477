"""Which cached pages (core.pages) show files: the owner's; the apps that attach files to orders and
threads follow FileAsset too and name their parties (orders.pages, messaging.pages)."""

from core.pages import Everyone, follow

from .models import Avatar, DataExport, FileAsset


def _everyone(*args, **kwargs):
    raise Everyone  # a photo shows wherever its user's name does


def connect() -> None:
    follow(FileAsset, lambda asset, **_: (asset.owner_id,))
    follow(Avatar, _everyone)
    follow(DataExport, lambda export, **_: (export.user_id,))
