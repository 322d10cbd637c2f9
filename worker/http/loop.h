/*
 * loop — small helpers over libevent that the connection types of
 * worker/http/ (conn.c, ws.c) share: seconds as a timeval, the loop's
 * cached time, and switching one persistent event between reading and
 * writing.
 */
#ifndef SHOAL_LOOP_H
#define SHOAL_LOOP_H

#include <sys/time.h>
#include <event2/event.h>
#include <event2/event_struct.h>

/* seconds (negative: 0) as a timeval. */
static inline struct timeval
loop_tv(double seconds)
{
	struct timeval tv;

	if (seconds < 0)
		seconds = 0;
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* The loop's cached time of day, in seconds. */
static inline double
loop_now(struct event_base *base)
{
	struct timeval tv;

	event_base_gettimeofday_cached(base, &tv);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/*
 * Watch fd for what (EV_READ and/or EV_WRITE; persistent) with a timeout
 * unless tv is NULL. The event is reassigned only when what changes: an
 * epoll_ctl is not free.
 */
static inline void
loop_watch(struct event *ev, struct event_base *base, evutil_socket_t fd,
    short what, const struct timeval *tv, event_callback_fn cb, void *arg)
{
	if ((event_get_events(ev) & (EV_READ | EV_WRITE)) != what) {
		event_del(ev);
		event_assign(ev, base, fd, what | EV_PERSIST, cb, arg);
	}
	event_add(ev, tv);
}

#endif
