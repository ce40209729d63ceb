/*
 * budget_names: what a scope and a run id may look like, and the scopes a
 * run is charged to.
 *
 * Scope names use the store's name alphabet, [A-Za-z0-9._-], so a scope
 * never needs quoting in a URL, a CSV cell or a log line: team and user
 * names have 1..63 characters like the store's, session ids up to 128.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

#define NAME_MAX_CHARS 63
#define SESSION_MAX_CHARS 128

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool name_valid(const char *name, size_t max_chars)
{
	size_t len = 0;

	for (; name[len]; len++)
		if (len >= max_chars || !name_char(name[len]))
			return false;
	return len > 0;
}

bool budget_scope_valid(const char *scope)
{
	if (!scope)
		return false;
	if (strcmp(scope, "org") == 0)
		return true;
	if (strncmp(scope, "team:", 5) == 0)
		return name_valid(scope + 5, NAME_MAX_CHARS);
	if (strncmp(scope, "user:", 5) == 0)
		return name_valid(scope + 5, NAME_MAX_CHARS);
	if (strncmp(scope, "session:", 8) == 0)
		return name_valid(scope + 8, SESSION_MAX_CHARS);
	return false;
}

bool budget_run_id_valid(const char *run_id)
{
	return run_id && name_valid(run_id, BUDGET_RUN_ID_MAX);
}

static int scope_add(struct scope_list *list, const char *kind, const char *name)
{
	char *out = list->scope[list->n];

	if (!name)
		return 0;
	if (snprintf(out, BUDGET_SCOPE_MAX, "%s:%s", kind, name) >= BUDGET_SCOPE_MAX ||
	    !budget_scope_valid(out))
		return -EINVAL;
	list->n++;
	return 0;
}

int budget_scopes_expand(const struct budget_scopes *scopes, struct scope_list *ret)
{
	struct scope_list list;
	int r;

	if (!scopes)
		return -EINVAL;
	memset(&list, 0, sizeof(list));
	snprintf(list.scope[0], BUDGET_SCOPE_MAX, "org");
	list.n = 1;
	r = scope_add(&list, "team", scopes->team);
	if (r == 0)
		r = scope_add(&list, "user", scopes->user);
	if (r == 0)
		r = scope_add(&list, "session", scopes->session);
	if (r == 0)
		*ret = list;
	return r;
}
