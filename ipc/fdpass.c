/*
 * fdpass.c - hand a descriptor (an accepted client socket, a journal
 * file) to another Titan process with SCM_RIGHTS over SOCK_SEQPACKET,
 * one small message per fd.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ipc/ipc.h"

/* Room for a few fds: a peer that sends more gets the extras closed. */
#define TN_FD_RECV_MAX 8

int tn_fd_send(int sock, int fd, const void *msg, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	/* A zero-byte message reads as "peer closed" on the other side. */
	if (len == 0)
		return -EINVAL;
	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* SEQPACKET sends whole records; anything else is a broken peer. */
	if ((size_t)n != len)
		return -EMSGSIZE;
	return 0;
}

ssize_t tn_fd_recv(int sock, int *fd, void *msg, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * TN_FD_RECV_MAX)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = msg, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	ssize_t n;

	*fd = -1;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		const unsigned char *data = CMSG_DATA(c);
		size_t i, nfds;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			int got;

			memcpy(&got, data + i * sizeof(got), sizeof(got));
			/* Keep the first; an unexpected extra would leak. */
			if (*fd < 0)
				*fd = got;
			else
				close(got);
		}
	}
	/* A cut-short record is a protocol bug between our own processes:
	 * do not act on half of it (the kernel closed fds that did not fit).
	 * Nor hand back an fd with a 0 that the caller reads as EOF. */
	if ((mh.msg_flags & MSG_TRUNC) || (n == 0 && *fd >= 0)) {
		if (*fd >= 0) {
			close(*fd);
			*fd = -1;
		}
		return n ? -EMSGSIZE : -EPROTO;
	}
	return n;
}
