/*
 * auth: API keys from `Authorization: Bearer KEY`, roles, and slowing down
 * whoever keeps sending wrong keys.
 *
 * Failures are counted per client address in a small table (oldest entry
 * replaced when full). Past FREE_FAILURES within WINDOW_MS, each further
 * failure is answered only after a delay that doubles up to MAX_DELAY_MS, so
 * guessing keys costs time; the first such failure of a window is logged
 * (without the key). A correct key is never delayed, and a key the store
 * could not be asked about (database away, store_error_passing()) is
 * answered 503 without counting as a failure: it is not known to be wrong.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "http/request.h"
#include "http/store_fault.h"
#include "obs/log.h"
#include "util/banned.h"

#define FAIL_SLOTS 256
#define FREE_FAILURES 5
#define WINDOW_MS 60000
#define MAX_DELAY_MS 5000
/* A wrong pepper needs an administrator: minutes, not seconds. */
#define PEPPER_RETRY_S 60

struct fail_slot {
	char addr[INET6_ADDRSTRLEN];
	unsigned count;
	uint64_t first_ms;
	uint64_t last_ms;
};

static struct fail_slot fails[FAIL_SLOTS];
static pthread_mutex_t fails_lock = PTHREAD_MUTEX_INITIALIZER;

static void client_addr(struct request *rq, char *out, size_t len)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = info ? info->client_addr : NULL;

	snprintf(out, len, "unknown");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)len);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
			  (socklen_t)len);
}

/* Records a failure; returns how long to wait before answering. */
static uint64_t failure_delay_ms(const char *addr, bool *ret_first_slow)
{
	uint64_t now = clock_mono_ms(), delay = 0;
	struct fail_slot *slot = NULL, *oldest = &fails[0];

	pthread_mutex_lock(&fails_lock);
	for (int i = 0; i < FAIL_SLOTS && !slot; i++) {
		if (strcmp(fails[i].addr, addr) == 0)
			slot = &fails[i];
		else if (fails[i].last_ms < oldest->last_ms)
			oldest = &fails[i];
	}
	if (!slot || now - slot->first_ms > WINDOW_MS) {
		slot = slot ? slot : oldest;
		snprintf(slot->addr, sizeof(slot->addr), "%s", addr);
		slot->count = 0;
		slot->first_ms = now;
	}
	slot->count++;
	slot->last_ms = now;
	*ret_first_slow = slot->count == FREE_FAILURES + 1;
	if (slot->count > FREE_FAILURES) {
		unsigned over = slot->count - FREE_FAILURES;
		delay = over >= 6 ? MAX_DELAY_MS : 100u << over;
		if (delay > MAX_DELAY_MS)
			delay = MAX_DELAY_MS;
	}
	pthread_mutex_unlock(&fails_lock);
	return delay;
}

static void slow_down(struct request *rq)
{
	char addr[INET6_ADDRSTRLEN];
	bool first_slow;
	uint64_t delay;

	client_addr(rq, addr, sizeof(addr));
	delay = failure_delay_ms(addr, &first_slow);
	if (first_slow) {
		json_t *f = json_pack("{s:s,s:i}", "client", addr, "failures", FREE_FAILURES + 1);
		log_event(LOG_WARN, rq->id, "auth.slowed_down", f);
		json_decref(f);
	}
	/* Held by the lane that runs the handler, without a thread (held.c). */
	if (delay)
		rq->answer_held_until_ms = clock_mono_ms() + delay;
}

const char *auth_bearer_key(struct request *rq)
{
	const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Authorization");

	return h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : "";
}

bool auth_require(struct request *rq, enum MHD_Result *ret)
{
	const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Authorization");
	int e;

	if (!h) {
		*ret = respond_error(rq, 401, "unauthorized",
				     "an API key is required: send 'Authorization: Bearer KEY' "
				     "(create one with 'ledgerbox keys create')", NULL);
		return false;
	}
	e = strncasecmp(h, "Bearer ", 7) == 0
		    ? store_key_authenticate(rq->srv->store, h + 7, &rq->who)
		    : -ENOENT;
	if (e == 0) {
		rq->authenticated = true;
		return true;
	}
	/* Only a key the store looked up and did not find is a wrong guess:
	 * when it could not be asked, the key may well be right, and its
	 * client is neither refused nor slowed down. */
	if (e == -EKEYREJECTED) {
		*ret = respond_retry(rq, 503, "pepper_mismatch",
				     "this node's key pepper does not match the one the database's "
				     "keys were made with, so no key can be checked here: an "
				     "administrator must give this node the pepper file every node "
				     "shares (docs/multinode.md); other nodes may serve meanwhile",
				     PEPPER_RETRY_S);
		return false;
	}
	if (e != -ENOENT) {
		*ret = respond_store_fault(rq, e, "store_failed", "checking the API key failed");
		return false;
	}
	slow_down(rq);
	*ret = respond_error(rq, 401, "unauthorized", "the API key is not valid or was revoked", NULL);
	return false;
}

bool auth_require_admin(struct request *rq, enum MHD_Result *ret)
{
	if (!auth_require(rq, ret))
		return false;
	if (rq->who.role == ROLE_ADMIN)
		return true;
	*ret = respond_error(rq, 403, "forbidden", "this needs an admin key", NULL);
	return false;
}
