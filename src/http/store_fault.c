/* store_fault: see store_fault.h. */
#include <errno.h>
#include <stdio.h>

#include "http/store_fault.h"
#include "util/banned.h"

/* A lost connection is usually back within seconds (a restart, a
 * fail-over); a full or read-only disk needs someone to act. */
#define RETRY_UNREACHABLE_S 5
#define RETRY_BUSY_S 2
#define RETRY_DISK_S 30

unsigned store_fault_retry_s(int err)
{
	switch (err) {
	case -EBUSY:
	case -ETIMEDOUT:
		return RETRY_BUSY_S;
	case -ENOSPC:
	case -EROFS:
		return RETRY_DISK_S;
	default:
		return RETRY_UNREACHABLE_S;
	}
}

void store_fault_message(int err, const char *what, char *buf, size_t len)
{
	unsigned s = store_fault_retry_s(err);

	if (!store_error_passing(err)) {
		snprintf(buf, len, "%s%s", what, storage_why(err));
		return;
	}
	switch (err) {
	case -ENOSPC:
		snprintf(buf, len,
			 "%s: the state disk is full: free space where the state is kept "
			 "(LEDGERBOX_STATE_DIR, or the PostgreSQL server's disk) and try again; "
			 "reads still work", what);
		break;
	case -EROFS:
		snprintf(buf, len,
			 "%s: the state is read-only just now (LEDGERBOX_STATE_DIR mounted "
			 "read-only, or PostgreSQL in recovery): make it writable and try again in "
			 "%u s; reads still work", what, s);
		break;
	case -EBUSY:
	case -ETIMEDOUT:
		snprintf(buf, len, "%s: the database is busy; try again in %u s", what, s);
		break;
	default:
		snprintf(buf, len, "%s: the database cannot be reached; try again in %u s", what, s);
		break;
	}
}

void store_fault_outcome(struct outcome *o, int err, const char *code_500, const char *what)
{
	char msg[600];

	store_fault_message(err, what, msg, sizeof(msg));
	if (store_error_passing(err))
		outcome_error(o, 503, STORE_FAULT_CODE, msg, NULL, store_fault_retry_s(err), NULL);
	else
		outcome_error(o, 500, code_500, msg, NULL, 0, NULL);
}

enum MHD_Result respond_store_fault(struct request *rq, int err, const char *code_500,
				    const char *what)
{
	char msg[600];

	store_fault_message(err, what, msg, sizeof(msg));
	if (store_error_passing(err))
		return respond_retry(rq, 503, STORE_FAULT_CODE, msg, store_fault_retry_s(err));
	return respond_error(rq, 500, code_500, msg, NULL);
}
