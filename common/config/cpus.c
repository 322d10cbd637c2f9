/*
 * config/cpus — see cpus.h. Whether the CPUs exist on this machine is not
 * the configuration's to say (the file may be checked elsewhere): the
 * master checks that against its own affinity mask at start-up and at
 * --check (master/preflight.c).
 */
#include "common/config/cpus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/diag.h"
#include "common/config/value.h"

/* One number of a CPU list at *p, advancing *p; -1 if none or too big. */
static long
cfg_cpu_number(const char **p)
{
	long n = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (*s - '0');
		if (n >= CPU_SETSIZE)
			return -1;
	}
	*p = s;
	return n;
}

int
cfg_parse_cpus(const char *s, cpu_set_t *set, char *why, size_t whylen)
{
	const char *p = s;
	long lo, hi;

	CPU_ZERO(set);
	for (;;) {
		if ((lo = cfg_cpu_number(&p)) == -1)
			goto bad;
		hi = lo;
		if (*p == '-') {
			p++;
			if ((hi = cfg_cpu_number(&p)) == -1 || hi < lo)
				goto bad;
		}
		for (long cpu = lo; cpu <= hi; cpu++)
			CPU_SET((size_t)cpu, set);
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			goto bad;
	}
bad:
	snprintf(why, whylen, "expected a CPU list such as \"0\", \"2-3\" or "
	    "\"0-3,8\" (CPUs 0 to %d)", CPU_SETSIZE - 1);
	return -1;
}

/* "worker_cpu_affinity": "auto" (or "0-1") is a list of one. */
static bool
cfg_cpus_lone(const json_t *v)
{
	return json_is_string(v);
}

int
cfg_apply_cpu_affinity(const struct cfg_ctx *c, struct config *cfg,
    const struct cfg_key *k, json_t *v, enum cfg_from from)
{
	static const struct cfg_array_of lists = {
		"\"auto\", a CPU list or an array of CPU lists", "CPU list",
		"CPU lists", sizeof(cpu_set_t), cfg_cpus_lone,
	};
	char got[80], why[160];
	const json_t *e;
	void *all;
	size_t n, i;

	cfg->cpu_affinity_auto = false;
	cfg->cpu_sets = NULL;
	cfg->ncpu_sets = 0;
	if (json_is_null(v))
		return 0;
	if (cfg_array(c, k, from, v, &lists, &all, &n) == -1)
		return -1;
	cfg->cpu_sets = all;
	cfg->ncpu_sets = n;
	for (i = 0; i < n; i++) {
		e = json_is_array(v) ? json_array_get(v, i) : v;
		if (!json_is_string(e))
			return cfg_fail(c, k, from, json_is_array(v) ? (long)i : -1,
			    "expected a CPU list string such as \"0-1\", got %s",
			    cfg_describe(e, got, sizeof(got)));
		if (strcmp(json_string_value(e), "auto") == 0) {
			if (n > 1)
				return cfg_fail(c, k, from, (long)i, "\"auto\" "
				    "stands alone, not in a list of CPU lists");
			cfg->cpu_affinity_auto = true;
			free(cfg->cpu_sets);
			cfg->cpu_sets = NULL;
			cfg->ncpu_sets = 0;
			return 0;
		}
		if (cfg_parse_cpus(json_string_value(e), &cfg->cpu_sets[i], why,
		    sizeof(why)) == -1)
			return cfg_fail(c, k, from, json_is_array(v) ? (long)i : -1,
			    "%s: %s", cfg_quote(json_string_value(e), got,
			    sizeof(got)), why);
	}
	return 0;
}
