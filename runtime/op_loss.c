/*
 * op_loss.c — softmax, cross-entropy with label smoothing, and KL
 * divergence to soft targets (see ops.h).  Rows are few (a batch), so these
 * run on the calling thread; sums are in double.
 */
#include "runtime/ops.h"

#include <assert.h>
#include <math.h>

/* log(sum(exp(z))) of one row, stable. */
static double row_logsumexp(int k, const float *z)
{
	float mx = z[0];
	for (int j = 1; j < k; j++)
		if (z[j] > mx)
			mx = z[j];
	double s = 0.0;
	for (int j = 0; j < k; j++)
		s += exp((double)z[j] - mx);
	return mx + log(s);
}

double rt_xent_forward_backward(int n, int k, int ld, const float *logits,
				const int *labels, float smoothing,
				float *dlogits, int *correct)
{
	assert(n > 0 && k > 0 && ld >= k && smoothing >= 0.0f && smoothing < 1.0f);
	double total = 0.0;
	int right = 0;
	double off = (double)smoothing / k;
	double on = 1.0 - smoothing + off;
	for (int i = 0; i < n; i++) {
		const float *z = logits + (size_t)i * ld;
		int y = labels[i];
		assert(y >= 0 && y < k);
		double lse = row_logsumexp(k, z);
		double zsum = 0.0;
		int arg = 0;
		for (int j = 0; j < k; j++) {
			zsum += z[j];
			if (z[j] > z[arg])
				arg = j;
		}
		right += arg == y;
		/* -sum t log p = lse - sum t z, t = off + (on - off) onehot */
		total += lse - off * zsum - (on - off) * z[y];
		if (dlogits != NULL) {
			float *d = dlogits + (size_t)i * ld;
			for (int j = 0; j < k; j++) {
				double t = j == y ? on : off;
				d[j] = (float)((exp((double)z[j] - lse) - t) / n);
			}
		}
	}
	if (correct != NULL)
		*correct = right;
	return total / n;
}

double rt_kl_forward_backward(int n, int k, int ld, const float *logits,
			      const float *q, float *dlogits)
{
	assert(n > 0 && k > 0 && ld >= k);
	double total = 0.0;
	for (int i = 0; i < n; i++) {
		const float *z = logits + (size_t)i * ld;
		const float *qr = q + (size_t)i * ld;
		double lse = row_logsumexp(k, z);
		double qsum = 0.0;
		for (int j = 0; j < k; j++) {
			double qj = qr[j];
			assert(qj >= 0.0);
			qsum += qj;
			if (qj > 0.0)
				total += qj * (log(qj) - ((double)z[j] - lse));
		}
		if (dlogits != NULL) {
			float *d = dlogits + (size_t)i * ld;
			/* d/dz of -sum q log softmax(z) = p sum(q) - q */
			for (int j = 0; j < k; j++)
				d[j] = (float)((exp((double)z[j] - lse) * qsum - qr[j]) / n);
		}
	}
	return total / n;
}

void rt_softmax_forward(int n, int k, int ld, const float *logits, float *probs)
{
	assert(n > 0 && k > 0 && ld >= k);
	for (int i = 0; i < n; i++) {
		const float *z = logits + (size_t)i * ld;
		float *pr = probs + (size_t)i * ld;
		double lse = row_logsumexp(k, z);
		for (int j = 0; j < k; j++)
			pr[j] = (float)exp((double)z[j] - lse);
	}
}
