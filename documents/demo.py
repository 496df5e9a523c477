"""Demo data for documents (called by adminpanel's seed_demo): a CV order with the client's original,
three deliveries, comments that became revision checklists, and a target job for the report.

Everything goes through the real services: uploads are stored and scanned, the text is extracted
after each scan. Comments need that text, so this runs outside seed_demo's transaction, where (with
eager Celery, the embedded default) each scan and extraction has finished when store_upload returns.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from files import services as file_services
from orders import services as order_services
from orders.models import Order
from requests_app import services as request_services

from . import services

TITLE = "CV for senior project manager roles"
JOB = (
    "Senior Project Manager. We are looking for a Senior Project Manager to lead delivery of our platform "
    "releases. You will lead a team of engineers, manage budgets and stakeholder communication, and run Agile "
    "delivery with Jira. Budget management and risk management are key. PMP or PRINCE2 certification preferred. "
    "Stakeholder communication with senior leaders is a daily part of the role."
)
_HEAD = ["# Chloe Client", "chloe@elite.example · +44 20 7946 0123"]
VERSIONS = [
    _HEAD
    + ["# Experience", "Project Manager, Northwind Ltd, 2019 – 2024", "- Managed a team of engineers",
       "- Ran weekly planning meetings", "Coordinator, Contoso plc, 2015 – 2019", "- Wrote reports for the board",
       "# Skills", "Excel, communication, scheduling"],
    _HEAD
    + ["# Summary", "Project manager with nine years of delivery in software and logistics.",
       "# Experience", "Project Manager, Northwind Ltd, 2019 – 2024",
       "- Led a team of 8 engineers to ship 14 platform releases on time",
       "- Ran weekly Agile planning with Jira for three product teams",
       "Coordinator, Contoso plc, 2015 – 2019", "- Wrote monthly reports for the board",
       "# Skills", "Agile, Jira, stakeholder communication, scheduling, Excel"],
    _HEAD
    + ["# Summary", "Project manager with nine years of delivery in software and logistics; PRINCE2 certified.",
       "# Experience", "Project Manager, Northwind Ltd, 2019 – 2024",
       "- Led a team of 8 engineers to ship 14 platform releases on time",
       "- Ran weekly Agile planning with Jira for three product teams, cutting planning time by 30%",
       "- Managed a £1.2m budget and the risk register with senior stakeholders",
       "Coordinator, Contoso plc, 2015 – 2019", "- Wrote monthly reports for the board",
       "# Skills", "Agile, Jira, budget management, risk management, stakeholder communication, PRINCE2"],
]  # fmt: skip
COMMENTS = [
    # (version, passage, the client's comment)
    (1, "Managed a team of engineers", "How many people, and what did the team deliver?"),
    (1, "Ran weekly planning meetings", "Could this show a result?"),
    (2, "Ran weekly Agile planning with Jira for three product teams", "Great — can we add a number here?"),
]


def add_lines(document, lines: list[str]) -> None:
    """Write lines into a python-docx document: '# ' lines are headings, '- ' bullets, others paragraphs."""
    for line in lines:
        if line.startswith("# "):
            document.add_heading(line[2:], level=1)
        elif line.startswith("- "):
            document.add_paragraph(line[2:], style="List Bullet")
        else:
            document.add_paragraph(line)


def docx_file(lines: list[str], name: str) -> SimpleUploadedFile:
    import docx

    document = docx.Document()
    add_lines(document, lines)
    out = io.BytesIO()
    document.save(out)
    return SimpleUploadedFile(name, out.getvalue())


def seed_order(client, coach, *, pay: Callable[[Order], object]) -> Order | None:
    """The demo CV order, once. Returns None when it exists already."""
    if Order.objects.filter(client=client, title=TITLE).exists():
        return None
    original = file_services.store_upload(docx_file(VERSIONS[0], "chloe-cv.docx"), actor=client, category="cv_upload")
    service_request = request_services.create_request(
        actor=client,
        coach_profile=coach.coach_profile,
        service_type="cv",
        title=TITLE,
        requirements="Please aim it at senior project manager roles; the target job is on the order.",
        deadline=timezone.localdate() + timedelta(days=30),
        attachments=[original],
    )
    order = order_services.accept_request(service_request.pk, actor=coach)
    pay(order)
    order.refresh_from_db()
    services.add_job_description(order, actor=client, title="Senior Project Manager", text=JOB)
    for number, lines in enumerate(VERSIONS, start=1):
        if order.status != "in_progress":  # no text to comment on, so no revision was requested
            break
        upload = docx_file(lines, f"chloe-cv-v{number}.docx")
        delivered = file_services.store_upload(upload, actor=coach, category="delivery")
        order = order_services.deliver(order.pk, actor=coach, note=f"Version {number} of your CV.", files=[delivered])
        order = _comment_and_revise(order, client, coach, number)
    return order


def _comment_and_revise(order: Order, client, coach, number: int) -> Order:
    version = services.versions(order)[-1]
    if not (version.extraction and version.extraction.ok):
        return order  # the scan or extraction runs in a worker: no text to comment on yet
    for on_version, passage, body in COMMENTS:
        if on_version != number:
            continue
        block = next(i for i, b in enumerate(version.extraction.blocks) if passage in b.get("text", ""))
        comment = services.add_comment(order, actor=client, version=version, block=block, quote=passage, body=body)
        services.reply(comment, actor=coach, body="Good point — I'll work it into the next version.")
    if number < len(VERSIONS) and order.revisions_left:
        return services.request_revision_from_comments(order, actor=client)
    return order
