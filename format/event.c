/*
 * event.c - the event model's helpers: error messages, op names and
 * classes, requested bytes, and the one-line text form `heaptape cat`
 * prints.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

HT_API const char *ht_strerror(int err)
{
	switch (err) {
#define HT__ERRSTR(name, val, msg) \
	case val:                  \
		return msg;
		HT_ERRORS(HT__ERRSTR)
#undef HT__ERRSTR
	case 0:
		return "success";
	default:
		return "unknown error";
	}
}

HT_API const char *ht_op_name(int op)
{
	switch (op) {
#define HT__OPSTR(name, val, str) \
	case val:                 \
		return str;
		HT_OPS(HT__OPSTR)
#undef HT__OPSTR
	default:
		return NULL;
	}
}

HT_API int ht_op_from_name(const char *name)
{
	char *end;
	unsigned long v;

	if (!name || !*name)
		return -1;
#define HT__OPCMP(n, val, str)         \
	if (!strcmp(name, str))        \
		return val;
	HT_OPS(HT__OPCMP)
#undef HT__OPCMP
	if (name[0] < '0' || name[0] > '9')
		return -1;
	v = strtoul(name, &end, 10);
	if (*end || v > HT_OP_MAX)
		return -1;
	return (int)v;
}

HT_API int ht_op_allocates(int op)
{
	switch (op) {
	case HT_OP_MALLOC:
	case HT_OP_CALLOC:
	case HT_OP_REALLOC:
	case HT_OP_REALLOCARRAY:
	case HT_OP_POSIX_MEMALIGN:
	case HT_OP_ALIGNED_ALLOC:
	case HT_OP_MEMALIGN:
	case HT_OP_VALLOC:
	case HT_OP_PVALLOC:
	case HT_OP_HEAP_ALLOC:
	case HT_OP_HEAP_REALLOC:
		return 1;
	default:
		return 0;
	}
}

HT_API int ht_op_frees(int op)
{
	switch (op) {
	case HT_OP_FREE:
	case HT_OP_FREE_SIZED:
	case HT_OP_FREE_ALIGNED_SIZED:
	case HT_OP_HEAP_FREE:
		return 1;
	default:
		return 0;
	}
}

HT_API int ht_op_is_realloc(int op)
{
	return op == HT_OP_REALLOC || op == HT_OP_REALLOCARRAY ||
	       op == HT_OP_HEAP_REALLOC;
}

HT_API uint64_t ht_event_bytes(const struct ht_event *ev)
{
	if (ev->op == HT_OP_CALLOC || ev->op == HT_OP_REALLOCARRAY) {
		unsigned __int128 b = (unsigned __int128)ev->nmemb * ev->size;

		return b > UINT64_MAX ? UINT64_MAX : (uint64_t)b;
	}
	return ev->size;
}

/* snprintf that keeps counting past the end of buf. */
struct fbuf {
	char *p;
	size_t n, len;
};

__attribute__((format(printf, 2, 3)))
static void add(struct fbuf *f, const char *fmt, ...)
{
	va_list ap;
	int k;
	size_t room = f->len < f->n ? f->n - f->len : 0;

	va_start(ap, fmt);
	k = vsnprintf(room ? f->p + f->len : NULL, room, fmt, ap);
	va_end(ap);
	if (k > 0)
		f->len += (size_t)k;
}

/*
 * `SECONDS.NANOS PID/TID OP ARGS [-> RESULT]`, e.g.
 *   0.000001234 100/101 malloc size=64 -> 0x5555deadbeef
 *   0.000002000 100/101 realloc 0x5555deadbeef size=128 -> 0x5555dead0000
 *   0.000003000 100/101 free 0x5555dead0000
 *   0.000004000 100/101 malloc size=1099511627776 -> FAILED errno=12
 * and, when the call was timed, how long it took: ` in 85ns`.
 */
