from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = "Documents"

    def ready(self):
        # files sits below us: it announces a clean scan, and we read the file's text then.
        from files.signals import file_scanned_clean

        from .receivers import extract_scanned_file

        file_scanned_clean.connect(extract_scanned_file, dispatch_uid="documents.extract_scanned_file")
