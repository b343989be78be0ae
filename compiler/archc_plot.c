/*
 * archc_plot.c — `archc plot FILE.arch [--task T] [--state DIR] -o OUT.svg
 * [--x macs|latency|params|memory]`: the task's measured Pareto archive
 * drawn as a self-contained SVG: holdout accuracy against one cost, every
 * member a marker, the two-metric Pareto front as a step line, and the
 * archive's answer to each target of the file marked and labelled.
 *
 * The SVG is plain text built here (no plotting library): one <circle
 * class="member ..."> per drawable member and one <path class="target
 * ..."> per target, each with a <title> tooltip, so tests and users can
 * count and read them.  The file is written atomically (temp + rename).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/archc.h"
#include "compiler/archc_opt.h"
#include "compiler/archc_task.h"
#include "runtime/answer.h"
#include "runtime/statedir.h"

/* Canvas and plot area, in SVG user units. */
enum { W = 900, H = 560, PL = 90, PR = 650, PT = 70, PB = 480 };

/* A cost the x axis can show. */
typedef struct x_metric {
	const char *opt;   /* --x value */
	const char *name;  /* in the title */
	ir_metric metric;
	const char *label; /* axis label */
	const char *unit;  /* appended to tick labels, may be "" */
	double scale;      /* base units -> shown units */
} x_metric;

static const x_metric x_metrics[] = {
	{ "macs", "MACs", IR_METRIC_MACS, "multiply-accumulates per image (MACs)", "", 1 },
	{ "latency", "latency", IR_METRIC_LATENCY, "latency on this host, batch 1 (ms)", " ms", 1e3 },
	{ "params", "parameters", IR_METRIC_PARAMS, "parameters", "", 1 },
	{ "memory", "peak memory", IR_METRIC_MEMORY, "peak activation memory (bytes)", "B", 1 },
};

/* A growing text buffer; the command aborts on out-of-memory (STYLE 5). */
typedef struct sbuf {
	char *s;
	size_t len, cap;
} sbuf;

static void out(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out(sbuf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 4096;
		while (cap <= b->len + (size_t)n)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s) {
			fprintf(stderr, "archc plot: out of memory\n");
			abort();
		}
		b->s = s;
		b->cap = cap;
	}
}

/* Text with XML's five special characters escaped. */
static void out_text(sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': out(b, "&amp;"); break;
		case '<': out(b, "&lt;"); break;
		case '>': out(b, "&gt;"); break;
		case '"': out(b, "&quot;"); break;
		case '\'': out(b, "&apos;"); break;
		default: out(b, "%c", *s);
		}
	}
}

/* "2.5M", "400K", "12" for shown values; "0.84" below one. */
static void fmt_si(double v, char *buf, size_t len)
{
	static const struct { double f; const char *s; } si[] = {
		{ 1e9, "G" }, { 1e6, "M" }, { 1e3, "K" }
	};
	for (size_t i = 0; i < sizeof si / sizeof si[0]; i++)
		if (fabs(v) >= si[i].f) {
			snprintf(buf, len, "%.3g%s", v / si[i].f, si[i].s);
			return;
		}
	snprintf(buf, len, "%.3g", v);
}

/* --- axes ------------------------------------------------------------------ */

/* An axis from data values lo..hi (shown units) to pixels p0..p1. */
typedef struct axis {
	int log;
	double lo, hi; /* domain: log10 of the values when log */
	double p0, p1;
} axis;

