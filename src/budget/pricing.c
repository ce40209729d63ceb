/*
 * pricing: the price table and what a run costs under it (see pricing.h).
 *
 * Invariants:
 * - Money is integer micro-units from parse to format; no floating point is
 *   ever involved, so a price in the file and the price charged agree
 *   exactly.
 * - A cost component is usage x rate / unit computed in unsigned 128-bit
 *   arithmetic, rounded up, then saturated at UINT64_MAX; the total is a
 *   saturating sum. No input can wrap or reach undefined behaviour, and a
 *   tiny usage costs at least one micro-unit instead of nothing.
 * - A table made by pricing_load() has a row named "default", no two rows
 *   with one prefix, prefixes of 1 to 63 characters from PREFIX_CHARS and a
 *   currency of 3 upper-case letters. It is built in a local copy and
 *   handed out only when every source was good.
 * - The row "default" is only ever the fallback, never matched as a prefix,
 *   so a model called "default-x" is priced as any other unknown model.
 * - Every message starts with where the value came from: the variable's
 *   name, or the file's path and the key (models[2].inPerMTok).
 *
 * Order in the file: money text, the table and its lookup, the cost, JSON
 * out, then loading (defaults, file, environment) at the end.
 */
#include "budget/pricing.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/parse.h"
#include "util/banned.h"

#define MICROS_PER_UNIT UINT64_C(1000000)
#define TOKENS_PER_MTOK UINT64_C(1000000)
#define MS_PER_S UINT64_C(1000)
#define BYTES_PER_GB UINT64_C(1000000000)
#define MONEY_DECIMALS 6
#define FILE_MAX_BYTES (1024 * 1024)
#define ENTRY_MAX 256
#define WHERE_MAX 512
#define DEFAULT_ROW "default"
#define ENV_FILE "LEDGERBOX_PRICING"
#define ENV_RATES "LEDGERBOX_MODEL_RATES"
#define ENV_CURRENCY "LEDGERBOX_CURRENCY"
#define PREFIX_CHARS                                                                   \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/@+-"
/* The "what was expected" ends of messages. */
#define AMOUNT_HINT "expected digits with at most 6 decimals and no sign, such as \"0.20\""
#define PREFIX_HINT "expected 1 to 63 letters, digits or . _ : / @ + -"
#define CURRENCY_HINT "expected 3 upper-case letters, such as \"USD\""
#define TOP_HINT "currency, models, cpuPerS, memPerGBs or runFee"
#define ROW_HINT "{prefix, inPerMTok, outPerMTok[, perInferenceS]}"
#define RATES_HINT "IN and OUT per million tokens, PER_S per second of inference"
#define NO_DEFAULT_MSG                                                                 \
	"the pricing table has no \"default\" model row: every model must have a price"

typedef unsigned __int128 u128;

/* Keys of the file, in the order pricing_to_json() writes them. */
static const char *const TOP_KEYS[] = { "currency", "models", "cpuPerS", "memPerGBs", "runFee" };
static const char *const ROW_KEYS[] = { "prefix", "inPerMTok", "outPerMTok", "perInferenceS" };
#define N_TOP_KEYS (sizeof(TOP_KEYS) / sizeof(TOP_KEYS[0]))
#define N_ROW_KEYS (sizeof(ROW_KEYS) / sizeof(ROW_KEYS[0]))
/* prefix, inPerMTok and outPerMTok: a row missing a token rate would make
 * that model's tokens free, so it is refused rather than read as 0. */
#define ROW_REQUIRED_MASK 7u

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t err_len, int r,
						      const char *fmt, ...);
/* Every function that explains a failure has `err` and `err_len` in scope. */
#define FAIL(r, ...) fail(err, err_len, (r), __VA_ARGS__)

