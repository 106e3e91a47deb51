/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lxcbusd-worker: the verbs of lxcbusd's workers but start (lxcbusd-monitor's, start.c), each a liblxc job
 * reported over the socket on fd 3 (worker-core.c). */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <lxc/lxccontainer.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/openat2.h>
#include <termios.h>
#include <unistd.h>

#include "copy.h"
#include "tarball.h"
#include "exec-fd.h"
#include "files.h"
#include "macro.h"
#include "metadata.h"
#include "overlay.h"
#include "util.h"
#include "trace.h"
#include "worker.h"
#include "worker-proto.h"

/* Replaces every occurrence of from by to in the file, atomically. The template writes absolute paths
 * of the staging directory into the config; the instance lives elsewhere once renamed into place. */
static int file_replace_all(const char *path, const char *from, const char *to) {
        _cleanup_free_ char *data = NULL, *out = NULL;
        size_t n, fl = strlen(from), tl = strlen(to), count = 0, o = 0;
        int r;

        r = read_full_file(path, 4 * 1024 * 1024, &data, &n);
        if (r < 0)
                return r;
        for (const char *p = data; (p = strstr(p, from)); p += fl)
                count++;
        out = malloc(n + count * (tl > fl ? tl - fl : 0) + 1);
        if (!out)
                return -ENOMEM;
        for (const char *p = data;;) {
                const char *hit = strstr(p, from);
                if (!hit) {
                        memcpy(out + o, p, strlen(p));
                        o += strlen(p);
                        break;
                }
                memcpy(out + o, p, (size_t) (hit - p));
                o += (size_t) (hit - p);
                memcpy(out + o, to, tl);
                o += tl;
                p = hit + fl;
        }
        return write_file_atomic(path, out, o, 0640);
}

/* The rootfs of template "none": an empty directory, and a config that names it. */
static int create_empty(struct lxc_container *c, const WorkerRequest *req, const char *sdir, const char *config,
                        const WorkerPlacement *pl) {
        _cleanup_free_ char *rootfs = NULL, *rootfs_item = NULL;
        int r;

        worker_progress(0.1, "creating empty rootfs");
        if (asprintf(&rootfs, "%s/rootfs", sdir) < 0 || asprintf(&rootfs_item, "dir:%s", rootfs) < 0)
                return worker_result(ENOMEM, "Out of memory.");
        r = mkdir_p(rootfs, 0755);
        if (r < 0)
                return worker_result(-r, "Failed to create '%s': %s", rootfs, strerror(-r));
        if (pl->idmap_count > 0 && chown(rootfs, pl->idmap_uid, pl->idmap_gid) < 0)
                return worker_result(errno, "Failed to hand '%s' to the instance's root user: %m", rootfs);
        if (!c->set_config_item(c, "lxc.rootfs.path", rootfs_item) ||
            !c->set_config_item(c, "lxc.uts.name", req->name) ||
            !c->save_config(c, config))
                return worker_result(EIO, "Failed to write the config of '%s'.", req->name);
        return EXIT_SUCCESS;
}

/* What create and import share: the paths of the instance in staging and in place. */
typedef struct CreatePaths {
        char *sdir, *fdir, *config, *mdpath;
} CreatePaths;

static void create_paths_done(CreatePaths *p) {
        FREE_MANY(p->sdir, p->fdir, p->config, p->mdpath);
}

/* The first half of create and import: an LXC container in staging, with the idmap set. */
static int create_begin(const WorkerRequest *req, const WorkerPlacement *pl, CreatePaths *p,
                        struct lxc_container **ret) {
        const char *name = req->name;
        struct lxc_container *c;

        if (asprintf(&p->sdir, "%s/%s", req->lxcpath, name) < 0 || asprintf(&p->fdir, "%s/%s", pl->final_lxcpath, name) < 0 ||
            asprintf(&p->config, "%s/config", p->sdir) < 0 || asprintf(&p->mdpath, "%s/" METADATA_FILE, p->sdir) < 0)
                return worker_result(ENOMEM, "Out of memory.");

        /* A leftover of an interrupted create of the same name goes first. */
        (void) rm_rf(p->sdir);

        c = lxc_container_new(name, req->lxcpath);
        if (!c)
                return worker_result(ENOMEM, "Failed to allocate container '%s'.", name);
        *ret = c;

        /* Set before the create: liblxc then runs the template in the user namespace, the rootfs
         * belongs to the instance's root user, and the idmap is saved with the config. */
        if (pl->idmap_count > 0) {
                char u[64], g[64];

                snprintf(u, sizeof u, "u 0 %u %u", pl->idmap_uid, pl->idmap_count);
                snprintf(g, sizeof g, "g 0 %u %u", pl->idmap_gid, pl->idmap_count);
                if (!c->set_config_item(c, "lxc.idmap", u) || !c->set_config_item(c, "lxc.idmap", g))
                        return worker_result(EINVAL, "Failed to set the idmap of '%s'.", name);
        }
        return EXIT_SUCCESS;
}

