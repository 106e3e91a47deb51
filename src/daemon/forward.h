/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's types by name, so that a header needs no other module's header for a pointer. */
typedef struct Manager Manager;
typedef struct ManagerHooks ManagerHooks;
typedef struct Instance Instance;
typedef struct Operation Operation;
typedef struct Worker Worker;
typedef struct ScopeJob ScopeJob;
typedef struct Console Console;
typedef struct ConsoleRequest ConsoleRequest;
typedef struct Limiter Limiter;
typedef struct OperationCall OperationCall;
typedef struct AuthQuery AuthQuery;
