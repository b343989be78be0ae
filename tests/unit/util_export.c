/*
 * util_export.c — helpers of the exporters' tests (see util_export.h).
 */
#include "util_export.h"

#include <stdio.h>
#include <stdlib.h>

#include "runtime/subnet.h"

sn_supernet *ue_perturbed_supernet(const ir_space *s, int nclasses, int h, int w,
				   int max_batch, uint64_t seed)
{
	char err[256];
	sn_supernet *sn = sn_supernet_new(s, nclasses, h, w, max_batch, seed, err, sizeof err);
	if (!sn) {
		fprintf(stderr, "ue_perturbed_supernet: %s\n", err);
		abort();
	}
	rt_rng rng;
	rt_rng_seed(&rng, seed + 100);
	int np;
	rt_param *params = sn_supernet_params(sn, &np);
	for (int i = 0; i < np; i++)
		if (params[i].no_decay)
			for (size_t j = 0; j < params[i].n; j++)
				params[i].w[j] += (float)(0.3 * rt_rng_normal(&rng));
	float *st = sn_supernet_stats(sn);
	for (size_t i = 0; i < sn_supernet_nstats(sn); i++)
		st[i] = st[i] == 1.0f ? (float)(0.5 + rt_rng_uniform(&rng))
				      : (float)(0.3 * rt_rng_normal(&rng));
	return sn;
}

rt_model *ue_cut_nth(sn_supernet *sn, int i, rt_rng *rng, const uint8_t key[16], const float *x,
		     int n, float *logits)
{
	const ir_space *s = sn_supernet_space(sn);
	sn_subnet sub;
	if (i == 0)
		sn_subnet_max(s, &sub);
	else if (i == 1)
		sn_subnet_min(s, &sub);
	else
		sn_subnet_random(s, rng, &sub);
	char err[256];
	rt_model *m = rt_model_extract(sn, &sub, key, err, sizeof err);
	float *ws = m ? malloc(rt_model_workspace(m, n) * sizeof(float)) : NULL;
	if (!ws) {
		fprintf(stderr, "ue_cut_nth: %s\n", m ? "out of memory" : err);
		abort();
	}
	rt_model_forward(m, x, n, ws, logits);
	free(ws);
	return m;
}

int ue_argmax(const float *v, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[b])
			b = i;
	return b;
}

void ue_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "ue_write_file: cannot write %s\n", path);
		abort();
	}
}
