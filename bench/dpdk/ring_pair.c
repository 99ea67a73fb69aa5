/*
 * DPDK's rte_ring measured as mpdk's `ring.{spsc,mpmc}.burst32.xproc` measures its own:
 * a producer on lcore 0 enqueues bulks of 32 in a loop, a consumer on lcore 1 dequeues
 * bulks of 32 in a loop (rte_pause() when the ring refuses, as ring_perf_autotest), a
 * 4096-slot ring; after WARMUP_MS the consumer's count is read twice MEASURE_MS apart:
 * handles per second through the ring.
 *
 * Why not ring_perf_autotest's "two physical cores" figure alone: it prints the SUM of the
 * enqueuing core's and the dequeuing core's cycles per element, both measured over the
 * same ~1 M elements that pass between them, so TSC / that figure is about half the rate
 * at which handles move (each side spends the whole run's time on them). This program
 * reports the rate itself, and ring_perf's way beside it for checking.
 *
 * Built by bench/ring.ts at run time (bench/cc.ts):
 *   cc -O2 -o ring_pair ring_pair.c $(pkg-config --cflags --libs libdpdk) -lpthread
 *   ./ring_pair -l 0-1 --no-pci --no-huge -m 64 --in-memory --log-level=error -- spsc|mpmc
 * prints {"mps":..,"ringperf_mps":..} (ringperf: TSC Hz / (the producer's cycles per
 * element + the consumer's), as the anchor script computes from ring_perf_autotest's
 * output). The two lcores are threads of one process: DPDK's secondaries need hugepages,
 * and the ring's memory is shared the same way (cache lines cross cores alike).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_cycles.h>

#define RING_SIZE 4096
#define BURST 32
#define WARMUP_MS 300
#define MEASURE_MS 1000

static volatile int go, stop;
static volatile uint64_t consumed __rte_cache_aligned;
static uint64_t prod_cycles, prod_elems __rte_cache_aligned;
static uint64_t cons_cycles, cons_elems __rte_cache_aligned;
static int mp;

static int consumer(void *arg)
{
	struct rte_ring *r = arg;
	void *objs[BURST];
	uint64_t n = 0;

	while (!go)
		rte_pause();
	uint64_t t0 = rte_rdtsc();
	while (!stop) {
		unsigned k = mp ? rte_ring_mc_dequeue_bulk(r, objs, BURST, NULL)
				: rte_ring_sc_dequeue_bulk(r, objs, BURST, NULL);
		if (k == 0) {
			rte_pause();
			continue;
		}
		n += k;
		consumed = n;
	}
	cons_cycles = rte_rdtsc() - t0;
	cons_elems = n;
	return 0;
}

static void producer(struct rte_ring *r)
{
	void *objs[BURST] = { 0 };
	uint64_t n = 0;

	uint64_t t0 = rte_rdtsc();
	while (!stop) {
		unsigned k = mp ? rte_ring_mp_enqueue_bulk(r, objs, BURST, NULL)
				: rte_ring_sp_enqueue_bulk(r, objs, BURST, NULL);
		if (k == 0) {
			rte_pause();
			continue;
		}
		n += k;
	}
	prod_cycles = rte_rdtsc() - t0;
	prod_elems = n;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* The clock: a third thread (it sleeps; the producer and consumer lcores only check `stop`). */
static double rate;
static void *timer(void *arg)
{
	(void)arg;
	struct timespec w = { 0, WARMUP_MS * 1000000L };
	nanosleep(&w, NULL);
	uint64_t c0 = consumed;
	double t0 = now_ms();
	struct timespec m = { MEASURE_MS / 1000, (MEASURE_MS % 1000) * 1000000L };
	nanosleep(&m, NULL);
	uint64_t c1 = consumed;
	double t1 = now_ms();
	rate = (c1 - c0) / (t1 - t0) / 1e3;
	stop = 1;
	return NULL;
}

static int run(struct rte_ring *r, int multi, double *mps, double *ringperf)
{
	pthread_t t;
	unsigned cons_lcore = rte_get_next_lcore(rte_get_main_lcore(), 1, 0);

	mp = multi;
	go = 0;
	stop = 0;
	consumed = 0;
	rte_ring_reset(r);
	if (rte_eal_remote_launch(consumer, r, cons_lcore) != 0)
		return -1;
	if (pthread_create(&t, NULL, timer, NULL) != 0)
		return -1;
	go = 1;
	producer(r);
	pthread_join(t, NULL);
	rte_eal_wait_lcore(cons_lcore);
	*mps = rate;
	*ringperf = rte_get_tsc_hz() / 1e6 /
		((double)prod_cycles / prod_elems + (double)cons_cycles / cons_elems);
	return 0;
}

int main(int argc, char **argv)
{
	double mps, rp;
	int n = rte_eal_init(argc, argv);

	if (n < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= n;
	argv += n;
	int multi = argc > 1 && strcmp(argv[1], "mpmc") == 0;
	if (argc < 2 || (!multi && strcmp(argv[1], "spsc") != 0)) {
		fprintf(stderr, "usage: ring_pair EAL-OPTIONS -- spsc|mpmc\n");
		return 1;
	}
	if (rte_lcore_count() < 2) {
		fprintf(stderr, "ring_pair needs two lcores (-l 0-1)\n");
		return 1;
	}
	struct rte_ring *r = rte_ring_create("pair", RING_SIZE, rte_socket_id(), multi ? 0 : RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (r == NULL) {
		fprintf(stderr, "rte_ring_create: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (run(r, multi, &mps, &rp) != 0) {
		fprintf(stderr, "could not start the consumer lcore\n");
		return 1;
	}
	printf("{\"mps\":%.1f,\"ringperf_mps\":%.1f}\n", mps, rp);
	rte_ring_free(r);
	rte_eal_cleanup();
	return 0;
}
