/*
 * pouts.c - one .htape output per process (pouts.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pouts.h"

int pouts_init(struct pouts *p, const struct convert_opts *o)
{
	memset(p, 0, sizeof(*p));
	p->o = o;
	p->v = calloc(POUTS_MAX, sizeof(*p->v));
	if (!p->v) {
		cli_error("'%s': out of memory", o->in);
		return -1;
	}
	return 0;
}

/* OUT.PID.htape, or OUT.PID when OUT does not end in .htape */
static void out_name(const char *out, uint32_t pid, char *buf, size_t n)
{
	size_t len = strlen(out);

	if (len > 6 && !strcmp(out + len - 6, ".htape"))
		snprintf(buf, n, "%.*s.%u.htape", (int)(len - 6), out, pid);
	else
		snprintf(buf, n, "%s.%u", out, pid);
}

struct pout *pouts_get(struct pouts *p, uint32_t pid,
		       const struct ht_writer_opts *wo, int *created)
{
	const struct convert_opts *o = p->o;
	struct pout *po;
	int found, r;
	long s = imap_slot(&p->map, pid, &found);

	*created = 0;
	if (s < 0) {
		cli_error("'%s': out of memory", o->in);
		return NULL;
	}
	if (found)
		return &p->v[p->map.vals[s]];
	if (p->n == POUTS_MAX) {
		cli_error("'%s': heap events of more than %d processes; "
			  "choose one with --pid", o->in, POUTS_MAX);
		return NULL;
	}
	if (p->n && !strcmp(o->out, "-")) {
		cli_error("'%s': heap events of several processes; choose "
			  "one with --pid to write to standard output", o->in);
		return NULL;
	}
	po = &p->v[p->n];
	imap_free(&po->tids);
	memset(po, 0, sizeof(*po));
	po->pid = pid;
	if (o->pid_set || !strcmp(o->out, "-"))
		snprintf(po->path, sizeof(po->path), "%s", o->out);
	else
		out_name(o->out, pid, po->path, sizeof(po->path));
	if (cli_out_open(&po->out, po->path))
		return NULL;
	if ((r = ht_writer_open(&po->w, po->out.fd, wo))) {
		cli_out_abort(&po->out);
		cli_error("cannot write '%s': %s", po->path, ht_strerror(r));
		return NULL;
	}
	p->map.vals[s] = (uint32_t)p->n;
	p->map.n++;
	p->n++;
	*created = 1;
	return po;
}

int pout_close(struct pout *po)
{
	int r = ht_writer_close(po->w);

	po->w = NULL;
	if (r) {
		cli_error("cannot write '%s': %s", po->path, ht_strerror(r));
		return -1;
	}
	return 0;
}

int pouts_commit(struct pouts *p)
{
	if (p->n == 1)
		p->v[0].out.path = p->o->out;
	for (size_t i = 0; i < p->n; i++)
		if (cli_out_commit(&p->v[i].out)) {
			for (size_t j = i + 1; j < p->n; j++) {
				ht_writer_abandon(p->v[j].w);
				p->v[j].w = NULL;
				cli_out_abort(&p->v[j].out);
			}
			/* the committed ones stay: they are whole */
			p->committed = 1;
			return 1;
		}
	p->committed = 1;
	return 0;
}

void pouts_free(struct pouts *p)
{
	for (size_t i = 0; p->v && !p->committed && i < p->n; i++) {
		ht_writer_abandon(p->v[i].w);
		cli_out_abort(&p->v[i].out);
	}
	for (size_t i = 0; p->v && i < POUTS_MAX; i++)
		imap_free(&p->v[i].tids);
	imap_free(&p->map);
	free(p->v);
	memset(p, 0, sizeof(*p));
}
