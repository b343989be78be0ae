/*
 * op_infer_priv.h — what op_infer.c (the inference kernels on 8-float
 * vectors) shares with op_infer_avx512.c (the same kernels on 16-float
 * AVX-512 vectors): the walk over a pointwise layer's output rows, the
 * panel and block sizes both tile by, and the entry points of the wide
 * kernels.  Not a public header: only those two files include it.
 *
 * Both sets compute every output the same way (each sum taken in the same
 * order, with fused multiply-adds), so a model's logits do not depend on
 * which set ran; they differ in how many channels one instruction holds.
 */
#ifndef ARCHD_RUNTIME_OP_INFER_PRIV_H
#define ARCHD_RUNTIME_OP_INFER_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/ops.h"

/* Rows per panel of a pointwise layer: x's panel stays in L2 across the
 * column strips. */
#define PW_PANEL 96

/* A walk over y's rows (see rt_pw_p's grp_w): `off` is where row i
 * starts; stepping costs no division. */
typedef struct pw_rows {
	size_t off;
	int j, q, b; /* pixel, row and image of row i (grp_w > 0) */
} pw_rows;

static inline pw_rows pw_rows_at(const rt_pw_p *p, int i)
{
	pw_rows w = {.off = (size_t)i * p->ldy};
	if (p->grp_w > 0) {
		int q = i / p->grp_w;
		w.j = i % p->grp_w;
		w.q = q % p->grp_h;
		w.b = q / p->grp_h;
		w.off = (size_t)w.b * p->ld_img + (size_t)w.q * p->ld_row + (size_t)w.j * p->ldy;
	}
	return w;
}

static inline void pw_rows_next(const rt_pw_p *p, pw_rows *w)
{
	w->off += (size_t)p->ldy;
	if (p->grp_w > 0 && ++w->j == p->grp_w) {
		w->j = 0;
		if (++w->q == p->grp_h) {
			w->q = 0;
			w->b++;
		}
		w->off = (size_t)w->b * p->ld_img + (size_t)w->q * p->ld_row;
	}
}

/*
 * Depthwise outputs per block: eight neighbouring pixels of a row (eight
 * independent sums, enough to keep both FMA pipes busy through their
 * latency), and a last block of four where at most four outputs are left.
 * The bordered images' width (rt_dw_infer_layout) follows from it, so both
 * kernel sets use the same.  The AVX2 kernels take a row's last 9-12
 * outputs as one block of DW_OB_WIDE (a block of four is four dependent
 * chains, at half the FMA rate), which ends where the 8 and the 4 would.
 */
#define DW_OB 8
#define DW_OB_WIDE 12

/* The size of the block starting at output ow of a row of wo. */
static inline int dw_block(int ow, int wo) { return wo - ow > DW_OB / 2 ? DW_OB : DW_OB / 2; }

/* One output row of a depthwise layer from its bordered images (see
 * op_infer.c's dw_row). */
typedef void (*dw_row_fn)(const rt_dw_infer_p *, const float *, int, const float *, const float *,
			  float *, int, int);

/* rt_pw_infer on 16-float vectors; only while rt_infer_avx512(). */
void rt_pw_infer_avx512(const rt_pw_p *p, const float *x, const float *w, const float *bias,
			float *y);

/* The wide row function for kernel k at stride s, or NULL where there is
 * none (the caller keeps its own); only while rt_infer_avx512(). */
dw_row_fn rt_dw_row_avx512(int k, int s);

#endif