/* The second half: the metadata written (metadata_json: pl's, or import's merge), the owner set, and the
 * instance moved into place. */
static int create_finish(const WorkerRequest *req, const CreatePaths *p, const WorkerPlacement *pl,
                         const char *metadata_json) {
        const char *name = req->name;
        int r;

        worker_progress(0.8, "writing metadata");
        r = file_replace_all(p->config, p->sdir, p->fdir);
        if (r < 0)
                return worker_result(-r, "Failed to rewrite the config of '%s': %s", name, strerror(-r));
        r = write_file_atomic(p->mdpath, metadata_json, strlen(metadata_json), 0644);
        if (r < 0)
                return worker_result(-r, "Failed to write the metadata of '%s': %s", name, strerror(-r));

        /* The instance directory is root's: nobody but root may reach a privileged rootfs (a setuid
         * binary in it is setuid root on the host). For an idmapped instance, its root group may pass
         * (liblxc sets up the rootfs as that user), nobody else: a setuid binary there would give any
         * host user the instance's ids. Never writable by the instance: the config in it is run as
         * root. liblxc made it the instance's for the template. */
        if (chown(p->sdir, 0, pl->idmap_count > 0 ? pl->idmap_gid : 0) < 0 ||
            chmod(p->sdir, pl->idmap_count > 0 ? 0710 : 0700) < 0)
                return worker_result(errno, "Failed to set the owner of '%s': %m", p->sdir);

        /* The last step: the instance exists once it is in place, not before. */
        worker_progress(0.95, "moving into place");
        if (renameat2(AT_FDCWD, p->sdir, AT_FDCWD, p->fdir, RENAME_NOREPLACE) < 0) {
                r = -errno;
                (void) rm_rf(p->sdir);
                return worker_result(-r, "Failed to move '%s' into place: %s", name, strerror(-r));
        }
        r = fsync_directory_of(p->fdir);
        if (r < 0)
                return worker_result(-r, "Failed to sync '%s': %s", pl->final_lxcpath, strerror(-r));
        return worker_result(0, "created");
}

/* create: builds the instance in staging (lxcpath), under its name, then renames it into final_lxcpath. */
static int do_create(const WorkerRequest *req, struct lxc_container *none) {
        const WorkerCreateArgs *a = &req->create;
        _cleanup_(create_paths_done) CreatePaths p = {};
        _cleanup_lxc_ struct lxc_container *c = NULL;
        int r;

        r = create_begin(req, &a->placement, &p, &c);
        if (r != EXIT_SUCCESS)
                return r;
        if (streq(a->template, "none")) {
                r = create_empty(c, req, p.sdir, p.config, &a->placement);
                if (r != EXIT_SUCCESS)
                        return r;
        } else {
                worker_progress(0.1, "running template");
                if (!c->create(c, a->template, NULL, NULL, LXC_CREATE_QUIET, a->template_args))
                        return worker_result(EIO, "Template '%s' failed for '%s'%s%s", a->template,
                                             req->name, c->error_string ? ": " : ".",
                                             strempty(c->error_string));
        }
        return create_finish(req, &p, &a->placement, a->placement.metadata_json);
}

static void progress_fn(double fraction, const char *stage) {
        worker_progress(fraction, stage);
}

/* import: as create with an empty rootfs, into which the tarball on fd 4 is extracted (tarball.c), with
 * an export's snapshots beside it: the worker's cwd is the instance directory in staging for the whole
 * extraction. */
