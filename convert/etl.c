/*
 * etl.c - Windows .etl files: format probe, `heaptape stat FILE.etl` and
 * `heaptape convert FILE.etl OUT.htape` (the heap events of the ETW
 * HeapTraceProvider, ETL.md 7), on top of the reader in etl_read.c.
 *
 * Conversion rules:
 * - every HeapCreate/Alloc/ReAlloc/Free/Destroy of every process; one
 *   output per process (OUT with .PID before .htape, names printed)
 *   unless --pid or only one process has heap events; metadata
 *   trace.source=etl, process.pid, process.exe (Process rundown/start
 *   events), process.pointer_bits, clock.*, etl.* counters;
 * - ts = ns since the log-file header event (the StartTime sync point,
 *   ETL.md 5), 128-bit math, writer clock 1/1, clock.origin_ticks=0;
 *   events before it get ts 0 (warned);
 * - heap handle in ev.heap, Source (HeapCreate: flags) in ev.aux;
 *   Alloc/ReAlloc with a 0 result are HT_EV_FAILED, same-address
 *   ReAllocs HT_EV_INPLACE;
 * - a moving ReAlloc (NewAddress != OldAddress) that Windows may also log
 *   as Alloc(new) + Free(old) (ETL.md 7.4): on the same thread, an Alloc
 *   of NewAddress and a Free of OldAddress on the same heap among the two
 *   heap events before and the two after the ReAlloc are duplicates and
 *   are dropped (metadata etl.realloc_duplicates_dropped, a warning);
 *   --op/--tid/time/--limit filters apply after this, --pid before;
 * - StackWalk Type 32 / key Types 37-38 events are matched to the heap
 *   event of the same thread with the same timestamp and counted
 *   (etl.heap_events_with_stack); the frames are not kept;
 * - EventsLost / BuffersLost of the log-file header, buffers flagged
 *   EVENTS_LOST / BUFFER_LOST and buffers skipped by --salvage become
 *   loss records (HT_LOSS_SOURCE) in every output.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "convert.h"
#include "etl_read.h"
#include "imap.h"
#include "pouts.h"

#define BUF_HDR 0x48u

int etl_probe(const unsigned char *buf, size_t n)
{
	uint32_t size, filled, m;

	if (n < BUF_HDR + 8)
		return 0;
	memcpy(&size, buf, 4);
	memcpy(&filled, buf + 0x30, 4);
	memcpy(&m, buf + BUF_HDR, 4);
	if (size < BUF_HDR + 8 || filled < BUF_HDR + 8)
		return 0;
	/* header event: SYSTEM32/64 trace header, HookId 0x0000 */
	return (m >> 24 & 0xC0) == 0xC0 &&
	       ((m >> 16 & 0xFF) == 1 || (m >> 16 & 0xFF) == 2) &&
	       buf[BUF_HDR + 6] == 0 && buf[BUF_HDR + 7] == 0;
}

/* Process names from Process Start/End/DCStart/DCEnd events. */
struct names {
	struct imap map;
	struct pname {
		uint32_t pid;
		uint64_t heap_events;
		char name[64];
	} *v;
	size_t n, cap;
};

static struct pname *names_get(struct names *nm, uint32_t pid)
{
	int found;
	long s = imap_slot(&nm->map, pid, &found);

	if (s < 0)
		return NULL;
	if (found)
		return &nm->v[nm->map.vals[s]];
	if (cli_grow(&nm->v, &nm->cap, nm->n, sizeof(*nm->v), 32))
		return NULL;
	nm->map.vals[s] = (uint32_t)nm->n;
	nm->map.n++;
	memset(&nm->v[nm->n], 0, sizeof(nm->v[0]));
	nm->v[nm->n].pid = pid;
	return &nm->v[nm->n++];
}

static int names_note(struct names *nm, const struct etl_event *ev)
{
	uint32_t pid;
	char name[64];
	struct pname *p;

	if (ev->group != ETL_GROUP_PROCESS ||
	    !etl_process_decode(ev, &pid, name, sizeof(name)))
		return 0;
	if (!(p = names_get(nm, pid)))
		return -1;
	if (name[0])
		strcpy(p->name, name);
	return 0;
}

static void names_free(struct names *nm)
{
	imap_free(&nm->map);
	free(nm->v);
}

static const char *clock_name(uint32_t t)
{
	switch (t) {
	case 1:
		return "qpc";
	case 2:
		return "filetime";
	case 3:
		return "cpu-cycles";
	default:
		return "raw";
	}
}

/* FILETIME (100 ns since 1601) as ISO 8601 UTC. */
static void filetime_str(uint64_t ft, char *out, size_t n)
{
	uint64_t s = ft / 10000000;
	time_t t;
	struct tm tm;

	if (s < 11644473600ULL) {
		snprintf(out, n, "-");
		return;
	}
	t = (time_t)(s - 11644473600ULL);
	gmtime_r(&t, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%07uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (unsigned)(ft % 10000000));
}

static int open_error(struct etl *e, const char *path, int r)
{
	if (r == -2 || !e)
		return cli_error("cannot open '%s': %s", path,
				 strerror(errno ? errno : ENOMEM));
	return cli_error("'%s': corrupt etl at offset %llu: %s", path,
			 (unsigned long long)etl_error_offset(e),
			 etl_error(e));
}

/*
 * stat
 */
enum { K_KERNEL, K_EVENT, K_CLASSIC, K_MESSAGE, K_OTHER };

struct kind {
	uint8_t cls, htype, group, type, version, opcode, ext;
	uint16_t id;
	uint8_t guid[16];
	uint64_t count;
};

struct kinds {
	struct imap map;   /* hash of the key -> index; collisions chained
			      by probing on the full key below */
	struct kind *v;
	size_t n, cap, last;
};

