/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The start verb: the instance's config for this start, then liblxc's start in the foreground. The process
 * that runs it stays the instance's monitor for the instance's whole life: it is lxcbusd-monitor
 * (monitor.c), which links nothing but liblxc and libc, so that each running instance costs little. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "init-systemd.h"
#include "macro.h"
#include "start.h"
#include "trace.h"
#include "util.h"
#include "worker-core.h"

/* The short name by which this file calls worker-core.c. */
#define result(...) worker_result(__VA_ARGS__)

/* The instance's network replaces whatever the saved config holds (LXC's default.conf at create): one
 * lxc.net.0 as network.* says. Root creates the veth or macvlan for an idmapped instance too, so it needs
 * no lxc-user-nic. */
static int set_network(struct lxc_container *c, const WorkerStartArgs *a) {
        char mtu[16];

        if (!c->clear_config_item(c, "lxc.net") || !c->set_config_item(c, "lxc.net.0.type", a->net_type))
                return -EINVAL;
        if (!a->net_link)
                return 0;
        if (!c->set_config_item(c, "lxc.net.0.link", a->net_link) ||
            !c->set_config_item(c, "lxc.net.0.flags", "up") ||
            !c->set_config_item(c, "lxc.net.0.name", "eth0"))
                return -EINVAL;
        if (streq(a->net_type, "macvlan") && !c->set_config_item(c, "lxc.net.0.macvlan.mode", "bridge"))
                return -EINVAL;
        if (a->net_hwaddr && !c->set_config_item(c, "lxc.net.0.hwaddr", a->net_hwaddr))
                return -EINVAL;
        snprintf(mtu, sizeof mtu, "%u", a->net_mtu);
        if (a->net_mtu > 0 && !c->set_config_item(c, "lxc.net.0.mtu", mtu))
                return -EINVAL;
        return 0;
}

/* The limits systemd cannot apply on a v1 hierarchy (scope-limits.h), on the payload cgroup itself:
 * liblxc writes them before init runs, memory.limit_in_bytes before memsw, which may not be below it. */
static int set_cgroup_limits(struct lxc_container *c, const WorkerStartArgs *a) {
        char memory[32], memsw[32];

        if (a->cgroup_cpus && !c->set_config_item(c, "lxc.cgroup.cpuset.cpus", a->cgroup_cpus))
                return -EINVAL;
        if (a->cgroup_memory == 0)
                return 0;
        /* -1 is v1's "no limit". */
        snprintf(memory, sizeof memory, "%" PRIi64, a->cgroup_memory == UINT64_MAX ? -1 : (int64_t) a->cgroup_memory);
        snprintf(memsw, sizeof memsw, "%" PRIi64, a->cgroup_memsw == UINT64_MAX ? -1 : (int64_t) a->cgroup_memsw);
        if (!c->set_config_item(c, "lxc.cgroup.memory.limit_in_bytes", memory) ||
            !c->set_config_item(c, "lxc.cgroup.memory.memsw.limit_in_bytes", memsw))
                return -EINVAL;
        return 0;
}

