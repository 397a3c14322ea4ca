/*
 * pthreads: POSIX threads as a static musl C program sees them, each answer Linux's.
 * Built by xtask with `musl-gcc -static -O2 -pthread` (issue 13's C side; Rust's std
 * threads are `threads`, tokio is `tokio-check`). Checks: a futex stress (8 threads x
 * 100000 increments, through a pthread mutex and through a futex lock of our own, exact
 * totals), error-checking, recursive and timed mutexes, condition variables (hand-over,
 * broadcast, timed waits on both clocks), rwlocks (readers at once, writers alone, timed),
 * barriers, pthread_once, thread-local storage and key destructors, pthread_cancel (of a
 * thread blocked in read, in nanosleep, in pthread_cond_wait with its cleanup handler,
 * and with cancellation disabled then enabled), pthread_kill, semaphores, a large stack,
 * detached threads, a robust mutex whose owner thread exits, a process-shared mutex
 * across fork.
 *
 * One line per check (`ok`/`FAIL`), then `pthreads: N passed, M failed`; exit status 0
 * only if every check passed. Runs on the host too, where the expectations are checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* musl-gcc has no kernel headers: the futex operations from <linux/futex.h>. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE_FLAG 128

static int passed, failed;

/* One check: `ok   NAME`, or `FAIL NAME: DETAIL` with the detail formatted. */
static void check(const char *name, int ok, const char *detail_format, ...)
{
	if (ok) {
		passed++;
		printf("ok   %s\n", name);
	} else {
		failed++;
		char detail[512];
		va_list args;
		va_start(args, detail_format);
		vsnprintf(detail, sizeof detail, detail_format, args);
		va_end(args);
		printf("FAIL %s: %s\n", name, detail);
	}
	fflush(stdout);
}

static long long now_ns(clockid_t clock)
{
	struct timespec now;
	clock_gettime(clock, &now);
	return now.tv_sec * 1000000000LL + now.tv_nsec;
}

/* An absolute deadline `ms` from now on `clock`. */
static struct timespec deadline_in(clockid_t clock, long ms)
{
	long long at = now_ns(clock) + ms * 1000000LL;
	struct timespec deadline = {.tv_sec = at / 1000000000LL, .tv_nsec = at % 1000000000LL};
	return deadline;
}

static void sleep_ms(long ms)
{
	struct timespec duration = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&duration, &duration) != 0 && errno == EINTR) {
	}
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* pthread_create, or the end of the program: every later check needs threads, and a
 * join of a thread that was never made would wait forever. */
static void create(pthread_t *thread, const pthread_attr_t *attr, void *(*body)(void *), void *argument)
{
	int error = pthread_create(thread, attr, body, argument);
	if (error == 0)
		return;
	check("pthread_create", 0, "%s (%d); the remaining checks need threads", strerror(error), error);
	printf("pthreads: %d passed, %d failed\n", passed, failed);
	exit(1);
}

/* ---- the futex stress ---- */

#define STRESS_THREADS 8
#define STRESS_EACH 100000

static pthread_mutex_t stress_mutex = PTHREAD_MUTEX_INITIALIZER;
static long stress_counter;

static void *stress_with_mutex(void *unused)
{
	(void)unused;
	for (int i = 0; i < STRESS_EACH; i++) {
		pthread_mutex_lock(&stress_mutex);
		stress_counter++;
		pthread_mutex_unlock(&stress_mutex);
	}
	return NULL;
}

/* Drepper's three-state futex lock ("Futexes Are Tricky", mutex 2): 0 free, 1 locked,
 * 2 locked with waiters. */
static atomic_int futex_lock_word;
static long futex_counter;
static atomic_long futex_waits;

static long futex(atomic_int *word, int op, int value)
{
	return syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, value, NULL, NULL, 0);
}

