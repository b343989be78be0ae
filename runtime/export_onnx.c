/*
 * export_onnx.c — a model as an ONNX graph (see export_onnx.h).
 *
 * The graph is built as protobuf-c messages that all live in one list of
 * allocations (struct ox) freed together once the model is packed.  Weights
 * are converted from the model's layout (extract.h: [k*k*cin, cout], rows
 * (ki*k + kj)*cin + ci) to ONNX's OIHW with the batch norm folded in, in
 * double precision, once.
 */
#include "runtime/export_onnx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/statedir.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#ifndef ARCHD_HAVE_ONNX

int rt_export_onnx_available(void)
{
	return 0;
}

int rt_export_onnx_encode(const rt_model *m, uint8_t **out, size_t *len, char *err,
			  size_t errlen)
{
	(void)m;
	*out = NULL;
	*len = 0;
	seterr(err, errlen, "this build has no ONNX export (configure found no protobuf-c; "
			    "Debian: apt-get install libprotobuf-c-dev protobuf-c-compiler libonnx-dev)");
	return -1;
}

#else

#include <assert.h>
#include <math.h>
#include <string.h>

#include "runtime/onnx/onnx.pb-c.h"

#define BN_EPS 1e-5
#define F32 ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define I64 ONNX__TENSOR_PROTO__DATA_TYPE__INT64

/* The graph under construction and every allocation it holds. */
typedef struct ox {
	void **mem;
	size_t nmem, capmem;
	Onnx__NodeProto **nodes;
	size_t nnodes, capnodes;
	Onnx__TensorProto **inits;
	size_t ninits, capinits;
	int oom;
	int nonfinite;
} ox;

/* Appends p to the array *arr of *n (capacity *cap); sets oom on failure. */
static void push(ox *o, void ***arr, size_t *n, size_t *cap, void *p)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		void **a = realloc(*arr, c * sizeof *a);
		if (!a) {
			o->oom = 1;
			return;
		}
		*arr = a;
		*cap = c;
	}
	(*arr)[(*n)++] = p;
}

/* Zeroed memory owned by the graph; NULL (and oom set) when short. */
static void *ox_alloc(ox *o, size_t size)
{
	void *p = calloc(1, size ? size : 1);
	if (!p) {
		o->oom = 1;
		return NULL;
	}
	size_t before = o->nmem;
	push(o, &o->mem, &o->nmem, &o->capmem, p);
	if (o->nmem == before) {
		free(p);
		return NULL;
	}
	return p;
}

