/*
 * block.c - block headers and their hashes, and the per-op column table
 * of spec/FORMAT.md, shared by the encoder (enc.c) and decoder (dec.c).
 */
#include <stdlib.h>
#include <xxhash.h>

#include "internal.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "heaptape assumes a little-endian host"
#endif

const uint8_t ht__file_magic[8] = { 0x89, 'H', 'T', 'R', '\r', '\n',
				     0x1a, '\n' };
const uint8_t ht__end_magic[8] = { 'H', 'T', 'R', 'E', 'N', 'D', 0, 0 };

uint64_t ht__hash(const void *p, size_t n, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, n, seed);
}

void ht__bhdr_pack(uint8_t *p, const struct ht__bhdr *h, uint64_t seed)
{
	ht__wr32(p, HT__BLK_MAGIC);
	p[4] = h->type;
	p[5] = 0;
	ht__wr16(p + 6, 0);
	ht__wr32(p + 8, h->payload_len);
	ht__wr32(p + 12, h->count);
	ht__wr64(p + 16, h->seq);
	ht__wr32(p + 24, h->stream_id);
	ht__wr32(p + 28, 0);
	ht__wr64(p + 32, h->payload_hash);
	ht__wr64(p + 40, ht__hash(p, 40, seed ^ HT__SEED_HDR));
}

int ht__bhdr_check(const uint8_t *p, uint64_t seed, struct ht__bhdr *h)
{
	if (ht__rd32(p) != HT__BLK_MAGIC)
		return -1;
	if (ht__rd64(p + 40) != ht__hash(p, 40, seed ^ HT__SEED_HDR))
		return -2;
	h->type = p[4];
	h->hdr_ver = p[5];
	h->flags = ht__rd16(p + 6);
	h->payload_len = ht__rd32(p + 8);
	h->count = ht__rd32(p + 12);
	h->seq = ht__rd64(p + 16);
	h->stream_id = ht__rd32(p + 24);
	h->reserved = ht__rd32(p + 28);
	h->payload_hash = ht__rd64(p + 32);
	if (h->hdr_ver != 0 || h->flags != 0 || h->reserved != 0)
		return -3;
	return 0;
}

/*
 * Which conditional columns the rows of an op carry (spec/FORMAT.md
 * "Op table").  An op the writer does not know gets every column, so
 * nothing is lost; readers use the block's own op map.
 */
uint16_t ht__op_mask(int op)
{
	const uint16_t base = HT__MASK_ALWAYS | HT__COLBIT(HT__C_FLAGS) |
			      HT__COLBIT(HT__C_RESULT);
	const uint16_t a = HT__COLBIT(HT__C_ADDR), s = HT__COLBIT(HT__C_SIZE);
	const uint16_t oa = HT__COLBIT(HT__C_OLD_ADDR);
	const uint16_t os = HT__COLBIT(HT__C_OLD_SIZE);
	const uint16_t al = HT__COLBIT(HT__C_ALIGN);
	const uint16_t nm = HT__COLBIT(HT__C_NMEMB);
	const uint16_t hp = HT__COLBIT(HT__C_HEAP) | HT__COLBIT(HT__C_AUX);

	switch (op) {
	case HT_OP_MALLOC:
	case HT_OP_VALLOC:
	case HT_OP_PVALLOC:
	case HT_OP_FREE_SIZED:
		return base | a | s;
	case HT_OP_CALLOC:
		return base | a | s | nm;
	case HT_OP_REALLOC:
		return base | a | s | oa | os;
	case HT_OP_REALLOCARRAY:
		return base | a | s | oa | os | nm;
	case HT_OP_FREE:
		return base | a;
	case HT_OP_POSIX_MEMALIGN:
	case HT_OP_ALIGNED_ALLOC:
	case HT_OP_MEMALIGN:
	case HT_OP_FREE_ALIGNED_SIZED:
		return base | a | s | al;
	case HT_OP_HEAP_CREATE:
	case HT_OP_HEAP_DESTROY:
		return base | hp;
	case HT_OP_HEAP_ALLOC:
		return base | hp | a | s;
	case HT_OP_HEAP_REALLOC:
		return base | hp | a | s | oa | os;
	case HT_OP_HEAP_FREE:
		return base | hp | a;
	case HT_OP_THREAD_EXIT:
		return base;
	default:
		return HT__MASK_UNKNOWN;
	}
}

int ht__op_frees(int op)
{
	return op == HT_OP_FREE || op == HT_OP_FREE_SIZED ||
	       op == HT_OP_FREE_ALIGNED_SIZED || op == HT_OP_HEAP_FREE;
}

unsigned ht__col_width(int col)
{
	switch (col) {
	case HT__C_OP:
		return 1;
	case HT__C_AUX:
	case HT__C_FLAGS:
	case HT__C_RESULT:
		return 4;
	default:
		return 8;
	}
}
