/*
 * check_main.c - titan-check: verify an AOF directory, manifest, AOF or
 * RDB file offline, say what is wrong and where, and optionally cut a
 * torn tail off the last incremental file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/journal.h"

#define EXIT_DAMAGED 1
#define EXIT_USAGE 2

/* A torn tail found in a file: where the sound part ends. */
struct torn {
	char path[4096];
	off_t good_end;
	off_t size;
	bool found;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: titan-check [--fix] [-y] PATH\n"
		   "  PATH: an AOF directory, its manifest, or one .aof or "
		   ".rdb file\n"
		   "  --fix  truncate a torn tail of the last incremental "
		   "file (asks first)\n"
		   "  -y     do not ask\n");
}

static int count_cmd(int argc, char **argv, size_t *len, off_t offset,
		     void *arg)
{
	(*(unsigned long long *)arg)++;
	return 0;
}

static bool starts_with_rdb(const char *path)
{
	char magic[5];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool rdb;

	if (fd < 0)
		return false;
	rdb = read(fd, magic, 5) == 5 && !memcmp(magic, "REDIS", 5);
	close(fd);
	return rdb;
}

/*
 * The RESP commands of path from byte `from` on (a whole AOF, or what
 * follows an RDB preamble).  0 sound, -1 damaged (reported; a torn
 * tail noted in *t).
 */
static int check_resp(const char *path, off_t from, struct torn *t,
		      unsigned long long *ncmd)
{
	struct tn_aof_scan_err err;
	struct stat st;
	char *map;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		printf("%s: can't open: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_size <= from) {
		close(fd);
		return 0;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		printf("%s: can't map: %s\n", path, strerror(errno));
		return -1;
	}
	rc = tn_aof_scan_mem(map + from, (size_t)(st.st_size - from),
			     count_cmd, ncmd, &err);
	munmap(map, (size_t)st.st_size);
	if (rc == 0)
		return 0;
	printf("%s: offset %lld: %s%s\n", path, (long long)(from + err.offset),
	       err.msg, err.truncated ? " (a torn tail)" : "");
	if (err.truncated) {
		strlcpy(t->path, path, sizeof(t->path));
		t->good_end = from + err.offset;
		t->size = st.st_size;
		t->found = true;
	}
	return -1;
}

/* One file: RDB (possibly followed by RESP, the old preamble layout) or
 * RESP.  0 sound, -1 damaged. */
