/*
 * artifact_quota: the per-team quota of stored artifact bytes (see
 * artifact_quota.c for when it is checked and what a refusal says).
 */
#ifndef LEDGERBOX_HTTP_ARTIFACT_QUOTA_H
#define LEDGERBOX_HTTP_ARTIFACT_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "http/request.h"

/* Whether the caller's team may store `adding` more bytes (0: whether it
 * is below its quota at all). false: *o is the 507 quota_exceeded answer
 * (or a 500 when the store could not say). */
bool artifact_quota_room(struct request *rq, uint64_t adding, struct outcome *o);

#endif
