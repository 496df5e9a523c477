"""core.sqlmemo.Paged: Django's Paginator over it shows what it shows over the queryset, on every page."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Paginator

from core import sqlmemo

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_sqlmemo")]
PER_PAGE = 20
SIZES = (0, 1, 19, 20, 21, 41, 70, 81)


def permissions(given):
    return Permission.objects.filter(content_type_id=given["type"]).order_by("-codename", "-id")


@pytest.fixture
def types() -> dict[int, int]:
    """A content type per list size, each with that many permissions (none of its own at first)."""
    found = {}
    for size in SIZES:
        kind = ContentType.objects.create(app_label="paged", model=f"size{size}")
        Permission.objects.bulk_create(
            Permission(content_type=kind, codename=f"p{n % 7}-{n}", name=f"perm {n}") for n in range(size)
        )
        found[size] = kind.pk
    return found


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5, "last", "", "x", 0, -1, 999])
def test_every_page_is_the_querysets(types, number):
    for size, kind in types.items():
        expected = Paginator(permissions({"type": kind}), PER_PAGE).get_page(number)
        paged = sqlmemo.Paged("perms", permissions, {"type": kind}, count_by="content_type_id", per_page=PER_PAGE)
        found = Paginator(paged, PER_PAGE).get_page(number)
        assert (found.number, found.paginator.count, found.paginator.num_pages) == (
            expected.number,
            expected.paginator.count,
            expected.paginator.num_pages,
        ), size
        assert [p.pk for p in found.object_list] == [p.pk for p in expected.object_list], size
        assert found.has_next() == expected.has_next() and found.start_index() == expected.start_index()


def test_the_first_pages_compile_once_and_later_ones_take_the_orm(types, compilations):
    def page(kind, number):
        paged = sqlmemo.Paged("perms", permissions, {"type": kind}, count_by="content_type_id", per_page=PER_PAGE)
        return [p.pk for p in Paginator(paged, PER_PAGE).get_page(number).object_list]

    compilations.clear()
    for number in (1, 2, 3, 4):
        page(types[81], number)
    first = len(compilations)
    expected = [
        [p.pk for p in Paginator(permissions({"type": types[41]}), PER_PAGE).get_page(number).object_list]
        for number in (1, 2, 3)
    ]
    compilations.clear()
    # another list's first pages, its last page (fewer rows than a page) among them
    assert [page(types[41], number) for number in (1, 2, 3)] == expected
    assert compilations == [] and first == 5  # the count and three pages once; the fourth page each time
    page(types[81], 4)
    assert compilations == [Permission]


def test_a_slice_paginator_does_not_ask_takes_the_orm(types):
    paged = sqlmemo.Paged("perms", permissions, {"type": types[70]}, count_by="content_type_id", per_page=PER_PAGE)
    expected = [p.pk for p in permissions({"type": types[70]})]
    assert [p.pk for p in paged[5:15]] == expected[5:15]
    assert [p.pk for p in paged[0:40]] == expected[0:40]
    assert [p.pk for p in paged[20:20]] == []
