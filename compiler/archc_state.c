/*
 * archc_state.c — `archc state [--state DIR] [--arch FILE]... [-I DIR]...
 * [--remove KEY]...`: the supernets a state dir holds (runtime/statedir.h),
 * with where each one's training stands, its size on disk and the tasks
 * that name it; and removing those no longer wanted.
 *
 * A supernet's directory is named by its key alone, so the tasks naming
 * it are found from the other side: every task of the files given with
 * --arch and of the specs the state dir stores (ir/<id>.air, archd's
 * uploads) has its supernet key computed and matched.  A key no task
 * names is left behind by an edited recipe, or is a subnet trained alone
 * (`archc train --subnet`, keyed by its genes as well).
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compiler/archc.h"
#include "compiler/archc_opt.h"
#include "compiler/ir.h"
#include "runtime/checkpoint.h"
#include "runtime/statedir.h"

/* A task naming a key: "FILE:TASK" or "spec xxh3:0123abcd:TASK". */
typedef struct naming {
	uint8_t key[16];
	char who[512];
	int epochs; /* its recipe's */
} naming;

typedef struct namings {
	naming *v;
	int n, cap;
} namings;

static int add_module(namings *ns, const ir_module *m, const char *origin)
{
	for (int t = 0; t < m->ntasks; t++) {
		if (ns->n == ns->cap) {
			int cap = ns->cap ? 2 * ns->cap : 16;
			naming *v = realloc(ns->v, (size_t)cap * sizeof *v);
			if (v == NULL)
				return -1;
			ns->v = v;
			ns->cap = cap;
		}
		naming *x = &ns->v[ns->n++];
		memcpy(x->key, m->tasks[t].supernet_key, 16);
		snprintf(x->who, sizeof x->who, "%s:%s", origin, m->tasks[t].name);
		x->epochs = m->tasks[t].recipe.epochs;
	}
	return 0;
}

/* The tasks of the specs stored in ROOT/ir (quietly skipping a file that
 * does not load: archd refuses it with its reason when asked). */
static int add_stored(namings *ns, const char *root)
{
	char dir[RT_STATE_PATH_MAX];
	if (snprintf(dir, sizeof dir, "%s/ir", root) >= (int)sizeof dir)
		return 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len != 36 || strcmp(e->d_name + 32, ".air") != 0)
			continue;
		char path[RT_STATE_PATH_MAX], origin[32], err[256];
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
			continue;
		ir_module *m = ir_binary_load(path, err, sizeof err);
		if (m == NULL)
			continue;
		snprintf(origin, sizeof origin, "spec xxh3:%.8s", e->d_name);
		rc = add_module(ns, m, origin);
		ir_module_free(m);
	}
	closedir(d);
	return rc;
}

/* A key as listed (32 lowercase hex digits) into key: 0, or -1. */
static int parse_key(const char *hex, uint8_t key[16])
{
	char id[IR_ID_STRLEN + 1];
	if (strlen(hex) != 32)
		return -1;
	snprintf(id, sizeof id, "xxh3:%s", hex);
	return ir_id_parse(id, key);
}

static unsigned long long du_total;

static int du_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path;
	(void)f;
	if (flag == FTW_F)
		du_total += (unsigned long long)st->st_size;
	return 0;
}

/* Bytes of the regular files below dir (symbolic links not followed). */
static unsigned long long du(const char *dir)
{
	du_total = 0;
	nftw(dir, du_one, 16, FTW_PHYS);
	return du_total;
}

static void human(unsigned long long b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)b;
	int u = 0;
	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* Where the training of supernet key stands, into buf; *mtime its
 * checkpoint's. */
