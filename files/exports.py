"""What goes into a user's data export, section by section.

files builds the ZIP (it owns storage and the export record) but sits below most of the data, so the
apps above register a *section* here in their AppConfig.ready: a function that, given the user,
yields (path inside the ZIP, text or bytes). Every section answers for one user only: what that user
wrote, uploaded, or (as the client) had delivered to them; other people's words are not theirs to export.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet

from accounts.models import User

from .models import FileAsset, FileCategory

Entry = tuple[str, str | bytes]
Section = Callable[[User], Iterable[Entry]]

_sections: dict[str, Section] = {}


def register(name: str, section: Section) -> None:
    """Add (or, on a second ready(), replace) a section; its entries go under `name/` in the ZIP."""
    _sections[name] = section


def sections() -> dict[str, Section]:
    return {"account": account_section, **_sections}


def as_json(data: Any) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


def exportable_files(user: User) -> QuerySet[FileAsset]:
    """The live, clean files of a user's export: what they uploaded, and what was delivered to them
    as a client. Earlier exports are not exported again."""
    return (
        FileAsset.objects.clean()
        .filter(Q(owner=user) | Q(deliveries__order__client=user))
        .exclude(category=FileCategory.DATA_EXPORT)
        .distinct()
        .order_by("created_at", "id")
    )


def file_path(asset: FileAsset) -> str:
    """Where a file sits in the ZIP: its id keeps two files of one name apart."""
    name = asset.original_name.replace("/", "_").replace("\\", "_") or "file"
    return f"files/{asset.pk}-{name}"


def account_section(user: User) -> Iterable[Entry]:
    """The profile, and the list of the files (their bytes are added by the builder, from storage)."""
    yield (
        "profile.json",
        as_json(
            {
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "phone": user.phone,
                "role": user.role,
                "account_status": user.account_status,
                "date_joined": user.date_joined,
                "last_login": user.last_login,
            }
        ),
    )
    rows = [
        {
            "id": asset.pk,
            "name": asset.original_name,
            "path_in_export": file_path(asset),
            "category": asset.category,
            "content_type": asset.content_type,
            "size": asset.size,
            "sha256": asset.sha256,
            "uploaded_by_you": asset.owner_id == user.pk,
            "created_at": asset.created_at,
        }
        for asset in exportable_files(user)
    ]
    yield "files.json", as_json(rows)
