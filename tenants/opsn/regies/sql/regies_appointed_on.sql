/* « This agent is appointed to this régie on that day »: the assignments in force on
   p_day, [starts_on, ends_on[, whatever the role (titulaire, suppléant, mandataire). The
   one SQL home of the rule; Python's is Assignment.objects.appointed_on (models/founding.py),
   and a test checks that the two agree. Callers add the régie and the account:
       EXISTS (SELECT FROM regies_appointed_on(day) a WHERE a.regie_id = … AND a.account = …)
   A single SELECT, STABLE, not STRICT: PostgreSQL inlines it into the calling query, which
   is then planned as if the condition were written there. */
CREATE OR REPLACE FUNCTION regies_appointed_on(p_day date) RETURNS SETOF regies_assignment
    LANGUAGE sql STABLE AS $$
    SELECT * FROM regies_assignment
    WHERE starts_on <= p_day AND (ends_on IS NULL OR ends_on > p_day)
$$;
