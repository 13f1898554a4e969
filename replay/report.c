/*
 * report.c - what `heaptape replay` prints: the side-by-side table, CSV
 * (one row per allocator) and JSON (--json; `heaptape plot` reads its
 * rss_series).  With --repeat, every figure is the median over the runs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../convert/cli.h"
#include "run.h"

static const char *const kind_names[] = RP_KIND_NAMES;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double raw_quantile(const struct rp_kind_stats *k, double q,
			   double tick);

/* Value at quantile q of a histogram, in ns (bucket midpoint), less the
 * timer's own cost. */
static double quantile(const struct rp_kind_stats *k, double q, double tick,
		       uint64_t timer)
{
	double v = raw_quantile(k, q, tick) - (double)timer * tick;

	return v > 0 ? v : 0;
}

static double raw_quantile(const struct rp_kind_stats *k, double q,
			   double tick)
{
	return rp_hist_quantile(k, q) * tick;
}

#define MED(field, expr)                                                   \
	do {                                                               \
		for (int i = 0; i < nres; i++)                             \
			v[i] = (expr);                                     \
		field = median(v, nres);                                   \
	} while (0)

void summarise(const struct rp_result *res, int nres, struct alloc_sum *s)
{
	double v[64];
	double best = -1;

	if (nres > 64)
		nres = 64;
	s->runs = nres;
	MED(s->wall_s, res[i].wall_s);
	MED(s->user_s, res[i].user_s);
	MED(s->sys_s, res[i].sys_s);
	MED(s->stall_s, res[i].stall_s);
	{
		double d;
		MED(d, (double)res[i].peak_rss);
		s->peak_rss = (uint64_t)d;
		MED(d, (double)res[i].page_faults);
		s->page_faults = (uint64_t)d;
	}
	for (int k = 1; k < RK_NCALLS; k++) {
		struct kind_sum *ks = &s->kinds[k];
		ks->count = nres ? res[0].kinds[k].count : 0;
#define Q(q) quantile(&res[i].kinds[k], q, res[i].tick_ns, res[i].timer_ticks)
		MED(ks->p50, Q(0.50));
		MED(ks->p99, Q(0.99));
		MED(ks->p999, Q(0.999));
#undef Q
		MED(ks->max, ((double)res[i].kinds[k].max -
			      (double)res[i].timer_ticks) * res[i].tick_ns);
		MED(ks->mean, res[i].kinds[k].timed
				      ? ((double)res[i].kinds[k].sum /
						 (double)res[i].kinds[k].timed -
					 (double)res[i].timer_ticks) *
						res[i].tick_ns
				      : 0);
		if (ks->max < 0)
			ks->max = 0;
		if (ks->mean < 0)
			ks->mean = 0;
	}
	for (int i = 0; i < nres; i++) {
		/* The series of the run closest to the median wall time. */
		double d = res[i].wall_s - s->wall_s;
		if (d < 0)
			d = -d;
		if (best < 0 || d < best) {
			best = d;
			s->series = &res[i];
		}
		if (res[i].content_errors > s->content_errors)
			s->content_errors = res[i].content_errors;
	}
	if (nres) {
		s->calls = res[0].calls;
		s->null_results = res[0].null_results;
		s->fallbacks = res[0].fallbacks;
		s->threads = res[0].threads;
		s->timer_ns = (double)res[0].timer_ticks * res[0].tick_ns;
		snprintf(s->allocator, sizeof(s->allocator), "%s",
			 res[0].allocator);
	}
}

static double frag(const struct alloc_sum *s, const struct plan_info *in)
{
	return in->ideal_peak ? (double)s->peak_rss / (double)in->ideal_peak
			      : 0;
}

static void human(char *buf, size_t n, uint64_t b)
{
	if (b >= (1ull << 30))
		snprintf(buf, n, "%.2f GiB", (double)b / (1ull << 30));
	else if (b >= (1ull << 20))
		snprintf(buf, n, "%.1f MiB", (double)b / (1ull << 20));
	else if (b >= 1024)
		snprintf(buf, n, "%.1f KiB", (double)b / 1024);
	else
		snprintf(buf, n, "%llu B", (unsigned long long)b);
}

/* The recorded run's call times (record --latency) as a summary, less
 * the clock's own cost as replay's are. */