static int do_import(const WorkerRequest *req, struct lxc_container *none) {
        const WorkerPlacement *a = &req->import.placement;
        _cleanup_(create_paths_done) CreatePaths p = {};
        _cleanup_lxc_ struct lxc_container *c = NULL;
        _cleanup_free_ char *tar_json = NULL, *json = NULL;
        ArchiveJob job = { .fd = WORKER_FD + 1, .idmap_uid = a->idmap_uid, .idmap_gid = a->idmap_gid,
                           .idmap_count = a->idmap_count, .progress = progress_fn,
                           .bytes = worker_report_bytes };
        char error[ARCHIVE_ERROR_MAX] = "";
        int r;

        r = create_begin(req, a, &p, &c);
        if (r != EXIT_SUCCESS)
                return r;
        r = create_empty(c, req, p.sdir, p.config, a);
        if (r != EXIT_SUCCESS)
                return r;
        if (chdir(p.sdir) < 0)
                return worker_result(errno, "Failed to enter '%s': %m", p.sdir);
        r = archive_import(&job, &tar_json);
        if (r >= 0 && chdir("/") < 0)
                r = -errno;
        safe_close(job.fd);
        if (r < 0)
                return worker_result(-r, "Failed to import '%s': %s", req->name, job.error);
        r = archive_merge_metadata(a->metadata_json, tar_json, &json, error, sizeof error);
        if (r < 0)
                return worker_result(-r, "Failed to import '%s': %s", req->name, error);
        return create_finish(req, &p, a, json);
}

/* export: the metadata without what belongs to this host, then the rootfs, and the snapshots if asked
 * (else the metadata lists none), into fd 4. */
static int do_export(const WorkerRequest *req, struct lxc_container *none) {
        const WorkerExportArgs *a = &req->export_;
        _cleanup_(instance_metadata_done) InstanceMetadata md = {};
        _cleanup_free_ char *dir = NULL, *msg = NULL, *json = NULL;
        ArchiveJob job = { .fd = WORKER_FD + 1, .idmap_uid = a->idmap_uid, .idmap_gid = a->idmap_gid,
                           .idmap_count = a->idmap_count, .progress = progress_fn,
                           .bytes = worker_report_bytes };
        int r;

        if (asprintf(&dir, "%s/%s", req->lxcpath, req->name) < 0)
                return worker_result(ENOMEM, "Out of memory.");
        r = overlay_mount_rootfs(dir);
        if (r < 0)
                return worker_result(-r, "Failed to mount the overlay of '%s': %s", req->name, strerror(-r));
        if (chdir(dir) < 0)
                return worker_result(errno, "Failed to enter '%s': %m", dir);
        r = instance_metadata_load(METADATA_FILE, &md, &msg);
        if (r < 0)
                return worker_result(-r, "Failed to read the metadata of '%s': %s", req->name,
                                     msg ?: strerror(-r));
        /* An overlay clone's export is its merged tree: imported, a rootfs of its own. */
        md.idmap = (InstanceIdmap) {};
        md.overlay_instance = mfree(md.overlay_instance);
        md.overlay_snapshot = mfree(md.overlay_snapshot);
        (void) config_map_unset(&md.config, "security.privileged");
        while (!a->snapshots && md.n_snapshots > 0)
                (void) instance_metadata_remove_snapshot(&md, md.snapshots[md.n_snapshots - 1].name);
        r = instance_metadata_to_json(&md, &json);
        if (r < 0)
                return worker_result(-r, "Failed to write the metadata of '%s'.", req->name);
        r = archive_export(&job, a->compression, json, md.snapshots, md.n_snapshots);
        safe_close(job.fd);
        if (r < 0)
                return worker_result(-r, "Failed to export '%s': %s", req->name, job.error);
        return worker_result(0, "exported");
}

/* stop: a clean shutdown for timeout_sec (0: none), then kill. */
static int do_stop(const WorkerRequest *req, struct lxc_container *c) {
        unsigned timeout = req->stop.timeout_sec;

        if (!c->is_running(c))
                return worker_result(0, "not running");
        if (timeout > 0) {
                worker_progress(0.1, "shutting down");
                if (c->shutdown(c, (int) timeout))
                        return worker_result(0, "shut down");
        }
        worker_progress(0.6, "killing");
        if (!c->stop(c))
                return worker_result(EIO, "Failed to stop '%s'%s%s", req->name, c->error_string ? ": " : ".",
                                     strempty(c->error_string));
        return worker_result(0, "killed");
}

