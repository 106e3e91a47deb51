/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MESSAGE_IDs of the journal entries the daemon writes about instances and operations. Each is
 * explained by an entry of catalog/lxcbus.catalog; tests/contract/check-catalog.py holds the two to each
 * other. An ID, once given, never changes meaning. */
#include <assert.h>

#include "events.h"
#include "util.h"

#define MID(x) "MESSAGE_ID=" x

static const struct {
        const char *verb;
        const char *message_id;
} events[_INSTANCE_EVENT_MAX] = {
        [INSTANCE_EVENT_CREATED]           = { "create",           MID("d453beb4ada348ec821579b2215d9788") },
        [INSTANCE_EVENT_IMPORTED]          = { "import",           MID("d521e0e7201c4f95bdaed11e40966b68") },
        [INSTANCE_EVENT_STARTED]           = { "started",          MID("e602a624b86e48a5a3a7ed72cc29c6a9") },
        [INSTANCE_EVENT_STOPPED]           = { "stop",             MID("7dcf97402a15427c95dd1aafcc78fc18") },
        [INSTANCE_EVENT_ENDED]             = { "stopped",          MID("64c49a59f827447f8950bae33a385d09") },
        [INSTANCE_EVENT_DELETED]           = { "delete",           MID("985fdd2ec3994eb384b5b698de3e53fd") },
        [INSTANCE_EVENT_FROZEN]            = { "freeze",           MID("9f802002490a4c8fb48f6e009ece3d1a") },
        [INSTANCE_EVENT_THAWED]            = { "unfreeze",         MID("5b68a30877ee4676b9f8670d11ff90e6") },
        [INSTANCE_EVENT_SNAPSHOT_TAKEN]    = { "snapshot",         MID("babb1d9494614c23998cebd64b4b55ee") },
        [INSTANCE_EVENT_SNAPSHOT_RESTORED] = { "restore-snapshot", MID("cfb6350a658545028b4e956f018fc01c") },
        [INSTANCE_EVENT_SNAPSHOT_DELETED]  = { "delete-snapshot",  MID("f59751eb404c4c3b93614529f9d163f6") },
        [INSTANCE_EVENT_COPIED]            = { "copy",             MID("7f03164430574e0e86e3ef1708b422dd") },
        [INSTANCE_EVENT_RENAMED]           = { "rename",           MID("8121bbeadf2c45d8a6055f00e7bbb1c0") },
        [INSTANCE_EVENT_EXPORTED]          = { "export",           MID("1e358afcc75a4386abb8ca03266c93c3") },
        [INSTANCE_EVENT_FILE_PUSH]         = { "push-file",        MID("1e5fd3ab6f814a3eaa722b87cbe3c90a") },
        [INSTANCE_EVENT_FILE_PULL]         = { "pull-file",        MID("18e90258085b4d1abb0393909695664c") },
};

static const char *const results[_OPERATION_STATUS_MAX] = {
        [OPERATION_RUNNING]   = NULL,
        [OPERATION_SUCCESS]   = MID("f035c14aa0144d5582bc1deb98ed2514"),
        [OPERATION_FAILURE]   = MID("b54f61ecf95e4b35940abcabc4edf6b9"),
        [OPERATION_CANCELLED] = MID("4b670877ed4e4de2b2c1ce0fbe1ab6f7"),
};

const char *instance_event_verb(InstanceEvent e) {
        assert(e >= 0 && e < _INSTANCE_EVENT_MAX);
        return events[e].verb;
}

const char *instance_event_message_id(InstanceEvent e) {
        assert(e >= 0 && e < _INSTANCE_EVENT_MAX);
        return events[e].message_id;
}

const char *operation_result_message_id(OperationStatus s) {
        return s >= 0 && s < _OPERATION_STATUS_MAX ? results[s] : NULL;
}
