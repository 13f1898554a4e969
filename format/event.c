/*
 * event.c - the event model's helpers: error messages, op names and
 * classes, requested bytes, and the one-line text form `heaptape cat`
 * prints.
 */
#include <inttypes.h>
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

HT_API void ht_columns_event(const struct ht_columns *c, size_t k,
			     struct ht_event *ev)
{
#define AT(f) (c->f ? c->f[k] : 0)
	memset(ev, 0, sizeof(*ev));
	ev->ts = c->ts[k];
	ev->addr = AT(addr);
	ev->size = AT(size);
	ev->old_addr = AT(old_addr);
	ev->old_size = AT(old_size);
	ev->align = AT(align);
	ev->nmemb = AT(nmemb);
	ev->heap = AT(heap);
	ev->dur = AT(dur);
	ev->pid = c->pid;
	ev->tid = c->tid;
	ev->flags = AT(flags);
	ev->result = AT(result);
	ev->aux = AT(aux);
	ev->op = c->op[k];
#undef AT
}

/*
 * The line is built with these rather than snprintf: `heaptape cat`
 * prints one for every event, and vsnprintf took 80 % of its time.  Each
 * writes at p and returns the end; the longest line is well below
 * LINE_CAP.
 */
#define LINE_CAP 512

static char *put_s(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

static char *put_u(char *p, uint64_t v)
{
	char t[20];
	int k = 0;

	do {
		t[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k)
		*p++ = t[--k];
	return p;
}

static char *put_i(char *p, int32_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u(p, (uint64_t)0 - (uint64_t)(int64_t)v);
	}
	return put_u(p, (uint64_t)v);
}

/* 0x and the hex digits, no leading zeros: "0x%" PRIx64. */
static char *put_x(char *p, uint64_t v)
{
	char t[16];
	int k = 0;

	*p++ = '0';
	*p++ = 'x';
	do {
		t[k++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (k)
		*p++ = t[--k];
	return p;
}

/* " name=" and v in decimal */
static char *put_kv(char *p, const char *name, uint64_t v)
{
	return put_u(put_s(p, name), v);
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
	char line[LINE_CAP], *p = line;
	const char *name = ht_op_name(ev->op);
	int op = ev->op;
	int res = ht_op_allocates(op) || op == HT_OP_HEAP_CREATE;
	uint64_t ns = ev->ts % 1000000000u;
	size_t len;

	p = put_u(p, ev->ts / 1000000000u);
	*p++ = '.';
	for (int k = 8; k >= 0; k--) {
		p[k] = (char)('0' + ns % 10);
		ns /= 10;
	}
	p += 9;
	*p++ = ' ';
	p = put_u(p, ev->pid);
	*p++ = '/';
	p = put_u(p, ev->tid);
	*p++ = ' ';
	if (name)
		p = put_s(p, name);
	else
		p = put_u(put_s(p, "op"), (uint64_t)op);
	if (op >= HT_OP_HEAP_CREATE && op <= HT_OP_HEAP_DESTROY)
		p = put_x(put_s(p, " heap="), ev->heap);
	switch (op) {
	case HT_OP_MALLOC:
	case HT_OP_VALLOC:
	case HT_OP_PVALLOC:
	case HT_OP_HEAP_ALLOC:
		p = put_kv(p, " size=", ev->size);
		break;
	case HT_OP_CALLOC:
		p = put_kv(p, " nmemb=", ev->nmemb);
		p = put_kv(p, " size=", ev->size);
		break;
	case HT_OP_REALLOC:
	case HT_OP_HEAP_REALLOC:
	case HT_OP_REALLOCARRAY:
		*p++ = ' ';
		p = put_x(p, ev->old_addr);
		if (op == HT_OP_REALLOCARRAY)
			p = put_kv(p, " nmemb=", ev->nmemb);
		p = put_kv(p, " size=", ev->size);
		if (ev->old_size)
			p = put_kv(p, " old_size=", ev->old_size);
		break;
	case HT_OP_POSIX_MEMALIGN:
	case HT_OP_ALIGNED_ALLOC:
	case HT_OP_MEMALIGN:
		p = put_kv(p, " align=", ev->align);
		p = put_kv(p, " size=", ev->size);
		break;
	case HT_OP_FREE:
	case HT_OP_HEAP_FREE:
	case HT_OP_FREE_SIZED:
	case HT_OP_FREE_ALIGNED_SIZED:
		*p++ = ' ';
		p = put_x(p, ev->addr);
		if (op == HT_OP_FREE_ALIGNED_SIZED)
			p = put_kv(p, " align=", ev->align);
		if (op == HT_OP_FREE_SIZED || op == HT_OP_FREE_ALIGNED_SIZED)
			p = put_kv(p, " size=", ev->size);
		break;
	case HT_OP_HEAP_CREATE:
	case HT_OP_HEAP_DESTROY:
	case HT_OP_THREAD_EXIT:
		break;
	default:
		/* Unknown op: show every field that is set. */
		if (ev->addr)
			p = put_x(put_s(p, " addr="), ev->addr);
		if (ev->size)
			p = put_kv(p, " size=", ev->size);
		if (ev->old_addr)
			p = put_x(put_s(p, " old_addr="), ev->old_addr);
		if (ev->old_size)
			p = put_kv(p, " old_size=", ev->old_size);
		if (ev->align)
			p = put_kv(p, " align=", ev->align);
		if (ev->nmemb)
			p = put_kv(p, " nmemb=", ev->nmemb);
		if (ev->heap)
			p = put_x(put_s(p, " heap="), ev->heap);
		break;
	}
	if (ev->aux) {
		if (op == HT_OP_HEAP_CREATE)
			p = put_x(put_s(p, " flags="), ev->aux);
		else
			p = put_kv(p, " aux=", ev->aux);
	}
	if (ev->flags & HT_EV_FAILED)
		p = put_s(p, " -> FAILED");
	else if (res && op != HT_OP_HEAP_CREATE)
		p = put_x(put_s(p, " -> "), ev->addr);
	if (ev->result)
		p = put_i(put_s(p, " errno="), ev->result);
	if (ev->flags & HT_EV_INPLACE)
		p = put_s(p, " inplace");
	if (ev->flags & ~(uint32_t)(HT_EV_FAILED | HT_EV_INPLACE))
		p = put_x(put_s(p, " flags="), ev->flags);
	if (ev->dur)
		p = put_s(put_kv(p, " in ", ev->dur), "ns");
	len = (size_t)(p - line);
	if (n) {
		size_t k = len < n - 1 ? len : n - 1;

		memcpy(buf, line, k);
		buf[k] = 0;
	}
	return (int)len;
}