static int fail(char *err, size_t err_len, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Checks "DIGITS[.DIGITS]" with 1 to 6 decimals; returns the part lengths. */
static int money_shape(const char *text, size_t *ret_whole_len, size_t *ret_frac_len)
{
	size_t whole_len = strspn(text, "0123456789"), frac_len = 0;
	const char *rest = text + whole_len;

	if (*rest == '.') {
		frac_len = strspn(rest + 1, "0123456789");
		if (frac_len == 0 || frac_len > MONEY_DECIMALS)
			return -EINVAL;
		rest += 1 + frac_len;
	}
	if (whole_len == 0 || *rest != '\0')
		return -EINVAL;
	*ret_whole_len = whole_len;
	*ret_frac_len = frac_len;
	return 0;
}

int money_parse(const char *text, uint64_t *ret_micros)
{
	char whole_text[24], frac_text[MONEY_DECIMALS + 1] = "000000";
	size_t whole_len, frac_len;
	uint64_t whole, frac;
	int r = text ? money_shape(text, &whole_len, &frac_len) : -EINVAL;

	if (r < 0)
		return r;
	if (frac_len)
		memcpy(frac_text, text + whole_len + 1, frac_len);
	/* Leading zeros carry no value; dropping them bounds the copy. */
	while (whole_len > 1 && *text == '0') {
		text++;
		whole_len--;
	}
	if (whole_len >= sizeof(whole_text))
		return -ERANGE;
	memcpy(whole_text, text, whole_len);
	whole_text[whole_len] = '\0';
	r = parse_u64(whole_text, &whole);
	if (r == 0)
		r = parse_u64(frac_text, &frac);
	if (r < 0)
		return r;
	if (whole > (UINT64_MAX - frac) / MICROS_PER_UNIT)
		return -ERANGE;
	*ret_micros = whole * MICROS_PER_UNIT + frac;
	return 0;
}

void money_format(uint64_t micros, char *out, size_t len)
{
	char frac[MONEY_DECIMALS + 2];
	size_t n = MONEY_DECIMALS;

	snprintf(frac, sizeof(frac), "%06" PRIu64, micros % MICROS_PER_UNIT);
	while (n > 2 && frac[n - 1] == '0')
		n--;
	frac[n] = '\0';
	snprintf(out, len, "%" PRIu64 ".%s", micros / MICROS_PER_UNIT, frac);
}

static bool prefix_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < PRICING_MODEL_MAX && strspn(s, PREFIX_CHARS) == n;
}

static bool currency_valid(const char *s)
{
	return strlen(s) == 3 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 3;
}

static bool row_is_default(const struct model_rate *m)
{
	return strncmp(m->prefix, DEFAULT_ROW, sizeof(m->prefix)) == 0;
}

/* Index of the row with this prefix, or -1. */
static int table_find(const struct pricing *p, const char *prefix)
{
	for (size_t i = 0; i < p->n_models; i++)
		if (strcmp(p->models[i].prefix, prefix) == 0)
			return (int)i;
	return -1;
}

const struct model_rate *pricing_model(const struct pricing *p, const char *model)
{
	const struct model_rate *best = NULL, *fallback = NULL;
	size_t best_len = 0, n_rows = p->n_models < PRICING_ROWS_MAX ? p->n_models : PRICING_ROWS_MAX;

	for (size_t i = 0; i < n_rows; i++) {
		const struct model_rate *m = &p->models[i];
		size_t len = strnlen(m->prefix, sizeof(m->prefix));

		if (row_is_default(m))
			fallback = m;
		else if (model && len > best_len && strncmp(model, m->prefix, len) == 0) {
			best = m;
			best_len = len;
		}
	}
	return best ? best : fallback;
}

/* ceil(a x b x c / unit), saturated at UINT64_MAX. When a x b x c needs more
 * than 128 bits the quotient is at least 2^128 / unit > 2^64 for any unit
 * used here (at most 10^12), so saturating is exact then too. */
