/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who may call what.
 *
 * Every method of every interface has an entry in one table: reading is open, everything else names the
 * polkit action that decides it and the "verb" a rule sees. Root is allowed without asking. Anybody else
 * is checked by polkit, asynchronously: the first time a handler calls bus_authorize() for a message,
 * CheckAuthorization goes out (subject: the caller's unique bus name, never a pid) and the handler
 * returns 1 without replying. When polkit says yes, the message is put back into the bus's read queue,
 * the handler runs again from the top, and this time bus_authorize() finds the answer and returns 1.
 * A refusal is answered from the callback. A caller that leaves the bus while its check is pending is
 * never served: its query is dropped and the re-dispatched message, if any, ends without an action.
 *
 * An answer is bound to the object it was given for, not to its path: the query records the instance's
 * incarnation (never reused, unlike a name), and for calls whose details read the instance's config (exec:
 * the working directory) its config generation. An instance deleted and re-created under the same name
 * while polkit decided, or reconfigured under an exec, gets NoSuchInstance or Conflict, never an action
 * allowed for something else. Operation and process paths carry ids that are never reused. */
#include <pwd.h>

#include "auth-dbus.h"
#include "auth-details.h"
#include "bus-errors.h"
#include "bus-options.h"
#include "daemon-dbus.h"
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "util.h"

#define POLKIT_INTERACTIVE_TIMEOUT_USEC (300 * USEC_PER_SEC)
/* Every pending check is a call of ours waiting for its reply, and dbus-daemon lets a connection wait for at
 * most 128 (max_replies_per_connection on the system bus): beyond, the next call fails at once, a check
 * (AccessDenied) or root's StartTransientUnit alike (found with 500 clients, test_load.py). Half of them
 * for polkit leaves the other half to the calls operations make to systemd and machined. */
#define AUTH_PENDING_PER_UID_MAX 16
#define AUTH_PENDING_MAX 64
/* A query polkit has allowed, whose message went back to the read queue, is consumed at once; if the
 * handler never gets that far (the object went away meanwhile), this frees it. */
#define AUTH_UNCLAIMED_USEC (10 * USEC_PER_SEC)

typedef struct AuthEntry {
        const char *interface;
        const char *member;
        const char *action;     /* NULL: open to everybody */
        const char *verb;       /* the "verb" detail */
} AuthEntry;

static const AuthEntry auth_table[] = {
        { "org.lxcbus1.Manager", "ListInstances", NULL, NULL },
        { "org.lxcbus1.Manager", "GetInstance", NULL, NULL },
        { "org.lxcbus1.Manager", "ListOperations", NULL, NULL },
        { "org.lxcbus1.Manager", "CreateInstance", "org.lxcbus1.create", "create" },
        { "org.lxcbus1.Instance", "GetState", NULL, NULL },
        { "org.lxcbus1.Instance", "Start", "org.lxcbus1.manage", "start" },
        { "org.lxcbus1.Instance", "Stop", "org.lxcbus1.manage", "stop" },
        { "org.lxcbus1.Instance", "Restart", "org.lxcbus1.manage", "restart" },
        { "org.lxcbus1.Instance", "Freeze", "org.lxcbus1.manage", "freeze" },
        { "org.lxcbus1.Instance", "Unfreeze", "org.lxcbus1.manage", "unfreeze" },
        { "org.lxcbus1.Instance", "Kill", "org.lxcbus1.manage", "kill" },
        { "org.lxcbus1.Instance", "Delete", "org.lxcbus1.delete", "delete" },
        { "org.lxcbus1.Instance", "SetConfig", "org.lxcbus1.config", "set-config" },
        { "org.lxcbus1.Instance", "Exec", "org.lxcbus1.exec", "exec" },
        { "org.lxcbus1.Instance", "ExecPty", "org.lxcbus1.exec", "exec-pty" },
        { "org.lxcbus1.Instance", "OpenConsole", "org.lxcbus1.console", "open-console" },
        { "org.lxcbus1.Instance", "ConsoleLog", "org.lxcbus1.console", "console-log" },
        { "org.lxcbus1.Process", "Wait", NULL, NULL },
        { "org.lxcbus1.Process", "Signal", "org.lxcbus1.exec", "signal" },
        { "org.lxcbus1.Operation", "Wait", NULL, NULL },
        { "org.lxcbus1.Operation", "Cancel", "org.lxcbus1.manage", "cancel" },
        { "org.lxcbus1.Instance", "PushFile", "org.lxcbus1.exec", "push-file" },
        { "org.lxcbus1.Instance", "PullFile", "org.lxcbus1.exec", "pull-file" },
        /* snapshots, rename, copy */
        { "org.lxcbus1.Instance", "Snapshot", "org.lxcbus1.snapshot", "snapshot" },
        { "org.lxcbus1.Instance", "RestoreSnapshot", "org.lxcbus1.snapshot", "restore-snapshot" },
        { "org.lxcbus1.Instance", "DeleteSnapshot", "org.lxcbus1.snapshot", "delete-snapshot" },
        { "org.lxcbus1.Instance", "Rename", "org.lxcbus1.manage", "rename" },
        { "org.lxcbus1.Instance", "Copy", "org.lxcbus1.create", "copy" },
        { "org.lxcbus1.Manager", "ImportInstance", "org.lxcbus1.create", "import" },
        { "org.lxcbus1.Instance", "Export", "org.lxcbus1.export", "export" },
        /* metrics: open, as properties are */
        { "org.lxcbus1.Manager", "GetMetrics", NULL, NULL },
        /* autostart and shutdown: the lifecycle of every instance (docs/polkit.md) */
        { "org.lxcbus1.Manager", "StartAutostart", "org.lxcbus1.manage", "start-autostart" },
        { "org.lxcbus1.Manager", "StopAll", "org.lxcbus1.manage", "stop-all" },
};

