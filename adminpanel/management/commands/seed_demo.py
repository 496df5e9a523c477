"""Idempotent demo data: run it as often as you like, it converges on the same accounts.

Accounts and coach profiles are brought to the same state on every run. The marketplace history
(requests, orders in every state, reviews) is made once, through the real services — the same
calls the web pages make — and then spread over the past weeks so the timelines look lived in.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F, Max, Model
from django.utils import timezone

from accounts.models import Role, User
from coaches import services as coaches
from coaches.models import CoachProfile, ExchangeRate, Language
from documents import demo as documents_demo
from notifications.models import Notification
from notifications.tasks import send_notification_email
from orders import services as orders
from orders.models import Delivery, Order, OrderEvent, Review
from payments import services as payments
from payments.models import LedgerEntry, Payment
from requests_app import services as requests
from requests_app.models import ServiceRequest

DEMO_PASSWORD = "demo-pass-2026"
DEMO_ACCOUNTS = [
    ("staff@elite.example", Role.ADMIN, "Sam", "Whitaker"),
    ("client@elite.example", Role.CLIENT, "Chloe", "Adams"),
    ("client2@elite.example", Role.CLIENT, "Daniel", "Okafor"),
    ("coach@elite.example", Role.COACH, "Grace", "Holloway"),
]
EXTRA_CLIENTS = [
    ("Amira", "Haddad"),
    ("Tom", "Fletcher"),
    ("Sofia", "Rossi"),
    ("Kwame", "Mensah"),
    ("Hannah", "Schmidt"),
    ("Raj", "Patel"),
    ("Emily", "Walsh"),
    ("Lucas", "Moreau"),
]
COACH_NAMES = [
    ("Olivia", "Bennett"), ("James", "Carter"), ("Priya", "Sharma"), ("Mateo", "García"), ("Aisha", "Bello"),
    ("William", "Hughes"), ("Chen", "Wei"), ("Fatima", "Khan"), ("Liam", "O'Connor"), ("Elena", "Petrova"),
    ("Noah", "Fischer"), ("Zara", "Ahmed"), ("Samuel", "Okoye"), ("Isabelle", "Laurent"), ("Ethan", "Brooks"),
    ("Yuki", "Tanaka"), ("Grace", "Mwangi"), ("Daniel", "Novak"), ("Leila", "Rahimi"), ("Oscar", "Lindqvist"),
    ("Maya", "Cohen"), ("Ben", "Adeyemi"), ("Chloe", "Martin"), ("Arjun", "Mehta"), ("Sara", "Johansson"),
    ("Tomás", "Silva"), ("Nadia", "Kowalski"), ("Harry", "Evans"), ("Ines", "Fernandes"), ("Kofi", "Asante"),
]  # fmt: skip
SPECIALITIES = [
    ("software engineering", "tech"), ("finance and banking", "finance"), ("healthcare and nursing", "NHS"),
    ("marketing and brand", "marketing"), ("graduate and early-career", "graduate"), ("executive leadership", "C-suite"),
    ("education and teaching", "education"), ("law and compliance", "legal"), ("engineering and manufacturing", "engineering"),
    ("career change", "career-change"), ("public sector and charities", "public sector"), ("sales and business development", "sales"),
]  # fmt: skip
PRICE_RANGES = {"cv": (60, 240), "cover_letter": (30, 110), "linkedin": (50, 180), "bundle": (150, 450)}
REVIEW_COMMENTS = {
    5: [
        "Outstanding. My CV finally tells a clear story, and I had three interviews within two weeks.",
        "Quick, thoughtful and honest feedback. The LinkedIn rewrite brought recruiters to me.",
        "Worth every penny: the cover letter was tailored to the role and sounded like me.",
        "Asked great questions up front and delivered ahead of the deadline. Landed the job!",
        "I had been sending the same CV for months with no replies. The new one got a call back in four days.",
        "Turned ten years of messy contract work into two tidy pages. I finally know how to explain my career.",
        "The achievement bullets with real numbers made all the difference at my panel interview.",
        "Patient with my many questions and clear about why each change mattered. Highly recommended.",
        "My LinkedIn headline now says what I do in one line, and I get messages from the right recruiters.",
        "Rewrote my cover letter for a charity role overnight when I found the posting late. Lifesaver.",
        "Understood the NHS banding and the person specification better than I did. Shortlisted first time.",
        "Helped me move from teaching into learning design without hiding my classroom years. Brilliant.",
    ],
    4: [
        "Very good work and easy to talk to. One revision round to get the tone right.",
        "Clear structure and strong achievement bullets. Delivery took the full time.",
        "Helpful and professional; the summary section is much stronger now.",
        "Great rewrite of my experience section; I tweaked the wording of the skills list myself.",
        "Good advice on keywords for applicant tracking systems. A little slow to reply at weekends.",
        "The cover letter template is one I can reuse; I would have liked one more example phrase.",
    ],
    3: [
        "Solid job, though I expected more industry-specific wording.",
        "Fine overall, needed two revisions.",
        "Decent layout, but the profile summary still felt a bit generic to me.",
    ],
    2: ["The result felt generic; communication was slow.", "Missed the brief on the first draft and ran late."],
}
REPLIES = [
    "Thank you, it was a pleasure working with you. Good luck in the new role!",
    "Thanks for the kind words, and congratulations on the interviews.",
    "Thank you for the feedback; I have taken it on board.",
]
TITLES = {
    "cv": ["CV for a senior analyst role", "Rewrite my CV for a career change", "Graduate CV for banking applications"],
    "cover_letter": ["Cover letter for a product manager role", "Cover letter for NHS band 6 posts"],
    "linkedin": ["LinkedIn profile refresh", "LinkedIn headline and summary for job search"],
    "bundle": ["Full job-search bundle", "CV, cover letter and LinkedIn for a move into tech"],
}


# Units per 1 GBP (the base currency), roughly late 2026; staff change them in the console.
DEMO_EXCHANGE_RATES = (("EUR", Decimal("1.17")), ("USD", Decimal("1.27")))


def _pay(order, staff) -> None:
    """Pay through the built-in test provider, so charges, fees and coach earnings are real rows."""
    if "test" not in payments.available_providers():  # DEBUG off: the test provider never runs
        orders.mark_paid(order.pk, actor=staff, note="Paid (demo data).")
        return
    payment = payments.start_test_checkout(order.pk, actor=order.client)
    payments.fulfil_payment(
        payment.pk, amount_minor=payment.amount_minor, currency=payment.currency, source="demo data"
    )


@contextmanager
def _quiet_demo_emails():
    """The demo people are fictional (@elite.example): their notifications stay in the app.

    Rendering and "sending" ~600 notification emails would triple the seed time for mail nobody
    reads, and on a real broker would queue them for the workers. The in-app rows are still written.
    """
    task = send_notification_email
    original = task.delay
    task.delay = lambda *args, **kwargs: None
    trace_logger = logging.getLogger("celery.app.trace")
    level = trace_logger.level
    trace_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        task.delay = original
        trace_logger.setLevel(level)


class Command(BaseCommand):
    help = "Create (or refresh) the demo marketplace: staff, clients, 30 coaches, orders in every state."

    def handle(self, *args, **options):
        started = time.monotonic()
        with _quiet_demo_emails(), transaction.atomic():
            summary = self._seed()
        with _quiet_demo_emails():
            # After the commit: the uploads' scans and text extraction run on commit (eager in dev).
            users = {user.email: user for user in User.objects.filter(email__in=[a[0] for a in DEMO_ACCOUNTS])}
            documents_order = documents_demo.seed_order(
                users["client@elite.example"],
                users["coach@elite.example"],
                pay=lambda order: _pay(order, users["staff@elite.example"]),
            )
        if documents_order is not None:
            summary += f"; a CV order with {documents_order.deliveries.count()} versions, comments and a job report"
        self.stdout.write(f"{summary} ({time.monotonic() - started:.1f} s)")
        self.stdout.write(self.style.SUCCESS(f"Demo accounts (password for all: {DEMO_PASSWORD}):"))
        for email, role, _first, _last in DEMO_ACCOUNTS:
            self.stdout.write(f"  {role:<7} {email}")
        self.stdout.write("  client  client3@elite.example … client10@elite.example")
        self.stdout.write("  coach   coach01@elite.example … coach30@elite.example")

    # --- accounts and profiles (converge on every run) ------------------------------------

    def _seed(self) -> str:
        rng = random.Random(2026)  # same data on every machine and every run
        hashed = make_password(DEMO_PASSWORD)  # hash once: 40 users × PBKDF2 would take seconds
        users = {email: self._user(email, role, first, last, hashed) for email, role, first, last in DEMO_ACCOUNTS}
        staff = users["staff@elite.example"]
        for currency, units in DEMO_EXCHANGE_RATES:  # what the directory converts € and $ prices with
            if not ExchangeRate.objects.filter(currency=currency).exists():
                coaches.set_exchange_rate(currency, actor=staff, units_per_base=units, as_of=timezone.localdate())
        clients = [users["client@elite.example"], users["client2@elite.example"]]
        for i, (first, last) in enumerate(EXTRA_CLIENTS, start=3):
            clients.append(self._user(f"client{i}@elite.example", Role.CLIENT, first, last, hashed))

        languages = {lang.code: lang for lang in Language.objects.all()}
        coach_users = [users["coach@elite.example"]]
        for i, (first, last) in enumerate(COACH_NAMES, start=1):
            coach_users.append(self._user(f"coach{i:02d}@elite.example", Role.COACH, first, last, hashed))
        for index, user in enumerate(coach_users):
            self._profile(user, index, rng, languages, staff)

        if Order.objects.filter(client__in=clients).exists():
            return "Demo marketplace already present; accounts and profiles refreshed."
        counts = self._history(rng, staff, clients, coach_users)
        return "Seeded: " + ", ".join(f"{n} {what}" for what, n in counts.items())

    def _user(self, email, role, first, last, hashed) -> User:
        user, created = User.objects.get_or_create(
            email=email, defaults={"role": role, "first_name": first, "last_name": last, "password": hashed}
        )
        if created:
            user.password = hashed
            user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        return user

    def _profile(self, user, index, rng, languages, staff) -> CoachProfile:
        speciality, tag = SPECIALITIES[index % len(SPECIALITIES)]
        years = rng.randint(2, 25)
        other_languages = rng.sample(
            ["fr", "de", "es", "it", "pt", "pl", "ar", "hi", "zh", "nl", "sv", "ja"], k=rng.randint(0, 2)
        )
        types = ["cv", *rng.sample(["cover_letter", "linkedin", "bundle"], k=rng.randint(0, 3))]
        if index == 0:  # the demo coach offers everything
            types = ["cv", "cover_letter", "linkedin", "bundle"]
        currency = "GBP" if index % 7 != 3 else rng.choice(["EUR", "USD"])
        offers = []
        for service_type in types:
            low, high = PRICE_RANGES[service_type]
            offers.append(
                coaches.ServiceOffer(
                    service_type=service_type,
                    price_minor=rng.randrange(low, high, 5) * 100,
                    currency=currency,
                    delivery_days=rng.choice([2, 3, 4, 5, 7, 10])
                    if service_type != "bundle"
                    else rng.choice([7, 10, 14]),
                    revisions_included=rng.choice([1, 2, 2, 3]),
                )
            )
        profile = coaches.get_or_create_profile(user)
        profile = coaches.update_profile(
            profile,
            actor=user,
            changes={
                "headline": f"{years} years in {speciality}: CVs that get {tag} interviews",
                "bio": (
                    f"I spent {years} years hiring and coaching people in {speciality}, and I know what "
                    "recruiters skim for in the first ten seconds.\n\nWe start with a short call about the "
                    "roles you want, then I rewrite your documents around your real achievements, with "
                    "numbers, plain language and keywords that pass applicant tracking systems."
                ),
                "years_experience": years,
                "is_available": index % 9 != 5,
            },
            languages=[languages[code] for code in ["en", *other_languages] if code in languages],
            portfolio_links=[f"https://portfolio.elite.example/{user.first_name.lower()}-{index}"],
            offers=offers,
        )
        verified = index % 3 != 2
        if profile.is_verified != verified:
            coaches.set_verified(profile, actor=staff, verified=verified)
        return profile

    # --- marketplace history (made once, through the real services) -------------------------

    def _history(self, rng, staff, clients, coach_users) -> dict[str, int]:
        """Orders in every state for the two main demo accounts, completed reviewed work for the rest."""
        history = _History(rng, staff, backdate=self._backdate)
        history.one_order_in_every_state(clients[0], coach_users[0])
        history.waiting_and_closed_requests(clients, coach_users)
        history.past_work(clients, coach_users[1:])
        for profile in CoachProfile.objects.filter(user__in=coach_users):
            coaches.recompute_response_time(profile)
        return history.counts

    def _backdate(self, order: Order, steps: _Steps, *, days: int, answer_hours: float) -> None:
        """Move a finished order's history `days` into the past and spread its steps over hours and
        days, as real work takes (the services ran them milliseconds apart).

        Every row a step wrote (its timeline event, deliveries, payment, ledger, review, the people's
        notifications) moves with that step: `steps` knows each step's rows by primary key, so the
        result is the same however fast the machine ran them. Rows written before the first step
        (accepting the request) move with the order's "created" event. The request is moved a
        further `answer_hours` back so the coach's response time is realistic.
        """
        order = Order.objects.get(pk=order.pk)  # the caller's copy predates the steps
        created = OrderEvent.objects.get(order=order, kind="created")
        offsets = [created.created_at - timedelta(days=days) - created.created_at]
        new_time, previous = created.created_at + offsets[0], created
        OrderEvent.objects.filter(pk=created.pk).update(created_at=new_time)
        for span in steps.spans:
            event = OrderEvent.objects.filter(order=order, pk__in=span.pks(OrderEvent)).order_by("pk").first()
            if event is None:
                offsets.append(offsets[-1])  # a step without a timeline event happens with the one before
                continue
            new_time += _demo_step(previous, event)
            offsets.append(new_time - event.created_at)
            OrderEvent.objects.filter(pk=event.pk).update(created_at=new_time)
            previous = event

        def offset_of(model, pk: int) -> timedelta:
            """The offset of the step that wrote row `pk` of `model` (the "created" one if none did)."""
            return next((offsets[i + 1] for i, span in enumerate(steps.spans) if pk in span.pks(model)), offsets[0])

        assert order.paid_at and order.delivered_at and order.completed_at  # the steps above set them
        Order.objects.filter(pk=order.pk).update(
            created_at=order.created_at + offsets[0],
            paid_at=order.paid_at + offsets[1 + steps.index("pay")],
            delivered_at=order.delivered_at + offsets[1 + steps.index("deliver", last=True)],
            completed_at=order.completed_at + offsets[1 + steps.index("accept")],
            deadline=order.deadline - timedelta(days=days),
        )
        for model, fields in _DEMO_TIMED_ROWS:
            for row in model.objects.filter(order=order):
                shift = offset_of(model, row.pk)
                model.objects.filter(pk=row.pk).update(**{name: getattr(row, name) + shift for name in fields})
        Review.objects.filter(order=order, replied_at__isnull=False).update(
            replied_at=F("created_at") + timedelta(hours=5)
        )
        # What the two people were told about this order, told back then, and read since.
        for note in Notification.objects.filter(link=f"/orders/{order.pk}/"):
            when = note.created_at + offset_of(Notification, note.pk)
            Notification.objects.filter(pk=note.pk).update(created_at=when, read_at=when + timedelta(hours=1))
        ServiceRequest.objects.filter(pk=order.request_id).update(
            created_at=created.created_at + offsets[0] - timedelta(hours=answer_hours),
            decided_at=created.created_at + offsets[0],
            expires_at=F("expires_at") - timedelta(days=days),
            deadline=F("deadline") - timedelta(days=days),
        )


class _History:
    """The demo marketplace's past, made through the real services (the calls the pages make)."""

    def __init__(self, rng: random.Random, staff: User, *, backdate) -> None:
        self.rng, self.staff, self.backdate = rng, staff, backdate
        self.counts = {"requests": 0, "orders": 0, "reviews": 0}
        # Each review comment is used once: the landing shows testimonials, and one sentence under two
        # names reads as fake. When a rating's comments run out, the review is a rating without words.
        self.comments = {rating: rng.sample(texts, len(texts)) for rating, texts in REVIEW_COMMENTS.items()}

    def new_request(self, client, coach, service_type=None, *, title=None) -> ServiceRequest:
        offered = list(coach.coach_profile.services.filter(is_active=True))
        service = next((s for s in offered if s.service_type == service_type), None) or self.rng.choice(offered)
        self.counts["requests"] += 1
        return requests.create_request(
            actor=client,
            coach_profile=coach.coach_profile,
            service_type=service.service_type,
            title=title or self.rng.choice(TITLES[service.service_type]),
            requirements=(
                "I am applying for roles in the next month. I can share my current documents once we "
                "start; please focus on achievements and keep it to two pages."
            ),
            deadline=timezone.localdate() + timedelta(days=service.delivery_days + self.rng.randint(5, 20)),
        )

    def new_order(self, client, coach, service_type=None) -> Order:
        service_request = self.new_request(client, coach, service_type)
        self.counts["orders"] += 1
        return orders.accept_request(service_request.pk, actor=coach)

    def pay(self, order: Order) -> None:
        _pay(order, self.staff)

    def complete(self, order: Order, client, coach, *, rating: int, days_ago: int) -> None:
        """Pay, deliver (sometimes revise), accept and review, then move it all `days_ago` back."""
        steps = _Steps()
        with steps.step("pay"):
            self.pay(order)
        with steps.step("deliver"):
            orders.deliver(order.pk, actor=coach, note="Here is the first draft; tell me what you think.")
        if self.rng.random() < 0.3:
            with steps.step("revision"):
                orders.request_revision(order.pk, actor=client, note="Could you shorten the summary?")
            with steps.step("deliver"):
                orders.deliver(order.pk, actor=coach, note="Revised as discussed.")
        with steps.step("accept"):
            orders.accept_delivery(order.pk, actor=client)
        with steps.step("review"):
            comments = self.comments[rating]
            review = orders.submit_review(
                order.pk, actor=client, rating=rating, comment=comments.pop() if comments else ""
            )
            self.counts["reviews"] += 1
            if review.comment and self.rng.random() < 0.4:
                orders.reply_to_review(review.pk, actor=coach, reply=self.rng.choice(REPLIES))
        self.backdate(order, steps, days=days_ago, answer_hours=self.rng.uniform(0.5, 30))

    def one_order_in_every_state(self, client, coach) -> None:
        """The main demo client and coach get one order in every state, so their dashboards are full."""
        self.new_order(client, coach, "cv")  # stays pending: waiting for payment
        self.pay(self.new_order(client, coach, "linkedin"))  # in progress
        delivered = self.new_order(client, coach, "cover_letter")
        self.pay(delivered)
        orders.deliver(delivered.pk, actor=coach, note="Here is your cover letter.")
        self.complete(self.new_order(client, coach, "bundle"), client, coach, rating=5, days_ago=20)
        cancelled = self.new_order(client, coach, "cv")
        orders.cancel_order(cancelled.pk, actor=client, reason="I found a job before we started.")
        disputed = self.new_order(client, coach, "linkedin")
        self.pay(disputed)
        orders.deliver(disputed.pk, actor=coach, note="Delivered.")
        orders.open_dispute(disputed.pk, actor=client, reason="The profile was delivered for the wrong industry.")

    def waiting_and_closed_requests(self, clients, coach_users) -> None:
        """Requests still waiting for the demo coach's answer, one declined and one withdrawn."""
        demo_coach = coach_users[0]
        self.new_request(clients[1], demo_coach, "cv", title="CV for a move into data analysis")
        self.new_request(clients[2], demo_coach, "bundle", title="Everything for a return to work")
        rejected = self.new_request(clients[3], demo_coach, "cover_letter")
        requests.reject_request(rejected.pk, actor=demo_coach, reason="Fully booked until next month, sorry.")
        withdrawn = self.new_request(clients[1], coach_users[1], "cv")
        requests.withdraw_request(withdrawn.pk, actor=clients[1])

    def past_work(self, clients, other_coaches) -> None:
        """Completed, reviewed work over the past months for every other coach, plus some active orders."""
        client_cycle = iter(clients * 20)
        for coach in other_coaches:
            for _ in range(self.rng.choice([0, 1, 2, 2, 3, 4])):
                client = next(client_cycle)
                rating = self.rng.choices([5, 4, 3, 2], weights=[60, 28, 9, 3])[0]
                self.complete(
                    self.new_order(client, coach), client, coach, rating=rating, days_ago=self.rng.randint(3, 110)
                )
        for coach in other_coaches[:7]:
            order = self.new_order(next(client_cycle), coach)
            if self.rng.random() < 0.7:
                self.pay(order)


