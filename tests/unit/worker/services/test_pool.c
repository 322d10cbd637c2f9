/*
 * Unit tests for worker/services/pool.c: jobs run off the loop, done() on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/services/pool.c"

struct counter {
	pthread_t loop_thread;
	int worked, done;
	bool work_off_loop, done_on_loop;
	struct event_base *base;
	int expect;
};

static void
work(void *arg)
{
	struct counter *c = arg;

	__atomic_add_fetch(&c->worked, 1, __ATOMIC_SEQ_CST);
	if (!pthread_equal(pthread_self(), c->loop_thread))
		__atomic_store_n(&c->work_off_loop, true, __ATOMIC_SEQ_CST);
}

static void
done(void *arg)
{
	struct counter *c = arg;

	c->done++;
	c->done_on_loop = pthread_equal(pthread_self(), c->loop_thread);
	if (c->done == c->expect && c->base != NULL)
		event_base_loopbreak(c->base);
}

static void
test_jobs_run_on_threads_done_on_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct counter c = { .loop_thread = pthread_self(), .base = base,
	    .expect = 100 };
	char err[128];
	struct pool *p;

	(void)state;
	p = pool_new(base, 3, 1000, err, sizeof(err));
	assert_non_null(p);
	for (int i = 0; i < c.expect; i++)
		assert_int_equal(pool_submit(p, work, done, &c), 0);
	event_base_dispatch(base);
	assert_int_equal(c.worked, 100);
	assert_int_equal(c.done, 100);
	assert_true(c.work_off_loop);
	assert_true(c.done_on_loop);
	assert_int_equal(pool_pending(p), 0);
	pool_free(p);
	event_base_free(base);
}

static void
block(void *arg)
{
	/* hold the only thread until the test lets go */
	while (!__atomic_load_n((bool *)arg, __ATOMIC_SEQ_CST))
		usleep(1000);
}

static void
nothing(void *arg)
{
	(void)arg;
}

static void
test_full_queue_refuses_and_free_completes_queued(void **state)
{
	struct event_base *base = event_base_new();
	struct counter c = { .loop_thread = pthread_self() };
	bool release = false;
	char err[128];
	struct pool *p;

	(void)state;
	p = pool_new(base, 1, 2, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(pool_submit(p, block, nothing, &release), 0);
	/* wait until the thread holds the blocking job: the queue is empty */
	while (__atomic_load_n(&p->nqueued, __ATOMIC_SEQ_CST) != 0)
		usleep(1000);
	assert_int_equal(pool_submit(p, work, done, &c), 0);
	assert_int_equal(pool_submit(p, work, done, &c), 0);
	assert_true(pool_full(p));
	errno = 0;
	assert_int_equal(pool_submit(p, work, done, &c), -1);
	assert_int_equal(errno, EAGAIN);
	__atomic_store_n(&release, true, __ATOMIC_SEQ_CST);
	/* queued jobs still get work() and done() */
	pool_free(p);
	assert_int_equal(c.worked, 2);
	assert_int_equal(c.done, 2);
	event_base_free(base);
}

static void
test_no_threads_runs_inline(void **state)
{
	struct event_base *base = event_base_new();
	struct counter c = { .loop_thread = pthread_self() };
	char err[128];
	struct pool *p;

	(void)state;
	p = pool_new(base, 0, 0, err, sizeof(err));
	assert_non_null(p);
	assert_false(pool_full(p));
	assert_int_equal(pool_submit(p, work, done, &c), 0);
	assert_int_equal(c.worked, 1);
	assert_int_equal(c.done, 1);
	assert_false(c.work_off_loop);
	pool_free(p);
	event_base_free(base);
}

static void
test_too_many_threads(void **state)
{
	struct event_base *base = event_base_new();
	char err[128];

	(void)state;
	assert_null(pool_new(base, POOL_MAX_THREADS + 1, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "at most"));
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_run_on_threads_done_on_loop),
		cmocka_unit_test(test_full_queue_refuses_and_free_completes_queued),
		cmocka_unit_test(test_no_threads_runs_inline),
		cmocka_unit_test(test_too_many_threads),
	};

	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