static const AuthEntry *auth_entry_find(const char *interface, const char *member) {
        for (size_t k = 0; k < ELEMENTSOF(auth_table); k++)
                if (streq(auth_table[k].interface, interface) && streq(auth_table[k].member, member))
                        return &auth_table[k];
        return NULL;
}

/* For the unit test that holds the table against the XML: entry k, false past the end. */
bool bus_auth_table_get(size_t k, const char **ret_interface, const char **ret_member, const char **ret_action) {
        if (k >= ELEMENTSOF(auth_table))
                return false;
        *ret_interface = auth_table[k].interface;
        *ret_member = auth_table[k].member;
        *ret_action = auth_table[k].action;
        return true;
}

const char *bus_auth_action(const char *interface, const char *member, bool *ret_found) {
        const AuthEntry *e = auth_entry_find(interface, member);

        *ret_found = e;
        return e ? e->action : NULL;
}

struct AuthQuery {
        Manager *manager;
        AuthQuery *prev, *next;
        sd_bus_message *request;    /* ref; the call being authorized */
        sd_bus_slot *slot;          /* the pending CheckAuthorization */
        sd_bus_track *track;        /* the caller, while it is on the bus */
        sd_event_source *unclaimed; /* allowed, back in the read queue, not yet consumed */
        char *cancellation_id;      /* interactive checks: for CancelCheckAuthorization */
        char *instance;             /* for the messages */
        uint64_t incarnation;       /* the instance asked about; 0: none (a create, an operation) */
        uint64_t generation;        /* its config, when the details read it; 0: not bound */
        uid_t uid;
        bool interactive;
        bool allowed;               /* polkit said yes */
        bool dropped;               /* the caller left: the request is never served */
};

static AuthQuery *auth_query_free(AuthQuery *q) {
        if (!q)
                return NULL;
        if (q->manager) {
                if (q->prev)
                        q->prev->next = q->next;
                else
                        q->manager->auth_queries = q->next;
                if (q->next)
                        q->next->prev = q->prev;
                q->manager->n_auth_queries--;
        }
        sd_bus_slot_unref(q->slot);
        sd_bus_track_unref(q->track);
        sd_event_source_disable_unref(q->unclaimed);
        sd_bus_message_unref(q->request);
        FREE_MANY(q->cancellation_id, q->instance, q);
        return NULL;
}

void auth_queries_free(Manager *m) {
        while (m->auth_queries)
                auth_query_free(m->auth_queries);
}

static AuthQuery *auth_query_find(Manager *m, sd_bus_message *request) {
        for (AuthQuery *q = m->auth_queries; q; q = q->next)
                if (q->request == request)
                        return q;
        return NULL;
}

