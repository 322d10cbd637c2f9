/*
 * status — what the master reports about itself: the JSON object behind
 * `shoal status` (pid, generation, operation, slots, processes, totals).
 * Reads the other modules' state, changes nothing.
 */
#ifndef SHOAL_STATUS_H
#define SHOAL_STATUS_H

#include <jansson.h>

#include "master/types.h"

/* A new reference (NULL only when out of memory). */
json_t *status_json(struct master *m);

#endif
