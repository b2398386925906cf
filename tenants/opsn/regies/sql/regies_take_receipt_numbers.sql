/* Reserve p_count consecutive receipt numbers of the régie for p_year; returns the first.
   The counter's one home: posting (both ways) and reversals call it, under the régie's
   lock, so numbers are gapless (a refusal rolls the counter back with the rest). */
CREATE OR REPLACE FUNCTION regies_take_receipt_numbers(p_regie bigint, p_year int,
        p_count int) RETURNS int LANGUAGE sql AS $$
    INSERT INTO regies_receiptcounter AS c (regie_id, year, last_number)
        VALUES (p_regie, p_year, p_count)
        ON CONFLICT (regie_id, year) DO UPDATE SET last_number = c.last_number + p_count
        RETURNING last_number - p_count + 1
$$;
