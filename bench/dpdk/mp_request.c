/*
 * DPDK's own figure for `npm run bench -- mp`: the round trip of rte_mp_request_sync
 * between a DPDK primary and a secondary (lib/eal's multi-process channel), to stand beside
 * mpdk's eal.mp.request. Built by bench/mp.ts at run time with
 *   cc -O2 -o mp_request mp_request.c $(pkg-config --cflags --libs libdpdk)
 *
 *   ./mp_request EAL-OPTIONS                          the primary: answers action "ping"
 *                                                     with its data, prints READY, runs
 *                                                     until stdin closes
 *   ./mp_request EAL-OPTIONS --proc-type=secondary -- N
 *                                                     the secondary: N requests in a row
 *                                                     (after N/10 not timed), prints
 *                                                     {"p50_us":..,"p99_us":..,"mean_us":..}
 *
 * Secondaries need hugepages (--no-huge leaves them no memory to attach; --in-memory turns
 * the channel off): the bench gives both the same --huge-dir.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <rte_eal.h>
#include <rte_errno.h>

static int pong(const struct rte_mp_msg *msg, const void *peer)
{
	struct rte_mp_msg r;

	memset(&r, 0, sizeof(r));
	strcpy(r.name, msg->name);
	r.len_param = msg->len_param;
	memcpy(r.param, msg->param, msg->len_param);
	return rte_mp_reply(&r, peer);
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = rte_eal_init(argc, argv);

	if (n < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= n;
	argv += n;
	if (rte_eal_process_type() == RTE_PROC_PRIMARY) {
		char b[64];

		if (rte_mp_action_register("ping", pong) < 0) {
			fprintf(stderr, "rte_mp_action_register: %s\n", rte_strerror(rte_errno));
			return 1;
		}
		printf("READY\n");
		fflush(stdout);
		while (read(0, b, sizeof(b)) > 0)
			;
		rte_eal_cleanup();
		return 0;
	}

	int iters = argc > 1 ? atoi(argv[1]) : 2000;
	int warm = iters / 10;
	double *t = calloc(iters, sizeof(double)), sum = 0;
	struct rte_mp_msg m;
	struct timespec ts = { 5, 0 };

	memset(&m, 0, sizeof(m));
	strcpy(m.name, "ping");
	m.len_param = 8;
	for (int i = -warm; i < iters; i++) {
		struct rte_mp_reply rep;
		double t0 = now_us();

		if (rte_mp_request_sync(&m, &rep, &ts) < 0 || rep.nb_received != 1) {
			fprintf(stderr, "rte_mp_request_sync: %s\n", rte_strerror(rte_errno));
			return 1;
		}
		free(rep.msgs);
		if (i >= 0) {
			t[i] = now_us() - t0;
			sum += t[i];
		}
	}
	qsort(t, iters, sizeof(double), cmp);
	printf("{\"p50_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f}\n", t[iters / 2], t[iters * 99 / 100], sum / iters);
	rte_eal_cleanup();
	return 0;
}
