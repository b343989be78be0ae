/*
 * data_idx.c — the IDX format of MNIST and Fashion-MNIST.
 *
 * A file is a big-endian header: two zero bytes, an element type (0x08 for
 * unsigned bytes, the only one data sets use), the number of dimensions, then
 * one u32 per dimension, then the elements in row-major order.  Images are
 * [N, H, W] (magic 0x00000803) or [N, H, W, C] (0x00000804); labels are [N]
 * (0x00000801).
 */
#include "runtime/data_raw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct idx_file {
	const char *path;
	gzFile gz;
	size_t disk; /* bytes on disk */
	int ndims;
	uint32_t dims[4];
	size_t total; /* elements declared: the product of dims */
} idx_file;

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Opens an IDX file and checks its header; the dimension count must be one
 * of min_dims..max_dims; `what` names its role in messages. */
static int idx_open(const char *path, const char *what, int min_dims, int max_dims,
		    idx_file *f, char *err, size_t errlen)
{
	memset(f, 0, sizeof *f);
	f->path = path;
	f->gz = rt_data_gzopen(path, &f->disk, err, errlen);
	if (!f->gz)
		return -1;
	unsigned char h[16];
	long got = rt_data_gzread(f->gz, path, h, 4, err, errlen);
	if (got < 0)
		return -1;
	if (got < 4) {
		snprintf(err, errlen, "%s: truncated: %ld bytes, too short for an IDX header",
			 path, got);
		return -1;
	}
	uint32_t magic = be32(h);
	int ndims = h[3];
	if (h[0] != 0 || h[1] != 0 || ndims < min_dims || ndims > max_dims) {
		snprintf(err, errlen,
			 "%s: wrong magic number 0x%08x: not an IDX %s file (expected 0x%08x)",
			 path, (unsigned)magic, what, 0x800u + (unsigned)min_dims);
		return -1;
	}
	if (h[2] != 0x08) {
		snprintf(err, errlen,
			 "%s: IDX element type 0x%02x is not supported (only 0x08, unsigned bytes)",
			 path, h[2]);
		return -1;
	}
	got = rt_data_gzread(f->gz, path, h, 4 * (size_t)ndims, err, errlen);
	if (got < 0)
		return -1;
	if (got < 4 * ndims) {
		snprintf(err, errlen, "%s: truncated: the IDX header needs %d bytes", path,
			 4 + 4 * ndims);
		return -1;
	}
	f->ndims = ndims;
	f->total = 1;
	for (int i = 0; i < ndims; i++) {
		f->dims[i] = be32(h + 4 * i);
		if (f->dims[i] != 0 && f->total > SIZE_MAX / 8 / f->dims[i]) {
			snprintf(err, errlen, "%s: the header declares an impossible size", path);
			return -1;
		}
		f->total *= f->dims[i];
	}
	if (f->dims[0] > 0x7fffffffu) {
		snprintf(err, errlen, "%s: %u %s are too many", path, (unsigned)f->dims[0],
			 what);
		return -1;
	}
	return 0;
}

static void idx_close(idx_file *f)
{
	if (f->gz)
		gzclose(f->gz);
	f->gz = NULL;
}

/*
 * Reads the declared elements, as floats scaled to [0, 1] (as_float) or as
 * bytes, into a malloc'd *out.  The buffer grows as data arrives, so a
 * header that declares more than the file holds costs no more than the file.
 */
static int idx_body(idx_file *f, const char *what, int as_float, void **out, char *err,
		    size_t errlen)
{
	size_t esz = as_float ? sizeof(float) : 1;
	size_t cap = f->disk * 16 + 65536;
	if (cap > f->total)
		cap = f->total;
	void *buf = malloc(cap ? cap * esz : 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", f->path);
		return -1;
	}
	/* A table keeps the scaling exact (b / 255 rounded once) and fast. */
	float scale[256];
	for (int v = 0; v < 256; v++)
		scale[v] = (float)v / 255.0f;
	unsigned char chunk[1 << 15];
	size_t n = 0;
	while (n < f->total) {
		size_t want = f->total - n < sizeof chunk ? f->total - n : sizeof chunk;
		long got = rt_data_gzread(f->gz, f->path, chunk, want, err, errlen);
		if (got < 0)
			goto fail;
		if (n + (size_t)got > cap) {
			size_t ncap = cap * 2 < f->total ? cap * 2 : f->total;
			void *nb = realloc(buf, ncap * esz);
			if (!nb) {
				snprintf(err, errlen, "%s: out of memory", f->path);
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		if (as_float) {
			float *x = (float *)buf + n;
			for (long i = 0; i < got; i++)
				x[i] = scale[chunk[i]];
		} else {
			memcpy((unsigned char *)buf + n, chunk, (size_t)got);
		}
		n += (size_t)got;
		if ((size_t)got < want)
			break;
	}
	if (n < f->total) {
		snprintf(err, errlen,
			 "%s: truncated: the header declares %u %s (%zu bytes of data), the file holds %zu",
			 f->path, (unsigned)f->dims[0], what, f->total, n);
		goto fail;
	}
	*out = buf;
	return 0;
fail:
	free(buf);
	return -1;
}

int rt_data_read_idx(const ir_dataset *d, const char *images, const char *labels,
		     rt_data_raw *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	idx_file fi, fl;
	unsigned char *lab = NULL;
	int rc = -1;
	memset(&fl, 0, sizeof fl);
	if (idx_open(images, "images", 3, 4, &fi, err, errlen) != 0)
		goto done;
	if (idx_open(labels, "labels", 1, 1, &fl, err, errlen) != 0)
		goto done;

	uint32_t h = fi.dims[1], w = fi.dims[2], c = fi.ndims == 4 ? fi.dims[3] : 1;
	if (h != (uint32_t)d->height || w != (uint32_t)d->width || c != (uint32_t)d->channels) {
		snprintf(err, errlen,
			 "%s: images are %ux%ux%u (HxWxC), the data set expects %dx%dx%d",
			 images, (unsigned)h, (unsigned)w, (unsigned)c, d->height, d->width,
			 d->channels);
		goto done;
	}
	if (fi.dims[0] != fl.dims[0]) {
		snprintf(err, errlen, "%s has %u images but %s has %u labels", images,
			 (unsigned)fi.dims[0], labels, (unsigned)fl.dims[0]);
		goto done;
	}
	size_t n = fi.dims[0]; /* < 2^31, checked by idx_open */
	if (idx_body(&fl, "labels", 0, (void **)&lab, err, errlen) != 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		const char *why = rt_data_label_problem(d, lab[i]);
		if (why) {
			snprintf(err, errlen,
				 "%s: label %d of example %zu %s (the data set has %d classes)",
				 labels, lab[i], i, why, d->nclasses);
			goto done;
		}
	}
	out->y = malloc(n ? n * sizeof(int) : 1);
	if (!out->y) {
		snprintf(err, errlen, "%s: out of memory", labels);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		out->y[i] = lab[i];
	if (idx_body(&fi, "images", 1, (void **)&out->x, err, errlen) != 0)
		goto done;
	out->n = (int)n;
	rc = 0;
done:
	if (rc != 0)
		rt_data_raw_free(out);
	free(lab);
	idx_close(&fi);
	idx_close(&fl);
	return rc;
}
