"""Input read as the OpenAPI schema states it, where DRF would be lenient: a JSON boolean is true or
false (not 0, 1 or "yes"), an empty query parameter is a value (`?weighting=` is no weighting, not
the default one), and a page's limit and offset are numbers or refused (not silently the first page)."""

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination


class JsonBooleanField(serializers.BooleanField):
    """true or false; DRF's BooleanField also takes 0, 1, "true", "yes", ..."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class QueryInput(serializers.Serializer):
    """A serializer of query parameters that reads `?name=` as the value "" (refused by a choice or a
    number) rather than as a parameter left out, which is how DRF reads form input."""

    def to_internal_value(self, data):
        if isinstance(data, QueryDict):
            many = (serializers.ListField, serializers.MultipleChoiceField)
            data = {
                key: data.getlist(key) if isinstance(self.fields.get(key), many) else data.getlist(key)[-1]
                for key in data
            }
        return super().to_internal_value(data)


PAGE_MAX = 10**9  # beyond any table here, and within what a database takes as LIMIT and OFFSET


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=&offset=`, refused (400) unless whole numbers, a limit from 1 and an offset from 0 (to
    PAGE_MAX); DRF's answers the first page for anything it cannot read. A limit above `max_limit`
    (when a list sets one) is cut to it."""

    def get_limit(self, request):
        if self.limit_query_param in request.query_params:
            limit = _number(request, self.limit_query_param, minimum=1)
            return min(limit, self.max_limit) if self.max_limit else limit
        return self.default_limit

    def get_offset(self, request):
        if self.offset_query_param in request.query_params:
            return _number(request, self.offset_query_param, minimum=0)
        return 0

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            minimum = 1 if parameter["name"] == self.limit_query_param else 0
            parameter["schema"].update(minimum=minimum, maximum=PAGE_MAX)
        return parameters


def _number(request, name: str, *, minimum: int) -> int:
    value = request.query_params[name]
    if not (value.isascii() and value.isdigit()) or not minimum <= int(value) <= PAGE_MAX:
        raise serializers.ValidationError({name: [f"Must be a whole number from {minimum} to {PAGE_MAX}."]})
    return int(value)
