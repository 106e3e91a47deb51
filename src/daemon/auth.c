/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who may call what. Every method of every interface has an entry in one table: reading is open,
 * everything else names the polkit action that will decide it. Until the polkit client lands, only
 * root is allowed the actions. */
#include "daemon.h"
#include "log.h"

typedef struct AuthEntry {
        const char *interface;
        const char *member;
        const char *action;     /* NULL: open to everybody */
} AuthEntry;

static const AuthEntry auth_table[] = {
        { "org.lxcbus1.Manager", "ListInstances", NULL },
        { "org.lxcbus1.Manager", "GetInstance", NULL },
        { "org.lxcbus1.Manager", "ListOperations", NULL },
        { "org.lxcbus1.Manager", "CreateInstance", "org.lxcbus1.create" },
        { "org.lxcbus1.Instance", "GetState", NULL },
        { "org.lxcbus1.Instance", "Start", "org.lxcbus1.manage" },
        { "org.lxcbus1.Instance", "Stop", "org.lxcbus1.manage" },
        { "org.lxcbus1.Instance", "Restart", "org.lxcbus1.manage" },
        { "org.lxcbus1.Instance", "Freeze", "org.lxcbus1.manage" },
        { "org.lxcbus1.Instance", "Unfreeze", "org.lxcbus1.manage" },
        { "org.lxcbus1.Instance", "Kill", "org.lxcbus1.manage" },
        { "org.lxcbus1.Instance", "Delete", "org.lxcbus1.delete" },
        { "org.lxcbus1.Instance", "SetConfig", "org.lxcbus1.config" },
        { "org.lxcbus1.Instance", "Exec", "org.lxcbus1.exec" },
        { "org.lxcbus1.Instance", "ExecPty", "org.lxcbus1.exec" },
        { "org.lxcbus1.Instance", "OpenConsole", "org.lxcbus1.console" },
        { "org.lxcbus1.Instance", "ConsoleLog", "org.lxcbus1.console" },
        { "org.lxcbus1.Process", "Wait", NULL },
        { "org.lxcbus1.Process", "Signal", "org.lxcbus1.exec" },
        { "org.lxcbus1.Operation", "Wait", NULL },
        { "org.lxcbus1.Operation", "Cancel", "org.lxcbus1.manage" },
};

const char *bus_auth_action(const char *interface, const char *member, bool *ret_found);
const char *bus_auth_action(const char *interface, const char *member, bool *ret_found) {
        for (size_t k = 0; k < ELEMENTSOF(auth_table); k++)
                if (streq(auth_table[k].interface, interface) && streq(auth_table[k].member, member)) {
                        *ret_found = true;
                        return auth_table[k].action;
                }
        *ret_found = false;
        return NULL;
}

int bus_get_sender_uid(sd_bus_message *m, uid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r;

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        return sd_bus_creds_get_euid(creds, ret);
}

int bus_authorize(sd_bus_message *m, const char *action_unused, Instance *i, sd_bus_error *error) {
        const char *interface = sd_bus_message_get_interface(m), *member = sd_bus_message_get_member(m);
        const char *action;
        bool found;
        uid_t uid;
        int r;

        action = bus_auth_action(strempty(interface), strempty(member), &found);
        if (!found) {
                /* A method without an entry is a bug: refuse rather than allow. */
                log_error("No authorization entry for %s.%s, refusing.", strempty(interface), strempty(member));
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Method has no authorization entry.");
        }
        if (!action)
                return 1;
        r = bus_get_sender_uid(m, &uid);
        if (r < 0)
                return r;
        if (uid == 0)
                return 1;
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Access denied: %s needs %s%s%s%s.", member,
                                 action, i ? " on '" : "", i ? i->name : "", i ? "'" : "");
}
