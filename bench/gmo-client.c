/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gmo-client: what a GUI in C sees of lxcbusd's listings (issue 15, item 3), a GDBus client, as
 * bench/scale.py's Python gi client sees them but without Python's conversions.
 *
 *   gmo-client [--address ADDRESS] [--dest NAME] [--gmo-only] [--iter N] [--list-iter N] [--walk]
 *
 * On the system bus unless --address. Prints "FIGURE name value unit" lines (medians, ms):
 *   c_ping          Peer.Ping to lxcbusd: the round trip floor
 *   c_list          Manager.ListInstances, g_dbus_connection_call_sync with the reply type checked
 *   c_list_parse    GDBusMessage from the reply's bytes alone (the client's floor)
 *   c_gmo           ObjectManager.GetManagedObjects, the same way
 *   c_gmo_walk      the same, and every property of every object read (g_variant_iter, lookups of
 *                   Name and State as a GUI would): with --walk
 *   c_gmo_parse     GDBusMessage from the reply's bytes alone
 * and the CPU time per call of the server (--pid PID: lxcbusd, or bench/gmo-floor.py) and of dbus-daemon
 * (--bus-pid PID), utime+stime around the loop. */
#include <gio/gio.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *dest = "org.lxcbus1";
#define MGR_PATH "/org/lxcbus1"

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static double median(double *v, unsigned n) {
        qsort(v, n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double p90(double *v, unsigned n) {
        qsort(v, n, sizeof(double), cmp_double);
        return v[(unsigned) (0.9 * (n - 1) + 0.5)];
}

static double now_ms(void) {
        return g_get_monotonic_time() / 1000.0;
}

static long cpu_ticks(long pid) {
        char path[64], buf[4096];
        FILE *f;
        size_t n;
        long utime = 0, stime = 0;

        if (pid <= 0)
                return 0;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *p = strrchr(buf, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) != 2)
                return 0;
        return utime + stime;
}

static GVariant *call(GDBusConnection *c, const char *iface, const char *method, const char *type) {
        g_autoptr(GError) e = NULL;
        GVariant *r = g_dbus_connection_call_sync(c, dest, MGR_PATH, iface, method, NULL,
                                                  type ? G_VARIANT_TYPE(type) : NULL, G_DBUS_CALL_FLAGS_NONE,
                                                  120000, NULL, &e);
        if (!r) {
                fprintf(stderr, "gmo-client: %s.%s: %s\n", iface, method, e->message);
                exit(1);
        }
        return r;
}

/* Every property of every interface of every object read, and Name and State looked up: what a list
 * view built from GetManagedObjects does. Returns the count of properties, so nothing is optimized
 * away. */
static unsigned walk(GVariant *r) {
        g_autoptr(GVariant) objects = g_variant_get_child_value(r, 0);
        GVariantIter it;
        const char *path;
        GVariant *ifaces;
        unsigned n = 0;

        g_variant_iter_init(&it, objects);
        while (g_variant_iter_next(&it, "{&o@a{sa{sv}}}", &path, &ifaces)) {
                GVariantIter ii;
                const char *iface;
                GVariant *props;

                g_variant_iter_init(&ii, ifaces);
                while (g_variant_iter_next(&ii, "{&s@a{sv}}", &iface, &props)) {
                        GVariantIter pi;
                        const char *name;
                        GVariant *value;

                        g_variant_iter_init(&pi, props);
                        while (g_variant_iter_next(&pi, "{&sv}", &name, &value)) {
                                n++;
                                g_variant_unref(value);
                        }
                        if (strcmp(iface, "org.lxcbus1.Instance") == 0) {
                                const char *s;
                                if (g_variant_lookup(props, "Name", "&s", &s) && s[0])
                                        n++;
                                if (g_variant_lookup(props, "State", "&s", &s) && s[0])
                                        n++;
                        }
                        g_variant_unref(props);
                }
                g_variant_unref(ifaces);
        }
        return n;
}

typedef struct Bench {
        GDBusConnection *c;
        long pid, bus_pid;
        const char *iface, *method, *type;
        bool walk;
} Bench;

/* Median of iter calls (warm ones dropped), with p90 and the CPU ms per call of lxcbusd and dbus-daemon. */
static void timed(const Bench *b, const char *figure, unsigned iter, unsigned warm) {
        g_autofree double *v = g_new(double, iter);
        unsigned props = 0;

        for (unsigned k = 0; k < warm; k++)
                g_variant_unref(call(b->c, b->iface, b->method, b->type));
        long c0 = cpu_ticks(b->pid), b0 = cpu_ticks(b->bus_pid);
        for (unsigned k = 0; k < iter; k++) {
                double t0 = now_ms();
                GVariant *r = call(b->c, b->iface, b->method, b->type);
                if (b->walk)
                        props += walk(r);
                g_variant_unref(r);
                v[k] = now_ms() - t0;
        }
        double tick = 1000.0 / sysconf(_SC_CLK_TCK) / iter;
        double cpu = (cpu_ticks(b->pid) - c0) * tick, bus_cpu = (cpu_ticks(b->bus_pid) - b0) * tick;
        double p = p90(v, iter);
        printf("FIGURE %s %.3f ms  (median of %u, p90 %.3f; CPU per call: server %.2f ms, "
               "dbus-daemon %.2f ms%s)\n", figure, median(v, iter), iter, p, cpu, bus_cpu,
               props ? "; every property read" : "");
}

/* GLib's parse of the reply's bytes alone: what the client pays at the least. */
static void parse_floor(GDBusConnection *c, const char *iface, const char *method, const char *figure,
                        unsigned iter) {
        g_autoptr(GDBusMessage) call_msg = g_dbus_message_new_method_call(dest, MGR_PATH, iface, method);
        g_autoptr(GError) e = NULL;
        g_autoptr(GDBusMessage) reply = g_dbus_connection_send_message_with_reply_sync(
                c, call_msg, G_DBUS_SEND_MESSAGE_FLAGS_NONE, 120000, NULL, NULL, &e);
        g_autofree double *v = g_new(double, iter);
        g_autofree guchar *blob = NULL;
        gsize size = 0;

        if (!reply || !(blob = g_dbus_message_to_blob(reply, &size, G_DBUS_CAPABILITY_FLAGS_NONE, &e))) {
                fprintf(stderr, "gmo-client: %s: %s\n", method, e ? e->message : "?");
                exit(1);
        }
        for (unsigned k = 0; k < iter; k++) {
                double t0 = now_ms();
                GDBusMessage *m = g_dbus_message_new_from_blob(blob, size, G_DBUS_CAPABILITY_FLAGS_NONE, &e);
                v[k] = now_ms() - t0;
                if (!m) {
                        fprintf(stderr, "gmo-client: parse: %s\n", e->message);
                        exit(1);
                }
                g_object_unref(m);
        }
        printf("FIGURE %s %.3f ms  (median of %u: GDBusMessage from the %zu bytes of the reply)\n", figure,
               median(v, iter), iter, (size_t) size);
}

int main(int argc, char **argv) {
        g_autofree char *address = NULL;
        g_autoptr(GError) e = NULL;
        int iter = 40, list_iter = 300, pid = 0, bus_pid = 0;
        gboolean do_walk = FALSE, gmo_only = FALSE;
        GOptionEntry entries[] = {
                { "address", 0, 0, G_OPTION_ARG_STRING, &address, "bus address (the system bus)", NULL },
                { "iter", 0, 0, G_OPTION_ARG_INT, &iter, "GetManagedObjects calls (40)", NULL },
                { "list-iter", 0, 0, G_OPTION_ARG_INT, &list_iter, "Ping, ListInstances calls (300)", NULL },
                { "pid", 0, 0, G_OPTION_ARG_INT, &pid, "lxcbusd's pid, for its CPU time per call", NULL },
                { "bus-pid", 0, 0, G_OPTION_ARG_INT, &bus_pid, "dbus-daemon's pid, for its CPU time", NULL },
                { "dest", 0, 0, G_OPTION_ARG_STRING, &dest, "the server (default org.lxcbus1)", NULL },
                { "gmo-only", 0, 0, G_OPTION_ARG_NONE, &gmo_only, "Ping and GetManagedObjects only "
                  "(bench/gmo-floor.py answers nothing else)", NULL },
                { "walk", 0, 0, G_OPTION_ARG_NONE, &do_walk, "also time a walk over every property", NULL },
                {}
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("- lxcbusd's listings from a GDBus client");
        GDBusConnection *c;

        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &e) || iter < 1 || list_iter < 1) {
                fprintf(stderr, "gmo-client: %s\n", e ? e->message : "bad counts");
                return 2;
        }
        if (address)
                c = g_dbus_connection_new_for_address_sync(address,
                                                           G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                           G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                           NULL, NULL, &e);
        else
                c = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &e);
        if (!c) {
                fprintf(stderr, "gmo-client: %s\n", e->message);
                return 1;
        }

        Bench ping = { c, pid, bus_pid, "org.freedesktop.DBus.Peer", "Ping", NULL, false };
        Bench list = { c, pid, bus_pid, "org.lxcbus1.Manager", "ListInstances", "(a(sso))", false };
        Bench gmo = { c, pid, bus_pid, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                      "(a{oa{sa{sv}}})", false };
        timed(&ping, "c_ping", list_iter, 10);
        if (!gmo_only) {
                timed(&list, "c_list", list_iter, 10);
                parse_floor(c, list.iface, list.method, "c_list_parse", list_iter);
        }
        timed(&gmo, "c_gmo", iter, 3);
        if (do_walk) {
                gmo.walk = true;
                timed(&gmo, "c_gmo_walk", iter, 0);
        }
        parse_floor(c, gmo.iface, gmo.method, "c_gmo_parse", iter);
        g_object_unref(c);
        return 0;
}