static void futex_lock(void)
{
	int expected = 0;
	if (atomic_compare_exchange_strong(&futex_lock_word, &expected, 1))
		return;
	if (expected != 2)
		expected = atomic_exchange(&futex_lock_word, 2);
	while (expected != 0) {
		atomic_fetch_add(&futex_waits, 1);
		futex(&futex_lock_word, FUTEX_WAIT, 2);
		expected = atomic_exchange(&futex_lock_word, 2);
	}
}

static void futex_unlock(void)
{
	if (atomic_fetch_sub(&futex_lock_word, 1) != 1) {
		atomic_store(&futex_lock_word, 0);
		futex(&futex_lock_word, FUTEX_WAKE, 1);
	}
}

static void *stress_with_futex(void *unused)
{
	(void)unused;
	for (int i = 0; i < STRESS_EACH; i++) {
		futex_lock();
		long value = futex_counter;
		/* Now and then give the CPU away inside the lock, so waiters really sleep. */
		if (i % 1000 == 0)
			sched_yield();
		futex_counter = value + 1;
		futex_unlock();
	}
	return NULL;
}

static void futex_stress(void)
{
	pthread_t threads[STRESS_THREADS];
	int created = 0;
	for (int i = 0; i < STRESS_THREADS; i++)
		create(&threads[i], NULL, stress_with_mutex, NULL), created++;
	for (int i = 0; i < created; i++)
		pthread_join(threads[i], NULL);
	check("pthread mutex stress: 8 threads x 100000 increments give exactly 800000",
	      created == STRESS_THREADS && stress_counter == (long)STRESS_THREADS * STRESS_EACH,
	      "%d threads created, total %ld", created, stress_counter);

	created = 0;
	for (int i = 0; i < STRESS_THREADS; i++)
		create(&threads[i], NULL, stress_with_futex, NULL), created++;
	for (int i = 0; i < created; i++)
		pthread_join(threads[i], NULL);
	check("raw futex lock stress: 8 threads x 100000 increments give exactly 800000, waiters slept",
	      created == STRESS_THREADS && futex_counter == (long)STRESS_THREADS * STRESS_EACH &&
		      atomic_load(&futex_waits) > 0,
	      "%d threads created, total %ld, %ld futex waits", created, futex_counter,
	      atomic_load(&futex_waits));
}

/* ---- mutex kinds ---- */

static pthread_mutex_t shared_mutex;

static void *try_lock_result(void *unused)
{
	(void)unused;
	int result = pthread_mutex_trylock(&shared_mutex);
	if (result == 0)
		pthread_mutex_unlock(&shared_mutex);
	return (void *)(intptr_t)result;
}

static void *unlock_result(void *unused)
{
	(void)unused;
	return (void *)(intptr_t)pthread_mutex_unlock(&shared_mutex);
}

static void *timed_lock_result(void *unused)
{
	(void)unused;
	struct timespec deadline = deadline_in(CLOCK_REALTIME, 50);
	long long started = now_ns(CLOCK_MONOTONIC);
	int result = pthread_mutex_timedlock(&shared_mutex, &deadline);
	long long waited_ms = (now_ns(CLOCK_MONOTONIC) - started) / 1000000;
	return (void *)(intptr_t)(result == ETIMEDOUT && waited_ms >= 45 ? 0 : 1000 + result);
}

static intptr_t run_and_join(void *(*body)(void *))
{
	pthread_t thread;
	void *result = (void *)(intptr_t)-1;
	create(&thread, NULL, body, NULL);
	pthread_join(thread, &result);
	return (intptr_t)result;
}

