/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's model without a bus, in the manner of systemd's test-machined-core.c: a manager on a
 * temporary state directory, instances loaded from disk and added, operations started, locked,
 * finished and expired, with hooks that record what a bus face would have sent. Nothing here needs
 * liblxc, systemd or a running container: the steps that do (start, stop) are the integration
 * suite's. */
#include <linux/openat2.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "bus-errors.h"
#include "bus-limits.h"
#include "exec.h"
#include "instance.h"
#include "manager.h"
#include "operation.h"
#include "snapshot.h"
#include "tests.h"
#include "util.h"
#include "worker.h"

/* ---------------------------------------------------------------- what the hooks saw */

#define EVENTS_MAX 1024
static char *events[EVENTS_MAX];
static size_t n_events;

static void event_add(const char *what, const char *name) {
        char *e;

        if (n_events >= EVENTS_MAX || asprintf(&e, "%s %s", what, name) < 0)
                abort();
        events[n_events++] = e;
}

static void events_clear(void) {
        for (size_t k = 0; k < n_events; k++)
                free(events[k]);
        n_events = 0;
}

/* The index of the event, or -1. */
static int event_find(const char *what, const char *name) {
        char want[256];

        snprintf(want, sizeof want, "%s %s", what, name);
        for (size_t k = 0; k < n_events; k++)
                if (streq(events[k], want))
                        return (int) k;
        return -1;
}

static void on_instance_added(Instance *i) { event_add("instance-added", i->name); }
static void on_instance_removed(Instance *i) { event_add("instance-removed", i->name); }
static void on_operation_added(Operation *o) { event_add("operation-added", o->path); }
static void on_operation_finished(Operation *o) {
        /* The properties were flushed before: nothing of the operation is dirty any more. */
        event_add(o->dirty == 0 ? "operation-finished" : "operation-finished-dirty", o->path);
}
static void on_operation_removed(Operation *o) { event_add("operation-removed", o->path); }
/* The flushes that sent an operation's progress, and what the last one sent. */
static unsigned progress_flushes;
static uint32_t last_flushed_props;
static uint64_t last_flushed_bytes;

static void on_flush(Manager *m) {
        for (Instance *i = m->instances; i; i = i->next)
                i->dirty = 0;
        for (Operation *o = m->operations; o; o = o->next) {
                if (o->dirty & (OPERATION_PROP_PROGRESS | OPERATION_PROP_BYTES | OPERATION_PROP_STAGE)) {
                        progress_flushes++;
                        last_flushed_props = o->dirty;
                        last_flushed_bytes = o->bytes;
                }
                o->dirty = 0;
        }
        m->dirty_instances = m->dirty_operations = false;
        event_add("flush", "");
}

static const ManagerHooks test_hooks = {
        .instance_added = on_instance_added,
        .instance_removed = on_instance_removed,
        .operation_added = on_operation_added,
        .operation_finished = on_operation_finished,
        .operation_removed = on_operation_removed,
        .flush = on_flush,
};

/* ---------------------------------------------------------------- a manager on a temporary directory */

static char *state_dir;

static void write_instance(const char *name, uid_t owner, const char *json) {
        _cleanup_free_ char *dir = NULL, *path = NULL;

        ASSERT_TRUE(asprintf(&dir, "%s/instances/%s", state_dir, name) > 0);
        ASSERT_OK(mkdir_p(dir, 0700));
        ASSERT_TRUE(asprintf(&path, "%s/" METADATA_FILE, dir) > 0);
        if (json) {
                _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                ASSERT_TRUE(fd >= 0);
                ASSERT_EQ(write(fd, json, strlen(json)), (ssize_t) strlen(json));
                return;
        }
        InstanceMetadata md = { .name = (char *) name, .owner = owner, .created_at = 1, .generation = 1 };
        ASSERT_OK(instance_metadata_save(&md, path));
}

/* A ready manager with instances "alpha" (root's), "beta" (uid 1000's) and a broken "gamma". */
static Manager *manager_setup(void) {
        Manager *m;

        state_dir = tests_make_tmpdir("test-model");
        write_instance("beta", 1000, NULL);
        write_instance("alpha", 0, NULL);
        write_instance("gamma", 0, "{ not json");
        ASSERT_OK(manager_new(&m));
        ASSERT_TRUE(asprintf(&m->state_dir, "%s", state_dir) > 0);
        ASSERT_TRUE(asprintf(&m->runtime_dir, "%s/run", state_dir) > 0);
        m->hooks = &test_hooks;
        m->operation_linger_usec = 10 * USEC_PER_MSEC;
        ASSERT_OK(manager_startup(m));
        manager_set_ready(m);
        return m;
}