/* A pty in the instance's own devpts, so that nothing in the instance can reach a terminal of the
 * host: open its /dev/pts/ptmx below init's root. RESOLVE_IN_ROOT keeps every symlink the instance
 * may have planted inside it; the result must be the ptmx device; the peer comes from the master
 * itself (TIOCGPTPEER), never from a path. */
static int open_instance_pty(pid_t init, unsigned rows, unsigned cols, int *ret_master, int *ret_slave) {
        struct open_how how = {
                .flags = O_RDWR | O_NOCTTY | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        struct winsize ws = { .ws_row = (unsigned short) rows, .ws_col = (unsigned short) cols };
        _cleanup_close_ int root = -EBADF, master = -EBADF;
        char path[64];
        struct stat st;
        int unlock = 0, slave;

        snprintf(path, sizeof path, "/proc/%i/root", (int) init);
        root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -errno;
        master = (int) syscall(SYS_openat2, root, "dev/pts/ptmx", &how, sizeof how);
        if (master < 0)
                return -errno;
        if (fstat(master, &st) < 0)
                return -errno;
        if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2)
                return -ENOTTY;
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCSWINSZ, &ws) < 0)
                return -errno;
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return -errno;
        *ret_master = TAKE_FD(master);
        *ret_slave = slave;
        return 0;
}

static _noreturn_ void exec_command(const lxc_attach_command_t *cmd) {
        execvp(cmd->program, cmd->argv);
        fprintf(stderr, "lxcbus: %s: %m\n", cmd->program);
        _exit(errno == ENOENT ? 127 : 126);
}

/* Runs inside the instance: the pty becomes the controlling terminal of a new session. */
static int exec_in_session(void *payload) {
        lxc_attach_command_t *cmd = payload;

        /* liblxc may have made us a session leader already. */
        if ((setsid() < 0 && getsid(0) != getpid()) || ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0) {
                fprintf(stderr, "lxcbus: failed to set up the terminal: %m\n");
                _exit(126);
        }
        exec_command(cmd);
}

/* The caller's stdio arrives as fds 4, 5, 6. liblxc never sees them: its attach fchown()s and fchmod()s
 * the stdio it is given (fix_stdio_permissions(), as root, on any inode but the one the instance calls
 * /dev/null), so it gets a pipe of our own, and the attached process puts the caller's fds in place
 * itself, just before it executes the command. */
typedef struct ExecStdio {
        lxc_attach_command_t cmd;
        bool devnull[3];        /* the caller gave /dev/null: the process gets the instance's own */
} ExecStdio;

#define EXEC_STDIO_FD(k) (WORKER_FD + 1 + (k))

/* The instance's /dev/null, opened by the attached process (in the instance, as the target user, under
 * its device policy); whatever the instance's root made of that path, it must be the null device, and
 * opening a FIFO planted there must not block. */
static int open_instance_devnull(int flags) {
        struct stat st;
        int fd;

        fd = open("/dev/null", flags | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !stat_is_devnull(&st) ||
            fcntl(fd, F_SETFL, 0) < 0) {
                (void) close(fd);
                return -ENODEV;
        }
        return fd;
}

/* Runs inside the instance, after liblxc's setup: the caller's fds (or the instance's /dev/null)
 * become 0, 1, 2, and no other copy of them stays open. */
static int exec_with_stdio(void *payload) {
        ExecStdio *p = payload;

        for (int k = 0; k < 3; k++) {
                int fd = EXEC_STDIO_FD(k);

                if (p->devnull[k]) {
                        fd = open_instance_devnull(k == 0 ? O_RDONLY : O_WRONLY);
                        if (fd < 0) {
                                if (!p->devnull[2])
                                        dprintf(EXEC_STDIO_FD(2), "lxcbus: the instance has no usable "
                                                "/dev/null: %s\n", strerror(-fd));
                                _exit(126);
                        }
                }
                if (dup2(fd, k) < 0)
                        _exit(126);
                if (fd != EXEC_STDIO_FD(k))
                        (void) close(fd);
        }
        for (int k = 0; k < 3; k++)
                (void) close(EXEC_STDIO_FD(k));
        exec_command(&p->cmd);
}

