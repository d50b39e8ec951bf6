/*
 * aof.c - the files of Redis 7's multi-part AOF: names, the manifest
 * (read, written atomically) and a bounded reader of RESP multibulk
 * commands shared by the loader and titan-check.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "journal/journal.h"
#include "util/util.h"

#define MANIFEST_LINE_MAX 1024 /* Redis' AOF_MANIFEST_LINE_MAX_LEN... x4 */
#define MANIFEST_FILES_MAX 100000
#define SCAN_ARGC_MAX (1024 * 1024) /* Redis' AOF loader has none: ours */
#define SCAN_NUM_MAX 32 /* digits of a "*N" / "$N" line, bounded */

int tn_aof_dir_path(char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", tn_conf->dir, tn_conf->appenddirname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int tn_aof_file_path(char *out, size_t len, const char *name)
{
	int n = snprintf(out, len, "%s/%s/%s", tn_conf->dir,
			 tn_conf->appenddirname, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void tn_aof_name(char *out, size_t len, long long seq, char type, bool rdb)
{
	if (type == 'b')
		snprintf(out, len, "%s.%lld.base.%s", tn_conf->appendfilename,
			 seq, rdb ? "rdb" : "aof");
	else
		snprintf(out, len, "%s.%lld.incr.aof", tn_conf->appendfilename,
			 seq);
}

void tn_aof_manifest_name(char *out, size_t len)
{
	snprintf(out, len, "%s.manifest", tn_conf->appendfilename);
}

/* ------------------------------------------------------------------ */
/* Manifest                                                             */
/* ------------------------------------------------------------------ */

void tn_manifest_free(struct tn_manifest *m)
{
	free(m->files);
	m->files = NULL;
	m->nfiles = 0;
}

int tn_manifest_add(struct tn_manifest *m, const char *name, long long seq,
		    char type)
{
	struct tn_aof_file *f;

	if (strlen(name) >= sizeof(f->name))
		return -ENAMETOOLONG;
	f = reallocarray(m->files, m->nfiles + 1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	m->files = f;
	f += m->nfiles++;
	memset(f, 0, sizeof(*f));
	strcpy(f->name, name);
	f->seq = seq;
	f->type = type;
	return 0;
}

/*
 * Split a manifest line into words; a word may be "quoted" with \"
 * and \\ escapes, as Redis' sdssplitargs writes names with spaces.
 * Returns the word count, or -1 on an unbalanced quote.
 */
static int split_words(char *s, char **w, int max)
{
	int n = 0;

	for (;;) {
		char *out;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			return n;
		if (n == max)
			return -1;
		w[n++] = out = s;
		if (*s == '"') {
			s++;
			while (*s && *s != '"') {
				if (*s == '\\' && s[1])
					s++;
				*out++ = *s++;
			}
			if (*s != '"')
				return -1;
			s++;
			if (*s && *s != ' ' && *s != '\t')
				return -1;
		} else {
			while (*s && *s != ' ' && *s != '\t')
				out++, s++;
		}
		if (*s)
			s++;
		*out = '\0';
	}
}

static int manifest_line(struct tn_manifest *m, char *line, char *err,
			 size_t errlen, int lineno)
{
	char *w[16], *name = NULL, type = 0;
	long long seq = -1;
	int n = split_words(line, w, 16), i;

	if (n < 0 || n % 2) {
		snprintf(err, errlen, "line %d: invalid manifest line format",
			 lineno);
		return -1;
	}
	for (i = 0; i < n; i += 2) {
		if (!strcmp(w[i], "file")) {
			name = w[i + 1];
		} else if (!strcmp(w[i], "seq")) {
			if (!tn_str2ll(w[i + 1], strlen(w[i + 1]), &seq) ||
			    seq < 1) {
				snprintf(err, errlen, "line %d: bad seq '%s'",
					 lineno, w[i + 1]);
				return -1;
			}
		} else if (!strcmp(w[i], "type")) {
			if (strlen(w[i + 1]) != 1 ||
			    !strchr("bhi", w[i + 1][0])) {
				snprintf(err, errlen, "line %d: bad type '%s'",
					 lineno, w[i + 1]);
				return -1;
			}
			type = w[i + 1][0];
		}
		/* other keys: a later Redis' additions, ignored as Redis does */
	}
	if (!name || seq < 0 || !type) {
		snprintf(err, errlen,
			 "line %d: needs 'file', 'seq' and 'type'", lineno);
		return -1;
	}
	if (strchr(name, '/')) {
		snprintf(err, errlen, "line %d: file name '%s' has a '/'",
			 lineno, name);
		return -1;
	}
	if (m->nfiles >= MANIFEST_FILES_MAX ||
	    tn_manifest_add(m, name, seq, type) < 0) {
		snprintf(err, errlen, "line %d: too many files or no memory",
			 lineno);
		return -1;
	}
	return 0;
}

/* One base at most, incremental files in ascending seq order. */
static int manifest_check(const struct tn_manifest *m, char *err,
			  size_t errlen)
{
	long long last_incr = 0;
	size_t i, bases = 0;

	for (i = 0; i < m->nfiles; i++) {
		const struct tn_aof_file *f = &m->files[i];

		if (f->type == 'b' && ++bases > 1) {
			snprintf(err, errlen, "more than one base file (%s)",
				 f->name);
			return -1;
		}
		if (f->type == 'i') {
			if (f->seq <= last_incr) {
				snprintf(err, errlen,
					 "incremental file %s out of order",
					 f->name);
				return -1;
			}
			last_incr = f->seq;
		}
	}
	if (!m->nfiles) {
		snprintf(err, errlen, "the manifest lists no file");
		return -1;
	}
	return 0;
}

int tn_manifest_read(const char *path, struct tn_manifest *m, char *err,
		     size_t errlen)
{
	char line[MANIFEST_LINE_MAX + 2];
	int lineno = 0;
	FILE *f;

	memset(m, 0, sizeof(*m));
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		lineno++;
		if (n && line[n - 1] != '\n' && !feof(f)) {
			snprintf(err, errlen, "line %d: longer than %d bytes",
				 lineno, MANIFEST_LINE_MAX);
			goto fail;
		}
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		if (manifest_line(m, line, err, errlen, lineno) < 0)
			goto fail;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 strerror(errno));
		goto fail;
	}
	fclose(f);
	if (manifest_check(m, err, errlen) < 0) {
		tn_manifest_free(m);
		return -1;
	}
	return 0;
fail:
	fclose(f);
	tn_manifest_free(m);
	return -1;
}

int tn_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int tn_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A name as Redis writes it: bare, or quoted when it has blanks. */
static int append_name(char *buf, size_t len, size_t *at, const char *name)
{
	bool quote = strpbrk(name, " \t\"\\") != NULL;
	const char *s;

	if (!quote) {
		*at += snprintf(buf + *at, len - *at, "%s", name);
		return *at < len ? 0 : -ENAMETOOLONG;
	}
	if (*at < len)
		buf[(*at)++] = '"';
	for (s = name; *s && *at + 2 < len; s++) {
		if (*s == '"' || *s == '\\')
			buf[(*at)++] = '\\';
		buf[(*at)++] = *s;
	}
	if (*at < len)
		buf[(*at)++] = '"';
	return *at < len ? 0 : -ENAMETOOLONG;
}

int tn_manifest_write(const char *dir, const struct tn_manifest *m)
{
	char path[TN_PATH_MAX + 300], tmp[TN_PATH_MAX + 320], name[300];
	size_t cap = 128 + m->nfiles * 320, at = 0, i;
	char *buf = malloc(cap);
	int fd, r;

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < m->nfiles; i++) {
		const struct tn_aof_file *f = &m->files[i];

		at += snprintf(buf + at, cap - at, "file ");
		if (append_name(buf, cap, &at, f->name) < 0) {
			free(buf);
			return -ENAMETOOLONG;
		}
		at += snprintf(buf + at, cap - at, " seq %lld type %c\n",
			       f->seq, f->type);
	}
	tn_aof_manifest_name(name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/temp-%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		free(buf);
		return r;
	}
	r = tn_write_all(fd, buf, at);
	free(buf);
	if (!r && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r) {
		unlink(tmp);
		return r;
	}
	return tn_fsync_dir(dir);
}

/* ------------------------------------------------------------------ */
/* The RESP reader                                                      */
/* ------------------------------------------------------------------ */

struct scan {
	const char *p, *end, *base;
	struct tn_aof_scan_err *err;
};

enum { SCAN_OK, SCAN_SHORT, SCAN_BAD };

static int scan_bad(struct scan *s, const char *at, const char *what)
{
	s->err->offset = at - s->base;
	s->err->truncated = false;
	snprintf(s->err->msg, sizeof(s->err->msg), "%s at offset %lld", what,
		 (long long)(at - s->base));
	return SCAN_BAD;
}

/* "<c><digits>\r\n": the number in *v; the cursor moves past the line. */
static int scan_num(struct scan *s, char c, long long *v)
{
	const char *p = s->p, *nl;
	size_t room = (size_t)(s->end - p);

	if (!room)
		return SCAN_SHORT;
	if (*p != c)
		return scan_bad(s, p,
				c == '*' ? "expected '*' (a multibulk command)"
					 : "expected '$' (a bulk argument)");
	nl = memchr(p, '\n', TN_MIN(room, (size_t)SCAN_NUM_MAX));
	if (!nl) {
		if (room < SCAN_NUM_MAX)
			return SCAN_SHORT;
		return scan_bad(s, p, "length line too long");
	}
	if (nl - p < 3 || nl[-1] != '\r' ||
	    !tn_str2ll(p + 1, (size_t)(nl - 1 - (p + 1)), v) || *v < 0)
		return scan_bad(s, p, "bad length line");
	s->p = nl + 1;
	return SCAN_OK;
}

/*
 * One command at s->p into argv/len (grown as needed; never by a count
 * the file claims before its bytes are there).
 */
static int scan_cmd(struct scan *s, int *argc, char ***argv, size_t **len,
		    size_t *cap)
{
	const char *start = s->p;
	long long n, i, l;
	int r;

	r = scan_num(s, '*', &n);
	if (r)
		return r;
	if (n < 1 || n > SCAN_ARGC_MAX)
		return scan_bad(s, start, "bad argument count");
	for (i = 0; i < n; i++) {
		const char *at = s->p;

		r = scan_num(s, '$', &l);
		if (r)
			return r;
		if (l > s->end - s->p) {
			/* a length beyond the end of the file: a torn tail
			 * (never allocated for) */
			return SCAN_SHORT;
		}
		if (s->end - s->p - l < 2)
			return SCAN_SHORT;
		if (s->p[l] != '\r' || s->p[l + 1] != '\n')
			return scan_bad(s, at, "bulk argument not ended by CRLF");
		if ((size_t)i >= *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			char **a = reallocarray(*argv, nc, sizeof(**argv));
			size_t *b;

			if (!a)
				return scan_bad(s, at, "out of memory");
			*argv = a;
			b = reallocarray(*len, nc, sizeof(**len));
			if (!b)
				return scan_bad(s, at, "out of memory");
			*len = b;
			*cap = nc;
		}
		(*argv)[i] = (char *)s->p;
		(*len)[i] = (size_t)l;
		s->p += l + 2;
	}
	*argc = (int)n;
	return SCAN_OK;
}

int tn_aof_scan_mem(const char *p, size_t size, tn_aof_cmd_fn *fn, void *arg,
		    struct tn_aof_scan_err *err)
{
	struct scan s = {.p = p, .end = p + size, .base = p, .err = err};
	char **argv = NULL;
	size_t *len = NULL, cap = 0;
	int rc = 0;

	memset(err, 0, sizeof(*err));
	while (s.p < s.end) {
		const char *start = s.p;
		int argc = 0, r = scan_cmd(&s, &argc, &argv, &len, &cap);

		if (r == SCAN_SHORT) {
			err->offset = start - p;
			err->truncated = true;
			snprintf(err->msg, sizeof(err->msg),
				 "the file ends inside the command at offset %lld",
				 (long long)err->offset);
			rc = -1;
			break;
		}
		if (r == SCAN_BAD) {
			rc = -1;
			break;
		}
		r = fn(argc, argv, len, start - p, arg);
		if (r) {
			err->offset = start - p;
			if (!err->msg[0])
				snprintf(err->msg, sizeof(err->msg),
					 "stopped at offset %lld",
					 (long long)err->offset);
			rc = -1;
			break;
		}
	}
	free(argv);
	free(len);
	return rc;
}

int tn_aof_scan_file(const char *path, tn_aof_cmd_fn *fn, void *arg,
		     struct tn_aof_scan_err *err)
{
	struct stat st;
	void *map;
	int fd, rc;

	memset(err, 0, sizeof(*err));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err->msg, sizeof(err->msg), "cannot open %s: %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(err->msg, sizeof(err->msg), "cannot map %s: %s", path,
			 strerror(errno));
		return -1;
	}
	madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
	rc = tn_aof_scan_mem(map, (size_t)st.st_size, fn, arg, err);
	munmap(map, (size_t)st.st_size);
	return rc;
}
