/*
 * imap.h - a small open-addressing map from a 64-bit key to a 32-bit
 * value (UINT32_MAX is reserved: it marks an empty slot).  Used by the
 * ETL reader (pids, heap handles) and convert --anonymize (address
 * granules).
 */
#ifndef HT_IMAP_H
#define HT_IMAP_H

#include <stddef.h>
#include <stdint.h>

struct imap {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap, n;
};

/* The slot of key in m->keys/m->vals; *found: whether it was there (if
 * not, the caller sets m->vals[slot] and counts it in m->n).  Grows.
 * -1 when out of memory. */
long imap_slot(struct imap *m, uint64_t key, int *found);
void imap_free(struct imap *m);

#endif