/* Without a pty: the pipe that liblxc gets as stdio (it may chown and chmod it: nobody else has it). The
 * caller's /dev/null is an inode of the host, which a privileged instance's root could chmod: drop it here
 * (keeping the fd number taken, so that nothing else lands on it) and give the process the instance's
 * own. */
static int exec_prepare_stdio(ExecStdio *x, int dummy[2]) {
        if (pipe2(dummy, O_CLOEXEC) < 0)
                return worker_result(errno, "Failed to create a pipe: %m");
        for (int k = 0; k < 3; k++) {
                struct stat st;

                if (fstat(EXEC_STDIO_FD(k), &st) < 0)
                        return worker_result(errno, "Bad exec request: no stdio fd %i.", k);
                if (!stat_is_devnull(&st))
                        continue;
                if (dup2(dummy[k == 0 ? 0 : 1], EXEC_STDIO_FD(k)) < 0)
                        return worker_result(errno, "Failed to replace /dev/null: %m");
                x->devnull[k] = true;
        }
        return EXIT_SUCCESS;
}

/* Reports "running <pid>", reaps the process, reports "exited <status> <signal>" and the result. */
static int exec_report_and_wait(pid_t pid) {
        int r, status;

        /* With a pidfd of it: the process is our child and unreaped until we say "exited", so the pidfd
         * is of this process, and the daemon signals it through that, never by a pid that may be reused
         * once we reaped it. */
        _cleanup_close_ int pidfd = pidfd_open(pid, 0);
        /* Without the pidfd (old kernel) the daemon falls back to the pid. */
        r = worker_send_message_fds(&(WorkerMessage) { .kind = WORKER_MESSAGE_RUNNING, .pid = pid }, &pidfd,
                                    pidfd >= 0 ? 1 : 0);
        if (r < 0 && pidfd >= 0)
                return worker_result(-r, "Failed to report the process.");
        pidfd = safe_close(pidfd);

        for (;;) {
                if (waitpid(pid, &status, 0) >= 0)
                        break;
                if (errno != EINTR)
                        return worker_result(errno, "Failed to wait for the command: %m");
        }
        if (WIFSIGNALED(status))
                (void) worker_send_message(&(WorkerMessage) { .kind = WORKER_MESSAGE_EXITED, .status = -1,
                                                              .signal = WTERMSIG(status) });
        else
                (void) worker_send_message(&(WorkerMessage) { .kind = WORKER_MESSAGE_EXITED,
                                                              .status = WEXITSTATUS(status) });
        return worker_result(0, "exited");
}

/* exec: attach, report "running <pid>", wait, report "exited <status> <signal>". Without a pty the
 * caller's stdio arrived as fds 4, 5, 6 (see ExecStdio); with one, make a pty in the instance and send its
 * master first ("pty" with the fd). The attached process is our child (liblxc clones it with
 * CLONE_PARENT), so we reap it. */