static void manager_teardown(Manager *m) {
        manager_free(m);
        events_clear();
        ASSERT_OK(rm_rf(state_dir));
        state_dir = mfree(state_dir);
}

/* Runs the loop until cond() holds, for a second at most. */
static bool run_until(Manager *m, bool (*cond)(Manager *m)) {
        for (unsigned k = 0; k < 1000 && !cond(m); k++)
                ASSERT_OK(sd_event_run(m->event, 1000));
        return cond(m);
}

static bool strv_contains(char **l, const char *s) {
        STRV_FOREACH(x, l)
                if (streq(*x, s))
                        return true;
        return false;
}

/* ---------------------------------------------------------------- tests */

TEST(startup_loads_instances_sorted_and_lists_the_broken_one) {
        Manager *m = manager_setup();
        Instance *a, *b, *g;

        ASSERT_EQ(m->n_instances, 3);
        ASSERT_STREQ(m->instances->name, "alpha");
        ASSERT_STREQ(m->instances->next->name, "beta");
        ASSERT_STREQ(m->instances->next->next->name, "gamma");
        a = manager_find_instance(m, "alpha");
        b = manager_find_instance(m, "beta");
        g = manager_find_instance(m, "gamma");
        ASSERT_NOT_NULL(a);
        ASSERT_EQ(b->md.owner, 1000);
        ASSERT_EQ(a->state, INSTANCE_STOPPED);
        ASSERT_EQ(g->state, INSTANCE_ERROR);
        ASSERT_NOT_NULL(g->load_error);
        ASSERT_STREQ(a->unit_name, "lxcbus-alpha.scope");
        ASSERT_STREQ(a->path, "/org/lxcbus1/instance/alpha");
        ASSERT_TRUE(a->incarnation != b->incarnation);
        /* Loaded before the manager was ready: nothing announced. */
        ASSERT_EQ(event_find("instance-added", "alpha"), -1);
        ASSERT_EQ(manager_instances_of(m, 1000), 1);
        manager_teardown(m);
}

TEST(instances_added_and_removed_once_ready_reach_the_hooks) {
        Manager *m = manager_setup();
        InstanceMetadata md = { .owner = 0, .generation = 1 };
        Instance *i;

        md.name = strdup("aaa");
        ASSERT_OK(instance_new(m, &md, &i));
        manager_add_instance(m, i);
        ASSERT_STREQ(m->instances->name, "aaa");
        ASSERT_TRUE(event_find("instance-added", "aaa") >= 0);
        ASSERT_TRUE(m->dirty_instances);
        manager_flush_changes(m);
        ASSERT_FALSE(m->dirty_instances);

        instance_unlink(i);
        ASSERT_TRUE(event_find("instance-removed", "aaa") >= 0);
        ASSERT_NULL(manager_find_instance(m, "aaa"));
        ASSERT_EQ(m->n_instances, 3);
        manager_teardown(m);
}

TEST(one_operation_at_a_time_holds_an_instance) {
        Manager *m = manager_setup();
        Instance *a = manager_find_instance(m, "alpha");
        Operation *o;

        ASSERT_EQ(instance_busy(a), INSTANCE_IDLE);
        ASSERT_OK(operation_new(m, OPERATION_FREEZE, a, a->name, 0, true, &o));
        ASSERT_TRUE(event_find("operation-added", o->path) >= 0);
        ASSERT_STREQ(o->instance_path, a->path);
        instance_lock(a, o);
        ASSERT_EQ(instance_busy(a), INSTANCE_BUSY_OPERATION);
        ASSERT_TRUE(a->lock == o);

        /* Finishing releases the lock and the slot, flushes, then tells the bus face. */
        operation_fail(o, -ETIMEDOUT, "took %u s", 10U);
        ASSERT_NULL(a->lock);
        ASSERT_EQ(instance_busy(a), INSTANCE_IDLE);
        ASSERT_EQ(o->status, OPERATION_FAILURE);
        ASSERT_STREQ(o->error_name, LXCBUS_ERROR_TIMEOUT);
        ASSERT_STREQ(o->error_message, "took 10 s");
        ASSERT_EQ(limiter_count(&m->operation_limits, 0), 0);
        ASSERT_TRUE(event_find("operation-finished", o->path) > event_find("flush", ""));

        /* A second finish changes nothing. */
        operation_finish(o, NULL, NULL);
        ASSERT_EQ(o->status, OPERATION_FAILURE);

        /* A state on the way is busy too. */
        a->state = INSTANCE_STOPPING;
        ASSERT_EQ(instance_busy(a), INSTANCE_BUSY_TRANSITION);
        a->state = INSTANCE_STOPPED;
        manager_teardown(m);
}

static bool no_operations(Manager *m) {
        return !m->operations;
}

