/*
 * import_dump.c - prints an imported trace back in the text format it came
 * from, in the reader's global order, so that t_import.sh can compare it
 * with the original byte for byte:
 *
 *   import_dump android TRACE   "TID: malloc 0xPTR SIZE" ... (record_allocs)
 *   import_dump mtrace TRACE    "+ 0xPTR 0xSIZE" ... (mtrace without callers
 *                               and '=' lines; a realloc prints '<' and '>')
 *   import_dump meta TRACE      "flags 0xN" then "key=value" lines
 *   import_dump loss TRACE      "TS_FROM TS_TO PID TID EVENTS REASON" per
 *                               loss record (ns as the reader gives them)
 *
 * Exit 1 (with a message) if the trace cannot be read to its end.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "heaptape.h"

static void mptr(uint64_t p)
{
	if (p)
		printf("0x%" PRIx64, p);
	else
		fputs("(nil)", stdout);
}

static void msize(uint64_t s)
{
	if (s)
		printf(" 0x%" PRIx64 "\n", s);
	else
		fputs(" 0\n", stdout);
}

static int android(const struct ht_event *e)
{
	switch (e->op) {
	case HT_OP_MALLOC:
		printf("%u: malloc 0x%" PRIx64 " %" PRIu64 "\n", e->tid,
		       e->addr, e->size);
		break;
	case HT_OP_CALLOC:
		printf("%u: calloc 0x%" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
		       e->tid, e->addr, e->nmemb, e->size);
		break;
	case HT_OP_MEMALIGN:
		printf("%u: memalign 0x%" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
		       e->tid, e->addr, e->align, e->size);
		break;
	case HT_OP_REALLOC:
		printf("%u: realloc 0x%" PRIx64 " 0x%" PRIx64 " %" PRIu64 "\n",
		       e->tid, e->addr, e->old_addr, e->size);
		break;
	case HT_OP_FREE:
		printf("%u: free 0x%" PRIx64 "\n", e->tid, e->addr);
		break;
	case HT_OP_THREAD_EXIT:
		printf("%u: thread_done 0x0\n", e->tid);
		break;
	default:
		printf("unexpected op %d\n", e->op);
		return 1;
	}
	return 0;
}

static int mtrace(const struct ht_event *e)
{
	switch (e->op) {
	case HT_OP_MALLOC:
		fputs("+ ", stdout);
		mptr(e->addr);
		msize(e->size);
		break;
	case HT_OP_FREE:
		fputs("- ", stdout);
		mptr(e->addr);
		putchar('\n');
		break;
	case HT_OP_REALLOC:
		if (e->flags & HT_EV_FAILED) {
			fputs("! ", stdout);
			mptr(e->old_addr);
			msize(e->size);
			break;
		}
		fputs("< ", stdout);
		mptr(e->old_addr);
		fputs("\n> ", stdout);
		mptr(e->addr);
		msize(e->size);
		break;
	default:
		printf("unexpected op %d\n", e->op);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ht_reader *r;
	struct ht_event ev;
	int err, bad = 0;

	if (argc != 3) {
		fputs("usage: import_dump android|mtrace|meta|loss TRACE\n",
		      stderr);
		return 2;
	}
	if ((err = ht_reader_open(&r, argv[2], HT_READ_STRICT))) {
		fprintf(stderr, "import_dump: '%s': %s\n", argv[2],
			ht_strerror(err));
		ht_reader_close(r);
		return 1;
	}
	if (!strcmp(argv[1], "meta")) {
		const struct ht_kv *kv;
		size_t n = ht_reader_meta_all(r, &kv), i;
		printf("flags 0x%x\n", (unsigned)ht_reader_flags(r));
		for (i = 0; i < n; i++)
			printf("%s=%s\n", kv[i].key, kv[i].value);
		ht_reader_close(r);
		return 0;
	}
	if (!strcmp(argv[1], "loss")) {
		const struct ht_loss *l;
		size_t n = ht_reader_losses(r, &l), i;
		for (i = 0; i < n; i++)
			printf("%" PRIu64 " %" PRIu64 " %u %u %" PRIu64 " %u\n",
			       l[i].ts_from, l[i].ts_to, l[i].pid, l[i].tid,
			       l[i].events, l[i].reason);
		ht_reader_close(r);
		return 0;
	}
	while ((err = ht_reader_next(r, &ev)) == 1)
		bad |= argv[1][0] == 'a' ? android(&ev) : mtrace(&ev);
	ht_reader_close(r);
	if (err < 0) {
		fprintf(stderr, "import_dump: '%s': %s\n", argv[2],
			ht_strerror(err));
		return 1;
	}
	return bad;
}
