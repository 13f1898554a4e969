/*
 * test_format_damage.c - what the reader does with damaged traces:
 * a multi-block trace cut at every byte offset reads back exactly the
 * events of its whole blocks with the truncation reported; every single
 * bit flip of a small trace is detected (100 %), and salvage mode then
 * recovers every block the flip did not hit.  All in memory, each input
 * in a buffer of exactly its size so that ASan sees any overread.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heaptape.h"
#include "tap.h"
#include "gen.h"

#define NT 3

struct trace {
	uint8_t *buf;
	size_t len;
	struct ht_event *ev[NT];
	size_t per;
};

/* An EVENTS block of the clean file: where it is, whose events. */
struct eblk {
	size_t off, end;
	uint32_t tid, count;
	size_t first;   /* index in the thread's sequence */
};

static struct eblk eb[4096];
static size_t n_eb;

static void make_trace(struct trace *t, size_t per, uint32_t block_events,
		       uint32_t index_every, uint64_t seed)
{
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct gen g = { seed };
	char path[] = "/tmp/ht-dmg-XXXXXX";
	int fd = mkstemp(path);

	unlink(path);
	t->per = per;
	for (int k = 0; k < NT; k++) {
		uint64_t ts = 0;

		t->ev[k] = malloc(per * sizeof(struct ht_event));
		for (size_t i = 0; i < per; i++)
			gen_event(&g, &t->ev[k][i], &ts, 7, (uint32_t)k, 1);
	}
	memset(&o, 0, sizeof(o));
	o.block_events = block_events;
	o.index_every = index_every;
	ht_writer_open(&w, fd, &o);
	struct ht_kv kv = { "host.name", "damage" };
	ht_writer_meta(w, &kv, 1);
	/* interleave the threads' batches */
	for (size_t i = 0; i < per; i += block_events)
		for (int k = 0; k < NT; k++)
			ht_writer_write(w, &t->ev[k][i], per - i < block_events
					? per - i : block_events);
	CHECK_EQ(ht_writer_close(w), 0);
	t->len = (size_t)lseek(fd, 0, SEEK_END);
	t->buf = malloc(t->len);
	CHECK_EQ(pread(fd, t->buf, t->len, 0), (ssize_t)t->len);
	close(fd);

	/* The block list, from the framing (spec/FORMAT.md). */
	size_t next[NT] = { 0 };
	n_eb = 0;
	for (size_t off = 64; off + 48 <= t->len;) {
		uint32_t plen, count, tid;

		memcpy(&plen, t->buf + off + 8, 4);
		memcpy(&count, t->buf + off + 12, 4);
		memcpy(&tid, t->buf + off + 24, 4);
		size_t end = off + 48 + ((plen + 7u) & ~7u);
		if (t->buf[off + 4] == 0x01 && n_eb < 4096) {
			eb[n_eb].off = off;
			eb[n_eb].end = end;
			eb[n_eb].tid = tid;
			eb[n_eb].count = count;
			eb[n_eb].first = next[tid];
			next[tid] += count;
			n_eb++;
		}
		off = end;
	}
	for (int k = 0; k < NT; k++)
		CHECK_EQ(next[k], per);
}

static int same(const struct ht_event *a, const struct ht_event *b)
{
	return !memcmp(a, b, offsetof(struct ht_event, op)) && a->op == b->op;
}

/*
 * Reads all events of buf (mode); checks that stream k got exactly the
 * events of the clean blocks for which keep(block) is true, in order.
 * Returns the number of mismatches; *rc_out the final reader status.
 */