static void mutex_kinds(void)
{
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&shared_mutex, &attr);
	pthread_mutex_lock(&shared_mutex);
	int relock = pthread_mutex_lock(&shared_mutex);
	intptr_t foreign_unlock = run_and_join(unlock_result);
	intptr_t busy = run_and_join(try_lock_result);
	intptr_t timed = run_and_join(timed_lock_result);
	pthread_mutex_unlock(&shared_mutex);
	intptr_t free_now = run_and_join(try_lock_result);
	check("error-checking mutex: relock EDEADLK, unlock by another thread EPERM, trylock EBUSY, "
	      "timedlock ETIMEDOUT after 50 ms, free once unlocked",
	      relock == EDEADLK && foreign_unlock == EPERM && busy == EBUSY && timed == 0 && free_now == 0,
	      "relock %d, foreign unlock %ld, trylock %ld, timedlock %ld, then %ld", relock,
	      (long)foreign_unlock, (long)busy, (long)timed, (long)free_now);
	pthread_mutex_destroy(&shared_mutex);

	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&shared_mutex, &attr);
	int locks = pthread_mutex_lock(&shared_mutex) + pthread_mutex_lock(&shared_mutex) +
		    pthread_mutex_trylock(&shared_mutex);
	pthread_mutex_unlock(&shared_mutex);
	pthread_mutex_unlock(&shared_mutex);
	intptr_t held_once = run_and_join(try_lock_result);
	pthread_mutex_unlock(&shared_mutex);
	intptr_t released = run_and_join(try_lock_result);
	check("recursive mutex: locked 3 times by its owner, held until the third unlock",
	      locks == 0 && held_once == EBUSY && released == 0, "locks %d, after 2 unlocks %ld, after 3 %ld",
	      locks, (long)held_once, (long)released);
	pthread_mutex_destroy(&shared_mutex);
	pthread_mutexattr_destroy(&attr);
}

/* ---- condition variables ---- */

static pthread_mutex_t queue_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_changed = PTHREAD_COND_INITIALIZER;
static int queue[4], queue_length, queue_head;
#define ITEMS 10000

static void *produce(void *unused)
{
	(void)unused;
	for (int item = 1; item <= ITEMS; item++) {
		pthread_mutex_lock(&queue_mutex);
		while (queue_length == 4)
			pthread_cond_wait(&queue_changed, &queue_mutex);
		queue[(queue_head + queue_length) % 4] = item;
		queue_length++;
		pthread_cond_broadcast(&queue_changed);
		pthread_mutex_unlock(&queue_mutex);
	}
	return NULL;
}

static int go_flag, waiting_count;

static void *wait_for_go(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&queue_mutex);
	waiting_count++;
	pthread_cond_broadcast(&queue_changed);
	while (!go_flag)
		pthread_cond_wait(&queue_changed, &queue_mutex);
	pthread_mutex_unlock(&queue_mutex);
	return (void *)1;
}

static void *signal_after_20ms(void *cond)
{
	sleep_ms(20);
	pthread_mutex_lock(&queue_mutex);
	go_flag = 2;
	pthread_cond_signal((pthread_cond_t *)cond);
	pthread_mutex_unlock(&queue_mutex);
	return NULL;
}