static unsigned auth_queries_of(Manager *m, uid_t uid) {
        unsigned n = 0;

        for (AuthQuery *q = m->auth_queries; q; q = q->next)
                n += q->uid == uid;
        return n;
}

/* The uids of the last few senders: a handler asks for its caller's uid several times (polkit, the
 * operation's owner), and each lookup is a call to the bus driver. A unique name is never reused on a
 * bus and a connection's uid never changes, so an entry cannot go stale. */
#define SENDER_UID_CACHE_SIZE 16
static struct {
        char name[256];
        uid_t uid;
} sender_uids[SENDER_UID_CACHE_SIZE];
static unsigned sender_uids_next;

int bus_get_sender_uid(sd_bus_message *m, uid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *sender = sd_bus_message_get_sender(m);
        size_t k;
        int r;

        for (k = 0; sender && k < SENDER_UID_CACHE_SIZE; k++)
                if (streq(sender_uids[k].name, sender)) {
                        *ret = sender_uids[k].uid;
                        return 0;
                }
        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, ret);
        if (r < 0 || !sender || strlen(sender) >= sizeof(sender_uids[0].name))
                return r;
        k = sender_uids_next++ % SENDER_UID_CACHE_SIZE;
        strcpy(sender_uids[k].name, sender);
        sender_uids[k].uid = *ret;
        return 0;
}

static int on_unclaimed(sd_event_source *s, uint64_t usec, void *userdata) {
        auth_query_free(userdata);
        return 0;
}

static void auth_cancel_interactive(AuthQuery *q) {
        /* An agent may be prompting somebody for a password on this check's behalf: stop it. */
        if (!q->slot || !q->cancellation_id)
                return;
        (void) sd_bus_call_method_async(q->manager->bus, NULL, "org.freedesktop.PolicyKit1",
                                        "/org/freedesktop/PolicyKit1/Authority",
                                        "org.freedesktop.PolicyKit1.Authority", "CancelCheckAuthorization", NULL,
                                        NULL, "s", q->cancellation_id);
}

static int on_caller_gone(sd_bus_track *t, void *userdata) {
        AuthQuery *q = userdata;

        log_debug("%s.%s from %s: the caller left while its authorization was pending, dropping the call.",
                  strempty(sd_bus_message_get_interface(q->request)), strempty(sd_bus_message_get_member(q->request)),
                  strempty(sd_bus_message_get_sender(q->request)));
        if (q->allowed) {
                /* Already back in the read queue: let the handler find it dropped. */
                q->dropped = true;
                q->track = sd_bus_track_unref(q->track);
                return 0;
        }
        auth_cancel_interactive(q);
        auth_query_free(q);
        return 0;
}

static int auth_refuse(AuthQuery *q, const char *name, const char *format, ...) _printf_(3, 4);
static int auth_refuse(AuthQuery *q, const char *name, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = sd_bus_error_setfv(&error, name, format, ap);
        va_end(ap);
        if (r == -ENOMEM)
                return r;
        return sd_bus_reply_method_error(q->request, &error);
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        AuthQuery *q = userdata;
        const char *member = strempty(sd_bus_message_get_member(q->request));
        const sd_bus_error *e;
        char what[256];     /* "Start of 'web'": a member and an instance name are short */
        int authorized, challenge, r;

        q->slot = sd_bus_slot_unref(q->slot);
        if (q->instance)
                (void) snprintf(what, sizeof(what), "%s of '%s'", member, q->instance);
        else
                (void) snprintf(what, sizeof(what), "%s", member);

        e = sd_bus_message_get_error(reply);
        if (e) {
                bool timeout = sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT);

                log_warning("polkit %s for %s by uid %u: %s", timeout ? "timed out" : "failed", what, q->uid,
                            e->message ?: e->name);
                if (timeout)
                        r = auth_refuse(q, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Access denied: %s: the authorization service did not answer in time.", what);
                else
                        r = auth_refuse(q, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Access denied: %s: the authorization service failed (%s).", what,
                                        e->message ?: e->name);
                goto finish;
        }

        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0) {
                log_warning_errno(r, "Bad answer from polkit for %s: %m", what);
                r = auth_refuse(q, SD_BUS_ERROR_ACCESS_DENIED,
                                "Access denied: %s: bad answer from the authorization service.", what);
                goto finish;
        }

        if (!authorized) {
                bool found;
                const char *action = bus_auth_action(strempty(sd_bus_message_get_interface(q->request)), member,
                                                     &found);

                if (challenge && !q->interactive)
                        r = auth_refuse(q, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                        "Interactive authentication required: %s needs %s.", what, action);
                else
                        r = auth_refuse(q, SD_BUS_ERROR_ACCESS_DENIED, "Access denied: %s needs %s.", what, action);
                goto finish;
        }

        /* Allowed: back into the read queue, from the top. */
        q->allowed = true;
        r = sd_bus_message_rewind(q->request, true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(q->manager->bus, q->request);
        if (r >= 0)
                r = sd_event_add_time_relative(q->manager->event, &q->unclaimed, CLOCK_MONOTONIC, AUTH_UNCLAIMED_USEC,
                                               0, on_unclaimed, q);
        if (r < 0) {
                log_error_errno(r, "Failed to requeue %s after authorization: %m", member);
                if (!q->unclaimed)      /* not queued, or queued without a timer: answer and forget */
                        (void) sd_bus_reply_method_errno(q->request, r, NULL);
                goto finish;
        }
        return 0;

finish:
        auth_query_free(q);
        return 0;
}

