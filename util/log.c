/*
 * log.c - the process log, in redis-server's line format
 * ("pid:R dd Mon yyyy hh:mm:ss.mmm * message").  One write(2) per line so
 * lines from the supervisor and its children never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/util.h"

static char log_path[1024];
static int log_fd = STDOUT_FILENO;
static int log_level = TN_LOG_NOTICE;
static char log_role = 'X';

void tn_log_init(const char *path, int level, char role)
{
	log_level = level;
	log_role = role;
	snprintf(log_path, sizeof(log_path), "%s", path ? path : "");
	tn_log_reopen();
}

int tn_log_reopen(void)
{
	int fd;

	if (log_path[0] == '\0') {
		log_fd = STDOUT_FILENO;
		return 0;
	}
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (log_fd != STDOUT_FILENO && log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void tn_log_set_level(int level)
{
	log_level = level;
}

void tn_log_set_role(char role)
{
	log_role = role;
}

void tn_log(int level, const char *fmt, ...)
{
	static const char marks[] = ".-*#";
	char line[1024];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n, saved = errno;

	if (level < log_level)
		return;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%d:%c ", (int)getpid(), log_role);
	n += strftime(line + n, sizeof(line) - n, "%d %b %Y %H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - n, ".%03d %c ",
		      (int)(tv.tv_usec / 1000), marks[level & 3]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(log_fd, line, n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved;
}
