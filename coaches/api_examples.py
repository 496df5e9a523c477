"""Example bodies of coaches/api.py for the OpenAPI document (kept apart so the views stay short)."""

from __future__ import annotations

SERVICES = [
    {
        "service_type": "cv",
        "price_minor": 12000,
        "price": "120.00",
        "currency": "GBP",
        "delivery_days": 5,
        "revisions_included": 2,
    },
    {
        "service_type": "linkedin",
        "price_minor": 8000,
        "price": "80.00",
        "currency": "GBP",
        "delivery_days": 3,
        "revisions_included": 1,
    },
]

COACH = {
    "id": 3,
    "user_id": 7,
    "name": "Amira Haddad",
    "headline": "Former tech recruiter: CVs that get past the screen",
    "years_experience": 9,
    "languages": ["en", "fr"],
    "is_available": True,
    "is_verified": True,
    "rating_avg": "4.80",
    "ratings_count": 25,
    "response_time_hours": 5.5,
    "services": SERVICES,
    "price_from": {"own": "£80.00", "converted": "", "unrated": ""},
}

COACH_DETAIL = {
    **COACH,
    "bio": "Nine years hiring engineers and product managers in London; now I write the CVs I wanted to read.",
    "portfolio_links": ["https://amira-writes.example.org/samples"],
}

PROFILE_CHANGES = {
    "Away for a while": {"is_available": False},
    "New prices": {
        "services": [
            {
                "service_type": "cv",
                "price": "135.00",
                "currency": "GBP",
                "delivery_days": 5,
                "revisions_included": 2,
                "is_active": True,
            }
        ]
    },
}

COACH_EXAMPLES = {"A verified coach": COACH}
COACH_DETAIL_EXAMPLES = {"A verified coach": COACH_DETAIL}
