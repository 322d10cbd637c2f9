/*
 * metrics — the "metrics" handler: Prometheus text exposition of the
 * shared stats region (every worker of this master, plus the folded-in
 * counters of exited ones, so no counter ever goes backwards).
 */
#ifndef SHOAL_METRICS_H
#define SHOAL_METRICS_H

#include "worker/api/http.h"

extern const struct handler_def metrics_handler;

#endif