static uint64_t mul_div_up(uint64_t a, uint64_t b, uint64_t c, uint64_t unit)
{
	const u128 max = ~(u128)0;
	u128 ab = (u128)a * b, q;

	if (c && ab > (max - (unit - 1)) / c)
		return UINT64_MAX;
	q = (ab * c + (unit - 1)) / unit;
	return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void pricing_cost(const struct pricing *p, const struct usage *u, struct cost *ret)
{
	const struct model_rate *m = pricing_model(p, u->model);
	struct cost c = { 0 };

	if (m) {
		c.llm_in_micros = mul_div_up(u->prompt_tokens, m->in_micros_per_mtok, 1, TOKENS_PER_MTOK);
		c.llm_out_micros =
			mul_div_up(u->completion_tokens, m->out_micros_per_mtok, 1, TOKENS_PER_MTOK);
		c.llm_time_micros = mul_div_up(u->inference_ms, m->micros_per_inference_s, 1, MS_PER_S);
	} else if (u->prompt_tokens || u->completion_tokens || u->inference_ms) {
		c.llm_in_micros = UINT64_MAX;
	}
	c.cpu_micros = mul_div_up(u->cpu_ms, p->cpu_micros_per_s, 1, MS_PER_S);
	c.memory_micros = mul_div_up(u->peak_memory_bytes, u->wall_ms, p->mem_micros_per_gb_s,
				     BYTES_PER_GB * MS_PER_S);
	c.run_micros = p->run_fee_micros;
	c.total_micros = add_sat(add_sat(add_sat(c.llm_in_micros, c.llm_out_micros),
					 add_sat(c.llm_time_micros, c.cpu_micros)),
				 add_sat(c.memory_micros, c.run_micros));
	*ret = c;
}

/* The amount as text in a buffer that lives as long as the enclosing block,
 * so several can be handed to one json_pack() call. */
#define MONEY(micros) money_text((micros), (char[MONEY_TEXT_MAX]){ 0 })

static const char *money_text(uint64_t micros, char *buf)
{
	money_format(micros, buf, MONEY_TEXT_MAX);
	return buf;
}

json_t *pricing_to_json(const struct pricing *p)
{
	json_t *models = json_array(), *o = NULL;
	size_t n_rows = p->n_models < PRICING_ROWS_MAX ? p->n_models : PRICING_ROWS_MAX;
	int r = models ? 0 : -1;

	for (size_t i = 0; r == 0 && i < n_rows; i++) {
		const struct model_rate *m = &p->models[i];

		r = json_array_append_new(
			models, json_pack("{s:s%,s:s,s:s,s:s}", "prefix", m->prefix,
					  strnlen(m->prefix, sizeof(m->prefix)), "inPerMTok",
					  MONEY(m->in_micros_per_mtok), "outPerMTok",
					  MONEY(m->out_micros_per_mtok), "perInferenceS",
					  MONEY(m->micros_per_inference_s)));
	}
	if (r == 0)
		o = json_pack("{s:s,s:O,s:s,s:s,s:s}", "currency", p->currency, "models", models,
			      "cpuPerS", MONEY(p->cpu_micros_per_s), "memPerGBs",
			      MONEY(p->mem_micros_per_gb_s), "runFee", MONEY(p->run_fee_micros));
	json_decref(models);
	return o;
}

json_t *cost_to_json(const struct pricing *p, const struct cost *c)
{
	/* jansson's integers are signed; the text keeps the exact value. */
	json_int_t total = c->total_micros > INT64_MAX ? INT64_MAX : (json_int_t)c->total_micros;

	return json_pack("{s:s,s:I,s:s,s:{s:s,s:s,s:s},s:s,s:s,s:s}", "total",
			 MONEY(c->total_micros), "totalMicros", total, "currency", p->currency, "llm",
			 "in", MONEY(c->llm_in_micros), "out", MONEY(c->llm_out_micros), "time",
			 MONEY(c->llm_time_micros), "cpu", MONEY(c->cpu_micros), "memory",
			 MONEY(c->memory_micros), "run", MONEY(c->run_micros));
}

static void pricing_defaults(struct pricing *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->currency, "USD", sizeof("USD"));
	memcpy(p->models[0].prefix, DEFAULT_ROW, sizeof(DEFAULT_ROW));
	p->models[0].in_micros_per_mtok = 200000;
	p->models[0].out_micros_per_mtok = 600000;
	p->n_models = 1;
	p->cpu_micros_per_s = 50;
	p->mem_micros_per_gb_s = 5;
	p->run_fee_micros = 100;
}

