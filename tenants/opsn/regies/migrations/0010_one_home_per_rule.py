"""One home per rule (issue 13). Three rules that were written several times get a SQL
function each, called by the posting statement and by the application's raw SQL:

- ``regies_appointed_on(day)``: the assignments in force on a day (« this agent is
  appointed to this régie on that day »), inlined by PostgreSQL into the queries that use it;
- ``regies_take_receipt_numbers(regie, year, count)``: the receipt counter's upsert;
- ``regies_receipt_label(year, number)``: « 2026-000042 ».

And one INSERT path for postings: ``regies_insert_payments(document, first)`` inserts the
entries, their allocations and their audit lines; the posting statement
(``regies_post_payments``, 0008/0009) now calls it after its guard, as the long way does
after its checks. What each function does is unchanged.

The functions' source files are ``regies/sql/<function>.sql``; ``sql/0010_<function>.sql``
beside this migration are copies frozen as this migration installs them."""

import importlib
from pathlib import Path

from django.db import migrations

FUNCTIONS = ["regies_appointed_on", "regies_take_receipt_numbers", "regies_receipt_label",
             "regies_insert_payments", "regies_post_payments"]
SQL = "\n".join((Path(__file__).parent / "sql" / f"0010_{name}.sql").read_text()
                for name in FUNCTIONS)

# Back to 0009: its posting statement (and the two other functions it installed, the same
# again), then the new functions go.
REVERSE = importlib.import_module(
    "opsn.regies.migrations.0009_exact_keys_whatever_the_statistics").SQL + """
DROP FUNCTION regies_insert_payments(jsonb, int);
DROP FUNCTION regies_receipt_label(int, int);
DROP FUNCTION regies_take_receipt_numbers(bigint, int, int);
DROP FUNCTION regies_appointed_on(date);
"""


class Migration(migrations.Migration):
    dependencies = [("regies", "0009_exact_keys_whatever_the_statistics")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