static void condition_variables(void)
{
	pthread_t producer;
	create(&producer, NULL, produce, NULL);
	long long sum = 0;
	int in_order = 1, expected = 1;
	for (int taken = 0; taken < ITEMS; taken++) {
		pthread_mutex_lock(&queue_mutex);
		while (queue_length == 0)
			pthread_cond_wait(&queue_changed, &queue_mutex);
		int item = queue[queue_head];
		queue_head = (queue_head + 1) % 4;
		queue_length--;
		pthread_cond_broadcast(&queue_changed);
		pthread_mutex_unlock(&queue_mutex);
		in_order &= item == expected++;
		sum += item;
	}
	pthread_join(producer, NULL);
	check("condition variable: 10000 items through a queue of 4, in order, sum 50005000",
	      in_order && sum == 50005000LL, "in order %d, sum %lld", in_order, sum);

	pthread_t waiters[4];
	for (int i = 0; i < 4; i++)
		create(&waiters[i], NULL, wait_for_go, NULL);
	pthread_mutex_lock(&queue_mutex);
	while (waiting_count < 4)
		pthread_cond_wait(&queue_changed, &queue_mutex);
	go_flag = 1;
	pthread_cond_broadcast(&queue_changed);
	pthread_mutex_unlock(&queue_mutex);
	int woken = 0;
	for (int i = 0; i < 4; i++) {
		void *result = NULL;
		pthread_join(waiters[i], &result);
		woken += result == (void *)1;
	}
	check("pthread_cond_broadcast wakes all 4 waiters", woken == 4, "%d woke", woken);

	for (int monotonic = 0; monotonic <= 1; monotonic++) {
		clockid_t clock = monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME;
		pthread_condattr_t attr;
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, clock);
		pthread_cond_t cond;
		pthread_cond_init(&cond, &attr);
		pthread_mutex_lock(&queue_mutex);
		struct timespec deadline = deadline_in(clock, 50);
		long long started = now_ns(CLOCK_MONOTONIC);
		int result = pthread_cond_timedwait(&cond, &queue_mutex, &deadline);
		long long waited_ms = (now_ns(CLOCK_MONOTONIC) - started) / 1000000;
		int past = now_ns(clock) >= deadline.tv_sec * 1000000000LL + deadline.tv_nsec;
		pthread_mutex_unlock(&queue_mutex);
		check(monotonic ? "pthread_cond_timedwait on CLOCK_MONOTONIC, never signalled: ETIMEDOUT at the deadline"
				: "pthread_cond_timedwait on CLOCK_REALTIME, never signalled: ETIMEDOUT at the deadline",
		      result == ETIMEDOUT && past && waited_ms >= 45, "%d after %lld ms, past the deadline %d", result,
		      waited_ms, past);

		go_flag = 0;
		pthread_t signaller;
		pthread_mutex_lock(&queue_mutex);
		create(&signaller, NULL, signal_after_20ms, &cond);
		deadline = deadline_in(clock, 10000);
		started = now_ns(CLOCK_MONOTONIC);
		result = 0;
		while (go_flag != 2 && result == 0)
			result = pthread_cond_timedwait(&cond, &queue_mutex, &deadline);
		waited_ms = (now_ns(CLOCK_MONOTONIC) - started) / 1000000;
		pthread_mutex_unlock(&queue_mutex);
		pthread_join(signaller, NULL);
		check(monotonic ? "pthread_cond_timedwait (CLOCK_MONOTONIC, 10 s) signalled after 20 ms: 0, well before the deadline"
				: "pthread_cond_timedwait (CLOCK_REALTIME, 10 s) signalled after 20 ms: 0, well before the deadline",
		      result == 0 && go_flag == 2 && waited_ms < 5000, "%d after %lld ms", result, waited_ms);
		pthread_cond_destroy(&cond);
		pthread_condattr_destroy(&attr);
	}
}

/* ---- rwlocks and barriers ---- */

static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t readers_inside, readers_release;
static long rw_counter;

static void *hold_read_lock(void *unused)
{
	(void)unused;
	int result = pthread_rwlock_rdlock(&rwlock);
	pthread_barrier_wait(&readers_inside);
	pthread_barrier_wait(&readers_release);
	pthread_rwlock_unlock(&rwlock);
	return (void *)(intptr_t)result;
}

static void *write_increments(void *unused)
{
	(void)unused;
	for (int i = 0; i < 10000; i++) {
		pthread_rwlock_wrlock(&rwlock);
		long value = rw_counter;
		if (i % 500 == 0)
			sched_yield();
		rw_counter = value + 1;
		pthread_rwlock_unlock(&rwlock);
	}
	return NULL;
}

