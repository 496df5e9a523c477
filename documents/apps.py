from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = "Documents"

    def ready(self):
        from . import pages

        pages.connect()  # which cached pages show documents (core.pages)

        # The order page's documents panel shows the order's retention row: read with the order.
        from orders.pages import read_with_order_page

        read_with_order_page(join="document_retention")

        # files sits below us: it announces a clean scan, and we read the file's text then.
        from files.signals import file_scanned_clean

        from .receivers import extract_scanned_file

        file_scanned_clean.connect(extract_scanned_file, dispatch_uid="documents.extract_scanned_file")

        # orders announces a new order (inside its transaction): the request's target job comes along.
        from orders.signals import order_created

        from .receivers import carry_job_onto_order

        order_created.connect(carry_job_onto_order, dispatch_uid="documents.carry_job_onto_order")

        # files builds a user's data export; our section adds the texts, comments and jobs that are theirs.
        from files.exports import register

        from .exports import section

        register("documents", section)
