/*
 * cc_methods.c — every method the language knows, with its parameters,
 * their kinds, ranges and defaults.  This table is the one place defaults
 * live; docs/arch.5 repeats it for users.
 */
#include "compiler/cc_priv.h"

#include <math.h>

#define CC_INF INFINITY
#define CC_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* --- task: adapt = ...; ---------------------------------------------------- */

/* NAT: `iterations` rounds of search with the surrogate, then `epochs` of
 * supernet adaptation on subnets drawn from the archive. */
static const cc_param_spec cc_nat_params[] = {
	{"iterations", CC_P_INT, 4, 1, 1000, NULL},
	{"epochs", CC_P_INT, 1, 1, 10000, NULL},
	{"population", CC_P_INT, 100, 2, 100000, NULL},
	{"generations", CC_P_INT, 20, 1, 100000, NULL},
	{"lr", CC_P_NUM, 0.01, 0, CC_INF, NULL},
};
/* NTAA: search the target with inherited weights, then fine-tune the chosen
 * subnet for `epochs`; `selfsup` scores with a linear probe on
 * self-supervised features. */
static const cc_param_spec cc_ntaa_params[] = {
	{"epochs", CC_P_INT, 3, 1, 10000, NULL},
	{"selfsup", CC_P_BOOL, 0, 0, 1, NULL},
	{"population", CC_P_INT, 100, 2, 100000, NULL},
	{"generations", CC_P_INT, 20, 1, 100000, NULL},
	{"lr", CC_P_NUM, 0.01, 0, CC_INF, NULL},
};
static const cc_param_spec cc_finetune_params[] = {
	{"epochs", CC_P_INT, 5, 1, 10000, NULL},
	{"lr", CC_P_NUM, 0.01, 0, CC_INF, NULL},
};
const cc_method cc_adapt_methods[] = {
	{"nat", cc_nat_params, CC_N(cc_nat_params), 0},
	{"ntaa", cc_ntaa_params, CC_N(cc_ntaa_params), 0},
	{"finetune", cc_finetune_params, CC_N(cc_finetune_params), 0},
};
const int cc_adapt_nmethods = CC_N(cc_adapt_methods);

/* --- task: pretrain = ...; ------------------------------------------------- */

static const cc_param_spec cc_selfsup_params[] = {
	{"epochs", CC_P_INT, 5, 1, 10000, NULL},
	{"temperature", CC_P_NUM, 0.5, 0, CC_INF, NULL},
};
const cc_method cc_pretrain_methods[] = {
	{"supervised", NULL, 0, 0},
	{"selfsup", cc_selfsup_params, CC_N(cc_selfsup_params), 0},
};
const int cc_pretrain_nmethods = CC_N(cc_pretrain_methods);

/* --- task: search { ... } -------------------------------------------------- */

/* Defaults and ranges from compiler/ir.h, which the runtime checks an IR
 * against too. */
#define CC_SEARCH_INT(name, N)                                                                 \
	{                                                                                      \
		name, CC_P_INT, IR_SEARCH_##N##_DEF, IR_SEARCH_##N##_MIN, IR_SEARCH_##N##_MAX, \
			NULL                                                                   \
	}
static const cc_param_spec cc_search_params[] = {
	{"predictor", CC_P_NAME, 0, 0, 0, "auto mlp rbf"},
	CC_SEARCH_INT("samples", SAMPLES),
	CC_SEARCH_INT("population", POPULATION),
	CC_SEARCH_INT("generations", GENERATIONS),
	CC_SEARCH_INT("seed", SEED),
};
const cc_method cc_search_method = {"search", cc_search_params, CC_N(cc_search_params), 0};

/* --- train { ... } ------------------------------------------------------------ */

static const cc_param_spec cc_sgd_params[] = {
	{"lr", CC_P_NUM, 0.1, 0, CC_INF, NULL},
	{"momentum", CC_P_NUM, 0.9, 0, 1, NULL},
	{"nesterov", CC_P_BOOL, 1, 0, 1, NULL},
	{"wd", CC_P_NUM, 4e-5, 0, CC_INF, NULL},
	{"decoupled", CC_P_BOOL, 0, 0, 1, NULL},
};
const cc_method cc_optimizer_methods[] = {
	{"sgd", cc_sgd_params, CC_N(cc_sgd_params), 0},
};
const int cc_optimizer_nmethods = CC_N(cc_optimizer_methods);

static const cc_param_spec cc_cosine_params[] = {
	{"warmup", CC_P_NUM, 0, 0, CC_INF, NULL},
};
const cc_method cc_schedule_methods[] = {
	{"cosine", cc_cosine_params, CC_N(cc_cosine_params), 1},
	{"constant", NULL, 0, 0},
};
const int cc_schedule_nmethods = CC_N(cc_schedule_methods);

static const cc_param_spec cc_sandwich_params[] = {
	{"n", CC_P_INT, 4, 2, 64, NULL},
};
/* Order matches ir_sampler. */
const cc_method cc_sampler_methods[] = {
	{"max", NULL, 0, 0},
	{"random", NULL, 0, 0},
	{"sandwich", cc_sandwich_params, CC_N(cc_sandwich_params), 1},
};
const int cc_sampler_nmethods = CC_N(cc_sampler_methods);

static const cc_param_spec cc_inplace_params[] = {
	{"labels", CC_P_BOOL, 0, 0, 1, NULL},
};
/* `none` is the caller's (allow_none). */
const cc_method cc_distill_methods[] = {
	{"inplace", cc_inplace_params, CC_N(cc_inplace_params), 1},
};
const int cc_distill_nmethods = CC_N(cc_distill_methods);

/* --- dataset ------------------------------------------------------------------ */

static const cc_param_spec cc_fixed_params[] = {
	{"mean", CC_P_NUM, 0, -CC_INF, CC_INF, NULL},
	{"std", CC_P_NUM, 1, 0, CC_INF, NULL},
};
/* Order matches ir_norm after none. */
const cc_method cc_normalize_methods[] = {
	{"standard", NULL, 0, 0},
	{"fixed", cc_fixed_params, CC_N(cc_fixed_params), 1},
};
const int cc_normalize_nmethods = CC_N(cc_normalize_methods);

static const cc_param_spec cc_crop_params[] = {
	{"pad", CC_P_INT, 2, 1, 64, NULL},
};
const cc_method cc_augment_methods[] = {
	{"crop", cc_crop_params, CC_N(cc_crop_params), 1},
	{"flip", NULL, 0, 0},
};
const int cc_augment_nmethods = CC_N(cc_augment_methods);
