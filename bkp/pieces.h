#ifndef BKP_PIECES_H
#define BKP_PIECES_H

/*
 * The pieces of one entry of a version 3 archive (docs/FORMAT.md §14):
 * its tar bytes as segments, each either bytes appended to the new
 * archive's data stream or a reference to bytes an earlier archive
 * already holds.  Content is cut into chunks by content-defined chunking
 * (core/cdc.h); a chunk whose keyed id the entry's previous version had
 * is referenced, not stored again.
 */

#include <stddef.h>
#include <stdint.h>

#include "cdc.h"
#include "findex.h"

struct ostream;
struct prev;

struct pc_slot {
	uint8_t id[CDC_ID_LEN];
	uint32_t src;            /* new archive's source number */
	uint32_t len;
	uint64_t off;
	int used;
};

struct pieces {
	struct ostream *data;    /* the new archive's data object */
	struct prev *prev;
	uint64_t off;            /* its plaintext bytes so far */
	struct cdc cdc;
	const uint8_t *key;      /* 32: chunk ids */

	/* the entry being built */
	struct findex_seg *seg;
	size_t nseg, capseg;
	struct findex_chunk *chunk;
	size_t nchunk, capchunk;
	int full;                /* segments at their bound: store, do not refer */
	uint8_t *cbuf;           /* CDC_MAX: the chunk being cut */
	size_t clen;

	/* the previous version's chunks, by id */
	struct pc_slot *tab;
	size_t tabcap;           /* power of 2; 0: none */
	int tabfilled;           /* holds this entry's previous chunks */

	uint64_t new_bytes;      /* content bytes stored in the data object */
	uint64_t ref_bytes;      /* content bytes referenced */
};

int pieces_init(struct pieces *pc, struct ostream *data, struct prev *prev,
    const uint8_t key[32]);
void pieces_free(struct pieces *pc);

/* pieces_begin(pc): a new entry. */
void pieces_begin(struct pieces *pc);

/* pieces_self(pc, p, n): bytes of the entry stored in the new archive
 * (tar headers, padding). */
int pieces_self(struct pieces *pc, const void *p, size_t n);

/* pieces_known(pc, rec): make the previous version's chunks (rec, a
 * record of the previous index; NULL for none) available for reference. */
int pieces_known(struct pieces *pc, const struct findex_rec *rec);

/* pieces_data(pc, p, n): content bytes; pieces_data_end(pc) ends them. */
int pieces_data(struct pieces *pc, const void *p, size_t n);
int pieces_data_end(struct pieces *pc);

/* pieces_reuse(pc, rec): the entry is the previous version's bytes,
 * unchanged: refer to all of them.  -1 if it cannot (sources full): the
 * caller then stores the entry. */
int pieces_reuse(struct pieces *pc, const struct findex_rec *rec);

#endif
