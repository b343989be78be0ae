/*
 * predbench.c — the accuracy predictors on a real supernet, for
 * bench/predictor/run.
 *
 *   predbench AIR TASK CHECKPOINT NSUBNETS NTRAIN THREADS
 *   predbench --state DIR AIR TASK NSUBNETS NTRAIN THREADS
 *
 * The first form trains task TASK's supernet by its recipe (or resumes it
 * from CHECKPOINT: a finished run is not redone).  The second takes the
 * supernet `archc train` left for TASK in the state dir DIR (such as `make
 * experiments`' $BUILDDIR/experiments/state) as it is, training nothing:
 * a missing checkpoint is an error.
 *
 * Then it measures the holdout accuracy of NSUBNETS distinct seeded random
 * subnets after batch-norm recalibration (rt_train_eval, as the search's
 * training pairs are measured), fits the MLP, the RBF ensemble and auto on
 * the first NTRAIN and reports Kendall's tau and the RMSE of each on the
 * other (held-out) architectures, beside the tau of ranking them by MACs
 * alone.
 *
 * Holdout accuracy on a few thousand images is itself a noisy measure
 * (about 0.3 points of binomial noise at 5,000), which caps the tau any
 * predictor can reach against it.  So the held-out architectures are also
 * measured on the test split, and the report adds their tau against the
 * accuracy over holdout and test together (all their images) and
 * the tau between the holdout and the test accuracy of the same
 * architectures: how well one measurement ranks the other, which shows
 * how much of a predictor's distance from tau = 1 is the labels' noise.
 * The predictors never see a test accuracy.
 *
 * Prints key=value lines, then the same as a Markdown table for
 * docs/RESULTS.md; with PAIRS_OUT=FILE set, also writes every (gene
 * string, accuracy) pair to FILE.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compiler/ir.h"
#include "runtime/predictor.h"
#include "runtime/statedir.h"
#include "runtime/train.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "predbench: %s: %s\n", what, err);
	exit(1);
}

/* The usage error. */
static int usage(void)
{
	fprintf(stderr, "usage: predbench AIR TASK CHECKPOINT NSUBNETS NTRAIN THREADS\n"
			"       predbench --state DIR AIR TASK NSUBNETS NTRAIN THREADS\n");
	return 1;
}

