"""Threads name their client and coach (copied from the order), so a thread can exist before an order."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F, OuterRef, Q, Subquery


def copy_people_from_orders(apps, schema_editor):
    MessageThread = apps.get_model("messaging", "MessageThread")
    Order = apps.get_model("orders", "Order")
    order = Order.objects.filter(pk=OuterRef("order_id"))
    MessageThread.objects.update(
        client_id=Subquery(order.values("client_id")[:1]), coach_id=Subquery(order.values("coach_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("messaging", "0002_message_thread_id_index"),
        ("orders", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="messagethread",
            name="client",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="messagethread",
            name="coach",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.RunPython(copy_people_from_orders, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="messagethread",
            name="client",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AlterField(
            model_name="messagethread",
            name="coach",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AlterField(
            model_name="messagethread",
            name="order",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="thread",
                to="orders.order",
            ),
        ),
        migrations.AddConstraint(
            model_name="messagethread",
            constraint=models.UniqueConstraint(
                condition=Q(order__isnull=True), fields=("client", "coach"), name="messaging_one_preorder_thread"
            ),
        ),
        migrations.AddConstraint(
            model_name="messagethread",
            constraint=models.CheckConstraint(condition=~Q(client=F("coach")), name="messaging_thread_two_people"),
        ),
    ]