HT_API int ht_event_format(const struct ht_event *ev, char *buf, size_t n)
{
	struct fbuf f = { buf, n, 0 };
	const char *name = ht_op_name(ev->op);
	int op = ev->op;
	int res = ht_op_allocates(op) || op == HT_OP_HEAP_CREATE;

	if (n)
		buf[0] = 0;
	add(&f, "%" PRIu64 ".%09" PRIu64 " %" PRIu32 "/%" PRIu32 " ",
	    ev->ts / 1000000000u, ev->ts % 1000000000u, ev->pid, ev->tid);
	if (name)
		add(&f, "%s", name);
	else
		add(&f, "op%d", op);
	if (op >= HT_OP_HEAP_CREATE && op <= HT_OP_HEAP_DESTROY)
		add(&f, " heap=0x%" PRIx64, ev->heap);
	switch (op) {
	case HT_OP_MALLOC:
	case HT_OP_VALLOC:
	case HT_OP_PVALLOC:
	case HT_OP_HEAP_ALLOC:
		add(&f, " size=%" PRIu64, ev->size);
		break;
	case HT_OP_CALLOC:
		add(&f, " nmemb=%" PRIu64 " size=%" PRIu64, ev->nmemb,
		    ev->size);
		break;
	case HT_OP_REALLOC:
	case HT_OP_HEAP_REALLOC:
		add(&f, " 0x%" PRIx64 " size=%" PRIu64, ev->old_addr,
		    ev->size);
		if (ev->old_size)
			add(&f, " old_size=%" PRIu64, ev->old_size);
		break;
	case HT_OP_REALLOCARRAY:
		add(&f, " 0x%" PRIx64 " nmemb=%" PRIu64 " size=%" PRIu64,
		    ev->old_addr, ev->nmemb, ev->size);
		if (ev->old_size)
			add(&f, " old_size=%" PRIu64, ev->old_size);
		break;
	case HT_OP_POSIX_MEMALIGN:
	case HT_OP_ALIGNED_ALLOC:
	case HT_OP_MEMALIGN:
		add(&f, " align=%" PRIu64 " size=%" PRIu64, ev->align,
		    ev->size);
		break;
	case HT_OP_FREE:
	case HT_OP_HEAP_FREE:
		add(&f, " 0x%" PRIx64, ev->addr);
		break;
	case HT_OP_FREE_SIZED:
		add(&f, " 0x%" PRIx64 " size=%" PRIu64, ev->addr, ev->size);
		break;
	case HT_OP_FREE_ALIGNED_SIZED:
		add(&f, " 0x%" PRIx64 " align=%" PRIu64 " size=%" PRIu64,
		    ev->addr, ev->align, ev->size);
		break;
	case HT_OP_HEAP_CREATE:
	case HT_OP_HEAP_DESTROY:
	case HT_OP_THREAD_EXIT:
		break;
	default:
		/* Unknown op: show every field that is set. */
		if (ev->addr)
			add(&f, " addr=0x%" PRIx64, ev->addr);
		if (ev->size)
			add(&f, " size=%" PRIu64, ev->size);
		if (ev->old_addr)
			add(&f, " old_addr=0x%" PRIx64, ev->old_addr);
		if (ev->old_size)
			add(&f, " old_size=%" PRIu64, ev->old_size);
		if (ev->align)
			add(&f, " align=%" PRIu64, ev->align);
		if (ev->nmemb)
			add(&f, " nmemb=%" PRIu64, ev->nmemb);
		if (ev->heap)
			add(&f, " heap=0x%" PRIx64, ev->heap);
		break;
	}
	if (ev->aux) {
		if (op == HT_OP_HEAP_CREATE)
			add(&f, " flags=0x%" PRIx32, ev->aux);
		else
			add(&f, " aux=%" PRIu32, ev->aux);
	}
	if (ev->flags & HT_EV_FAILED) {
		add(&f, " -> FAILED");
	} else if (res && op != HT_OP_HEAP_CREATE) {
		add(&f, " -> 0x%" PRIx64, ev->addr);
	}
	if (ev->result)
		add(&f, " errno=%" PRId32, ev->result);
	if (ev->flags & HT_EV_INPLACE)
		add(&f, " inplace");
	if (ev->flags & ~(uint32_t)(HT_EV_FAILED | HT_EV_INPLACE))
		add(&f, " flags=0x%" PRIx32, ev->flags);
	if (ev->dur)
		add(&f, " in %" PRIu64 "ns", ev->dur);
	return f.len > INT32_MAX ? INT32_MAX : (int)f.len;
}