static int recorded_kinds(const struct report_ctx *c,
			  struct kind_sum out[RK_NCALLS])
{
	const struct rp_kind_stats *lat = c->info->rec_lat;
	double ck = c->rec_clock_ns;

	memset(out, 0, RK_NCALLS * sizeof(*out));
	if (!lat)
		return 0;
	for (int k = 1; k < RK_NCALLS; k++) {
		out[k].count = lat[k].count;
		out[k].p50 = fmax(rp_hist_quantile(&lat[k], 0.50) - ck, 0);
		out[k].p99 = fmax(rp_hist_quantile(&lat[k], 0.99) - ck, 0);
		out[k].p999 = fmax(rp_hist_quantile(&lat[k], 0.999) - ck, 0);
		out[k].max = fmax((double)lat[k].max - ck, 0);
		out[k].mean = lat[k].count ?
			fmax((double)lat[k].sum / (double)lat[k].count - ck,
			     0) : 0;
	}
	return 1;
}

static int kind_used(const struct report_ctx *c, int k)
{
	if (c->info->rec_lat && c->info->rec_lat[k].count)
		return 1;
	for (size_t i = 0; i < c->n; i++)
		if (c->sums[i].ok && c->sums[i].kinds[k].count)
			return 1;
	return 0;
}

/* Whether the harness stood still long enough to tell (5% of a run's
 * wall time): the wall time is then not all the allocator's. */
static int stalled(const struct report_ctx *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->sums[i].ok && c->sums[i].stall_s >= 0.001 &&
		    c->sums[i].stall_s >= 0.05 * c->sums[i].wall_s)
			return 1;
	return 0;
}

void report_table(FILE *f, const struct report_ctx *c)
{
	const struct plan_info *in = c->info;
	int w = 14;
	char buf[64];
	struct kind_sum rk[RK_NCALLS];
	int rec = recorded_kinds(c, rk);
	size_t more;

	for (size_t i = 0; i < c->n; i++) {
		int l = (int)strlen(c->sums[i].spec->name) + 2;
		if (l > w)
			w = l > 40 ? 40 : l;
	}
	if (c->have_pid && in->pid_traces) {
		/* only the traces that had the process */
		fprintf(f, "replay of pid %u of %s", c->pid,
			c->traces[in->pid_trace]);
		more = in->pid_traces - 1;
	} else {
		fprintf(f, "replay of %s", c->traces[0]);
		more = c->ntraces - 1;
	}
	if (more)
		fprintf(f, " and %zu more trace%s", more, more == 1 ? "" : "s");
	fprintf(f, ": %llu events, %llu thread%s, %u process%s, "
		   "%s timing%s\n",
		(unsigned long long)in->events,
		(unsigned long long)in->nstreams,
		in->nstreams == 1 ? "" : "s", in->npids,
		in->npids == 1 ? "" : "es",
		c->timing_recorded ? "recorded" : "asap",
		c->check ? ", contents checked" : "");
	if (c->rec_alloc || c->has_rec_rss) {
		fputs("recorded on ", f);
		cli_put_clean(f, c->rec_alloc ? c->rec_alloc :
				 "an unknown allocator", 64);
		if (c->rec_alloc_version) {
			fputc(' ', f);
			cli_put_clean(f, c->rec_alloc_version, 64);
		}
		if (c->has_rec_rss) {
			human(buf, sizeof(buf), c->rec_peak_rss);
			fprintf(f, ", peak RSS %s (%s)", buf,
				in->npids > 1 ? "its processes together" :
						"the whole process");
		}
		fputc('\n', f);
	}
	fprintf(f, "%-22s", "");
	if (rec)
		fprintf(f, "%*.*s", w, w - 2, "recorded");
	for (size_t i = 0; i < c->n; i++)
		fprintf(f, "%*.*s", w, w - 2, c->sums[i].spec->name);
	fputc('\n', f);
	/* A row: the recorded run's cell (when the calls were timed: the
	 * call times, else "-"), then each allocator's. */
#define ROWR(label, recexpr, ...)                                          \
	do {                                                               \
		fprintf(f, "%-22s", label);                                \
		if (rec) {                                                 \
			recexpr;                                           \
			fprintf(f, "%*s", w, buf);                         \
		}                                                          \
		for (size_t i = 0; i < c->n; i++) {                        \
			const struct alloc_sum *s = &c->sums[i];           \
			if (!s->ok) {                                      \
				fprintf(f, "%*s", w, "failed");            \
				continue;                                  \
			}                                                  \
			__VA_ARGS__;                                       \
			fprintf(f, "%*s", w, buf);                         \
		}                                                          \
		fputc('\n', f);                                            \
	} while (0)
#define ROW(label, ...) ROWR(label, snprintf(buf, sizeof(buf), "-"),       \
			     __VA_ARGS__)