static int read_expect(const struct trace *t, const uint8_t *buf, size_t len,
		       int mode, size_t lost_lo, size_t lost_hi,
		       int *open_rc, int *rc_out, int *complete,
		       int *truncated)
{
	struct ht_reader *r;
	struct ht_event e;
	size_t pos[NT] = { 0 }, bi[NT] = { 0 };
	int bad = 0, rc;
	const struct ht_problem *pr;

	*open_rc = ht_reader_open_mem(&r, buf, len, mode);
	*rc_out = *open_rc;
	*complete = 0;
	*truncated = 0;
	if (!r)
		return 1;
	if (*open_rc == 0) {
		while ((rc = ht_reader_next(r, &e)) == 1) {
			uint32_t k = e.tid;

			if (k >= NT) {
				bad++;
				break;
			}
			/* advance to the next block of stream k we keep */
			for (;;) {
				size_t j;
				for (j = bi[k]; j < n_eb; j++)
					if (eb[j].tid == k)
						break;
				bi[k] = j;
				if (j == n_eb) {
					bad++;
					break;
				}
				int lost = eb[j].end > lost_lo &&
					   eb[j].off < lost_hi;
				if (!lost && pos[k] < eb[j].first + eb[j].count)
				{
					if (pos[k] < eb[j].first)
						pos[k] = eb[j].first;
					break;
				}
				bi[k] = j + 1;
			}
			if (bi[k] == n_eb)
				break;
			if (!same(&e, &t->ev[k][pos[k]]))
				bad++;
			pos[k]++;
		}
		*rc_out = rc;
		/* every kept block fully read: count what was expected */
		size_t want[NT] = { 0 };
		for (size_t j = 0; j < n_eb; j++)
			if (!(eb[j].end > lost_lo && eb[j].off < lost_hi))
				want[eb[j].tid] += eb[j].count;
		size_t got[NT] = { 0 };
		for (size_t j = 0; j < n_eb; j++) {
			uint32_t k = eb[j].tid;
			if (!(eb[j].end > lost_lo && eb[j].off < lost_hi) &&
			    pos[k] >= eb[j].first + eb[j].count)
				got[k] += eb[j].count;
		}
		if (rc == 0)
			for (int k = 0; k < NT; k++)
				bad += got[k] != want[k];
	}
	*complete = ht_reader_complete(r);
	size_t np = ht_reader_problems(r, &pr);
	for (size_t i = 0; i < np; i++)
		if (pr[i].code == HT_ETRUNC)
			*truncated = 1;
	ht_reader_close(r);
	return bad;
}

/* R-RD-2, R-BLK-5, R-RD-3 (strict), R-HDR-7: a cut at every byte. */
static void test_truncate_every_byte(void)
{
	struct trace t;
	int bad_events = 0, bad_report = 0, bad_strict = 0;

	make_trace(&t, 100, 40, 3, 21);
	CHECK(n_eb >= 9);
	for (size_t cut = 0; cut <= t.len; cut++) {
		uint8_t *b = malloc(cut ? cut : 1);
		int orc, rc, complete, trunc;

		memcpy(b, t.buf, cut);
		/* events of blocks past the cut are lost */
		int bad = read_expect(&t, b, cut, HT_READ_STOP, cut, SIZE_MAX,
				      &orc, &rc, &complete, &trunc);
		if (cut < 64) {
			bad_report += orc != (cut >= 4 ? HT_ETRUNC :
					      HT_ENOTTRACE);
		} else if (cut < t.len) {
			bad_events += bad || rc != 0;
			bad_report += complete || !trunc;
		} else {
			bad_events += bad || rc != 0;
			bad_report += !complete || trunc;
		}
		if (cut >= 64 && cut < t.len) {
			struct ht_reader *r;

			bad_strict += ht_reader_open_mem(&r, b, cut,
							 HT_READ_STRICT) !=
				      HT_ETRUNC;
			ht_reader_close(r);
			bad_events += read_expect(&t, b, cut, HT_READ_SALVAGE,
						  cut, SIZE_MAX, &orc, &rc,
						  &complete, &trunc) ||
				      orc || rc;
		}
		free(b);
	}
	CHECK_EQ(bad_events, 0);
	CHECK_EQ(bad_report, 0);
	CHECK_EQ(bad_strict, 0);
	for (int k = 0; k < NT; k++)
		free(t.ev[k]);
	free(t.buf);
}

