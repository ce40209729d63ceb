/*
 * demo_ledger: builds balanced journals for the general ledger.
 *
 * Every business event posts through demo_gl_begin / debit / credit / end,
 * and demo_gl_end refuses a journal whose debits and credits differ by even
 * one cent, so an unbalanced ledger cannot be written at all.
 */
#include "demo/demo_model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/banned.h"

int demo_gl_begin(struct demo_model *m, int day, int source, const char *ref)
{
	struct demo_journal *j = &m->journal;

	if (j->open)
		return -EPROTO;
	j->open = true;
	j->day = day;
	j->seq = m->next_seq++;
	j->source = source;
	j->debit_cents = 0;
	j->credit_cents = 0;
	(void)snprintf(j->ref, sizeof(j->ref), "%s", ref ? ref : "");
	return 0;
}

static int gl_line(struct demo_model *m, int account, int64_t debit, int64_t credit,
		   const char *fmt, va_list ap)
{
	struct demo_journal *j = &m->journal;
	struct demo_gl_line *line;

	if (!j->open || debit < 0 || credit < 0)
		return -EPROTO;
	if (debit == 0 && credit == 0)
		return 0;
	line = demo_vec_push(&m->gl);
	if (!line)
		return -ENOMEM;
	line->day = j->day;
	line->seq = j->seq;
	line->ord = m->gl.len;
	line->account = account;
	line->source = j->source;
	line->debit_cents = debit;
	line->credit_cents = credit;
	(void)snprintf(line->ref, sizeof(line->ref), "%s", j->ref);
	(void)vsnprintf(line->desc, sizeof(line->desc), fmt, ap);
	j->debit_cents += debit;
	j->credit_cents += credit;
	return 0;
}

int demo_gl_debit(struct demo_model *m, int account, int64_t cents, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = gl_line(m, account, cents, 0, fmt, ap);
	va_end(ap);
	return r;
}

int demo_gl_credit(struct demo_model *m, int account, int64_t cents, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = gl_line(m, account, 0, cents, fmt, ap);
	va_end(ap);
	return r;
}

int demo_gl_end(struct demo_model *m)
{
	struct demo_journal *j = &m->journal;

	if (!j->open)
		return -EPROTO;
	j->open = false;
	return j->debit_cents == j->credit_cents ? 0 : -EPROTO;
}

static int gl_compare(const void *a, const void *b)
{
	const struct demo_gl_line *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	if (x->ord != y->ord)
		return x->ord < y->ord ? -1 : 1;
	return 0;
}

void demo_gl_sort(struct demo_model *m)
{
	/* Payments are posted when their invoice is issued, so lines are
	 * created out of date order; (day, journal, line) is a total order,
	 * which keeps qsort's result independent of its algorithm. */
	if (m->gl.len > 1)
		qsort(m->gl.data, m->gl.len, m->gl.elem_size, gl_compare);
}
