/* gateway_openapi.h: the OpenAPI 3.1 document of the HTTP API, made from the route table and the protobuf descriptors. */
#ifndef GATEWAY_OPENAPI_H
#define GATEWAY_OPENAPI_H

#include <jansson.h>

#define GATEWAY_OPENAPI_VERSION "3.1.0"
#define GATEWAY_OPENAPI_MESSAGES_MAX 512   /* message schemas one document may hold */

/* Builds the document: one operation per route of gateway_routes (path and query parameters,
 * Idempotency-Key and If-Match headers, the JSON body and answer as the codec writes them, the
 * roles allowed in x-roles, bearer security except on public routes, errors as problem+json),
 * and one schema per message reachable from them. Returns 0 and sets *doc_p (caller decrefs), or
 * CRM_ENOMEM, or CRM_ETOOBIG past GATEWAY_OPENAPI_MESSAGES_MAX schemas. */
int gateway_openapi_build(json_t **doc_p);

/* The document as text (keys sorted, indented, with a final newline): the form kept in the tree
 * as docs/openapi.json. Returns 0 and sets *text_p (caller frees), or an error as above. */
int gateway_openapi_text(char **text_p);

#endif
