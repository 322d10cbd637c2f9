/*
 * config/value — see value.h.
 *
 * A scalar's check writes its reason, not the message: the caller knows
 * where the value is (a key of the file, a flag, a member of an object)
 * and cfg_fail or cfg_fail_in names that place.
 */
#include "common/config/value.h"

#include <stdarg.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/diag.h"
#include "common/log.h"

/* The most members an object key may have: their names are listed on the
 * stack for "did you mean". */
#define CFG_MEMBERS_MAX 32

bool
cfg_integer(const json_t *v, long long *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (!json_is_real(v))
		return false;
	d = json_real_value(v);
	if (!(d > -9e15 && d < 9e15) || d != (double)(long long)d)
		return false;
	*out = (long long)d;
	return true;
}

/*
 * v as a byte count: an integer, or a string of digits with at most one
 * suffix K, M or G (k, m, g: the same; powers of 1024). Nothing else: no
 * sign, no space, no fraction, no "MB", since a limit that silently means
 * something else than it reads is worse than an error. -1 if v is none of
 * these or overflows.
 */
int
cfg_bytes(const json_t *v, long long *out)
{
	const char *s, *p;
	long long n = 0, unit = 1;

	if (cfg_integer(v, out))
		return 0;
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (n > (LLONG_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	if (p == s)
		return -1;
	switch (*p) {
	case '\0': break;
	case 'K': case 'k': unit = 1LL << 10; p++; break;
	case 'M': case 'm': unit = 1LL << 20; p++; break;
	case 'G': case 'g': unit = 1LL << 30; p++; break;
	default: return -1;
	}
	if (*p != '\0' || n > LLONG_MAX / unit)
		return -1;
	*out = n * unit;
	return 0;
}

/* snprintf the reason into why; returns -1. */
static int
cfg_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
cfg_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* v, one of k->choices: its index into *out. */
static int
cfg_choice(const struct cfg_key *k, const json_t *v, int *out, char *why,
    size_t whylen)
{
	char got[80], list[256];
	size_t i, len = 0;

	for (i = 0; json_is_string(v) && k->choices[i] != NULL; i++)
		if (strcmp(json_string_value(v), k->choices[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	/* "expected \"common\", \"combined\" or \"json\"" */
	list[0] = '\0';
	for (i = 0; k->choices[i] != NULL && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s\"%s\"",
		    i == 0 ? "" : k->choices[i + 1] == NULL ? " or " : ", ",
		    k->choices[i]);
	return cfg_why(why, whylen, "expected %s, got %s", list,
	    cfg_describe(v, got, sizeof(got)));
}

int
cfg_scalar(const struct cfg_key *k, const json_t *v, void *base, char *why,
    size_t whylen)
{
	char *field = (char *)base + k->offset;
	char got[80], lo[32], hi[32];
	long long n;
	double d;
	int level;

	cfg_num(k->min, lo, sizeof(lo));
	cfg_num(k->max, hi, sizeof(hi));
	switch (k->kind) {
	case CFG_INT:
	case CFG_SIZE:
		/* k->max fits a size_t on 64-bit; the cast guards 32-bit. */
		if (!cfg_integer(v, &n) || n < k->min || n > k->max ||
		    (k->kind == CFG_SIZE && (unsigned long long)n > SIZE_MAX))
			return cfg_why(why, whylen, "expected an integer from %s "
			    "to %s, got %s", lo, hi, cfg_describe(v, got,
			    sizeof(got)));
		if (k->kind == CFG_INT)
			*(int *)field = (int)n;
		else
			*(size_t *)field = (size_t)n;
		return 0;
	case CFG_SECONDS:
		d = json_is_number(v) ? json_number_value(v) : -1;
		/* Written so that NaN fails too. */
		if (!json_is_number(v) || !(d >= k->min && d <= k->max))
			return cfg_why(why, whylen, "expected a number of seconds "
			    "from %s to %s, got %s", lo, hi, cfg_describe(v, got,
			    sizeof(got)));
		*(double *)field = d;
		return 0;
	case CFG_AUTO_INT:
		if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0) {
			*(int *)field = 0;
			return 0;
		}
		if (!cfg_integer(v, &n) || n < k->min || n > k->max)
			return cfg_why(why, whylen, "expected \"auto\" or an "
			    "integer from %s to %s, got %s", lo, hi,
			    cfg_describe(v, got, sizeof(got)));
		*(int *)field = (int)n;
		return 0;
	case CFG_PATH:
	case CFG_STRING:
		if (json_is_null(v)) {
			*(char **)field = NULL;
			return 0;
		}
		if (!json_is_string(v) || *json_string_value(v) == '\0')
			return cfg_why(why, whylen, "expected a %s or null, got %s",
			    k->kind == CFG_PATH ? "file name" : "name",
			    cfg_describe(v, got, sizeof(got)));
		if ((*(char **)field = strdup(json_string_value(v))) == NULL)
			return cfg_why(why, whylen, "out of memory");
		return 0;
	case CFG_BYTES:
		if (cfg_bytes(v, &n) == -1 || n < k->min || n > k->max ||
		    (unsigned long long)n > SIZE_MAX)
			return cfg_why(why, whylen, "expected a number of bytes "
			    "from %s to %s, as digits with an optional K, M or G "
			    "(\"512M\"), got %s", lo, hi, cfg_describe(v, got,
			    sizeof(got)));
		*(size_t *)field = (size_t)n;
		return 0;
	case CFG_LOG_LEVEL:
		if (!json_is_string(v) ||
		    (level = log_level_parse(json_string_value(v))) == -1)
			return cfg_why(why, whylen, "expected \"error\", \"warn\", "
			    "\"notice\", \"info\" or \"debug\", got %s",
			    cfg_describe(v, got, sizeof(got)));
		*(int *)field = level;
		return 0;
	case CFG_CHOICE:
		return cfg_choice(k, v, (int *)field, why, whylen);
	case CFG_LIST:
	case CFG_STRUCT:
	case CFG_OBJECT:
		break;
	}
	return cfg_why(why, whylen, "unhandled kind %d", (int)k->kind);
}

json_t *
cfg_default_value(const struct cfg_key *k)
{
	switch (k->kind) {
	case CFG_INT:
	case CFG_SIZE:
		return json_integer((json_int_t)k->def);
	case CFG_SECONDS:
		return json_real(k->def);
	case CFG_AUTO_INT:
		return k->defstr != NULL ? json_string(k->defstr) :
		    json_integer((json_int_t)k->def);
	case CFG_BYTES:
		return json_integer((json_int_t)k->def);
	case CFG_PATH:
	case CFG_STRING:
	case CFG_LOG_LEVEL:
	case CFG_CHOICE:
		return k->defstr == NULL ? json_null() : json_string(k->defstr);
	case CFG_LIST:
		return k->defstr == NULL ? json_array() : json_string(k->defstr);
	case CFG_STRUCT:
		return k->defstr == NULL ? json_null() : json_loads(k->defstr,
		    JSON_DECODE_ANY, NULL);
	case CFG_OBJECT:
		return json_object();
	}
	return NULL;
}

int
cfg_apply_object(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from)
{
	const char *names[CFG_MEMBERS_MAX] = { NULL }, *key;
	char got[80], why[256], near[CFG_NAME_MAX + 40];
	size_t n = k->nmembers;
	const struct cfg_key *m;
	struct config_step at;
	enum cfg_from mfrom;
	json_t *mv, *def;
	size_t i;
	int r;

	/* A bug of the table, but said rather than half done. */
	if (n > CFG_MEMBERS_MAX)
		return cfg_fail(c, k, from, -1, "%zu members, more than the %d "
		    "an object key may have", n, CFG_MEMBERS_MAX);
	if (!json_is_object(v))
		return cfg_fail(c, k, from, -1, "expected an object, got %s",
		    cfg_describe(v, got, sizeof(got)));
	for (i = 0; i < n; i++)
		names[i] = k->members[i].name;
	if ((key = cfg_unknown_member(v, names, n)) != NULL) {
		at = (struct config_step){ key, 0 };
		return cfg_fail_in(c, k, from, &at, 1, "unknown key %s%s",
		    cfg_quote(key, got, sizeof(got)),
		    cfg_did_you_mean(key, names, n, near, sizeof(near)));
	}
	for (i = 0; i < n; i++) {
		m = &k->members[i];
		def = NULL;
		mfrom = from;
		if ((mv = json_object_get(v, m->name)) == NULL) {
			if ((mv = def = cfg_default_value(m)) == NULL)
				return cfg_fail(c, k, from, -1, "out of memory");
			mfrom = CFG_FROM_BUILTIN;
		}
		r = cfg_scalar(m, mv, (char *)cfg + k->offset, why, sizeof(why));
		json_decref(def);
		if (r == -1) {
			at = (struct config_step){ m->name, 0 };
			return cfg_fail_in(c, k, mfrom, &at, 1, "\"%s\": %s",
			    m->name, why);
		}
	}
	return 0;
}

void
cfg_free_values(const struct cfg_key *keys, size_t n, void *base)
{
	char *field;
	size_t i;

	for (i = 0; i < n; i++) {
		field = (char *)base + keys[i].offset;
		if (keys[i].kind == CFG_PATH || keys[i].kind == CFG_STRING) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (keys[i].kind == CFG_OBJECT) {
			cfg_free_values(keys[i].members, keys[i].nmembers, field);
		}
	}
}

int
cfg_array(const struct cfg_ctx *c, const struct cfg_key *k,
    enum cfg_from from, const json_t *v, const struct cfg_array_of *of,
    void **out, size_t *n)
{
	char got[80];

	*out = NULL;
	*n = 0;
	if (json_is_array(v))
		*n = json_array_size(v);
	else if (of->lone != NULL && of->lone(v))
		*n = 1;
	else
		return cfg_fail(c, k, from, -1, "expected %s, got %s",
		    of->expected, cfg_describe(v, got, sizeof(got)));
	if (*n < (size_t)k->min && k->min == 1)
		return cfg_fail(c, k, from, -1, "expected at least one %s, got an "
		    "empty array", of->one);
	if (*n < (size_t)k->min)
		return cfg_fail(c, k, from, -1, "expected at least %d %s, got "
		    "%zu", (int)k->min, of->many, *n);
	if (*n > (size_t)k->max)
		return cfg_fail(c, k, from, -1, "expected at most %d %s, got %zu",
		    (int)k->max, of->many, *n);
	if (*n == 0)
		return 0;
	if ((*out = calloc(*n, of->size)) == NULL)
		return cfg_fail(c, k, from, -1, "out of memory");
	return 0;
}

const char *
cfg_unknown_member(json_t *obj, const char *const *names, size_t n)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(obj, key, v) {
		for (i = 0; i < n; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (i == n)
			return key;
	}
	return NULL;
}
