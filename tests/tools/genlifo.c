/*
 * genlifo.c - writes a seeded trace whose addresses come from a LIFO
 * allocator model (a freed block is the next one handed out, as glibc's
 * tcache does), so that libheaptape stores its addr columns as MRU_BSS
 * (spec/FORMAT.md 6.4).  Every op that carries addr appears, the caches
 * overflow (more than 64 live and freed blocks), some frees are of
 * blocks never allocated, and some allocations fail.
 *
 * usage: genlifo [-s SEED] [-n EVENTS] [-t THREADS] OUT
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heaptape.h"
#include "gen.h"

#define POOL 4096

static int fail(const char *what, int rc)
{
	fprintf(stderr, "genlifo: %s: %s\n", what, ht_strerror(rc));
	return 1;
}

static const uint8_t alloc_ops[] = {
	HT_OP_MALLOC, HT_OP_MALLOC, HT_OP_MALLOC, HT_OP_CALLOC,
	HT_OP_REALLOC, HT_OP_POSIX_MEMALIGN, HT_OP_HEAP_ALLOC,
	HT_OP_HEAP_REALLOC, HT_OP_REALLOCARRAY, HT_OP_VALLOC,
};
static const uint8_t free_ops[] = {
	HT_OP_FREE, HT_OP_FREE, HT_OP_FREE, HT_OP_FREE_SIZED,
	HT_OP_FREE_ALIGNED_SIZED, HT_OP_HEAP_FREE,
};

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	size_t n = 20000;
	int threads = 2, c, rc, fd;
	struct ht_writer_opts o;
	struct ht_writer *w;

	while ((c = getopt(argc, argv, "s:n:t:")) != -1) {
		switch (c) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'n': n = strtoul(optarg, NULL, 0); break;
		case 't': threads = atoi(optarg); break;
		default: return 2;
		}
	}
	if (optind + 1 != argc || threads < 1) {
		fprintf(stderr, "usage: genlifo [-s SEED] [-n EVENTS] "
				"[-t THREADS] OUT\n");
		return 2;
	}
	fd = open(argv[optind], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[optind]);
		return 1;
	}
	memset(&o, 0, sizeof(o));
	o.block_events = 5000;
	struct gen gu = { seed };
	uint8_t uuid[16];
	gen_uuid(&gu, uuid);
	o.uuid = uuid; /* spec/vectors/lifo.hex is made again unchanged */
	rc = ht_writer_open(&w, fd, &o);
	if (rc)
		return fail("open", rc);
	struct ht_event *ev = calloc(n ? n : 1, sizeof(*ev));
	uint64_t *live = malloc(POOL * sizeof(*live));
	uint64_t *freed = malloc(POOL * sizeof(*freed));
	for (int t = 0; t < threads; t++) {
		struct gen g = { seed * 1000 + (uint64_t)t };
		uint64_t ts = 1000, top = 0x5600000000ull + (uint64_t)t *
					  0x100000000ull;
		size_t nl = 0, nf = 0;

		for (size_t i = 0; i < n; i++) {
			struct ht_event *e = &ev[i];
			uint64_t r = gen_below(&g, 100);

			memset(e, 0, sizeof(*e));
			e->pid = 4242;
			e->tid = (uint32_t)(100 + t);
			/* odd threads: small steps and a rare long one,
			 * which zstd takes better as varints (UDELTA_VARINT)
			 * than byte-split (UDELTA_BSS, as even threads) */
			if (t & 1)
				ts += i % 64 == 63 ? 1u << 20 :
				      1 + gen_below(&g, 100);
			else
				ts += 1 + gen_below(&g, 300);
			e->ts = ts;
			if (nl && (r < 45 || nl == POOL)) {
				/* free a recent block, sometimes an old one */
				size_t k = gen_below(&g, 4) ? nl - 1 -
					   gen_below(&g, nl < 8 ? nl : 8) :
					   gen_below(&g, nl);

				e->op = free_ops[gen_below(&g,
							   sizeof(free_ops))];
				e->addr = live[k];
				live[k] = live[--nl];
				if (nf < POOL)
					freed[nf++] = e->addr;
			} else if (r < 47) {
				/* a free of memory never seen allocated */
				e->op = HT_OP_FREE;
				e->addr = 0x7f0000000000ull + gen_below(&g,
							       1u << 20) * 16;
			} else {
				e->op = alloc_ops[gen_below(&g,
							    sizeof(alloc_ops))];
				e->size = 16 * (1 + gen_below(&g, 40));
				if (r == 99) {
					e->flags = HT_EV_FAILED;
					e->result = 12;
				} else if (nf && gen_below(&g, 3)) {
					e->addr = freed[--nf];
				} else {
					top += e->size + 16;
					e->addr = top;
				}
				if (e->addr && nl < POOL)
					live[nl++] = e->addr;
			}
			if (e->op == HT_OP_CALLOC ||
			    e->op == HT_OP_REALLOCARRAY)
				e->nmemb = 1 + gen_below(&g, 4);
			if (e->op == HT_OP_POSIX_MEMALIGN ||
			    e->op == HT_OP_FREE_ALIGNED_SIZED)
				e->align = 64;
			if (e->op == HT_OP_FREE_SIZED ||
			    e->op == HT_OP_FREE_ALIGNED_SIZED)
				e->size = 32;
			if (e->op == HT_OP_REALLOC ||
			    e->op == HT_OP_REALLOCARRAY ||
			    e->op == HT_OP_HEAP_REALLOC)
				e->old_addr = e->addr + 64;
			if (e->op >= HT_OP_HEAP_ALLOC &&
			    e->op <= HT_OP_HEAP_FREE)
				e->heap = 0x1000;
		}
		rc = ht_writer_write(w, ev, n);
		if (rc)
			return fail("write", rc);
	}
	rc = ht_writer_close(w);
	if (rc)
		return fail("close", rc);
	free(ev);
	free(live);
	free(freed);
	return 0;
}
