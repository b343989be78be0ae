/*
 * cc_util.c — allocation and path helpers for the compiler.  The compiler
 * may abort on out-of-memory (STYLE.md rule 5); the daemon runs it on
 * worker threads where a failed malloc is as fatal as anywhere else.
 */
#include "compiler/cc_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cc_oom(void)
{
	fputs("archc: out of memory\n", stderr);
	abort();
}

void *cc_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		cc_oom();
	return p;
}

void *cc_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		cc_oom();
	return p;
}

void *cc_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		cc_oom();
	return q;
}

char *cc_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *r = cc_xmalloc(n);
	memcpy(r, s, n);
	return r;
}

char *cc_path_join(const char *dir, const char *rel)
{
	if (rel[0] == '/' || !dir || !dir[0])
		return cc_xstrdup(rel);
	size_t a = strlen(dir), b = strlen(rel);
	while (a > 1 && dir[a - 1] == '/')
		a--;
	/* "./x" and "x" name the same file: keep stored paths canonical. */
	while (rel[0] == '.' && rel[1] == '/') {
		rel += 2;
		b -= 2;
		while (rel[0] == '/') {
			rel++;
			b--;
		}
	}
	char *r = cc_xmalloc(a + b + 2);
	memcpy(r, dir, a);
	size_t k = a;
	if (!(a == 1 && dir[0] == '/'))
		r[k++] = '/';
	memcpy(r + k, rel, b + 1);
	return r;
}
