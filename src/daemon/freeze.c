/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Freezing an instance's processes (freeze.h): a write to the payload cgroup's freezer and a wait for the
 * kernel to get there, polled on the event loop with a timer; no worker needed, nothing blocks. */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "freeze.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "util.h"

/* A v1 freezer can stay FREEZING forever (a task in vfork): like runc, thaw and retry every few checks,
 * and on the final timeout thaw, so that the state we report is the true one. */
#define FREEZE_RETRY_EVERY 11   /* checks: the first retry after about 0.2 s */
#define HOLD_DIR "frozen"

static void freeze_finish(Operation *o, int error) {
        void (*done)(Operation *o, int error) = o->freeze.done;

        o->freeze.done = NULL;
        if (done)
                done(o, error);
}

static int freeze_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Operation *o = userdata;
        Instance *i = o->freeze.instance;
        bool freeze = o->freeze.freeze;
        uint64_t delay;
        int r;

        r = cgroup_freezer_get(i->unit_name, i->name);
        if (r == (freeze ? 1 : 0)) {
                freeze_finish(o, 0);
                return 0;
        }
        if (r < 0 && r != -EAGAIN) {
                freeze_finish(o, r);
                return 0;
        }
        if (now_usec(CLOCK_MONOTONIC) >= o->freeze.deadline) {
                if (freeze)
                        (void) cgroup_freezer_set(i->unit_name, i->name, false);
                freeze_finish(o, -ETIMEDOUT);
                return 0;
        }
        o->freeze.attempts++;
        if (freeze && o->freeze.attempts % FREEZE_RETRY_EVERY == 0) {
                (void) cgroup_freezer_set(i->unit_name, i->name, false);
                (void) cgroup_freezer_set(i->unit_name, i->name, true);
        } else if (!freeze)
                (void) cgroup_freezer_set(i->unit_name, i->name, false);
        /* 0.125, 0.25, 0.5 ... 64 ms between checks: a v1 freezer is mostly FROZEN a fraction of a
         * millisecond after the write, and a Freeze+Unfreeze takes about a millisecond in all. */
        delay = (USEC_PER_MSEC / 8) << (o->freeze.attempts < 10 ? o->freeze.attempts - 1 : 9);
        r = operation_arm_timeout(o, delay, freeze_check);
        if (r < 0)
                freeze_finish(o, r);
        return 0;
}

void freeze_wait(Operation *o, Instance *i, bool freeze, void (*done)(Operation *o, int error)) {
        int r;

        assert(o);
        assert(i);
        assert(done);

        o->freeze.deadline = now_usec(CLOCK_MONOTONIC) + FREEZE_TIMEOUT_USEC;
        o->freeze.attempts = 0;
        o->freeze.freeze = freeze;
        o->freeze.done = done;
        if (!o->freeze.instance)
                o->freeze.instance = i;         /* Freeze and Unfreeze: o->instance, referenced by o */
        r = cgroup_freezer_set(i->unit_name, i->name, freeze);
        if (r < 0) {
                freeze_finish(o, r);
                return;
        }
        (void) freeze_check(NULL, 0, o);
}

/* ---------------------------------------------------------------- the hold */

static char *hold_marker(Instance *i) {
        char *p;

        if (asprintf(&p, "%s/" HOLD_DIR "/%s", i->manager->runtime_dir, i->name) < 0)
                return NULL;
        return p;
}

/* Written before the freezer is: a daemon killed at any later point finds it. */
static int hold_mark(Instance *i) {
        _cleanup_free_ char *dir = NULL, *p = hold_marker(i);

        if (!p || asprintf(&dir, "%s/" HOLD_DIR, i->manager->runtime_dir) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        return write_file_atomic(p, "", 0, 0600);
}

static void hold_unmark(Instance *i) {
        _cleanup_free_ char *p = hold_marker(i);

        if (p && unlink(p) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove '%s', ignoring: %m", p);
}

static void on_held(Operation *o, int error) {
        Instance *i = o->freeze.instance;

        if (error >= 0) {
                instance_set_state(i, INSTANCE_FROZEN);
                instance_log(i, INSTANCE_EVENT_FROZEN, "Instance '%s' frozen for the %s.", i->name,
                             operation_kind_to_string(o->kind));
        } else
                freeze_release(o);
        o->freeze.ready(o, error);
}

void freeze_hold(Instance *i, Operation *o, void (*ready)(Operation *o, int error)) {
        int r;

        assert(i);
        assert(o);
        assert(ready);
        assert(!o->freeze.hold);

        o->freeze.instance = instance_ref(i);
        o->freeze.hold = true;
        o->freeze.ready = ready;
        operation_set_progress(o, 0.0, "freezing");
        r = hold_mark(i);
        if (r < 0) {
                on_held(o, r);
                return;
        }
        freeze_wait(o, i, true, on_held);
}

void freeze_release(Operation *o) {
        Instance *i = ASSERT_PTR(o)->freeze.instance;
        int r;

        if (!o->freeze.hold)
                return;
        o->freeze.hold = false;
        o->freeze.done = NULL;
        /* Thawing is immediate for the kernel's freezer; the state is not waited for. ENOENT: the
         * instance stopped meanwhile (killed from outside). */
        r = cgroup_freezer_set(i->unit_name, i->name, false);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to thaw instance '%s': %m", i->name);
        hold_unmark(i);
        if (i->state == INSTANCE_FROZEN) {
                instance_set_state(i, INSTANCE_RUNNING);
                instance_log(i, INSTANCE_EVENT_THAWED, "Instance '%s' thawed after the %s.", i->name,
                             operation_kind_to_string(o->kind));
        }
        o->freeze.instance = instance_unref(i);
}

int freeze_recover(Instance *i, bool frozen) {
        _cleanup_free_ char *p = hold_marker(i);
        int r;

        assert(i);

        if (!p || access(p, F_OK) < 0)
                return frozen;
        /* A hold's marker: the daemon was killed while a copy, snapshot or export held the instance. */
        if (frozen) {
                r = cgroup_freezer_set(i->unit_name, i->name, false);
                if (r < 0) {
                        log_warning_errno(r, "Failed to thaw instance '%s', left frozen: %m", i->name);
                        return 1;
                }
                log_info("Thawed instance '%s', frozen by an operation of a daemon that was killed.", i->name);
        }
        hold_unmark(i);
        return 0;
}