static void standing(const char *root, const uint8_t key[16], const namings *ns, char *buf,
		     size_t len, time_t *mtime)
{
	char path[RT_STATE_PATH_MAX], err[RT_STATE_PATH_MAX + 128];
	uint8_t have[16];
	rt_ckpt_state pos;
	struct stat st;
	*mtime = 0;
	int rc = rt_state_checkpoint_path(root, key, path, sizeof path) != 0
			 ? RT_CKPT_MISSING
			 : rt_ckpt_peek(path, have, &pos, err, sizeof err);
	if (rc == RT_CKPT_MISSING) {
		snprintf(buf, len, "no checkpoint");
		return;
	}
	if (rc != 0) {
		snprintf(buf, len, "unreadable checkpoint");
		fprintf(stderr, "archc state: %s\n", err);
		return;
	}
	if (stat(path, &st) == 0)
		*mtime = st.st_mtime;
	if (memcmp(have, key, 16) != 0) {
		snprintf(buf, len, "checkpoint of another key");
		return;
	}
	int epochs = -1;
	for (int i = 0; i < ns->n; i++)
		if (memcmp(ns->v[i].key, key, 16) == 0)
			epochs = ns->v[i].epochs;
	if (epochs > 0 && pos.epoch >= epochs)
		snprintf(buf, len, "trained, %d epochs", pos.epoch);
	else if (epochs > 0 && pos.step > 0)
		snprintf(buf, len, "in epoch %d of %d", pos.epoch + 1, epochs);
	else if (epochs > 0)
		snprintf(buf, len, "%d of %d epochs", pos.epoch, epochs);
	else
		snprintf(buf, len, "%d epoch%s%s", pos.epoch, pos.epoch == 1 ? "" : "s",
			 pos.step > 0 ? " and a part" : "");
}

static int list(const char *root, const namings *ns)
{
	char dir[RT_STATE_PATH_MAX];
	snprintf(dir, sizeof dir, "%s/supernets", root);
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "archc state: %s: %s\n", dir, strerror(errno));
			return ARCHC_EINPUT;
		}
		n = 0;
	}
	int shown = 0, unnamed = 0;
	unsigned long long total = 0, unnamed_bytes = 0;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char sub[RT_STATE_PATH_MAX], stand[64], size[32], when[32] = "-";
		uint8_t key[16];
		if (parse_key(name, key) != 0 ||
		    snprintf(sub, sizeof sub, "%s/%s", dir, name) >= (int)sizeof sub)
			continue;
		time_t mtime;
		standing(root, key, ns, stand, sizeof stand, &mtime);
		unsigned long long bytes = du(sub);
		human(bytes, size, sizeof size);
		if (mtime)
			strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime(&mtime));
		if (shown++ == 0)
			printf("%-32s  %-22s  %9s  %-16s  %s\n", "supernet", "training", "size",
			       "checkpoint", "named by");
		printf("%-32s  %-22s  %9s  %-16s  ", name, stand, size, when);
		int named = 0;
		for (int k = 0; k < ns->n; k++)
			if (memcmp(ns->v[k].key, key, 16) == 0)
				printf("%s%s", named++ ? ", " : "", ns->v[k].who);
		printf("%s\n", named ? "" : "-");
		total += bytes;
		if (!named) {
			unnamed++;
			unnamed_bytes += bytes;
		}
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	char t[32], u[32];
	human(total, t, sizeof t);
	human(unnamed_bytes, u, sizeof u);
	printf("%d supernet%s in %s, %s; %d named by no task given or stored (%s)\n", shown,
	       shown == 1 ? "" : "s", dir, t, unnamed, u);
	return ARCHC_OK;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
	if (rc != 0)
		fprintf(stderr, "archc state: %s: not removed: %s\n", path, strerror(errno));
	return 0; /* the rest still goes */
}

/* Removes supernets/KEY, unless a training holds its lock. */
static int remove_key(const char *root, const char *hex)
{
	char dir[RT_STATE_PATH_MAX], lock[RT_STATE_PATH_MAX], err[RT_STATE_PATH_MAX + 128];
	uint8_t key[16];
	struct stat st;
	if (parse_key(hex, key) != 0)
		return ARCHC_EUSAGE; /* checked by the caller */
	if (rt_state_supernet_dir(root, key, dir, sizeof dir) != 0 ||
	    snprintf(lock, sizeof lock, "%s/checkpoint.lock", dir) >= (int)sizeof lock) {
		fprintf(stderr, "archc state: state dir %s: path too long\n", root);
		return ARCHC_EINPUT;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "archc state: no supernet %s in %s\n", hex, root);
		return ARCHC_EINPUT;
	}
	/* held through the removal: a training starting meanwhile waits for
	 * nothing, it fails on the lock (or finds the directory gone) */
	int fd = rt_state_lock(lock, err, sizeof err);
	if (fd < 0) {
		fprintf(stderr, "archc state: supernet %s not removed: %s\n", hex, err);
		return ARCHC_EINPUT;
	}
	unsigned long long bytes = du(dir);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	rt_state_unlock(fd);
	if (lstat(dir, &st) == 0) {
		fprintf(stderr, "archc state: supernet %s only partly removed (%s)\n", hex, dir);
		return ARCHC_EINPUT;
	}
	char size[32];
	human(bytes, size, sizeof size);
	printf("removed supernet %s (%s)\n", hex, size);
	return ARCHC_OK;
}

