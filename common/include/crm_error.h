/* crm_error.h: the suite's error codes, one list, and their messages. */
#ifndef CRM_ERROR_H
#define CRM_ERROR_H

/* Every function in common/ returns 0 on success or one of these negative codes.
 * Not found is a normal outcome, not a failure: callers test for it. */
#define CRM_ERRNO_MAP(X)                                                  \
    X(NOTFOUND,  -30001, "not found")                                      \
    X(EXISTS,    -30002, "already exists")                                 \
    X(CONFLICT,  -30003, "conflicts with another record")                  \
    X(STALE,     -30004, "version is stale")                               \
    X(INVALID,   -30005, "invalid input")                                  \
    X(TOOBIG,    -30006, "too large")                                      \
    X(NOMEM,     -30007, "out of memory")                                  \
    X(IO,        -30008, "input/output error")                             \
    X(MAPFULL,   -30009, "store map is full")                              \
    X(STORE,     -30010, "store error")                                    \
    X(BUS,       -30011, "message bus error")                              \
    X(TIMEOUT,   -30012, "deadline exceeded")                              \
    X(UNAVAIL,   -30013, "service unavailable")                            \
    X(PROTOCOL,  -30014, "malformed message")                              \
    X(CONFIG,    -30015, "invalid configuration")                          \
    X(DENIED,    -30016, "permission denied")                              \
    X(INTERRUPT, -30017, "interrupted")                                    \
    X(LIMIT,     -30018, "limit reached")                                  \
    X(NOSPACE,   -30019, "no space left on device")

#define CRM_ERRNO_ENUM(name, code, text) CRM_E##name = code,
typedef enum { CRM_OK = 0, CRM_ERRNO_MAP(CRM_ERRNO_ENUM) } crm_errno_t;
#undef CRM_ERRNO_ENUM

/* Returns a static, human sentence for an error code (borrowed; never NULL). */
const char *crm_strerror(int code);

/* Returns the symbolic name of an error code, such as "CRM_ENOTFOUND" (borrowed; never NULL). */
const char *crm_errname(int code);

#endif
