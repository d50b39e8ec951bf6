/*
 * sched_dag.c - job specs from TITAN_PROTO bodies: v1's DAG line grammar
 * (TITAN_PROTO.md 6.2, parsed from both ends), the EXEC form of 0x78,
 * and the checks that reject a whole DAG (duplicates, parents, cycles).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/proto.h"
#include "util/util.h"
#include "workers/sched.h"

/* how much of a bad field an error message quotes */
#define TN_MINI(n) ((n) > 60 ? 60 : (n))

void sched_strv_free(struct sched_strv *v)
{
	int i;

	for (i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

int sched_strv_push(struct sched_strv *v, const char *p, size_t n)
{
	char **nv = realloc(v->v, sizeof(char *) * (size_t)(v->n + 2));
	char *s;

	if (!nv)
		return -ENOMEM;
	v->v = nv;
	s = strndup(p, n);
	if (!s)
		return -ENOMEM;
	v->v[v->n++] = s;
	v->v[v->n] = NULL;
	return 0;
}

int sched_strv_split(const char *p, size_t n, char sep, struct sched_strv *v)
{
	size_t i, start = 0;

	for (i = 0; i <= n; i++) {
		if (i == n || p[i] == sep) {
			if (sched_strv_push(v, p + start, i - start) < 0)
				return -ENOMEM;
			start = i + 1;
		}
	}
	return 0;
}

char *sched_strv_b64(const struct sched_strv *v)
{
	size_t total = 0, off = 0;
	char *raw, *out;
	int i;

	for (i = 0; i < v->n; i++)
		total += strlen(v->v[i]) + (i ? 1 : 0);
	raw = malloc(total + 1);
	if (!raw)
		return NULL;
	for (i = 0; i < v->n; i++) {
		size_t l = strlen(v->v[i]);

		if (i)
			raw[off++] = '\0';
		memcpy(raw + off, v->v[i], l);
		off += l;
	}
	out = malloc(tn_b64_encoded_len(total) + 1);
	if (out)
		tn_b64_encode(raw, total, out);
	free(raw);
	return out;
}

int sched_strv_from_b64(const char *p, size_t n, struct sched_strv *v)
{
	char *raw;
	ssize_t len;
	int r = 0;

	v->v = NULL;
	v->n = 0;
	if (n == 0)
		return 0;
	raw = malloc(n + 1);
	if (!raw)
		return -ENOMEM;
	len = tn_b64_decode(p, n, raw);
	if (len < 0) {
		free(raw);
		return -EINVAL;
	}
	r = sched_strv_split(raw, (size_t)len, '\0', v);
	free(raw);
	return r;
}

void sched_spec_free(struct sched_spec *s)
{
	free(s->id);
	free(s->name);
	free(s->cap);
	free(s->payload);
	free(s->cwd);
	sched_strv_free(&s->parents);
	sched_strv_free(&s->pnames);
	sched_strv_free(&s->argv);
	sched_strv_free(&s->env);
	memset(s, 0, sizeof(*s));
}

void sched_dag_free(struct sched_dagspec *d)
{
	int i;

	for (i = 0; i < d->n; i++)
		sched_spec_free(&d->jobs[i]);
	free(d->jobs);
	memset(d, 0, sizeof(*d));
}

static void trim(const char **p, size_t *n)
{
	while (*n && (unsigned char)**p <= ' ') {
		(*p)++;
		(*n)--;
	}
	while (*n && (unsigned char)(*p)[*n - 1] <= ' ')
		(*n)--;
}

/* Java's Long.parseLong after trim: optional sign, digits only. */
static bool parse_ll(const char *p, size_t n, long long *out)
{
	char buf[32], *end;

	trim(&p, &n);
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (!(buf[0] == '-' || buf[0] == '+' || (buf[0] >= '0' && buf[0] <= '9')))
		return false;
	errno = 0;
	*out = strtoll(buf, &end, 10);
	return errno == 0 && *end == '\0' && end != buf + (buf[0] == '-' ||
							     buf[0] == '+');
}

static char *full_id(const char *p, size_t n)
{
	char *s;

	if (n >= 4 && memcmp(p, "DAG-", 4) == 0)
		return strndup(p, n);
	s = malloc(n + 5);
	if (s) {
		memcpy(s, "DAG-", 4);
		memcpy(s + 4, p, n);
		s[n + 4] = '\0';
	}
	return s;
}

static bool has_prefix(const char *p, size_t n, const char *pre)
{
	size_t l = strlen(pre);

	return n >= l && memcmp(p, pre, l) == 0;
}

/* `EXEC|b64(argv)|retries|timeout_ms|b64(env)|b64(cwd)` */
static int parse_exec(struct sched_spec *s, const char *p, size_t n,
		      char *err, size_t errlen)
{
	const char *f[6];
	size_t fl[6];
	int nf = 0;
	size_t i, start = 0;
	long long v;
	struct sched_strv cwd = {0};

	for (i = 0; i <= n && nf < 6; i++) {
		if (i == n || (p[i] == '|' && nf < 5)) {
			f[nf] = p + start;
			fl[nf] = i - start;
			nf++;
			start = i + 1;
		}
	}
	if (nf != 6) {
		snprintf(err, errlen, "EXEC needs argv, retries, timeout_ms, "
				      "env and cwd fields");
		return -EINVAL;
	}
	if (sched_strv_from_b64(f[1], fl[1], &s->argv) < 0 || s->argv.n == 0 ||
	    s->argv.v[0][0] == '\0') {
		snprintf(err, errlen, "bad argv (Base64 of NUL-separated "
				      "arguments, not empty)");
		return -EINVAL;
	}
	if (!parse_ll(f[2], fl[2], &v) || v < 0 || v > 1000) {
		snprintf(err, errlen, "bad retries '%.*s'", (int)TN_MINI(fl[2]),
			 f[2]);
		return -EINVAL;
	}
	s->retries = (int)v;
	if (!parse_ll(f[3], fl[3], &v) || v < 0) {
		snprintf(err, errlen, "bad timeout_ms '%.*s'",
			 (int)TN_MINI(fl[3]), f[3]);
		return -EINVAL;
	}
	s->timeout_ms = v;
	if (sched_strv_from_b64(f[4], fl[4], &s->env) < 0) {
		snprintf(err, errlen, "bad env Base64");
		return -EINVAL;
	}
	for (i = 0; i < (size_t)s->env.n; i++) {
		if (!strchr(s->env.v[i], '=')) {
			snprintf(err, errlen, "env item '%.40s' is not K=V",
				 s->env.v[i]);
			return -EINVAL;
		}
	}
	if (sched_strv_from_b64(f[5], fl[5], &cwd) < 0 || cwd.n > 1) {
		sched_strv_free(&cwd);
		snprintf(err, errlen, "bad cwd Base64");
		return -EINVAL;
	}
	if (cwd.n == 1 && cwd.v[0][0]) {
		s->cwd = cwd.v[0];
		cwd.v[0] = NULL;
		cwd.n = 0;
	}
	sched_strv_free(&cwd);
	s->kind = SCHED_K_EXEC;
	return 0;
}

/* One line, TITAN_PROTO.md 6.2 steps 1-8. */
static int parse_line(struct sched_spec *s, const char *p, size_t n,
		      char *err, size_t errlen)
{
	const char *br, *q, *idp, *skill, *pay;
	size_t i, bl, idl, skl, payl;
	long long delay, prio;
	struct sched_strv raw = {0};
	char sub[200];

	memset(s, 0, sizeof(*s));
	s->retries = SCHED_DEFAULT_RETRIES;
	if (has_prefix(p + (n >= 9 ? n - 9 : 0), n >= 9 ? 9 : 0,
		       "|AFFINITY")) {
		s->affinity = true;
		n -= 9;
	} else if (n >= 7 && memcmp(p + n - 7, "|STICKY", 7) == 0) {
		s->affinity = true;
		n -= 7;
	}
	br = NULL;
	for (i = n; i > 0; i--) {
		if (p[i - 1] == '[') {
			br = p + i - 1;
			break;
		}
	}
	if (!br) {
		snprintf(err, errlen, "cannot parse: no [parents] field");
		return -EINVAL;
	}
	bl = (size_t)(p + n - br);
	{
		char *tmp = malloc(bl + 1);
		size_t k = 0;

		if (!tmp)
			return -ENOMEM;
		for (i = 0; i < bl; i++)
			if (br[i] != '[' && br[i] != ']')
				tmp[k++] = br[i];
		sched_strv_split(tmp, k, ',', &raw);
		free(tmp);
	}
	for (i = 0; i < (size_t)raw.n; i++) {
		const char *r = raw.v[i];
		size_t rl = strlen(r);
		char *fid;

		trim(&r, &rl);
		if (rl == 0)
			continue;
		fid = full_id(r, rl);
		if (!fid || sched_strv_push(&s->pnames, r, rl) < 0) {
			free(fid);
			sched_strv_free(&raw);
			return -ENOMEM;
		}
		sched_strv_push(&s->parents, fid, strlen(fid));
		free(fid);
	}
	sched_strv_free(&raw);
	n = (size_t)(br - p);
	if (n && p[n - 1] == '|')
		n--;
	/* delay, then priority, from the right */
	q = memrchr(p, '|', n);
	if (!q || !parse_ll(q + 1, (size_t)(p + n - q - 1), &delay) ||
	    delay < 0) {
		snprintf(err, errlen, "cannot parse: bad delay field");
		return -EINVAL;
	}
	n = (size_t)(q - p);
	q = memrchr(p, '|', n);
	if (!q || !parse_ll(q + 1, (size_t)(p + n - q - 1), &prio) ||
	    prio < -2147483648LL || prio > 2147483647LL) {
		snprintf(err, errlen, "cannot parse: bad priority field");
		return -EINVAL;
	}
	n = (size_t)(q - p);
	s->delay_ms = delay;
	s->prio = (int)prio;
	/* ID | SKILL | PAYLOAD... */
	q = memchr(p, '|', n);
	if (!q) {
		snprintf(err, errlen, "cannot parse: need ID|SKILL|PAYLOAD");
		return -EINVAL;
	}
	idp = p;
	idl = (size_t)(q - p);
	trim(&idp, &idl);
	skill = q + 1;
	q = memchr(skill, '|', (size_t)(p + n - skill));
	if (q) {
		skl = (size_t)(q - skill);
		pay = q + 1;
		payl = (size_t)(p + n - pay);
	} else {
		skl = (size_t)(p + n - skill);
		pay = p + n;
		payl = 0;
	}
	trim(&skill, &skl);
	trim(&pay, &payl);
	if (idl == 0 || idl > SCHED_ID_MAX) {
		snprintf(err, errlen, "cannot parse: empty or too long job id");
		return -EINVAL;
	}
	for (i = 0; i < idl; i++) {
		if (idp[i] == ',' || idp[i] == '[' || idp[i] == ']') {
			snprintf(err, errlen, "cannot parse: job id '%.*s' "
					      "holds ',' or brackets",
				 (int)TN_MINI(idl), idp);
			return -EINVAL;
		}
	}
	s->id = full_id(idp, idl);
	s->name = strndup(idp, idl);
	if (!s->id || !s->name)
		return -ENOMEM;
	if (has_prefix(pay, payl, "EXEC|") || (payl == 4 &&
					       memcmp(pay, "EXEC", 4) == 0)) {
		if (skl == 0) {
			snprintf(err, errlen, "job %s: empty capability",
				 s->name);
			return -EINVAL;
		}
		s->cap = strndup(skill, skl);
		if (parse_exec(s, pay, payl, sub, sizeof(sub)) < 0) {
			snprintf(err, errlen, "job %s: %s", s->name, sub);
			return -EINVAL;
		}
		return 0;
	}
	s->kind = SCHED_K_V1;
	s->payload = malloc(skl + payl + strlen(s->id) + 3);
	if (!s->payload)
		return -ENOMEM;
	sprintf(s->payload, "%.*s|%.*s|%s", (int)skl, skill, (int)payl, pay,
		s->id);
	s->cap = sched_v1_requirement(s->payload, s->id);
	return s->cap ? 0 : -ENOMEM;
}

int sched_dag_parse(const char *body, size_t len, struct sched_dagspec *d,
		    char *err, size_t errlen)
{
	size_t start = 0, i;
	int line = 0, r;
	char sub[256];

	memset(d, 0, sizeof(*d));
	for (i = 0; i <= len; i++) {
		const char *p;
		size_t n;

		if (i < len && body[i] != ';')
			continue;
		p = body + start;
		n = i - start;
		start = i + 1;
		trim(&p, &n);
		if (n == 0)
			continue;
		line++;
		if (d->n == d->cap) {
			int nc = d->cap ? d->cap * 2 : 16;
			struct sched_spec *nj =
				realloc(d->jobs, sizeof(*nj) * (size_t)nc);

			if (!nj)
				return -ENOMEM;
			d->jobs = nj;
			d->cap = nc;
		}
		r = parse_line(&d->jobs[d->n], p, n, sub, sizeof(sub));
		d->n++;
		if (r < 0) {
			if (r == -ENOMEM)
				snprintf(err, errlen, "out of memory");
			else
				snprintf(err, errlen, "line %d: %s", line,
					 sub);
			return r;
		}
	}
	if (d->n == 0) {
		snprintf(err, errlen, "no jobs in the DAG");
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Validation                                                           */
/* ------------------------------------------------------------------ */

/* A small open-addressing index of the body's ids. */
struct idx {
	const char **key;
	int *val;
	size_t mask;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int idx_init(struct idx *x, int n)
{
	size_t sz = 16;

	while (sz < (size_t)n * 2)
		sz <<= 1;
	x->key = calloc(sz, sizeof(*x->key));
	x->val = calloc(sz, sizeof(*x->val));
	x->mask = sz - 1;
	return x->key && x->val ? 0 : -ENOMEM;
}

/* Returns the existing value, or inserts v and returns -1. */
static int idx_put(struct idx *x, const char *k, int v)
{
	size_t i = hash_str(k) & x->mask;

	while (x->key[i]) {
		if (strcmp(x->key[i], k) == 0)
			return x->val[i];
		i = (i + 1) & x->mask;
	}
	x->key[i] = k;
	x->val[i] = v;
	return -1;
}

static int idx_get(const struct idx *x, const char *k)
{
	size_t i = hash_str(k) & x->mask;

	while (x->key[i]) {
		if (strcmp(x->key[i], k) == 0)
			return x->val[i];
		i = (i + 1) & x->mask;
	}
	return -1;
}

static void idx_free(struct idx *x)
{
	free(x->key);
	free(x->val);
}

/* Kahn's algorithm over the body; on a cycle, walk parents from a job
 * left over until one repeats, and print that loop parent-first. */
static int find_cycle(const struct sched_dagspec *d, const struct idx *x,
		      char *err, size_t errlen)
{
	size_t nn = d->n > 0 ? (size_t)d->n : 1;
	int *indeg = calloc(nn, sizeof(int));
	int *queue = malloc(sizeof(int) * nn);
	int *nchild = calloc(nn + 1, sizeof(int));
	int *child = NULL, *pos = NULL;
	int head = 0, tail = 0, i, k, done = 0, r = 0, total = 0;

	if (!indeg || !queue || !nchild) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < d->n; i++) {
		for (k = 0; k < d->jobs[i].parents.n; k++) {
			int p = idx_get(x, d->jobs[i].parents.v[k]);

			if (p >= 0) {
				indeg[i]++;
				nchild[p + 1]++;
				total++;
			}
		}
	}
	for (i = 0; i < d->n; i++)
		nchild[i + 1] += nchild[i];
	child = malloc(sizeof(int) * (size_t)(total + 1));
	pos = malloc(sizeof(int) * (nn + 1));
	if (!child || !pos) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(pos, nchild, sizeof(int) * (size_t)(d->n + 1));
	for (i = 0; i < d->n; i++) {
		for (k = 0; k < d->jobs[i].parents.n; k++) {
			int p = idx_get(x, d->jobs[i].parents.v[k]);

			if (p >= 0)
				child[pos[p]++] = i;
		}
	}
	for (i = 0; i < d->n; i++)
		if (indeg[i] == 0)
			queue[tail++] = i;
	while (head < tail) {
		int u = queue[head++];

		done++;
		for (k = nchild[u]; k < nchild[u + 1]; k++)
			if (--indeg[child[k]] == 0)
				queue[tail++] = child[k];
	}
	if (done < d->n) {
		/* every leftover job has a leftover parent: walk up */
		int *seen = pos, u = -1, steps, start;
		size_t off;

		for (i = 0; i < d->n; i++)
			seen[i] = -1;
		for (i = 0; i < d->n && u < 0; i++)
			if (indeg[i] > 0)
				u = i;
		for (steps = 0; seen[u] < 0; steps++) {
			seen[u] = steps;
			for (k = 0; k < d->jobs[u].parents.n; k++) {
				int p = idx_get(x, d->jobs[u].parents.v[k]);

				if (p >= 0 && indeg[p] > 0) {
					queue[steps] = u;
					u = p;
					break;
				}
			}
		}
		/* queue[seen[u] .. steps) is the loop, child-first */
		start = seen[u];
		off = (size_t)snprintf(err, errlen, "cycle: %s",
				       d->jobs[u].name);
		for (k = steps - 1; k >= start && off < errlen; k--)
			off += (size_t)snprintf(err + off, errlen - off,
						" -> %s",
						d->jobs[queue[k]].name);
		r = -EINVAL;
	}
out:
	free(indeg);
	free(queue);
	free(nchild);
	free(child);
	free(pos);
	return r;
}

int sched_dag_validate(const struct sched_dagspec *d, sched_exists_fn *exists,
		       void *arg, char *err, size_t errlen)
{
	struct idx x;
	int i, k, r;

	if (idx_init(&x, d->n) < 0) {
		idx_free(&x);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < d->n; i++) {
		if (idx_put(&x, d->jobs[i].id, i) >= 0) {
			snprintf(err, errlen, "duplicate job id %s",
				 d->jobs[i].name);
			r = -EINVAL;
			goto out;
		}
		if (exists && exists(d->jobs[i].id, arg) == 2) {
			snprintf(err, errlen,
				 "duplicate job id %s (already submitted "
				 "and not finished)",
				 d->jobs[i].name);
			r = -EINVAL;
			goto out;
		}
	}
	for (i = 0; i < d->n; i++) {
		for (k = 0; k < d->jobs[i].parents.n; k++) {
			const char *p = d->jobs[i].parents.v[k];

			if (idx_get(&x, p) >= 0)
				continue;
			if (exists && exists(p, arg) > 0)
				continue;
			snprintf(err, errlen, "job %s: unknown parent %s",
				 d->jobs[i].name, d->jobs[i].pnames.v[k]);
			r = -EINVAL;
			goto out;
		}
	}
	r = find_cycle(d, &x, err, errlen);
out:
	idx_free(&x);
	return r;
}

/* ------------------------------------------------------------------ */
/* TITAN_PROTO.md 4.3                                                   */
/* ------------------------------------------------------------------ */

static bool is_header(const char *p, size_t n)
{
	static const char *const h[] = {"RUN_PAYLOAD", "DEPLOY_PAYLOAD",
					"RUN_ARCHIVE",
					"START_ARCHIVE_SERVICE"};
	size_t i;

	for (i = 0; i < TN_ARRAY_SIZE(h); i++)
		if (strlen(h[i]) == n && memcmp(h[i], p, n) == 0)
			return true;
	return false;
}

char *sched_v1_requirement(const char *payload, const char *id)
{
	struct sched_strv f = {0};
	char *out = NULL;
	int i, nh = 0;
	bool header = false;

	if (strstr(payload, "INTERNAL_SCALE"))
		return strdup("GENERAL");
	if (sched_strv_split(payload, strlen(payload), '|', &f) < 0)
		return NULL;
	for (i = 0; i < f.n; i++) {
		const char *p = f.v[i];
		size_t n = strlen(p);

		trim(&p, &n);
		memmove(f.v[i], p, n);
		f.v[i][n] = '\0';
	}
	for (i = 0; i < f.n && nh < 3; i++, nh++)
		if (is_header(f.v[i], strlen(f.v[i])))
			header = true;
	if (!header) {
		if (f.n > 0 && f.v[0][0] && strcmp(f.v[0], id) != 0)
			out = strdup(f.v[0]);
		else
			out = strdup("GENERAL");
		goto done;
	}
	for (i = f.n - 1; i >= 0; i--) {
		const char *v = f.v[i];
		size_t n = strlen(v);
		long long ll;

		if (strcmp(v, id) == 0 || strcmp(v, "AFFINITY") == 0 ||
		    (n >= 2 && v[0] == '[' && v[n - 1] == ']') ||
		    parse_ll(v, n, &ll))
			continue;
		if (n > 0 && n < 20 && v[n - 1] != '=')
			out = strdup(v);
		break;
	}
	if (!out)
		out = strdup("GENERAL");
done:
	sched_strv_free(&f);
	return out;
}
