from django.contrib import admin

from backend.accounts.models import ReaderProfile


@admin.register(ReaderProfile)
class ReaderProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "experience", "created_at")
    list_filter = ("experience",)
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)
