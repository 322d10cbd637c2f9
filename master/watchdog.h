/*
 * watchdog — systemd's WatchdogSec= (m->wd). When systemd asks for it
 * (WATCHDOG_USEC, and WATCHDOG_PID naming this process if set), the
 * master sends WATCHDOG=1 at half that interval from a timer of its event
 * loop, and only while its workers are healthy (supervise_healthy): every
 * worker's heartbeat younger than worker_timeout and no slot without a
 * ready worker for longer. So systemd restarts the service when the
 * master's loop is stuck, or when its workers are hung or gone for good
 * and the master cannot mend it; a worker it is replacing stops nothing.
 * While starting and stopping it pings regardless (workers are missing on
 * purpose then; a start whose workers cannot boot exits by itself).
 */
#ifndef SHOAL_WATCHDOG_H
#define SHOAL_WATCHDOG_H

#include "master/types.h"

/* Arm the timer if systemd asks for pings; nothing otherwise. -1 if the
 * timer cannot be made. */
int watchdog_init(struct master *m);

/* Disarm and free the timer. */
void watchdog_free(struct master *m);

#endif
