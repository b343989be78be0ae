/*
 * export_c_priv.h — the kernels export_c.c writes into generated files,
 * as C source text (export_c_kernels.c).  Not a public header.
 */
#ifndef ARCHD_RUNTIME_EXPORT_C_PRIV_H
#define ARCHD_RUNTIME_EXPORT_C_PRIV_H

/* The kernels of a generated file; each is emitted only when the model
 * uses it (an unused static function would fail the user's -Werror
 * build).  RT_EXPORT_C_K_ACT defines the ACT_* constants the others take. */
enum {
	RT_EXPORT_C_K_ACT,       /* act(v, a): none, relu, hswish */
	RT_EXPORT_C_K_CONV,      /* dense k x k convolution + bias + act */
	RT_EXPORT_C_K_POINTWISE, /* 1x1 convolution or dense layer + bias + act */
	RT_EXPORT_C_K_DEPTHWISE, /* depthwise k x k convolution + bias + act */
	RT_EXPORT_C_K_SE,        /* squeeze-excite, in place */
	RT_EXPORT_C_K_POOL,      /* global average pool */
	RT_EXPORT_C_K_SHORTCUT,  /* y = act(y + s) over the common channels */
	RT_EXPORT_C_K_RESIZE,    /* bilinear resize, half-pixel centres */
	RT_EXPORT_C_K_COUNT
};

/* The source text of each kernel, ending in a newline. */
extern const char *const rt_export_c_kernel_src[RT_EXPORT_C_K_COUNT];

#endif