/* Parses an amount, or says in err why it is not one, after `where`. */
static int amount_parse(const char *text, uint64_t *ret, const char *where, char *err,
			size_t err_len)
{
	int r = money_parse(text, ret);

	if (r == -ERANGE)
		return FAIL(r, "%s: \"%.40s\" is too large an amount", where, text);
	if (r < 0)
		return FAIL(r, "%s: \"%.40s\" is not an amount: " AMOUNT_HINT, where, text);
	return 0;
}

static int json_amount(const json_t *v, uint64_t *ret, const char *where, char *err, size_t err_len)
{
	if (!json_is_string(v))
		return FAIL(-EINVAL, "%s: expected the amount as a string such as \"0.20\"", where);
	return amount_parse(json_string_value(v), ret, where, err, err_len);
}

static int key_index(const char *key, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, keys[i]) == 0)
			return (int)i;
	return -1;
}

static int json_prefix(const json_t *v, char *ret, const char *where, char *err, size_t err_len)
{
	const char *s = json_string_value(v);

	if (!s)
		return FAIL(-EINVAL, "%s: expected a string: " PREFIX_HINT, where);
	if (!prefix_valid(s))
		return FAIL(-EINVAL, "%s: \"%.64s\" is not a model prefix: " PREFIX_HINT, where, s);
	memcpy(ret, s, strlen(s) + 1);
	return 0;
}

static int json_row(const json_t *row, size_t i, const char *path, struct model_rate *ret,
		    char *err, size_t err_len)
{
	struct model_rate m = { { 0 }, 0, 0, 0 };
	uint64_t *amounts[N_ROW_KEYS] = { NULL, &m.in_micros_per_mtok, &m.out_micros_per_mtok,
					  &m.micros_per_inference_s };
	char where[WHERE_MAX];
	const char *key;
	json_t *v;
	unsigned seen = 0;

	if (!json_is_object(row))
		return FAIL(-EINVAL, "%s: models[%zu]: expected an object " ROW_HINT, path, i);
	json_object_foreach((json_t *)row, key, v) {
		int k = key_index(key, ROW_KEYS, N_ROW_KEYS), r;

		if (k < 0)
			return FAIL(-EINVAL, "%s: models[%zu]: unknown key \"%.64s\"; expected " ROW_HINT,
				    path, i, key);
		snprintf(where, sizeof(where), "%s: models[%zu].%s", path, i, key);
		r = k == 0 ? json_prefix(v, m.prefix, where, err, err_len) :
			     json_amount(v, amounts[k], where, err, err_len);
		if (r < 0)
			return r;
		seen |= 1u << k;
	}
	for (size_t k = 0; k < N_ROW_KEYS; k++)
		if ((ROW_REQUIRED_MASK & ~seen) & (1u << k))
			return FAIL(-EINVAL, "%s: models[%zu]: \"%s\" is missing", path, i, ROW_KEYS[k]);
	*ret = m;
	return 0;
}

static int json_models(struct pricing *p, const json_t *v, const char *path, char *err,
		       size_t err_len)
{
	size_t i;
	json_t *row;

	if (!json_is_array(v))
		return FAIL(-EINVAL, "%s: models: expected an array of rows " ROW_HINT, path);
	if (json_array_size(v) > PRICING_ROWS_MAX)
		return FAIL(-ENOSPC, "%s: models: more than %d rows", path, PRICING_ROWS_MAX);
	p->n_models = 0;
	json_array_foreach((json_t *)v, i, row) {
		struct model_rate m;
		int r = json_row(row, i, path, &m, err, err_len);

		if (r < 0)
			return r;
		if (table_find(p, m.prefix) >= 0)
			return FAIL(-EINVAL, "%s: models[%zu]: prefix \"%s\" is given twice", path, i,
				    m.prefix);
		p->models[p->n_models++] = m;
	}
	if (table_find(p, DEFAULT_ROW) < 0)
		return FAIL(-EINVAL, "%s: " NO_DEFAULT_MSG, path);
	return 0;
}