/* The answer found for a re-dispatched message: is it still about the object the handler has now? */
static int auth_query_check_object(AuthQuery *q, Instance *i, sd_bus_error *error) {
        if (q->incarnation == 0)
                return 0;
        if (!i || i->incarnation != q->incarnation)
                return sd_bus_error_setf(error, LXCBUS_ERROR_NO_SUCH_INSTANCE,
                                         "Instance '%s' was deleted while authorization was pending.",
                                         strempty(q->instance));
        if (q->generation != 0 && i->md.generation != q->generation)
                return sd_bus_error_setf(error, LXCBUS_ERROR_CONFLICT,
                                         "Instance '%s' was reconfigured while authorization was pending "
                                         "(generation %" PRIu64 ", asked at %" PRIu64 "); try again.",
                                         i->name, i->md.generation, q->generation);
        return 0;
}

/* The polkit details of a call of uid: what it asks (request), and the instance it acts on. */
static int auth_build_details(const AuthEntry *e, Instance *i, const AuthRequest *request, uid_t uid,
                              AuthRequest *ret_req, char ***ret_details, sd_bus_error *error) {
        AuthRequest req = request ? *request : (AuthRequest) { .owner = UID_INVALID };
        char buf[4096];
        struct passwd pw, *result = NULL;
        int r;

        if (!req.verb)
                req.verb = e->verb;
        if (i) {
                req.instance = i->name;
                req.owner = i->md.owner;
        }
        if (req.owner == UID_INVALID && (streq(e->verb, "create") || streq(e->verb, "import")))
                req.owner = uid;
        if (req.owner != UID_INVALID) {
                /* Rules see subject.user (a name), not a uid: give the owner's name too. Local NSS. */
                (void) getpwuid_r(req.owner, &pw, buf, sizeof(buf), &result);
                req.owner_name = result ? result->pw_name : NULL;
        }
        r = auth_details_build(&req, ret_details);
        if (r == -E2BIG)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "The call is too large to be authorized: its polkit details (command, "
                                         "environment, keys, quoted) would exceed %u bytes.", AUTH_DETAILS_SIZE_MAX);
        /* owner_name pointed into buf: not for the caller. */
        req.owner_name = NULL;
        *ret_req = req;
        return r;
}

/* A pending query for message, bound to instance i (and its config generation, when the details read
 * it), in the manager's list. */
static int auth_query_new(Manager *m, sd_bus_message *message, uid_t uid, Instance *i, const AuthRequest *req,
                          AuthQuery **ret) {
        AuthQuery *q;

        q = new0(AuthQuery, 1);
        if (!q)
                return -ENOMEM;
        q->uid = uid;
        q->request = sd_bus_message_ref(message);
        q->instance = req->instance ? strdup(req->instance) : NULL;
        if (i) {
                q->incarnation = i->incarnation;
                if (auth_details_read_config(req->verb))
                        q->generation = i->md.generation;
        }
        q->interactive = sd_bus_message_get_allow_interactive_authorization(message) > 0;
        q->manager = m;
        q->next = m->auth_queries;
        if (q->next)
                q->next->prev = q;
        m->auth_queries = q;
        m->n_auth_queries++;
        if ((req->instance && !q->instance) ||
            (q->interactive && asprintf(&q->cancellation_id, "lxcbus-%" PRIu64, ++m->auth_cancellation_counter) < 0)) {
                q->cancellation_id = NULL;
                auth_query_free(q);
                return -ENOMEM;
        }
        *ret = q;
        return 0;
}

