from django.apps import AppConfig


class AdminpanelConfig(AppConfig):
    name = "adminpanel"
    verbose_name = "Operator console"

    def ready(self):
        from allauth.account.decorators import secure_admin_login
        from django.contrib import admin

        # The console's index links the staff pages (analytics, transactions) and today's queues.
        admin.site.index_template = "adminpanel/admin_index.html"
        # The lists are wide (quick links, money columns): give them the room the app sidebar took.
        admin.site.enable_nav_sidebar = False
        # One login for the whole site: /admin/login/ sends people to allauth's login (rate limits,
        # lockout, suspended-account checks) and answers 403 to logged-in non-staff.
        admin.site.login = secure_admin_login(admin.site.login)
        # Likewise one password form (allauth's: its validators, its "password changed" mail).
        admin.site.password_change = _site_password_change

        from . import signals

        # Cached analytics figures go stale when an order, request, review, ledger row or user changes.
        signals.connect()


def _site_password_change(request, extra_context=None):
    from django.shortcuts import redirect

    return redirect("account_change_password")
