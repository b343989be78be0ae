/*
 * predictor.h — accuracy predictors over subnets: a regressor from a
 * subnet's encoding to its measured holdout accuracy, trained on a few
 * hundred (subnet, accuracy) pairs and queried thousands of times by the
 * search.  Prefix: pred_.
 *
 * Models (NAT's choice of surrogates):
 *   mlp   one hidden layer of ReLU units, a linear output, mean squared error
 *         with L2 decay, trained by mini-batch Adam or SGD with momentum;
 *   rbf   an ensemble of Gaussian RBF interpolants with a ridge term, each on
 *         a bootstrap sample of the data with its own width, averaged;
 *   auto  k-fold cross-validation of both, keeping the one whose
 *         out-of-fold predictions have the higher Kendall tau (ties: mlp),
 *         retrained on all the data.
 * Targets are standardised before training and the prediction is mapped
 * back, so accuracies in [0, 1] and any other scale work alike.
 *
 * Features are any fixed-length double vectors; pred_encode gives the
 * one-hot encoding of a subnet that the search uses.  Training is seeded:
 * the same data and settings give the same model, bit for bit.
 *
 * A trained model is immutable: several threads may predict with it at once.
 * File form (pred_model_save): magic, version, the kind and sizes, every
 * number as little-endian IEEE-754, and a trailing XXH3-64 of all that
 * precedes it.
 */
#ifndef ARCHD_RUNTIME_PREDICTOR_H
#define ARCHD_RUNTIME_PREDICTOR_H

#include <stddef.h>
#include <stdint.h>

#include "compiler/ir.h"
#include "runtime/subnet.h"

/* Bump when the file layout or the meaning of a stored number changes.
 * 2: pred_encode zeroes the genes of blocks a subnet leaves out, so models
 * fitted to version 1's encoding would be fed features they never saw. */
#define PRED_FILE_VERSION 2

typedef enum pred_kind {
	PRED_KIND_MLP,
	PRED_KIND_RBF,
	PRED_KIND_AUTO, /* only as a setting: a trained model is MLP or RBF */
	PRED_KIND_COUNT
} pred_kind;

typedef enum pred_optim {
	PRED_OPTIM_ADAM,
	PRED_OPTIM_SGD, /* with momentum */
	PRED_OPTIM_COUNT
} pred_optim;

/* "mlp", "rbf", "auto"; "adam", "sgd". */
extern const char *const pred_kind_names[PRED_KIND_COUNT];
extern const char *const pred_optim_names[PRED_OPTIM_COUNT];

/* The kind named `name` into *out; returns 0, or -1 for an unknown name. */
int pred_kind_parse(const char *name, pred_kind *out);

typedef struct pred_settings {
	pred_kind kind;
	uint64_t seed;
	/* mlp */
	int mlp_hidden;
	int mlp_epochs;
	int mlp_batch;
	double mlp_lr;
	double mlp_wd;       /* L2 decay of the weights (not the biases) */
	pred_optim mlp_optim;
	double mlp_momentum; /* SGD only */
	/* rbf */
	int rbf_models;
	double rbf_ridge;    /* added to the kernel matrix's diagonal (of 1s) */
	/* auto */
	int cv_folds;
} pred_settings;

/* auto, seed 1; mlp: 64 hidden units, 150 epochs, batch 16, Adam, lr 3e-3,
 * decay 1e-2, momentum 0.9; rbf: 8 models, ridge 1e-2; 5 folds.  (Tuned on
 * a few hundred one-hot subnets with standardised targets: a strong decay
 * keeps 64 units from fitting the noise.) */
void pred_settings_init(pred_settings *s);

/* A trained predictor; opaque, freed with pred_model_free. */
typedef struct pred_model pred_model;

/*
 * Trains a predictor on n examples: features x (n rows of d, row-major) and
 * targets y.  Returns a new model owned by the caller, or NULL with a reason
 * in err: fewer than 2 examples (auto: fewer than 2 per fold), d < 1, a
 * non-finite feature or target, settings out of range, or out of memory.
 */
pred_model *pred_train(const pred_settings *s, int n, int d, const double *x, const double *y,
		       char *err, size_t errlen);

/* The prediction for one feature vector of the model's width. */
double pred_predict(const pred_model *m, const double *x);

/* Predictions for n rows of x into out. */
void pred_predict_many(const pred_model *m, int n, const double *x, double *out);

/* The model's kind (MLP or RBF) and feature width. */
pred_kind pred_model_kind(const pred_model *m);
int pred_model_width(const pred_model *m);

/*
 * The cross-validated Kendall tau and RMSE (in target units) of `kind`
 * (MLP or RBF) measured when an auto model was trained; returns 0, or -1
 * when that kind was not cross-validated (a model trained as mlp or rbf).
 */
int pred_model_cv(const pred_model *m, pred_kind kind, double *tau, double *rmse);

/* Frees a model; NULL is fine. */
void pred_model_free(pred_model *m);

/*
 * Writes the model to path atomically (temp file, fsync, rename).  Returns 0
 * or -1 with a reason naming the path in err.
 */
int pred_model_save(const pred_model *m, const char *path, char *err, size_t errlen);

/*
 * Reads a model written by pred_model_save.  Returns a new model, or NULL
 * with a reason naming the path in err: unreadable, not a predictor file, a
 * newer version, a checksum mismatch (a corrupt or truncated file), or sizes
 * that do not add up.
 */
pred_model *pred_model_load(const char *path, char *err, size_t errlen);

/* The same on a buffer (what pred_model_load reads). */
pred_model *pred_model_decode(const uint8_t *buf, size_t len, char *err, size_t errlen);
/* Serialises into a malloc'd buffer (*out, *len owned by the caller); returns
 * 0 or -1 on out-of-memory. */
int pred_model_encode(const pred_model *m, uint8_t **out, size_t *len);

/* --- encoding and agreement measures ---------------------------------------- */

/* Width of the one-hot encoding of the space's subnets: the sum of nvalues
 * over genes with more than one value (a fixed gene tells nothing). */
int pred_encode_width(const ir_space *s);

/* One-hot encoding of sub: for each gene with more than one value, in gene
 * order, nvalues slots holding a 1 at the chosen index, or all 0 when the
 * gene shapes nothing in this subnet (the kernel of a block its stage's
 * depth leaves out), so subnets that are the same network encode alike.
 * out holds pred_encode_width(s) doubles. */
void pred_encode(const ir_space *s, const sn_subnet *sub, double *out);

/*
 * Kendall's tau-b between a and b (n values each): (concordant - discordant)
 * pairs over the geometric mean of the pairs untied in a and untied in b.
 * 0 when either is constant or n < 2.  O(n^2).
 */
double pred_kendall_tau(int n, const double *a, const double *b);

/* Root mean squared difference of a and b; 0 when n == 0. */
double pred_rmse(int n, const double *a, const double *b);

#endif
