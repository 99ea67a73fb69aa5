/*
 * The machine's floor for `ring.doorbell.asleep`: how soon a process asleep in the kernel
 * on a shared futex word can run again after another process publishes work and wakes it,
 * measured as bench/ring.ts measures mpdk's doorbell, with nothing of Node or mpdk in the
 * way. Built and run by bench/futex-floor.ts when a C compiler is there:
 *   cc -O2 -o futex_wake futex_wake.c
 *
 * Two processes share one anonymous MAP_SHARED page (the kernel keys a shared futex on the
 * page, as on mpdk's /dev/shm file). The waker, every GAP ms (nanosleep), reads the monotonic
 * clock into T0, publishes one "entry" (a counter, as a ring's producer tail) and, when the
 * sleeper has registered as waiting, bumps the bell word and FUTEX_WAKEs it: mpdk's doorbell
 * protocol (src/ring/doorbell.ts, D1). It then polls every ms until the sleeper has taken
 * the sample, as the bench's parent does. The sleeper polls for its spin budget after its
 * last wake-up, then registers, reads the bell, re-checks the counter and sleeps on the bell
 * (FUTEX_WAIT, or futex_waitv with -v) with a 100 ms timeout; once the counter has moved it
 * stores now - T0. Its CPU use (its own CLOCK_PROCESS_CPUTIME_ID) is taken over the same
 * span.
 *
 *   -n N     wake-ups (150)            -g MS   gap between them (20)
 *   -s US    sleeper's spin budget: polls this long after each wake-up, then sleeps (0)
 *   -v       sleep in futex_waitv (syscall 449) instead of FUTEX_WAIT
 *   -a       the sleeper's way of an event loop (ring.async): a helper thread of the sleeper
 *            (as libuv's pool thread, unpinned) sleeps in the futex and then writes an
 *            eventfd, which the sleeper's main thread waits for in epoll_wait (as libuv's
 *            loop waits for uv_async): the floor of the two-thread hop
 *   -c CPU   sleeper's CPU (1; -1: unpinned)      -w CPU  waker's CPU (-1: unpinned)
 *   -t NS    sleeper's timer slack (prctl PR_SET_TIMERSLACK; default: the kernel's 50 us)
 *   -f       sleeper in SCHED_FIFO priority 1 (needs CAP_SYS_NICE; exits 3 without it)
 *   -q       hold /dev/cpu_dma_latency at 0 while running: idle CPUs poll instead of
 *            halting (PM QoS; released when the program exits). Not a fix to ship: the
 *            host burns the idle vCPU; it shows what halting costs.
 *
 * Prints one JSON line: {"p50_us","p99_us","cpu_pct","wake_call_ns"} (wake_call_ns: the
 * waker's FUTEX_WAKE syscall, p50). Exit 1 on a failure, with a line on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#define FUTEX2_SIZE_U32 0x02
struct waitv {
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

#define MAX_N 4096
/* One line per writer, as mpdk's ring lays its words out. */
struct shared {
	_Alignas(128) uint32_t tail;     /* waker: entries published */
	_Alignas(128) uint32_t bell;     /* waker bumps it when waiters != 0 */
	uint32_t waiters;                /* sleeper: +1 while registered */
	_Alignas(128) int64_t t0;        /* waker: ns of the last publish */
	_Alignas(128) uint32_t taken;    /* sleeper: samples stored */
	uint32_t ready;
	double cpu_pct;
	double samples[MAX_N];           /* sleeper: ns from T0 to running again */
};

