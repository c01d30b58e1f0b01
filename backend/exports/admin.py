from django.contrib import admin

from backend.exports.models import ResultPush
from backend.exports.push import result_push_queue


@admin.register(ResultPush)
class ResultPushAdmin(admin.ModelAdmin):
    list_display = ("case", "assignment", "destination", "trigger", "status", "attempts", "updated_at")
    list_filter = ("status", "trigger", "destination")
    search_fields = ("case__pair__patient__patient_id", "sop_uid")
    readonly_fields = [f.name for f in ResultPush._meta.fields]
    actions = ["send_again"]

    @admin.action(description="Send these cases' SRs to the results destination again")
    def send_again(self, request, queryset):
        for case in {push.case for push in queryset}:
            result_push_queue(case=case, trigger=ResultPush.Trigger.ADMIN, actor=request.user)
        self.message_user(request, f"Queued the SRs of {len({p.case_id for p in queryset})} case(s).")