static int archc_state_run(int argc, char **argv)
{
	const char *state = NULL;
	archc_opt_list arch = { 0 }, incl = { 0 }, rm = { 0 };
	const archc_opt opts[] = {
		{ "--state", ARCHC_OPT_STRING, &state, 0, 0 },
		{ "--arch", ARCHC_OPT_LIST, &arch, 0, 0 },
		{ "-I", ARCHC_OPT_LIST, &incl, 0, 0 },
		{ "--remove", ARCHC_OPT_LIST, &rm, 0, 0 },
	};
	const int nopts = (int)(sizeof opts / sizeof *opts);
	namings ns = { 0 };
	int st = archc_opt_parse(&archc_cmd_state, argc, argv, opts, nopts);
	if (st)
		goto out;
	uint8_t key[16];
	for (int i = 0; i < rm.n; i++)
		if (parse_key(rm.v[i], key) != 0) {
			st = archc_usage_error(&archc_cmd_state,
					       "--remove '%s' is not a supernet key (32 lowercase hex "
					       "digits, as listed)",
					       rm.v[i]);
			goto out;
		}
	if (rm.n && arch.n) {
		st = archc_usage_error(&archc_cmd_state, "--remove and --arch do not go together");
		goto out;
	}
	char root[RT_STATE_ROOT_MAX], err[512];
	if (rt_state_root(state, root, sizeof root, err, sizeof err) != 0) {
		fprintf(stderr, "archc state: %s\n", err);
		st = ARCHC_EINPUT;
		goto out;
	}
	for (int i = 0; i < rm.n; i++) {
		int r = remove_key(root, rm.v[i]);
		st = st ? st : r;
	}
	if (rm.n)
		goto out;
	for (int i = 0; i < arch.n; i++) {
		ir_module *m = archc_load(arch.v[i], incl.v, incl.n);
		if (m == NULL) {
			st = ARCHC_EINPUT;
			goto out;
		}
		int rc = add_module(&ns, m, arch.v[i]);
		ir_module_free(m);
		if (rc != 0)
			goto oom;
	}
	if (add_stored(&ns, root) != 0)
		goto oom;
	st = list(root, &ns);
	goto out;
oom:
	fprintf(stderr, "archc state: out of memory\n");
	st = ARCHC_EINPUT;
out:
	free(ns.v);
	archc_opt_free(opts, nopts);
	return st;
}

const archc_cmd archc_cmd_state = {
	"state",
	"list the supernets a state dir holds, or remove some",
	"usage: archc state [--state DIR] [--arch FILE]... [-I DIR]...\n"
	"       archc state [--state DIR] --remove KEY...\n"
	"\n"
	"Lists every supernet in the state dir (--state, else /var/lib/archd as\n"
	"root, $XDG_STATE_HOME/archd or ~/.local/state/archd): its key, where its\n"
	"training stands (read from the checkpoint's header), the bytes its\n"
	"directory holds (checkpoint, archives, archd's records) and the tasks\n"
	"naming it: those of each --arch FILE (.arch or .air; -I DIR as for\n"
	"compile) and of the specs stored in the state dir (archd's uploads).  A\n"
	"supernet no task names was left behind by an edited recipe or data set,\n"
	"or is a subnet trained alone (archc train --subnet, keyed by its genes\n"
	"as well).  The last line sums them up.\n"
	"\n"
	"--remove KEY removes supernet KEY's directory and everything in it,\n"
	"refusing one a training holds (its checkpoint.lock).  An archd holding\n"
	"answers of it drops them (it watches the checkpoint).\n",
	archc_state_run,
};
