/*
 * store_fault: the answer when the state store or the budget ledger could
 * not be asked or could not write (store_error_passing(): the database
 * unreachable, busy, its disk full or read-only). That is a passing state
 * of the service, not the caller's fault and not a bug: 503
 * "store_unavailable" with Retry-After and a message that says what to do.
 * Any other failure stays a 500 with the caller's code. Private to
 * src/http/.
 */
#ifndef LEDGERBOX_HTTP_STORE_FAULT_H
#define LEDGERBOX_HTTP_STORE_FAULT_H

#include "http/request.h"

#define STORE_FAULT_CODE "store_unavailable"

/* Seconds a client should wait before trying again after err. */
unsigned store_fault_retry_s(int err);
/* "WHAT: the database cannot be reached; try again in 5 s" and the like
 * for a passing err; "WHAT" and storage_why() otherwise. */
void store_fault_message(int err, const char *what, char *buf, size_t len);
/* Sets *o: 503 STORE_FAULT_CODE with Retry-After for a passing err, else
 * 500 code_500. what says what failed ("reading the run history"). */
void store_fault_outcome(struct outcome *o, int err, const char *code_500, const char *what);
/* The same, answered at once. */
enum MHD_Result respond_store_fault(struct request *rq, int err, const char *code_500,
				    const char *what);

#endif