static int do_exec(const WorkerRequest *req, struct lxc_container *c) {
        const WorkerExecArgs *a = &req->exec;
        lxc_attach_options_t opts = LXC_ATTACH_OPTIONS_DEFAULT;
        ExecStdio x = {};
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        _cleanup_close_pair_ int dummy[2] = { -EBADF, -EBADF };
        const bool pty = a->pty;
        pid_t pid;
        int r;

        opts.env_policy = LXC_ATTACH_CLEAR_ENV;
        opts.extra_env_vars = a->env;
        opts.initial_cwd = (char *) a->cwd;
        opts.uid = a->uid;
        opts.gid = a->gid;
        if (pty) {
                pid_t init = c->init_pid(c);
                if (init <= 0)
                        return worker_result(ESRCH, "Instance '%s' is not running.", req->name);
                r = open_instance_pty(init, a->rows, a->cols, &master, &slave);
                if (r < 0)
                        return worker_result(-r, "Failed to allocate a terminal in '%s': %s", req->name,
                                             strerror(-r));
                opts.stdin_fd = opts.stdout_fd = opts.stderr_fd = slave;
        } else {
                r = exec_prepare_stdio(&x, dummy);
                if (r != EXIT_SUCCESS)
                        return r;
                opts.stdin_fd = dummy[0];
                opts.stdout_fd = opts.stderr_fd = dummy[1];
        }
        x.cmd.program = a->argv[0];
        x.cmd.argv = a->argv;

        /* The attached process must not inherit our ignored SIGPIPE, nor our socket to the daemon
         * (liblxc closes nothing it is not asked to). */
        (void) fcntl(worker_fd, F_SETFD, FD_CLOEXEC);
        /* "running" means the command has been executed: the attached process inherits the write end
         * of a close-on-exec pipe, which reads EOF here once it executed (or died trying). */
        _cleanup_close_pair_ int execed[2] = { -EBADF, -EBADF };
        if (pipe2(execed, O_CLOEXEC) < 0)
                return worker_result(errno, "Failed to create a pipe: %m");
        (void) signal(SIGPIPE, SIG_DFL);
        trace_event("exec-attach", req->name);
        if (pty)
                r = c->attach(c, exec_in_session, &x.cmd, &opts, &pid);
        else
                r = c->attach(c, exec_with_stdio, &x, &opts, &pid);
        (void) signal(SIGPIPE, SIG_IGN);
        /* Whether it runs is asked only now: the daemon found it running under the instance's lock, and a
         * round trip to its monitor before every attach (which asks it the init pid anyway) costs more
         * than the answer is worth on the way that succeeds. */
        if (r < 0 && !c->is_running(c))
                return worker_result(ESRCH, "Instance '%s' is not running.", req->name);
        if (r < 0)
                return worker_result(EIO, "Failed to run a command in '%s'.", req->name);
        execed[1] = safe_close(execed[1]);
        for (char b;;) {
                ssize_t k = read(execed[0], &b, 1);
                if (k == 0 || (k < 0 && errno != EINTR))
                        break;
        }
        /* Our copies of the stdio fds: the process has its own now. */
        if (pty) {
                slave = safe_close(slave);
                r = worker_send_message_fds(&(WorkerMessage) { .kind = WORKER_MESSAGE_PTY }, &master, 1);
                if (r < 0)
                        return worker_result(-r, "Failed to hand over the terminal.");
                master = safe_close(master);
        } else {
                for (int k = 0; k < 3; k++)
                        (void) close(EXEC_STDIO_FD(k));
                dummy[0] = safe_close(dummy[0]);
                dummy[1] = safe_close(dummy[1]);
        }
        return exec_report_and_wait(pid);
}

/* console: a terminal of the instance from its monitor (TTY 0 is the console). Sends
 * "console <tty>" with two fds: the one that keeps the terminal allocated while held, and the ptx. */
static int do_console(const WorkerRequest *req, struct lxc_container *c) {
        int tty = (int) req->console.tty, ptx = -EBADF, keep, r;

        keep = c->console_getfd(c, &tty, &ptx);
        if (keep < 0)
                return worker_result(EBUSY,
                                     "Terminal %u of '%s' is not available (in use, or no such terminal).",
                                     req->console.tty, req->name);
        int fds[2] = { keep, ptx };
        r = worker_send_message_fds(&(WorkerMessage) { .kind = WORKER_MESSAGE_CONSOLE, .tty = tty }, fds, 2);
        if (r < 0)
                return worker_result(-r, "Failed to hand over the terminal.");
        return worker_result(0, "console");
}

/* destroy: renames the instance directory into trash_dir, then removes it. */
static int do_destroy(const WorkerRequest *req, struct lxc_container *none) {
        _cleanup_free_ char *dir = NULL, *trash = NULL;
        int r;

        if (asprintf(&dir, "%s/%s", req->lxcpath, req->name) < 0 ||
            asprintf(&trash, "%s/.deleted-%s-%i", req->destroy.trash_dir, req->name, (int) getpid()) < 0)
                return worker_result(ENOMEM, "Out of memory.");

        /* Rename first: from this point the instance is gone, even if the removal is interrupted
         * (the daemon empties the trash when it starts). */
        worker_progress(0.1, "removing");
        if (rename(dir, trash) < 0) {
                if (errno == ENOENT)
                        return worker_result(0, "already gone");
                return worker_result(errno, "Failed to remove '%s': %m", dir);
        }
        (void) fsync_directory_of(dir);
        r = rm_rf(trash);
        if (r < 0)
                return worker_result(-r, "Failed to remove '%s': %s", trash, strerror(-r));
        return worker_result(0, "deleted");
}