#define KROW(label, field)                                                 \
	ROWR(label, snprintf(buf, sizeof(buf), "%.0f", rk[k].field),       \
	     snprintf(buf, sizeof(buf), "%.0f", s->kinds[k].field))
	ROW("wall s", snprintf(buf, sizeof(buf), "%.3f", s->wall_s));
	ROW("user s", snprintf(buf, sizeof(buf), "%.3f", s->user_s));
	ROW("sys s", snprintf(buf, sizeof(buf), "%.3f", s->sys_s));
	if (stalled(c))
		ROW("harness stall s",
		    snprintf(buf, sizeof(buf), "%.3f", s->stall_s));
	ROW("peak RSS", human(buf, sizeof(buf), s->peak_rss));
	ROW("ideal peak", human(buf, sizeof(buf), in->ideal_peak));
	ROW("fragmentation", snprintf(buf, sizeof(buf), "%.2f", frag(s, in)));
	ROW("page faults", snprintf(buf, sizeof(buf), "%llu",
				    (unsigned long long)s->page_faults));
	ROW("calls", snprintf(buf, sizeof(buf), "%llu",
			      (unsigned long long)s->calls));
	for (int k = 1; k < RK_NCALLS; k++) {
		char label[64];
		if (!kind_used(c, k))
			continue;
		snprintf(label, sizeof(label), "%s ns p50", kind_names[k]);
		KROW(label, p50);
		snprintf(label, sizeof(label), "%s ns p99", kind_names[k]);
		KROW(label, p99);
		snprintf(label, sizeof(label), "%s ns p99.9", kind_names[k]);
		KROW(label, p999);
		snprintf(label, sizeof(label), "%s ns max", kind_names[k]);
		KROW(label, max);
	}
	ROW("NULL results", snprintf(buf, sizeof(buf), "%llu",
				     (unsigned long long)s->null_results));
	if (c->check)
		ROW("content errors",
		    snprintf(buf, sizeof(buf), "%llu",
			     (unsigned long long)s->content_errors));
#undef KROW
#undef ROW
#undef ROWR
	if (rec)
		fprintf(f, "recorded = the program's own calls, timed by the "
			   "recorder (record --latency; its clock's own cost, "
			   "%.1f ns, excluded)\n", c->rec_clock_ns);
	if (stalled(c))
		fputs("harness stall = wall time with every replay thread "
		      "waiting for another (hand-offs, --window)\n", f);
	fprintf(f, "ideal peak = peak of live requested bytes; peak RSS = "
		   "anonymous RSS above the harness baseline;\ncall times "
		   "exclude the clock's own cost (%.1f ns)%s\n",
		c->n && c->sums[0].ok ? c->sums[0].timer_ns : 0,
		c->n && c->sums[0].runs > 1 ? "; medians of the runs" : "");
	{
		int any = 0;
		for (int r = 0; r < RS_N; r++) {
			if (!in->skipped[r])
				continue;
			fprintf(f, "%s %s %llu", any ? "," : "skipped:",
				rp_skip_names[r],
				(unsigned long long)in->skipped[r]);
			any = 1;
		}
		if (in->inversions)
			fprintf(f, "%sreuse inversions fixed %llu",
				any ? "; " : "",
				(unsigned long long)in->inversions), any = 1;
		if (in->exit_blocks)
			fprintf(f, "%sblocks left live at process exits, freed "
				   "there untimed %llu", any ? "; " : "",
				(unsigned long long)in->exit_blocks), any = 1;
		if (in->heap_blocks)
			fprintf(f, "%sblocks HeapDestroy released, freed there "
				   "untimed %llu", any ? "; " : "",
				(unsigned long long)in->heap_blocks), any = 1;
		if (any)
			fputc('\n', f);
	}
	for (size_t i = 0; i < c->n; i++)
		if (!c->sums[i].ok)
			fprintf(f, "%s failed: %s\n", c->sums[i].spec->name,
				c->sums[i].error);
}

