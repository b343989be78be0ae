/* progress.c — the training progress line (progress.h). */
#include "runtime/progress.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 20

int rt_progress_format_eta(double seconds, char *buf, size_t buflen)
{
	if (!(seconds >= 0) || !isfinite(seconds) || seconds > 3.6e9)
		return snprintf(buf, buflen, "-:--:--");
	long t = (long)(seconds + 0.5);
	return snprintf(buf, buflen, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

int rt_progress_format_rate(double per_second, char *buf, size_t buflen)
{
	if (!(per_second >= 0) || !isfinite(per_second))
		return snprintf(buf, buflen, "- img/s");
	if (per_second < 999.5)
		return snprintf(buf, buflen, "%.0f img/s", per_second);
	if (per_second < 999.5e3)
		return snprintf(buf, buflen, "%.1fk img/s", per_second / 1e3);
	return snprintf(buf, buflen, "%.2fM img/s", per_second / 1e6);
}

/* Appends to buf at *used, keeping it NUL-terminated when it runs out. */
static void add(char *buf, size_t buflen, size_t *used, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = *used < buflen ? vsnprintf(buf + *used, buflen - *used, fmt, ap) : 0;
	va_end(ap);
	if (n > 0)
		*used += (size_t)n;
}

int rt_progress_format_bar(const rt_progress_stats *s, char *buf, size_t buflen)
{
	char bar[BAR_WIDTH + 1], rate[32], eta[32];
	long fill = s->steps > 0 ? s->step * BAR_WIDTH / s->steps : 0;
	if (fill > BAR_WIDTH)
		fill = BAR_WIDTH;
	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[BAR_WIDTH] = 0;
	rt_progress_format_rate(s->rate, rate, sizeof rate);
	rt_progress_format_eta(s->eta, eta, sizeof eta);
	size_t used = 0;
	if (buflen)
		buf[0] = 0;
	add(buf, buflen, &used, "%s epoch %d/%d [%s] %ld/%ld", s->phase, s->epoch, s->epochs,
	    bar, s->step, s->steps);
	if (s->loss >= 0)
		add(buf, buflen, &used, " loss %.4f", s->loss);
	if (s->acc >= 0)
		add(buf, buflen, &used, " acc %.1f%%", 100 * s->acc);
	if (s->lr >= 0)
		add(buf, buflen, &used, " lr %.4g", s->lr);
	add(buf, buflen, &used, " %s ETA %s", rate, eta);
	return (int)used;
}

int rt_progress_format_epoch(const rt_progress_stats *s, char *buf, size_t buflen)
{
	char eta[32];
	rt_progress_format_eta(s->eta, eta, sizeof eta);
	size_t used = 0;
	if (buflen)
		buf[0] = 0;
	add(buf, buflen, &used, "%s epoch %d/%d:", s->phase, s->epoch, s->epochs);
	const char *sep = " ";
	if (s->loss >= 0) {
		add(buf, buflen, &used, "%sloss %.4f", sep, s->loss);
		sep = ", ";
	}
	if (s->acc >= 0) {
		add(buf, buflen, &used, "%sacc %.2f%%", sep, 100 * s->acc);
		sep = ", ";
	}
	if (s->lr >= 0) {
		add(buf, buflen, &used, "%slr %.4g", sep, s->lr);
		sep = ", ";
	}
	if (s->rate >= 0 && isfinite(s->rate)) {
		add(buf, buflen, &used, "%s%.0f img/s", sep, s->rate);
		sep = ", ";
	}
	add(buf, buflen, &used, "%s%.1f s", sep, s->seconds);
	if (s->eval && s->eval_acc >= 0)
		add(buf, buflen, &used, ", %s %.2f%%", s->eval, 100 * s->eval_acc);
	add(buf, buflen, &used, ", ETA %s", eta);
	return (int)used;
}

double rt_progress_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void rt_progress_init(rt_progress *p, FILE *out, int tty, int epochs, long steps)
{
	memset(p, 0, sizeof *p);
	p->out = out;
	p->tty = tty >= 0 ? tty : isatty(fileno(out));
	p->interval = 0.1;
	p->epochs = epochs;
	p->steps = steps;
	p->phase = "train";
	p->run_start = -1;
	p->lr = -1;
}

void rt_progress_begin_epoch(rt_progress *p, const char *phase, int epoch, double now)
{
	if (phase)
		p->phase = phase;
	p->epoch = epoch;
	p->step = 0;
	p->loss_sum = 0;
	p->correct = 0;
	p->seen = 0;
	p->epoch_start = now;
	/* The ETA uses this process's pace: a resumed run times only the
	 * steps it takes itself. */
	if (p->run_start < 0)
		p->run_start = now;
	p->last_draw = -1e300;
}

void rt_progress_stats_get(const rt_progress *p, double now, rt_progress_stats *s)
{
	memset(s, 0, sizeof *s);
	s->phase = p->phase;
	s->epoch = p->epoch + 1;
	s->epochs = p->epochs;
	s->step = p->step;
	s->steps = p->steps;
	s->loss = p->seen ? p->loss_sum / (double)p->seen : -1;
	s->acc = p->seen ? (double)p->correct / (double)p->seen : -1;
	s->lr = p->lr;
	s->seconds = now - p->epoch_start;
	s->rate = s->seconds > 0 && p->seen ? (double)p->seen / s->seconds : -1;
	s->eval = NULL;
	s->eval_acc = -1;
	/* The run's pace so far, applied to the steps left. */
	long left = (long)(p->epochs - p->epoch - 1) * p->steps + (p->steps - p->step);
	double spent = now - p->run_start;
	s->eta = p->done > 0 && spent > 0 ? spent / (double)p->done * (double)left : -1;
	if (left <= 0)
		s->eta = 0;
}

static void draw(rt_progress *p, double now)
{
	rt_progress_stats s;
	rt_progress_stats_get(p, now, &s);
	char line[256];
	rt_progress_format_bar(&s, line, sizeof line);
	/* Back to column 0, the line, then clear what a longer one left. */
	fprintf(p->out, "\r%s\033[K", line);
	fflush(p->out);
	p->shown = 1;
	p->last_draw = now;
}

void rt_progress_step(rt_progress *p, int images, double loss, int correct, double lr,
		      double now)
{
	p->step++;
	p->done++;
	p->seen += images;
	p->loss_sum += loss * images;
	p->correct += correct;
	p->lr = lr;
	if (p->tty && (now - p->last_draw >= p->interval || p->step >= p->steps))
		draw(p, now);
}

void rt_progress_end_epoch(rt_progress *p, const char *eval, double eval_acc, double now)
{
	rt_progress_stats s;
	rt_progress_stats_get(p, now, &s);
	s.eval = eval;
	s.eval_acc = eval ? eval_acc : -1;
	if (p->tty) {
		if (!p->shown || p->last_draw != now)
			draw(p, now);
		/* The bar stays; the evaluation goes at its end. */
		if (eval)
			fprintf(p->out, " %s %.2f%%", eval, 100 * eval_acc);
		fputc('\n', p->out);
	} else {
		char line[256];
		rt_progress_format_epoch(&s, line, sizeof line);
		fprintf(p->out, "%s\n", line);
	}
	fflush(p->out);
	p->shown = 0;
}