static void copy_progress(double fraction, uint64_t files, uint64_t bytes, void *userdata) {
        char text[128];

        snprintf(text, sizeof text, "copying: %" PRIu64 " files, %" PRIu64 " bytes", files, bytes);
        worker_progress(fraction, text);
        worker_report_bytes(bytes, 0);      /* the fraction is the progress message's */
}

/* copy: the tree copy.source becomes lxcpath/name (copy.c). A leftover of the same name goes first. */
static int do_copy(const WorkerRequest *req, struct lxc_container *none) {
        const WorkerCopyArgs *a = &req->copy;
        CopyShift shift = { a->from_uid, a->from_gid, a->to_uid, a->to_gid, a->count };
        _cleanup_close_ int dir = -EBADF;
        _cleanup_free_ char *failed = NULL;
        int r;

        /* Only the daemon that started us can use the copy: a new one removes what we fill at its start,
         * and we must not go on writing into that. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
                return worker_result(ECANCELED, "The daemon is gone.");
        /* The rootfs of an overlay clone (a snapshot's directory has no config): its merged tree. */
        size_t n = strlen(a->source);
        if (n > strlen("/rootfs") && streq(a->source + n - strlen("/rootfs"), "/rootfs")) {
                _cleanup_free_ char *instance_dir = strndup(a->source, n - strlen("/rootfs"));
                if (!instance_dir)
                        return worker_result(ENOMEM, "Out of memory.");
                r = overlay_mount_rootfs(instance_dir);
                if (r < 0)
                        return worker_result(-r, "Failed to mount the overlay of '%s': %s", instance_dir,
                                             strerror(-r));
        }
        dir = open(req->lxcpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return worker_result(errno, "Failed to open '%s': %m", req->lxcpath);
        r = rm_rf_at(dir, req->name);
        if (r < 0 && r != -ENOENT)
                return worker_result(-r, "Failed to remove the leftover '%s/%s': %s", req->lxcpath,
                                     req->name, strerror(-r));
        r = copy_tree(a->source, dir, req->name, &shift, copy_progress, NULL, &failed);
        if (r == -ELOOP)
                return worker_result(-r, "Failed to copy '%s': its tree is too deep (at '%s').", a->source,
                                     strempty(failed));
        if (r == -EXDEV)
                return worker_result(-r, "Failed to copy '%s': '%s' is a mount point.", a->source,
                                     strempty(failed));
        if (r < 0)
                return worker_result(-r, "Failed to copy '%s'%s%s%s: %s", a->source, failed ? " (at '" : "",
                                     strempty(failed), failed ? "')" : "", strerror(-r));
        /* The daemon renames the copy into place next: its data must be on disk before the name is. */
        worker_progress(1.0, "syncing");
        if (syncfs(dir) < 0)
                return worker_result(errno, "Failed to sync the copy of '%s': %m", a->source);
        return worker_result(0, "copied");
}

static const WorkerHandler handlers[_WORKER_VERB_MAX] = {
        [WORKER_VERB_CREATE] = { do_create, false },
        [WORKER_VERB_STOP] = { do_stop, true },
        [WORKER_VERB_DESTROY] = { do_destroy, false },
        [WORKER_VERB_CONSOLE] = { do_console, true },
        [WORKER_VERB_EXEC] = { do_exec, true },
        [WORKER_VERB_PUSH_FILE] = { worker_push_file, false },
        [WORKER_VERB_PULL_FILE] = { worker_pull_file, false },
        [WORKER_VERB_COPY] = { do_copy, false },
        [WORKER_VERB_EXPORT] = { do_export, false },
        [WORKER_VERB_IMPORT] = { do_import, false },
        [WORKER_VERB_HOSTNAME] = { worker_set_hostname, false },
};

int worker_main(int argc, char *argv[]) {
        return worker_serve(argc, argv, "lxcbusd-worker", handlers);
}
