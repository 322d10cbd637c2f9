/*
 * config/value — see value.h.
 */
#include "common/config/value.h"

#include <stdlib.h>
#include <string.h>

#include "common/config/diag.h"

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
