"""Response shapes the learning app shares with the dashboard (documented in the OpenAPI schema)."""

from rest_framework import serializers


class KappaPointOutput(serializers.Serializer):
    taken_at = serializers.DateTimeField()
    trigger = serializers.CharField()
    kappa = serializers.FloatField(allow_null=True)
    ci95 = serializers.ListField(child=serializers.FloatField(allow_null=True), min_length=2, max_length=2)
    n = serializers.IntegerField()
    model_version = serializers.CharField(allow_null=True)


class KappaSeriesOutput(serializers.Serializer):
    """One rater pair's agreement over time (what learning.selectors.kappa_series gives)."""

    kind = serializers.CharField()
    rater_a = serializers.CharField()
    rater_b = serializers.CharField()
    points = KappaPointOutput(many=True)