/* CheckAuthorization for q, answered in on_polkit_reply(). */
static int auth_query_send(AuthQuery *q, const char *action, char **details) {
        sd_bus_message *message = q->request;
        sd_bus *bus = sd_bus_message_get_bus(message);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *pk = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &pk, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r >= 0)
                r = sd_bus_message_append(pk, "(sa{sv})s", "system-bus-name", 1, "name", "s",
                                          sd_bus_message_get_sender(message), action);
        if (r >= 0)
                r = bus_append_string_pairs(pk, details);
        if (r >= 0)
                r = sd_bus_message_append(pk, "us", (uint32_t) q->interactive, strempty(q->cancellation_id));
        if (r < 0)
                return r;

        /* Leaving the bus drops the call. Watch before asking, so the departure cannot slip between. */
        r = bus_track_sender(q->manager, message, on_caller_gone, q, &q->track);
        if (r < 0)
                return r;

        r = sd_bus_call_async(bus, &q->slot, pk, on_polkit_reply, q,
                              q->interactive ? MAX(q->manager->polkit_timeout_usec, POLKIT_INTERACTIVE_TIMEOUT_USEC)
                                             : q->manager->polkit_timeout_usec);
        return r < 0 ? -ENOTCONN : 0;
}

int bus_authorize_full(Manager *m, sd_bus_message *message, Instance *i, const AuthRequest *request,
                       sd_bus_error *error) {
        const char *interface = strempty(sd_bus_message_get_interface(message));
        const char *member = strempty(sd_bus_message_get_member(message));
        _cleanup_strv_free_ char **details = NULL;
        const AuthEntry *e;
        AuthRequest req;
        AuthQuery *q;
        uid_t uid;
        int r;

        e = auth_entry_find(interface, member);
        if (!e) {
                /* A method without an entry is a bug: refuse rather than allow. */
                log_error("No authorization entry for %s.%s, refusing.", interface, member);
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Method has no authorization entry.");
        }
        if (!e->action)
                return 1;

        /* The second time round: polkit has answered. */
        q = auth_query_find(m, message);
        if (q) {
                bool allowed = q->allowed && !q->dropped;

                if (!q->allowed)
                        return 0;       /* still pending; not reached through the read queue */
                r = allowed ? auth_query_check_object(q, i, error) : 0;
                auth_query_free(q);
                if (!allowed)
                        return 0;       /* dropped: the handler returns without acting or replying */
                return r < 0 ? r : 1;
        }

        r = bus_get_sender_uid(message, &uid);
        if (r < 0)
                return r;
        if (uid == 0)
                return 1;
        r = auth_build_details(e, i, request, uid, &req, &details, error);
        if (r < 0)
                return r;
        if (m->n_auth_queries >= AUTH_PENDING_MAX || auth_queries_of(m, uid) >= AUTH_PENDING_PER_UID_MAX)
                return sd_bus_error_setf(error, LXCBUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many authorization checks pending (at most %u per user, %u in all).",
                                         AUTH_PENDING_PER_UID_MAX, AUTH_PENDING_MAX);
        r = auth_query_new(m, message, uid, i, &req, &q);
        if (r < 0)
                return r;
        r = auth_query_send(q, e->action, details);
        if (r == -ENOTCONN) {
                log_warning("Failed to ask polkit about %s.", member);
                auth_query_free(q);
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Access denied: the authorization service is unreachable.");
        }
        if (r < 0) {
                auth_query_free(q);
                return r;
        }
        log_debug("%s by uid %u (%s): asking polkit for %s.", member, uid, sd_bus_message_get_sender(message),
                  e->action);
        return 0;
}

int bus_authorize(sd_bus_message *message, Instance *i, sd_bus_error *error) {
        return bus_authorize_full(i->manager, message, i, NULL, error);
}
