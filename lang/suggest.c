/*
 * suggest.c — "did you mean ...?" by edit distance.
 */
#include "lang/lang.h"

#include <stdlib.h>
#include <string.h>

#include "lang/parse.h"

/*
 * Optimal string alignment distance (Damerau-Levenshtein where a swapped
 * pair counts once): typos are mostly one wrong, missing, extra or swapped
 * letter.  Three rolling rows keep it O(len(b)) in memory.
 */
int lang_edit_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	int small[3][33];
	int *buf = m < 33 ? NULL : lang_xmalloc(3 * (m + 1) * sizeof *buf);
	int *pp = buf ? buf : small[0];
	int *prev = buf ? buf + (m + 1) : small[1];
	int *cur = buf ? buf + 2 * (m + 1) : small[2];
	for (size_t j = 0; j <= m; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= n; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= m; j++) {
			int cost = a[i - 1] != b[j - 1];
			int d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (prev[j - 1] + cost < d)
				d = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			cur[j] = d;
		}
		int *t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	int d = prev[m];
	free(buf);
	return d;
}

const char *lang_suggest(const char *word, const char *const *candidates, int n)
{
	int limit = (int)(strlen(word) / 3);
	if (limit < 1)
		limit = 1;
	const char *best = NULL;
	int best_d = limit + 1;
	for (int i = 0; i < n; i++) {
		if (!candidates[i])
			continue;
		int d = lang_edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best;
}