static int json_top_key(struct pricing *p, const char *key, const json_t *v, const char *path,
			char *err, size_t err_len)
{
	uint64_t *amounts[N_TOP_KEYS] = { NULL, NULL, &p->cpu_micros_per_s, &p->mem_micros_per_gb_s,
					  &p->run_fee_micros };
	int k = key_index(key, TOP_KEYS, N_TOP_KEYS);
	char where[WHERE_MAX];
	const char *s = json_string_value(v);

	if (k < 0)
		return FAIL(-EINVAL, "%s: unknown key \"%.64s\"; expected " TOP_HINT, path, key);
	if (k == 1)
		return json_models(p, v, path, err, err_len);
	snprintf(where, sizeof(where), "%s: %s", path, key);
	if (k > 1)
		return json_amount(v, amounts[k], where, err, err_len);
	if (!s)
		return FAIL(-EINVAL, "%s: expected a string: " CURRENCY_HINT, where);
	if (!currency_valid(s))
		return FAIL(-EINVAL, "%s: \"%.40s\" is not a currency code: " CURRENCY_HINT, where, s);
	memcpy(p->currency, s, 4);
	return 0;
}

/* Reads a regular file of at most FILE_MAX_BYTES into b. O_NONBLOCK keeps a
 * FIFO from hanging the open; it changes nothing for a regular file. */
static int file_read(const char *path, struct buf *b, char *err, size_t err_len)
{
	char chunk[4096];
	struct stat st;
	ssize_t n;
	int r = 0, fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 || fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode)) {
		close(fd);
		return FAIL(-EINVAL, "%s (%s): not a regular file", ENV_FILE, path);
	}
	while (r == 0 && !b->truncated && (n = read(fd, chunk, sizeof(chunk))) != 0)
		r = n < 0 ? (errno == EINTR ? 0 : -errno) : buf_append(b, chunk, (size_t)n);
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return FAIL(r, "%s (%s): %s", ENV_FILE, path, strerror(-r));
	if (b->truncated)
		return FAIL(-EFBIG, "%s (%s): larger than %d bytes", ENV_FILE, path, FILE_MAX_BYTES);
	return 0;
}

static int file_parse(const char *path, json_t **ret, char *err, size_t err_len)
{
	struct buf b;
	json_error_t jerr;
	json_t *root = NULL;
	int r;

	buf_init(&b, FILE_MAX_BYTES);
	r = file_read(path, &b, err, err_len);
	if (r == 0)
		root = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, &jerr);
	buf_release(&b);
	if (r < 0)
		return r;
	if (!root)
		return FAIL(-EINVAL, "%s:%d:%d: not valid JSON: %s", path, jerr.line, jerr.column,
			    jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return FAIL(-EINVAL, "%s: expected a JSON object with " TOP_HINT, path);
	}
	*ret = root;
	return 0;
}

static int file_apply(struct pricing *p, const char *path, char *err, size_t err_len)
{
	json_t *root = NULL, *v;
	const char *key;
	int r = file_parse(path, &root, err, err_len);

	if (r < 0)
		return r;
	json_object_foreach(root, key, v) {
		r = json_top_key(p, key, v, path, err, err_len);
		if (r < 0)
			break;
	}
	json_decref(root);
	return r;
}