static int64_t now_ns(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t s;

	if (cpu < 0)
		return;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s) != 0) {
		fprintf(stderr, "futex_wake: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
		exit(1);
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void sleep_on(struct shared *s, uint32_t seen, int waitv)
{
	if (waitv) {
		struct waitv w = { seen, (uint64_t)(uintptr_t)&s->bell, FUTEX2_SIZE_U32, 0 };
		struct timespec dl;

		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_nsec += 100000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		syscall(SYS_futex_waitv, &w, 1, 0, &dl, CLOCK_MONOTONIC);
	} else {
		struct timespec to = { 0, 100000000 };

		syscall(SYS_futex, &s->bell, FUTEX_WAIT, seen, &to, NULL, 0);
	}
}

/* -a: the helper thread sleeps on the bell for the main thread and signals it through an eventfd. */
static struct {
	struct shared *s;
	int efd;                /* helper -> main: the bell moved (or the sleep ended) */
	uint32_t req;           /* main -> helper (private futex): bumped per request */
	uint32_t seen;          /* the bell's value the request sleeps on */
	int waitv;
} hop;

static void *helper(void *arg)
{
	uint32_t done = 0;
	uint64_t one = 1;

	(void)arg;
	for (;;) {
		while (__atomic_load_n(&hop.req, __ATOMIC_ACQUIRE) == done)
			syscall(SYS_futex, &hop.req, FUTEX_WAIT_PRIVATE, done, NULL, NULL, 0);
		done = __atomic_load_n(&hop.req, __ATOMIC_ACQUIRE);
		sleep_on(hop.s, __atomic_load_n(&hop.seen, __ATOMIC_ACQUIRE), hop.waitv);
		if (write(hop.efd, &one, sizeof(one)) != sizeof(one))
			_exit(1);
	}
	return NULL;
}

/* The sleep of -a: hand the bell to the helper, wait in epoll for its eventfd. */
static void sleep_hop(int ep, uint32_t seen)
{
	struct epoll_event ev;
	uint64_t v;

	__atomic_store_n(&hop.seen, seen, __ATOMIC_RELEASE);
	__atomic_add_fetch(&hop.req, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &hop.req, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	while (epoll_wait(ep, &ev, 1, -1) != 1)
		;
	if (read(hop.efd, &v, sizeof(v)) != sizeof(v))
		_exit(1);
}

static void sleeper(struct shared *s, int n, int64_t spin_ns, int waitv, int async)
{
	int ep = -1;

	if (async) {
		pthread_t t;
		struct epoll_event ev = { .events = EPOLLIN };
		cpu_set_t all;

		hop.s = s;
		hop.waitv = waitv;
		hop.efd = eventfd(0, 0);
		ep = epoll_create1(0);
		if (hop.efd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, hop.efd, &ev) != 0) {
			fprintf(stderr, "futex_wake: eventfd/epoll: %s\n", strerror(errno));
			_exit(1);
		}
		/* The helper is unpinned, as libuv's pool threads (the main thread is pinned). */
		CPU_ZERO(&all);
		for (int c = 0; c < CPU_SETSIZE; c++)
			CPU_SET(c, &all);
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setaffinity_np(&a, sizeof(all), &all);
		if (pthread_create(&t, &a, helper, NULL) != 0) {
			fprintf(stderr, "futex_wake: pthread_create failed\n");
			_exit(1);
		}
	}
	uint32_t have = 0;
	int64_t c0 = 0, w0 = 0;

	__atomic_store_n(&s->ready, 1, __ATOMIC_SEQ_CST);
	while (have < (uint32_t)n) {
		int64_t last = now_ns(CLOCK_MONOTONIC);

		for (;;) {
			if (__atomic_load_n(&s->tail, __ATOMIC_ACQUIRE) != have)
				break;
			if (spin_ns > 0 && now_ns(CLOCK_MONOTONIC) - last < spin_ns) {
				__builtin_ia32_pause();
				continue;
			}
			__atomic_add_fetch(&s->waiters, 1, __ATOMIC_SEQ_CST);
			uint32_t seen = __atomic_load_n(&s->bell, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&s->tail, __ATOMIC_SEQ_CST) == have) {
				if (async)
					sleep_hop(ep, seen);
				else
					sleep_on(s, seen, waitv);
			}
			__atomic_sub_fetch(&s->waiters, 1, __ATOMIC_SEQ_CST);
		}
		int64_t t = now_ns(CLOCK_MONOTONIC);
		s->samples[have] = (double)(t - __atomic_load_n(&s->t0, __ATOMIC_ACQUIRE));
		if (have == 0) {
			c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
			w0 = t;
		} else if (have == (uint32_t)n - 1) {
			s->cpu_pct = 100.0 * (double)(now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)(t - w0);
		}
		have++;
		__atomic_store_n(&s->taken, have, __ATOMIC_RELEASE);
	}
}

int main(int argc, char **argv)
{
	int n = 150, gap_ms = 20, waitv = 0, async = 0, cpu = 1, wcpu = -1, fifo = 0, qos = 0, o;
	long slack = -1;
	double spin_us = 0;

	while ((o = getopt(argc, argv, "n:g:s:vac:w:t:fq")) != -1) {
		switch (o) {
		case 'n': n = atoi(optarg); break;
		case 'g': gap_ms = atoi(optarg); break;
		case 's': spin_us = atof(optarg); break;
		case 'v': waitv = 1; break;
		case 'a': async = 1; break;
		case 'c': cpu = atoi(optarg); break;
		case 'w': wcpu = atoi(optarg); break;
		case 't': slack = atol(optarg); break;
		case 'f': fifo = 1; break;
		case 'q': qos = 1; break;
		default:
			fprintf(stderr, "usage: futex_wake [-n N] [-g MS] [-s US] [-v] [-a] [-c CPU] [-w CPU] [-t NS] [-f] [-q]\n");
			return 1;
		}
	}
	if (n < 2 || n > MAX_N || gap_ms < 1) {
		fprintf(stderr, "futex_wake: -n from 2 to %d, -g at least 1\n", MAX_N);
		return 1;
	}
	int qfd = -1;
	if (qos) {
		int32_t zero = 0;

		qfd = open("/dev/cpu_dma_latency", O_WRONLY);
		if (qfd < 0 || write(qfd, &zero, sizeof(zero)) != sizeof(zero)) {
			fprintf(stderr, "futex_wake: cannot hold /dev/cpu_dma_latency: %s\n", strerror(errno));
			return 1;
		}
	}
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED) {
		fprintf(stderr, "futex_wake: mmap: %s\n", strerror(errno));
		return 1;
	}
	memset(s, 0, sizeof(*s));
	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "futex_wake: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pin(cpu);
		if (slack >= 0 && prctl(PR_SET_TIMERSLACK, slack) != 0) {
			fprintf(stderr, "futex_wake: PR_SET_TIMERSLACK: %s\n", strerror(errno));
			_exit(1);
		}
		if (fifo) {
			struct sched_param p = { .sched_priority = 1 };

			if (sched_setscheduler(0, SCHED_FIFO, &p) != 0) {
				fprintf(stderr, "futex_wake: SCHED_FIFO: %s\n", strerror(errno));
				_exit(3);
			}
		}
		sleeper(s, n, (int64_t)(spin_us * 1000), waitv, async);
		_exit(0);
	}
	pin(wcpu);
	while (__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) == 0)
		usleep(1000);
	usleep(20000);
	static double calls[MAX_N];
	int ncalls = 0, status;
	for (int i = 0; i < n; i++) {
		struct timespec g = { gap_ms / 1000, (long)(gap_ms % 1000) * 1000000 };

		nanosleep(&g, NULL);
		__atomic_store_n(&s->t0, now_ns(CLOCK_MONOTONIC), __ATOMIC_RELEASE);
		__atomic_store_n(&s->tail, (uint32_t)(i + 1), __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&s->waiters, __ATOMIC_SEQ_CST) != 0) {
			__atomic_add_fetch(&s->bell, 1, __ATOMIC_SEQ_CST);
			int64_t a = now_ns(CLOCK_MONOTONIC);
			syscall(SYS_futex, &s->bell, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
			calls[ncalls++] = (double)(now_ns(CLOCK_MONOTONIC) - a);
		}
		int64_t end = now_ns(CLOCK_MONOTONIC) + 1000000000;
		while (__atomic_load_n(&s->taken, __ATOMIC_ACQUIRE) < (uint32_t)(i + 1)) {
			if (now_ns(CLOCK_MONOTONIC) > end) {
				fprintf(stderr, "futex_wake: wake-up %d not seen in 1 s\n", i);
				kill(child, SIGKILL);
				waitpid(child, &status, 0);
				return 1;
			}
			usleep(1000);
		}
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "futex_wake: the sleeper failed\n");
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	qsort(s->samples, n, sizeof(double), cmp);
	qsort(calls, ncalls, sizeof(double), cmp);
	printf("{\"p50_us\":%.2f,\"p99_us\":%.2f,\"cpu_pct\":%.2f,\"wake_call_ns\":%.0f}\n", s->samples[n / 2] / 1000,
	       s->samples[n * 99 / 100] / 1000, s->cpu_pct, ncalls ? calls[ncalls / 2] : 0.0);
	if (qfd >= 0)
		close(qfd);
	return 0;
}