static void rwlocks(void)
{
	/* All 4 readers hold the lock at once: they meet at a barrier while holding it. */
	pthread_barrier_init(&readers_inside, NULL, 5);
	pthread_barrier_init(&readers_release, NULL, 5);
	pthread_t readers[4];
	for (int i = 0; i < 4; i++)
		create(&readers[i], NULL, hold_read_lock, NULL);
	pthread_barrier_wait(&readers_inside);
	int try_write = pthread_rwlock_trywrlock(&rwlock);
	struct timespec deadline = deadline_in(CLOCK_REALTIME, 30);
	int timed_write = pthread_rwlock_timedwrlock(&rwlock, &deadline);
	int try_read = pthread_rwlock_tryrdlock(&rwlock);
	if (try_read == 0)
		pthread_rwlock_unlock(&rwlock);
	pthread_barrier_wait(&readers_release);
	int reads_ok = 1;
	for (int i = 0; i < 4; i++) {
		void *result = (void *)1;
		pthread_join(readers[i], &result);
		reads_ok &= result == NULL;
	}
	check("rwlock: 4 readers hold it at once; trywrlock EBUSY, timedwrlock ETIMEDOUT, tryrdlock 0 meanwhile",
	      reads_ok && try_write == EBUSY && timed_write == ETIMEDOUT && try_read == 0,
	      "readers %d, trywrlock %d, timedwrlock %d, tryrdlock %d", reads_ok, try_write, timed_write, try_read);

	pthread_t writers[4];
	for (int i = 0; i < 4; i++)
		create(&writers[i], NULL, write_increments, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(writers[i], NULL);
	check("rwlock: 4 writers x 10000 read-yield-write increments give exactly 40000", rw_counter == 40000,
	      "total %ld", rw_counter);
}

static pthread_barrier_t round_barrier;
static atomic_int arrivals, serial_count, early_count;

static void *barrier_rounds(void *unused)
{
	(void)unused;
	for (int round = 0; round < 10; round++) {
		atomic_fetch_add(&arrivals, 1);
		if (pthread_barrier_wait(&round_barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
			atomic_fetch_add(&serial_count, 1);
		if (atomic_load(&arrivals) < 4 * (round + 1))
			atomic_fetch_add(&early_count, 1);
	}
	return NULL;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int once_runs;

static void run_once(void)
{
	sleep_ms(5);
	atomic_fetch_add(&once_runs, 1);
}

static void *call_once(void *unused)
{
	(void)unused;
	pthread_once(&once, run_once);
	return (void *)(intptr_t)atomic_load(&once_runs);
}

static void barriers_and_once(void)
{
	pthread_barrier_init(&round_barrier, NULL, 4);
	pthread_t threads[8];
	for (int i = 0; i < 4; i++)
		create(&threads[i], NULL, barrier_rounds, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	check("barrier: 4 threads x 10 rounds, one PTHREAD_BARRIER_SERIAL_THREAD a round, nobody through early",
	      atomic_load(&serial_count) == 10 && atomic_load(&early_count) == 0, "%d serial, %d early",
	      atomic_load(&serial_count), atomic_load(&early_count));

	int saw_done = 1;
	for (int i = 0; i < 8; i++)
		create(&threads[i], NULL, call_once, NULL);
	for (int i = 0; i < 8; i++) {
		void *runs = NULL;
		pthread_join(threads[i], &runs);
		saw_done &= runs == (void *)1;
	}
	check("pthread_once from 8 threads: the routine runs once, every caller returns after it",
	      atomic_load(&once_runs) == 1 && saw_done, "%d runs, all saw it done %d", atomic_load(&once_runs),
	      saw_done);
}

/* ---- thread-local storage ---- */

static __thread int tls_value = 42;
static __thread char tls_block[256];
static pthread_key_t key;
static atomic_long destructor_sum;

static void key_destructor(void *value)
{
	atomic_fetch_add(&destructor_sum, (long)(intptr_t)value);
}

static void *use_tls(void *index_pointer)
{
	int index = (int)(intptr_t)index_pointer;
	int initial = tls_value;
	tls_value = 100 + index;
	memset(tls_block, index, sizeof tls_block);
	pthread_setspecific(key, (void *)(intptr_t)(index + 1));
	sleep_ms(10);
	int kept = tls_value == 100 + index && tls_block[0] == index && tls_block[255] == index &&
		   pthread_getspecific(key) == (void *)(intptr_t)(index + 1);
	return (void *)(intptr_t)(initial == 42 && kept);
}

static void thread_local_storage(void)
{
	pthread_key_create(&key, key_destructor);
	tls_value = 7;
	pthread_t threads[4];
	for (int i = 0; i < 4; i++)
		create(&threads[i], NULL, use_tls, (void *)(intptr_t)i);
	int all = 1;
	for (int i = 0; i < 4; i++) {
		void *result = NULL;
		pthread_join(threads[i], &result);
		all &= result == (void *)1;
	}
	check("__thread: each thread starts from 42 and keeps its own values; the main thread's are untouched",
	      all && tls_value == 7, "threads %d, main %d", all, tls_value);
	check("pthread_key destructors ran with each thread's value (1 + 2 + 3 + 4)",
	      atomic_load(&destructor_sum) == 10, "sum %ld", atomic_load(&destructor_sum));
	pthread_key_delete(key);
}

/* ---- cancellation ---- */

static int cancel_pipe[2];
static atomic_int cleanup_ran;

static void note_cleanup(void *what)
{
	atomic_fetch_add(&cleanup_ran, (int)(intptr_t)what);
}

static void *block_in_read(void *unused)
{
	(void)unused;
	char byte;
	pthread_cleanup_push(note_cleanup, (void *)1);
	read(cancel_pipe[0], &byte, 1);
	pthread_cleanup_pop(0);
	return (void *)2;
}

static void *block_in_sleep(void *unused)
{
	(void)unused;
	pthread_cleanup_push(note_cleanup, (void *)10);
	sleep_ms(60000);
	pthread_cleanup_pop(0);
	return (void *)2;
}

static pthread_mutex_t cancel_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_cond = PTHREAD_COND_INITIALIZER;

static void unlock_cancel_mutex(void *unused)
{
	(void)unused;
	atomic_fetch_add(&cleanup_ran, 100);
	pthread_mutex_unlock(&cancel_mutex);
}

static void *block_in_cond_wait(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&cancel_mutex);
	pthread_cleanup_push(unlock_cancel_mutex, NULL);
	for (;;)
		pthread_cond_wait(&cancel_cond, &cancel_mutex);
	pthread_cleanup_pop(1);
	return (void *)2;
}

static atomic_int disabled_phase;

static void *cancel_disabled_for_a_while(void *unused)
{
	(void)unused;
	int old;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	atomic_store(&disabled_phase, 1);
	/* A cancellation point while disabled: the pending cancel must not act here. */
	while (atomic_load(&disabled_phase) == 1)
		sleep_ms(1);
	atomic_store(&disabled_phase, 3);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	pthread_testcancel();
	atomic_store(&disabled_phase, 4);
	return (void *)2;
}

/* Cancels `thread` after it has had `ms` to block; the join's result. */
static void *cancel_after(pthread_t thread, long ms)
{
	sleep_ms(ms);
	pthread_cancel(thread);
	void *result = NULL;
	pthread_join(thread, &result);
	return result;
}

static void cancellation(void)
{
	pipe(cancel_pipe);
	pthread_t thread;
	create(&thread, NULL, block_in_read, NULL);
	void *result = cancel_after(thread, 30);
	check("pthread_cancel of a thread blocked in read(2): PTHREAD_CANCELED, its cleanup handler ran",
	      result == PTHREAD_CANCELED && atomic_load(&cleanup_ran) == 1, "result %p, cleanup %d", result,
	      atomic_load(&cleanup_ran));

	atomic_store(&cleanup_ran, 0);
	create(&thread, NULL, block_in_sleep, NULL);
	long long started = now_ns(CLOCK_MONOTONIC);
	result = cancel_after(thread, 30);
	long long took_ms = (now_ns(CLOCK_MONOTONIC) - started) / 1000000;
	check("pthread_cancel of a thread in a 60 s nanosleep: PTHREAD_CANCELED at once, cleanup ran",
	      result == PTHREAD_CANCELED && atomic_load(&cleanup_ran) == 10 && took_ms < 30000,
	      "result %p, cleanup %d, after %lld ms", result, atomic_load(&cleanup_ran), took_ms);

	atomic_store(&cleanup_ran, 0);
	create(&thread, NULL, block_in_cond_wait, NULL);
	result = cancel_after(thread, 30);
	int relockable = pthread_mutex_trylock(&cancel_mutex);
	if (relockable == 0)
		pthread_mutex_unlock(&cancel_mutex);
	check("pthread_cancel in pthread_cond_wait: the cleanup handler runs with the mutex held and unlocks it",
	      result == PTHREAD_CANCELED && atomic_load(&cleanup_ran) == 100 && relockable == 0,
	      "result %p, cleanup %d, trylock afterwards %d", result, atomic_load(&cleanup_ran), relockable);

	create(&thread, NULL, cancel_disabled_for_a_while, NULL);
	while (atomic_load(&disabled_phase) != 1)
		sleep_ms(1);
	pthread_cancel(thread);
	sleep_ms(30);
	int survived = atomic_load(&disabled_phase) == 1;
	atomic_store(&disabled_phase, 2);
	result = NULL;
	pthread_join(thread, &result);
	check("cancellation disabled: the thread runs on through nanosleep; enabled again, pthread_testcancel acts",
	      survived && result == PTHREAD_CANCELED && atomic_load(&disabled_phase) == 3,
	      "survived %d, result %p, phase %d", survived, result, atomic_load(&disabled_phase));
	close(cancel_pipe[0]);
	close(cancel_pipe[1]);
}

/* ---- signals, semaphores, stacks, detached and robust ---- */

static atomic_int handled_by;

static void record_tid(int signo)
{
	(void)signo;
	atomic_store(&handled_by, gettid_());
}

static atomic_int target_tid;

static void *wait_for_signal(void *unused)
{
	(void)unused;
	atomic_store(&target_tid, gettid_());
	for (int i = 0; i < 30000 && atomic_load(&handled_by) == 0; i++)
		sleep_ms(1);
	return NULL;
}

static sem_t semaphore;

static void *post_three(void *unused)
{
	(void)unused;
	for (int i = 0; i < 3; i++) {
		sleep_ms(5);
		sem_post(&semaphore);
	}
	return NULL;
}

static void *deep_stack(void *unused)
{
	(void)unused;
	volatile char block[768 * 1024];
	for (size_t i = 0; i < sizeof block; i += 4096)
		block[i] = (char)i;
	long sum = 0;
	for (size_t i = 0; i < sizeof block; i += 4096)
		sum += block[i];
	return (void *)sum;
}

static atomic_int detached_ran;

static void *detached_body(void *unused)
{
	(void)unused;
	atomic_store(&detached_ran, 1);
	return NULL;
}

static pthread_mutex_t robust_mutex;

static void *lock_and_exit(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&robust_mutex);
	return NULL;
}

static void signals_and_more(void)
{
	struct sigaction action;
	memset(&action, 0, sizeof action);
	action.sa_handler = record_tid;
	sigaction(SIGUSR1, &action, NULL);
	pthread_t thread;
	create(&thread, NULL, wait_for_signal, NULL);
	while (atomic_load(&target_tid) == 0)
		sleep_ms(1);
	int sent = pthread_kill(thread, SIGUSR1);
	pthread_join(thread, NULL);
	check("pthread_kill(thread, SIGUSR1): the handler runs on that thread",
	      sent == 0 && atomic_load(&handled_by) == atomic_load(&target_tid), "pthread_kill %d, handled by %d, target %d",
	      sent, atomic_load(&handled_by), atomic_load(&target_tid));

	sem_init(&semaphore, 0, 0);
	struct timespec deadline = deadline_in(CLOCK_REALTIME, 30);
	int timed = sem_timedwait(&semaphore, &deadline);
	int timed_errno = errno;
	create(&thread, NULL, post_three, NULL);
	int waits = 0;
	for (int i = 0; i < 3; i++)
		waits += sem_wait(&semaphore) == 0;
	pthread_join(thread, NULL);
	int value = -1;
	sem_getvalue(&semaphore, &value);
	int try = sem_trywait(&semaphore);
	int try_errno = errno;
	check("semaphore: sem_timedwait ETIMEDOUT; three posts from a thread let three waits through; then EAGAIN",
	      timed == -1 && timed_errno == ETIMEDOUT && waits == 3 && value == 0 && try == -1 && try_errno == EAGAIN,
	      "timedwait %d/%d, %d waits, value %d, trywait %d/%d", timed, timed_errno, waits, value, try, try_errno);
	sem_destroy(&semaphore);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1 << 20);
	void *result = NULL;
	create(&thread, &attr, deep_stack, NULL);
	pthread_join(thread, &result);
	long expected = 0;
	for (size_t i = 0; i < 768 * 1024; i += 4096)
		expected += (char)i;
	check("a 1 MiB stack from pthread_attr_setstacksize: 768 KiB of it used", (long)result == expected,
	      "result %ld, expected %ld", (long)result, expected);

	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	create(&thread, &attr, detached_body, NULL);
	for (int i = 0; i < 10000 && !atomic_load(&detached_ran); i++)
		sleep_ms(1);
	check("a detached thread runs", atomic_load(&detached_ran), "it did not run within 10 s");
	pthread_attr_destroy(&attr);

	pthread_mutexattr_t mutex_attr;
	pthread_mutexattr_init(&mutex_attr);
	pthread_mutexattr_setrobust(&mutex_attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust_mutex, &mutex_attr);
	create(&thread, NULL, lock_and_exit, NULL);
	pthread_join(thread, NULL);
	int dead_owner = pthread_mutex_lock(&robust_mutex);
	int made_consistent = pthread_mutex_consistent(&robust_mutex);
	pthread_mutex_unlock(&robust_mutex);
	int relocked = pthread_mutex_lock(&robust_mutex);
	pthread_mutex_unlock(&robust_mutex);
	check("a robust mutex whose owner thread exited: EOWNERDEAD, consistent again, then locks normally",
	      dead_owner == EOWNERDEAD && made_consistent == 0 && relocked == 0, "lock %d, consistent %d, relock %d",
	      dead_owner, made_consistent, relocked);
	pthread_mutexattr_destroy(&mutex_attr);
}

/* ---- a process-shared mutex across fork ---- */

struct shared_block {
	pthread_mutex_t mutex;
	long counter;
};

static void process_shared(void)
{
	struct shared_block *block =
		mmap(NULL, sizeof *block, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (block == MAP_FAILED) {
		check("a process-shared mutex in MAP_SHARED memory", 0, "mmap: errno %d", errno);
		return;
	}
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&block->mutex, &attr);
	block->counter = 0;
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 100000; i++) {
			pthread_mutex_lock(&block->mutex);
			long value = block->counter;
			if (i % 1000 == 0)
				sched_yield();
			block->counter = value + 1;
			pthread_mutex_unlock(&block->mutex);
		}
		_exit(0);
	}
	for (int i = 0; i < 100000; i++) {
		pthread_mutex_lock(&block->mutex);
		long value = block->counter;
		if (i % 1000 == 0)
			sched_yield();
		block->counter = value + 1;
		pthread_mutex_unlock(&block->mutex);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	check("a PTHREAD_PROCESS_SHARED mutex in MAP_SHARED memory: parent and child x 100000 give exactly 200000",
	      WIFEXITED(status) && WEXITSTATUS(status) == 0 && block->counter == 200000, "status %#x, total %ld",
	      status, block->counter);
	munmap(block, sizeof *block);
}

int main(void)
{
	/* First the check that needs no threads (fork and a process-shared mutex). */
	process_shared();
	futex_stress();
	mutex_kinds();
	condition_variables();
	rwlocks();
	barriers_and_once();
	thread_local_storage();
	cancellation();
	signals_and_more();
	printf("pthreads: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
