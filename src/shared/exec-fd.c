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

/* Who gets the fd: a process in an instance as its stdio (Exec), or a worker as a tarball (Export,
 * ImportInstance) or a file's data (PushFile, PullFile), which also takes /dev/null. */
typedef enum FdUse {
        FD_USE_STDIO,
        FD_USE_STREAM,
        FD_USE_FILE,
} FdUse;

/* The checks of all three, which differ only in the kinds they accept (exec-fd.h). want_read: the
 * direction a stream or file must be open for; stdio's is checked by its caller. */
static const char *fd_refusal(int fd, FdUse use, bool want_read) {
        struct statfs sfs;
        struct stat st;
        int fl;

        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fstat(fd, &st) < 0)
                return "an invalid file descriptor";
        if (fl & O_PATH)
                return "an O_PATH file descriptor";

        switch (st.st_mode & S_IFMT) {
        case S_IFIFO:
                if (use == FD_USE_STDIO && !(fstatfs(fd, &sfs) >= 0 && sfs.f_type == PIPEFS_MAGIC))
                        return "a named pipe (FIFO)";
                break;
        case S_IFREG:
                if (use == FD_USE_STDIO)
                        return "a regular file";
                break;
        case S_IFSOCK:
                if (!socket_is_connected_unix_stream(fd))
                        return use == FD_USE_STDIO ?
                                "a socket that is not a connected AF_UNIX stream or seqpacket socket" :
                                "a socket that is not a connected AF_UNIX stream socket";
                break;
        case S_IFCHR:
                if (use != FD_USE_STREAM && stat_is_devnull(&st))
                        break;
                return isatty(fd) ? "a terminal" : "a character device";
        case S_IFDIR:
                return "a directory";
        case S_IFLNK:
                return "a symbolic link";
        case S_IFBLK:
                return "a block device";
        default:
                return "an anonymous inode (eventfd, timerfd, signalfd, ...)";
        }
        /* A socket is both ways whatever its flags say. */
        if (use != FD_USE_STDIO && !S_ISSOCK(st.st_mode) &&
            (fl & O_ACCMODE) == (want_read ? O_WRONLY : O_RDONLY))
                return want_read ? "not open for reading" : "not open for writing";
        return NULL;
}

const char *exec_fd_refusal(int fd) {
        return fd_refusal(fd, FD_USE_STDIO, false);
}

const char *stream_fd_refusal(int fd, bool want_read) {
        return fd_refusal(fd, FD_USE_STREAM, want_read);
}

const char *file_fd_refusal(int fd, bool want_read) {
        return fd_refusal(fd, FD_USE_FILE, want_read);
}
