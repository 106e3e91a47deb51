/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "exec-fd.h"
#include "macro.h"

static bool socket_is_connected_unix_stream(int fd) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        int domain = 0, type = 0, listening = 1;
        socklen_t l1 = sizeof domain, l2 = sizeof type, l3 = sizeof listening;

        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l1) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l2) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l3) < 0)
                return false;
        /* A connected AF_UNIX stream socket can neither connect again (EISCONN) nor listen. */
        return domain == AF_UNIX && IN_SET(type, SOCK_STREAM, SOCK_SEQPACKET) && !listening &&
                getpeername(fd, (struct sockaddr *) &sa, &len) >= 0;
}

/* What every kind of fd check refuses first: an fd that is not open, or one that only names a path. */
static const char *fd_stat_refusal(int fd, struct stat *ret_st, int *ret_flags) {
        *ret_flags = fcntl(fd, F_GETFL);
        if (*ret_flags < 0 || fstat(fd, ret_st) < 0)
                return "an invalid file descriptor";
        if (*ret_flags & O_PATH)
                return "an O_PATH file descriptor";
        return NULL;
}

const char *exec_fd_refusal(int fd) {
        struct statfs sfs;
        struct stat st;
        const char *refusal;
        int fl;

        refusal = fd_stat_refusal(fd, &st, &fl);
        if (refusal)
                return refusal;

        switch (st.st_mode & S_IFMT) {
        case S_IFIFO:
                if (fstatfs(fd, &sfs) >= 0 && sfs.f_type == PIPEFS_MAGIC)
                        return NULL;
                return "a named pipe (FIFO)";
        case S_IFSOCK:
                if (socket_is_connected_unix_stream(fd))
                        return NULL;
                return "a socket that is not a connected AF_UNIX stream or seqpacket socket";
        case S_IFCHR:
                if (stat_is_devnull(&st))
                        return NULL;
                return isatty(fd) ? "a terminal" : "a character device";
        case S_IFREG:
                return "a regular file";
        case S_IFDIR:
                return "a directory";
        case S_IFLNK:
                return "a symbolic link";
        case S_IFBLK:
                return "a block device";
        default:
                return "an anonymous inode (eventfd, timerfd, signalfd, ...)";
        }
}

static const char *stream_fd_refusal_full(int fd, bool want_read, bool devnull) {
        struct stat st;
        const char *refusal;
        int fl;

        refusal = fd_stat_refusal(fd, &st, &fl);
        if (refusal)
                return refusal;
        switch (st.st_mode & S_IFMT) {
        case S_IFIFO:
        case S_IFREG:
                break;
        case S_IFCHR:
                if (devnull && stat_is_devnull(&st))
                        break;
                return isatty(fd) ? "a terminal" : "a character device";
        case S_IFSOCK:
                if (!socket_is_connected_unix_stream(fd))
                        return "a socket that is not a connected AF_UNIX stream socket";
                break;
        case S_IFDIR:
                return "a directory";
        case S_IFBLK:
                return "a block device";
        default:
                return "an anonymous inode (eventfd, timerfd, signalfd, ...)";
        }
        /* A socket is both ways whatever its flags say. */
        if (!S_ISSOCK(st.st_mode) && (fl & O_ACCMODE) == (want_read ? O_WRONLY : O_RDONLY))
                return want_read ? "not open for reading" : "not open for writing";
        return NULL;
}

const char *stream_fd_refusal(int fd, bool want_read) {
        return stream_fd_refusal_full(fd, want_read, false);
}

const char *file_fd_refusal(int fd, bool want_read) {
        return stream_fd_refusal_full(fd, want_read, true);
}