TEST(finished_operations_linger_then_go) {
        Manager *m = manager_setup();
        Operation *o;
        char path[64];

        ASSERT_OK(operation_new(m, OPERATION_START, NULL, "alpha", 1000, true, &o));
        snprintf(path, sizeof path, "%s", o->path);
        operation_set_progress(o, 0.5, "half way");
        ASSERT_TRUE(o->progress_valid);
        ASSERT_STREQ(o->stage, "half way");
        ASSERT_TRUE(o->dirty & OPERATION_PROP_STAGE);
        /* Out of range: the stage changes, the progress does not. */
        operation_set_progress(o, 2.0, "beyond");
        ASSERT_TRUE(o->progress == 0.5);
        operation_finish(o, NULL, NULL);
        ASSERT_EQ(o->status, OPERATION_SUCCESS);
        ASSERT_TRUE(o->progress == 1.0);
        ASSERT_TRUE(o->finished_at >= o->created_at);
        ASSERT_TRUE(manager_find_operation(m, o->id) == o);

        ASSERT_TRUE(run_until(m, no_operations));
        ASSERT_TRUE(event_find("operation-removed", path) >= 0);
        manager_teardown(m);
}

/* A worker that reports every millisecond for a second: at most about 10 signals, Rate over the recent
 * past, the last report sent once the throttle is over, and the final values with the Status. */
TEST(progress_is_throttled_and_the_final_values_go_with_the_status) {
        Manager *m = manager_setup();
        uint64_t start, bytes = 0;
        int enabled;
        Operation *o;

        ASSERT_OK(operation_new(m, OPERATION_EXPORT, NULL, "alpha", 0, true, &o));
        operation_set_progress(o, 0.0, "exporting");
        ASSERT_TRUE(o->dirty & OPERATION_PROP_STAGE);     /* the first change goes at once */
        manager_flush_changes(m);
        progress_flushes = 0;
        start = now_usec(CLOCK_MONOTONIC);
        while (now_usec(CLOCK_MONOTONIC) - start < USEC_PER_SEC) {
                bytes += 1000;
                operation_set_bytes(o, bytes, 0);
                ASSERT_OK(sd_event_run(m->event, USEC_PER_MSEC));
        }
        ASSERT_TRUE(progress_flushes >= 5 && progress_flushes <= 11);
        /* A steady stream: the rate of the last seconds is about the average. */
        uint64_t average = bytes * USEC_PER_SEC / (now_usec(CLOCK_MONOTONIC) - start);
        ASSERT_TRUE(o->rate > average / 2 && o->rate < average * 2);
        ASSERT_TRUE(last_flushed_props & OPERATION_PROP_BYTES);
        ASSERT_FALSE(last_flushed_props & OPERATION_PROP_PROGRESS);   /* total 0: Progress unknown */

        /* A smaller count is a late message: Bytes stays monotonic. */
        operation_set_bytes(o, 10, 0);
        ASSERT_EQ(o->bytes, bytes);
        /* The last report goes out when the throttle is over, and the timer is off again. (If the last
         * count of the loop went out at once, the late one above armed the timer anew: a loaded machine
         * makes that likely, so wait for both.) */
        for (unsigned k = 0; k < 300; k++) {
                ASSERT_OK(sd_event_source_get_enabled(o->throttle_source, &enabled));
                if (last_flushed_bytes == bytes && enabled == SD_EVENT_OFF)
                        break;
                ASSERT_OK(sd_event_run(m->event, USEC_PER_MSEC));
        }
        ASSERT_EQ(last_flushed_bytes, bytes);
        ASSERT_OK(sd_event_source_get_enabled(o->throttle_source, &enabled));
        ASSERT_EQ(enabled, SD_EVENT_OFF);

        /* A report just before the end waits for no throttle: it goes with the Status, Rate 0. */
        operation_set_bytes(o, bytes + 500, 1000 + bytes);
        operation_set_bytes(o, bytes + 1000, 1000 + bytes);
        operation_finish(o, NULL, NULL);
        ASSERT_EQ(last_flushed_bytes, bytes + 1000);
        ASSERT_EQ(last_flushed_props & (OPERATION_PROP_STATUS | OPERATION_PROP_PROGRESS | OPERATION_PROP_BYTES),
                  OPERATION_PROP_STATUS | OPERATION_PROP_PROGRESS | OPERATION_PROP_BYTES);
        ASSERT_EQ(o->rate, 0);
        ASSERT_TRUE(o->progress == 1.0);
        ASSERT_EQ(o->throttled, 0);
        manager_teardown(m);
}