static uint64_t kind_hash(const struct kind *k)
{
	uint64_t h = 1469598103934665603ULL;
	const uint8_t *p = (const uint8_t *)k;
	size_t i;

	for (i = 0; i < offsetof(struct kind, count); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static int kinds_add(struct kinds *ks, const struct kind *k)
{
	uint64_t h;

	/* runs of one kind are common: check the last one first */
	if (ks->last < ks->n &&
	    !memcmp(&ks->v[ks->last], k, offsetof(struct kind, count))) {
		ks->v[ks->last].count++;
		return 0;
	}
	h = kind_hash(k);

	/* open addressing on h, h+1, ... until the full key matches */
	for (;;) {
		int found;
		long s = imap_slot(&ks->map, h, &found);
		if (s < 0)
			return -1;
		if (found) {
			struct kind *o = &ks->v[ks->map.vals[s]];
			if (!memcmp(o, k, offsetof(struct kind, count))) {
				o->count++;
				ks->last = ks->map.vals[s];
				return 0;
			}
			h++;
			continue;
		}
		if (cli_grow(&ks->v, &ks->cap, ks->n, sizeof(*ks->v), 64)) {
			ks->map.vals[s] = UINT32_MAX;
			return -1;
		}
		ks->map.vals[s] = (uint32_t)ks->n;
		ks->map.n++;
		memcpy(&ks->v[ks->n], k, sizeof(*k));
		ks->v[ks->n].count = 1;
		ks->last = ks->n++;
		return 0;
	}
}

static int kind_cmp(const void *a, const void *b)
{
	const struct kind *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return memcmp(x, y, offsetof(struct kind, count));
}

static void kind_of(const struct etl_event *ev, struct kind *k)
{
	memset(k, 0, sizeof(*k));
	k->htype = ev->htype;
	switch (ev->htype) {
	case ETL_HT_EVENT32:
	case ETL_HT_EVENT64:
		k->cls = K_EVENT;
		k->htype = 0;   /* the reference does not split by bitness */
		memcpy(k->guid, ev->guid, 16);
		k->id = ev->id;
		k->opcode = ev->opcode;
		k->ext = ev->ext != NULL;
		break;
	case ETL_HT_FULL32:
	case ETL_HT_FULL64:
	case ETL_HT_INSTANCE32:
	case ETL_HT_INSTANCE64:
		k->cls = K_CLASSIC;
		memcpy(k->guid, ev->guid, 16);
		k->type = ev->type;
		break;
	case ETL_HT_MESSAGE:
		k->cls = K_MESSAGE;
		if (ev->guid)
			memcpy(k->guid, ev->guid, 16);
		k->id = ev->id;
		break;
	case ETL_HT_TIMED:
	case ETL_HT_ERROR:
	case ETL_HT_WNODE:
		k->cls = K_OTHER;
		break;
	default:
		k->cls = K_KERNEL;
		k->group = ev->group;
		k->type = ev->type;
		k->version = ev->version;
	}
}

/* kind_of() files ev under K_KERNEL (group, type, version). */
static int kind_is_kernel(uint8_t htype)
{
	switch (htype) {
	case ETL_HT_EVENT32:
	case ETL_HT_EVENT64:
	case ETL_HT_FULL32:
	case ETL_HT_FULL64:
	case ETL_HT_INSTANCE32:
	case ETL_HT_INSTANCE64:
	case ETL_HT_MESSAGE:
	case ETL_HT_TIMED:
	case ETL_HT_ERROR:
	case ETL_HT_WNODE:
		return 0;
	default:
		return 1;
	}
}

static int pname_cmp(const void *a, const void *b)
{
	const struct pname *x = a, *y = b;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int etl_stat(const char *path, int json, int salvage)
{
	struct etl *e = NULL;
	const struct etl_event *evp;
	struct kinds ks;
	struct names nm;
	struct etl_counts c;
	const struct etl_logfile *lf;
	uint64_t total = 0, heap = 0, heap_other = 0, heap_short = 0;
	uint64_t hops[5] = {0}, htypes[0x16] = {0}, stacks = 0;
	uint64_t ts_min = UINT64_MAX, ts_max = 0;
	char g[37], t1[96], t2[96];
	/* kind index by kernel kind key (0: none); names index + 1 by pid */
	struct kslot {
		uint64_t key;
		uint32_t idx;
	} kcache[256];
	struct pslot {
		uint32_t pid, idx;
	} pcache[64];
	size_t i;
	int r, rc = 1;

	memset(kcache, 0, sizeof(kcache));
	memset(pcache, 0, sizeof(pcache));
	memset(&ks, 0, sizeof(ks));
	memset(&nm, 0, sizeof(nm));
	errno = 0;
	r = etl_open(&e, path, ETL_FILE_ORDER | (salvage ? ETL_SALVAGE : 0));
	if (r) {
		open_error(e, path, r);
		goto out;
	}
	while ((r = etl_next_ref(e, &evp)) > 0) {
		const struct etl_event *ev = evp;
		struct kind k;
		struct etl_heap h;
		struct etl_stack s;
		int hr;

		total++;
		if (ev->has_ts && ev->htype != ETL_HT_MESSAGE) {
			if (ev->ts < ts_min)
				ts_min = ev->ts;
			if (ev->ts > ts_max)
				ts_max = ev->ts;
		}
		if (ev->htype < 0x16)
			htypes[ev->htype]++;
		if (kind_is_kernel(ev->htype)) {
			/* kernel kinds, by far the most events, through a
			 * direct-mapped cache of kind indices */
			uint64_t key = (uint64_t)1 << 40 |
				       (uint64_t)ev->htype << 24 |
				       (uint32_t)ev->group << 16 |
				       (uint32_t)ev->type << 8 | ev->version;
			struct kslot *ksl = &kcache[(key *
				0x9E3779B97F4A7C15ULL) >> 56];
			if (ksl->key == key) {
				ks.v[ksl->idx].count++;
			} else {
				kind_of(ev, &k);
				if (kinds_add(&ks, &k))
					goto nomem;
				ksl->key = key;
				ksl->idx = (uint32_t)ks.last;
			}
		} else {
			kind_of(ev, &k);
			if (kinds_add(&ks, &k))
				goto nomem;
		}
		if (names_note(&nm, ev))
			goto nomem;
		if ((hr = etl_heap_decode(ev, &h)) == 1) {
			struct pname *p;
			struct pslot *psl = &pcache[(ev->pid *
				0x9E3779B9u) >> 26];
			if (psl->idx && psl->pid == ev->pid) {
				p = &nm.v[psl->idx - 1];
			} else {
				if (!(p = names_get(&nm, ev->pid)))
					goto nomem;
				psl->pid = ev->pid;
				psl->idx = (uint32_t)(p - nm.v) + 1;
			}
			p->heap_events++;
			heap++;
			hops[h.op == ETL_HEAP_CREATE ? 0 :
			     h.op == ETL_HEAP_ALLOC ? 1 :
			     h.op == ETL_HEAP_REALLOC ? 2 :
			     h.op == ETL_HEAP_FREE ? 3 : 4]++;
		} else if (hr < 0) {
			heap_short++;
		} else if (etl_is_heap_provider(ev)) {
			heap_other++;
		}
		if (etl_stack_decode(ev, &s))
			stacks++;
	}
	if (r < 0) {
		open_error(e, path, 1);
		goto out;
	}
	lf = etl_logfile(e);
	etl_counts(e, &c);
	if (ks.n)
		qsort(ks.v, ks.n, sizeof(*ks.v), kind_cmp);
	if (nm.n)
		qsort(nm.v, nm.n, sizeof(*nm.v), pname_cmp);
	filetime_str(lf->start_time, t1, sizeof(t1));
	filetime_str(lf->end_time, t2, sizeof(t2));
	if (json) {
		FILE *f = stdout;
		int first = 1;
		fprintf(f, "{\"file\": ");
		cli_json_str(f, path);
		fprintf(f, ", \"format\": \"etl\", \"events\": %llu, "
			"\"heap_events\": %llu,\n",
			(unsigned long long)total, (unsigned long long)heap);
		fprintf(f, " \"heap_ops\": {\"HeapCreate\": %llu, "
			"\"HeapAlloc\": %llu, \"HeapReAlloc\": %llu, "
			"\"HeapFree\": %llu, \"HeapDestroy\": %llu}, "
			"\"heap_other_events\": %llu, "
			"\"heap_short_events\": %llu, "
			"\"stack_events\": %llu,\n",
			(unsigned long long)hops[0],
			(unsigned long long)hops[1],
			(unsigned long long)hops[2],
			(unsigned long long)hops[3],
			(unsigned long long)hops[4],
			(unsigned long long)heap_other,
			(unsigned long long)heap_short,
			(unsigned long long)stacks);
		fprintf(f, " \"lost_events\": %u, \"lost_buffers\": %u, "
			"\"buffers_events_lost_flag\": %llu, "
			"\"buffers_lost_flag\": %llu,\n",
			lf->events_lost, lf->buffers_lost,
			(unsigned long long)c.flag_events_lost,
			(unsigned long long)c.flag_buffer_lost);
		fprintf(f, " \"buffers\": %llu, \"compressed_buffers\": %llu, "
			"\"bad_buffers\": %llu, \"bad_bytes\": %llu, "
			"\"buffers_written\": %u,\n",
			(unsigned long long)c.buffers,
			(unsigned long long)c.compressed,
			(unsigned long long)c.bad_buffers,
			(unsigned long long)c.bad_bytes, lf->buffers_written);
		fprintf(f, " \"pointer_size\": %u, \"clock_type\": %u, "
			"\"clock\": \"%s\", \"clock_freq\": %llu, "
			"\"perf_freq\": %llu, \"cpu_mhz\": %u, \"cpus\": %u, "
			"\"os_version\": \"%u.%u\", \"os_build\": %u, "
			"\"log_file_mode\": %u,\n",
			lf->pointer_size, lf->clock_type,
			clock_name(lf->clock_type),
			(unsigned long long)etl_freq(e),
			(unsigned long long)lf->perf_freq, lf->cpu_mhz,
			lf->nproc, lf->version[0], lf->version[1],
			lf->provider_version, lf->log_file_mode);
		fprintf(f, " \"start_time\": %llu, \"start_time_utc\": \"%s\", "
			"\"end_time\": %llu, \"end_time_utc\": \"%s\", "
			"\"duration_ns\": %lld,\n",
			(unsigned long long)lf->start_time, t1,
			(unsigned long long)lf->end_time, t2,
			ts_min <= ts_max ? (long long)(etl_rel_ns(e, ts_max) -
				etl_rel_ns(e, ts_min)) : 0LL);
		fprintf(f, " \"logger_name\": ");
		cli_json_str(f, lf->logger_name);
		fprintf(f, ", \"log_file_name\": ");
		cli_json_str(f, lf->log_file_name);
		fprintf(f, ",\n \"header_types\": {");
		for (i = 0; i < 0x16; i++) {
			if (!htypes[i])
				continue;
			fprintf(f, "%s\"%s\": %llu", first ? "" : ", ",
				etl_htype_name((int)i),
				(unsigned long long)htypes[i]);
			first = 0;
		}
		fprintf(f, "},\n \"processes\": [");
		for (i = 0; i < nm.n; i++) {
			fprintf(f, "%s{\"pid\": %u, \"name\": ",
				i ? ", " : "", nm.v[i].pid);
			cli_json_str(f, nm.v[i].name);
			fprintf(f, ", \"heap_events\": %llu}",
				(unsigned long long)nm.v[i].heap_events);
		}
		fprintf(f, "],\n \"kinds\": [\n");
		for (i = 0; i < ks.n; i++) {
			const struct kind *k = &ks.v[i];
			fprintf(f, "  {");
			switch (k->cls) {
			case K_KERNEL:
				fprintf(f, "\"class\": \"kernel\", \"header\": "
					"\"%s\", \"group\": ",
					etl_htype_name(k->htype));
				if (etl_group_name(k->group))
					fprintf(f, "\"%s\"",
						etl_group_name(k->group));
				else
					fprintf(f, "\"0x%02x\"", k->group);
				fprintf(f, ", \"group_id\": %u, \"type\": %u, "
					"\"version\": %u", k->group, k->type,
					k->version);
				break;
			case K_EVENT:
				etl_guid_str(k->guid, g);
				fprintf(f, "\"class\": \"event\", \"header\": "
					"\"EVENT_HEADER\", "
					"\"provider\": \"%s\", "
					"\"id\": %u, \"opcode\": %u, "
					"\"ext\": %s", g, k->id, k->opcode,
					k->ext ? "true" : "false");
				break;
			case K_CLASSIC:
				etl_guid_str(k->guid, g);
				fprintf(f, "\"class\": \"classic\", "
					"\"header\": \"%s\", \"guid\": \"%s\", "
					"\"type\": %u",
					etl_htype_name(k->htype), g, k->type);
				break;
			case K_MESSAGE:
				etl_guid_str(k->guid, g);
				fprintf(f, "\"class\": \"message\", "
					"\"header\": \"MESSAGE\", \"guid\": \"%s\", "
					"\"id\": %u", g, k->id);
				break;
			default:
				fprintf(f, "\"class\": \"other\", \"header\": "
					"\"%s\"", etl_htype_name(k->htype));
			}
			fprintf(f, ", \"count\": %llu}%s\n",
				(unsigned long long)k->count,
				i + 1 < ks.n ? "," : "");
		}
		fprintf(f, " ]}\n");
	} else {
		printf("file          %s (etl)\n", path);
		printf("logger        %s  [%s]\n", lf->logger_name,
		       lf->log_file_name);
		printf("os            %u.%u build %u, %u cpus, pointer size "
		       "%u\n", lf->version[0], lf->version[1],
		       lf->provider_version, lf->nproc, lf->pointer_size);
		printf("clock         %s, %llu Hz; start %s, end %s\n",
		       clock_name(lf->clock_type),
		       (unsigned long long)etl_freq(e), t1, t2);
		printf("buffers       %llu (%llu compressed, %llu bad)\n",
		       (unsigned long long)c.buffers,
		       (unsigned long long)c.compressed,
		       (unsigned long long)c.bad_buffers);
		printf("lost          %u events, %u buffers (header); %llu "
		       "buffers flagged events-lost, %llu buffer-lost\n",
		       lf->events_lost, lf->buffers_lost,
		       (unsigned long long)c.flag_events_lost,
		       (unsigned long long)c.flag_buffer_lost);
		printf("events        %llu\n", (unsigned long long)total);
		printf("heap events   %llu (create %llu, alloc %llu, realloc "
		       "%llu, free %llu, destroy %llu; other heap %llu)\n",
		       (unsigned long long)heap, (unsigned long long)hops[0],
		       (unsigned long long)hops[1],
		       (unsigned long long)hops[2],
		       (unsigned long long)hops[3],
		       (unsigned long long)hops[4],
		       (unsigned long long)heap_other);
		printf("stack events  %llu\n", (unsigned long long)stacks);
		printf("processes     %zu\n", nm.n);
		for (i = 0; i < nm.n; i++)
			if (nm.v[i].heap_events)
				printf("  pid %-8u %-24s %llu heap events\n",
				       nm.v[i].pid, nm.v[i].name,
				       (unsigned long long)
				       nm.v[i].heap_events);
		printf("header types ");
		for (i = 0; i < 0x16; i++)
			if (htypes[i])
				printf(" %s:%llu", etl_htype_name((int)i),
				       (unsigned long long)htypes[i]);
		printf("\nkinds         %zu\n", ks.n);
		for (i = 0; i < ks.n; i++) {
			const struct kind *k = &ks.v[i];
			printf("  %10llu  ", (unsigned long long)k->count);
			switch (k->cls) {
			case K_KERNEL:
				if (etl_group_name(k->group))
					printf("%-10s",
					       etl_group_name(k->group));
				else
					printf("0x%02x      ", k->group);
				printf(" type %3u v%u %s\n", k->type,
				       k->version, etl_htype_name(k->htype));
				break;
			case K_EVENT:
				etl_guid_str(k->guid, g);
				printf("%s id %u opcode %u%s\n", g, k->id,
				       k->opcode, k->ext ? " ext" : "");
				break;
			case K_CLASSIC:
				etl_guid_str(k->guid, g);
				printf("%s type %u %s\n", g, k->type,
				       etl_htype_name(k->htype));
				break;
			case K_MESSAGE:
				etl_guid_str(k->guid, g);
				printf("%s message %u\n", g, k->id);
				break;
			default:
				printf("%s\n", etl_htype_name(k->htype));
			}
		}
	}
	if (fflush(stdout) || ferror(stdout)) {
		cli_error("cannot write standard output: %s",
			  strerror(errno));
		goto out;
	}
	if (c.bad_buffers)
		cli_warn("'%s': skipped %llu bad buffers (%llu bytes), the "
			 "first at offset %llu", path,
			 (unsigned long long)c.bad_buffers,
			 (unsigned long long)c.bad_bytes,
			 (unsigned long long)c.first_bad_off);
	rc = 0;
	goto out;
nomem:
	cli_error("'%s': out of memory", path);
out:
	free(ks.v);
	imap_free(&ks.map);
	names_free(&nm);
	etl_close(e);
	return rc;
}

/*
 * convert
 */
#define RING 2           /* heap events held back per thread (dedupe) */
#define BATCH 65536      /* a thread's events written at once (one block) */
#define MAX_BUFFERED ((size_t)4 << 20)  /* events buffered, all threads */

struct thr {
	uint64_t key;                 /* pid << 32 | tid */
	struct ht_event *buf;         /* not yet written; the last RING */
	size_t n, cap;                /* may still be dropped (dedupe) */
	/* expectations after a moving ReAlloc */
	uint64_t x_new, x_old, x_heap;
	int x_left, x_want_new, x_want_old;
	uint64_t last_heap_raw_ts;    /* for stack matching */
	int last_heap_stacked;
	int psize;
	struct pout *po;
};

struct conv {
	const struct convert_opts *o;
	struct etl *e;
	struct pouts outs;            /* one a process */
	struct thr *thr;
	size_t nthr, thr_cap;
	struct imap thr_map;
	uint32_t thr_cache[64];       /* get_thr(): index + 1, or 0 */
	const struct etl_clock *clk;
	size_t buffered;              /* sum of the threads' cap */
	int filters;                  /* convert_keep has work to do */
	struct names nm;
	uint64_t events, written, dropped_dup, heap_short, clamped;
	uint64_t stacks, stacks_matched, heap_with_stack, filtered;
	uint64_t ts_last;
	struct lossy {
		uint64_t off, ts_from, ts_to;
		uint16_t flags;
	} *lossy;
	size_t nlossy, lossy_cap;
	int failed;
};

static struct pout *get_out(struct conv *cv, uint32_t pid)
{
	const struct convert_opts *o = cv->o;
	struct ht_writer_opts wo;
	struct pout *po;
	int created, r;

	memset(&wo, 0, sizeof(wo));
	wo.level = o->level;
	wo.block_events = o->block_events;
	wo.clock_num = 1;
	wo.clock_den = 1;
	po = pouts_get(&cv->outs, pid, &wo, &created);
	if (!po || !created)
		return po;
	{
		const struct etl_logfile *lf = etl_logfile(cv->e);
		char pidv[16], build[16], freq[32], ps[8], st[32], cpus[16];
		char rt[32];
		const char *base = strrchr(o->in, '/');
		struct ht_kv kv[] = {
			{"trace.source", "etl"},
			{"trace.source_file", base ? base + 1 : o->in},
			{"process.pid", pidv},
			{"process.start_realtime_ns", rt},
			{"clock.source", clock_name(lf->clock_type)},
			{"clock.origin_ticks", "0"},
			{"host.ncpu", cpus},
			{"etl.os_build", build},
			{"etl.clock_freq", freq},
			{"etl.pointer_size", ps},
			{"etl.start_filetime", st},
			{"etl.logger", lf->logger_name},
		};
		snprintf(pidv, sizeof(pidv), "%u", pid);
		snprintf(build, sizeof(build), "%u", lf->provider_version);
		snprintf(freq, sizeof(freq), "%llu",
			 (unsigned long long)etl_freq(cv->e));
		snprintf(ps, sizeof(ps), "%u", lf->pointer_size);
		snprintf(st, sizeof(st), "%llu",
			 (unsigned long long)lf->start_time);
		snprintf(cpus, sizeof(cpus), "%u", lf->nproc);
		/* FILETIME (100 ns since 1601) -> ns since 1970 */
		snprintf(rt, sizeof(rt), "%llu", lf->start_time >
			 116444736000000000ULL ? (unsigned long long)
			 (lf->start_time - 116444736000000000ULL) * 100 : 0ULL);
		r = ht_writer_meta(po->w, kv, sizeof(kv) / sizeof(kv[0]));
		if (r) {
			cli_error("'%s': %s", po->path, ht_strerror(r));
			return NULL;
		}
	}
	return po;
}

/* The slow path of get_thr(). */
static __attribute__((noinline)) struct thr *find_thr(struct conv *cv, uint64_t key)
{
	int found;
	long s;
	struct thr *t;

	if (cv->nthr <= 16) {
		size_t i;
		for (i = 0; i < cv->nthr; i++)
			if (cv->thr[i].key == key)
				return &cv->thr[i];
	}
	s = imap_slot(&cv->thr_map, key, &found);
	if (s < 0)
		return NULL;
	if (found)
		return &cv->thr[cv->thr_map.vals[s]];
	if (cli_grow(&cv->thr, &cv->thr_cap, cv->nthr, sizeof(*cv->thr), 64)) {
		cv->thr_map.vals[s] = UINT32_MAX;
		return NULL;
	}
	cv->thr_map.vals[s] = (uint32_t)cv->nthr;
	cv->thr_map.n++;
	t = &cv->thr[cv->nthr++];
	memset(t, 0, sizeof(*t));
	t->key = key;
	return t;
}

/* The thread (pid, tid), created if new; NULL when out of memory.  A
 * direct-mapped cache of thread indices in front of the map: heap events
 * of a few threads come interleaved. */
static inline struct thr *get_thr(struct conv *cv, uint32_t pid,
				  uint32_t tid)
{
	uint64_t key = (uint64_t)pid << 32 | tid;
	unsigned h = (unsigned)((key * 0x9E3779B97F4A7C15ULL) >> 58);
	uint32_t i = cv->thr_cache[h];
	struct thr *t;

	if (i && cv->thr[i - 1].key == key)
		return &cv->thr[i - 1];
	if (!(t = find_thr(cv, key)))
		return NULL;
	cv->thr_cache[h] = (uint32_t)(t - cv->thr) + 1;
	return t;
}

/* Writes the thread's buffered events but the last keep, through the
 * filters (which apply after the realloc de-duplication saw every event)
 * and --limit, as one ht_writer_write(). */
static int flush_thr(struct conv *cv, struct thr *t, size_t keep)
{
	size_t n = t->n > keep ? t->n - keep : 0, i, k = 0;
	struct ht_event *ev = t->buf;
	int r;

	if (!n)
		return 0;
	if (cv->filters) {
		for (i = 0; i < n; i++) {
			if (cv->o->limit && cv->written + k >= cv->o->limit)
				break;
			if (!convert_keep(cv->o, &ev[i], 0)) {
				cv->filtered++;
				continue;
			}
			if (k != i)
				ev[k] = ev[i];
			k++;
		}
	} else {
		k = n;
	}
	if (k) {
		if (!t->po && !(t->po = get_out(cv, ev[0].pid)))
			return -1;
		if (!t->po->psize)
			t->po->psize = t->psize;
		r = ht_writer_write(t->po->w, ev, k);
		if (r) {
			cli_error("'%s': %s", t->po->path, ht_strerror(r));
			return -1;
		}
		t->po->events += k;
		cv->written += k;
	}
	memmove(t->buf, t->buf + n, (t->n - n) * sizeof(*t->buf));
	t->n -= n;
	return 0;
}

/* Makes room for one more event in the thread's buffer. */
static int room(struct conv *cv, struct thr *t)
{
	size_t nc;
	struct ht_event *nb;

	if (t->n < t->cap)
		return 0;
	if (t->cap >= BATCH || cv->buffered + t->cap > MAX_BUFFERED)
		return flush_thr(cv, t, RING);
	nc = t->cap ? t->cap * 2 : 16;
	nb = realloc(t->buf, nc * sizeof(*nb));
	if (!nb) {
		cli_error("'%s': out of memory", cv->o->in);
		return -1;
	}
	cv->buffered += nc - t->cap;
	t->buf = nb;
	t->cap = nc;
	return 0;
}

static void ring_drop(struct thr *t, size_t i)
{
	memmove(&t->buf[i], &t->buf[i + 1],
		(t->n - i - 1) * sizeof(t->buf[0]));
	t->n--;
}

static const uint8_t op_of[ETL_HEAP_FREE + 1] = {
	[ETL_HEAP_CREATE] = HT_OP_HEAP_CREATE,
	[ETL_HEAP_ALLOC] = HT_OP_HEAP_ALLOC,
	[ETL_HEAP_REALLOC] = HT_OP_HEAP_REALLOC,
	[ETL_HEAP_DESTROY] = HT_OP_HEAP_DESTROY,
	[ETL_HEAP_FREE] = HT_OP_HEAP_FREE,
};

/* The heap event h (etl_heap_decode() of ev) into its thread's buffer,
 * built in place. */
static int heap_event(struct conv *cv, const struct etl_event *ev,
		      const struct etl_heap *h)
{
	struct ht_event *he;
	struct thr *t;
	int64_t ns;
	size_t i;
	uint32_t flags;
	int op = op_of[h->op];

	if (cv->o->pid_set && ev->pid != cv->o->pid) {
		cv->filtered++;
		return 0;
	}
	ns = etl_clock_ns(cv->clk, ev->ts);
	if (ns < 0) {
		cv->clamped++;
		ns = 0;
	}
	if (!(t = get_thr(cv, ev->pid, ev->tid))) {
		cli_error("'%s': out of memory", cv->o->in);
		return -1;
	}
	t->last_heap_raw_ts = ev->ts;
	t->last_heap_stacked = 0;
	t->psize = ev->psize;
	/* duplicates of a moving ReAlloc after it (h->addr is 0 for
	 * Create and Destroy, which carry no address) */
	if (t->x_left > 0) {
		t->x_left--;
		if (h->heap == t->x_heap) {
			if (t->x_want_new && op == HT_OP_HEAP_ALLOC &&
			    h->addr == t->x_new) {
				t->x_want_new = 0;
				cv->dropped_dup++;
				return 0;
			}
			if (t->x_want_old && op == HT_OP_HEAP_FREE &&
			    h->addr == t->x_old) {
				t->x_want_old = 0;
				cv->dropped_dup++;
				return 0;
			}
		}
		/* the new block freed, or the old address handed out
		 * again: a later Alloc(new) / Free(old) is a real one */
		if ((op == HT_OP_HEAP_FREE && h->addr == t->x_new) ||
		    (op == HT_OP_HEAP_REALLOC && h->old_addr == t->x_new &&
		     h->addr != t->x_new))
			t->x_want_new = 0;
		if ((op == HT_OP_HEAP_ALLOC || op == HT_OP_HEAP_REALLOC) &&
		    h->addr == t->x_old)
			t->x_want_old = 0;
	}
	if (op == HT_OP_HEAP_REALLOC && h->addr && h->old_addr &&
	    h->addr != h->old_addr) {
		int want_new = 1, want_old = 1, seek_new = 1, seek_old = 1;
		size_t lo = t->n > RING ? t->n - RING : 0;
		/* ... and before it: the last RING events, not yet written;
		 * going back in time, a Free of NewAddress or an Alloc of
		 * OldAddress means what comes before it is real */
		for (i = t->n; i-- > lo;) {
			struct ht_event *p = &t->buf[i];
			if (seek_new && p->heap == h->heap &&
			    p->op == HT_OP_HEAP_ALLOC && p->addr == h->addr) {
				ring_drop(t, i);
				want_new = seek_new = 0;
				cv->dropped_dup++;
				continue;
			}
			if (seek_old && p->heap == h->heap &&
			    p->op == HT_OP_HEAP_FREE && p->addr == h->old_addr) {
				ring_drop(t, i);
				want_old = seek_old = 0;
				cv->dropped_dup++;
				continue;
			}
			if ((p->op == HT_OP_HEAP_FREE && p->addr == h->addr) ||
			    (p->op == HT_OP_HEAP_REALLOC &&
			     p->old_addr == h->addr && p->addr != h->addr))
				seek_new = 0;
			if ((p->op == HT_OP_HEAP_ALLOC ||
			     p->op == HT_OP_HEAP_REALLOC) &&
			    p->addr == h->old_addr)
				seek_old = 0;
		}
		t->x_want_new = want_new;
		t->x_want_old = want_old;
		t->x_left = (want_new || want_old) ? RING : 0;
		t->x_new = h->addr;
		t->x_old = h->old_addr;
		t->x_heap = h->heap;
	}
	if (room(cv, t))
		return -1;
	/* Alloc/ReAlloc with a 0 result failed; a ReAlloc to the same
	 * address is in place (no branches: the op is a coin toss) */
	flags = ((uint32_t)(op == HT_OP_HEAP_ALLOC ||
			    op == HT_OP_HEAP_REALLOC) & (h->addr == 0)) *
		HT_EV_FAILED |
		((uint32_t)(op == HT_OP_HEAP_REALLOC) & (h->addr != 0) &
		 (h->addr == h->old_addr)) * HT_EV_INPLACE;
	he = &t->buf[t->n++];
	/* every field: etl_heap_decode() zeroes those the op lacks */
	he->ts = (uint64_t)ns;
	he->addr = h->addr;
	he->size = h->size;
	he->old_addr = h->old_addr;
	he->old_size = h->old_size;
	he->align = 0;
	he->nmemb = 0;
	he->heap = h->heap;
	he->dur = 0; /* ETW heap events are not timed calls */
	he->pid = ev->pid;
	he->tid = ev->tid;
	he->flags = flags;
	he->result = 0;
	he->aux = h->source;
	he->op = (uint8_t)op;
	return 0;
}

static void stack_event(struct conv *cv, const struct etl_event *ev)
{
	struct etl_stack s;
	struct thr *t;

	if (!etl_stack_decode(ev, &s))
		return;
	cv->stacks++;
	if (!cv->thr_map.n)
		return;
	t = get_thr(cv, s.pid, s.tid);
	if (!t)
		return;
	if (t->last_heap_raw_ts == s.ts && (t->n || t->po)) {
		cv->stacks_matched++;
		if (!t->last_heap_stacked) {
			t->last_heap_stacked = 1;
			cv->heap_with_stack++;
		}
	}
}

/* Buffers flagged EVENTS_LOST / BUFFER_LOST: time range of their events. */
static int note_lossy(struct conv *cv, const struct etl_event *ev)
{
	struct lossy *l;
	size_t i;

	for (i = cv->nlossy; i-- > 0;) {
		if (cv->lossy[i].off == ev->buf_off) {
			l = &cv->lossy[i];
			goto found;
		}
		if (cv->nlossy - i > 8)
			break;
	}
	if (cli_grow(&cv->lossy, &cv->lossy_cap, cv->nlossy, sizeof(*cv->lossy),
		     16))
		return -1;
	l = &cv->lossy[cv->nlossy++];
	l->off = ev->buf_off;
	l->flags = ev->bflags;
	l->ts_from = l->ts_to = ev->ts;
found:
	if (ev->ts < l->ts_from)
		l->ts_from = ev->ts;
	if (ev->ts > l->ts_to)
		l->ts_to = ev->ts;
	return 0;
}

static uint64_t clamp_ns(struct etl *e, uint64_t raw)
{
	int64_t ns = etl_rel_ns(e, raw);
	return ns < 0 ? 0 : (uint64_t)ns;
}

static int finish(struct conv *cv)
{
	const struct etl_logfile *lf = etl_logfile(cv->e);
	struct etl_counts c;
	size_t i, j;
	int r;

	etl_counts(cv->e, &c);
	for (i = 0; i < cv->outs.n; i++) {
		struct pout *po = &cv->outs.v[i];
		struct pname *pn = names_get(&cv->nm, po->pid);
		struct ht_loss l;
		char v[9][32];
		struct ht_kv kv[10];
		size_t n = 0;

		if (pn && pn->name[0])
			kv[n++] = (struct ht_kv){"process.exe", pn->name};
		if (po->psize) {
			snprintf(v[6], 32, "%d", po->psize * 8);
			kv[n++] = (struct ht_kv){"process.pointer_bits", v[6]};
		}
		snprintf(v[0], 32, "%llu", (unsigned long long)cv->dropped_dup);
		kv[n++] = (struct ht_kv){"etl.realloc_duplicates_dropped",
					 v[0]};
		snprintf(v[1], 32, "%llu", (unsigned long long)cv->stacks);
		kv[n++] = (struct ht_kv){"etl.stack_events", v[1]};
		snprintf(v[2], 32, "%llu",
			 (unsigned long long)cv->heap_with_stack);
		kv[n++] = (struct ht_kv){"etl.heap_events_with_stack", v[2]};
		snprintf(v[3], 32, "%llu", (unsigned long long)c.bad_buffers);
		kv[n++] = (struct ht_kv){"etl.bad_buffers", v[3]};
		snprintf(v[4], 32, "%u", lf->events_lost);
		kv[n++] = (struct ht_kv){"etl.events_lost", v[4]};
		snprintf(v[5], 32, "%u", lf->buffers_lost);
		kv[n++] = (struct ht_kv){"etl.buffers_lost", v[5]};
		r = ht_writer_meta(po->w, kv, n);
		if (r)
			goto werr;
		memset(&l, 0, sizeof(l));
		l.pid = po->pid;
		l.reason = HT_LOSS_SOURCE;
		if (lf->events_lost || lf->buffers_lost) {
			l.ts_from = 0;
			l.ts_to = clamp_ns(cv->e, cv->ts_last);
			l.events = lf->events_lost;
			if ((r = ht_writer_loss(po->w, &l)))
				goto werr;
		}
		for (j = 0; j < cv->nlossy; j++) {
			l.ts_from = clamp_ns(cv->e, cv->lossy[j].ts_from);
			l.ts_to = clamp_ns(cv->e, cv->lossy[j].ts_to);
			l.events = 0;
			if ((r = ht_writer_loss(po->w, &l)))
				goto werr;
		}
		if (c.bad_buffers) {
			l.ts_from = 0;
			l.ts_to = clamp_ns(cv->e, cv->ts_last);
			l.events = 0;
			if ((r = ht_writer_loss(po->w, &l)))
				goto werr;
		}
		if (pout_close(po))
			return -1;
		continue;
werr:
		cli_error("cannot write '%s': %s", po->path, ht_strerror(r));
		return -1;
	}
	return 0;
}

int convert_etl_to_htape(const struct convert_opts *o)
{
	struct cli_progress prog;
	struct conv cv;
	const struct etl_event *evp;
	struct etl_counts c;
	size_t i;
	int r, rc = 1;

	memset(&cv, 0, sizeof(cv));
	cv.o = o;
	cv.filters = o->ntids || o->ops_set || o->from_set || o->to_set ||
		     o->limit;
	errno = 0;
	r = etl_open(&cv.e, o->in, o->salvage ? ETL_SALVAGE : 0);
	if (r) {
		open_error(cv.e, o->in, r);
		goto out;
	}
	cv.clk = etl_clock(cv.e);
	if (pouts_init(&cv.outs, o))
		goto out;
	if (o->progress) {
		const struct etl_buffer *bb;
		size_t nb = etl_buffers(cv.e, &bb);
		cli_progress_start(&prog, "convert", nb);
	}
	while ((r = etl_next_ref(cv.e, &evp)) > 0) {
		const struct etl_event *ev = evp;
		struct etl_heap h;
		int hr;

		cv.events++;
		if (o->progress && !(cv.events & 0xFFFF)) {
			struct etl_counts pc;
			etl_counts(cv.e, &pc);
			cli_progress_update(&prog, pc.buffers_read);
		}
		if (ev->has_ts)
			cv.ts_last = ev->ts;
		if ((ev->bflags & (ETL_BF_EVENTS_LOST | ETL_BF_BUFFER_LOST)) &&
		    note_lossy(&cv, ev))
			goto nomem;
		switch (ev->group) {
		case ETL_GROUP_HEAP:
		case 0:
			hr = etl_heap_decode(ev, &h);
			if (hr == 1) {
				if (heap_event(&cv, ev, &h))
					goto out;
			} else if (hr < 0) {
				cv.heap_short++;
			}
			break;
		case ETL_GROUP_STACKWALK:
			stack_event(&cv, ev);
			break;
		case ETL_GROUP_PROCESS:
			if (names_note(&cv.nm, ev))
				goto nomem;
			break;
		}
	}
	if (o->progress)
		cli_progress_end(&prog);
	if (r < 0) {
		open_error(cv.e, o->in, 1);
		goto out;
	}
	/* what the threads still hold (each thread's order is kept) */
	for (i = 0; i < cv.nthr; i++)
		if (flush_thr(&cv, &cv.thr[i], 0))
			goto out;
	if (!cv.outs.n) {
		/* nothing to convert: still write an (empty) trace */
		if (!get_out(&cv, o->pid_set ? o->pid : 0))
			goto out;
		if (!o->pid_set)
			cli_warn("'%s': no heap events (%llu events read)",
				 o->in, (unsigned long long)cv.events);
		else
			cli_warn("'%s': no heap events of pid %u", o->in,
				 o->pid);
	}
	if (finish(&cv))
		goto out;
	if (pouts_commit(&cv.outs))
		goto out;
	etl_counts(cv.e, &c);
	if (cv.outs.n > 1)
		for (i = 0; i < cv.outs.n; i++) {
			const struct pout *po = &cv.outs.v[i];
			struct pname *pn = names_get(&cv.nm, po->pid);
			printf("%s: pid %u%s%s%s, %llu events\n",
			       po->out.path, po->pid,
			       pn && pn->name[0] ? " (" : "",
			       pn && pn->name[0] ? pn->name : "",
			       pn && pn->name[0] ? ")" : "",
			       (unsigned long long)po->events);
		}
	if (c.bad_buffers)
		cli_warn("'%s': skipped %llu bad buffers (%llu bytes), the "
			 "first at offset %llu", o->in,
			 (unsigned long long)c.bad_buffers,
			 (unsigned long long)c.bad_bytes,
			 (unsigned long long)c.first_bad_off);
	if (cv.dropped_dup)
		cli_warn("'%s': dropped %llu Alloc/Free events that repeat "
			 "a moving ReAlloc", o->in,
			 (unsigned long long)cv.dropped_dup);
	if (cv.heap_short)
		cli_warn("'%s': %llu heap events too short to decode, "
			 "skipped", o->in, (unsigned long long)cv.heap_short);
	if (cv.clamped)
		cli_warn("'%s': %llu heap events before the log-file header "
			 "got time 0", o->in, (unsigned long long)cv.clamped);
	rc = 0;
	goto out;
nomem:
	cli_error("'%s': out of memory", o->in);
out:
	pouts_free(&cv.outs);
	for (i = 0; i < cv.nthr; i++)
		free(cv.thr[i].buf);
	free(cv.thr);
	free(cv.lossy);
	imap_free(&cv.thr_map);
	names_free(&cv.nm);
	etl_close(cv.e);
	return rc;
}
