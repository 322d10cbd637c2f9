/*
 * check — see check.h: the application part of a worker's boot, done and
 * undone.
 */
#include "worker/app/check.h"

#include "worker/app/module.h"
#include "worker/app/router.h"

int
app_check_config(const struct config *cfg, char *err, size_t errlen)
{
	struct modules *mods;
	struct router *r;
	int rc = 0;

	if ((mods = modules_load(cfg, NULL, err, errlen)) == NULL)
		return -1;
	/* As worker.c does: one router for the top-level routes, one for
	 * each listen object with routes of its own. */
	for (size_t i = 0; rc == 0 && i <= cfg->nlisten; i++) {
		const struct route_cfg *routes = i == 0 ? cfg->routes :
		    cfg->listen[i - 1].routes;
		size_t n = i == 0 ? cfg->nroutes : cfg->listen[i - 1].nroutes;

		if (i > 0 && routes == NULL)
			continue;
		if ((r = router_new(routes, n, mods, err, errlen)) == NULL)
			rc = -1;
		router_free(r);
	}
	modules_free(mods);
	return rc;
}
