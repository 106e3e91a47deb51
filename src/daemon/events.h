/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "operation.h"

/* What the daemon tells the journal about an instance, one MESSAGE_ID per kind of event
 * (catalog/lxcbus.catalog explains each: journalctl -x), beside LXCBUS_INSTANCE, LXCBUS_VERB and,
 * when an operation did it, LXCBUS_OPERATION and LXCBUS_UID (who). So
 * `journalctl MESSAGE_ID=<started> LXCBUS_INSTANCE=web` answers who started web, and when. */
typedef enum InstanceEvent {
        INSTANCE_EVENT_CREATED,
        INSTANCE_EVENT_IMPORTED,
        INSTANCE_EVENT_STARTED,
        INSTANCE_EVENT_STOPPED,            /* by a Stop (or Restart) */
        INSTANCE_EVENT_ENDED,              /* init ended on its own: powered off inside, or killed */
        INSTANCE_EVENT_DELETED,
        INSTANCE_EVENT_FROZEN,
        INSTANCE_EVENT_THAWED,
        INSTANCE_EVENT_SNAPSHOT_TAKEN,
        INSTANCE_EVENT_SNAPSHOT_RESTORED,
        INSTANCE_EVENT_SNAPSHOT_DELETED,
        INSTANCE_EVENT_COPIED,             /* logged for the new instance */
        INSTANCE_EVENT_RENAMED,
        INSTANCE_EVENT_EXPORTED,
        INSTANCE_EVENT_FILE_PUSH,          /* a PushFile began (its result is the operation's) */
        INSTANCE_EVENT_FILE_PULL,          /* a PullFile began */
        _INSTANCE_EVENT_MAX,
} InstanceEvent;

/* LXCBUS_VERB's value for the event (kept from before MESSAGE_IDs: scripts match on it). */
const char *instance_event_verb(InstanceEvent e);
/* "MESSAGE_ID=<32 hex digits>" of the event, and of an operation's result by its status. */
const char *instance_event_message_id(InstanceEvent e);
const char *operation_result_message_id(OperationStatus s);