TEST(operation_limits_hold_for_users_and_leave_root_its_reserve) {
        Manager *m = manager_setup();
        Operation *o;
        uid_t uid = 2000;

        for (unsigned k = 0; k < OPERATIONS_PER_UID_MAX; k++)
                ASSERT_OK(operation_new(m, OPERATION_START, NULL, "alpha", uid, true, &o));
        ASSERT_EQ(limiter_check(&m->operation_limits, uid), LIMITER_UID_FULL);
        ASSERT_ERROR(operation_new(m, OPERATION_START, NULL, "alpha", uid, true, &o), EUSERS);
        /* The daemon's own work is never refused. */
        ASSERT_OK(operation_new(m, OPERATION_DELETE, NULL, "alpha", 0, false, &o));

        for (uid = 2001; uid < 2001 + (OPERATIONS_MAX - OPERATIONS_ROOT_RESERVE) / OPERATIONS_PER_UID_MAX - 1; uid++)
                for (unsigned k = 0; k < OPERATIONS_PER_UID_MAX; k++)
                        ASSERT_OK(operation_new(m, OPERATION_START, NULL, "alpha", uid, true, &o));
        ASSERT_EQ(limiter_check(&m->operation_limits, 9999), LIMITER_USERS_FULL);
        ASSERT_EQ(limiter_check(&m->operation_limits, 0), LIMITER_ALLOWED);
        for (unsigned k = 0; k < OPERATIONS_ROOT_RESERVE; k++)
                ASSERT_OK(operation_new(m, OPERATION_START, NULL, "alpha", 0, true, &o));
        ASSERT_EQ(limiter_check(&m->operation_limits, 0), LIMITER_FULL);

        /* Freed operations give their slots back. */
        while (m->operations)
                operation_free(m->operations);
        ASSERT_EQ(m->operation_limits.n, 0);
        ASSERT_EQ(m->operation_limits.n_users, 0);
        manager_teardown(m);
}

TEST(finished_operations_are_bounded) {
        Manager *m = manager_setup();
        Operation *o, *first = NULL;
        unsigned n = 0;

        m->operation_linger_usec = 3600 * USEC_PER_SEC;
        for (unsigned k = 0; k < OPERATIONS_FINISHED_MAX + 5; k++) {
                ASSERT_OK(operation_new(m, OPERATION_STOP, NULL, "alpha", 0, false, &o));
                if (!first)
                        first = o;
                operation_finish_errno(o, k % 2 ? -ECANCELED : 0, "cancelled");
        }
        for (o = m->operations; o; o = o->next)
                n++;
        ASSERT_EQ(n, OPERATIONS_FINISHED_MAX);
        /* The oldest went first, and a cancellation is its own status. */
        ASSERT_NULL(manager_find_operation(m, 1));
        ASSERT_EQ(m->operations->status, OPERATION_SUCCESS);
        ASSERT_EQ(m->operations->next->status, OPERATION_CANCELLED);
        ASSERT_STREQ(m->operations->next->error_name, LXCBUS_ERROR_CANCELLED);
        manager_teardown(m);
}

TEST(freeze_without_a_cgroup_fails_and_releases_the_instance) {
        Manager *m = manager_setup();
        Instance *a = manager_find_instance(m, "alpha");
        Operation *o;

        ASSERT_OK(operation_new(m, OPERATION_FREEZE, a, a->name, 0, true, &o));
        instance_freeze(a, o, true);
        ASSERT_EQ(o->status, OPERATION_FAILURE);
        ASSERT_STREQ(o->error_name, LXCBUS_ERROR_FAILED);
        ASSERT_CONTAINS(o->error_message, "Failed to freeze instance 'alpha'");
        ASSERT_NULL(a->lock);
        ASSERT_EQ(a->state, INSTANCE_STOPPED);
        manager_teardown(m);
}

