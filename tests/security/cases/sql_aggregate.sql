-- Ordinary work: a SQL aggregate over the demo SQLite file.
-- status: ok
-- args: --data {{DEMO}}/ledger.sqlite
-- table-rows-min: 5
SELECT a.type, round(sum(g.debit), 2) AS debit, round(sum(g.credit), 2) AS credit
FROM gl_entries g JOIN accounts a USING (account_id)
GROUP BY a.type ORDER BY a.type;