int main(int argc, char **argv)
{
	const char *state = NULL, *ckpt = NULL, *air, *tname;
	char **nums; /* NSUBNETS NTRAIN THREADS */
	if (argc == 8 && strcmp(argv[1], "--state") == 0) {
		state = argv[2];
		air = argv[3];
		tname = argv[4];
		nums = argv + 5;
	} else if (argc == 7 && argv[1][0] != '-') {
		air = argv[1];
		tname = argv[2];
		ckpt = argv[3];
		nums = argv + 4;
	} else {
		return usage();
	}
	int nsub = atoi(nums[0]), ntrain = atoi(nums[1]), threads = atoi(nums[2]);
	if (ntrain < 10 || nsub < ntrain + 10 || threads < 0)
		die("arguments", "need NTRAIN >= 10, NSUBNETS >= NTRAIN + 10, THREADS >= 0");
	char err[RT_STATE_PATH_MAX + 512];
	ir_module *mod = ir_binary_load(air, err, sizeof(err));
	if (!mod)
		die(air, err);
	int task = ir_module_find_task(mod, tname);
	if (task < 0)
		die(tname, "no such task");
	const ir_space *s = &mod->spaces[mod->tasks[task].space];
	char path[RT_STATE_PATH_MAX];
	if (state) {
		if (rt_state_checkpoint_path(state, mod->tasks[task].supernet_key, path,
					     sizeof path) != 0)
			die(state, "state dir path too long");
		if (access(path, F_OK) != 0) {
			snprintf(err, sizeof err, "no trained supernet of task %s (no %s)", tname,
				 path);
			die(state, err);
		}
		ckpt = path;
	}

	rt_train_opts o;
	rt_train_opts_init(&o);
	o.checkpoint = ckpt;
	o.resume = 1;
	o.threads = threads;
	o.eval_each_epoch = 0;
	o.read_only = state != NULL; /* a run may be training it meanwhile */
	rt_trainer *t = rt_train_new(mod, task, &o, err, sizeof(err));
	if (!t)
		die("trainer", err);
	double t0 = now_s();
	if (state) {
		/* as it is: an unfinished run is measured where it stands */
		rt_ckpt_state pos;
		rt_train_position(t, &pos);
		printf("task=%s\nspace=%s\nstate=%s\nepoch=%d\n", tname, s->name, state, pos.epoch);
	} else {
		if (rt_train_run(t, err, sizeof(err)) != RT_TRAIN_DONE)
			die("training", err);
		printf("task=%s\nspace=%s\ntrain_s=%.1f\nresumed=%d\n", tname, s->name,
		       now_s() - t0, rt_train_resumed(t));
	}
	int nholdout = rt_train_data(t)->part[RT_SPLIT_HOLDOUT].n;
	printf("holdout_images=%d\n", nholdout);

	int d = pred_encode_width(s);
	double *x = malloc((size_t)nsub * d * sizeof(double));
	double *y = malloc((size_t)nsub * sizeof(double));
	double *p = malloc((size_t)nsub * sizeof(double));
	sn_subnet *subs = malloc((size_t)nsub * sizeof(sn_subnet));
	if (!x || !y || !p || !subs)
		die("memory", "out of memory");
	rt_rng r;
	rt_rng_seed(&r, 99);
	t0 = now_s();
	double lo = 1, hi = 0;
	for (int i = 0; i < nsub; i++) {
		int fresh;
		do {
			sn_subnet_random(s, &r, &subs[i]);
			fresh = 1;
			for (int j = 0; j < i && fresh; j++)
				fresh = !sn_subnet_equal(&subs[i], &subs[j]);
		} while (!fresh);
		double loss;
		if (rt_train_eval(t, &subs[i], RT_SPLIT_HOLDOUT, &y[i], &loss) != 0)
			die("evaluation", "empty holdout split or out of memory");
		pred_encode(s, &subs[i], x + (size_t)i * d);
		lo = y[i] < lo ? y[i] : lo;
		hi = y[i] > hi ? y[i] : hi;
	}
	printf("subnets=%d\ntrain_pairs=%d\nmeasure_s=%.1f\naccuracy_min=%.4f\naccuracy_max=%.4f\n",
	       nsub, ntrain, now_s() - t0, lo, hi);

	int ntest = nsub - ntrain;
	/* The baseline a predictor must beat: ranking by MACs alone. */
	sn_plan *plan = malloc(sizeof(*plan));
	double *macs = malloc((size_t)ntest * sizeof(double));
	if (!plan || !macs)
		die("memory", "out of memory");
	for (int i = 0; i < ntest; i++) {
		sn_cost c;
		sn_plan_build(s, mod->datasets[mod->tasks[task].dataset].nclasses, &subs[ntrain + i],
			      plan);
		sn_plan_cost(s, plan, &c);
		macs[i] = c.macs;
	}
	double macs_tau = pred_kendall_tau(ntest, macs, y + ntrain);
	printf("macs_rank_tau=%.3f\n", macs_tau);
	free(plan);
	const char *dump = getenv("PAIRS_OUT");
	FILE *df = dump ? fopen(dump, "w") : NULL;
	for (int i = 0; df && i < nsub; i++) {
		char genes[SN_GENE_STRLEN];
		sn_subnet_format(s, &subs[i], genes, sizeof(genes));
		fprintf(df, "%s %.4f\n", genes, y[i]);
	}
	if (df)
		fclose(df);
	/* The held-out architectures on the test split too (see the top). */
	int ntestimg = rt_train_data(t)->part[RT_SPLIT_TEST].n;
	double *yt = malloc((size_t)ntest * sizeof(double));
	double *yc = malloc((size_t)ntest * sizeof(double));
	if (!yt || !yc)
		die("memory", "out of memory");
	double noise_tau = NAN, macs_tau_c = NAN;
	if (ntestimg > 0) {
		t0 = now_s();
		for (int i = 0; i < ntest; i++) {
			double loss;
			if (rt_train_eval(t, &subs[ntrain + i], RT_SPLIT_TEST, &yt[i], &loss) != 0)
				die("evaluation", "out of memory");
			yc[i] = (y[ntrain + i] * nholdout + yt[i] * ntestimg) /
				(nholdout + ntestimg);
		}
		noise_tau = pred_kendall_tau(ntest, y + ntrain, yt);
		macs_tau_c = pred_kendall_tau(ntest, macs, yc);
		printf("test_images=%d\nmeasure_test_s=%.1f\nholdout_vs_test_tau=%.3f\n", ntestimg,
		       now_s() - t0, noise_tau);
	}
	double tau[PRED_KIND_COUNT], rmse[PRED_KIND_COUNT], fit[PRED_KIND_COUNT];
	double tau_c[PRED_KIND_COUNT];
	int picked = -1;
	for (int k = 0; k < PRED_KIND_COUNT; k++) {
		pred_settings ps;
		pred_settings_init(&ps);
		ps.kind = (pred_kind)k;
		t0 = now_s();
		pred_model *m = pred_train(&ps, ntrain, d, x, y, err, sizeof(err));
		if (!m)
			die(pred_kind_names[k], err);
		fit[k] = now_s() - t0;
		pred_predict_many(m, ntest, x + (size_t)ntrain * d, p);
		tau[k] = pred_kendall_tau(ntest, p, y + ntrain);
		rmse[k] = pred_rmse(ntest, p, y + ntrain);
		tau_c[k] = ntestimg > 0 ? pred_kendall_tau(ntest, p, yc) : NAN;
		printf("%s_tau=%.3f\n%s_rmse=%.4f\n%s_fit_s=%.2f\n", pred_kind_names[k], tau[k],
		       pred_kind_names[k], rmse[k], pred_kind_names[k], fit[k]);
		if (ntestimg > 0)
			printf("%s_tau_holdout_test=%.3f\n", pred_kind_names[k], tau_c[k]);
		if (k == PRED_KIND_AUTO) {
			picked = (int)pred_model_kind(m);
			printf("auto_picked=%s\n", pred_kind_names[picked]);
		}
		pred_model_free(m);
	}
	/* The same for docs/RESULTS.md. */
	printf("\n#### Accuracy predictors, task `%s` (`bench/predictor`)\n\n", tname);
	printf("Fitted on %d (architecture, holdout accuracy) pairs of seeded random subnets,\n"
	       "scored on %d other architectures; accuracy measured on %d holdout images after\n"
	       "batch-norm recalibration (%s).\n\n",
	       ntrain, ntest, nholdout,
	       state ? "the supernet of the state dir, as it is" : "the supernet trained here");
	if (ntestimg > 0)
		printf("The last column scores the same predictions against the accuracy over the\n"
		       "holdout and the %d test images together (the predictors never see a test\n"
		       "accuracy).  How noisy the labels are: the holdout and the test accuracy of\n"
		       "the same %d architectures rank each other with τ = %.3f.\n\n",
		       ntestimg, ntest, noise_tau);
	printf("| predictor | Kendall τ | RMSE (accuracy points) | fit (s) | τ vs holdout + test |\n");
	printf("| --- | ---: | ---: | ---: | ---: |\n");
	for (int k = 0; k < PRED_KIND_COUNT; k++) {
		char name[64];
		if (k == PRED_KIND_AUTO && picked >= 0)
			snprintf(name, sizeof name, "auto (picked %s)", pred_kind_names[picked]);
		else
			snprintf(name, sizeof name, "%s", pred_kind_names[k]);
		printf("| %s | %.3f | %.2f | %.2f | %.3f |\n", name, tau[k], 100 * rmse[k], fit[k],
		       tau_c[k]);
	}
	printf("| ranking by MACs alone | %.3f | | | %.3f |\n", macs_tau,
	       ntestimg > 0 ? macs_tau_c : NAN);
	free(macs);
	free(yt);
	free(yc);
	free(x);
	free(y);
	free(p);
	free(subs);
	rt_train_free(t);
	ir_module_free(mod);
	return 0;
}