TEST(config_changes_are_merged_saved_and_kept_only_when_saved) {
        Manager *m = manager_setup();
        Instance *a = manager_find_instance(m, "alpha");
        _cleanup_(config_map_done) ConfigMap set = {}, merged = {}, same = {};
        _cleanup_free_ char *path = NULL;
        InstanceMetadata loaded = {};
        size_t size;

        ASSERT_OK(config_map_set(&set, "description", "a test"));
        ASSERT_OK(config_map_set(&set, "environment.FOO", "bar"));
        ASSERT_EQ(instance_config_merge(a, &set, NULL, &merged, &size), 1);
        ASSERT_OK(instance_config_apply(a, &merged));
        ASSERT_EQ(a->md.generation, 2);
        ASSERT_STREQ(config_map_get(&a->md.config, "description"), "a test");
        ASSERT_TRUE(a->dirty == 0);   /* flushed: the change was sent */

        /* On disk, as a restart would load it. */
        ASSERT_TRUE(asprintf(&path, "%s/instances/alpha/" METADATA_FILE, state_dir) > 0);
        ASSERT_OK(instance_metadata_load(path, &loaded, NULL));
        ASSERT_EQ(loaded.generation, 2);
        ASSERT_STREQ(config_map_get(&loaded.config, "environment.FOO"), "bar");
        instance_metadata_done(&loaded);

        /* The same again: nothing to do. Unsetting works. */
        ASSERT_EQ(instance_config_merge(a, &set, NULL, &same, &size), 0);
        char *unset[] = { (char *) "description", NULL };
        ConfigMap none = {};
        config_map_done(&merged);
        ASSERT_EQ(instance_config_merge(a, &none, unset, &merged, &size), 1);
        ASSERT_NULL(config_map_get(&merged, "description"));
        config_map_done(&merged);

        /* A failed save changes nothing. */
        ASSERT_OK(rm_rf(state_dir));
        ASSERT_EQ(instance_config_merge(a, &none, unset, &merged, &size), 1);
        ASSERT_TRUE(instance_config_apply(a, &merged) < 0);
        ASSERT_EQ(a->md.generation, 2);
        ASSERT_STREQ(config_map_get(&a->md.config, "description"), "a test");
        manager_teardown(m);
}

TEST(config_over_its_bound_is_refused_before_anything_is_written) {
        Manager *m = manager_setup();
        Instance *a = manager_find_instance(m, "alpha");
        _cleanup_(config_map_done) ConfigMap set = {}, merged = {};
        _cleanup_free_ char *big = malloc(LXCBUS_CONFIG_TOTAL_MAX);
        size_t size;

        memset(big, 'x', LXCBUS_CONFIG_TOTAL_MAX - 1);
        big[LXCBUS_CONFIG_TOTAL_MAX - 1] = 0;
        ASSERT_OK(config_map_set(&set, "description", big));
        ASSERT_ERROR(instance_config_merge(a, &set, NULL, &merged, &size), EFBIG);
        ASSERT_EQ(a->md.generation, 1);
        manager_teardown(m);
}

/* Valgrind (3.19) does not know openat2(): the daemon falls back to lstat() there. */
static bool have_openat2(void) {
        struct open_how how = { .flags = O_PATH | O_CLOEXEC };
        int fd = (int) syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);

        if (fd >= 0) {
                close(fd);
                return true;
        }
        return errno != ENOSYS;
}

