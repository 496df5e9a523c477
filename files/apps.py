from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "files"
    verbose_name = "Files"

    def ready(self) -> None:
        from . import pages

        pages.connect()  # which cached pages show files (core.pages)