static int check_file(const char *path, struct torn *t)
{
	unsigned long long ncmd = 0;
	struct stat st;
	char err[512];
	off_t good;

	if (stat(path, &st) < 0) {
		printf("%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		printf("%s: not a regular file\n", path);
		return -1;
	}
	if (starts_with_rdb(path)) {
		if (tn_rdb_check_file(path, &good, err, sizeof(err)) < 0) {
			printf("%s: %s\n", path, err);
			return -1;
		}
		if (good < st.st_size) {
			/* an .rdb file ends at its checksum; in an .aof the
			 * RESP increments follow the preamble */
			if (check_resp(path, good, t, &ncmd) < 0)
				return -1;
			printf("OK %s: RDB preamble of %lld bytes and %llu "
			       "commands\n",
			       path, (long long)good, ncmd);
			return 0;
		}
		printf("OK %s: RDB, %lld bytes\n", path, (long long)good);
		return 0;
	}
	if (check_resp(path, 0, t, &ncmd) < 0)
		return -1;
	printf("OK %s: AOF, %llu commands, %lld bytes\n", path, ncmd,
	       (long long)st.st_size);
	return 0;
}

/* The manifest of an AOF directory: its only *.manifest file. */
static int find_manifest(const char *dir, char *out, size_t outlen)
{
	struct dirent *de;
	int found = 0;
	DIR *d = opendir(dir);

	if (!d) {
		printf("%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n > 9 && !strcmp(de->d_name + n - 9, ".manifest")) {
			if (found++)
				break;
			snprintf(out, outlen, "%s/%s", dir, de->d_name);
		}
	}
	closedir(d);
	if (found == 1)
		return 0;
	printf("%s: %s\n", dir,
	       found ? "holds more than one .manifest file: name one"
		     : "no .manifest file in this directory (is it an AOF "
		       "directory?)");
	return -1;
}

/* Every file the manifest lists (history files excepted: Redis deletes
 * them).  A torn tail only counts in the last incremental file. */
static int check_manifest(const char *mpath, struct torn *t)
{
	struct tn_manifest m;
	char err[512], dir[4096], path[8192];
	const char *last_incr = NULL;
	int bad = 0;
	size_t i;

	if (tn_manifest_read(mpath, &m, err, sizeof(err)) < 0) {
		printf("%s: %s\n", mpath, err);
		return -1;
	}
	printf("OK %s: manifest, %zu files\n", mpath, m.nfiles);
	strlcpy(dir, mpath, sizeof(dir));
	for (i = 0; i < m.nfiles; i++)
		if (m.files[i].type == 'i')
			last_incr = m.files[i].name;
	for (i = 0; i < m.nfiles; i++) {
		struct torn ft = {0};

		if (m.files[i].type == 'h')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirname(dir),
			 m.files[i].name);
		strlcpy(dir, mpath, sizeof(dir)); /* dirname() wrote in it */
		if (access(path, F_OK) < 0) {
			printf("%s: listed in the manifest but missing: %s\n",
			       path, strerror(errno));
			bad = 1;
			continue;
		}
		if (check_file(path, &ft) < 0) {
			if (ft.found && m.files[i].type == 'i' &&
			    !strcmp(m.files[i].name, last_incr))
				*t = ft;
			else
				bad = 2; /* not a fixable tail */
			if (!bad)
				bad = 1;
		}
	}
	tn_manifest_free(&m);
	if (bad == 2)
		t->found = false;
	return bad ? -1 : 0;
}

static bool confirm(const char *path, off_t from, off_t to)
{
	char line[16];

	printf("This will truncate %s from %lld to %lld bytes (%lld bytes "
	       "lost).\nContinue? [y/N]: ",
	       path, (long long)to, (long long)from, (long long)(to - from));
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"fix", no_argument, NULL, 'f'},
	    {"yes", no_argument, NULL, 'y'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool fix = false, yes = false;
	struct torn t = {0};
	char manifest[8192];
	struct stat st;
	const char *path;
	int c, rc;

	while ((c = getopt_long(argc, argv, "yh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			fix = true;
			break;
		case 'y':
			yes = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	path = argv[optind];
	if (stat(path, &st) < 0) {
		fprintf(stderr, "titan-check: %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	if (S_ISDIR(st.st_mode)) {
		if (find_manifest(path, manifest, sizeof(manifest)) < 0)
			return EXIT_DAMAGED;
		rc = check_manifest(manifest, &t);
	} else if (strlen(path) > 9 &&
		   !strcmp(path + strlen(path) - 9, ".manifest")) {
		rc = check_manifest(path, &t);
	} else {
		rc = check_file(path, &t);
	}
	if (rc == 0) {
		printf("All sound.\n");
		return 0;
	}
	if (!fix)
		return EXIT_DAMAGED;
	if (!t.found) {
		printf("Not fixing: only a torn tail of the last incremental "
		       "file can be cut off; damage elsewhere needs a "
		       "backup.\n");
		return EXIT_DAMAGED;
	}
	if (!yes && !confirm(t.path, t.good_end, t.size)) {
		printf("Not fixed.\n");
		return EXIT_DAMAGED;
	}
	if (truncate(t.path, t.good_end) < 0) {
		printf("%s: can't truncate: %s\n", t.path, strerror(errno));
		return EXIT_DAMAGED;
	}
	printf("Fixed: %s truncated to %lld bytes (%lld bytes cut).\n", t.path,
	       (long long)t.good_end, (long long)(t.size - t.good_end));
	return 0;
}