TEST(an_instance_without_init_cannot_boot) {
        Manager *m = manager_setup();
        Instance *a = manager_find_instance(m, "alpha");
        _cleanup_free_ char *sbin = NULL, *init = NULL;

        ASSERT_ERROR(instance_check_bootable(a), ENOEXEC);
        ASSERT_TRUE(asprintf(&sbin, "%s/instances/alpha/rootfs/sbin", state_dir) > 0);
        ASSERT_OK(mkdir_p(sbin, 0755));
        ASSERT_ERROR(instance_check_bootable(a), ENOEXEC);
        /* An absolute symlink is resolved inside the rootfs, as the instance sees it. */
        ASSERT_TRUE(asprintf(&init, "%s/init", sbin) > 0);
        ASSERT_OK(symlink("/sbin/busybox", init));
        if (have_openat2())
                ASSERT_ERROR(instance_check_bootable(a), ENOEXEC);
        ASSERT_OK(unlink(init));
        _cleanup_close_ int fd = open(init, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(instance_check_bootable(a));
        manager_teardown(m);
}

/* A systemd init is told apart by the file /sbin/init resolves to inside the rootfs, not by its name. */
TEST(a_systemd_init_is_recognized) {
        _cleanup_free_ char *root = NULL, *dir = NULL, *sd = NULL, *init = NULL, *other = NULL;

        /* Before the setup, which the early return would leak (valgrind has no openat2). */
        if (!have_openat2())
                return;

        Manager *m = manager_setup();
        Instance *a = manager_find_instance(m, "alpha");
        ASSERT_TRUE(asprintf(&root, "%s/instances/alpha/rootfs", state_dir) > 0);
        ASSERT_TRUE(asprintf(&dir, "%s/usr/lib/systemd", root) > 0);
        ASSERT_OK(mkdir_p(dir, 0755));
        ASSERT_TRUE(asprintf(&sd, "%s/systemd", dir) > 0);
        _cleanup_close_ int fd = open(sd, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(asprintf(&init, "%s/sbin", root) > 0);
        ASSERT_OK(mkdir_p(init, 0755));
        init = mfree(init);
        ASSERT_TRUE(asprintf(&init, "%s/sbin/init", root) > 0);
        /* Debian's link, absolute and through /lib -> usr/lib: resolved inside. */
        ASSERT_TRUE(asprintf(&other, "%s/lib", root) > 0);
        ASSERT_OK(symlink("usr/lib", other));
        ASSERT_OK(symlink("/lib/systemd/systemd", init));
        ASSERT_EQ(instance_check_bootable(a), INSTANCE_INIT_SYSTEMD);
        /* A link that leaves the rootfs stays inside it, and finds nothing there. */
        ASSERT_OK(unlink(init));
        ASSERT_OK(symlink("../../../../../../../../../../lib/systemd/systemd", init));
        ASSERT_EQ(instance_check_bootable(a), INSTANCE_INIT_SYSTEMD);
        /* Another init, even one called systemd elsewhere. */
        ASSERT_OK(unlink(init));
        other = mfree(other);
        ASSERT_TRUE(asprintf(&other, "%s/sbin/systemd", root) > 0);
        _cleanup_close_ int fd2 = open(other, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        ASSERT_TRUE(fd2 >= 0);
        ASSERT_OK(symlink("systemd", init));
        ASSERT_EQ(instance_check_bootable(a), INSTANCE_INIT_OTHER);
        /* A hard link of systemd's binary is systemd. */
        ASSERT_OK(unlink(init));
        ASSERT_OK(link(sd, init));
        ASSERT_EQ(instance_check_bootable(a), INSTANCE_INIT_SYSTEMD);
        manager_teardown(m);
}

/* An overlay clone's rootfs is a mount point until it starts: its init is in the upper layer, else in
 * the snapshot below. */
TEST(an_overlay_clone_boots_from_either_layer) {
        Manager *m = manager_setup();
        Instance *a = manager_find_instance(m, "alpha");
        _cleanup_free_ char *lower = NULL, *upper = NULL, *init = NULL;

        ASSERT_TRUE(asprintf(&lower, "%s/instances/beta/snapshots/s1/rootfs/sbin", state_dir) > 0);
        ASSERT_TRUE(asprintf(&upper, "%s/instances/alpha/" OVERLAY_UPPER_DIR "/sbin", state_dir) > 0);
        ASSERT_OK(mkdir_p(lower, 0755));
        ASSERT_OK(mkdir_p(upper, 0755));
        a->md.overlay_instance = strdup("beta");
        a->md.overlay_snapshot = strdup("s1");
        ASSERT_ERROR(instance_check_bootable(a), ENOEXEC);
        ASSERT_TRUE(asprintf(&init, "%s/init", lower) > 0);
        _cleanup_close_ int fd = open(init, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(instance_check_bootable(a));
        ASSERT_OK(unlink(init));
        init = mfree(init);
        ASSERT_TRUE(asprintf(&init, "%s/init", upper) > 0);
        _cleanup_close_ int fd2 = open(init, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        ASSERT_TRUE(fd2 >= 0);
        ASSERT_OK(instance_check_bootable(a));
        manager_teardown(m);
}

TEST(exec_environment_layers_ours_the_instance_and_the_call) {
        Manager *m = manager_setup();
        Instance *a = manager_find_instance(m, "alpha");
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *cwd = NULL;
        char *call_env[] = { (char *) "FOO=call", (char *) "HOME=/home/x", NULL };
        int fds[3] = { 0, 1, 2 };

        ASSERT_OK(config_map_set(&a->md.config, "environment.FOO", "instance"));
        ASSERT_OK(config_map_set(&a->md.config, "environment.BAR", "instance"));

        ExecRequest req = { .uid = 1000, .fds = fds };
        ASSERT_OK(exec_environment(a, &req, &env, &cwd));
        ASSERT_TRUE(strv_contains(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        ASSERT_TRUE(strv_contains(env, "HOME=/"));
        ASSERT_TRUE(strv_contains(env, "FOO=instance"));
        ASSERT_FALSE(strv_contains(env, "TERM=xterm"));   /* no pty, no TERM */
        ASSERT_STREQ(cwd, "/");
        env = strv_free(env);
        cwd = mfree(cwd);

        /* The call's over the instance's; a pty gets TERM; HOME is the directory. */
        req = (ExecRequest) { .uid = 0, .env = call_env, .rows = 24, .cols = 80, .term = "vt100" };
        ASSERT_OK(exec_environment(a, &req, &env, &cwd));
        ASSERT_TRUE(strv_contains(env, "FOO=call"));
        ASSERT_TRUE(strv_contains(env, "BAR=instance"));
        ASSERT_TRUE(strv_contains(env, "TERM=vt100"));
        ASSERT_STREQ(cwd, "/home/x");
        ASSERT_EQ(strv_length(env), 5);
        env = strv_free(env);
        cwd = mfree(cwd);

        /* env-clear: none of the instance's; an explicit directory wins. */
        req = (ExecRequest) { .uid = 0, .fds = fds, .env_clear = true, .cwd = "/tmp" };
        ASSERT_OK(exec_environment(a, &req, &env, &cwd));
        ASSERT_FALSE(strv_contains(env, "BAR=instance"));
        ASSERT_TRUE(strv_contains(env, "HOME=/root"));
        ASSERT_STREQ(cwd, "/tmp");
        manager_teardown(m);
}

TEST(names_reserved_by_creates_count_for_their_owner) {
        Manager *m = manager_setup();
        InstanceIdmap ids = { 1000000, 1000000, 65536 };
        _cleanup_free_ SubIdRange *used = NULL;
        size_t n;

        ASSERT_OK(manager_reserve_name(m, "delta", &ids, 1000));
        ASSERT_TRUE(manager_name_reserved(m, "delta"));
        ASSERT_EQ(manager_instances_of(m, 1000), 2);
        ASSERT_OK(manager_used_subids(m, &used, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(used[0].start, 1000000);
        manager_release_name(m, "delta");
        ASSERT_FALSE(manager_name_reserved(m, "delta"));
        ASSERT_EQ(manager_instances_of(m, 1000), 1);
        manager_teardown(m);
}

/* ---------------------------------------------------------------- a real worker */

static char *exited_message;
static int exited_error = 1;

static void on_worker_exited(Worker *w, int error, const char *message, void *userdata) {
        /* As the model's handlers do: the worker goes first, the message is used after. */
        worker_free(w);
        exited_error = error;
        exited_message = strdup(message ?: "(null)");
}

static const WorkerHandlers exit_handlers = { .exited = on_worker_exited };

static bool worker_done(Manager *m) {
        return exited_error != 1;
}

/* A destroy request that fails: its trash directory is a file, and the worker reports ENOTDIR with a
 * message. Strings stay valid until the next call. */
static WorkerRequest failing_destroy(Manager *m) {
        static char trash[PATH_MAX], dir[PATH_MAX];
        sigset_t ss;

        snprintf(trash, sizeof trash, "%s/not-a-directory", state_dir);
        snprintf(dir, sizeof dir, "%s/instances", state_dir);
        _cleanup_close_ int fd = open(trash, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ASSERT_TRUE(fd >= 0);
        /* sd-event's child sources want SIGCHLD blocked, as lxcbusd's main() does. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        ASSERT_OK(sigprocmask(SIG_BLOCK, &ss, NULL));
        free(m->worker_path);
        m->worker_path = strdup(WORKER_PATH);
        return (WorkerRequest) {
                .verb = WORKER_VERB_DESTROY,
                .lxcpath = dir,
                .name = "alpha",
                .destroy.trash_dir = trash,
        };
}

TEST(a_worker_failure_message_outlives_the_worker) {
        Manager *m = manager_setup();
        WorkerRequest req = failing_destroy(m);
        Worker *w;

        exited_error = 1;
        ASSERT_OK(worker_spawn(m, &req, NULL, 0, &exit_handlers, NULL, &w));
        ASSERT_TRUE(run_until(m, worker_done));
        ASSERT_ERROR(exited_error, ENOTDIR);
        ASSERT_CONTAINS(exited_message, "Failed to remove '");
        ASSERT_CONTAINS(exited_message, "/instances/alpha'");
        exited_message = mfree(exited_message);
        manager_teardown(m);
}

static void on_operation_worker_exited(Operation *o, int error, const char *message) {
        /* The worker is gone before its operation hears of it: nothing can reach it any more. */
        ASSERT_NULL(o->worker);
        exited_error = error;
        exited_message = strdup(message ?: "(null)");
        operation_finish_errno(o, error, message);
}

TEST(an_operations_worker_is_freed_before_its_exit_handler_runs) {
        Manager *m = manager_setup();
        WorkerRequest req = failing_destroy(m);
        Operation *o;

        exited_error = 1;
        ASSERT_OK(operation_new(m, OPERATION_DELETE, NULL, "alpha", 0, false, &o));
        ASSERT_OK(operation_spawn_worker(o, &req, NULL, 0, on_operation_worker_exited));
        ASSERT_NOT_NULL(o->worker);
        ASSERT_TRUE(run_until(m, worker_done));
        ASSERT_ERROR(exited_error, ENOTDIR);
        ASSERT_CONTAINS(exited_message, "/instances/alpha'");
        ASSERT_EQ(o->status, OPERATION_FAILURE);
        ASSERT_CONTAINS(o->error_message, "/instances/alpha'");
        exited_message = mfree(exited_message);
        manager_teardown(m);
}

/* Rename and Copy rewrite the LXC config: paths below the old directory (and only whole ones), the
 * hostname, and for a copy the idmap and no hardware address. */
TEST(lxc_config_rewrite) {
        const char *in =
                "# Template used to create this container\n"
                "lxc.rootfs.path = dir:/var/lib/lxcbus/instances/web/rootfs\n"
                "lxc.uts.name = web\n"
                "lxc.mount.entry = /var/lib/lxcbus/instances/web-2/x y none bind 0 0\n"
                "lxc.idmap = u 0 1000000 65536\n"
                "lxc.idmap = g 0 1000000 65536\n"
                "lxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n"
                "lxc.log.file=/var/lib/lxcbus/instances/web";
        _cleanup_free_ char *out = NULL;

        ASSERT_OK(lxc_config_rewrite(in, "/var/lib/lxcbus/instances/web", "/var/lib/lxcbus/instances/db", "db",
                                     NULL, NULL, &out));
        ASSERT_STREQ(out, "# Template used to create this container\n"
                          "lxc.rootfs.path = dir:/var/lib/lxcbus/instances/db/rootfs\n"
                          "lxc.uts.name = db\n"
                          "lxc.mount.entry = /var/lib/lxcbus/instances/web-2/x y none bind 0 0\n"
                          "lxc.idmap = u 0 1000000 65536\n"
                          "lxc.idmap = g 0 1000000 65536\n"
                          "lxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n"
                          "lxc.log.file=/var/lib/lxcbus/instances/db");
        out = mfree(out);

        ASSERT_OK(lxc_config_rewrite(in, "/var/lib/lxcbus/instances/web", "/var/lib/lxcbus/instances/db", "db",
                                     &(InstanceIdmap) { 1065536, 1065537, 65536 }, NULL, &out));
        ASSERT_STREQ(out, "# Template used to create this container\n"
                          "lxc.rootfs.path = dir:/var/lib/lxcbus/instances/db/rootfs\n"
                          "lxc.uts.name = db\n"
                          "lxc.mount.entry = /var/lib/lxcbus/instances/web-2/x y none bind 0 0\n"
                          "lxc.log.file=/var/lib/lxcbus/instances/db\n"
                          "lxc.idmap = u 0 1065536 65536\nlxc.idmap = g 0 1065537 65536\n");
        out = mfree(out);

        /* A privileged copy: no idmap lines at all. */
        ASSERT_OK(lxc_config_rewrite("lxc.uts.name = web\n", "/a", "/b", "db", &(InstanceIdmap) {}, NULL, &out));
        ASSERT_STREQ(out, "lxc.uts.name = db\n");
        out = mfree(out);

        /* An overlay clone: its rootfs is the one given, the rest as for a copy. */
        ASSERT_OK(lxc_config_rewrite(in, "/var/lib/lxcbus/instances/web", "/var/lib/lxcbus/instances/db", "db",
                                     &(InstanceIdmap) {}, "overlay:/l/snapshots/s/rootfs:/var/lib/lxcbus/instances/db/delta0",
                                     &out));
        ASSERT_CONTAINS(out, "\nlxc.rootfs.path = overlay:/l/snapshots/s/rootfs:/var/lib/lxcbus/instances/db/delta0\n");
        ASSERT_FALSE(strstr(out, "dir:"));
}

/* sd-bus's find callback: by path, in list order (GetManagedObjects) and out of it, and only at the
 * canonical path, as the decoding of the name did. */
TEST(instances_are_found_by_their_path) {
        Manager *m = manager_setup();
        Instance *a = manager_find_instance(m, "alpha"), *b = manager_find_instance(m, "beta");
        Instance *g = manager_find_instance(m, "gamma");

        ASSERT_TRUE(manager_find_instance_by_path(m, "/org/lxcbus1/instance/alpha") == a);
        ASSERT_TRUE(manager_find_instance_by_path(m, "/org/lxcbus1/instance/beta") == b);
        ASSERT_TRUE(manager_find_instance_by_path(m, "/org/lxcbus1/instance/gamma") == g);
        ASSERT_TRUE(manager_find_instance_by_path(m, "/org/lxcbus1/instance/alpha") == a);
        ASSERT_TRUE(manager_find_instance_by_path(m, "/org/lxcbus1/instance/gamma") == g);
        ASSERT_NULL(manager_find_instance_by_path(m, "/org/lxcbus1/instance/_61lpha"));
        ASSERT_NULL(manager_find_instance_by_path(m, "/org/lxcbus1/instance/delta"));
        ASSERT_NULL(manager_find_instance_by_path(m, "/org/lxcbus1/instance"));

        /* The last found goes away: nothing refers to it any more. */
        instance_unlink(g);
        ASSERT_NULL(manager_find_instance_by_path(m, "/org/lxcbus1/instance/gamma"));
        ASSERT_TRUE(manager_find_instance_by_path(m, "/org/lxcbus1/instance/beta") == b);
        manager_teardown(m);
}
