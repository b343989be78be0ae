/*
 * predictor_priv.h — the model layout the predictor_*.c files share.
 */
#ifndef ARCHD_RUNTIME_PREDICTOR_PRIV_H
#define ARCHD_RUNTIME_PREDICTOR_PRIV_H

#include "runtime/predictor.h"
#include "runtime/rng.h"

/* Largest sizes a model (and so a file) may declare. */
#define PRED_MAX_WIDTH 65536
#define PRED_MAX_HIDDEN 4096
#define PRED_MAX_CENTRES 100000
#define PRED_MAX_MODELS 256

/* One RBF interpolant: sum of alpha[i] * exp(-|x - c|^2 * gamma) over its
 * centres c = rbf_centre[idx[i]]. */
typedef struct pred_rbf {
	double gamma; /* 1 / (2 sigma^2) */
	int n;
	int *idx;
	double *alpha;
} pred_rbf;

struct pred_model {
	pred_kind kind; /* MLP or RBF */
	int d;
	double y_mean, y_std; /* target = y_mean + y_std * raw output */
	/* Cross-validation figures of an auto model, NAN when not measured. */
	double cv_tau[2], cv_rmse[2];
	/* MLP: out = w2 . relu(w1 x + b1) + b2 */
	int hidden;
	double *w1; /* hidden x d */
	double *b1, *w2;
	double b2;
	/* RBF */
	int ncentres;
	double *centres; /* ncentres x d */
	int nmodels;
	pred_rbf *rbf;
};

/* An empty model of kind and width, NANs in the cv figures; NULL on OOM. */
pred_model *pred_model_alloc(pred_kind kind, int d);

/* Fits the MLP part of m (kind MLP) to standardised targets z. */
int pred_mlp_fit(pred_model *m, const pred_settings *s, int n, const double *x, const double *z);
/* Raw (standardised) output of the MLP for x. */
double pred_mlp_raw(const pred_model *m, const double *x);

/* Fits the RBF ensemble of m (kind RBF) to standardised targets z. */
int pred_rbf_fit(pred_model *m, const pred_settings *s, int n, const double *x, const double *z);
double pred_rbf_raw(const pred_model *m, const double *x);

#endif