/* Detected = open fails, next fails, or some decode_block fails. */
static int detected(const uint8_t *b, size_t len)
{
	struct ht_reader *r;
	struct ht_event e, out[64];
	struct ht_decoder *d;
	const struct ht_block_info *bi;
	int rc, found = 0;

	if (ht_reader_open_mem(&r, b, len, HT_READ_STOP)) {
		ht_reader_close(r);
		return 1;
	}
	if (!ht_reader_complete(r))
		found = 1;
	while ((rc = ht_reader_next(r, &e)) == 1)
		;
	if (rc < 0)
		found = 1;
	ht_decoder_new(&d);
	size_t nb = ht_reader_blocks(r, &bi);
	for (size_t i = 0; i < nb; i++)
		if (ht_reader_decode_block(r, d, i, out, 64) < 0)
			found = 1;
	ht_decoder_free(d);
	ht_reader_close(r);
	return found;
}

/* R-RD-1 (stop: detected), R-RD-4 (salvage: resync, only the hit block
 * lost), R-BLK-3, R-BLK-6, R-BLK-7: every single-bit flip. */
static void test_bit_flips(void)
{
	struct trace t;
	size_t missed = 0, unsalvaged = 0, flips = 0;
	uint8_t *b;

	make_trace(&t, 60, 20, 2, 22);
	b = malloc(t.len);
	CHECK(!detected(t.buf, t.len));
	for (size_t x = 0; x < t.len; x++) {
		for (int bit = 0; bit < 8; bit++) {
			int orc, rc, complete, trunc;

			memcpy(b, t.buf, t.len);
			b[x] ^= (uint8_t)(1u << bit);
			flips++;
			if (!detected(b, t.len)) {
				if (missed++ < 5)
					printf("# flip at %zu bit %d missed\n",
					       x, bit);
			}
			if (x < 64)
				continue; /* a bad file header is fatal */
			if (read_expect(&t, b, t.len, HT_READ_SALVAGE, x,
					x + 1, &orc, &rc, &complete, &trunc) ||
			    orc || rc) {
				if (unsalvaged++ < 5)
					printf("# flip at %zu bit %d: salvage "
					       "lost more (open %d next %d)\n",
					       x, bit, orc, rc);
			}
		}
	}
	printf("# %zu flips over %zu bytes\n", flips, t.len);
	CHECK_EQ(missed, 0);
	CHECK_EQ(unsalvaged, 0);
	free(b);
	for (int k = 0; k < NT; k++)
		free(t.ev[k]);
	free(t.buf);
}

/* R-RD-6: hostile lengths, counts and garbage never crash or hang. */
static void test_garbage(void)
{
	struct gen g = { 23 };
	struct trace t;
	uint8_t *b;
	int crashes = 0;

	make_trace(&t, 50, 10, 4, 24);
	b = malloc(t.len);
	for (int rep = 0; rep < 3000; rep++) {
		struct ht_reader *r;
		struct ht_event e;
		int nflip = 1 + (int)gen_below(&g, 20);

		memcpy(b, t.buf, t.len);
		for (int k = 0; k < nflip; k++)
			b[64 + gen_below(&g, t.len - 64)] =
				(uint8_t)gen_u64(&g);
		for (int mode = 0; mode < 3; mode++) {
			ht_reader_open_mem(&r, b, t.len, mode);
			if (!r) {
				crashes++;
				continue;
			}
			for (int n = 0; n < 100000 &&
			     ht_reader_next(r, &e) == 1; n++)
				;
			ht_reader_close(r);
		}
	}
	CHECK_EQ(crashes, 0);
	free(b);
	for (int k = 0; k < NT; k++)
		free(t.ev[k]);
	free(t.buf);
}

int main(void)
{
	TEST(test_truncate_every_byte);
	TEST(test_bit_flips);
	TEST(test_garbage);
	return TAP_DONE();
}
