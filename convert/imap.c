/*
 * imap.c - a small open-addressing map from a 64-bit key to a 32-bit
 * value (imap.h).
 */
#include <stdlib.h>
#include <string.h>

#include "imap.h"

static uint64_t imap_mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

long imap_slot(struct imap *m, uint64_t key, int *found)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 64, j;
		uint64_t *nk = malloc(nc * sizeof(*nk));
		uint32_t *nv = malloc(nc * sizeof(*nv));
		if (!nk || !nv) {
			free(nk);
			free(nv);
			return -1;
		}
		memset(nv, 0xff, nc * sizeof(*nv));
		for (j = 0; j < m->cap; j++) {
			if (m->vals[j] == UINT32_MAX)
				continue;
			for (i = imap_mix(m->keys[j]) & (nc - 1);
			     nv[i] != UINT32_MAX; i = (i + 1) & (nc - 1))
				;
			nk[i] = m->keys[j];
			nv[i] = m->vals[j];
		}
		free(m->keys);
		free(m->vals);
		m->keys = nk;
		m->vals = nv;
		m->cap = nc;
	}
	for (i = imap_mix(key) & (m->cap - 1); m->vals[i] != UINT32_MAX;
	     i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key) {
			*found = 1;
			return (long)i;
		}
	}
	*found = 0;
	m->keys[i] = key;
	return (long)i;
}

void imap_free(struct imap *m)
{
	free(m->keys);
	free(m->vals);
}