static char *ox_str(ox *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = ox_alloc(o, (size_t)n + 1);
	if (!s)
		return (char *)"";
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static void ox_free(ox *o)
{
	for (size_t i = 0; i < o->nmem; i++)
		free(o->mem[i]);
	free(o->mem);
	free(o->nodes);
	free(o->inits);
}

/* --- attributes, initialisers, nodes -------------------------------------------- */

static Onnx__AttributeProto *attr_new(ox *o, const char *name,
				      Onnx__AttributeProto__AttributeType type)
{
	static const Onnx__AttributeProto init = ONNX__ATTRIBUTE_PROTO__INIT;
	Onnx__AttributeProto *a = ox_alloc(o, sizeof *a);
	if (!a)
		return NULL;
	*a = init;
	a->name = ox_str(o, "%s", name);
	a->has_type = 1;
	a->type = type;
	return a;
}

static Onnx__AttributeProto *attr_int(ox *o, const char *name, int64_t v)
{
	Onnx__AttributeProto *a = attr_new(o, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
	if (a) {
		a->has_i = 1;
		a->i = v;
	}
	return a;
}

static Onnx__AttributeProto *attr_float(ox *o, const char *name, float v)
{
	Onnx__AttributeProto *a = attr_new(o, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
	if (a) {
		a->has_f = 1;
		a->f = v;
	}
	return a;
}

static Onnx__AttributeProto *attr_string(ox *o, const char *name, const char *v)
{
	Onnx__AttributeProto *a = attr_new(o, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
	if (a) {
		a->has_s = 1;
		a->s.data = (uint8_t *)ox_str(o, "%s", v);
		a->s.len = strlen(v);
	}
	return a;
}

/* An INTS attribute of n values, all v. */
static Onnx__AttributeProto *attr_ints(ox *o, const char *name, int n, int64_t v)
{
	Onnx__AttributeProto *a = attr_new(o, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
	int64_t *x = ox_alloc(o, (size_t)n * sizeof *x);
	if (!a || !x)
		return a;
	for (int i = 0; i < n; i++)
		x[i] = v;
	a->n_ints = (size_t)n;
	a->ints = x;
	return a;
}

/* A tensor initialiser; `data` (float or int64 by type) is the graph's. */
static const char *init_tensor(ox *o, const char *name, const int64_t *dims, int ndims,
			       int32_t type, void *data, size_t n)
{
	static const Onnx__TensorProto init = ONNX__TENSOR_PROTO__INIT;
	Onnx__TensorProto *t = ox_alloc(o, sizeof *t);
	int64_t *d = ox_alloc(o, (size_t)ndims * sizeof *d);
	if (!t || !d)
		return "";
	*t = init;
	memcpy(d, dims, (size_t)ndims * sizeof *d);
	t->n_dims = (size_t)ndims;
	t->dims = d;
	t->has_data_type = 1;
	t->data_type = type;
	t->name = ox_str(o, "%s", name);
	if (type == F32) {
		t->n_float_data = n;
		t->float_data = data;
		for (size_t i = 0; i < n; i++)
			if (!isfinite(t->float_data[i]))
				o->nonfinite = 1;
	} else {
		t->n_int64_data = n;
		t->int64_data = data;
	}
	push(o, (void ***)&o->inits, &o->ninits, &o->capinits, t);
	return t->name;
}

/* A 1-D int64 initialiser of n values. */
static const char *init_ints(ox *o, const char *name, const int64_t *v, int n)
{
	int64_t *d = ox_alloc(o, (size_t)n * sizeof *d);
	if (!d)
		return "";
	memcpy(d, v, (size_t)n * sizeof *d);
	int64_t dim = n;
	return init_tensor(o, name, &dim, 1, I64, d, (size_t)n);
}

/*
 * Appends node `op` named `name` with inputs ins[0, nin) (NULL entries
 * end the list early) and attributes attrs[0, nattr); its one output is
 * named `out`, or after the node when out is NULL.  Returns the output.
 */
static const char *node(ox *o, const char *op, const char *name, const char *const *ins,
			int nin, Onnx__AttributeProto *const *attrs, int nattr, const char *out)
{
	static const Onnx__NodeProto init = ONNX__NODE_PROTO__INIT;
	Onnx__NodeProto *n = ox_alloc(o, sizeof *n);
	char **in = ox_alloc(o, (size_t)nin * sizeof *in);
	char **outs = ox_alloc(o, sizeof *outs);
	Onnx__AttributeProto **at = ox_alloc(o, (size_t)nattr * sizeof *at);
	if (!n || !in || !outs || !at)
		return "";
	*n = init;
	n->name = ox_str(o, "%s", name);
	n->op_type = ox_str(o, "%s", op);
	for (int i = 0; i < nin && ins[i]; i++)
		in[n->n_input++] = ox_str(o, "%s", ins[i]);
	n->input = in;
	outs[0] = out ? ox_str(o, "%s", out) : n->name;
	n->n_output = 1;
	n->output = outs;
	for (int i = 0; i < nattr; i++) {
		if (!attrs[i])
			return "";
		at[i] = attrs[i];
	}
	n->n_attribute = (size_t)nattr;
	n->attribute = at;
	push(o, (void ***)&o->nodes, &o->nnodes, &o->capnodes, n);
	return outs[0];
}

/* --- layers --------------------------------------------------------------------- */

/*
 * Conv `name` of x with W (the model's [k*k*cin_g, cout] layout; a
 * depthwise kernel is cin_g = 1 with group = cout) and the batch norm at bn
 * (gamma, beta, mean, var of cout channels) folded in; NULL bn takes `bias`
 * as it is.  Returns the output.
 */
static const char *conv(ox *o, const char *name, const char *x, const float *W, const float *bn,
			int cin_g, int cout, int k, int stride, int group, const char *out)
{
	size_t nw = (size_t)cout * cin_g * k * k;
	float *w = ox_alloc(o, nw * sizeof *w), *b = ox_alloc(o, (size_t)cout * sizeof *b);
	if (!w || !b)
		return "";
	for (int co = 0; co < cout; co++) {
		double s = bn[co] / sqrt((double)bn[3 * cout + co] + BN_EPS);
		b[co] = (float)(bn[cout + co] - bn[2 * cout + co] * s);
		for (int ci = 0; ci < cin_g; ci++)
			for (int t = 0; t < k * k; t++) /* t = ki * k + kj */
				w[((size_t)co * cin_g + ci) * k * k + t] =
					(float)(W[((size_t)t * cin_g + ci) * cout + co] * s);
	}
	int64_t wd[4] = { cout, cin_g, k, k }, bd = cout;
	const char *ins[3] = { x, init_tensor(o, ox_str(o, "%s_w", name), wd, 4,
					      F32, w, nw),
			       init_tensor(o, ox_str(o, "%s_b", name), &bd, 1,
					   F32, b, (size_t)cout) };
	Onnx__AttributeProto *at[4] = { attr_ints(o, "kernel_shape", 2, k),
					attr_ints(o, "strides", 2, stride),
					attr_ints(o, "pads", 4, k / 2), attr_int(o, "group", group) };
	return node(o, "Conv", name, ins, 3, at, 4, out);
}

/* x through activation a (x itself for none). */
static const char *act(ox *o, const char *name, ir_act a, const char *x, const char *out)
{
	if (a == IR_ACT_NONE)
		return x;
	return node(o, a == IR_ACT_RELU ? "Relu" : "HardSwish", name, &x, 1, NULL, 0, out);
}

static const char *binary(ox *o, const char *op, const char *name, const char *a,
			  const char *b, const char *out)
{
	const char *ins[2] = { a, b };
	return node(o, op, name, ins, 2, NULL, 0, out);
}

/* Gemm x [N, cin] W [cin, cout] + bias, with bn folded in when not NULL. */
static const char *gemm(ox *o, const char *name, const char *x, const float *W,
			const float *bn, const float *bias, int cin, int cout, const char *out)
{
	float *w = ox_alloc(o, (size_t)cin * cout * sizeof *w), *b = ox_alloc(o, (size_t)cout * sizeof *b);
	if (!w || !b)
		return "";
	for (int co = 0; co < cout; co++) {
		double s = bn ? bn[co] / sqrt((double)bn[3 * cout + co] + BN_EPS) : 1.0;
		b[co] = bn ? (float)(bn[cout + co] - bn[2 * cout + co] * s) : bias[co];
		for (int ci = 0; ci < cin; ci++)
			w[(size_t)ci * cout + co] = (float)(W[(size_t)ci * cout + co] * s);
	}
	int64_t wd[2] = { cin, cout }, bd = cout;
	const char *ins[3] = { x, init_tensor(o, ox_str(o, "%s_w", name), wd, 2,
					      F32, w, (size_t)cin * cout),
			       init_tensor(o, ox_str(o, "%s_b", name), &bd, 1,
					   F32, b, (size_t)cout) };
	return node(o, "Gemm", name, ins, 3, NULL, 0, out);
}

/* Squeeze-excite of d (mid channels) with the weights at w. */
static const char *squeeze_excite(ox *o, const char *p, const rt_model_layer *l, const float *w,
				  const char *d)
{
	int mid = l->mid, r = l->se_r;
	const char *s = node(o, "GlobalAveragePool", ox_str(o, "%s_se_pool", p), &d, 1, NULL, 0, NULL);
	/* 1x1 convs with plain biases: a batch norm of gamma 1, beta b, mean 0,
	 * var 1 - eps would fold to them only approximately, so build them here */
	const float *S1 = w, *b1 = S1 + (size_t)mid * r, *S2 = b1 + r, *b2 = S2 + (size_t)r * mid;
	float *w1 = ox_alloc(o, (size_t)mid * r * sizeof *w1), *w2 = ox_alloc(o, (size_t)mid * r * sizeof *w2);
	float *c1 = ox_alloc(o, (size_t)r * sizeof *c1), *c2 = ox_alloc(o, (size_t)mid * sizeof *c2);
	if (!w1 || !w2 || !c1 || !c2)
		return "";
	for (int j = 0; j < r; j++)
		for (int c = 0; c < mid; c++) {
			w1[(size_t)j * mid + c] = S1[(size_t)c * r + j]; /* [r, mid, 1, 1] */
			w2[(size_t)c * r + j] = S2[(size_t)j * mid + c]; /* [mid, r, 1, 1] */
		}
	memcpy(c1, b1, (size_t)r * sizeof *c1);
	memcpy(c2, b2, (size_t)mid * sizeof *c2);
	int64_t d1[4] = { r, mid, 1, 1 }, d2[4] = { mid, r, 1, 1 }, n1 = r, n2 = mid;
	const char *in1[3] = { s, init_tensor(o, ox_str(o, "%s_se_reduce_w", p), d1, 4, F32, w1, (size_t)mid * r),
			       init_tensor(o, ox_str(o, "%s_se_reduce_b", p), &n1, 1, F32, c1, (size_t)r) };
	s = node(o, "Conv", ox_str(o, "%s_se_reduce", p), in1, 3, NULL, 0, NULL);
	s = node(o, "Relu", ox_str(o, "%s_se_relu", p), &s, 1, NULL, 0, NULL);
	const char *in2[3] = { s, init_tensor(o, ox_str(o, "%s_se_expand_w", p), d2, 4, F32, w2, (size_t)mid * r),
			       init_tensor(o, ox_str(o, "%s_se_expand_b", p), &n2, 1, F32, c2, (size_t)mid) };
	s = node(o, "Conv", ox_str(o, "%s_se_expand", p), in2, 3, NULL, 0, NULL);
	Onnx__AttributeProto *hs[2] = { attr_float(o, "alpha", 1.0f / 6.0f), attr_float(o, "beta", 0.5f) };
	s = node(o, "HardSigmoid", ox_str(o, "%s_se_gate", p), &s, 1, hs, 2, NULL);
	return binary(o, "Mul", ox_str(o, "%s_se", p), d, s, NULL);
}

/* x [N, cs, H, W] made [N, cy, H, W]: the first cy channels, or zeros
 * after its own. */
static const char *match_channels(ox *o, const char *p, const char *x, int cs, int cy)
{
	if (cs == cy)
		return x;
	if (cs > cy) {
		int64_t st = 0, en = cy, ax = 1;
		const char *ins[4] = { x, init_ints(o, ox_str(o, "%s_slice_start", p), &st, 1),
				       init_ints(o, ox_str(o, "%s_slice_end", p), &en, 1),
				       init_ints(o, ox_str(o, "%s_slice_axis", p), &ax, 1) };
		return node(o, "Slice", ox_str(o, "%s_slice", p), ins, 4, NULL, 0, NULL);
	}
	int64_t pads[8] = { 0, 0, 0, 0, 0, cy - cs, 0, 0 };
	const char *ins[2] = { x, init_ints(o, ox_str(o, "%s_pad_pads", p), pads, 8) };
	return node(o, "Pad", ox_str(o, "%s_pad", p), ins, 2, NULL, 0, NULL);
}

/* The graph's tensor as the layers go: its name and whether it is still a
 * 4-D map [N, c, h, w] or already [N, c]. */
typedef struct cur {
	const char *name;
	int map;
} cur;

/* Appends layer i; the last one writes "logits". */
static cur emit_layer(ox *o, const rt_model *m, int i, cur x)
{
	const rt_model_layer *l = &m->layers[i];
	const float *w = m->weights + l->off;
	const char *out = i == m->nlayers - 1 ? "logits" : NULL;
	char *p = ox_str(o, "l%d", i);
	size_t kk = (size_t)l->k * l->k;
	const char *y;
	switch (l->kind) {
	case IR_BLOCK_CONV:
		y = conv(o, ox_str(o, "%s_conv", p), x.name, w, w + kk * l->cin * l->cout, l->cin,
			 l->cout, l->k, l->stride, 1, l->act == IR_ACT_NONE ? out : NULL);
		return (cur){ act(o, ox_str(o, "%s_act", p), l->act, y, out), 1 };
	case IR_BLOCK_MBCONV: {
		const char *e = x.name;
		if (l->has_expand) {
			e = conv(o, ox_str(o, "%s_expand", p), e, w, w + (size_t)l->cin * l->mid, l->cin,
				 l->mid, 1, 1, 1, NULL);
			e = act(o, ox_str(o, "%s_expand_act", p), l->act, e, NULL);
			w += (size_t)l->cin * l->mid + 4 * (size_t)l->mid;
		}
		const char *d = conv(o, ox_str(o, "%s_dw", p), e, w, w + kk * l->mid, 1, l->mid, l->k,
				     l->stride, l->mid, NULL);
		d = act(o, ox_str(o, "%s_dw_act", p), l->act, d, NULL);
		w += kk * l->mid + 4 * (size_t)l->mid;
		if (l->se_r) {
			d = squeeze_excite(o, p, l, w, d);
			w += 2 * (size_t)l->mid * l->se_r + (size_t)l->se_r + (size_t)l->mid;
		}
		y = conv(o, ox_str(o, "%s_project", p), d, w, w + (size_t)l->mid * l->cout, l->mid,
			 l->cout, 1, 1, 1, l->shortcut ? NULL : out);
		if (l->shortcut)
			y = binary(o, "Add", ox_str(o, "%s_add", p), y, x.name, out);
		return (cur){ y, 1 };
	}
	case IR_BLOCK_RESIDUAL: {
		const char *a = conv(o, ox_str(o, "%s_conv1", p), x.name, w, w + kk * l->cin * l->mid,
				     l->cin, l->mid, l->k, l->stride, 1, NULL);
		a = act(o, ox_str(o, "%s_conv1_act", p), IR_ACT_RELU, a, NULL);
		w += kk * l->cin * l->mid + 4 * (size_t)l->mid;
		y = conv(o, ox_str(o, "%s_conv2", p), a, w, w + kk * l->mid * l->cout, l->mid, l->cout,
			 l->k, 1, 1, NULL);
		w += kk * l->mid * l->cout + 4 * (size_t)l->cout;
		const char *s;
		if (l->shortcut == 2)
			s = conv(o, ox_str(o, "%s_shortcut", p), x.name, w, w + (size_t)l->cin * l->cout,
				 l->cin, l->cout, 1, l->stride, 1, NULL);
		else
			s = match_channels(o, p, x.name, l->cin, l->cout);
		y = binary(o, "Add", ox_str(o, "%s_add", p), y, s, NULL);
		return (cur){ act(o, ox_str(o, "%s_act", p), IR_ACT_RELU, y, out), 1 };
	}
	case IR_BLOCK_POOL: {
		y = node(o, "GlobalAveragePool", ox_str(o, "%s_pool", p), &x.name, 1, NULL, 0, NULL);
		Onnx__AttributeProto *ax = attr_int(o, "axis", 1);
		return (cur){ node(o, "Flatten", ox_str(o, "%s_flatten", p), &y, 1, &ax, 1, out), 0 };
	}
	default: {
		const char *v = x.name;
		if (x.map) {
			/* the runtime flattens NHWC: [N, c, h, w] -> [N, h, w, c] -> [N, h*w*c] */
			if (l->h * l->w > 1) {
				Onnx__AttributeProto *perm = attr_ints(o, "perm", 4, 0);
				if (perm && perm->ints) {
					perm->ints[1] = 2;
					perm->ints[2] = 3;
					perm->ints[3] = 1;
				}
				v = node(o, "Transpose", ox_str(o, "%s_nhwc", p), &v, 1, &perm, 1, NULL);
			}
			Onnx__AttributeProto *ax = attr_int(o, "axis", 1);
			v = node(o, "Flatten", ox_str(o, "%s_flatten", p), &v, 1, &ax, 1, NULL);
		}
		int fc = l->kind == IR_BLOCK_FC;
		const float *bn = w + (size_t)l->cin * l->cout;
		y = gemm(o, ox_str(o, "%s_%s", p, fc ? "fc" : "dense"), v, w, fc ? NULL : bn,
			 fc ? bn : NULL, l->cin, l->cout, l->act == IR_ACT_NONE ? out : NULL);
		return (cur){ act(o, ox_str(o, "%s_act", p), l->act, y, out), 0 };
	}
	}
}

/* The resize of the input to res x res, its output size taken from the
 * input's own N and C so that N stays symbolic. */
static const char *emit_resize(ox *o, const rt_model *m)
{
	const char *in = "input";
	const char *shape = node(o, "Shape", "resize_shape", &in, 1, NULL, 0, NULL);
	int64_t st = 0, en = 2, res[2] = { m->res, m->res };
	const char *sl[3] = { shape, init_ints(o, "resize_nc_start", &st, 1),
			      init_ints(o, "resize_nc_end", &en, 1) };
	const char *nc = node(o, "Slice", "resize_nc", sl, 3, NULL, 0, NULL);
	const char *cat[2] = { nc, init_ints(o, "resize_hw", res, 2) };
	Onnx__AttributeProto *ax = attr_int(o, "axis", 0);
	const char *sizes = node(o, "Concat", "resize_sizes", cat, 2, &ax, 1, NULL);
	const char *ins[4] = { in, "", "", sizes };
	Onnx__AttributeProto *at[2] = {
		attr_string(o, "mode", "linear"),
		attr_string(o, "coordinate_transformation_mode", "pytorch_half_pixel"),
	};
	return node(o, "Resize", "resize", ins, 4, at, 2, NULL);
}

/* A float32 tensor type of shape [N, dims...] with N symbolic. */
static Onnx__ValueInfoProto *value_info(ox *o, const char *name, const int *dims, int ndims,
					const char *doc)
{
	static const Onnx__ValueInfoProto vi0 = ONNX__VALUE_INFO_PROTO__INIT;
	static const Onnx__TypeProto tp0 = ONNX__TYPE_PROTO__INIT;
	static const Onnx__TypeProto__Tensor tt0 = ONNX__TYPE_PROTO__TENSOR__INIT;
	static const Onnx__TensorShapeProto sh0 = ONNX__TENSOR_SHAPE_PROTO__INIT;
	static const Onnx__TensorShapeProto__Dimension dm0 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
	Onnx__ValueInfoProto *vi = ox_alloc(o, sizeof *vi);
	Onnx__TypeProto *tp = ox_alloc(o, sizeof *tp);
	Onnx__TypeProto__Tensor *tt = ox_alloc(o, sizeof *tt);
	Onnx__TensorShapeProto *sh = ox_alloc(o, sizeof *sh);
	Onnx__TensorShapeProto__Dimension **dv = ox_alloc(o, (size_t)(ndims + 1) * sizeof *dv);
	if (!vi || !tp || !tt || !sh || !dv)
		return NULL;
	*vi = vi0;
	*tp = tp0;
	*tt = tt0;
	*sh = sh0;
	for (int i = 0; i <= ndims; i++) {
		dv[i] = ox_alloc(o, sizeof *dv[i]);
		if (!dv[i])
			return NULL;
		*dv[i] = dm0;
		if (i == 0) {
			dv[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
			dv[i]->dim_param = ox_str(o, "N");
		} else {
			dv[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
			dv[i]->dim_value = dims[i - 1];
		}
	}
	sh->n_dim = (size_t)ndims + 1;
	sh->dim = dv;
	tt->has_elem_type = 1;
	tt->elem_type = F32;
	tt->shape = sh;
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp->tensor_type = tt;
	vi->name = ox_str(o, "%s", name);
	vi->type = tp;
	vi->doc_string = ox_str(o, "%s", doc);
	return vi;
}

/* "a,b,c" of the n floats at v, shortest round-trip form. */
static char *float_list(ox *o, const float *v, int n)
{
	char *s = ox_alloc(o, (size_t)n * 20 + 1);
	if (!s)
		return (char *)"";
	size_t at = 0;
	for (int i = 0; i < n; i++)
		at += (size_t)sprintf(s + at, "%s%.9g", i ? "," : "", (double)v[i]);
	return s;
}

static Onnx__StringStringEntryProto *meta(ox *o, const char *k, const char *v)
{
	static const Onnx__StringStringEntryProto e0 = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
	Onnx__StringStringEntryProto *e = ox_alloc(o, sizeof *e);
	if (e) {
		*e = e0;
		e->key = ox_str(o, "%s", k);
		e->value = ox_str(o, "%s", v);
	}
	return e;
}

int rt_export_onnx_available(void)
{
	return 1;
}

int rt_export_onnx_encode(const rt_model *m, uint8_t **out, size_t *len, char *err,
			  size_t errlen)
{
	assert(m->nlayers >= 1);
	*out = NULL;
	*len = 0;
	ox o = { .oom = 0 };
	cur x = { "input", 1 };
	if (m->res != m->in_h || m->res != m->in_w)
		x.name = emit_resize(&o, m);
	for (int i = 0; i < m->nlayers; i++)
		x = emit_layer(&o, m, i, x);

	static const Onnx__GraphProto g0 = ONNX__GRAPH_PROTO__INIT;
	static const Onnx__ModelProto m0 = ONNX__MODEL_PROTO__INIT;
	static const Onnx__OperatorSetIdProto op0 = ONNX__OPERATOR_SET_ID_PROTO__INIT;
	Onnx__GraphProto g = g0;
	Onnx__ModelProto mp = m0;
	Onnx__OperatorSetIdProto opset = op0, *opsets = &opset;
	int in_dims[3] = { m->in_channels, m->in_h, m->in_w }, out_dims[1] = { m->nclasses };
	Onnx__ValueInfoProto *vin = value_info(&o, "input", in_dims, 3,
					       "NCHW float32, normalised: (raw - input_mean[c]) / input_std[c]");
	Onnx__ValueInfoProto *vout = value_info(&o, "logits", out_dims, 1, "class scores");
	Onnx__StringStringEntryProto *md[3] = {
		meta(&o, "genes", m->genes),
		meta(&o, "input_mean", float_list(&o, m->in_mean, m->in_channels)),
		meta(&o, "input_std", float_list(&o, m->in_std, m->in_channels)),
	};
	int rc = -1;
	if (o.oom || !vin || !vout || !md[0] || !md[1] || !md[2]) {
		seterr(err, errlen, "subnet %s: out of memory writing ONNX", m->genes);
		goto out;
	}
	if (o.nonfinite) {
		seterr(err, errlen, "subnet %s: a weight is not finite once batch norm is folded",
		       m->genes);
		goto out;
	}
	g.name = (char *)"archd_subnet";
	g.doc_string = m->genes;
	g.n_node = o.nnodes;
	g.node = o.nodes;
	g.n_initializer = o.ninits;
	g.initializer = o.inits;
	g.n_input = 1;
	g.input = &vin;
	g.n_output = 1;
	g.output = &vout;
	opset.domain = (char *)"";
	opset.has_version = 1;
	opset.version = RT_EXPORT_ONNX_OPSET;
	mp.has_ir_version = 1;
	mp.ir_version = RT_EXPORT_ONNX_IR_VERSION;
	mp.n_opset_import = 1;
	mp.opset_import = &opsets;
	mp.producer_name = (char *)"archd";
	mp.producer_version = (char *)ARCHD_VERSION;
	mp.doc_string = (char *)"A subnet cut out of an archd supernet.  Input \"input\" [N, C, H, W] "
				"float32, normalised with the metadata's input_mean and input_std; "
				"output \"logits\" [N, classes].";
	mp.graph = &g;
	mp.n_metadata_props = 3;
	mp.metadata_props = md;
	*len = onnx__model_proto__get_packed_size(&mp);
	*out = malloc(*len ? *len : 1);
	if (!*out) {
		*len = 0;
		seterr(err, errlen, "subnet %s: out of memory writing ONNX", m->genes);
		goto out;
	}
	size_t n = onnx__model_proto__pack(&mp, *out);
	assert(n == *len);
	(void)n;
	rc = 0;
out:
	ox_free(&o);
	return rc;
}

#endif /* ARCHD_HAVE_ONNX */

int rt_export_onnx_save(const rt_model *m, const char *path, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	if (rt_export_onnx_encode(m, &buf, &len, err, errlen) != 0)
		return -1;
	int rc = rt_state_write_file(path, buf, len, 0644, err, errlen);
	free(buf);
	return rc;
}
