#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "ipc/ipc.h"

Test(fdpass, roundtrip)
{
	int sv[2], p[2], fd = -2;
	char msg[16] = {0};
	ssize_t n;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(tn_fd_send(sv[0], p[1], "hello", 5), 0);
	n = tn_fd_recv(sv[1], &fd, msg, sizeof(msg));
	cr_assert_eq(n, 5);
	cr_expect_str_eq(msg, "hello");
	cr_assert_geq(fd, 0);
	cr_expect(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	cr_assert_eq(write(fd, "x", 1), 1);
	char c;
	cr_assert_eq(read(p[0], &c, 1), 1);
	close(fd);
	/* no fd */
	cr_assert_eq(tn_fd_send(sv[0], -1, "abc", 3), 0);
	n = tn_fd_recv(sv[1], &fd, msg, sizeof(msg));
	cr_expect_eq(n, 3);
	cr_expect_eq(fd, -1);
	/* zero len rejected */
	cr_expect_eq(tn_fd_send(sv[0], p[1], "", 0), -EINVAL);
	/* truncation */
	cr_assert_eq(tn_fd_send(sv[0], p[1], "0123456789", 10), 0);
	n = tn_fd_recv(sv[1], &fd, msg, 4);
	cr_expect_eq(n, -EMSGSIZE);
	cr_expect_eq(fd, -1);
	/* extra fds closed */
	{
		int fds[3] = { p[0], p[1], p[1] };
		char buf[CMSG_SPACE(sizeof(fds))];
		struct iovec iov = { .iov_base = "m", .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof(buf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		int before, after, probe;
		cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cm), fds, sizeof(fds));
		cr_assert_eq(sendmsg(sv[0], &mh, 0), 1);
		probe = dup(0); before = probe; close(probe);
		n = tn_fd_recv(sv[1], &fd, msg, sizeof(msg));
		cr_expect_eq(n, 1);
		cr_expect_geq(fd, 0);
		close(fd);
		probe = dup(0); after = probe; close(probe);
		cr_expect_eq(before, after, "leaked fds: %d vs %d", before, after);
	}
	/* peer close */
	close(sv[0]);
	n = tn_fd_recv(sv[1], &fd, msg, sizeof(msg));
	cr_expect_eq(n, 0);
	cr_expect_eq(tn_fd_send(sv[1], -1, "x", 1), -EPIPE);
	close(sv[1]);
}