static double axis_pos(const axis *a, double v)
{
	double t = a->log ? log10(v) : v;
	return a->p0 + (t - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* A step of 1, 2 or 5 times a power of ten near span / n. */
static double nice_step(double span, int n)
{
	double raw = span / n, p = pow(10, floor(log10(raw))), f = raw / p;
	return p * (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10);
}

/* Log scale when the values span a decade or more, padded by 5% either way. */
static void axis_fit(axis *a, double lo, double hi, int allow_log, double p0, double p1)
{
	a->p0 = p0;
	a->p1 = p1;
	a->log = allow_log && lo > 0 && hi / lo >= 10;
	if (a->log) {
		lo = log10(lo);
		hi = log10(hi);
	}
	double pad = (hi - lo) * 0.05;
	if (pad == 0)
		pad = lo != 0 ? fabs(lo) * 0.1 : 1;
	a->lo = lo - pad;
	a->hi = hi + pad;
	if (!a->log && lo >= 0 && a->lo < 0)
		a->lo = 0;
}

/* The axis's tick values (at most max) into ticks; returns how many. */
static int axis_ticks(const axis *a, double *ticks, int max)
{
	int n = 0;
	if (a->log) {
		/* decades, with 2 and 5 between them when few decades show */
		int sub = a->hi - a->lo < 3;
		for (int e = (int)floor(a->lo); e <= (int)ceil(a->hi) && n < max; e++)
			for (int m = 1; m <= 5 && n < max; m += m == 1 ? 1 : 3) {
				if (m > 1 && !sub)
					continue;
				double t = log10(m) + e;
				if (t >= a->lo && t <= a->hi)
					ticks[n++] = pow(10, t);
			}
		return n;
	}
	double step = nice_step(a->hi - a->lo, 6);
	for (double t = ceil(a->lo / step) * step; t <= a->hi + step * 1e-9 && n < max; t += step)
		ticks[n++] = fabs(t) < step * 1e-9 ? 0 : t;
	return n;
}

static void draw_axes(sbuf *b, const axis *ax, const axis *ay, const x_metric *xm)
{
	double ticks[64];
	char lab[32];
	out(b, "<g class=\"axes\" font-size=\"12\" fill=\"#333\">\n");
	out(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
	    PL, PT, PR - PL, PB - PT);
	int n = axis_ticks(ax, ticks, 64);
	for (int i = 0; i < n; i++) {
		double x = axis_pos(ax, ticks[i]);
		fmt_si(ticks[i], lab, sizeof lab);
		out(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e5e5e5\"/>\n",
		    x, PT, x, PB);
		out(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/>\n", x, PB, x,
		    PB + 5);
		out(b, "<text class=\"xtick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s%s</text>\n", x,
		    PB + 19, lab, xm->unit);
	}
	n = axis_ticks(ay, ticks, 64);
	for (int i = 0; i < n; i++) {
		double y = axis_pos(ay, ticks[i]);
		out(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n",
		    PL, y, PR, y);
		out(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n", PL - 5, y,
		    PL, y);
		out(b, "<text class=\"ytick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g%%</text>\n",
		    PL - 8, y + 4, ticks[i]);
	}
	out(b, "<text class=\"xlabel\" x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">%s%s</text>\n",
	    (PL + PR) / 2, PB + 42, xm->label, ax->log ? ", log scale" : "");
	out(b, "<text class=\"ylabel\" transform=\"translate(%d %d) rotate(-90)\" text-anchor=\"middle\" "
	       "font-size=\"13\">holdout accuracy (%%)</text>\n",
	    PL - 55, (PT + PB) / 2);
	out(b, "</g>\n");
}

/* --- the plot ---------------------------------------------------------------- */

typedef struct plot_in {
	const char *input;
	const ir_module *m;
	int t;
	const search_archive *a;
	const x_metric *xm;
} plot_in;

/* A member's coordinates in shown units; 0 when both are known (costs
 * are positive: a log axis needs it). */
static int member_xy(const plot_in *p, const search_member *mb, double *x, double *y)
{
	*x = mb->eval.v[p->xm->metric] * p->xm->scale;
	*y = mb->eval.v[IR_METRIC_ACCURACY] * 100;
	return isfinite(*x) && isfinite(*y) && *x > 0 ? 0 : -1;
}

static const search_archive *sort_a;
static const x_metric *sort_x;

/* By the x metric, then accuracy, highest first. */
static int by_x(const void *pa, const void *pb)
{
	const search_member *a = search_archive_member(sort_a, *(const int *)pa);
	const search_member *b = search_archive_member(sort_a, *(const int *)pb);
	double d = a->eval.v[sort_x->metric] - b->eval.v[sort_x->metric];
	if (d == 0)
		d = b->eval.v[IR_METRIC_ACCURACY] - a->eval.v[IR_METRIC_ACCURACY];
	return (d > 0) - (d < 0);
}

/* The tooltip of a member: genes and every metric. */
static void member_title(sbuf *b, const ir_space *s, const search_member *mb)
{
	char genes[SN_GENE_STRLEN];
	sn_subnet_format(s, &mb->sub, genes, sizeof genes);
	const double *v = mb->eval.v;
	out(b, "<title>%s accuracy=%.2f%% macs=%.0f params=%.0f memory=%.0f latency=%.4fms</title>",
	    genes, v[IR_METRIC_ACCURACY] * 100, v[IR_METRIC_MACS], v[IR_METRIC_PARAMS],
	    v[IR_METRIC_MEMORY], v[IR_METRIC_LATENCY] * 1e3);
}

/* "macs <= 30K, latency <= 1.5 ms" */
static void target_spec(const ir_target *tg, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; i < tg->nconstraints && o < len; i++) {
		const ir_constraint *c = &tg->constraints[i];
		char v[32];
		if (c->metric == IR_METRIC_LATENCY)
			snprintf(v, sizeof v, "%.3g ms", c->value * 1e3);
		else if (c->metric == IR_METRIC_ACCURACY)
			snprintf(v, sizeof v, "%.3g%%", c->value * 100);
		else
			fmt_si(c->value, v, sizeof v);
		o += (size_t)snprintf(buf + o, len - o, "%s%s %s %s", i ? ", " : "",
				      ir_metric_names[c->metric], ir_cmp_names[c->cmp], v);
	}
}

typedef struct plot_counts {
	int drawn, skipped, front, met, unmet;
} plot_counts;

static void draw_members(sbuf *b, const plot_in *p, const axis *ax, const axis *ay,
			 const int *order, int n, const char *on_front, plot_counts *c)
{
	const ir_space *s = &p->m->spaces[p->m->tasks[p->t].space];
	/* the step line: best accuracy reachable at each cost */
	out(b, "<path class=\"front\" fill=\"none\" stroke=\"#1f6fb4\" stroke-width=\"2\" d=\"");
	double px = 0, py = 0;
	int first = 1;
	for (int i = 0; i < n; i++) {
		double x, y;
		if (!on_front[i] ||
		    member_xy(p, search_archive_member(p->a, order[i]), &x, &y) != 0)
			continue;
		double X = axis_pos(ax, x), Y = axis_pos(ay, y);
		if (first)
			out(b, "M%.1f %.1f", X, Y);
		else
			out(b, " H%.1f V%.1f", X, Y);
		first = 0;
		px = X;
		py = Y;
	}
	if (!first && px < PR)
		out(b, " H%d", PR); /* nothing better at any higher cost */
	(void)py;
	out(b, "\"/>\n");
	for (int i = 0; i < n; i++) {
		const search_member *mb = search_archive_member(p->a, order[i]);
		double x, y;
		if (member_xy(p, mb, &x, &y) != 0) {
			c->skipped++;
			continue;
		}
		c->drawn++;
		c->front += on_front[i];
		out(b, "<circle class=\"member%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\">",
		    on_front[i] ? " front" : "", axis_pos(ax, x), axis_pos(ay, y),
		    on_front[i] ? "4.5" : "3.5", on_front[i] ? "#1f6fb4" : "#a8b3bf");
		member_title(b, s, mb);
		out(b, "</circle>\n");
	}
}

/* Each target's answer among the members (as archd and `archc search`
 * answer from the archive) as a diamond, filled when met, hollow on the
 * nearest member when none meets it. */
static void draw_targets(sbuf *b, const plot_in *p, const axis *ax, const axis *ay,
			 plot_counts *c)
{
	const ir_module *m = p->m;
	const ir_space *s = &m->spaces[m->tasks[p->t].space];
	ir_objective def;
	const ir_objective *obj = rt_answer_objective(m, p->t, NULL, &def);
	/* labels of targets answered by the same member are stacked */
	int *at = calloc((size_t)search_archive_size(p->a) + 1, sizeof *at);
	if (!at) {
		fprintf(stderr, "archc plot: out of memory\n");
		abort();
	}
	for (int i = 0; i < m->ntargets; i++) {
		const ir_target *tg = &m->targets[i];
		int nearest, tightest;
		int k = search_archive_answer(p->a, obj, tg->constraints, tg->nconstraints, &nearest,
					      &tightest);
		int met = k >= 0;
		if (!met)
			k = nearest;
		double x, y;
		if (k < 0 || member_xy(p, search_archive_member(p->a, k), &x, &y) != 0) {
			fprintf(stderr, "archc plot: target %s: no member of the archive to mark\n",
				tg->name);
			continue;
		}
		char spec[256];
		target_spec(tg, spec, sizeof spec);
		double X = axis_pos(ax, x), Y = axis_pos(ay, y);
		int stack = at[k]++;
		c->met += met;
		c->unmet += !met;
		out(b, "<path class=\"target%s\" data-target=\"", met ? " met" : " unmet");
		out_text(b, tg->name);
		out(b, "\" d=\"M%.1f %.1f l8 8 l-8 8 l-8 -8 z\" fill=\"%s\" stroke=\"#c0392b\" "
		       "stroke-width=\"2\"><title>",
		    X, Y - 8, met ? "#e74c3c" : "none");
		out_text(b, tg->name);
		out(b, " (");
		out_text(b, spec);
		out(b, "): %s ", met ? "answered by" : "not met; nearest member");
		char genes[SN_GENE_STRLEN];
		sn_subnet_format(s, &search_archive_member(p->a, k)->sub, genes, sizeof genes);
		out(b, "%s</title></path>\n", genes);
		out(b, "<text class=\"target-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
		       "fill=\"#c0392b\">",
		    X + 11, Y - 10 - 14.0 * stack);
		out_text(b, tg->name);
		out(b, "%s</text>\n", met ? "" : " (not met)");
		if (!met)
			fprintf(stderr,
				"archc plot: target %s (%s): no archive member meets it; marked at the "
				"nearest, %s (archc search --target %s searches for one)\n",
				tg->name, spec, genes, tg->name);
	}
	free(at);
}

static void draw_legend(sbuf *b, const plot_counts *c, int nfront)
{
	int x = PR + 20, y = PT + 10;
	out(b, "<g class=\"legend\" font-size=\"12\" fill=\"#333\">\n");
	out(b, "<circle cx=\"%d\" cy=\"%d\" r=\"3.5\" fill=\"#a8b3bf\"/>"
	       "<text x=\"%d\" y=\"%d\">archive member (%d)</text>\n",
	    x + 8, y, x + 22, y + 4, c->drawn);
	y += 22;
	out(b, "<path d=\"M%d %d h8 v-6 h8\" fill=\"none\" stroke=\"#1f6fb4\" stroke-width=\"2\"/>"
	       "<circle cx=\"%d\" cy=\"%d\" r=\"4.5\" fill=\"#1f6fb4\"/>"
	       "<text x=\"%d\" y=\"%d\">Pareto front (%d)</text>\n",
	    x, y + 3, x + 8, y - 3, x + 22, y + 4, nfront);
	y += 22;
	out(b, "<path d=\"M%d %d l6 6 l-6 6 l-6 -6 z\" fill=\"#e74c3c\" stroke=\"#c0392b\" "
	       "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">target's answer (%d)</text>\n",
	    x + 8, y - 6, x + 22, y + 4, c->met);
	y += 22;
	out(b, "<path d=\"M%d %d l6 6 l-6 6 l-6 -6 z\" fill=\"none\" stroke=\"#c0392b\" "
	       "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">target not met:</text>"
	       "<text x=\"%d\" y=\"%d\">nearest member (%d)</text>\n",
	    x + 8, y - 6, x + 22, y + 4, x + 22, y + 19, c->unmet);
	if (c->skipped) {
		y += 44;
		out(b, "<text x=\"%d\" y=\"%d\">%d member%s without</text>"
		       "<text x=\"%d\" y=\"%d\">this metric not shown</text>\n",
		    x, y, c->skipped, c->skipped == 1 ? "" : "s", x, y + 15);
	}
	out(b, "</g>\n");
}

/* The whole SVG into b; counts what it drew. */
static void plot(sbuf *b, const plot_in *p, plot_counts *c)
{
	const ir_task *task = &p->m->tasks[p->t];
	int n = search_archive_size(p->a);
	int *order = malloc((size_t)(n + 1) * sizeof *order);
	char *on_front = calloc((size_t)n + 1, 1);
	if (!order || !on_front) {
		fprintf(stderr, "archc plot: out of memory\n");
		abort();
	}
	for (int i = 0; i < n; i++)
		order[i] = i;
	sort_a = p->a;
	sort_x = p->xm;
	qsort(order, (size_t)n, sizeof *order, by_x);
	/* The two-metric front: by rising cost, each member more accurate
	 * than every cheaper one.  Ranges for the axes on the way. */
	double best = -INFINITY, xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
	int nfront = 0;
	for (int i = 0; i < n; i++) {
		double x, y;
		if (member_xy(p, search_archive_member(p->a, order[i]), &x, &y) != 0)
			continue;
		xlo = fmin(xlo, x);
		xhi = fmax(xhi, x);
		ylo = fmin(ylo, y);
		yhi = fmax(yhi, y);
		if (y > best) {
			best = y;
			on_front[i] = 1;
			nfront++;
		}
	}
	if (!isfinite(xlo)) /* nothing drawable: empty axes */
		xlo = xhi = ylo = yhi = 1;
	axis ax, ay;
	axis_fit(&ax, xlo, xhi, 1, PL, PR);
	axis_fit(&ay, ylo, yhi, 0, PB, PT);
	if (ay.hi > 100 && yhi <= 100)
		ay.hi = 100;

	out(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	out(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	       "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n",
	    W, H, W, H);
	out(b, "<title>Task ");
	out_text(b, task->name);
	out(b, ": holdout accuracy against %s</title>\n", p->xm->name);
	out(b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
	out(b, "<text class=\"title\" x=\"%d\" y=\"30\" font-size=\"17\" font-weight=\"bold\">Task ",
	    PL);
	out_text(b, task->name);
	out(b, ": holdout accuracy against %s</text>\n", p->xm->name);
	out(b, "<text class=\"subtitle\" x=\"%d\" y=\"50\" font-size=\"12\" fill=\"#555\">", PL);
	out_text(b, p->input);
	out(b, " \xe2\x80\x94 %d members of the measured Pareto archive; targets answered from it"
	       "</text>\n",
	    n);
	draw_axes(b, &ax, &ay, p->xm);
	out(b, "<g class=\"data\">\n");
	draw_members(b, p, &ax, &ay, order, n, on_front, c);
	draw_targets(b, p, &ax, &ay, c);
	out(b, "</g>\n");
	draw_legend(b, c, nfront);
	out(b, "</svg>\n");
	free(order);
	free(on_front);
}

/* --- the command ----------------------------------------------------------------- */

static void print_missing(const archc_task_args *a, const char *state, const ir_module *m,
			  const ir_task *task, const char *root, rt_answer_env *e)
{
	if (!rt_answer_trained(e)) {
		fprintf(stderr, "archc plot: task %s has no trained supernet (no %s)\n", task->name,
			rt_answer_checkpoint_path(e));
		fprintf(stderr, "  train it first: archc train %s --task %s%s%s\n", a->input,
			task->name, state ? " --state " : "", state ? state : "");
		return;
	}
	if (rt_answer_stale(e)[0])
		fprintf(stderr, "archc plot: task %s's archive is not used: %s\n", task->name,
			rt_answer_stale(e));
	else
		fprintf(stderr, "archc plot: task %s has no archive in %s (no %s)\n", task->name,
			root, rt_answer_archive_path(e));
	fprintf(stderr, "  build it: archc search %s --task %s%s%s %s\n", a->input, task->name,
		state ? " --state " : "", state ? state : "",
		m->ntargets ? "--target NAME" : "--constraint 'macs<=1G'");
}

static int archc_plot_run(int argc, char **argv)
{
	archc_task_args a = { 0 };
	const char *state = NULL, *output = NULL, *xs = NULL;
	const archc_opt opts[] = {
		{ "--state", ARCHC_OPT_STRING, &state, 0, 0 },
		{ "-o", ARCHC_OPT_STRING, &output, 0, 0 },
		{ "--x", ARCHC_OPT_STRING, &xs, 0, 0 },
	};
	ir_module *m = NULL;
	rt_answer_env *e = NULL;
	sbuf b = { 0 };
	int t;
	int st = archc_task_parse_opts(&archc_cmd_plot, argc, argv, opts,
				       (int)(sizeof opts / sizeof opts[0]), &a);
	if (st)
		goto out;
	const x_metric *xm = &x_metrics[0];
	if (xs) {
		xm = NULL;
		for (size_t i = 0; i < sizeof x_metrics / sizeof x_metrics[0]; i++)
			if (!strcmp(xs, x_metrics[i].opt))
				xm = &x_metrics[i];
		if (!xm) {
			st = archc_usage_error(&archc_cmd_plot,
					       "unknown --x '%s' (macs, latency, params or memory)",
					       xs);
			goto out;
		}
	}
	if (!output) {
		st = archc_usage_error(&archc_cmd_plot, "-o OUT.svg is required");
		goto out;
	}
	if (!(m = archc_task_load(&archc_cmd_plot, &a, &t, &st)) ||
	    (st = archc_task_output_check(&archc_cmd_plot, "-o", output, &a, m, t, state)) != ARCHC_OK)
		goto out;
	char root[RT_STATE_PATH_MAX], err[RT_STATE_PATH_MAX + 256];
	st = ARCHC_EINPUT;
	if (rt_state_root(state, root, sizeof root, err, sizeof err) != 0 ||
	    !(e = rt_answer_open(m, t, root, err, sizeof err))) {
		fprintf(stderr, "archc plot: %s\n", err);
		goto out;
	}
	const ir_task *task = &m->tasks[t];
	const search_archive *arch = rt_answer_archive(e);
	if (!arch) {
		print_missing(&a, state, m, task, root, e);
		goto out;
	}
	plot_in p = { a.input, m, t, arch, xm };
	plot_counts c = { 0 };
	plot(&b, &p, &c);
	if (rt_state_write_file(output, b.s, b.len, 0644, err, sizeof err) != 0) {
		fprintf(stderr, "archc plot: cannot write the plot: %s\n", err);
		goto out;
	}
	printf("%s: task %s, %d members (%d on the accuracy-%s front), %d targets met, %d not\n",
	       output, task->name, c.drawn, c.front, xm->opt, c.met, c.unmet);
	if (c.skipped)
		printf("%s: %d members without a %s not shown\n", output, c.skipped, xm->opt);
	st = fflush(stdout) == 0 ? ARCHC_OK : ARCHC_EINPUT;
out:
	free(b.s);
	rt_answer_free(e);
	ir_module_free(m);
	archc_task_args_free(&a);
	return st;
}

const archc_cmd archc_cmd_plot = {
	"plot",
	"draw a task's Pareto archive as an SVG",
	"usage: archc plot [-I DIR]... FILE.arch [--task T] [--state DIR] -o OUT.svg\n"
	"                  [--x macs|latency|params|memory]\n"
	"\n"
	"Draws the measured Pareto archive `archc search` (or archd) built for task\n"
	"T's trained supernet in the state dir (--state, else $XDG_STATE_HOME/archd\n"
	"or ~/.local/state/archd) as a self-contained SVG in OUT: holdout accuracy\n"
	"against MACs (or --x latency, params, memory; a log scale when the values\n"
	"span a decade or more), one marker per member, the Pareto front of the two\n"
	"as a step line, and each target of FILE marked at its answer from the\n"
	"archive (hollow, at the nearest member, when no member meets it: `archc\n"
	"search --target NAME` then searches).  OUT is replaced atomically.  Prints\n"
	"what it drew; nothing in the state dir changes.\n",
	archc_plot_run,
};