static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* The call kinds' cells of a CSV row, then its end. */
static void csv_kinds(FILE *f, const struct report_ctx *c,
		      const struct kind_sum *ks)
{
	for (int k = 1; k < RK_NCALLS; k++)
		if (kind_used(c, k))
			fprintf(f, ",%llu,%.0f,%.0f,%.0f,%.0f",
				(unsigned long long)ks[k].count, ks[k].p50,
				ks[k].p99, ks[k].p999, ks[k].max);
	fputs("\r\n", f);
}

void report_csv(FILE *f, const struct report_ctx *c)
{
	const struct plan_info *in = c->info;
	struct kind_sum rk[RK_NCALLS];

	fputs("allocator,status,wall_s,user_s,sys_s,peak_rss_bytes,"
	      "ideal_peak_bytes,fragmentation,page_faults,events,calls", f);
	for (int k = 1; k < RK_NCALLS; k++)
		if (kind_used(c, k))
			fprintf(f, ",%s_count,%s_p50_ns,%s_p99_ns,%s_p999_ns,"
				   "%s_max_ns", kind_names[k], kind_names[k],
				kind_names[k], kind_names[k], kind_names[k]);
	fputs("\r\n", f);
	for (size_t i = 0; i < c->n; i++) {
		const struct alloc_sum *s = &c->sums[i];
		csv_field(f, s->spec->name);
		fprintf(f, ",%s,%.6f,%.6f,%.6f,%llu,%llu,%.4f,%llu,%llu,%llu",
			s->ok ? "ok" : "failed", s->wall_s, s->user_s,
			s->sys_s, (unsigned long long)s->peak_rss,
			(unsigned long long)in->ideal_peak, frag(s, in),
			(unsigned long long)s->page_faults,
			(unsigned long long)in->events,
			(unsigned long long)s->calls);
		csv_kinds(f, c, s->kinds);
	}
	/* The recorded run's call times: a row of their own, status
	 * "recorded", the cells of the replay measures empty. */
	if (recorded_kinds(c, rk)) {
		fputs("recorded,recorded,,,,,,,,,", f);
		csv_kinds(f, c, rk);
	}
}

static void json_skipped(FILE *f, const struct plan_info *in)
{
	int first = 1;

	fputc('{', f);
	for (int r = 0; r < RS_N; r++) {
		if (!in->skipped[r])
			continue;
		fprintf(f, "%s\"%s\": %llu", first ? "" : ", ",
			rp_skip_names[r], (unsigned long long)in->skipped[r]);
		first = 0;
	}
	fputc('}', f);
}

/* ,\n  "key": "s" (or null) */
static void json_str_or_null(FILE *f, const char *key, const char *s)
{
	fprintf(f, ",\n  \"%s\": ", key);
	if (s)
		cli_json_str(f, s);
	else
		fputs("null", f);
}

/* {"malloc": {"count": ..., "p50_ns": ...}, ...} of the kinds called */
static void json_kinds(FILE *f, const struct kind_sum *ks)
{
	int first = 1;

	fputc('{', f);
	for (int k = 1; k < RK_NCALLS; k++) {
		if (!ks[k].count)
			continue;
		fprintf(f, "%s\"%s\": {\"count\": %llu, \"p50_ns\": %.0f, "
			   "\"p99_ns\": %.0f, \"p999_ns\": %.0f, "
			   "\"max_ns\": %.0f, \"mean_ns\": %.1f}",
			first ? "" : ", ", kind_names[k],
			(unsigned long long)ks[k].count, ks[k].p50, ks[k].p99,
			ks[k].p999, ks[k].max, ks[k].mean);
		first = 0;
	}
	fputc('}', f);
}

