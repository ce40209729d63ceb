/*
 * result_json: the JSON form of a sandbox result, as the CLI prints it and
 * the API returns it. Field names follow DESIGN.md's sandbox contract.
 */
#ifndef LEDGERBOX_RESULT_JSON_H
#define LEDGERBOX_RESULT_JSON_H

#include <jansson.h>

#include "sandbox/sandbox.h"

/* Returns a new object (caller owns it) or NULL when out of memory. Output
 * bytes that are not valid UTF-8 are replaced with U+FFFD. The runner's
 * result channel becomes "table" and "runner_error". */
json_t *result_to_json(const struct sandbox_request *req, const struct sandbox_result *res);

#endif
