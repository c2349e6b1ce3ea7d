"""An admin paginator that never COUNTs a million rows to show one page."""

from functools import cached_property

from django.core.paginator import Paginator
from django.db import connections

# Below this the real COUNT is cheap, and exact numbers matter more on small tables.
ESTIMATE_ABOVE = 100_000
# Filtered lists count at most this many rows: nobody pages past it, and an
# exact count of "everyone subscribed" costs a second on a million contacts.
COUNT_CAP = 10_000


class EstimatedCountPaginator(Paginator):
    """Unfiltered lists on PostgreSQL use the planner's row estimate; filtered lists stop counting at COUNT_CAP.

    The templates in `templates/admin/contacts/` say "about" and "more than"
    when `count_estimated` or `count_capped` is set, so staff are never shown
    a made-up exact number.
    """

    count_estimated = False
    count_capped = False
    count_cap = COUNT_CAP

    @cached_property
    def count(self):
        query = getattr(self.object_list, "query", None)
        if query is None:
            return super().count
        if not query.where and not query.distinct:
            estimate = self._estimate(self.object_list.db, self.object_list.model._meta.db_table)
            if estimate is not None and estimate > ESTIMATE_ABOVE:
                self.count_estimated = True
                return estimate
        counted = self.object_list.order_by()[: self.count_cap + 1].count()
        self.count_capped = counted > self.count_cap
        return counted

    @staticmethod
    def _estimate(alias: str, table: str) -> int | None:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
            row = cursor.fetchone()
        return row[0] if row and row[0] >= 0 else None
