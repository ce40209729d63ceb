/* parse: see parse.h. */
#include "util/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include "util/banned.h"

static int parse_digits(const char *s, const char **ret_end, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	*ret_end = end;
	*ret = v;
	return 0;
}

int parse_u64(const char *s, uint64_t *ret)
{
	const char *end;
	uint64_t v;
	int r = parse_digits(s, &end, &v);

	if (r < 0)
		return r;
	if (*end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

static int suffix_shift(const char *suffix, unsigned *ret_shift)
{
	static const struct {
		const char *name;
		unsigned shift;
	} units[] = {
		{ "", 0 },	 { "b", 0 },	 { "k", 10 },	{ "kb", 10 }, { "kib", 10 },
		{ "m", 20 },	 { "mb", 20 },	 { "mib", 20 }, { "g", 30 },  { "gb", 30 },
		{ "gib", 30 }, { "t", 40 },	 { "tb", 40 },	{ "tib", 40 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(suffix, units[i].name) == 0) {
			*ret_shift = units[i].shift;
			return 0;
		}
	}
	return -EINVAL;
}

int parse_bytes(const char *s, uint64_t *ret)
{
	const char *end;
	uint64_t v;
	unsigned shift;
	int r = parse_digits(s, &end, &v);

	if (r < 0)
		return r;
	r = suffix_shift(end, &shift);
	if (r < 0)
		return r;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = v << shift;
	return 0;
}