/* start: waits for "go", then runs the container in the foreground, as its monitor. */
int worker_start(const WorkerRequest *req, struct lxc_container *c) {
        _cleanup_free_ char *hook = NULL, *console_log = NULL;
        char buf[64], fdstr[16], pidstr[16];
        ssize_t k;

        /* The hook sits beside us: lxcbusd-start-hook. */
        const char *slash = strrchr(worker_path, '/');
        if (!slash)
                return result(EINVAL, "The worker needs to know its own path.");
        if (asprintf(&hook, "%.*s/lxcbusd-start-hook", (int) (slash - worker_path), worker_path) < 0)
                return result(ENOMEM, "Out of memory.");
        /* liblxc reads lxc.cgroup.dir relative to the cgroup root: the delegated scope
         * (tests/testhost/README.md). */
        /* What the console prints goes to console.log beside the config (ConsoleLog), rotated at
         * 128 KiB: it outlives the monitor, and reading it consumes nothing. */
        if (asprintf(&console_log, "%s/%s/console.log", req->lxcpath, req->name) < 0)
                return result(ENOMEM, "Out of memory.");
        if (!c->set_config_item(c, "lxc.cgroup.dir", req->start.cgroup_dir) ||
            !c->set_config_item(c, "lxc.hook.start-host", hook) ||
            !c->set_config_item(c, "lxc.console.logfile", console_log) ||
            !c->set_config_item(c, "lxc.console.size", "131072") ||
            !c->set_config_item(c, "lxc.console.rotate", "1") ||
            (req->start.systemd && init_systemd_setup(c) < 0))
                return result(EINVAL, "Failed to set up the start of '%s'.", req->name);
        if (set_network(c, &req->start) < 0)
                return result(EINVAL, "Failed to set up the network of '%s'.", req->name);
        if (set_cgroup_limits(c, &req->start) < 0)
                return result(EINVAL, "Failed to set up the cgroup limits of '%s'.", req->name);
        snprintf(fdstr, sizeof fdstr, "%i", worker_fd);
        snprintf(pidstr, sizeof pidstr, "%i", (int) getpid());
        if (setenv("LXCBUS_NOTIFY_FD", fdstr, 1) < 0 || setenv("LXCBUS_MONITOR_PID", pidstr, 1) < 0)
                return result(errno, "Failed to set up the start notification.");
        /* An idmapped instance: liblxc writes the id maps with shadow's newuidmap whenever it finds it
         * on $PATH, and newuidmap allows root only the ranges /etc/subuid gives to root. The block is
         * lxcbus's (allocated from user lxcbus's lines, which is also what keeps useradd from handing
         * it out, the reason liblxc insists on newuidmap): without $PATH liblxc writes the maps
         * itself, as root may. Nothing else the monitor runs needs $PATH (the hook is absolute), and
         * liblxc gives init a fresh environment. */
        if (c->get_config_item(c, "lxc.idmap", NULL, 0) > 0)
                (void) unsetenv("PATH");

        /* Wait until the daemon has the scope realized with us in it (sequence B). */
        trace_event("worker-ready", req->name);
        k = recv(worker_fd, buf, sizeof buf - 1, 0);
        if (k <= 0)
                return EXIT_FAILURE;
        buf[k] = 0;
        if (!streq(buf, WORKER_MESSAGE_GO))
                return result(ECANCELED, "Start of '%s' was cancelled.", req->name);
        trace_event("worker-go", req->name);

        /* The container's init inherits ignored signals: give it SIGPIPE's default back. Then no
         * stdio of ours may be a pipe or socket whose reader can go away (the daemon's journal
         * stream): the monitor outlives the daemon and must not die of SIGPIPE. Failures still
         * come back in the result message. */
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
            dup2(null, STDERR_FILENO) < 0)
                return result(errno, "Failed to set up the monitor of '%s'.", req->name);
        safe_close(null);
        (void) signal(SIGPIPE, SIG_DFL);
        c->want_daemonize(c, false);
        /* liblxc would close fd 3 in the monitor too, and the start hook needs it there. No process of
         * the instance may ever hold a socket to the daemon: close-on-exec, so the container's init
         * (and the hook) never inherit it; the hook takes a copy from us with pidfd_getfd(). */
        if (fcntl(worker_fd, F_SETFD, FD_CLOEXEC) < 0)
                return result(errno, "Failed to set up the monitor of '%s'.", req->name);
        c->want_close_all_fds(c, false);
        bool ok = c->start(c, 0, NULL);
        trace_event("monitor-done", req->name);
        if (!ok)
                return result(EIO, "Failed to start '%s'%s%s", req->name, c->error_string ? ": " : ".",
                              strempty(c->error_string));
        return result(0, "stopped");
}
