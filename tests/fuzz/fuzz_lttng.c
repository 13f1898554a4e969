/*
 * fuzz_lttng.c - libFuzzer target for the parent side of the LTTng
 * importer (convert/lttng.c): the records the libbabeltrace2 child sends
 * (convert/lttng.h), decoded and mapped to events, loss records and
 * names, in one call and cut in two at a record boundary.  libbabeltrace2
 * itself is not fuzzed here: it runs in a child whose death is reported.
 * Corpus: tests/fuzz/corpus/fuzz_lttng (the records of the committed
 * trace tests/data/lttng-kinds, cut down; a failure; hand-made edges).
 */
#include <stdlib.h>
#include <string.h>

#include "../../convert/lttng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int put(void *ctx, const struct ht_event *ev, int has_tid)
{
	uint64_t *n = ctx;
	int op = ev->op;

	if (op != HT_OP_MALLOC && op != HT_OP_CALLOC && op != HT_OP_REALLOC &&
	    op != HT_OP_MEMALIGN && op != HT_OP_POSIX_MEMALIGN &&
	    op != HT_OP_FREE)
		abort();
	if ((ev->flags & HT_EV_FAILED) && ev->addr)
		abort();
	if ((ev->flags & HT_EV_INPLACE) && op != HT_OP_REALLOC)
		abort();
	if (ev->result && !(ev->flags & HT_EV_FAILED))
		abort();
	if ((op != HT_OP_CALLOC && ev->nmemb) ||
	    (op != HT_OP_MEMALIGN && op != HT_OP_POSIX_MEMALIGN && ev->align) ||
	    (op != HT_OP_REALLOC && ev->old_addr) || ev->ts > INT64_MAX ||
	    (!has_tid && ev->tid))
		abort();
	++*n;
	return 0;
}

static int loss(void *ctx, const struct ht_loss *l, int has_pid)
{
	(void)ctx;
	if (l->reason != HT_LOSS_SOURCE || l->ts_to < l->ts_from ||
	    l->ts_to > INT64_MAX || (!has_pid && l->pid))
		abort();
	return 0;
}

static void clean(const char *s)
{
	size_t n = strlen(s);

	if (n >= LT_TEXT_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			abort();
}

static void name(void *ctx, uint32_t pid, const char *s)
{
	(void)ctx;
	(void)pid;
	clean(s);
}

static void meta(void *ctx, int which, int flag, const char *s)
{
	(void)ctx;
	if (which < LT_META_HOST || which > LT_META_CLOCK || flag > 1)
		abort();
	clean(s);
}

static void run(const uint8_t *data, size_t size, size_t cut)
{
	struct lt_dec *d = calloc(1, sizeof(*d));
	uint64_t n = 0;
	int rc;

	if (!d)
		return;
	d->sink = (struct lt_sink){&n, put, loss, name, meta};
	rc = lttng_decode(d, data, cut);
	if (!rc)
		rc = lttng_decode(d, data + cut, size - cut);
	if (rc != 0 && rc != 1)
		abort();
	if (n != d->events || (rc == 1 && !d->failed && !d->why[0]) ||
	    (d->failed && !d->text[0]) || d->tlen >= LT_TEXT_MAX)
		abort();
	free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t recs = size / LT_REC_SIZE;

	run(data, size, 0);
	if (recs > 1)
		run(data, size, recs / 2 * LT_REC_SIZE);
	return 0;
}
