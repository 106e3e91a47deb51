/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A C client of liblxcbus, as a GUI would be one: everything asynchronous on one main loop. Run by
 * tests/integration/test_liblxcbus.py inside the test host against the real daemon, compiled there with
 * `pkg-config --cflags --libs lxcbus-1` against the installed library (so the headers and the .pc file
 * are tested too). Usage: test-liblxcbus NAME, NAME a stopped instance. Prints one line per step; exit
 * status 0 when all passed. */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lxcbus.h>

typedef struct {
        GMainLoop *loop;
        LxcbusClient *client;
        const char *name;
        GError *error;
        gboolean done;
} Test;

static void fail(const char *step, GError *error) {
        fprintf(stderr, "not ok - %s: %s\n", step, error ? error->message : "failed");
        exit(1);
}

static gboolean on_timeout(gpointer user_data) {
        fail("timed out", NULL);
        return G_SOURCE_REMOVE;
}

/* Runs the loop until *flag is set. */
static void run_until(Test *t, const gboolean *flag) {
        while (!*flag)
                g_main_context_iteration(NULL, TRUE);
}

static void on_client(GObject *source, GAsyncResult *res, gpointer user_data) {
        Test *t = user_data;

        t->client = lxcbus_client_new_finish(res, &t->error);
        if (!t->client)
                fail("lxcbus_client_new", t->error);
        t->done = TRUE;
}

static void test_list(Test *t) {
        LxcbusManager *manager = lxcbus_client_get_manager(t->client);
        GList *instances = lxcbus_client_get_instances(t->client);
        gboolean found = FALSE;

        if (!manager || !lxcbus_manager_get_version(manager))
                fail("manager proxy", NULL);
        for (GList *l = instances; l; l = l->next)
                if (g_strcmp0(lxcbus_instance_get_name(l->data), t->name) == 0)
                        found = TRUE;
        g_list_free_full(instances, g_object_unref);
        if (!found)
                fail("instance in lxcbus_client_get_instances()", NULL);
        printf("ok - list: %s found, daemon %s\n", t->name, lxcbus_manager_get_version(manager));
}

typedef struct {
        const char *want;
        gboolean seen;
} StateWatch;

static void on_state(GObject *object, GParamSpec *pspec, gpointer user_data) {
        StateWatch *w = user_data;

        if (g_strcmp0(lxcbus_instance_get_state(LXCBUS_INSTANCE(object)), w->want) == 0)
                w->seen = TRUE;
}

static void on_lifecycle(GObject *source, GAsyncResult *res, gpointer user_data) {
        Test *t = user_data;
        gboolean ok;

        if (g_async_result_is_tagged(res, lxcbus_client_start_instance))
                ok = lxcbus_client_start_instance_finish(LXCBUS_CLIENT(source), res, &t->error);
        else
                ok = lxcbus_client_stop_instance_finish(LXCBUS_CLIENT(source), res, &t->error);
        if (!ok)
                fail("lifecycle call", t->error);
        t->done = TRUE;
}

/* Start or stop with the convenience call, and see the State property change by PropertiesChanged. */
static void test_lifecycle(Test *t, gboolean start) {
        g_autoptr(LxcbusInstance) instance = lxcbus_client_lookup_instance(t->client, t->name);
        StateWatch w = { .want = start ? "running" : "stopped" };
        gulong id;

        if (!instance)
                fail("lxcbus_client_lookup_instance", NULL);
        id = g_signal_connect(instance, "notify::state", G_CALLBACK(on_state), &w);
        t->done = FALSE;
        if (start)
                lxcbus_client_start_instance(t->client, t->name, NULL, on_lifecycle, t);
        else
                lxcbus_client_stop_instance(t->client, t->name, FALSE, NULL, on_lifecycle, t);
        run_until(t, &t->done);
        run_until(t, &w.seen);
        g_signal_handler_disconnect(instance, id);
        printf("ok - %s: operation finished, State=%s seen by signal\n", start ? "start" : "stop", w.want);
}

static void test_exec_pty(Test *t) {
        const char *const argv[] = { "sh", "-c", "read x; echo got-$x", NULL };
        g_autoptr(GError) error = NULL;
        g_autofree char *process = NULL;
        g_autoptr(GString) out = g_string_new(NULL);
        char buf[256];
        int fd;

        fd = lxcbus_client_exec_pty_sync(t->client, t->name, argv, &process, NULL, &error);
        if (fd < 0)
                fail("lxcbus_client_exec_pty_sync", error);
        if (write(fd, "hello\n", 6) != 6)
                fail("write to the pty", NULL);
        while (!strstr(out->str, "got-hello")) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 30000) <= 0)
                        fail("poll on the pty", NULL);
                n = read(fd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                g_string_append_len(out, buf, n);
        }
        close(fd);
        if (!strstr(out->str, "got-hello"))
                fail("output of the pty", NULL);
        printf("ok - exec-pty: %s answered through the master\n", process);
}

static void test_no_such_instance(Test *t) {
        g_autoptr(GError) error = NULL;

        if (lxcbus_client_start_instance_sync(t->client, "no-such-instance-here", NULL, &error) ||
            !g_error_matches(error, LXCBUS_ERROR, LXCBUS_ERROR_NO_SUCH_INSTANCE))
                fail("start of a missing instance fails with LXCBUS_ERROR_NO_SUCH_INSTANCE", error);
        printf("ok - no such instance: %s\n", error->message);
}

int main(int argc, char **argv) {
        Test t = { .name = argc > 1 ? argv[1] : NULL };

        if (!t.name) {
                fprintf(stderr, "usage: %s NAME\n", argv[0]);
                return 2;
        }
        g_timeout_add_seconds(240, on_timeout, NULL);
        lxcbus_client_new(NULL, on_client, &t);
        run_until(&t, &t.done);
        test_list(&t);
        test_lifecycle(&t, TRUE);
        test_exec_pty(&t);
        test_lifecycle(&t, FALSE);
        test_no_such_instance(&t);
        g_object_unref(t.client);
        return 0;
}
