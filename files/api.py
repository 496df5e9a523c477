"""files on the REST API: upload (same content checks and scanning), one file with a signed link, delete."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import path
from django_ratelimit.core import is_ratelimited
from drf_spectacular.utils import OpenApiExample, OpenApiRequest, extend_schema
from rest_framework import exceptions, parsers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import examples
from core.exceptions import RateLimited

from . import downloads, services
from .models import FileAsset, FileCategory, ScanStatus
from .views import UPLOAD_RATE

# The profile photo has its own page flow (it replaces the previous one); the API uploads documents.
API_UPLOAD_CATEGORIES = [FileCategory.CV_UPLOAD, FileCategory.DELIVERY, FileCategory.MESSAGE_ATTACHMENT]


@examples(
    {
        "Scanned clean": {
            "id": 1190,
            "name": "my-cv-2026.pdf",
            "size": 184320,
            "content_type": "application/pdf",
            "category": "cv_upload",
            "scan_status": "clean",
            "download_url": "https://files.example.org/f/1190?sig=Zm9vYmFy&exp=1764580500",
            "expires_in": 300,
            "created_at": "2026-11-29T08:55:00Z",
        },
        "Still being scanned": {
            "id": 1191,
            "name": "cover-letter.docx",
            "size": 40960,
            "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "category": "cv_upload",
            "scan_status": "pending",
            "download_url": None,
            "expires_in": 300,
            "created_at": "2026-11-29T08:56:00Z",
        },
    }
)
class FileSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    download_url = serializers.SerializerMethodField(help_text="Short-lived signed link; null until scanned clean.")
    expires_in = serializers.SerializerMethodField(help_text="Seconds the link is valid.")

    class Meta:
        model = FileAsset
        fields = [
            "id",
            "name",
            "size",
            "content_type",
            "category",
            "scan_status",
            "download_url",
            "expires_in",
            "created_at",
        ]

    def get_download_url(self, asset: FileAsset) -> str | None:
        return downloads.signed_url(asset) if asset.scan_status == ScanStatus.CLEAN else None

    def get_expires_in(self, asset: FileAsset) -> int:
        return settings.FILE_URL_TTL_SECONDS


class Upload(APIView):
    parser_classes = (parsers.MultiPartParser,)

    @extend_schema(
        summary="Upload a PDF or DOCX (checked by content, then scanned for viruses)",
        request=OpenApiRequest(
            {  # multipart/form-data, the one parser of this view
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "category": {"type": "string", "enum": [str(c) for c in API_UPLOAD_CATEGORIES]},
                },
                "required": ["file"],
            },
            examples=[OpenApiExample("A CV", value={"file": "(the PDF's bytes)", "category": "cv_upload"})],
        ),
        responses={201: FileSerializer},
    )
    def post(self, request):
        category = request.data.get("category") or FileCategory.CV_UPLOAD
        if category not in API_UPLOAD_CATEGORIES:
            raise exceptions.ValidationError({"category": ["Unknown upload category."]})
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise exceptions.ValidationError({"file": ["Choose a file to upload."]})
        if is_ratelimited(request._request, group="files.upload", key="user", rate=UPLOAD_RATE, increment=True):
            raise RateLimited("Too many uploads. Please wait a while and try again.")
        asset = services.store_upload(uploaded, actor=request.user, category=category)
        return Response(FileSerializer(asset).data, status=status.HTTP_201_CREATED)


class FileDetail(APIView):
    @extend_schema(
        summary="A file I may read, with a signed download link once it is clean", responses={200: FileSerializer}
    )
    def get(self, request, pk: int):
        asset = get_object_or_404(FileAsset.objects.visible_to(request.user), pk=pk)
        return Response(FileSerializer(asset).data, headers={"Cache-Control": "private, no-store"})

    @extend_schema(summary="Delete one of my uploads (delivered files are kept)", responses={204: None})
    def delete(self, request, pk: int):
        asset = get_object_or_404(FileAsset.objects.live().filter(owner=request.user), pk=pk)
        services.delete_upload(asset, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("files/upload", Upload.as_view(), name="files-upload"),
    path("files/<int:pk>", FileDetail.as_view(), name="file"),
]
