/*
 * The SQL runner as its own small program, `ledgerbox-sql-runner`, the one
 * the sandbox executes for SQL runs. It links only SQLite and jansson, so a
 * run does not pay for loading the HTTP server's libraries (libmicrohttpd
 * brings GnuTLS) that a query never uses.
 */
#include <stdlib.h>

#include "runners/sql_runner.h"
#include "util/banned.h"

#if defined(__SANITIZE_ADDRESS__)
#define LEDGERBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEDGERBOX_ASAN 1
#endif
#endif

#ifdef LEDGERBOX_ASAN
/* LeakSanitizer stops the world with ptrace, which the sandbox's seccomp
 * filter refuses: inside a sandbox, leak checking is off (the same code is
 * leak-checked by the unit tests outside). */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return getenv("LEDGERBOX_RESULT_FD") != NULL;
}
#endif

int main(int argc, char **argv)
{
	return sql_runner_main(argc, argv);
}