/* Splits "IN,OUT[,PER_S]" (in place) into the row's amounts. */
static int rate_amounts(char *text, struct model_rate *m, const char *where, char *err,
			size_t err_len)
{
	uint64_t *amounts[] = { &m->in_micros_per_mtok, &m->out_micros_per_mtok,
				&m->micros_per_inference_s };
	char *field[4];
	size_t n = 0;

	for (char *s = text; s && n < 4; n++) {
		field[n] = s;
		s = strchr(s, ',');
		if (s)
			*s++ = '\0';
	}
	if (n < 2 || n > 3)
		return FAIL(-EINVAL, "%s: expected 2 or 3 amounts IN,OUT[,PER_S]: " RATES_HINT, where);
	for (size_t i = 0; i < n; i++) {
		int r = amount_parse(field[i], amounts[i], where, err, err_len);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Applies one "PREFIX=IN,OUT[,PER_S]" entry; given[] marks the rows this
 * variable already set, so a prefix given twice is refused, not guessed. */
static int env_rate_entry(struct pricing *p, const char *s, size_t len, bool *given, char *err,
			  size_t err_len)
{
	char entry[ENTRY_MAX], where[WHERE_MAX], *eq;
	struct model_rate m = { { 0 }, 0, 0, 0 };
	int i, r;

	if (len >= sizeof(entry))
		return FAIL(-EINVAL, "%s: \"%.40s...\" is longer than %d bytes", ENV_RATES, s,
			    ENTRY_MAX - 1);
	memcpy(entry, s, len);
	entry[len] = '\0';
	eq = strchr(entry, '=');
	if (!eq)
		return FAIL(-EINVAL, "%s: \"%s\" is not PREFIX=IN,OUT[,PER_S] (" RATES_HINT ")", ENV_RATES,
			    entry);
	*eq = '\0';
	if (!prefix_valid(entry))
		return FAIL(-EINVAL, "%s: \"%s\" is not a model prefix: " PREFIX_HINT, ENV_RATES, entry);
	snprintf(where, sizeof(where), "%s: %s", ENV_RATES, entry);
	r = rate_amounts(eq + 1, &m, where, err, err_len);
	if (r < 0)
		return r;
	memcpy(m.prefix, entry, (size_t)(eq - entry) + 1);
	i = table_find(p, m.prefix);
	if (i >= 0 && given[i])
		return FAIL(-EINVAL, "%s: \"%s\" is given twice", ENV_RATES, m.prefix);
	if (i < 0 && p->n_models == PRICING_ROWS_MAX)
		return FAIL(-ENOSPC, "%s: more than %d model rows in all", ENV_RATES, PRICING_ROWS_MAX);
	if (i < 0)
		i = (int)p->n_models++;
	p->models[i] = m;
	given[i] = true;
	return 0;
}

static int env_rates(struct pricing *p, char *err, size_t err_len)
{
	bool given[PRICING_ROWS_MAX] = { false };
	const char *s = getenv(ENV_RATES);

	while (s && *s) {
		size_t len = strcspn(s, ";");
		/* Empty entries (a trailing ';') are skipped: they set nothing. */
		int r = len ? env_rate_entry(p, s, len, given, err, err_len) : 0;

		if (r < 0)
			return r;
		s += len + (s[len] == ';');
	}
	return 0;
}

static int env_apply(struct pricing *p, char *err, size_t err_len)
{
	static const struct {
		const char *name;
		size_t offset;
	} amounts[] = {
		{ "LEDGERBOX_PRICE_CPU_PER_S", offsetof(struct pricing, cpu_micros_per_s) },
		{ "LEDGERBOX_PRICE_MEM_PER_GB_S", offsetof(struct pricing, mem_micros_per_gb_s) },
		{ "LEDGERBOX_PRICE_RUN", offsetof(struct pricing, run_fee_micros) },
	};
	const char *currency = getenv(ENV_CURRENCY);

	if (currency && !currency_valid(currency))
		return FAIL(-EINVAL, "%s: \"%.40s\" is not a currency code: " CURRENCY_HINT, ENV_CURRENCY,
			    currency);
	if (currency)
		memcpy(p->currency, currency, 4);
	for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
		const char *v = getenv(amounts[i].name);
		uint64_t *field = (uint64_t *)((char *)p + amounts[i].offset);
		int r = v ? amount_parse(v, field, amounts[i].name, err, err_len) : 0;

		if (r < 0)
			return r;
	}
	return env_rates(p, err, err_len);
}

int pricing_load(struct pricing *ret, char *err, size_t err_len)
{
	struct pricing p;
	const char *path = getenv(ENV_FILE);
	int r = 0;

	pricing_defaults(&p);
	/* An empty LEDGERBOX_PRICING means no file, as when it is unset. */
	if (path && *path)
		r = file_apply(&p, path, err, err_len);
	if (r == 0)
		r = env_apply(&p, err, err_len);
	if (r < 0)
		return r;
	*ret = p;
	return 0;
}