void report_json(FILE *f, const struct report_ctx *c)
{
	const struct plan_info *in = c->info;
	struct kind_sum rk[RK_NCALLS];

	fputs("{\n  \"trace\": ", f);
	cli_json_str(f, c->traces[0]);
	fputs(",\n  \"traces\": [", f);
	for (size_t i = 0; i < c->ntraces; i++) {
		if (i)
			fputs(", ", f);
		cli_json_str(f, c->traces[i]);
	}
	fprintf(f, "],\n  \"exit_blocks\": %llu,\n  \"heap_blocks\": %llu",
		(unsigned long long)in->exit_blocks,
		(unsigned long long)in->heap_blocks);
	fprintf(f, ",\n  \"events_read\": %llu,\n  \"events\": %llu,\n"
		   "  \"threads\": %llu,\n  \"processes\": %u,\n"
		   "  \"ideal_peak_bytes\": %llu,\n  \"inversions\": %llu,\n"
		   "  \"edges\": %llu,\n  \"timing\": \"%s\",\n"
		   "  \"speed\": %g,\n  \"touch\": %s,\n"
		   "  \"check_contents\": %s,\n  \"skipped\": ",
		(unsigned long long)in->events_read,
		(unsigned long long)in->events,
		(unsigned long long)in->nstreams, in->npids,
		(unsigned long long)in->ideal_peak,
		(unsigned long long)in->inversions,
		(unsigned long long)in->edges,
		c->timing_recorded ? "recorded" : "asap", c->speed,
		c->touch ? "true" : "false", c->check ? "true" : "false");
	json_skipped(f, in);
	json_str_or_null(f, "recorded_allocator", c->rec_alloc);
	json_str_or_null(f, "recorded_allocator_version",
			 c->rec_alloc_version);
	fputs(",\n  \"recorded_peak_rss_bytes\": ", f);
	if (c->has_rec_rss)
		fprintf(f, "%llu", (unsigned long long)c->rec_peak_rss);
	else
		fputs("null", f);
	fputs(",\n  \"recorded_ops\": ", f);
	if (recorded_kinds(c, rk))
		json_kinds(f, rk);
	else
		fputs("null", f);
	if (in->read_err) {
		fputs(",\n  \"read_error\": {\"trace\": ", f);
		cli_json_str(f, c->traces[in->read_err_trace]);
		fprintf(f, ", \"offset\": %llu, \"error\": \"%s\"}",
			(unsigned long long)in->read_err_offset,
			ht_strerror(in->read_err));
	}
	fputs(",\n  \"allocators\": [", f);
	for (size_t i = 0; i < c->n; i++) {
		const struct alloc_sum *s = &c->sums[i];

		fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
		cli_json_str(f, s->spec->name);
		fputs(", \"path\": ", f);
		cli_json_str(f, s->spec->path[0] ? s->spec->path : s->allocator);
		fprintf(f, ", \"status\": \"%s\"", s->ok ? "ok" : "failed");
		if (!s->ok) {
			fputs(", \"error\": ", f);
			cli_json_str(f, s->error);
		}
		fprintf(f, ", \"runs\": %d,\n     \"wall_s\": %.6f, "
			   "\"user_s\": %.6f, \"sys_s\": %.6f, "
			   "\"harness_stall_s\": %.6f, "
			   "\"peak_rss_bytes\": %llu, "
			   "\"ideal_peak_bytes\": %llu, "
			   "\"fragmentation\": %.4f, \"page_faults\": %llu, "
			   "\"events\": %llu, \"calls\": %llu, "
			   "\"threads\": %llu, \"null_results\": %llu, "
			   "\"fallback_calls\": %llu, "
			   "\"content_errors\": %llu,\n     \"ops\": ",
			s->runs, s->wall_s, s->user_s, s->sys_s, s->stall_s,
			(unsigned long long)s->peak_rss,
			(unsigned long long)in->ideal_peak, frag(s, in),
			(unsigned long long)s->page_faults,
			(unsigned long long)in->events,
			(unsigned long long)s->calls,
			(unsigned long long)s->threads,
			(unsigned long long)s->null_results,
			(unsigned long long)s->fallbacks,
			(unsigned long long)s->content_errors);
		json_kinds(f, s->kinds);
		fputs(",\n     \"skipped\": ", f);
		json_skipped(f, in);
		fputs(",\n     \"rss_series\": [", f);
		if (s->series)
			for (uint32_t j = 0; j < s->series->nseries &&
					     j < RP_SERIES_MAX; j++)
				fprintf(f, "%s[%.4f, %llu]", j ? ", " : "",
					s->series->series_t[j],
					(unsigned long long)
						s->series->series_bytes[j]);
		fputs("]}", f);
	}
	fputs("\n  ]\n}\n", f);
}
