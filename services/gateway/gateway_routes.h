/* gateway_routes.h: the gateway's one route table (method, path pattern, roles, target) and path matching. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "crm/v1/gateway.pb-c.h"
#include "crm_config.h"
#include "gateway_answer.h"

#define GATEWAY_ROUTE_MAX_PATH_PARAMS 2      /* {name} segments in one pattern */
#define GATEWAY_ROUTE_MAX_QUERY       16     /* query parameters one route takes */
#define GATEWAY_PATH_MAX              1024   /* bytes of a request path we match */
#define GATEWAY_SEGMENT_MAX           256    /* bytes of one path parameter's value, with the NUL */

/* Roles as bits of gateway_route_t.roles. */
#define GATEWAY_ROLE_BIT(role) (1u << (unsigned) (role))
#define GATEWAY_ADMIN      GATEWAY_ROLE_BIT(CRM__V1__ROLE__ROLE_ADMIN)
#define GATEWAY_AGENT      GATEWAY_ROLE_BIT(CRM__V1__ROLE__ROLE_AGENT)
#define GATEWAY_ANALYST    GATEWAY_ROLE_BIT(CRM__V1__ROLE__ROLE_ANALYST)
#define GATEWAY_INTEGRATOR GATEWAY_ROLE_BIT(CRM__V1__ROLE__ROLE_INTEGRATOR)

/* Route flags. */
#define GATEWAY_ROUTE_PUBLIC      0x001u   /* no API key needed (health, metrics, the API document, survey answers by token) */
#define GATEWAY_ROUTE_BODY        0x002u   /* takes a JSON body (required) */
#define GATEWAY_ROUTE_ETAG        0x004u   /* the answer is a customer: ETag from its version */
#define GATEWAY_ROUTE_IF_MATCH    0x008u   /* If-Match fills if_match_version */
#define GATEWAY_ROUTE_UPDATE_MASK 0x010u   /* update_mask is the body's top-level keys */
#define GATEWAY_ROUTE_LOCATION    0x020u   /* Location: the request path + "/" + the answer's id */
#define GATEWAY_ROUTE_IDEMPOTENT  0x040u   /* takes an Idempotency-Key header */
#define GATEWAY_ROUTE_NO_CONTENT  0x080u   /* success is 204 with no body */
#define GATEWAY_ROUTE_AUDITED     0x100u   /* a sensitive operation: each success goes to the audit log */

/* Routes the gateway answers itself; GATEWAY_LOCAL_NONE is forwarded to a service. */
typedef enum {
    GATEWAY_LOCAL_NONE = 0,
    GATEWAY_LOCAL_KEY_CREATE,
    GATEWAY_LOCAL_KEY_LIST,
    GATEWAY_LOCAL_KEY_REVOKE,
    GATEWAY_LOCAL_EVENTS,
    GATEWAY_LOCAL_HEALTHZ,
    GATEWAY_LOCAL_READYZ,
    GATEWAY_LOCAL_METRICS,
    GATEWAY_LOCAL_OPENAPI,
    GATEWAY_LOCAL_AUDIT_LIST,
    GATEWAY_LOCAL_AUDIT_VERIFY,
    GATEWAY_LOCAL_EXPORT
} gateway_local_t;

/* How one path or query parameter fills the request message. name is the pattern's {name} or
 * the query parameter; a name ending in '.' is a prefix ("field.vip=yes"): the rest of the
 * parameter's name goes to field and its value to value_field. */
typedef struct {
    const char *name;
    const char *field;           /* proto name of the request field */
    const char *value_field;     /* prefixes only */
} gateway_param_t;

typedef struct {
    const char *method;                  /* "GET", "POST", "PATCH", "DELETE" (HEAD matches GET) */
    const char *pattern;                 /* "/v1/contacts/{id}/purchases/{purchaseId}/refunds" */
    unsigned roles;                      /* GATEWAY_ROLE_BIT of each role allowed; 0 when public */
    unsigned flags;                      /* GATEWAY_ROUTE_* */
    gateway_local_t local;
    crm_service_id_t service;            /* forwarded: the owning service */
    const char *rpc;                     /* forwarded: "contacts.GetCustomer" */
    const ProtobufCMessageDescriptor *request;   /* the request message (local routes too) */
    const ProtobufCMessageDescriptor *reply;     /* the reply message */
    const char *body_field;              /* NULL: the body is the request; else the field it fills */
    const char *reply_field;             /* NULL: the answer is the reply; else that field of it */
    unsigned status;                     /* HTTP status on success */
    gateway_param_t path[GATEWAY_ROUTE_MAX_PATH_PARAMS];
    gateway_param_t query[GATEWAY_ROUTE_MAX_QUERY];
} gateway_route_t;

/* The table, and its length. */
extern const gateway_route_t gateway_routes[];
extern const size_t gateway_routes_count;

/* The values of a matched route's path parameters, in pattern order (the pattern names them). */
typedef struct {
    size_t count;
    char values[GATEWAY_ROUTE_MAX_PATH_PARAMS][GATEWAY_SEGMENT_MAX];
} gateway_path_values_t;

/* Finds the route for method and path (without the query). HEAD is taken as GET. A {name}
 * segment matches one non-empty segment of at most GATEWAY_SEGMENT_MAX - 1 bytes.
 * Returns 0 with *route_p (borrowed from the table) and *values filled; CRM_ENOTFOUND when no
 * route has this path (404); CRM_EINVALID when routes have the path but not the method (405):
 * allow then lists their methods ("GET, HEAD, POST"). */
int gateway_route_find(const char *method, const char *path, const gateway_route_t **route_p,
                       gateway_path_values_t *values, char allow[GATEWAY_ALLOW_MAX]);

/* Returns true when a key with role may call route (always for a public route). */
bool gateway_route_allows(const gateway_route_t *route, Crm__V1__Role role);

/* Returns the index of route in gateway_routes. */
size_t gateway_route_index(const gateway_route_t *route);

/* The lower-case name of a role ("admin"), or "unspecified" (static). */
const char *gateway_role_name(Crm__V1__Role role);

#endif