@dataclass(frozen=True)
class _Span:
    """The rows one step of a demo order wrote: per model, the primary keys above `low` up to `high`."""

    name: str
    low: dict[type[Model], int]
    high: dict[type[Model], int]

    def pks(self, model: type[Model]) -> range:
        return range(self.low[model] + 1, self.high[model] + 1)


class _Steps:
    """Records which rows each named step wrote, by primary key (ids only grow), so back-dating can
    pair every row with the step that wrote it without comparing timestamps."""

    MODELS: tuple[type[Model], ...] = (OrderEvent, Delivery, Payment, LedgerEntry, Review, Notification)

    def __init__(self) -> None:
        self.spans: list[_Span] = []

    @staticmethod
    def _highest() -> dict[type[Model], int]:
        return {model: model._default_manager.aggregate(top=Max("pk"))["top"] or 0 for model in _Steps.MODELS}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        low = self._highest()
        yield
        self.spans.append(_Span(name, low, self._highest()))

    def index(self, name: str, *, last: bool = False) -> int:
        found = [i for i, span in enumerate(self.spans) if span.name == name]
        return found[-1] if last else found[0]


# How long after the previous step each step of a demo order happens (see Command._backdate).
_DEMO_STEPS = {"in_progress": timedelta(hours=3), "delivered": timedelta(days=2, hours=5)}
_DEMO_TIMED_ROWS = (
    (Delivery, ("created_at",)),
    (Payment, ("created_at", "captured_at")),
    (LedgerEntry, ("created_at",)),
    (Review, ("created_at",)),
)


def _demo_step(previous: OrderEvent, event: OrderEvent) -> timedelta:
    if event.kind == "review":
        return timedelta(hours=4)
    if previous.to_status == "delivered" and event.to_status == "in_progress":
        return timedelta(hours=20)  # the client read the draft and asked for a revision
    if event.to_status == "completed":
        return timedelta(days=1, hours=2)
    return _DEMO_STEPS.get(event.to_status, timedelta(hours=1))
